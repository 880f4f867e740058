"""opsbot.kube.watch through the real ``kubernetes`` client against the fake API server.

Events are awaited through a queue with timeouts. "No duplicate" is checked with a
sentinel: after the expected events, one more change is made, and the next event
must be exactly that change.
"""

from __future__ import annotations

import asyncio
import base64
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kubernetes.client import ApiClient
from structlog.testing import capture_logs

from opsbot.core.resources import ResourceName
from opsbot.kube.watch import (
    LineSplitter,
    ResourceWatch,
    WatchCache,
    WatchEvent,
    WatchExpired,
    WatchRunner,
    bridge,
)
from opsbot.kube.watch.runner import Handoff
from tests.support.fake_kube import FakeKubeServer, RecordedRequest, builders

NS = "web"
PODS_PATH = f"/api/v1/namespaces/{NS}/pods"


class Events:
    """The emit callback: a thread-safe queue of WatchEvents."""

    def __init__(self) -> None:
        self.queue: queue.Queue[WatchEvent] = queue.Queue()

    def __call__(self, event: WatchEvent) -> None:
        self.queue.put(event)

    def next(self, timeout: float = 5.0) -> WatchEvent:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no watch event within {timeout} s") from None

    def take(self, n: int, timeout: float = 5.0) -> list[WatchEvent]:
        return [self.next(timeout) for _ in range(n)]

    def until_synced(self, timeout: float = 5.0) -> list[WatchEvent]:
        """Events up to and including the next SYNCED."""
        seen: list[WatchEvent] = []
        while True:
            event = self.next(timeout)
            seen.append(event)
            if event.type == "SYNCED":
                return seen


def name(event: WatchEvent) -> str:
    assert event.obj is not None
    return str(event.obj["metadata"]["name"])


def summary(events: list[WatchEvent]) -> list[tuple[str, str | None, bool]]:
    return [(e.type, name(e) if e.obj is not None else None, e.relist) for e in events]


def restarts(event: WatchEvent | dict[str, Any]) -> int:
    obj = event.obj if isinstance(event, WatchEvent) else event
    assert obj is not None
    return int(obj["status"]["containerStatuses"][0]["restartCount"])


@pytest.fixture
def server() -> Iterator[FakeKubeServer]:
    """No periodic bookmarks: every line on a stream is one the test caused."""
    fake = FakeKubeServer(bookmark_interval=0).start()
    fake.add_namespace(NS)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def api(server: FakeKubeServer) -> Iterator[ApiClient]:
    client = server.api_client()
    try:
        yield client
    finally:
        client.close()


def add_pods(server: FakeKubeServer, *names: str) -> None:
    for pod_name in names:
        server.create(builders.pod(pod_name, NS))


def crash(server: FakeKubeServer, pod_name: str, restarts: int = 3) -> dict[str, Any]:
    pod = server.get("pods", NS, pod_name)
    assert pod is not None
    return server.apply_status("pods", NS, pod_name, builders.crashloop_status(pod, restarts=restarts))


def pod_requests(server: FakeKubeServer, *, watch: bool | None = None) -> list[RecordedRequest]:
    found = [r for r in server.requests if r.path == PODS_PATH]
    if watch is None:
        return found
    return [r for r in found if (r.query.get("watch") == ["true"]) == watch]


@contextmanager
def watching(
    api: ApiClient, resource: ResourceName = "pods", namespace: str | None = NS, **options: Any
) -> Iterator[tuple[ResourceWatch, WatchRunner, Events]]:
    events = Events()
    options.setdefault("backoff_max", 2.0)
    options.setdefault("backoff_base", 0.1)  # tests that measure backoff set their own
    watch = ResourceWatch(api, "test", resource, namespace, events, stop=threading.Event(), **options)
    runner = WatchRunner([watch])
    runner.start()
    try:
        yield watch, runner, events
    finally:
        runner.stop(timeout=5.0)


