"""Running approved plans: the registry says how, the pool runs the blocking calls."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from datetime import datetime
from typing import Protocol

from opsbot.commands.registry import Registry
from opsbot.commands.spec import ActionContext
from opsbot.commands.views import ReleasesView
from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.ports import Identity, KubeDirectory


class Now(Protocol):
    def __call__(self) -> datetime: ...


class ActionRunner:
    """Runs an approved plan off the event loop, as the requester when it was planned under
    impersonation (see the router); the approval machine calls it once per approval."""

    def __init__(
        self,
        registry: Registry,
        clusters: KubeDirectory,
        pool: Executor,
        now: Now,
        *,
        releases: ReleasesView | None = None,
    ) -> None:
        self._registry = registry
        self._clusters = clusters
        self._pool = pool
        self._now = now
        self._releases = releases

    async def __call__(self, plan: ActionPlan, origin: ActionOrigin | None = None) -> str:
        execute = self._registry.executor(plan.verb)
        identity = Identity(plan.identity[0], tuple(plan.identity[1])) if plan.identity else None
        kube = self._clusters.get(plan.cluster, identity=identity)
        context = ActionContext(kube, self._now(), origin=origin, releases=self._releases)
        return await asyncio.get_running_loop().run_in_executor(self._pool, execute, plan, context)
