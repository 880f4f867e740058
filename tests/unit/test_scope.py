"""Where a command runs: the precedence of flags, the person's context, the channel's binding and
the defaults, part by part, and how a reply's header says where each part came from."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from opsbot.commands.catalog import build_registry
from opsbot.commands.contexts import ContextBook, MemoryContexts, SavedContext
from opsbot.commands.scope import From, Layer, Scope, decorate, expiry_note, precedence, resolve
from opsbot.commands.settings import ChannelBinding, Scopes
from opsbot.commands.spec import Invocation
from opsbot.core.reply import Mono, Text, on_cluster, where
from opsbot.core.request import ChatRequest
from opsbot.errors import InvalidNameError, StoreUnavailable

DEFAULTS = Layer("main", "default")
SOURCES = {"flag": From.COMMAND, "context": From.CONTEXT, "channel": From.CHANNEL}


def layers(given: tuple[str, ...], part: str) -> tuple[Layer, Layer, Layer]:
    """A layer per source; those in `given` name `part` (their own value, so we see who won)."""

    def layer(source: str) -> Layer:
        if source not in given:
            return Layer()
        return Layer(cluster=f"{source}-c") if part == "cluster" else Layer(namespace=f"{source}-ns")

    return layer("flag"), layer("context"), layer("channel")


SUBSETS = [
    combo for size in range(4) for combo in itertools.combinations(("flag", "context", "channel"), size)
]


@pytest.mark.parametrize("part", ["cluster", "namespace"])
@pytest.mark.parametrize("given", SUBSETS, ids=lambda combo: "+".join(combo) or "none")
def test_each_part_comes_from_the_first_source_that_names_it(part: str, given: tuple[str, ...]) -> None:
    command, context, channel = layers(given, part)
    scope = precedence(command, context, channel, DEFAULTS)
    winner = next((source for source in ("flag", "context", "channel") if source in given), None)
    value, source = (
        (scope.cluster, scope.cluster_from) if part == "cluster" else (scope.namespace, scope.namespace_from)
    )
    if winner is None:
        assert (value, source) == (getattr(DEFAULTS, part), From.DEFAULT)
    else:
        assert (value, source) == (f"{winner}-{'c' if part == 'cluster' else 'ns'}", SOURCES[winner])


def test_parts_are_decided_independently() -> None:
    scope = precedence(
        Layer(cluster="staging"), Layer(namespace="web"), Layer(cluster="prod", namespace="pay"), DEFAULTS
    )
    assert (scope.cluster, scope.cluster_from) == ("staging", From.COMMAND)
    assert (scope.namespace, scope.namespace_from) == ("web", From.CONTEXT)


def test_the_context_app_follows_the_person_to_another_cluster() -> None:
    scope = precedence(Layer(cluster="staging"), Layer("prod", "web", "podinfo"), Layer(), DEFAULTS)
    assert (scope.cluster, scope.namespace, scope.app, scope.app_from) == (
        "staging",
        "web",
        "podinfo",
        From.CONTEXT,
    )


def test_an_app_is_not_looked_for_in_another_namespace() -> None:
    scope = precedence(Layer(namespace="pay"), Layer("prod", "web", "podinfo"), Layer(), DEFAULTS)
    assert scope.namespace == "pay" and scope.app is None


def test_the_channel_app_applies_where_its_namespace_won() -> None:
    scope = precedence(
        Layer(namespace="pay"), Layer("prod", "web", "podinfo"), Layer(None, "pay", "ledger"), DEFAULTS
    )
    assert (scope.app, scope.app_from) == ("ledger", From.CHANNEL)


def test_the_person_app_wins_over_the_channel_app() -> None:
    scope = precedence(Layer(), Layer(None, "web", "podinfo"), Layer(None, "web", "ledger"), DEFAULTS)
    assert (scope.app, scope.app_from) == ("podinfo", From.CONTEXT)


def test_all_namespaces_has_no_app() -> None:
    scope = precedence(Layer(), Layer("prod", "web", "podinfo"), Layer(), DEFAULTS, all_namespaces=True)
    assert scope.namespace is None and scope.namespace_from is From.COMMAND and scope.app is None


def test_header_names_each_source_after_its_run_of_parts() -> None:
    scope = precedence(Layer(), Layer("prod", "web", "podinfo"), Layer(), DEFAULTS)
    assert scope.header(app=True) == Text(
        "cluster ", Mono("prod"), " · namespace ", Mono("web"), " · app ", Mono("podinfo"), " (your context)"
    )
    mixed = precedence(Layer(cluster="staging"), Layer(namespace="web"), Layer(), DEFAULTS)
    assert mixed.header() == Text(
        "cluster ", Mono("staging"), " (as asked) · namespace ", Mono("web"), " (your context)"
    )
    assert precedence(Layer(), None, Layer(), DEFAULTS, all_namespaces=True).header() == Text(
        "cluster ", Mono("main"), " (default) · all namespaces (as asked)"
    )


def test_a_plain_header_is_upgraded_and_a_handlers_own_is_kept() -> None:
    scope = precedence(Layer(), Layer(namespace="web"), Layer(), DEFAULTS)
    assert decorate("", scope) == scope.header()
    assert decorate(where("main", "web"), scope) == scope.header()
    assert decorate(on_cluster("main"), scope) == scope.header(namespace=False)
    own = Text("cluster ", Mono("main"), " · node ", Mono("n1"))
    assert decorate(own, scope) == own


def test_origin_line_says_what_was_not_typed() -> None:
    scope = precedence(Layer(), Layer("prod", "web", "podinfo"), Layer(), DEFAULTS)
    assert scope.origin_line(app=True) == "podinfo, namespace web, cluster prod from your context"
    typed = precedence(Layer("prod", "web"), None, Layer(), DEFAULTS)
    assert typed.origin_line() == ""
    channel = precedence(Layer(), None, Layer(namespace="pay"), DEFAULTS)
    assert (
        channel.origin_line() == "namespace pay from this channel's binding; cluster main from the defaults"
    )


def test_expiry_note_only_when_the_context_just_expired() -> None:
    assert expiry_note(Scope("main", "web")) is None
    note = expiry_note(Scope("main", "web", expired=Layer("prod", "web", "podinfo")))
    assert (
        note is not None
        and Mono("podinfo") in note.spans
        and "expired" in "".join(span for span in note.spans if isinstance(span, str))
    )


# -- resolve(): reading the layers --------------------------------------------------------

REGISTRY = build_registry()
SCOPES = Scopes(
    frozenset({"main", "prod", "staging"}),
    "main",
    "default",
    {"C0PAY00001": ChannelBinding(namespace="pay")},
)


def request(
    text: str, channel: str = "C0PAY00001", user: str = "U0ALICE01"
) -> tuple[Invocation, ChatRequest]:
    return REGISTRY.parse(text), ChatRequest("r", user, channel, text, "mention")


def book() -> ContextBook:
    return ContextBook(MemoryContexts(), idle_seconds=3600)


def test_resolve_reads_the_persons_context_in_this_channel_only() -> None:
    contexts = book()
    contexts.set_person("U0ALICE01", "C0PAY00001", SavedContext("prod", "web", "podinfo", "Deployment"), 1000)
    invocation, here = request("pods")
    scope = resolve(invocation, here, SCOPES, contexts, 1000)
    assert (scope.cluster, scope.namespace, scope.app, scope.app_kind) == (
        "prod",
        "web",
        "podinfo",
        "Deployment",
    )
    invocation, elsewhere = request("pods", channel="C0OTHER001")
    other = resolve(invocation, elsewhere, SCOPES, contexts, 1000)
    assert (other.cluster, other.namespace, other.app) == ("main", "default", None)


def test_resolve_puts_a_pinned_channel_over_the_configs_binding() -> None:
    contexts = book()
    invocation, here = request("pods")
    assert resolve(invocation, here, SCOPES, contexts, 0).namespace == "pay"
    contexts.set_channel("C0PAY00001", SavedContext("staging", "ledger-ns", "ledger"), 0)
    scope = resolve(invocation, here, SCOPES, contexts, 0)
    assert (scope.cluster, scope.namespace, scope.app, scope.app_from) == (
        "staging",
        "ledger-ns",
        "ledger",
        From.CHANNEL,
    )


def test_an_unknown_cluster_from_a_context_says_where_it_came_from() -> None:
    contexts = book()
    contexts.set_person("U0ALICE01", "C0PAY00001", SavedContext("gone"), 0)
    invocation, here = request("pods")
    with pytest.raises(InvalidNameError, match=r"unknown cluster 'gone' \(your context\)"):
        resolve(invocation, here, SCOPES, contexts, 0)


def test_an_expired_context_is_not_used_and_is_reported() -> None:
    contexts = book()
    contexts.set_person("U0ALICE01", "C0PAY00001", SavedContext("prod", "web", "podinfo"), 0)
    invocation, here = request("pods")
    scope = resolve(invocation, here, SCOPES, contexts, 3601)
    assert (scope.cluster, scope.namespace, scope.app) == ("main", "pay", None)
    assert scope.expired == Layer("prod", "web", "podinfo")
    again = resolve(invocation, here, SCOPES, contexts, 3602)
    assert again.expired is None  # said once


class AwayContexts(MemoryContexts):
    """The shared store gone for a while: every read of a saved context fails."""

    def contexts(self, keys: Sequence[str]) -> list[tuple[dict[str, object], float] | None]:
        raise StoreUnavailable("the shared store is unavailable (Redis cannot be reached)")


def test_with_the_store_away_a_read_runs_without_saved_contexts_and_says_so() -> None:
    invocation, here = request("pods")
    scope = resolve(invocation, here, SCOPES, ContextBook(AwayContexts(), idle_seconds=3600), 0)
    assert (scope.cluster, scope.namespace, scope.unread) == ("main", "pay", True)
    note = expiry_note(scope)
    assert note is not None and "cannot be read right now" in str(note)


def test_with_the_store_away_a_change_is_refused_rather_than_sent_where_nobody_meant() -> None:
    invocation, here = request("restart deploy/web")
    with pytest.raises(StoreUnavailable):
        resolve(invocation, here, SCOPES, ContextBook(AwayContexts(), idle_seconds=3600), 0)
