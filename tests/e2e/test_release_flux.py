"""End to end below the chat: a promotion committed to the GitOps repository is applied by
the test Flux to the right one of two fake clusters, and opsbot reads that it landed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsbot.core.versions import RolloutState, rollout_state, version_of
from opsbot.kube.client import KubeClient
from opsbot.releases.changes import ReleaseChange
from opsbot.releases.credentials import GitCredentials, Secret
from opsbot.releases.git import GitRepository
from opsbot.releases.landing import Landing, helmrelease_landing, kustomization_landing
from opsbot.releases.settings import RepositorySettings
from opsbot.releases.targets import resolve_target
from tests.support import gitops_fixtures as fleet
from tests.support.fake_flux import FakeFlux
from tests.support.fake_kube import FakeKubeServer
from tests.support.git_server import GitServer


@pytest.fixture
def clusters() -> Iterator[dict[str, FakeKubeServer]]:
    servers = {name: FakeKubeServer(bookmark_interval=0.5).start() for name in fleet.CLUSTERS}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def clients(clusters: dict[str, FakeKubeServer]) -> Iterator[dict[str, KubeClient]]:
    made = {name: KubeClient(name, kube.api_client(), timeout=5) for name, kube in clusters.items()}
    yield made
    for client in made.values():
        client.api_client.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    with GitServer(tmp_path / "remote", fleet.files()) as git_server:
        yield git_server


@pytest.fixture
def flux(server: GitServer, clusters: dict[str, FakeKubeServer]) -> Iterator[FakeFlux]:
    fake = FakeFlux(server, clusters)
    fake.install()
    fake.watch()
    yield fake
    fake.stop()
    assert fake.errors == []


@pytest.fixture
def repository(server: GitServer, tmp_path: Path) -> GitRepository:
    token = server.add_user("x-access-token")
    repo = GitRepository(
        "fleet",
        RepositorySettings(url=server.http_url),
        GitCredentials("x-access-token", Secret(token)),
        tmp_path / "clone",
    )
    repo.ensure_clone()
    return repo


def promote(repository: GitRepository, app: str, cluster: str, version: str) -> str:
    resolved = resolve_target(fleet.settings(), app, cluster)
    change = ReleaseChange(app, cluster, version, resolved.target, requested_by="U1", approved_by=("U2",))
    delivered = repository.deliver(change, rule=resolved.rule)
    assert delivered.commit is not None
    return delivered.commit


def test_flux_applies_a_promotion_on_its_cluster_only(
    flux: FakeFlux, repository: GitRepository, clients: dict[str, KubeClient]
) -> None:
    commit = promote(repository, "podinfo", "prod", "6.6.0")
    prod, stage = clients["prod"], clients["stage"]
    assert (
        kustomization_landing(prod.get_flux_kustomization("flux-system", "apps"), commit).landing
        is Landing.APPLIED
    )
    release = prod.get_flux_helmrelease("podinfo", "podinfo")
    assert helmrelease_landing(release, "6.6.0").landing is Landing.APPLIED
    assert [h["status"] for h in release["status"]["history"]] == ["deployed", "superseded"]
    deployment = prod.get_deployment("podinfo", "podinfo")
    assert version_of(deployment) == "6.6.0"
    assert rollout_state(deployment).state is RolloutState.OK
    assert version_of(stage.get_deployment("podinfo", "podinfo")) == "6.5.2"
    assert (
        helmrelease_landing(stage.get_flux_helmrelease("podinfo", "podinfo"), "6.6.0").landing
        is Landing.WAITING
    )


def test_each_layout_reaches_the_running_deployment(
    flux: FakeFlux, repository: GitRepository, clients: dict[str, KubeClient]
) -> None:
    promote(repository, "web", "stage", "1.5.0")
    promote(repository, "worker", "stage", "2.1.0")
    stage = clients["stage"]
    assert version_of(stage.get_deployment("web", "web")) == "1.5.0"
    worker = stage.get_deployment("worker", "worker")
    assert version_of(worker) == "2.1.0"
    images = {c["name"]: c["image"] for c in worker["spec"]["template"]["spec"]["containers"]}
    assert images == {"log-shipper": "fluent/fluent-bit:3.0", "worker": "registry:5000/org/worker:2.1.0"}
    assert version_of(clients["prod"].get_deployment("worker", "worker")) == "1.9.0"


def test_a_rollout_that_sticks_is_reported_failed(
    flux: FakeFlux, repository: GitRepository, clients: dict[str, KubeClient]
) -> None:
    flux.mode["prod"] = "fail-rollout"
    commit = promote(repository, "web", "prod", "1.3.3")
    prod = clients["prod"]
    ks = kustomization_landing(prod.get_flux_kustomization("flux-system", "apps"), commit)
    assert ks.landing is Landing.FAILED and "health check failed" in ks.detail
    rollout = rollout_state(prod.get_deployment("web", "web"))
    assert rollout.state is RolloutState.FAILED and "has timed out progressing" in rollout.detail


def test_a_helm_upgrade_that_fails_is_reported_failed(
    flux: FakeFlux, repository: GitRepository, clients: dict[str, KubeClient]
) -> None:
    flux.mode["stage"] = "fail-rollout"
    promote(repository, "podinfo", "stage", "6.6.0")
    state = helmrelease_landing(clients["stage"].get_flux_helmrelease("podinfo", "podinfo"), "6.6.0")
    assert state.landing is Landing.FAILED and "upgrade failed" in state.detail.lower()


def test_when_flux_never_applies_the_promotion_keeps_waiting(
    flux: FakeFlux, repository: GitRepository, clients: dict[str, KubeClient]
) -> None:
    flux.mode["prod"] = "never"
    commit = promote(repository, "podinfo", "prod", "6.6.0")
    prod = clients["prod"]
    assert (
        kustomization_landing(prod.get_flux_kustomization("flux-system", "apps"), commit).landing
        is Landing.WAITING
    )
    assert version_of(prod.get_deployment("podinfo", "podinfo")) == "6.5.1"
    flux.mode["prod"] = "apply"
    flux.reconcile()
    assert (
        kustomization_landing(prod.get_flux_kustomization("flux-system", "apps"), commit).landing
        is Landing.APPLIED
    )


def test_pushes_over_file_urls_are_picked_up_by_polling(
    flux: FakeFlux, server: GitServer, clusters: dict[str, FakeKubeServer], tmp_path: Path
) -> None:
    repository = GitRepository(
        "fleet", RepositorySettings(url=server.file_url), GitCredentials(), tmp_path / "c2"
    )
    repository.ensure_clone()
    flux.start_polling(interval=0.02)
    promote(repository, "worker", "prod", "1.9.5")
    prod = clusters["prod"]
    prod.wait_for(lambda: version_of(prod.get("deployments", "worker", "worker") or {}) == "1.9.5", timeout=5)
    flux.stop()
