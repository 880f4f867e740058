"""A remediation's command, planned exactly like a typed one (grammar, validation, the command's
own planner with its server-side dry run) but without a person's permission check: nobody asked
yet. The permission check happens when someone approves (`opsbot.alertmanager.remediations`).

`check_rules` is the start-up check of the rules against the command registry.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from datetime import datetime

from opsbot.alertmanager.rules import placeholders, sample
from opsbot.alertmanager.settings import AlertmanagerSettings
from opsbot.commands.context import CommandContext
from opsbot.commands.registry import Registry
from opsbot.commands.settings import CommandsSettings, Scopes
from opsbot.core import validation
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import Reply
from opsbot.core.request import ChatRequest
from opsbot.errors import InvalidNameError, OpsbotError, UsageError
from opsbot.ports import KubeDirectory

REQUESTER = "Alertmanager"
"""Who asks for a remediation: not a person, so every approval is somebody else's."""


class CommandPlanner:
    def __init__(
        self,
        registry: Registry,
        clusters: KubeDirectory,
        pool: Executor,
        now: Callable[[], datetime],
        *,
        scopes: Scopes,
        commands: CommandsSettings,
    ) -> None:
        self._registry = registry
        self._clusters = clusters
        self._pool = pool
        self._now = now
        self._scopes = scopes
        self._commands = commands

    def where(self, text: str, labels: Mapping[str, str], cluster_label: str) -> tuple[str, str]:
        """(cluster, namespace) the command acts on: its own options, else the alert's labels,
        else the defaults. A cluster label naming no configured cluster is refused, never
        replaced by the default."""
        invocation = self._registry.parse(text)
        cluster = invocation.value("cluster") or labels.get(cluster_label) or self._scopes.default_cluster
        if cluster not in self._scopes.clusters:
            raise InvalidNameError(f"the alert's cluster {cluster[:40]!r} is not a configured cluster")
        namespace = invocation.value("namespace") or labels.get("namespace") or self._scopes.default_namespace
        validation.namespace_name(namespace)
        return cluster, namespace

    async def plan(self, text: str, labels: Mapping[str, str], cluster_label: str) -> ActionPlan | Reply:
        """The plan, or a Reply when there is nothing to do (e.g. already at that scale).
        Raises the command's own errors (usage, names, the cluster's answer)."""
        invocation = self._registry.parse(text)
        spec = invocation.spec
        if not spec.mutating:
            raise UsageError(f"`{spec.name}` changes nothing: not a remediation", command=spec.name)
        cluster, namespace = self.where(text, labels, cluster_label)
        request = ChatRequest(uuid.uuid4().hex[:12], REQUESTER, "", invocation.text, "alertmanager")
        ctx = CommandContext(
            request=request,
            cluster=cluster,
            namespace=namespace,
            default_namespace=namespace,
            kube=self._clusters.get(cluster),
            settings=self._commands,
            now=self._now(),
            registry=self._registry,
        )
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._pool, spec.handler, invocation, ctx)
        if isinstance(result, Reply):
            return result
        return dataclasses.replace(result, dangerous=spec.dangerous is not None and spec.dangerous(result))


def check_rules(settings: AlertmanagerSettings, registry: Registry, roles: set[str]) -> list[str]:
    """Config problems of the remediation rules, one line each with its key path."""
    problems: list[str] = []
    for index, rule in enumerate(settings.remediations):
        path = f"alertmanager.remediations.{index}"
        template = rule.command if rule.command is not None else rule.signal.action if rule.signal else ""
        problems.extend(f"{path}: {problem}" for problem in placeholders(template))
        if rule.approvers_role is not None and rule.approvers_role not in roles:
            problems.append(f"{path}.approvers_role: unknown role {rule.approvers_role!r}")
        if rule.command is None:
            continue
        verb = rule.command.split(maxsplit=1)[0] if rule.command.strip() else ""
        spec = registry.find(verb)
        if spec is None:
            problems.append(f"{path}.command: `{verb[:40]}` is not a command")
            continue
        if not spec.mutating:
            problems.append(
                f"{path}.command: `{spec.name}` changes nothing; name an action (scale, restart …)"
            )
            continue
        try:
            registry.parse(sample(rule.command))
        except OpsbotError as exc:
            problems.append(f"{path}.command: {exc}")
    return problems