def hold_watch_requests(server: FakeKubeServer, seconds: float) -> Callable[[], None]:
    """Delay requests to the pods path (the next re-watch) so changes happen while no watch is open."""
    server.delay(PODS_PATH + "$", seconds)
    return lambda: server.delay(PODS_PATH + "$", 0)


# ---------------------------------------------------------------- list, live changes


def test_initial_list_emits_added_for_each_object_then_synced(server: FakeKubeServer, api: ApiClient) -> None:
    """Paginated list (limit/continue); managedFields and last-applied are not passed on."""
    add_pods(server, "a", "b", "c", "d", "e")
    server.create(builders.pod("elsewhere", "other"))
    noisy = builders.pod(
        "f", NS, annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}", "x": "1"}
    )
    noisy["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Update"}]
    server.create(noisy)

    with watching(api, page_size=2) as (watch, _runner, events):
        synced = events.until_synced()
        assert summary(synced) == [("ADDED", n, False) for n in "abcdef"] + [("SYNCED", None, False)]
        assert all(e.old is None and e.cluster == "test" and e.resource == "pods" for e in synced)
        f = synced[5].obj
        assert f is not None
        assert f["kind"] == "Pod" and f["apiVersion"] == "v1"
        assert "managedFields" not in f["metadata"]
        assert f["metadata"]["annotations"] == {"x": "1"}
        server.wait_for_watches(1)

    lists = pod_requests(server, watch=False)
    assert [r.query.get("limit") for r in lists] == [["2"]] * 3
    assert "continue" not in lists[0].query and all("continue" in r.query for r in lists[1:])
    (first_watch,) = pod_requests(server, watch=True)
    assert first_watch.query["resourceVersion"] == [synced_rv(lists)] == [watch.resource_version]
    assert first_watch.query["allowWatchBookmarks"] == ["true"]
    assert first_watch.query["timeoutSeconds"] == ["300"]


def synced_rv(lists: list[RecordedRequest]) -> str:
    """The resourceVersion the list answered with (its continue token encodes it)."""
    token = lists[-1].query["continue"][0]
    data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return str(data["rv"])


def test_live_changes_arrive_with_the_previous_version_as_old(server: FakeKubeServer, api: ApiClient) -> None:
    add_pods(server, "api-0")
    with watching(api) as (_watch, _runner, events):
        events.until_synced()
        server.wait_for_watches(1)

        crash(server, "api-0", restarts=3)
        modified = events.next()
        assert modified.type == "MODIFIED" and not modified.relist
        assert modified.old is not None and restarts(modified.old) == 0
        assert restarts(modified) == 3

        crash(server, "api-0", restarts=4)
        again = events.next()
        assert again.old is not None and restarts(again.old) == 3 and restarts(again) == 4

        add_pods(server, "api-1")
        added = events.next()
        assert (added.type, name(added), added.old) == ("ADDED", "api-1", None)

        server.delete("pods", NS, "api-0")  # graceful: deletionTimestamp first, then gone
        terminating, deleted = events.take(2)
        assert terminating.type == "MODIFIED" and terminating.obj is not None
        assert "deletionTimestamp" in terminating.obj["metadata"]
        assert deleted.type == "DELETED" and name(deleted) == "api-0"
        assert deleted.old is not None and "deletionTimestamp" in deleted.old["metadata"]


# ---------------------------------------------------------------- resume, relist


