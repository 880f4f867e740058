"""Command caches: what the watches keep as rows, and which asks they may answer."""

from __future__ import annotations

from typing import Any

import orjson

from opsbot.core.resources import ResourceName
from opsbot.core.rows import PodRow
from opsbot.kube.rows import WatchedRows
from opsbot.kube.watch import WatchCache
from tests.support.fake_kube import builders
from tests.support.fake_kube.builders import crashloop_status, pod


def line(kind: str, obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": kind, "object": obj})


def with_uid(obj: dict[str, Any], uid: str, rv: str) -> dict[str, Any]:
    obj["metadata"]["uid"] = uid
    obj["metadata"]["resourceVersion"] = rv
    return obj


def test_the_cache_keeps_one_row_per_pod_and_follows_changes_and_deletes() -> None:
    cache = WatchCache("prod", "pods")
    cache.apply_line(line("ADDED", with_uid(pod("api-1", "web", labels={"app": "api"}), "u1", "1")))
    cache.apply_line(line("ADDED", with_uid(pod("api-2", "web"), "u2", "2")))
    crashing = with_uid(pod("api-1", "web", labels={"app": "api"}), "u1", "3")
    crashing["status"] = crashloop_status(crashing, "app", restarts=4)
    cache.apply_line(line("MODIFIED", crashing))
    rows = {row.name: row for row in cache.rows() if isinstance(row, PodRow)}
    assert rows["api-1"].status == "CrashLoopBackOff" and rows["api-1"].restarts == 4
    assert not rows["api-1"].healthy and rows["api-2"].healthy
    assert rows["api-1"].labels == {"app": "api"}
    cache.apply_line(line("DELETED", with_uid(pod("api-2", "web"), "u2", "4")))
    assert [row[1] for row in cache.rows()] == ["api-1"]


def test_a_relist_drops_the_rows_of_pods_that_vanished() -> None:
    cache = WatchCache("prod", "pods")
    seen: set[str] = set()
    cache.reconcile_page(
        {"items": [with_uid(pod("a", "web"), "ua", "1"), with_uid(pod("b", "web"), "ub", "1")]},
        seen,
        relist=False,
    )
    cache.reconcile_end(seen, "5", relist=False)
    seen = set()
    cache.reconcile_page({"items": [with_uid(pod("a", "web"), "ua", "1")]}, seen, relist=True)
    cache.reconcile_end(seen, "9", relist=True)
    assert [row[1] for row in cache.rows()] == ["a"]


class Watch:
    def __init__(
        self, resource: ResourceName, namespace: str | None, rows: list[Any], current: bool = True
    ) -> None:
        self.cluster = "prod"
        self.resource = resource
        self.namespace = namespace
        self.current = current
        self.down_since: float | None = None
        self._rows = rows

    def rows(self) -> list[Any]:
        return self._rows


def pod_rows(*names: tuple[str, str]) -> list[Any]:
    return [
        PodRow(ns, name, {"app": name.split("-")[0]}, "n", "Running", True, "1/1", "Running", 0, None, None)
        for ns, name in names
    ]


def test_an_all_namespace_watch_answers_any_namespace_and_filters_by_selector() -> None:
    rows = WatchedRows()
    rows.add([Watch("pods", None, pod_rows(("web", "api-1"), ("web", "db-1"), ("pay", "api-2")))])
    web = rows.pod_rows("prod", "web", None)
    assert web is not None and [row.name for row in web] == ["api-1", "db-1"]
    api = rows.pod_rows("prod", None, "app=api")
    assert api is not None and [row.name for row in api] == ["api-1", "api-2"]
    assert rows.pod_rows("other-cluster", "web", None) is None


def test_a_namespaced_watch_answers_only_its_namespace() -> None:
    rows = WatchedRows()
    rows.add([Watch("pods", "web", pod_rows(("web", "api-1")))])
    assert rows.pod_rows("prod", "web", None) is not None
    assert rows.pod_rows("prod", "pay", None) is None
    assert rows.pod_rows("prod", None, None) is None  # -A: no watch sees every namespace


def test_a_watch_that_is_not_current_answers_nothing() -> None:
    """Listing, backing off after a drop, forbidden: its cache may be stale, so list live."""
    rows = WatchedRows()
    rows.add([Watch("pods", None, pod_rows(("web", "api-1")), current=False)])
    assert rows.pod_rows("prod", "web", None) is None
    assert rows.missed == 1 and rows.served == 0


def test_what_opsbot_never_reads_is_neither_cached_nor_handed_on() -> None:
    nodes = WatchCache("prod", "nodes")
    added = nodes.apply_line(line("ADDED", with_uid(builders.node("node-1"), "n1", "1")))
    assert added is not None and added.obj is not None
    cached = nodes.get("n1")
    assert cached is not None
    for kept in (added.obj, cached):
        assert "images" not in kept["status"] and "managedFields" not in kept["metadata"]
        assert kept["status"]["conditions"] and kept["status"]["nodeInfo"]["kubeletVersion"] == "v1.36.0"
    pods = WatchCache("prod", "pods")
    first = pods.apply_line(line("ADDED", with_uid(pod("api-1", "web"), "u1", "1")))
    assert first is not None and first.obj is not None
    (container,) = first.obj["status"]["containerStatuses"]
    assert not {"resources", "allocatedResources", "user", "volumeMounts"} & set(container)
    assert container["state"] and container["restartCount"] == 0 and container["imageID"]
    # Dropped alike from the cache and the events: an unchanged status compares equal to `old`.
    again = pods.apply_line(line("MODIFIED", with_uid(pod("api-1", "web"), "u1", "2")))
    assert again is not None and again.old is not None and again.obj is not None
    assert again.old["status"] == again.obj["status"]


def test_rows_share_what_repeats() -> None:
    cache = WatchCache("prod", "pods")
    for index in range(3):
        cache.apply_line(line("ADDED", with_uid(pod(f"api-{index}", "web", labels={"app": "api"}), f"u{index}", "1")))
    rows = [row for row in cache.rows() if isinstance(row, PodRow)]
    assert len({id(row.labels) for row in rows}) == 1 and rows[0].labels == {"app": "api"}
    assert len({id(row.namespace) for row in rows}) == 1 and len({id(row.status) for row in rows}) == 1


def test_a_resync_emits_every_object_as_news_and_keeps_the_rows_of_those_still_there() -> None:
    """What a new alert leader's relist sees: every pod ADDED with no old version, then
    SYNCED; command rows stay meanwhile, and the row of a pod gone since is dropped."""
    cache = WatchCache("prod", "pods")
    cache.reconcile_page({"items": [with_uid(pod("api-1", "web"), "u1", "1"), with_uid(pod("api-2", "web"), "u2", "2")]}, set(), relist=False)
    cache.reconcile_end({"u1", "u2"}, "2", relist=False)
    cache.forget()
    assert sorted(row[1] for row in cache.rows()) == ["api-1", "api-2"]  # commands still see them
    seen: set[str] = set()
    events = cache.reconcile_page({"items": [with_uid(pod("api-1", "web"), "u1", "1")]}, seen, relist=True)
    events += cache.reconcile_end(seen, "3", relist=True)
    assert [(e.type, e.old) for e in events] == [("ADDED", None), ("SYNCED", None)]
    assert [row[1] for row in cache.rows()] == ["api-1"]
