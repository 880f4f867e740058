"""Incident cards as an on-call engineer reads them: the golden text of each kind's card (open,
and resolved), the buttons each kind offers, and the noise taken out of what Kubernetes said.

Cards are built the way the pipeline builds them (realistic objects → observe → the incident
book) and written out by the console renderer in UTC, so the goldens read like the card.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from opsbot.alerts.actions import BUTTONS, FEATURES, ROLLBACK, card_actions, incident_command
from opsbot.alerts.cards import incident_card
from opsbot.alerts.detectors import observe
from opsbot.alerts.enrichment import node_pod_facts
from opsbot.alerts.findings import EXTERNAL_KINDS, AlertKind
from opsbot.alerts.incidents import Incident, IncidentBook, IncidentPolicy
from opsbot.alerts.wording import readable
from opsbot.console.render import render_text
from opsbot.slack.render import render
from tests.support.fake_kube.builders import (
    create_container_config_error_status,
    event,
    evicted_status,
    image_pull_backoff_status,
    node_not_ready_status,
    pod,
    recovered_status,
    rollout_stuck_status,
)
from tests.unit import test_detectors_more as more
from tests.unit import test_since_evidence as ev
from tests.unit.test_detectors import with_status

NOW = ev.NOW
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ALL = frozenset(AlertKind)
DETECTED = ALL - EXTERNAL_KINDS  # Alertmanager's groups have their own cards (opsbot.alertmanager.cards)


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """The console writes moments in local time: UTC here, so the goldens hold anywhere."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def opened(resource: str, new: dict, old: dict | None = None, **kw: object) -> Incident:  # type: ignore[type-arg]
    book = IncidentBook(IncidentPolicy(), lambda finding: "C0ALERTS01")
    observation = observe(resource, old, new, cluster="prod", now=NOW, enabled=ALL, **kw)  # type: ignore[arg-type]
    (effect,) = book.observe(observation, NOW)
    return replace(effect.incident, ref="k7m2qx")


def card(incident: Incident) -> str:
    return render_text(incident_card(incident))


def labels(incident: Incident) -> list[str]:
    return [button.label for button in incident_card(incident).buttons]


def _with_pull_timing(status: dict) -> dict:  # type: ignore[type-arg]
    for cond in status["conditions"]:
        if cond["type"] == "PodScheduled":
            cond["lastTransitionTime"] = ev.at(timedelta(minutes=-25))
    return status


def _bad_tag() -> dict:  # type: ignore[type-arg]
    base = ev.web_pod()
    base["spec"]["containers"][0]["image"] = "registry.example.com/shop/web:v2.3.1"
    return with_status(base, _with_pull_timing(image_pull_backoff_status(base)))


def _limited() -> dict:  # type: ignore[type-arg]
    base = ev.web_pod()
    base["spec"]["containers"][0]["resources"] = {
        "limits": {"memory": "256Mi"},
        "requests": {"memory": "128Mi"},
    }
    status = ev.crashing(
        4, started=timedelta(seconds=-70), finished=timedelta(seconds=-60), reason="OOMKilled", exit_code=137
    )
    return with_status(base, status["status"])


def _evicted() -> dict:  # type: ignore[type-arg]
    base = ev.web_pod()
    status = evicted_status(base)
    for cond in status["conditions"]:
        if cond["type"] == "DisruptionTarget":
            cond["lastTransitionTime"] = ev.at(timedelta(minutes=-7))
    return with_status(base, status)


def _not_ready_node() -> dict:  # type: ignore[type-arg]
    status = node_not_ready_status("NodeStatusUnknown")
    for cond in status["conditions"]:
        cond["lastTransitionTime"] = ev.at(timedelta(minutes=-15))
    return with_status(more.READY, status)


def _node_with_pods(incident: Incident) -> Incident:
    """What the thread's enrichment tells the card: the node's pods and their workloads."""
    pods = [
        pod(
            f"api-7d9f8b6c5d-{i}",
            "web",
            owner={"kind": "ReplicaSet", "name": "api-7d9f8b6c5d"},
            labels={"pod-template-hash": "7d9f8b6c5d"},
            ready=i > 2,
        )
        for i in range(6)
    ] + [pod("db-0", "data", owner={"kind": "StatefulSet", "name": "db"}, ready=False)]
    return replace(incident, facts={**incident.facts, **node_pod_facts(pods)})


