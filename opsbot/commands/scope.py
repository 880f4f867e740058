"""Where a command runs (cluster, namespace, app), and where each of those came from.

The precedence is always the same, part by part:

1. the command's own flags and arguments (``--cluster``, ``-n`` / ``-A``, ``app/NAME``),
2. the person's context in this channel (``use …``; it expires when left idle),
3. the channel's binding (``channels:`` in the config, or an admin's ``use … for #channel``),
4. the defaults (``default_cluster``, ``default_namespace``).

An app lives in a namespace: the app of a layer applies only where the namespace that
won is the one that layer names (a context's ``podinfo in web`` is not looked for in the
namespace typed with ``-n pay``), and never across all namespaces.

Everything here is pure: `precedence` decides, `header` and `origin_line` say it.
The router reads the layers (`resolve`) and upgrades a reply's plain header (`decorate`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING

from opsbot.commands.settings import Scopes
from opsbot.commands.spec import Invocation, ScopeViews
from opsbot.core import validation
from opsbot.core.reply import Mono, Text, TextLike, as_text, on_cluster, where
from opsbot.core.request import ChatRequest
from opsbot.errors import InvalidNameError, StoreUnavailable

if TYPE_CHECKING:
    from opsbot.commands.contexts import ContextBook


class From(Enum):
    """Where one part of a command's scope came from, in precedence order."""

    COMMAND = "as asked"
    CONTEXT = "your context"
    CHANNEL = "this channel"
    DEFAULT = "default"

    @property
    def label(self) -> str:
        """As a header says it: ``(your context)``."""
        return self.value

    @property
    def phrase(self) -> str:
        """As a sentence says it: ``from your context``."""
        return _PHRASES[self]


_PHRASES = {
    From.COMMAND: "the command",
    From.CONTEXT: "your context",
    From.CHANNEL: "this channel's binding",
    From.DEFAULT: "the defaults",
}


@dataclass(frozen=True)
class Layer:
    """What one source says (None: nothing, ask the next one)."""

    cluster: str | None = None
    namespace: str | None = None
    app: str | None = None
    app_kind: str | None = None
    """Deployment, StatefulSet or DaemonSet, when known (saved with the app by `use`)."""

    def __bool__(self) -> bool:
        return bool(self.cluster or self.namespace or self.app)


@dataclass(frozen=True)
class Scope:
    """Where a command runs. ``namespace=None``: all namespaces (``-A``)."""

    cluster: str
    namespace: str | None
    cluster_from: From = From.DEFAULT
    namespace_from: From = From.DEFAULT
    app: str | None = None
    app_from: From | None = None
    app_kind: str | None = None
    expired: Layer | None = None
    """The person's context, when it expired just now (said once, then forgotten)."""
    unread: bool = False
    """Saved contexts could not be read (the shared store is away): a read ran without them."""

    def with_app(self, app: str, source: From = From.COMMAND, kind: str | None = None) -> Scope:
        return replace(self, app=app, app_from=source, app_kind=kind)

    def header(self, *, app: bool = False, namespace: bool = True) -> Text:
        """``cluster prod · namespace web · app podinfo (your context)``: each run of parts
        from one source is followed by that source."""
        parts: list[tuple[Text, From]] = [(Text("cluster ", Mono(self.cluster)), self.cluster_from)]
        if namespace:
            shown = (
                Text("all namespaces") if self.namespace is None else Text("namespace ", Mono(self.namespace))
            )
            parts.append((shown, self.namespace_from))
        if app and self.app is not None and self.app_from is not None:
            parts.append((Text("app ", Mono(self.app)), self.app_from))
        pieces: list[Text] = []
        for index, (text, source) in enumerate(parts):
            last_of_run = index + 1 == len(parts) or parts[index + 1][1] is not source
            pieces.append(Text(text, f" ({source.label})") if last_of_run else text)
        return Text.join(" · ", pieces)

    def origin_line(self, *, app: bool = False) -> str:
        """Where a mutating command's target came from, for its card (empty when everything
        was typed): ``podinfo, namespace web, cluster prod from your context``."""
        named: dict[From, list[str]] = {}
        if app and self.app is not None and self.app_from is not None:
            named.setdefault(self.app_from, []).append(self.app)
        if self.namespace is not None:
            named.setdefault(self.namespace_from, []).append(f"namespace {self.namespace}")
        named.setdefault(self.cluster_from, []).append(f"cluster {self.cluster}")
        return "; ".join(
            f"{', '.join(names)} from {source.phrase}"
            for source, names in named.items()
            if source is not From.COMMAND
        )


