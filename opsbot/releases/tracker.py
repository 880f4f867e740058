"""Follows releases to the end, from the watches' events (runs on the event loop).

Every Deployment event of every cluster passes here: it keeps the version record (a
version that became fully available is stored, credited to the release that made it),
and moves the release that holds that Deployment on (`follow.on_deployment`). Events of
the Flux objects releases wait for do the same (`follow.on_flux`). Nothing polls: a
release also gets one read of its Deployment and Flux object when it starts (or when
the bot restarts while it is active), in case the watch delivered the change before
the release was known, and one timer for its deadline.

Store writes go to the thread pool in order, in batches (the first list of a large
cluster records every Deployment once); notices to people go out per release in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from opsbot.core.kubeobjects import KubeObject, meta, spec
from opsbot.core.resources import FLUX_RESOURCES
from opsbot.core.rows import deployment_row
from opsbot.ports import KubeDirectory, RunBlocking
from opsbot.releases.follow import Step, on_deadline, on_deployment, on_flux
from opsbot.releases.ledger import became_available, credited, record_for
from opsbot.releases.notices import ReleaseNotices, final_reply, status_text, with_step
from opsbot.releases.records import Phase, Release, ReleaseStore, VersionRecord
from opsbot.releases.undo import label_selector
from opsbot.telemetry import NOOP_ERRORS, ErrorReporter

log = structlog.get_logger("opsbot.releases")

FLUX_KINDS = {resource: kind for kind, resource in FLUX_RESOURCES.items()}
FAILING_PODS_SHOWN = 5
REPORT_WAIT_SECONDS = 10.0  # at most this long for the approval's outcome before the first notice


class ReleaseTracker:
    """See the module docstring. Every method but the blocking helpers runs on the loop."""

    def __init__(
        self,
        store: ReleaseStore,
        clusters: KubeDirectory,
        notices: ReleaseNotices,
        run_blocking: RunBlocking,
        *,
        clock: Callable[[], float] = time.time,
        errors: ErrorReporter = NOOP_ERRORS,
    ) -> None:
        self._store = store
        self._clusters = clusters
        self._notices = notices
        self._run = run_blocking
        self._clock = clock
        self._errors = errors
        self._releases: dict[str, Release] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._latest: dict[tuple[str, str], VersionRecord] = {}
        self._writes: list[Callable[[], None]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reported: dict[str, asyncio.Event] = {}  # approval id → its outcome was shown
        self._status_messages: dict[str, str] = {}  # release id → its status message, once posted

    # -- lifecycle -------------------------------------------------------------------------

    async def restore(self) -> int:
        """Load what the last run left: active releases (followed again) and the newest
        version record of every Deployment (read in the pool). Call before the watches."""
        latest, active = await self._run(self._stored)
        for record in latest:
            self._latest[(record.cluster, record.target)] = record
        for release in active:
            self.follow(release, new=False)
        if active:
            log.info("releases_restored", active=len(active))
        return len(active)

    def _stored(self) -> tuple[list[VersionRecord], list[Release]]:
        return self._store.latest_versions(), self._store.active_releases()

    def follow(self, release: Release, *, new: bool = True) -> None:
        """Follow `release` from now on (call on the loop). A new one's notices wait until
        its approval's own outcome was shown (`reported`), so the thread reads in order."""
        if not release.active:
            return
        if new and release.approval_id:
            self._reported.setdefault(release.approval_id, asyncio.Event())
        self._releases[release.id] = release
        loop = asyncio.get_running_loop()
        delay = max(0.0, release.deadline - self._clock())
        self._timers[release.id] = loop.call_later(delay, self._deadline, release.id)
        self._spawn(self._read_now(release.id))

    def reported(self, approval_id: str) -> None:
        """The approval's outcome ("Promoted …, committed abc1234") is in the thread."""
        gate = self._reported.get(approval_id)  # (only releases wait: other actions leave nothing)
        if gate is not None:
            gate.set()

    async def _after_report(self, release: Release) -> None:
        gate = self._reported.get(release.approval_id)
        if gate is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gate.wait(), timeout=REPORT_WAIT_SECONDS)

    @property
    def active(self) -> list[Release]:
        return list(self._releases.values())

    async def idle(self) -> None:
        """Until every store write, read and notice under way has finished."""
        while True:
            pending = {*self._tasks, *self._chains.values(), *([self._flushing] if self._flushing else [])}
            pending = {task for task in pending if not task.done()}
            if not pending:
                return
            await asyncio.wait(pending)

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        try:
            await asyncio.wait_for(self.idle(), timeout=5)
        except TimeoutError:
            log.warning("release_tracker_stopped_with_work_pending")

    # -- several replicas (ha:): only the lease cluster's leader follows ---------------------

    def unknown_active(self) -> list[Release]:
        """Active releases in the store this tracker does not follow yet (started on another
        replica, or before this one led): `follow(release, new=False)` them. Blocking read."""
        return [r for r in self._store.active_releases() if r.id not in self._releases]

    async def pause(self) -> None:
        """Stop following everything (another replica follows releases now): timers off, the
        work under way cancelled; the store keeps every release for the next leader."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._releases.clear()
        pending = [*self._tasks, *self._chains.values()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- events ----------------------------------------------------------------------------

    def on_event(self, cluster: str, resource: str, kind: str, obj: KubeObject | None) -> None:
        """One watch event (`kind`: ADDED / MODIFIED / DELETED / SYNCED …)."""
        if obj is None or kind == "DELETED":
            return
        if resource == "deployments":
            self._deployment(cluster, obj)
        elif resource in FLUX_KINDS:
            self._flux(cluster, FLUX_KINDS[resource], obj)

    def _holding(self, cluster: str, namespace: str, name: str) -> Release | None:
        for release in self._releases.values():
            if (release.cluster, release.namespace, release.deployment) == (cluster, namespace, name):
                return release
        return None

    def _deployment(self, cluster: str, obj: KubeObject) -> None:
        namespace, name = str(meta(obj).get("namespace", "")), str(meta(obj).get("name", ""))
        release = self._holding(cluster, namespace, name)
        row = deployment_row(obj)
        key = (cluster, f"{namespace}/{name}")
        last = self._latest.get(key)
        if became_available(row, last):
            record = record_for(cluster, row, self._clock(), release, first_sight=last is None)
            self._latest[key] = record
            self._write(lambda: self._store.add_version(record))
        if release is not None:
            self._apply(on_deployment(release, obj, self._clock()), obj)

    def _flux(self, cluster: str, kind: str, obj: KubeObject) -> None:
        namespace, name = str(meta(obj).get("namespace", "")), str(meta(obj).get("name", ""))
        for release in list(self._releases.values()):
            flux = release.flux
            if (
                release.cluster == cluster
                and flux is not None
                and (flux.kind, flux.namespace, flux.name)
                == (
                    kind,
                    namespace,
                    name,
                )
            ):
                self._apply(on_flux(release, obj, self._clock()))

    def _deadline(self, release_id: str) -> None:
        self._timers.pop(release_id, None)
        release = self._releases.get(release_id)
        if release is not None:
            self._apply(on_deadline(release, self._clock()))

    # -- steps -----------------------------------------------------------------------------

    def _apply(self, step: Step, deployment: KubeObject | None = None) -> None:
        release = step.release
        line = step.outcome or step.progress
        if line is not None:
            release = release.moved(release.phase, steps=with_step(release.steps, line))
        if release.active:
            self._releases[release.id] = release
        else:
            self._releases.pop(release.id, None)
            timer = self._timers.pop(release.id, None)
            if timer is not None:
                timer.cancel()
        if not step.changed:
            return
        if release.phase is Phase.AVAILABLE:
            key = (release.cluster, release.target)
            record = credited(release, self._latest.get(key), self._clock())
            if record is not None:
                self._latest[key] = record
                self._write(lambda: self._store.add_version(record))
        log.info("release_" + release.phase.value.replace(" ", "_"), release_id=release.id, line=line)
        self._write(lambda: self._store.put_release(release))
        if step.outcome is not None:
            # The selector, not the object: other consumers of the watch event may change it later.
            selector = (
                label_selector(spec(deployment).get("selector"))
                if deployment and "spec" in deployment
                else None
            )
            self._chain(release, self._finish(release, step.outcome, selector))
        elif step.progress is not None:
            self._chain(release, self._progress(release))

    def _chain(self, release: Release, work: Awaitable[None]) -> None:
        """Notices of one release go out in order (the status message exists before updates),
        after its approval's outcome."""
        release_id = release.id
        before = self._chains.get(release_id)

        async def run() -> None:
            if before is not None:
                await asyncio.wait({before})
            else:
                await self._after_report(release)
            await work
            if not release.active:
                self._reported.pop(release.approval_id, None)

        task = asyncio.ensure_future(run())
        self._chains[release_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._chains.get(release_id) is done:
                del self._chains[release_id]

        task.add_done_callback(forget)

    def _shown(self, release: Release) -> Release:
        """`release` with the status message it already has (a notice may run after the
        release ended: the message id is kept apart from the release's other state)."""
        message = self._status_messages.get(release.id, release.status_message)
        return (
            release
            if message == release.status_message
            else release.moved(release.phase, status_message=message)
        )

    async def _progress(self, release: Release) -> None:
        current = self._shown(self._releases.get(release.id, release))
        try:
            message = await self._notices.progress(current, status_text(current, current.steps))
        except Exception as exc:
            log.warning("release_notice_failed", release_id=release.id, error=repr(exc))
            return
        if message and message != current.status_message:
            self._status_messages[release.id] = message
            live = self._releases.get(release.id)
            if live is not None:
                updated = live.moved(live.phase, status_message=message)
                self._releases[release.id] = updated
                self._write(lambda: self._store.put_release(updated))

    async def _finish(self, release: Release, line: str, selector: str | None) -> None:
        failing: list[str] = []
        if release.phase is Phase.FAILED:
            try:
                failing = await self._run(self._failing_pods, release, selector)
            except Exception as exc:
                log.warning("release_failing_pods_unknown", release_id=release.id, error=repr(exc))
        release = self._shown(release)
        self._status_messages.pop(release.id, None)
        try:
            await self._notices.finished(
                release, final_reply(release, line, failing), status_text(release, release.steps)
            )
        except Exception as exc:
            log.warning("release_notice_failed", release_id=release.id, error=repr(exc))
            self._errors.capture(exc, where="release_notice", cluster=release.cluster)

    def _failing_pods(self, release: Release, selector: str | None) -> list[str]:
        """The failing pods of the release's Deployment and why (blocking: in the pool)."""
        kube = self._clusters.get(release.cluster)
        if selector is None:
            deployment = kube.get_deployment(release.namespace, release.deployment)
            selector = label_selector(spec(deployment).get("selector"))
        rows = kube.pod_rows(release.namespace, selector=selector or None)
        failing = [row for row in rows if not row.healthy]
        lines = [
            f"{row.name}: {row.status}" + (f" ({row.restarts} restarts)" if row.restarts else "")
            for row in failing[:FAILING_PODS_SHOWN]
        ]
        if len(failing) > FAILING_PODS_SHOWN:
            lines.append(f"… and {len(failing) - FAILING_PODS_SHOWN} more")
        return lines

    # -- the first read --------------------------------------------------------------------

    async def _read_now(self, release_id: str) -> None:
        """Read the release's Deployment and Flux object once, as if a watch event came."""
        release = self._releases.get(release_id)
        if release is None:
            return
        if not release.steps and release.detail:
            self._apply(Step(release, progress=release.detail))  # the live status starts: "committed abc1234"
        try:
            kube = self._clusters.get(release.cluster)
            flux = release.flux
            if flux is not None:
                read = (
                    kube.get_flux_kustomization if flux.kind == "Kustomization" else kube.get_flux_helmrelease
                )
                obj = await self._run(read, flux.namespace, flux.name)
                self._flux(release.cluster, flux.kind, obj)
            deployment = await self._run(kube.get_deployment, release.namespace, release.deployment)
            self._deployment(release.cluster, deployment)
        except Exception as exc:
            log.info("release_first_read_failed", release_id=release_id, error=str(exc)[:200])

    # -- store writes ----------------------------------------------------------------------

    def _write(self, write: Callable[[], None]) -> None:
        self._writes.append(write)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        while self._writes:
            batch, self._writes = self._writes, []
            try:
                await self._run(_run_all, batch)
            except Exception as exc:
                log.exception("release_store_write_failed")
                self._errors.capture(exc, where="release_store")


def _run_all(writes: list[Callable[[], None]]) -> None:
    for write in writes:
        write()