def _stuck_rollout() -> dict:  # type: ignore[type-arg]
    web = more.WEB
    status = rollout_stuck_status(web)
    for cond in status["conditions"]:
        cond["lastTransitionTime"] = ev.at(timedelta(minutes=-4))
    return with_status(web, status)


CASES: dict[AlertKind, tuple[str, dict, dict | None]] = {  # type: ignore[type-arg]
    AlertKind.CRASH_LOOP: (
        "pods",
        ev.crashing(7, started=timedelta(seconds=-40), finished=timedelta(seconds=-30)),
        None,
    ),
    AlertKind.OOM_KILLED: ("pods", _limited(), None),
    AlertKind.IMAGE_PULL: ("pods", _bad_tag(), None),
    AlertKind.CONFIG_ERROR: (
        "pods",
        with_status(ev.web_pod(), create_container_config_error_status(ev.web_pod())),
        None,
    ),
    AlertKind.EVICTED: ("pods", _evicted(), None),
    AlertKind.UNSCHEDULABLE: ("pods", more.UNSCHED_10M, None),
    AlertKind.STUCK_CREATING: ("pods", more.CREATING_20M, None),
    AlertKind.NODE_NOT_READY: ("nodes", _not_ready_node(), None),
    AlertKind.NODE_PRESSURE: ("nodes", more.MEMORY_AND_DISK, None),
    AlertKind.NODE_UNSCHEDULABLE: ("nodes", more.CORDONED_2H, None),
    AlertKind.ROLLOUT_FAILED: ("deployments", _stuck_rollout(), None),
    AlertKind.DEPLOYMENT_UNAVAILABLE: ("deployments", more.NONE_UP_15M, None),
    AlertKind.JOB_FAILED: ("jobs", more.MIGRATE_FAILED, None),
    AlertKind.CRONJOB_FAILED: ("cronjobs", more.BACKUP_FAILED, more.BACKUP_RUNNING),
    AlertKind.CRONJOB_MISSED: ("cronjobs", more.BACKUP_LATE, None),
    AlertKind.WARNING_EVENT: (
        "events",
        event(
            "shop",
            ev.web_pod(),
            "FailedToUpdateEndpoint",
            "Failed to update endpoint shop/web: Operation cannot be fulfilled",
            count=3,
            last_timestamp=NOW - timedelta(minutes=1),
            first_timestamp=NOW - timedelta(minutes=9),
        ),
        None,
    ),
}


def incident_of(kind: AlertKind) -> Incident:
    if kind is AlertKind.ROLLOUT_COMPLETED:
        return opened("deployments", more.ALL_UP, more._rolling(more.NONE_UP_15M))
    resource, new, old = CASES[kind]
    incident = opened(resource, new, old)
    assert incident.kind is kind
    return _node_with_pods(incident) if incident.subject_kind == "Node" else incident


