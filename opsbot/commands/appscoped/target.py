"""Which app a command means, and finding it in the cluster.

An app is a Deployment, StatefulSet or DaemonSet, by name; its pods are those its
selector matches. Deployments come from the watch cache (`deployment_rows`) when one
covers the namespace; StatefulSets and DaemonSets are few per namespace and not watched,
so they are listed live, and only when the name is not a Deployment's.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from opsbot.commands.context import CommandContext
from opsbot.commands.scope import From, Scope
from opsbot.commands.spec import Invocation, KubeUse
from opsbot.core import kubeobjects as fmt
from opsbot.core import validation
from opsbot.core.kubeobjects import KubeObject
from opsbot.core.rows import PodRow
from opsbot.errors import ForbiddenError, NotFoundError, UsageError
from opsbot.ports import KubePort

KUBE = (
    KubeUse("deployment_rows"),
    KubeUse("get_deployment"),
    KubeUse("list_statefulsets"),
    KubeUse("list_daemonsets"),
    KubeUse("pod_rows"),
)
"""What finding an app and its pods calls (commands using this module declare them too)."""

APP_KINDS = {
    "app": None,
    "apps": None,
    "deploy": "Deployment",
    "deployment": "Deployment",
    "deployments": "Deployment",
    "sts": "StatefulSet",
    "statefulset": "StatefulSet",
    "statefulsets": "StatefulSet",
    "ds": "DaemonSet",
    "daemonset": "DaemonSet",
    "daemonsets": "DaemonSet",
}
"""`KIND/NAME` words naming an app (``app/`` means any of the three kinds)."""


@dataclass(frozen=True)
class App:
    kind: str  # Deployment, StatefulSet or DaemonSet
    name: str
    namespace: str
    workload: KubeObject

    @property
    def selector(self) -> str | None:
        return fmt.selector_string(self.workload)

    @property
    def containers(self) -> tuple[str, ...]:
        return tuple(str(c.get("name", "")) for c in fmt.template_containers(self.workload) if c.get("name"))

    @property
    def ready(self) -> str:
        """``ready/desired`` as `kubectl get` shows it for the kind."""
        state = fmt.status(self.workload)
        if self.kind == "DaemonSet":
            return f"{state.get('numberReady') or 0}/{state.get('desiredNumberScheduled') or 0}"
        desired = fmt.spec(self.workload).get("replicas", 1)
        return f"{state.get('readyReplicas') or 0}/{desired if desired is not None else 1}"

    @property
    def healthy(self) -> bool:
        ready, _, desired = self.ready.partition("/")
        return ready == desired

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


def named_app(word: str) -> tuple[str | None, str] | None:
    """``app/NAME``, ``deploy/NAME``, ``sts/NAME``, ``ds/NAME`` → (kind or None, name);
    None when the word does not name an app that way."""
    kind_word, slash, name = word.partition("/")
    if not slash or kind_word.lower() not in APP_KINDS:
        return None
    return APP_KINDS[kind_word.lower()], validation.object_name(name, kind="app")


def scope_with_app(ctx: CommandContext, explicit: str | None, command: str, what: str) -> Scope:
    """The scope with the app this command is about: the one it names, else the scope's
    (the person's context or the channel's); a usage error saying `what` to name otherwise."""
    scope = ctx.scope or Scope(ctx.cluster, ctx.namespace)
    if explicit is not None:
        return scope.with_app(explicit, From.COMMAND)
    if scope.app is None:
        raise UsageError(f"say which {what}, or set your app once with `use APP`", command=command)
    return scope


def list_app(invocation: Invocation, ctx: CommandContext, *own_selection: str) -> Scope | None:
    """For list commands (`pods`, `events`): the scope's app narrows the list unless the
    command picks its own selection (``-n``, ``-A``, ``-l`` or ``own_selection`` options)."""
    scope = ctx.scope
    if scope is None or scope.app is None:
        return None
    chosen = ("namespace", "all_namespaces", "selector", *own_selection)
    if any(invocation.options.get(option) for option in chosen):
        return None
    return scope


def find_app(
    kube: KubePort,
    cluster: str,
    namespace: str,
    name: str,
    *,
    kind: str | None = None,
    elsewhere: Callable[[str], bool] | None = None,
) -> App:
    """The app `name` in `namespace`, or NotFoundError saying what is there instead (and, with
    `elsewhere`, in which of the namespaces it allows a Deployment of that name is)."""
    names: list[str] = []
    if kind in (None, "Deployment"):
        deployments = [row.name for row in kube.deployment_rows(namespace)]
        if name in deployments:
            return App("Deployment", name, namespace, kube.get_deployment(namespace, name))
        names.extend(deployments)
    for other_kind, items in _others(kube, namespace, kind):
        for item in items:
            if fmt.name_of(item) == name:
                return App(other_kind, name, namespace, item)
            names.append(fmt.name_of(item))
    what = {None: "app", "Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemonset"}[
        kind
    ]
    hint = suggestions(name, names)
    also = f"; did you mean {' or '.join(hint)}?" if hint else ""
    found = _namespaces_with(kube, name, namespace, elsewhere) if elsewhere is not None else []
    if found:
        also += f"; it is in namespace {' and '.join(found)} (add -n {found[0]})"
    raise NotFoundError(f"no {what} {name} in {cluster}/{namespace}{also}", cluster=cluster)


def _namespaces_with(kube: KubePort, name: str, namespace: str, allowed: Callable[[str], bool]) -> list[str]:
    """Other namespaces with a Deployment called `name` (from the caches when they cover all
    namespaces; none when opsbot may not list across namespaces), those `allowed` only."""
    try:
        rows = kube.deployment_rows(None)
    except ForbiddenError:
        return []
    places = sorted({row.namespace for row in rows if row.name == name and row.namespace != namespace})
    return [place for place in places if allowed(place)][:3]


def _others(kube: KubePort, namespace: str, kind: str | None) -> list[tuple[str, list[KubeObject]]]:
    """StatefulSets and DaemonSets (those opsbot may not list are skipped, not an error)."""
    found: list[tuple[str, list[KubeObject]]] = []
    for wanted, listing in (("StatefulSet", kube.list_statefulsets), ("DaemonSet", kube.list_daemonsets)):
        if kind in (None, wanted):
            with contextlib.suppress(ForbiddenError):
                found.append((wanted, listing(namespace)))
    return found


def app_pods(kube: KubePort, app: App) -> list[PodRow]:
    """The app's pods (rows from the watch cache when it covers the namespace)."""
    selector = app.selector
    return kube.pod_rows(app.namespace, selector=selector) if selector else []


