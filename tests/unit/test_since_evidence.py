"""Since when a problem holds, read from the objects' own timestamps (opsbot.alerts.detectors.evidence).

Realistic timelines: a pod created two hours ago whose container has crashed seven times, the
kubelet now waiting five minutes between restarts, found by a bot that just started; the
same crash seen happening; a node that went NotReady a quarter of an hour before the bot
looked. "At least since" when the evidence only bounds the start.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsbot.alerts.detectors import observe
from opsbot.alerts.detectors.evidence import backoff_seconds, earlier_waits
from opsbot.alerts.findings import AlertKind, Finding
from tests.support.fake_kube.builders import (
    crashloop_status,
    deployment,
    evicted_status,
    image_pull_backoff_status,
    node,
    node_not_ready_status,
    pod,
    rfc3339,
    rollout_stuck_status,
)
from tests.unit.test_detectors import with_status

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CREATED = NOW - timedelta(hours=2)
Obj = dict[str, Any]


def at(delta: timedelta) -> str:
    return rfc3339(NOW + delta)


def web_pod() -> Obj:
    return pod(
        "web-7d9f8b6c5d-x2x4q",
        "shop",
        created=CREATED,
        owner={"kind": "ReplicaSet", "name": "web-7d9f8b6c5d"},
        labels={"pod-template-hash": "7d9f8b6c5d"},
    )


def crashing(
    restarts: int, *, started: timedelta, finished: timedelta, reason: str = "Error", exit_code: int = 1
) -> Obj:
    """The kubelet's status after ``restarts`` restarts: the last run's start and end, its back-off."""
    base = web_pod()
    status = crashloop_status(base, restarts=restarts, reason=reason, exit_code=exit_code)
    app = status["containerStatuses"][0]
    app["lastState"]["terminated"].update(startedAt=at(started), finishedAt=at(finished))
    return with_status(base, status)


def only(resource: str, old: Obj | None, new: Obj, now: datetime = NOW) -> Finding:
    (finding,) = observe(resource, old, new, cluster="prod", now=now).findings
    return finding


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        ("back-off 10s restarting failed container=app pod=web_shop(uid)", 10),
        ("back-off 2m40s restarting failed container=app pod=web_shop(uid)", 160),
        ("back-off 5m0s restarting failed container=app pod=web_shop(uid)", 300),
        ("Back-off pulling image", None),
        ("", None),
    ],
)
def test_the_kubelets_back_off_is_read_from_its_message(message: str, seconds: int | None) -> None:
    assert backoff_seconds(message) == seconds


@pytest.mark.parametrize(
    ("backoff", "restarts", "waited"),
    [(10, 1, 0), (40, 3, 30), (300, 7, 310), (300, 40, 310), (300, 2, 10), (None, 7, 0)],
    ids=["first-back-off", "third", "capped", "capped-many-restarts", "bounded-by-restarts", "no-back-off"],
)
def test_a_back_off_proves_the_waits_before_it(backoff: int | None, restarts: int, waited: int) -> None:
    assert earlier_waits(backoff, restarts) == timedelta(seconds=waited)


def test_seven_restarts_with_a_five_minute_back_off_found_at_start_are_at_least_that_old() -> None:
    """Found when the bot starts: the latest run began 40 s ago, and a 5-minute back-off means
    at least 10+20+40+80+160 s of earlier waits in this streak."""
    found = crashing(7, started=timedelta(seconds=-40), finished=timedelta(seconds=-30))
    finding = only("pods", None, found)
    assert finding.kind is AlertKind.CRASH_LOOP
    assert finding.since == NOW - timedelta(seconds=40 + 310)
    assert finding.since_exact is False


def test_a_crash_seen_happening_began_when_the_container_died() -> None:
    running = web_pod()
    crashed = crashing(1, started=timedelta(seconds=-20), finished=timedelta(seconds=-3))
    finding = only("pods", running, crashed)
    assert (finding.since, finding.since_exact) == (NOW - timedelta(seconds=3), True)


def test_the_first_crash_found_at_start_is_exact() -> None:
    first = crashing(0, started=timedelta(minutes=-3), finished=timedelta(minutes=-2))
    finding = only("pods", None, first)
    assert (finding.since, finding.since_exact) == (NOW - timedelta(minutes=2), True)


def test_a_problem_never_predates_its_pod() -> None:
    young = crashing(7, started=timedelta(seconds=-40), finished=timedelta(seconds=-30))
    young["status"]["startTime"] = at(timedelta(minutes=-2))
    finding = only("pods", None, young)
    assert (finding.since, finding.since_exact) == (NOW - timedelta(minutes=2), False)


def test_oom_kills_found_at_start_carry_the_memory_limit_and_are_at_least_that_old() -> None:
    limited = web_pod()
    limited["spec"]["containers"][0]["resources"] = {
        "limits": {"memory": "256Mi"},
        "requests": {"memory": "128Mi"},
    }
    status = crashing(
        4, started=timedelta(seconds=-70), finished=timedelta(seconds=-60), reason="OOMKilled", exit_code=137
    )["status"]
    finding = only("pods", None, with_status(limited, status))
    assert (finding.kind, finding.exit_code, finding.restart_count) == (AlertKind.OOM_KILLED, 137, 4)
    assert (finding.facts["memory_limit"], finding.facts["memory_request"]) == ("256Mi", "128Mi")
    assert finding.since == NOW - timedelta(seconds=70 + 70)  # back-off 1m20s: 10+20+40 s before
    assert finding.since_exact is False


def test_a_container_without_a_memory_limit_says_so() -> None:
    status = crashing(
        2, started=timedelta(seconds=-20), finished=timedelta(seconds=-10), reason="OOMKilled", exit_code=137
    )["status"]
    unlimited = web_pod()
    for container in unlimited["spec"]["containers"]:
        container.pop("resources", None)
    assert only("pods", None, with_status(unlimited, status)).facts["memory_limit"] == "none"


def test_an_image_that_never_pulled_has_failed_since_the_pod_was_scheduled() -> None:
    base = web_pod()
    status = image_pull_backoff_status(base)
    for cond in status["conditions"]:
        if cond["type"] == "PodScheduled":
            cond["lastTransitionTime"] = at(timedelta(minutes=-25))
    finding = only("pods", None, with_status(base, status))
    assert (finding.since, finding.since_exact) == (NOW - timedelta(minutes=25), True)
    assert finding.facts["image"] == "nginx:1.27"


def test_an_eviction_is_dated_by_the_kubelets_disruption_condition() -> None:
    base = web_pod()
    status = evicted_status(base)
    for cond in status["conditions"]:
        if cond["type"] == "DisruptionTarget":
            cond["lastTransitionTime"] = at(timedelta(minutes=-7))
    finding = only("pods", None, with_status(base, status))
    assert (finding.since, finding.since_exact, finding.facts["node"]) == (
        NOW - timedelta(minutes=7),
        True,
        "node-1",
    )


def test_a_node_found_not_ready_has_been_since_its_condition_changed() -> None:
    status = node_not_ready_status()
    for cond in status["conditions"]:
        cond["lastTransitionTime"] = at(timedelta(minutes=-15))
    finding = only("nodes", None, with_status(node("node-3"), status))
    assert (finding.since, finding.since_exact) == (NOW - timedelta(minutes=15), True)


def test_a_stuck_rollout_is_dated_by_its_progressing_condition() -> None:
    web = deployment("web", "shop")
    status = copy.deepcopy(rollout_stuck_status(web))
    status["conditions"][1]["lastTransitionTime"] = at(timedelta(minutes=-4))
    finding = only("deployments", None, with_status(web, status))
    assert (finding.since, finding.since_exact, finding.facts["replicas"]) == (
        NOW - timedelta(minutes=4),
        True,
        "1/1",
    )
