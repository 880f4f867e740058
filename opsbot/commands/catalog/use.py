"""`use` and `context`: say once which app, namespace and cluster you work on.

A context belongs to a person in one channel (so different channels can mean different
apps) and is forgotten after ``context.idle_hours`` without use. Setting someone else's
(`use podinfo for @alice`) or pinning a channel's (`use podinfo for #payments`) is the
admin-only policy verb ``use-for``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from opsbot.commands.appscoped import target
from opsbot.commands.context import CommandContext
from opsbot.commands.contexts import ContextBook, SavedContext
from opsbot.commands.scope import From, Scope
from opsbot.commands.spec import CommandSpec, Invocation, Option, PolicyVerb
from opsbot.core import validation
from opsbot.core.durations import short_duration
from opsbot.core.reply import (
    ChannelRef,
    Emphasis,
    Fields,
    Mention,
    Mono,
    Part,
    Reply,
    Strong,
    Text,
    TextLike,
    where,
)
from opsbot.errors import NotFoundError, UsageError
from opsbot.policy.ids import CHANNEL_ID, USER_ID
from opsbot.policy.settings import Group

USE_FOR = "use-for"
APP_COMMANDS = Text(
    Mono("logs"), ", ", Mono("describe"), ", ", Mono("pods"), ", ", Mono("events"), ", ",
    Mono("restart"), " and ", Mono("scale N"),
)  # fmt: skip


@dataclass(frozen=True)
class Whose:
    """Whose context a `use` changes: a person's in a channel, or a channel's pin."""

    user: str | None
    channel: str

    def label(self, requester: str) -> Text:
        if self.user is None:
            return Text(ChannelRef(self.channel), "'s pinned context")
        if self.user == requester:
            return Text("your context")
        return Text(Mention(self.user), "'s context")


def whose(invocation: Invocation, ctx: CommandContext) -> Whose:
    request = ctx.request
    named = invocation.value("for")
    if named is None:
        return Whose(request.user_id, request.channel_id)
    bare = named.lstrip("@#")
    if USER_ID.match(bare) and not named.startswith("#"):
        if request.channel_id.startswith("D"):
            raise UsageError(
                "a context belongs to a person in one channel: set theirs in the channel where they work",
                command="use",
            )
        return Whose(bare, request.channel_id)
    if CHANNEL_ID.match(bare) and not named.startswith("@"):
        return Whose(None, bare)
    raise UsageError(
        f"`for` takes a person or a channel as Slack sends them: mention the person (@alice) or pick "
        f"the channel (#payments) from Slack's suggestions; {named[:40]!r} is neither",
        command="use",
    )


def _book(ctx: CommandContext) -> ContextBook:
    if ctx.contexts is None:
        raise UsageError("contexts are not available in this opsbot", command="use")
    return ctx.contexts


def _saved(book: ContextBook, who: Whose, now: float) -> SavedContext | None:
    return book.channel(who.channel) if who.user is None else book.peek(who.user, who.channel, now)


def use(invocation: Invocation, ctx: CommandContext) -> Reply:
    book = _book(ctx)
    who = whose(invocation, ctx)
    if invocation.flag("clear"):
        return _clear(book, who, ctx)
    explicit = invocation.args[0] if invocation.args else invocation.value("app")
    if explicit is None and invocation.value("cluster") is None and invocation.value("namespace") is None:
        return show(invocation, ctx)
    now = ctx.now.timestamp()
    requester = ctx.request.user_id
    scope = ctx.scope or Scope(ctx.cluster, ctx.namespace)
    namespace = ctx.single_namespace
    notes: list[Part] = []
    found: target.App | None = None
    if explicit is not None:
        named = target.named_app(explicit)
        kind, app = named if named is not None else (None, validation.object_name(explicit, kind="app"))
        found = target.find_app(ctx.kube, scope.cluster, namespace, app, kind=kind, elsewhere=ctx.may_run_in)
        saved = SavedContext(scope.cluster, namespace, app, found.kind, requester, now, now)
    else:
        # Only the place changes; the app stays if it is there too (same app, other cluster).
        before = _saved(book, who, now) or SavedContext()
        saved = SavedContext(
            invocation.value("cluster") or before.cluster,
            invocation.value("namespace") or before.namespace,
            before.app,
            before.kind,
            requester,
            now,
            now,
        )
        if saved.app is not None:
            try:
                found = target.find_app(ctx.kube, scope.cluster, namespace, saved.app)
            except NotFoundError:
                notes.append(
                    Text("App ", Mono(saved.app), f" is not in {scope.cluster}/{namespace}: dropped.")
                )
                saved = replace(saved, app=None, kind=None)
        if found is None and not ctx.kube.deployment_rows(namespace):
            notes.append(Text(f"Note: no deployments in {scope.cluster}/{namespace} (a typo?)."))
    if who.user is None:
        book.set_channel(who.channel, saved, now)
    else:
        book.set_person(who.user, who.channel, saved, now)
    return _saved_reply(book, who, saved, found, ctx, notes)


def _saved_reply(
    book: ContextBook,
    who: Whose,
    saved: SavedContext,
    found: target.App | None,
    ctx: CommandContext,
    notes: list[Part],
) -> Reply:
    requester = ctx.request.user_id
    pairs: list[tuple[str, TextLike]] = [
        (
            "Cluster",
            Text(Mono(saved.cluster)) if saved.cluster else Text(Emphasis("not set: "), _fallback(who)),
        ),
        (
            "Namespace",
            Text(Mono(saved.namespace)) if saved.namespace else Text(Emphasis("not set: "), _fallback(who)),
        ),
    ]
    if found is not None:
        pairs.append(("App", Text(Mono(found.name), f" ({found.kind}, {found.ready} ready)")))
    if who.user is None:
        lasts = Text("Pinned for everyone here until an admin runs ", Mono("use --clear for #…"), ".")
    else:
        lasts = Text(
            f"Forgotten after {_hours(book.idle_seconds)} without use; ",
            Mono("use --clear"),
            " forgets it now.",
        )
    parts: list[Part] = []
    if who.user is not None and who.user != requester:
        parts.append(Text(Mention(who.user), ": ", Mention(requester), " set your context in this channel."))
    parts.append(Fields(tuple(pairs)))
    if found is not None:
        parts.append(Text(APP_COMMANDS, " without a name now work on ", Mono(found.name), "."))
    parts.append(Text(lasts))
    parts.extend(notes)
    title: TextLike = Text("Saved as ", who.label(requester))
    return Reply(title, tuple(parts), where=_new_header(who, saved, found, ctx), tone="success")


def _new_header(who: Whose, saved: SavedContext, found: target.App | None, ctx: CommandContext) -> Text:
    """Where commands will run for whom it was saved (sources as they will say it)."""
    scope = ctx.scope or Scope(ctx.cluster, ctx.namespace)
    source = From.CHANNEL if who.user is None else From.CONTEXT
    new = Scope(
        saved.cluster or scope.cluster,
        saved.namespace or ctx.single_namespace,
        source if saved.cluster else scope.cluster_from,
        source if saved.namespace else scope.namespace_from,
    )
    if found is not None:
        new = new.with_app(found.name, source, found.kind)
    if who.user not in (None, ctx.request.user_id):  # someone else's: their sources may differ
        return where(new.cluster, new.namespace) + (Text(" · app ", Mono(found.name)) if found else Text())
    return new.header(app=True)


def _clear(book: ContextBook, who: Whose, ctx: CommandContext) -> Reply:
    before = _saved(book, who, ctx.now.timestamp())
    forgot = book.clear_channel(who.channel) if who.user is None else book.clear_person(who.user, who.channel)
    label = who.label(ctx.request.user_id)
    if not forgot or before is None:
        return Reply(Text("Nothing to forget: ", label, " was not set"), where=Text("here"))
    return Reply(
        Text("Forgot ", label),
        (Text("Commands here now fall back to ", _fallback(who), "."),),
        where=Text("was: ", _saved_text(before)),
        tone="success",
    )


def _hours(seconds: float) -> str:
    return short_duration(int(seconds))


def _fallback(who: Whose) -> Text:
    if who.user is None:
        return Text("the config's ", Mono("channels:"), " binding, else the defaults")
    return Text("the channel's binding, else the defaults")


def show(invocation: Invocation, ctx: CommandContext) -> Reply:
    """`context`: where commands run now, where each part comes from, and what is saved."""
    book = _book(ctx)
    scope = ctx.scope or Scope(ctx.cluster, ctx.namespace)
    now = ctx.now.timestamp()
    request = ctx.request
    pairs: list[tuple[str, TextLike]] = [
        ("Cluster", Text(Mono(scope.cluster), f" ({scope.cluster_from.label})")),
        (
            "Namespace",
            Text(Mono(scope.namespace), f" ({scope.namespace_from.label})") if scope.namespace else "all",
        ),
        (
            "App",
            Text(Mono(scope.app), f" ({scope.app_from.label})")
            if scope.app and scope.app_from
            else Text(Emphasis("none: "), Mono("use APP")),
        ),
    ]
    lines: list[Part] = [Fields(tuple(pairs))]
    mine = book.peek(request.user_id, request.channel_id, now)
    if mine is not None:
        by = Text() if mine.set_by in ("", request.user_id) else Text(" by ", Mention(mine.set_by))
        left = short_duration(max(0, math.ceil((book.expires_at(mine) - now) / 60) * 60))
        lines.append(
            Text(
                Strong("Your context here:"), " ", _saved_text(mine), ", set ",
                short_duration(max(0, int(now - mine.set_at))), " ago", by,
                f"; forgotten after {_hours(book.idle_seconds)} without use (in {left} if unused).",
            )
        )  # fmt: skip
    else:
        lines.append(Text(Strong("Your context here:"), " none. ", Mono("use APP"), " sets one."))
    pin = book.channel(request.channel_id)
    if pin is not None:
        lines.append(
            Text(Strong("This channel's pin:"), " ", _saved_text(pin), " (by ", Mention(pin.set_by), ").")
        )
    lines.append(
        Text(
            Emphasis(
                "The command's own flags win over your context, your context over the channel's, "
                "the channel's over the defaults."
            )
        )
    )
    return Reply("Your context", tuple(lines), where=scope.header(app=True))


def _saved_text(saved: SavedContext) -> Text:
    named = [
        Text(label, " ", Mono(value))
        for label, value in (("app", saved.app), ("namespace", saved.namespace), ("cluster", saved.cluster))
        if value
    ]
    return Text.join(", ", named) if named else Text("nothing")


NAMESPACE_WORDS = Option(
    "namespace", ("-n", "--namespace"), metavar="NS", help="namespace", words=("ns", "namespace")
)
CLUSTER_WORDS = Option("cluster", ("--cluster",), metavar="NAME", help="cluster", words=("cluster",))

COMMANDS = (
    CommandSpec(
        "use",
        "Set the app, namespace or cluster your commands use here (forgotten when idle)",
        "use APP | ns NS | cluster NAME … [for @PERSON | #CHANNEL] | use --clear",
        use,
        examples=(
            "use podinfo",
            "use podinfo -n web --cluster prod",
            "use ns payments",
            "use --clear",
            "use podinfo for #payments",
        ),
        options=(
            NAMESPACE_WORDS,
            CLUSTER_WORDS,
            Option(
                "app",
                ("--app",),
                metavar="APP",
                help="app (Deployment, StatefulSet, DaemonSet)",
                words=("app",),
            ),
            Option(
                "for",
                ("--for",),
                metavar="@PERSON|#CHANNEL",
                help="someone else's, or a channel's (admin)",
                words=("for",),
            ),
            Option("clear", ("--clear",), takes_value=False, help="forget it"),
        ),
        max_args=1,
        kube=target.KUBE,
        policy_verbs=(
            PolicyVerb(
                USE_FOR,
                Group.ADMIN,
                lambda invocation: invocation.value("for") is not None,
                "Setting someone else's context or pinning a channel's (`use … for`)",
            ),
        ),
        help="Your context belongs to you in this channel. Every reply's header says where each part came from.",
    ),
    CommandSpec(
        "context",
        "Where your commands run here, and where each part comes from",
        "context",
        show,
        aliases=("ctx", "whereami"),
        on_loop=True,
    ),
)
