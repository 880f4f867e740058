"""Following a release, step by step (pure): committed → applied → rolling out → available,
or failed, or timed out; never moved back by an older read; and how it is told."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from opsbot.core.reply import RUN_PREFIX
from opsbot.core.rows import deployment_row
from opsbot.releases.changes import Action
from opsbot.releases.follow import on_deadline, on_deployment, on_flux, runs
from opsbot.releases.ledger import became_available, credited, history_lines, last_good, record_for, who
from opsbot.releases.notices import final_reply, status_text, with_step
from opsbot.releases.records import FluxRef, Phase, Release, VersionRecord

NOW = 1_800_000_000.0


def release(**changes: Any) -> Release:
    base = Release(
        id="a1",
        action=Action.PROMOTE,
        app="podinfo",
        cluster="prod",
        namespace="podinfo",
        deployment="podinfo",
        from_version="6.5.1",
        to_version="6.6.0",
        mode="gitops",
        requested_by="U1",
        started_at=NOW - 72,
        deadline=NOW + 600,
        phase=Phase.COMMITTED,
        commit="abc1234def",
        flux=FluxRef("Kustomization", "apps", "flux-system"),
        layout="helm-chart",
    )
    return Release(**{**base.__dict__, **changes})


def deployment(
    version: str, *, updated: int = 3, available: int = 3, rv: str = "10", **status: Any
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "podinfo",
            "namespace": "podinfo",
            "generation": 2,
            "resourceVersion": rv,
            "labels": {"app.kubernetes.io/version": version},
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "template": {
                "spec": {"containers": [{"name": "podinfo", "image": f"ghcr.io/x/podinfo:{version}"}]}
            },
        },
        "status": {
            "observedGeneration": 2,
            "replicas": max(updated, 3),
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}],
            **status,
        },
    }


def kustomization(revision: str, ready: str = "True", rv: str = "5") -> dict[str, Any]:
    return {
        "metadata": {"name": "apps", "namespace": "flux-system", "resourceVersion": rv, "generation": 1},
        "status": {
            "lastAppliedRevision": revision,
            "lastAttemptedRevision": revision,
            "conditions": [{"type": "Ready", "status": ready, "message": "health check failed"}],
        },
    }


def test_flux_applying_the_commit_is_said_once() -> None:
    step = on_flux(release(), kustomization("main@sha1:abc1234def"), NOW)
    assert step.progress == "Flux applied main@sha1:abc1234def" and step.release.phase is Phase.APPLIED
    assert not on_flux(step.release, kustomization("main@sha1:abc1234def", rv="6"), NOW).changed


def test_flux_failing_on_our_commit_fails_the_release() -> None:
    step = on_flux(release(), kustomization("main@sha1:abc1234def", ready="False"), NOW)
    assert step.release.phase is Phase.FAILED and "health check failed" in (step.outcome or "")


def test_an_older_commit_applied_does_not_count() -> None:
    assert not on_flux(release(), kustomization("main@sha1:0000000"), NOW).changed


def test_the_deployment_rolling_out_then_available_ends_the_release() -> None:
    rolling = on_deployment(release(), deployment("6.6.0", updated=1, available=2, rv="11"), NOW)
    assert rolling.progress == "rolling out: 1 of 3 replicas updated"
    done = on_deployment(rolling.release, deployment("6.6.0", rv="12"), NOW)
    assert done.outcome == "podinfo 6.6.0 available on prod (3/3) in 1m12s"
    assert done.release.phase is Phase.AVAILABLE and not done.release.active


def test_the_old_version_running_is_not_progress() -> None:
    assert not on_deployment(release(), deployment("6.5.1"), NOW).changed


def test_an_older_read_never_moves_a_release_back() -> None:
    rolling = on_deployment(release(), deployment("6.6.0", updated=2, rv="12"), NOW)
    assert not on_deployment(rolling.release, deployment("6.6.0", updated=1, rv="11"), NOW).changed


def test_progress_deadline_exceeded_fails_the_release() -> None:
    stuck = deployment("6.6.0", updated=1)
    stuck["status"]["conditions"] = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "x" has timed out progressing.',
        }
    ]
    step = on_deployment(release(), stuck, NOW)
    assert step.release.phase is Phase.FAILED
    assert (
        step.outcome == 'rollout failed (ProgressDeadlineExceeded): ReplicaSet "x" has timed out progressing.'
    )


def test_a_chart_released_through_its_helmrelease_counts_whatever_the_labels_say() -> None:
    """A chart version need not be the app's version label: the HelmRelease says it was released."""
    charted = release(flux=FluxRef("HelmRelease", "podinfo", "podinfo"), phase=Phase.APPLIED)
    step = on_deployment(charted, deployment("2.0.0-appversion"), NOW)
    assert step.release.phase is Phase.AVAILABLE


def test_the_deadline_times_out_a_release_and_says_where_it_stood() -> None:
    late = release(deadline=NOW - 1, started_at=NOW - 901)
    step = on_deadline(late, NOW)
    assert step.outcome == "timed out after 15 min (Flux had not applied the commit)"
    assert not on_deadline(release(), NOW).changed


