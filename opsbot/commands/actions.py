"""Running approved plans: the registry says how, the pool runs the blocking calls."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from datetime import datetime
from typing import Protocol

from opsbot.commands.registry import Registry
from opsbot.commands.spec import ActionContext
from opsbot.core.plan import ActionPlan
from opsbot.ports import Identity, KubeDirectory


class Now(Protocol):
    def __call__(self) -> datetime: ...


class ActionRunner:
    """Runs an approved plan off the event loop, as the requester when it was planned under
    impersonation (see the router); the approval machine calls it once per approval."""

    def __init__(self, registry: Registry, clusters: KubeDirectory, pool: Executor, now: Now) -> None:
        self._registry = registry
        self._clusters = clusters
        self._pool = pool
        self._now = now

    async def __call__(self, plan: ActionPlan) -> str:
        execute = self._registry.executor(plan.verb)
        identity = Identity(plan.identity[0], tuple(plan.identity[1])) if plan.identity else None
        context = ActionContext(self._clusters.get(plan.cluster, identity=identity), self._now())
        return await asyncio.get_running_loop().run_in_executor(self._pool, execute, plan, context)