def test_dropped_stream_resumes_from_last_resource_version(server: FakeKubeServer, api: ApiClient) -> None:
    """No relist, nothing missed, nothing twice."""
    add_pods(server, "a", "b", "c")
    with watching(api) as (watch, _runner, events):
        events.until_synced()
        server.wait_for_watches(1)
        crash(server, "a")
        assert name(events.next()) == "a"
        last_seen = watch.resource_version

        release = hold_watch_requests(server, 0.5)
        server.drop_watches()
        server.wait_for_watches(0)
        crash(server, "b")  # while no watch is open
        server.delete("pods", NS, "c")
        release()

        resumed = events.take(3)
        assert summary(resumed) == [
            ("MODIFIED", "b", False),
            ("MODIFIED", "c", False),
            ("DELETED", "c", False),
        ]
        crash(server, "a", restarts=9)  # sentinel: the next event is this one, nothing repeated before it
        sentinel = events.next()
        assert name(sentinel) == "a" and restarts(sentinel) == 9

    watches = pod_requests(server, watch=True)
    assert len(watches) == 2
    assert watches[1].query["resourceVersion"] == [last_seen]
    assert len(pod_requests(server, watch=False)) == 1  # never relisted
    assert watch.health.relists == 0 and watch.health.gone == 0


def test_stream_ended_by_timeout_rewatches_without_relisting(server: FakeKubeServer, api: ApiClient) -> None:
    add_pods(server, "a")
    with watching(api, timeout_seconds=1) as (watch, _runner, events):
        events.until_synced()
        server.wait_for(lambda: len(pod_requests(server, watch=True)) >= 2, timeout=5)
        crash(server, "a")
        event = events.next()
        assert event.type == "MODIFIED" and not event.relist
        assert len(pod_requests(server, watch=False)) == 1
        assert watch.health.failures == 0


@pytest.mark.parametrize("gone_as_http_status", [False, True], ids=["error-event", "http-status"])
def test_compaction_relists_and_emits_only_what_changed(gone_as_http_status: bool) -> None:
    server = FakeKubeServer(bookmark_interval=0, gone_as_http_status=gone_as_http_status).start()
    try:
        server.add_namespace(NS)
        add_pods(server, "keep-1", "keep-2", "changed", "removed")
        api = server.api_client()
        with watching(api) as (watch, _runner, events):
            events.until_synced()
            server.wait_for_watches(1)
            release = hold_watch_requests(server, 0.5)
            server.drop_watches()
            server.wait_for_watches(0)
            crash(server, "changed")
            server.delete("pods", NS, "removed")
            add_pods(server, "new")
            server.compact()  # the resume resourceVersion is gone now
            release()

            relisted = events.until_synced()
            assert sorted(summary(relisted)) == [
                ("ADDED", "new", True),
                ("DELETED", "removed", True),
                ("MODIFIED", "changed", True),
                ("SYNCED", None, True),
            ]
            by_name = {name(e): e for e in relisted if e.obj is not None}
            changed = by_name["changed"]
            assert changed.old is not None and restarts(changed.old) == 0 and restarts(changed) == 3
            assert by_name["new"].old is None
            removed = by_name["removed"]
            assert removed.old is not None and removed.obj == removed.old

            crash(server, "keep-1")  # sentinel: live again, from the relist's resourceVersion
            live = events.next()
            assert (live.type, name(live), live.relist) == ("MODIFIED", "keep-1", False)

        health = watch.health
        assert (health.gone, health.relists) == (1, 1)
        watches = pod_requests(server, watch=True)
        assert watches[1].status == (410 if gone_as_http_status else 200)
        assert len(pod_requests(server, watch=False)) == 2
        api.close()
    finally:
        server.stop()


def test_bookmark_moves_the_resume_point_past_a_compaction(server: FakeKubeServer, api: ApiClient) -> None:
    add_pods(server, "a")
    with watching(api) as (watch, _runner, events):
        events.until_synced()
        server.wait_for_watches(1)
        listed_rv = watch.resource_version
        server.add_node("node-9")  # other resources move the global resourceVersion
        server.add_namespace("unrelated")
        bookmark_rv = server.resource_version
        assert bookmark_rv != listed_rv

        server.send_bookmarks()
        server.wait_for(lambda: watch.resource_version == bookmark_rv)
        assert events.queue.empty()  # bookmarks emit nothing
        server.compact()
        server.drop_watches()

        server.wait_for(lambda: len(pod_requests(server, watch=True)) == 2)
        crash(server, "a")
        event = events.next()
        assert (event.type, event.relist) == ("MODIFIED", False)

    watches = pod_requests(server, watch=True)
    assert watches[1].query["resourceVersion"] == [bookmark_rv]
    assert watches[1].status == 200
    assert watch.health.gone == 0 and len(pod_requests(server, watch=False)) == 1