POD = "web-7d9f8b6c5d-x2x4q"
GOLDEN: dict[AlertKind, str] = {
    AlertKind.CRASH_LOOP: f"""\
🔴 CrashLoopBackOff — deployment/web in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🔴 critical
Pod (1): `{POD}`
When: at least since 2026-03-01T11:54+00:00
Restarts: 7
Last failure: Error, exit code 1
> Back-off 5m0s restarting failed container app""",
    AlertKind.OOM_KILLED: f"""\
🔴 OOMKilled — deployment/web in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🔴 critical
Pod (1): `{POD}`
When: at least since 2026-03-01T11:57+00:00
Memory: limit `256Mi`, request `128Mi`
OOM kills seen: 1
Restarts: 4
Last failure: OOMKilled, exit code 137
> Back-off 1m20s restarting failed container app""",
    AlertKind.IMAGE_PULL: f"""\
🟠 ImagePullBackOff — deployment/web in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🟠 warning
Pod (1): `{POD}`
When: since 2026-03-01T11:35+00:00
Image: `registry.example.com/shop/web:v2.3.1`
> Back-off pulling image "registry.example.com/shop/web:v2.3.1": ErrImagePull: failed to pull and unpack image "registry.example.com/shop/web:v2.3.1": failed to resolve reference "registry.example.com/shop/web:v2.3.1": registry.example.com/shop/web:v2.3.1: not found""",
    AlertKind.CONFIG_ERROR: f"""\
🟠 CreateContainerConfigError — deployment/web in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🟠 warning
Pod (1): `{POD}`
When: since 2026-03-01T10:00+00:00
Image: `nginx:1.27`
> Secret "app-secrets" not found""",
    AlertKind.STUCK_CREATING: f"""\
🟠 StuckContainerCreating — deployment/web in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🟠 warning
Pod (1): `{POD}`
When: since 2026-03-01T11:40+00:00
Node: `node-1`""",
    AlertKind.NODE_UNSCHEDULABLE: """\
🟠 NodeUnschedulable — node/node-1
incident `k7m2qx` · cluster `prod`
Severity: 🟠 warning
When: since 2026-03-01T10:00+00:00
Reason: Unschedulable
Pods on the node: 7 (4 not ready)
Workloads affected: deployment/api (web), statefulset/db (data)
> The node is cordoned: no new pods are scheduled on it.""",
    AlertKind.ROLLOUT_FAILED: """\
🔴 RolloutFailed — deployment/web in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🔴 critical
When: since 2026-03-01T11:56+00:00
Available replicas: 3/3
> ReplicaSet "web-bsw9n88t5h" has timed out progressing.""",
    AlertKind.ROLLOUT_COMPLETED: """\
🔵 RolloutCompleted — deployment/web in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🔵 info
When: since 2026-03-01T11:00+00:00
Available replicas: 3/3
> ReplicaSet "web-bsw9n88t5h" has successfully progressed.""",
    AlertKind.EVICTED: f"""\
🟠 Evicted — deployment/web in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🟠 warning
Pod (1): `{POD}`
When: since 2026-03-01T11:53+00:00
Node: `node-1`
> The node was low on resource: memory. Threshold quantity: 100Mi, available: 91036Ki. Container app was using 1434408Ki, request is 0, has larger consumption of memory.""",
    AlertKind.UNSCHEDULABLE: f"""\
🟠 PodUnschedulable — deployment/web in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🟠 warning
Pod (1): `{POD}`
When: since 2026-03-01T11:50+00:00
> 0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.""",
    AlertKind.NODE_NOT_READY: """\
🔴 NodeNotReady — node/node-1
incident `k7m2qx` · cluster `prod`
Severity: 🔴 critical
When: since 2026-03-01T11:45+00:00
Reason: NodeStatusUnknown
Pods on the node: 7 (4 not ready)
Workloads affected: deployment/api (web), statefulset/db (data)
> Kubelet stopped posting node status.""",
    AlertKind.NODE_PRESSURE: """\
🟠 NodePressure — node/node-1
incident `k7m2qx` · cluster `prod`
Severity: 🟠 warning
When: since 2026-03-01T11:50+00:00
Reason: MemoryPressure, DiskPressure
Pods on the node: 7 (4 not ready)
Workloads affected: deployment/api (web), statefulset/db (data)
> Kubelet has insufficient memory available; kubelet has disk pressure""",
    AlertKind.DEPLOYMENT_UNAVAILABLE: """\
🔴 DeploymentUnavailable — deployment/web in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🔴 critical
When: since 2026-03-01T11:45+00:00
Available replicas: 0/3
> 0 of 3 replicas available. Deployment does not have minimum availability.""",
    AlertKind.JOB_FAILED: """\
🟠 JobFailed — job/migrate in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🟠 warning
Job (1): `migrate`
When: since 2026-03-01T11:50+00:00
Reason: BackoffLimitExceeded
Failed pods: 7
> Job has reached the specified backoff limit""",
    AlertKind.CRONJOB_FAILED: """\
🟠 CronJobFailed — cronjob/backup in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🟠 warning
When: since 2026-03-01T12:00+00:00
Schedule: `0 * * * *`
Last run: `backup-29539380`
Last success: 2026-03-01T10:00+00:00
> The last scheduled run ended without succeeding.""",
    AlertKind.CRONJOB_MISSED: """\
🟠 CronJobMissed — cronjob/backup in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🟠 warning
When: since 2026-03-01T11:00+00:00
Schedule: `0 * * * *`
Was due: 2026-03-01T11:00+00:00
Last run: `backup-29539320`
Last success: 2026-03-01T10:01+00:00
> The run the schedule asked for has not started.""",
    AlertKind.WARNING_EVENT: f"""\
🟠 WarningEvent — pod/{POD} in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🟠 warning
Pod (1): `{POD}`
When: since 2026-03-01T11:51+00:00
Reason: FailedToUpdateEndpoint
Warnings: 3× (latest reason)
> Failed to update endpoint shop/web: Operation cannot be fulfilled""",
}


