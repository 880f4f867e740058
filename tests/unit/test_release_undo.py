"""`kubectl rollout undo` computed from a Deployment and its ReplicaSets (pure)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from opsbot.releases.errors import NoRolloutHistoryError, PausedDeploymentError, RevisionNotFoundError
from opsbot.releases.undo import (
    HASH_LABEL,
    REVISION,
    UndoPlan,
    UndoSkipped,
    label_selector,
    plan_undo,
    rollout_history,
)

UID = "dep-uid-1"


def template(image: str, *, hash_label: str | None = None) -> dict[str, Any]:
    labels = {"app": "web"}
    if hash_label:
        labels[HASH_LABEL] = hash_label
    return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": image}]}}


def deployment(
    image: str = "web:3", *, paused: bool = False, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": UID,
            "annotations": annotations
            if annotations is not None
            else {
                REVISION: "3",
                "kubectl.kubernetes.io/last-applied-configuration": "{...}",
                "team": "checkout",
            },
        },
        "spec": {"paused": paused, "selector": {"matchLabels": {"app": "web"}}, "template": template(image)},
    }


def replicaset(
    revision: int | None, image: str, *, owner: str = UID, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    annotations = {"deployment.kubernetes.io/desired-replicas": "2", **(extra or {})}
    if revision is not None:
        annotations[REVISION] = str(revision)
    return {
        "metadata": {
            "name": f"web-{image.replace(':', '-')}",
            "annotations": annotations,
            "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": owner, "controller": True}],
        },
        "spec": {"template": template(image, hash_label=f"h{revision}")},
    }


HISTORY = [replicaset(1, "web:1"), replicaset(2, "web:2", extra={"team": "payments"}), replicaset(3, "web:3")]


def test_the_previous_revision_is_picked() -> None:
    plan = plan_undo(deployment(), HISTORY)
    assert isinstance(plan, UndoPlan)
    assert (plan.to_revision, plan.from_version, plan.to_version) == (2, "3", "2")
    assert plan.patch[0]["op"] == "replace" and plan.patch[0]["path"] == "/spec/template"


def test_the_hash_label_is_dropped_from_the_restored_template() -> None:
    plan = plan_undo(deployment(), HISTORY)
    assert isinstance(plan, UndoPlan)
    assert plan.patch[0]["value"] == template("web:2")
    assert HASH_LABEL in HISTORY[1]["spec"]["template"]["metadata"]["labels"], "inputs are not mutated"


def test_annotations_keep_the_deployments_bookkeeping_and_take_the_replicasets_others() -> None:
    plan = plan_undo(deployment(), HISTORY)
    assert isinstance(plan, UndoPlan)
    assert plan.patch[1] == {
        "op": "replace",
        "path": "/metadata/annotations",
        "value": {
            REVISION: "3",
            "kubectl.kubernetes.io/last-applied-configuration": "{...}",
            "team": "payments",
        },
    }


def test_a_given_revision_is_picked() -> None:
    plan = plan_undo(deployment(), HISTORY, to_revision=1)
    assert isinstance(plan, UndoPlan) and plan.to_version == "1"


def test_rolling_back_to_the_current_template_is_skipped() -> None:
    skipped = plan_undo(deployment(), HISTORY, to_revision=3)
    assert skipped == UndoSkipped(3, "web-web-3", "the current template already matches revision 3")


def test_the_previous_revision_equal_to_the_current_template_is_skipped() -> None:
    """When the previous revision's template is what the Deployment already has (its spec
    was set back by hand), kubectl patches nothing: neither do we."""
    skipped = plan_undo(deployment("web:2"), [replicaset(2, "web:2"), replicaset(4, "web:3")])
    assert isinstance(skipped, UndoSkipped) and skipped.to_revision == 2


def test_a_paused_deployment_is_refused() -> None:
    with pytest.raises(PausedDeploymentError, match="kubectl rollout resume"):
        plan_undo(deployment(paused=True), HISTORY)


def test_an_unknown_revision_is_an_error() -> None:
    with pytest.raises(RevisionNotFoundError, match="revision 7"):
        plan_undo(deployment(), HISTORY, to_revision=7)


@pytest.mark.parametrize(
    "replicasets",
    [
        pytest.param([], id="none"),
        pytest.param([replicaset(3, "web:3")], id="only-the-current"),
        pytest.param([replicaset(3, "web:3"), replicaset(2, "web:2", owner="other-uid")], id="other-owner"),
        pytest.param([replicaset(3, "web:3"), replicaset(None, "web:2")], id="no-revision-annotation"),
    ],
)
def test_without_history_there_is_nothing_to_roll_back_to(replicasets: list[dict[str, Any]]) -> None:
    with pytest.raises(NoRolloutHistoryError):
        plan_undo(deployment(), replicasets)


def test_replicasets_of_another_deployment_with_the_same_labels_are_ignored() -> None:
    foreign = replicaset(5, "web:9", owner="someone-else")
    plan = plan_undo(deployment(), [*HISTORY, foreign])
    assert isinstance(plan, UndoPlan) and plan.to_revision == 2


def test_order_of_replicasets_does_not_matter() -> None:
    plan = plan_undo(deployment(), list(reversed(copy.deepcopy(HISTORY))))
    assert isinstance(plan, UndoPlan) and plan.to_revision == 2


def test_rollout_history_is_newest_first_and_marks_the_current() -> None:
    entries = rollout_history(deployment(), HISTORY)
    assert [(e.number, e.version, e.current) for e in entries] == [
        (3, "3", True),
        (2, "2", False),
        (1, "1", False),
    ]


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        pytest.param({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2", id="labels-sorted"),
        pytest.param(
            {
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["web", "api"]},
                    {"key": "env", "operator": "NotIn", "values": ["dev"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "team", "operator": "Exists"},
                ]
            },
            "tier in (api,web),env notin (dev),!canary,team",
            id="expressions",
        ),
        pytest.param(None, "", id="none"),
    ],
)
def test_label_selector(selector: Any, text: str) -> None:
    assert label_selector(selector) == text