def precedence(
    command: Layer,
    context: Layer | None,
    channel: Layer,
    defaults: Layer,
    *,
    all_namespaces: bool = False,
) -> Scope:
    """The scope the four layers give (pure): per part, the first layer that names it."""
    layers = [(command, From.COMMAND), (context or Layer(), From.CONTEXT), (channel, From.CHANNEL)]
    layers.append((defaults, From.DEFAULT))
    cluster, cluster_from = next((layer.cluster, source) for layer, source in layers if layer.cluster)
    if all_namespaces:
        namespace: str | None = None
        namespace_from = From.COMMAND
    else:
        namespace, namespace_from = next(
            (layer.namespace, source) for layer, source in layers if layer.namespace
        )
    scope = Scope(cluster, namespace, cluster_from, namespace_from)
    if namespace is not None:
        for layer, source in layers:
            if layer.app and (layer.namespace is None or layer.namespace == namespace):
                return scope.with_app(layer.app, source, layer.app_kind)
    return scope


def resolve(
    invocation: Invocation,
    request: ChatRequest,
    scopes: Scopes,
    contexts: ContextBook | None,
    now: float,
    views: ScopeViews | None = None,
) -> Scope:
    """The scope of one request: flags (or where the command's own arguments say it acts,
    its `scope` hook: `promote APP to prod`), then the person's context in this channel,
    then the channel's binding (a pinned one over the config's), then the defaults; validated."""
    hook = invocation.spec.scope
    named = hook(invocation, views or ScopeViews()) if hook is not None else None
    command = Layer(
        (named.cluster if named else None) or invocation.value("cluster"),
        (named.namespace if named else None) or invocation.value("namespace"),
    )
    context: Layer | None = None
    expired: Layer | None = None
    pinned = Layer()
    unread = False
    if contexts is not None and invocation.spec.uses_cluster:
        try:
            found, saved_pin = contexts.person_and_channel(request.user_id, request.channel_id, now)
        except StoreUnavailable:
            # A read may go on where the flags, the channel and the defaults say, and says
            # so; a change must not land somewhere the person did not mean.
            if invocation.spec.mutating:
                raise
            unread = True
        else:
            context = found.saved.layer if found.saved is not None else None
            expired = found.expired.layer if found.expired is not None else None
            pinned = saved_pin.layer if saved_pin is not None else Layer()
    configured = scopes.channels.get(request.channel_id)
    channel = Layer(
        pinned.cluster or (configured.cluster if configured else None),
        pinned.namespace or (configured.namespace if configured else None),
        pinned.app,
        pinned.app_kind,
    )
    defaults = Layer(scopes.default_cluster, scopes.default_namespace)
    # Cluster-scoped commands (nodes) resolve no namespace: the policy checks them like `-A`.
    every = invocation.flag("all_namespaces") or not invocation.spec.namespaced
    scope = precedence(command, context, channel, defaults, all_namespaces=every)
    if scope.cluster not in scopes.clusters:
        known = ", ".join(f"`{name}`" for name in sorted(scopes.clusters))
        source = "" if scope.cluster_from is From.COMMAND else f" ({scope.cluster_from.label})"
        raise InvalidNameError(
            f"unknown cluster {scope.cluster[:40]!r}{source}; configured clusters: {known}"
        )
    if scope.namespace is not None:
        validation.namespace_name(scope.namespace)
    selector = invocation.value("selector")
    if selector is not None:
        validation.label_selector(selector)
    return replace(scope, expired=expired, unread=unread)


def decorate(shown: TextLike, scope: Scope) -> Text:
    """A reply's header with where each part came from. A handler's plain header
    (`where` / `on_cluster` of this scope, or none) is upgraded; any other is kept as is
    (a handler that used the app writes ``scope.header(app=True)`` itself)."""
    text = as_text(shown)
    if not text or text == where(scope.cluster, scope.namespace):
        return scope.header()
    if text == on_cluster(scope.cluster):
        return scope.header(namespace=False)
    return text


def expiry_note(scope: Scope) -> Text | None:
    """Said once when the person's context expired: they should not wonder why commands
    suddenly run elsewhere. Said too when saved contexts could not be read at all."""
    if scope.unread:
        return Text(
            "Saved contexts cannot be read right now (the shared store is unavailable), so this ran "
            "where the header says; name the app, ",
            Mono("-n"),
            " or ",
            Mono("--cluster"),
            " to be sure.",
        )
    if scope.expired is None:
        return None
    gone = scope.expired
    what = Text.join(
        ", ",
        (
            Text(label, " ", Mono(value))
            for label, value in (("app", gone.app), ("namespace", gone.namespace), ("cluster", gone.cluster))
            if value
        ),
    )
    return Text(
        "Your context (",
        what,
        ") expired after being idle, so this ran where the header says. ",
        Mono("use …"),
        " sets it again.",
    )