def test_a_resync_keeps_serving_the_rows_while_it_relists(server: FakeKubeServer, api: ApiClient) -> None:
    """A new alert leader relists its watches (resync): the rows stay and are still served, so
    commands meanwhile need not list live (measured with bench.replicas: 20 `pods -A` /
    `status -A` listing 10,000 pods live during the leader's relist, +25 MiB resident)."""
    add_pods(server, "a", "b", "c")
    events = Events()
    current: list[tuple[str, bool]] = []  # the watch's `current` as each event is handed on

    def emit(event: WatchEvent) -> None:
        current.append((event.type, watch.current))
        events(event)

    watch = ResourceWatch(api, "test", "pods", NS, emit, stop=threading.Event(), page_size=1)
    runner = WatchRunner([watch])
    runner.start()
    try:
        events.until_synced()
        assert current == [("ADDED", False)] * 3 + [("SYNCED", False)]  # not before the first list
        server.wait_for_watches(1)
        assert watch.current
        current.clear()
        watch.resync()
        assert [e.type for e in events.until_synced()] == ["ADDED"] * 3 + ["SYNCED"]
        assert current == [("ADDED", True)] * 3 + [("SYNCED", True)]  # while the state says "listing"
        server.wait_for(lambda: watch.health.state == "watching")
        assert watch.current and sorted(row[1] for row in watch.rows()) == ["a", "b", "c"]
    finally:
        runner.stop(timeout=5.0)


# ---------------------------------------------------------------- refusals and outages


@pytest.mark.parametrize("verbs", [("list", "watch"), ("watch",)], ids=["list", "watch"])
def test_forbidden_emits_one_event_and_ends_the_watch(
    server: FakeKubeServer, api: ApiClient, verbs: tuple[str, ...]
) -> None:
    add_pods(server, "a")
    server.deny(list(verbs), "pods", namespace=NS)
    with capture_logs() as logs, watching(api) as (watch, runner, events):
        got: list[WatchEvent] = []
        while not got or got[-1].type != "FORBIDDEN":
            got.append(events.next())
        expected = [] if "list" in verbs else [("ADDED", "a", False), ("SYNCED", None, False)]
        assert summary(got) == [*expected, ("FORBIDDEN", None, False)]
        server.wait_for(lambda: runner.alive == 0)
        assert watch.health.state == "forbidden" and watch.finished
        requests_then = len(pod_requests(server))
        assert requests_then == (1 if "list" in verbs else 2)
        assert events.queue.empty()

    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert len(errors) == 1
    assert "forbidden" in errors[0]["event"] and "Role" in errors[0]["event"]
    assert errors[0]["namespace"] == NS and errors[0]["resource"] == "pods"
    assert len(pod_requests(server)) == requests_then


def test_recovers_after_the_api_server_comes_back_with_backoff(
    server: FakeKubeServer, api: ApiClient
) -> None:
    add_pods(server, "a", "b")
    with capture_logs() as logs, watching(api, backoff_base=0.5, backoff_max=2.0) as (watch, _runner, events):
        events.until_synced()
        server.wait_for_watches(1)

        server.pause()
        crash(server, "a")  # while the API server is down
        time.sleep(2.0)  # the outage itself
        failures_during_outage = watch.health.failures
        server.resume()
        crash(server, "b")  # after it is back

        back = events.take(2, timeout=10)
        assert summary(back) == [("MODIFIED", "a", False), ("MODIFIED", "b", False)]
        crash(server, "a", restarts=9)  # sentinel
        assert restarts(events.next()) == 9

    assert 1 <= failures_during_outage <= 5
    attempts = [entry["attempt"] for entry in logs if entry["log_level"] == "warning" and "attempt" in entry]
    assert attempts[:failures_during_outage] == list(range(1, failures_during_outage + 1))
    assert len(pod_requests(server, watch=False)) == 1  # history survived: resumed, not relisted