def test_every_kind_has_a_golden_card() -> None:
    assert set(GOLDEN) == DETECTED


@pytest.mark.parametrize("kind", list(GOLDEN), ids=[kind.value for kind in GOLDEN])
def test_each_kind_has_its_own_card(kind: AlertKind) -> None:
    assert card(incident_of(kind)) == GOLDEN[kind]


@pytest.mark.parametrize("kind", sorted(DETECTED), ids=[kind.value for kind in sorted(DETECTED)])
def test_every_card_has_one_icon_and_no_pod_uid(kind: AlertKind) -> None:
    incident = incident_of(kind)
    rendered = render(incident_card(incident))
    header = rendered.blocks[0]["text"]["text"]
    assert (
        sum(
            header.count(emoji)
            for emoji in (
                ":red_circle:",
                ":large_orange_circle:",
                ":large_blue_circle:",
                ":x:",
                ":warning:",
                ":white_check_mark:",
            )
        )
        == 1
    )
    assert incident.ref in rendered.text + str(rendered.blocks)
    assert not UUID.search(str(rendered.blocks)), "no pod UID in what people read"


def test_a_node_card_is_about_the_node() -> None:
    text = card(incident_of(AlertKind.NODE_NOT_READY))
    assert "namespace" not in text and "Pod (" not in text and "Restarts" not in text


def test_a_resolved_card_says_how_long_it_failed_and_how_long_it_was_quiet_separately() -> None:
    book = IncidentBook(IncidentPolicy(resolve_after=timedelta(minutes=5)), lambda finding: "C0ALERTS01")
    running = ev.web_pod()
    crashed = ev.crashing(1, started=timedelta(seconds=-20), finished=timedelta(seconds=-1))
    book.observe(observe("pods", running, crashed, cluster="prod", now=NOW), NOW)
    fine = with_status(crashed, recovered_status(crashed))
    book.observe(
        observe("pods", crashed, fine, cluster="prod", now=NOW + timedelta(seconds=1)),
        NOW + timedelta(seconds=1),
    )
    (effect,) = book.tick(NOW + timedelta(seconds=1, minutes=5))
    incident = replace(effect.incident, ref="k7m2qx")
    assert (
        card(incident)
        == f"""\
✓ Resolved after 2s: CrashLoopBackOff — deployment/web in shop
incident `k7m2qx` · cluster `prod` · namespace `shop`
Severity: 🔴 critical
Pod (1): `{POD}`
When: from 2026-03-01T11:59+00:00 to 2026-03-01T12:00+00:00 (2s)
Restarts: 1
Last failure: Error, exit code 1
Resolved: 2026-03-01T12:05+00:00 (healthy for 5m before it was closed)
> Back-off 10s restarting failed container app"""
    )
    assert labels(incident) == ["Logs (crashed run)", "Describe"]


# -- buttons -----------------------------------------------------------------------------------

MUTES = ["Mute 1h", "Mute 24h"]
EXPECTED_BUTTONS: dict[AlertKind, list[str]] = {
    AlertKind.CRASH_LOOP: ["Logs (crashed run)", "Describe", "Restart workload", "Roll back", *MUTES],
    AlertKind.OOM_KILLED: ["Logs (crashed run)", "Describe", *MUTES],
    AlertKind.IMAGE_PULL: ["Describe", "Events", "Roll back", *MUTES],
    AlertKind.CONFIG_ERROR: ["Describe", "Events", *MUTES],
    AlertKind.EVICTED: ["Describe", "Node pressure", *MUTES],
    AlertKind.UNSCHEDULABLE: ["Describe", "Events", *MUTES],
    AlertKind.STUCK_CREATING: ["Describe", "Events", *MUTES],
    AlertKind.NODE_NOT_READY: ["Describe node", "Pods on node", *MUTES],
    AlertKind.NODE_PRESSURE: ["Describe node", "Pods on node", *MUTES],
    AlertKind.NODE_UNSCHEDULABLE: ["Describe node", "Pods on node", *MUTES],
    AlertKind.ROLLOUT_FAILED: ["Describe", "Events", "Roll back", *MUTES],
    AlertKind.ROLLOUT_COMPLETED: ["Describe", *MUTES],
    AlertKind.DEPLOYMENT_UNAVAILABLE: ["Describe", "Events", "Restart workload", *MUTES],
    AlertKind.JOB_FAILED: ["Events", *MUTES],
    AlertKind.CRONJOB_FAILED: ["Events of the failed run", "Events", *MUTES],
    AlertKind.CRONJOB_MISSED: ["Events", *MUTES],
    AlertKind.WARNING_EVENT: ["Events", "Describe", *MUTES],
}


