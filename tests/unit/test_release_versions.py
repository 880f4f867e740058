"""App identity, version and rollout state read from a Deployment (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from opsbot.core.versions import (
    ImageRef,
    RolloutState,
    app_names,
    main_container,
    parse_image,
    rollout_state,
    short_digest,
    version_of,
)

DIGEST = "sha256:" + "abcdef1" + "0" * 57


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("nginx", ImageRef("", "nginx"), id="bare-name-latest"),
        pytest.param("nginx:1.27", ImageRef("", "nginx", "1.27"), id="name-tag"),
        pytest.param("org/app:1.2", ImageRef("", "org/app", "1.2"), id="org-no-registry"),
        pytest.param(
            "ghcr.io/org/app:v1.2.3", ImageRef("ghcr.io", "org/app", "v1.2.3"), id="registry-with-dot"
        ),
        pytest.param(
            "registry:5000/org/app:1.2", ImageRef("registry:5000", "org/app", "1.2"), id="registry-port"
        ),
        pytest.param(
            "registry:5000/org/app", ImageRef("registry:5000", "org/app"), id="registry-port-no-tag"
        ),
        pytest.param("localhost/app:dev", ImageRef("localhost", "app", "dev"), id="localhost"),
        pytest.param(f"app@{DIGEST}", ImageRef("", "app", None, DIGEST), id="digest-only"),
        pytest.param(
            f"ghcr.io/org/app:1.2@{DIGEST}",
            ImageRef("ghcr.io", "org/app", "1.2", DIGEST),
            id="tag-and-digest",
        ),
    ],
)
def test_image_references_are_split_into_their_parts(text: str, expected: ImageRef) -> None:
    assert parse_image(text) == expected
    assert str(parse_image(text)) == text


@pytest.mark.parametrize(
    ("text", "version"),
    [
        pytest.param("nginx", "latest", id="implicit-latest"),
        pytest.param("registry:5000/org/app:1.2", "1.2", id="tag"),
        pytest.param(f"app@{DIGEST}", "abcdef1", id="short-digest"),
        pytest.param(f"app:2.0@{DIGEST}", "2.0", id="tag-wins-over-digest"),
    ],
)
def test_the_version_of_an_image_is_its_tag_else_a_short_digest(text: str, version: str) -> None:
    assert parse_image(text).version == version


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("Org/App:1", id="uppercase-repository"),
        pytest.param("app:bad tag", id="space"),
        pytest.param("app@sha256:xyz", id="bad-digest"),
        pytest.param("app:", id="empty-tag"),
    ],
)
def test_invalid_references_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_image(text)


def test_with_tag_keeps_the_registry_port_and_drops_the_digest() -> None:
    ref = parse_image(f"registry:5000/org/app:1.2@{DIGEST}")
    assert ref.with_tag("1.3") == "registry:5000/org/app:1.3"


def test_short_digest() -> None:
    assert short_digest("sha256:abcdef1234") == "abcdef1"


def deployment(
    name: str = "web",
    *,
    labels: dict[str, str] | None = None,
    containers: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": n, "image": i}
                        for n, i in (containers if containers is not None else [("web", "web:1.0")])
                    ]
                }
            }
        },
    }


def test_app_names_come_from_name_and_recommended_labels() -> None:
    dep = deployment(
        "podinfo-frontend",
        labels={"app.kubernetes.io/name": "podinfo", "app.kubernetes.io/instance": "podinfo-frontend"},
    )
    assert app_names(dep) == ("podinfo-frontend", "podinfo")


@pytest.mark.parametrize(
    ("dep", "version"),
    [
        pytest.param(
            deployment(labels={"app.kubernetes.io/version": "3.1.0"}, containers=[("web", "web:9")]),
            "3.1.0",
            id="version-label-wins",
        ),
        pytest.param(
            deployment(containers=[("istio-proxy", "istio/proxyv2:1.22"), ("web", "web:2.0")]),
            "2.0",
            id="container-named-like-the-app",
        ),
        pytest.param(
            deployment(
                labels={"app.kubernetes.io/name": "api"},
                containers=[("envoy", "envoy:1.30"), ("api", "api:4.2")],
            ),
            "4.2",
            id="container-named-like-the-name-label",
        ),
        pytest.param(deployment(containers=[("main", "app:7"), ("side", "s:1")]), "7", id="else-the-first"),
        pytest.param(deployment(containers=[("web", f"web@{DIGEST}")]), "abcdef1", id="digest"),
        pytest.param(deployment(containers=[]), None, id="no-containers"),
    ],
)
def test_version_of_a_deployment(dep: dict[str, Any], version: str | None) -> None:
    assert version_of(dep) == version


def test_main_container_is_none_without_containers() -> None:
    assert main_container(deployment(containers=[])) is None


def rolled(
    *,
    generation: int = 2,
    observed: int = 2,
    desired: int = 3,
    replicas: int = 3,
    updated: int = 3,
    available: int = 3,
    progressing: tuple[str, str] = ("True", "NewReplicaSetAvailable"),
    paused: bool = False,
) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": desired, "paused": paused},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": [
                {"type": "Available", "status": "True"},
                {"type": "Progressing", "status": progressing[0], "reason": progressing[1], "message": "m"},
            ],
        },
    }


@pytest.mark.parametrize(
    ("dep", "state"),
    [
        pytest.param(rolled(), RolloutState.OK, id="complete"),
        pytest.param(rolled(observed=1), RolloutState.ROLLING_OUT, id="generation-not-observed"),
        pytest.param(
            rolled(updated=1, replicas=4, progressing=("True", "ReplicaSetUpdated")),
            RolloutState.ROLLING_OUT,
            id="updating",
        ),
        pytest.param(
            rolled(replicas=4, progressing=("True", "ReplicaSetUpdated")),
            RolloutState.ROLLING_OUT,
            id="old-replicas-left",
        ),
        pytest.param(
            rolled(available=2, progressing=("True", "ReplicaSetUpdated")),
            RolloutState.ROLLING_OUT,
            id="waiting-for-availability",
        ),
        pytest.param(rolled(available=1), RolloutState.DEGRADED, id="completed-then-lost-availability"),
        pytest.param(
            rolled(updated=1, replicas=4, progressing=("False", "ProgressDeadlineExceeded")),
            RolloutState.FAILED,
            id="progress-deadline-exceeded",
        ),
        pytest.param(
            rolled(updated=1, replicas=4, progressing=("Unknown", "DeploymentPaused"), paused=True),
            RolloutState.ROLLING_OUT,
            id="paused-mid-rollout",
        ),
        pytest.param(
            rolled(desired=0, replicas=0, updated=0, available=0), RolloutState.OK, id="scaled-to-zero"
        ),
    ],
)
def test_rollout_state(dep: dict[str, Any], state: RolloutState) -> None:
    assert rollout_state(dep).state is state
