"""What releases keep across restarts (SQLite): one active change per app and cluster, claimed
atomically even by racing threads, and the version record."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.releases.changes import Action
from opsbot.releases.errors import ReleaseBusyError
from opsbot.releases.records import Phase, Release, VersionRecord
from opsbot.releases.service import ReleasesService
from opsbot.releases.settings import ReleasesSettings
from opsbot.store.releases import StoreReleases
from opsbot.store.sqlite import SqliteStore


def release(release_id: str, *, target: str = "podinfo", cluster: str = "prod") -> Release:
    return Release(
        id=release_id,
        action=Action.PROMOTE,
        app=target,
        cluster=cluster,
        namespace=target,
        deployment=target,
        from_version="1",
        to_version="2",
        mode="direct",
        requested_by="U1",
        started_at=0.0,
        deadline=60.0,
    )


def test_one_active_release_per_app_and_cluster_and_it_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "opsbot.db"
    store = StoreReleases(SqliteStore(path))
    assert store.claim_release(release("a")) is None
    holder = store.claim_release(release("b"))
    assert holder is not None and holder.id == "a"
    assert store.claim_release(release("c", cluster="stage")) is None  # another cluster
    assert store.claim_release(release("d", target="web")) is None  # another app
    reopened = StoreReleases(SqliteStore(path))
    assert {r.id for r in reopened.active_releases()} == {"a", "c", "d"}
    reopened.put_release(release("a").moved(Phase.AVAILABLE, "done", finished_at=1.0))
    assert reopened.claim_release(release("b")) is None  # free again once the first ended


def test_version_records_newest_first_by_cluster_and_any_app_name(tmp_path: Path) -> None:
    store = StoreReleases(SqliteStore(tmp_path / "opsbot.db"))
    for at, version, cluster in ((1.0, "1", "prod"), (2.0, "2", "prod"), (3.0, "2", "stage")):
        store.add_version(VersionRecord(cluster, "ns", "podinfo", ("podinfo", "podinfo-chart"), version, at))
    assert [r.version for r in store.versions(app="podinfo-chart", cluster="prod")] == ["2", "1"]
    assert store.versions(app="podinfo-char") == []  # whole names only
    assert {(r.cluster, r.version) for r in store.latest_versions()} == {("prod", "2"), ("stage", "2")}


class SlowKube:
    """A direct delivery that takes a while: long enough for a racing claim to arrive."""

    cluster = "prod"

    def __init__(self) -> None:
        self.patches = 0

    def get_deployment(self, namespace: str, name: str) -> dict[str, object]:
        time.sleep(0.05)
        return {
            "metadata": {"name": name, "namespace": namespace, "labels": {}},
            "spec": {"template": {"spec": {"containers": [{"name": name, "image": f"x/{name}:1"}]}}},
        }

    def set_deployment_image(self, *args: object, **kwargs: object) -> dict[str, object]:
        self.patches += 1
        return {}


def test_racing_approved_changes_of_one_app_make_exactly_one(tmp_path: Path) -> None:
    store = StoreReleases(SqliteStore(tmp_path / "opsbot.db"))
    service = ReleasesService(ReleasesSettings(), store, workdir=tmp_path, environ={})
    kube = SlowKube()
    outcomes: list[str] = []

    def approve(approval: str, version: str) -> None:
        plan = ActionPlan(
            "promote",
            "prod",
            "shop",
            "app",
            "api",
            (),
            {
                "app": "api",
                "version": version,
                "namespace": "shop",
                "deployment": "api",
                "mode": "direct",
                "from": "1",
            },
        )
        try:
            outcomes.append(service.execute(plan, kube, ActionOrigin(approval, "U1")))  # type: ignore[arg-type]
        except ReleaseBusyError as exc:
            outcomes.append(f"busy: {exc}")

    threads = [threading.Thread(target=approve, args=(f"a{n}", f"1.{n}")) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kube.patches == 1
    assert sum(outcome.startswith("busy: api on prod is being changed") for outcome in outcomes) == 3


def test_a_failed_delivery_releases_the_claim_and_changes_nothing(tmp_path: Path) -> None:
    store = StoreReleases(SqliteStore(tmp_path / "opsbot.db"))
    service = ReleasesService(ReleasesSettings(), store, workdir=tmp_path, environ={})
    plan = ActionPlan(
        "promote",
        "prod",
        "shop",
        "app",
        "api",
        (),
        {"app": "api", "version": "bad version", "namespace": "shop", "deployment": "api", "mode": "direct"},
    )
    with pytest.raises(Exception, match="not allowed"):
        service.execute(plan, SlowKube(), None)  # type: ignore[arg-type]
    assert store.active_releases() == []


def test_releases_settings_name_only_configured_clusters() -> None:
    from opsbot.config import parse_settings
    from opsbot.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        parse_settings(
            {
                "clusters": {"prod": {"in_cluster": True}},
                "alerts": {"enabled": False},
                "releases": {
                    "source": "stage",
                    "clusters": {"lab": {"mode": "direct"}},
                    "apps": {"web": {"clusters": {"qa": {"container": "web"}}}},
                },
            }
        )
    assert refused.value.problems == [
        "releases.clusters.lab: not one of clusters",
        "releases.source: 'stage' is not one of clusters",
        "releases.apps.web.clusters.qa: not one of clusters",
    ]