def test_stop_returns_quickly_while_the_stream_is_idle(server: FakeKubeServer, api: ApiClient) -> None:
    with watching(api) as (watch, runner, events):
        events.until_synced()
        server.wait_for_watches(1)
        runner.stop(timeout=5.0)
        # Within its timeout the idle stream was interrupted (not left running in its thread).
        assert runner.alive == 0 and watch.health.state == "stopped"
        server.wait_for_watches(0)


def test_setting_the_stop_event_alone_also_ends_an_idle_stream(
    server: FakeKubeServer, api: ApiClient
) -> None:
    with watching(api) as (watch, runner, events):
        events.until_synced()
        server.wait_for_watches(1)
        watch.stop_event.set()
        server.wait_for(lambda: runner.alive == 0, timeout=30)


class _CrashOnce(ResourceWatch):
    crashed = False

    def run(self) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("boom")
        super().run()


def test_runner_restarts_a_crashed_loop(server: FakeKubeServer, api: ApiClient) -> None:
    add_pods(server, "a")
    events = Events()
    watch = _CrashOnce(api, "test", "pods", NS, events, stop=threading.Event())
    runner = WatchRunner([watch], restart_delay=0.05)
    with capture_logs() as logs:
        runner.start()
        try:
            assert summary(events.until_synced()) == [("ADDED", "a", False), ("SYNCED", None, False)]
        finally:
            runner.stop()
    assert watch.health.restarts == 1
    assert any(
        entry["event"].startswith("watch loop crashed") and entry["log_level"] == "error" for entry in logs
    )


async def test_bridge_hands_events_to_an_asyncio_queue(server: FakeKubeServer, api: ApiClient) -> None:
    add_pods(server, "a")
    queue_: asyncio.Queue[WatchEvent] = asyncio.Queue()
    stop = threading.Event()
    watch = ResourceWatch(api, "test", "pods", NS, bridge(asyncio.get_running_loop(), queue_), stop=stop)
    runner = WatchRunner([watch])
    runner.start()
    try:
        first = await asyncio.wait_for(queue_.get(), 5)
        synced = await asyncio.wait_for(queue_.get(), 5)
        assert (first.type, synced.type) == ("ADDED", "SYNCED")
    finally:
        await asyncio.to_thread(runner.stop)


async def test_the_handoff_holds_a_watch_back_while_its_consumer_is_behind(
    server: FakeKubeServer, api: ApiClient
) -> None:
    add_pods(server, "a", "b", "c", "d", "e")
    stop = threading.Event()
    handoff = Handoff(asyncio.get_running_loop(), stop, limit=2)
    watch = ResourceWatch(api, "test", "pods", NS, handoff.emit, stop=stop)
    runner = WatchRunner([watch])
    runner.start()
    try:
        await asyncio.sleep(1.0)  # the list is long done: the watch thread waits for room
        assert handoff.queue.qsize() == 2
        taken = [await asyncio.wait_for(handoff.queue.get(), 5) for _ in range(6)]
        assert [(e.type, e.obj["metadata"]["name"] if e.obj else None) for e in taken] == [
            ("ADDED", "a"),
            ("ADDED", "b"),
            ("ADDED", "c"),
            ("ADDED", "d"),
            ("ADDED", "e"),
            ("SYNCED", None),
        ]
        add_pods(server, "f", "g", "h")
        await asyncio.sleep(1.0)
        assert handoff.queue.qsize() == 2  # the watch stream waits too
    finally:
        await asyncio.to_thread(runner.stop)  # also ends a wait for room
    assert runner.alive == 0


