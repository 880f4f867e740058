"""An app's logs: pods picked by restarts, lines merged by the kubelet's timestamps, bounded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsbot.commands.appscoped.logs import Fetched, Stream, merge, pick_pods, stamp_key, streams
from opsbot.commands.appscoped.target import App, involves, named_app, suggestions
from opsbot.core.rows import PodRow
from opsbot.errors import InvalidNameError


def pod(name: str, restarts: int = 0) -> PodRow:
    return PodRow("web", name, {}, "node-1", "Running", True, "1/1", "Running", restarts, None, None)


def fetched(pod_name: str, *lines: str, container: str | None = None) -> Fetched:
    return Fetched(Stream(pod_name, container, f"[pod/{pod_name}]"), "".join(line + "\n" for line in lines))


def test_lines_of_three_pods_are_merged_in_timestamp_order_with_prefixes() -> None:
    merged = merge(
        [
            fetched("api-a", "2026-11-22T12:00:01Z a1", "2026-11-22T12:00:04.5Z a2"),
            fetched("api-b", "2026-11-22T12:00:02.123456789Z b1", "2026-11-22T12:00:04.25Z b2"),
            fetched("api-c", "2026-11-22T12:00:00Z c1", "2026-11-22T12:00:03Z c2"),
        ],
        max_bytes=10_000,
    )
    assert merged.lines == [
        "[pod/api-c] c1",
        "[pod/api-a] a1",
        "[pod/api-b] b1",
        "[pod/api-c] c2",
        "[pod/api-b] b2",  # .25 before .5: fractions compare as numbers, not as text
        "[pod/api-a] a2",
    ]
    assert merged.cut_lines == 0


def test_ties_keep_the_pod_order_and_each_pods_line_order() -> None:
    same = "2026-11-22T12:00:00Z"
    merged = merge([fetched("p1", f"{same} x", f"{same} y"), fetched("p2", f"{same} z")], max_bytes=10_000)
    assert merged.lines == ["[pod/p1] x", "[pod/p1] y", "[pod/p2] z"]


def test_a_line_without_a_timestamp_stays_with_the_line_before_it() -> None:
    merged = merge(
        [
            fetched("p1", "2026-11-22T12:00:01Z start", "  continued"),
            fetched("p2", "2026-11-22T12:00:02Z other"),
        ],
        max_bytes=10_000,
    )
    assert merged.lines == ["[pod/p1] start", "[pod/p1]   continued", "[pod/p2] other"]


def test_timestamps_can_be_kept() -> None:
    merged = merge([fetched("p1", "2026-11-22T12:00:01Z hello")], max_bytes=10_000, keep_timestamps=True)
    assert merged.lines == ["[pod/p1] 2026-11-22T12:00:01Z hello"]


def test_the_byte_budget_keeps_the_newest_lines() -> None:
    lines = [f"2026-11-22T12:00:{second:02d}Z line-{second:02d}" for second in range(50)]
    merged = merge([fetched("p", *lines)], max_bytes=100)
    assert merged.lines[-1] == "[pod/p] line-49"
    assert sum(len(line) + 1 for line in merged.lines) <= 100
    assert merged.cut_lines == 50 - len(merged.lines) > 0


def test_stamp_key_orders_offsets_and_fractions() -> None:
    utc = stamp_key("2026-11-22T12:00:00.5Z x")
    shifted = stamp_key("2026-11-22T13:00:00.25+01:00 y")
    assert utc is not None and shifted is not None and shifted < utc
    assert utc[0] == datetime(2026, 11, 22, 12, tzinfo=UTC).timestamp() and utc[1] == 500_000_000
    assert stamp_key("not a time") is None


def test_most_restarted_pods_are_read_first_up_to_the_cap() -> None:
    pods = [pod("a", 0), pod("b", 5), pod("c", 2), pod("d", 5)]
    picked, left_out = pick_pods(pods, 3, previous=False)
    assert [p.name for p in picked] == ["b", "d", "c"] and left_out == 1


def test_previous_reads_only_pods_that_restarted() -> None:
    picked, left_out = pick_pods([pod("a", 0), pod("b", 1)], 10, previous=True)
    assert [p.name for p in picked] == ["b"] and left_out == 0


def test_several_containers_get_their_own_prefix() -> None:
    both = streams([pod("a")], ("app", "sidecar"), None)
    assert [(s.container, s.prefix) for s in both] == [("app", "[pod/a/app]"), ("sidecar", "[pod/a/sidecar]")]
    one = streams([pod("a")], ("app", "sidecar"), "app")
    assert [(s.container, s.prefix) for s in one] == [("app", "[pod/a]")]


# -- naming and finding apps ---------------------------------------------------------------


def test_app_words_name_apps_and_other_words_do_not() -> None:
    assert named_app("app/podinfo") == (None, "podinfo")
    assert named_app("sts/redis") == ("StatefulSet", "redis")
    assert named_app("deploy/api") == ("Deployment", "api")
    assert named_app("api-7d9f-x2k4p") is None
    assert named_app("pod/api") is None
    with pytest.raises(InvalidNameError):
        named_app("app/Not_Valid")


def test_suggestions_find_typos_and_longer_names() -> None:
    assert suggestions("podinfo", ["podinfo-api", "ledger", "redis"]) == ["podinfo-api"]
    assert suggestions("ledgr", ["podinfo-api", "ledger"]) == ["ledger"]
    assert suggestions("zzz", ["podinfo-api", "ledger"]) == []


def event(kind: str, name: str) -> dict[str, object]:
    return {"involvedObject": {"kind": kind, "name": name}}


@pytest.mark.parametrize(
    ("kind", "app_kind", "name", "about"),
    [
        ("Deployment", "Deployment", "podinfo", True),
        ("ReplicaSet", "Deployment", "podinfo-7d9f8b6c5", True),
        ("Pod", "Deployment", "podinfo-7d9f8b6c5-x2k4p", True),
        ("Pod", "Deployment", "podinfo-api-7d9f8b6c5-x2k4p", False),  # another app's pod
        ("Pod", "Deployment", "current-pod", True),  # a pod the selector matches now
        ("Pod", "StatefulSet", "podinfo-0", True),
        ("Pod", "DaemonSet", "podinfo-x2k4p", True),
        ("Node", "Deployment", "podinfo", False),
    ],
)
def test_events_about_an_app(kind: str, app_kind: str, name: str, about: bool) -> None:
    app = App(app_kind, "podinfo", "web", {})
    assert involves(event(kind, name), app, {"current-pod"}) is about
