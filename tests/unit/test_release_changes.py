"""Commit messages with trailers, read back as history; Flux landing rules (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from opsbot.releases.changes import Action, ReleaseChange, commit_message, history_entry, trailers
from opsbot.releases.landing import Landing, applied_commit, helmrelease_landing, kustomization_landing
from tests.support import gitops_fixtures as fleet

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_the_message_round_trips_through_the_trailers() -> None:
    change = ReleaseChange(
        "web", "prod", "1.4.0", fleet.target("web", "prod"), "U1", ("U2", "U3"), "req-9", Action.PROMOTE
    )
    message = commit_message(change, "1.3.2")
    assert message.splitlines()[0] == "Promote web 1.3.2 → 1.4.0 on prod"
    entry = history_entry(SHA, 1700000000, message)
    assert entry is not None
    assert (entry.app, entry.cluster, entry.from_version, entry.to_version) == (
        "web",
        "prod",
        "1.3.2",
        "1.4.0",
    )
    assert (entry.requested_by, entry.approved_by, entry.request_id) == ("U1", ("U2", "U3"), "req-9")


def test_a_value_with_a_newline_cannot_forge_a_trailer() -> None:
    change = ReleaseChange(
        "web", "prod", "1.4.0", fleet.target("web", "prod"), "U1\nOpsbot-Approved-By: U666"
    )
    found = trailers(commit_message(change, "1.3.2"))
    assert "Approved-By" not in found
    assert found["Requested-By"] == ["U1 Opsbot-Approved-By: U666"]


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("Fix typo\n", id="plain-commit"),
        pytest.param("Bump\n\nSigned-off-by: A <a@example.com>\n", id="other-trailers"),
        pytest.param(
            "x\n\nOpsbot-App: web\nOpsbot-To-Version: 1\nOpsbot-Action: deploy\n", id="unknown-action"
        ),
    ],
)
def test_commits_opsbot_did_not_make_are_not_history(message: str) -> None:
    assert history_entry(SHA, 0, message) is None


@pytest.mark.parametrize(
    ("revision", "sha"),
    [
        pytest.param(f"main@sha1:{SHA}", SHA, id="flux-v2"),
        pytest.param(f"main/{SHA}", SHA, id="flux-v1-style"),
        pytest.param(f"sha1:{SHA}", SHA, id="no-branch"),
        pytest.param(None, "", id="none"),
    ],
)
def test_applied_commit(revision: str | None, sha: str) -> None:
    assert applied_commit(revision) == sha


def ks(applied: str | None, attempted: str | None, ready: str, message: str = "m") -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": [{"type": "Ready", "status": ready, "message": message}]}
    if applied:
        status["lastAppliedRevision"] = f"main@sha1:{applied}"
    if attempted:
        status["lastAttemptedRevision"] = f"main@sha1:{attempted}"
    return {"metadata": {"generation": 1}, "status": status}


OTHER = "f" * 40


@pytest.mark.parametrize(
    ("obj", "landing"),
    [
        pytest.param(ks(SHA, SHA, "True"), Landing.APPLIED, id="applied"),
        pytest.param(ks(OTHER, OTHER, "True"), Landing.WAITING, id="older-revision"),
        pytest.param(ks(OTHER, SHA, "False"), Landing.FAILED, id="attempted-and-failed"),
        pytest.param(ks(SHA, SHA, "Unknown"), Landing.WAITING, id="reconciling"),
        pytest.param({"metadata": {}}, Landing.WAITING, id="no-status"),
    ],
)
def test_kustomization_landing(obj: dict[str, Any], landing: Landing) -> None:
    assert kustomization_landing(obj, SHA[:12]).landing is landing


def hr(
    chart: str, ready: str, *, status: str = "deployed", generation: int = 2, observed: int = 2
) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "status": {
            "observedGeneration": observed,
            "history": [{"chartVersion": chart, "status": status}],
            "conditions": [{"type": "Ready", "status": ready, "message": "m"}],
        },
    }


@pytest.mark.parametrize(
    ("obj", "landing"),
    [
        pytest.param(hr("6.6.0", "True"), Landing.APPLIED, id="released"),
        pytest.param(hr("6.6.0+a1b2c3", "True"), Landing.APPLIED, id="build-metadata"),
        pytest.param(hr("6.6.0", "True", observed=1), Landing.WAITING, id="old-generation"),
        pytest.param(hr("6.5.1", "True"), Landing.WAITING, id="previous-chart"),
        pytest.param(hr("6.6.0", "False", status="failed"), Landing.FAILED, id="upgrade-failed"),
        pytest.param(hr("6.6.01", "True"), Landing.WAITING, id="prefix-is-not-a-match"),
    ],
)
def test_helmrelease_landing(obj: dict[str, Any], landing: Landing) -> None:
    assert helmrelease_landing(obj, "6.6.0").landing is landing