def test_nodes_deployments_and_events_are_watched_too(server: FakeKubeServer, api: ApiClient) -> None:
    server.add_node("node-1")
    server.add_deployment(NS, "web", replicas=1)
    with (
        watching(api, "nodes", None) as (_n, _r, node_events),
        watching(api, "deployments", NS) as (_d, _r2, deps),
        watching(api, "events", NS) as (_e, _r3, kube_events),
    ):
        assert ("ADDED", "node-1", False) in summary(node_events.until_synced())
        assert summary(deps.until_synced()) == [("ADDED", "web", False), ("SYNCED", None, False)]
        kube_events.until_synced()
        server.wait_for_watches(3)
        server.set_node_ready("node-1", False)
        changed = node_events.next()
        assert changed.type == "MODIFIED" and changed.old is not None
        server.create(
            builders.event(NS, ("Pod", "web-x", "uid-x"), "BackOff", "Back-off restarting", name="ev-1")
        )
        event = kube_events.next()
        assert (event.type, name(event), event.resource) == ("ADDED", "ev-1", "events")


def test_server_errors_on_list_are_retried_with_backoff(server: FakeKubeServer, api: ApiClient) -> None:
    add_pods(server, "a")
    server.fail_next("GET", PODS_PATH + "$", status=500, times=2)
    with capture_logs() as logs, watching(api) as (watch, _runner, events):
        assert summary(events.until_synced()) == [("ADDED", "a", False), ("SYNCED", None, False)]
        server.wait_for_watches(1)
        crash(server, "a")  # the first line on a stream counts as recovery
        assert events.next().type == "MODIFIED"
        health = watch.health
    assert (health.failures, health.consecutive_failures) == (2, 0)
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [entry["attempt"] for entry in warnings] == [1, 2]
    assert all(entry["cluster"] == "test" and entry["namespace"] == NS for entry in warnings)
    statuses = [r.status for r in pod_requests(server, watch=False)]
    assert statuses == [500, 500, 200]


# ---------------------------------------------------------------- the pure part


def test_line_splitter_keeps_partial_lines_across_chunks() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b'{"a"') == []
    assert splitter.feed(b":1}\n\n{") == [b'{"a":1}']
    assert splitter.feed(b'"b":2}\n{"c":3}\n') == [b'{"b":2}', b'{"c":3}']
    assert splitter.feed(b'{"d":4}') == []
    assert splitter.rest() == b'{"d":4}'


def _line(etype: str, uid: str, rv: int, **status: Any) -> bytes:
    obj = {"kind": "Pod", "metadata": {"name": uid, "uid": uid, "resourceVersion": str(rv)}, "status": status}
    return json.dumps({"type": etype, "object": obj}).encode()


def test_cache_ignores_stale_versions_and_unknown_deletions() -> None:
    cache = WatchCache("test", "pods")
    added = cache.apply_line(_line("ADDED", "u1", 5, phase="Pending"))
    assert added is not None and added.old is None
    assert cache.apply_line(_line("MODIFIED", "u1", 5, phase="Pending")) is None
    assert cache.apply_line(_line("MODIFIED", "u1", 4, phase="Old")) is None
    modified = cache.apply_line(_line("MODIFIED", "u1", 7, phase="Running"))
    assert modified is not None and modified.old == {
        "kind": "Pod",
        "metadata": {"name": "u1", "uid": "u1", "resourceVersion": "5"},
        "status": {"phase": "Pending"},
    }
    assert cache.apply_line(_line("DELETED", "u2", 8)) is None
    assert cache.resource_version == "8"
    bookmark = b'{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"12"}}}'
    assert cache.apply_line(bookmark) is None and cache.resource_version == "12"
    with pytest.raises(WatchExpired):
        cache.apply_line(b'{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}')