def suggestions(name: str, names: Iterable[str], limit: int = 3) -> list[str]:
    """Near names first (typos), then names that contain it (`podinfo` → `podinfo-api`)."""
    known = sorted(set(names))
    close = difflib.get_close_matches(name, known, n=limit, cutoff=0.6)
    containing = [other for other in known if name in other and other not in close]
    return [*close, *containing][:limit]


_GENERATED = {
    # What controllers append to the app's name: a ReplicaSet's pod-template hash, then a
    # pod's random suffix; a StatefulSet's ordinal; a DaemonSet's random suffix.
    ("Deployment", "ReplicaSet"): r"[a-z0-9]{4,10}",
    ("Deployment", "Pod"): r"[a-z0-9]{4,10}-[a-z0-9]{5}",
    ("StatefulSet", "Pod"): r"[0-9]+",
    ("DaemonSet", "Pod"): r"[a-z0-9]{5}",
}


def involves(event: KubeObject, app: App, pods: Collection[str]) -> bool:
    """Whether an event is about the app: its workload, its ReplicaSets or its pods (gone
    ones too: their names are the app's plus what its controller appends)."""
    involved = event.get("involvedObject") or {}
    kind = str(involved.get("kind", ""))
    name = str(involved.get("name", ""))
    if kind == app.kind and name == app.name:
        return True
    if kind == "Pod" and name in pods:
        return True
    generated = _GENERATED.get((app.kind, kind))
    return generated is not None and re.fullmatch(re.escape(app.name) + "-" + generated, name) is not None