@pytest.mark.parametrize("kind", sorted(DETECTED), ids=[kind.value for kind in sorted(DETECTED)])
def test_buttons_follow_the_problem(kind: AlertKind) -> None:
    assert labels(incident_of(kind)) == EXPECTED_BUTTONS[kind]


def test_neither_an_image_pull_nor_an_eviction_offers_logs_or_a_restart() -> None:
    for kind in (AlertKind.IMAGE_PULL, AlertKind.EVICTED):
        assert not {"Logs (crashed run)", "Logs", "Restart workload"} & set(labels(incident_of(kind)))


def test_roll_back_is_offered_only_where_releases_exist_and_only_while_open() -> None:
    assert "releases" in FEATURES
    for kind in (AlertKind.CRASH_LOOP, AlertKind.IMAGE_PULL, AlertKind.ROLLOUT_FAILED):
        assert ROLLBACK in BUTTONS[kind]
        assert ROLLBACK in card_actions(incident_of(kind), open_=True)
        assert ROLLBACK not in card_actions(incident_of(kind), open_=True, features=())
        assert ROLLBACK not in card_actions(incident_of(kind), open_=False)


@pytest.mark.parametrize(
    ("kind", "label", "command"),
    [
        (AlertKind.CRASH_LOOP, "Logs (crashed run)", f"logs {POD} -c app --previous --cluster prod -n shop"),
        (AlertKind.OOM_KILLED, "Describe", f"describe pod {POD} --cluster prod -n shop"),
        (AlertKind.IMAGE_PULL, "Events", f"events --for pod/{POD} --cluster prod -n shop"),
        (AlertKind.EVICTED, "Node pressure", "describe node node-1 --cluster prod"),
        (AlertKind.NODE_NOT_READY, "Pods on node", "pods -A --node node-1 --cluster prod"),
        (AlertKind.NODE_PRESSURE, "Describe node", "describe node node-1 --cluster prod"),
        (AlertKind.DEPLOYMENT_UNAVAILABLE, "Restart workload", "restart deploy/web --cluster prod -n shop"),
        (AlertKind.CRASH_LOOP, "Roll back", "rollback web on prod -n shop"),
        (AlertKind.ROLLOUT_FAILED, "Roll back", "rollback web on prod -n shop"),
        (AlertKind.JOB_FAILED, "Events", "events --for job/migrate --cluster prod -n shop"),
        (
            AlertKind.CRONJOB_FAILED,
            "Events of the failed run",
            "events --for job/backup-29539380 --cluster prod -n shop",
        ),
        (AlertKind.CRONJOB_MISSED, "Events", "events --for cronjob/backup --cluster prod -n shop"),
    ],
)
def test_each_button_is_the_command_a_person_would_type(kind: AlertKind, label: str, command: str) -> None:
    incident = incident_of(kind)
    (button,) = [button for button in incident_card(incident).buttons if button.label == label]
    assert incident_command(button.action_id, incident) == command
    assert button.value == incident.id


# -- what Kubernetes said, readable -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        (
            "back-off 40s restarting failed container=app pod=web-7d9f_shop(5f1c6c0e-8d8f-4b6f-a0e9-2c3f1b7e9d10)",
            "Back-off 40s restarting failed container app",
        ),
        (
            'rpc error: code = NotFound desc = failed to pull and unpack image "x:1": not found',
            'Failed to pull and unpack image "x:1": not found',
        ),
        (
            "container containerd://" + "ab" * 32 + " exited",
            "Container containerd://abababababab… exited",
        ),
        ('secret "app-secrets" not found', 'Secret "app-secrets" not found'),
        ("", ""),
    ],
)
def test_the_quoted_line_keeps_the_reason_and_drops_the_noise(said: str, shown: str) -> None:
    assert readable(said) == shown