def test_runs_reads_the_label_or_the_main_image_tag() -> None:
    labelled = deployment("6.6.0")
    assert runs(labelled, "6.6.0")
    unlabelled = copy.deepcopy(labelled)
    del unlabelled["metadata"]["labels"]
    assert runs(unlabelled, "6.6.0") and not runs(unlabelled, "6.5.1")


# -- the record ----------------------------------------------------------------------------


def record(version: str, at: float, action: str | None = None) -> VersionRecord:
    return VersionRecord(
        "prod",
        "podinfo",
        "podinfo",
        ("podinfo",),
        version,
        at,
        action=action,
        requested_by="U1" if action else "",
    )


def test_a_completed_rollout_at_a_new_version_is_recorded_once() -> None:
    row = deployment_row(deployment("6.6.0"))
    assert became_available(row, None)
    first = record_for("prod", row, NOW, None, first_sight=True)
    assert first.action is None and first.version == "6.6.0"
    assert not became_available(row, first)
    assert not became_available(deployment_row(deployment("6.7.0", updated=1)), first)


def test_a_record_made_before_the_release_was_known_is_credited_to_it() -> None:
    seen = record("6.6.0", NOW - 5)
    credit = credited(release(phase=Phase.AVAILABLE), seen, NOW)
    assert credit is not None and credit.action == "promote" and credit.available_at == seen.available_at
    assert credited(release(), credit, NOW) is None
    lines = history_lines([seen, credit, record("6.5.1", NOW - 3600)], NOW)
    assert [(line.record.version, line.record.action, line.current) for line in lines] == [
        ("6.6.0", "promote", True),
        ("6.5.1", None, False),
    ]
    assert lines[1].ran_for == 3595


def test_the_last_good_version_is_the_newest_other_than_the_current_one() -> None:
    records = [record("6.5.0", NOW - 7200), record("6.5.1", NOW - 3600), record("6.6.0", NOW - 60, "promote")]
    good = last_good(records, "6.6.0")
    assert good is not None and good.version == "6.5.1"
    assert last_good(records, "6.7.0") is not None and last_good([record("6.6.0", NOW)], "6.6.0") is None


def test_who_names_people_by_display_name() -> None:
    made = VersionRecord(
        "prod", "p", "p", ("p",), "1", NOW, "promote", "U1", ("U2",), {"U1": "alice", "U2": "bob"}
    )
    assert who(made) == "promote by alice, approved by bob"
    assert who(record("1", NOW)) == "seen (not through opsbot)"


# -- what people read ----------------------------------------------------------------------


def test_the_live_status_keeps_one_rollout_line() -> None:
    steps = with_step(with_step(with_step((), "committed abc"), "rolling out: 1 of 3"), "rolling out: 2 of 3")
    assert steps == ("committed abc", "rolling out: 2 of 3")
    text = status_text(release(), steps)
    assert "promote podinfo on prod: 6.5.1 → 6.6.0" in str(text.spans)


@pytest.mark.parametrize(
    ("phase", "button"), [(Phase.FAILED, True), (Phase.TIMED_OUT, True), (Phase.AVAILABLE, False)]
)
def test_a_failed_or_timed_out_promotion_offers_a_roll_back(phase: Phase, button: bool) -> None:
    reply = final_reply(release(phase=phase), "rollout failed", ["podinfo-x: CrashLoopBackOff (3 restarts)"])
    assert [b.value for b in reply.buttons if b.action_id.startswith(RUN_PREFIX)] == (
        ["rollback podinfo on prod"] if button else []
    )


def test_records_survive_a_round_trip() -> None:
    made = release(phase=Phase.ROLLING_OUT, steps=("committed abc",), seen={"deployments/p/p": "3"})
    assert Release.from_data(made.to_data()) == made
    version = VersionRecord("prod", "p", "p", ("p", "q"), "1", NOW, "rollback", "U1", ("U2",), {"U1": "a"})
    assert VersionRecord.from_data(version.to_data()) == version


def helmrelease(chart: str, *, ready: str = "True", state: str = "deployed", rv: str = "7") -> dict[str, Any]:
    return {
        "metadata": {"name": "podinfo", "namespace": "podinfo", "generation": 3, "resourceVersion": rv},
        "status": {
            "observedGeneration": 3,
            "history": [{"chartVersion": chart, "status": state}],
            "conditions": [{"type": "Ready", "status": ready, "message": "upgrade failed: timed out"}],
        },
    }


def test_a_helmrelease_releasing_the_chart_is_said_and_a_failed_upgrade_fails() -> None:
    followed = release(flux=FluxRef("HelmRelease", "podinfo", "podinfo"))
    released = on_flux(followed, helmrelease("6.6.0+a1b2c3"), NOW)
    assert released.progress == "Flux released chart 6.6.0 (HelmRelease podinfo/podinfo)"
    failed = on_flux(followed, helmrelease("6.6.0", ready="False", state="failed"), NOW)
    assert failed.release.phase is Phase.FAILED and "upgrade failed" in (failed.outcome or "")
    assert not on_flux(followed, helmrelease("6.5.1"), NOW).changed
