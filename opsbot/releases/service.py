"""The release feature's blocking side: holds, repository reads, and making an approved change.

`ReleasesService.execute` is what an approved `promote` / `rollback` runs (in the thread
pool): claim the app on its cluster in the store (one change per app and cluster; the
claim is one atomic insert, so two approvals racing cannot both pass), make the change
(a commit pushed to the GitOps repository, or a patch of the Deployment), record it as
followed, and hand it to the tracker, which follows it from the watches. Any failure
before the change was made releases the claim: nothing is left half-done.

Git is imported here only when a repository is configured (dulwich, paramiko and
ruamel load when the first repository is built, never when opsbot starts without one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from opsbot.core.durations import short_duration
from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.core.reply import Mention, Text
from opsbot.errors import NotFoundError
from opsbot.ports import KubeDirectory, KubePort
from opsbot.releases import direct
from opsbot.releases.changes import Action, HistoryEntry, ReleaseChange
from opsbot.releases.credentials import GitCredentials, load_credentials
from opsbot.releases.errors import ReleaseBusyError, ReleaseError
from opsbot.releases.fields import FieldTarget
from opsbot.releases.ledger import helm_history
from opsbot.releases.records import FieldVersion, FluxRef, Phase, Release, ReleaseStore, VersionRecord
from opsbot.releases.settings import ReleasesSettings
from opsbot.releases.targets import TargetError, flux_ref, resolve_target, rule_for

if TYPE_CHECKING:
    from opsbot.releases.git import GitRepository

log = structlog.get_logger("opsbot.releases")

VERBS = frozenset({"promote", "rollback"})


@dataclass(frozen=True)
class PendingRequest:
    """A promote / rollback card still waiting for confirmation or approval."""

    requester: str
    plan: ActionPlan
    expires_at: float


class ReleasesService:
    """See the module docstring. Blocking methods: call them from the pool."""

    def __init__(
        self,
        settings: ReleasesSettings,
        store: ReleaseStore,
        *,
        workdir: Path,
        environ: Mapping[str, str],
        pending: Callable[[], Iterable[PendingRequest]] = tuple,
        clusters: KubeDirectory | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._clusters = clusters
        self._store = store
        self._workdir = workdir
        self.pending = pending
        """Promote / rollback cards still waiting (the app sets it once its loop runs)."""
        self._clock = clock
        # Read once, now: a missing token is reported at start, not at the first promote.
        self._credentials: dict[str, GitCredentials] = {
            name: load_credentials(repository.auth, environ)
            for name, repository in settings.repositories.items()
        }
        self._repositories: dict[str, GitRepository] = {}
        self._lock = threading.Lock()
        self.on_started: Callable[[Release], None] | None = None
        """Called (from the pool thread) once a change was made: the tracker follows it."""

    @property
    def settings(self) -> ReleasesSettings:
        return self._settings

    # -- repositories ------------------------------------------------------------------

    def repository(self, name: str) -> GitRepository:
        """The clone of repository `name` (built on first use; git is imported then)."""
        with self._lock:
            existing = self._repositories.get(name)
            if existing is not None:
                return existing
            from opsbot.releases.git import GitRepository

            repository = GitRepository(
                name, self._settings.repositories[name], self._credentials[name], self._workdir / name
            )
            self._repositories[name] = repository
            return repository

    def warm_up(self) -> None:
        """Clone or open every repository now (blocking), so the first promote does not wait;
        a repository that cannot be reached is logged and tried again at the first use."""
        for name in self._settings.repositories:
            try:
                self.repository(name).ensure_clone()
            except ReleaseError as exc:
                log.error("release_repository_unavailable", repository=name, error=str(exc)[:300])

    def close(self) -> None:
        with self._lock:
            for repository in self._repositories.values():
                repository.close()
            self._repositories.clear()

    def _target(self, app: str, cluster: str) -> tuple[FieldTarget, str]:
        try:
            resolved = resolve_target(self._settings, app, cluster)
        except TargetError as exc:
            raise ReleaseError(f"{exc}.") from None
        assert resolved.repository is not None
        return resolved.target, resolved.repository

    def repository_version(self, app: str, cluster: str) -> FieldVersion:
        from opsbot.releases.layouts import read_version

        target, name = self._target(app, cluster)
        repository = self.repository(name)
        head, text = repository.read_head(target.path)
        if text is None:
            from opsbot.releases.errors import FieldNotFoundError

            raise FieldNotFoundError(
                f"`{target.path}` does not exist on branch `{repository.settings.branch}` of repository `{name}`.",
                path=target.path,
                field=target.field_description,
            )
        value = read_version(target, text)
        return FieldVersion(
            name, repository.settings.branch, head, target.path, value.field, value.line, value.version
        )

    def commits(self, app: str, cluster: str) -> list[HistoryEntry]:
        delivery = self._settings.clusters.get(cluster)
        if delivery is None or delivery.repository is None:
            return []
        repository = self.repository(delivery.repository)
        repository.ensure_clone()  # opens the clone if need be, and fetches
        return repository.history(app=app, cluster=cluster, limit=50)

    # -- holds ---------------------------------------------------------------------------

    def holder(self, cluster: str, namespace: str, deployment: str) -> Text | None:
        target = f"{namespace}/{deployment}"
        for release in self._store.active_releases():
            if release.cluster == cluster and release.target == target:
                since = short_duration(max(0, int(self._clock() - release.started_at)))
                return Text(
                    f"{release.app} on {cluster} is being changed: {release.action.value} to {release.to_version} by ",
                    Mention(release.requested_by) if release.requested_by else "someone",
                    f", {release.phase.value} (started {since} ago). One change per app and cluster at a time: "
                    "ask again once it is live, failed or timed out.",
                )
        now = self._clock()
        for pending in self.pending():
            plan = pending.plan
            if (
                plan.verb in VERBS
                and plan.cluster == cluster
                and plan.params.get("namespace") == namespace
                and plan.params.get("deployment") == deployment
                and pending.expires_at > now
            ):
                return Text(
                    f"{plan.params.get('app', deployment)} on {cluster} already has a {plan.verb} to "
                    f"{plan.params.get('version')} waiting for confirmation or approval, requested by ",
                    Mention(pending.requester),
                    ". One change per app and cluster at a time: approve, reject or cancel that one first.",
                )
        return None

    def helm_history(self, app: str, cluster: str) -> list[str]:
        """Read with opsbot's own credentials, like the follow-up (opsbot.doctor.release_needs)."""
        flux = flux_ref(self._settings, app, cluster)
        if flux is None or flux.kind != "HelmRelease" or self._clusters is None:
            return []
        kube = self._clusters.get(cluster)
        try:
            return helm_history(kube.get_flux_helmrelease(flux.namespace, flux.name))
        except NotFoundError:
            return []

    def versions(self, *, app: str, cluster: str | None = None, limit: int = 100) -> list[VersionRecord]:
        return self._store.versions(cluster=cluster, app=app, limit=limit)

    # -- execute -------------------------------------------------------------------------

    def execute(self, plan: ActionPlan, kube: KubePort, origin: ActionOrigin | None) -> str:
        release = self._release(plan, origin)
        holder = self._store.claim_release(release)
        if holder is not None:
            raise ReleaseBusyError(
                f"{holder.app} on {holder.cluster} is being changed: {holder.action.value} to {holder.to_version} "
                f"by {holder.name_of(holder.requested_by)} ({holder.phase.value}). Nothing was changed; ask again "
                "once it is live, failed or timed out."
            )
        try:
            release, message = self._deliver(release, plan, kube)
        except BaseException as exc:
            self._store.put_release(release.moved(Phase.ABORTED, str(exc)[:300], finished_at=self._clock()))
            raise
        self._store.put_release(release)
        if release.active and self.on_started is not None:
            self.on_started(release)
        log.info(
            "release_started" if release.active else "release_not_needed",
            release_id=release.id,
            app=release.app,
            cluster=release.cluster,
            version=release.to_version,
            mode=release.mode,
            commit=release.commit,
        )
        return message

    def _release(self, plan: ActionPlan, origin: ActionOrigin | None) -> Release:
        params = plan.params
        now = self._clock()
        flux = params.get("flux")
        return Release(
            id=(origin.approval_id if origin else "") or f"r{int(now * 1000)}",
            action=Action(plan.verb),
            app=str(params["app"]),
            cluster=plan.cluster,
            namespace=plan.namespace,
            deployment=str(params["deployment"]),
            from_version=str(params.get("from") or "?"),
            to_version=str(params["version"]),
            mode=str(params["mode"]),
            requested_by=origin.requester if origin else "",
            approved_by=origin.approvers if origin else (),
            names=dict(origin.names) if origin else {},
            channel=origin.channel if origin else "",
            thread=origin.thread if origin else None,
            approval_id=origin.approval_id if origin else "",
            started_at=now,
            deadline=now + self._settings.follow.timeout_minutes * 60,
            layout=params.get("layout"),
            repository=params.get("repository"),
            path=params.get("path"),
            flux=FluxRef(**flux) if isinstance(flux, dict) else None,
            card=origin.card if origin else None,
        )

    def _following(self, release: Release) -> str:
        if self.on_started is None:  # e.g. the console: nothing watches the clusters
            return "Not followed here: see `apps` for how it goes."
        return f"Following {'Flux' if release.flux is not None else 'the rollout'} until it is live."

    def _person(self, release: Release, user: str) -> str:
        name = release.names.get(user)
        return f"{name} ({user})" if name else user

    def _deliver(self, release: Release, plan: ActionPlan, kube: KubePort) -> tuple[Release, str]:
        params: Mapping[str, Any] = plan.params
        if release.mode == "gitops":
            return self._commit(release, params)
        if release.action is Action.ROLLBACK and params.get("revision"):
            result = direct.rollback(
                kube, release.namespace, release.deployment, to_revision=int(params["revision"])
            )
        else:
            result = direct.promote(
                kube,
                release.namespace,
                release.deployment,
                release.to_version,
                container=params.get("container"),
                rule=rule_for(self._settings, release.app, release.cluster),
            )
        if result.skipped:
            line = f"{release.deployment} on {release.cluster} {result.detail}; nothing was changed."
            return release.moved(Phase.ABORTED, line, finished_at=self._clock()), line[:1].upper() + line[1:]
        verb = "Rolled back" if release.action is Action.ROLLBACK else "Promoted"
        message = (
            f"{verb} {release.app} on {release.cluster}: {release.from_version} → {release.to_version} "
            f"({result.detail}). {self._following(release)}"
        )
        return release.moved(Phase.PATCHED, "patched"), message

    def _commit(self, release: Release, params: Mapping[str, Any]) -> tuple[Release, str]:
        target, name = self._target(release.app, release.cluster)
        change = ReleaseChange(
            app=release.app,
            cluster=release.cluster,
            version=release.to_version,
            target=target,
            requested_by=self._person(release, release.requested_by),
            approved_by=tuple(self._person(release, user) for user in release.approved_by),
            request_id=release.id,
            action=release.action,
        )
        repository = self.repository(name)
        delivered = repository.deliver(
            change, rule=rule_for(self._settings, release.app, release.cluster), expect=params.get("from")
        )
        if delivered.commit is None:
            line = (
                f"{release.app} on {release.cluster} is already at {release.to_version} in `{delivered.path}`; "
                "nothing was committed."
            )
            return release.moved(Phase.ABORTED, line, finished_at=self._clock()), line
        short = delivered.commit[:7]
        release = release.moved(
            Phase.COMMITTED,
            f"committed {short}",
            commit=delivered.commit,
            repository=name,
            path=delivered.path,
            layout=target.layout.value,
        )
        verb = "Rolled back" if release.action is Action.ROLLBACK else "Promoted"
        where = f"{delivered.path} line {delivered.line}"
        attempts = (
            f" (after {delivered.attempts} attempts: the branch moved meanwhile)"
            if delivered.attempts > 1
            else ""
        )
        message = (
            f"{verb} {release.app} on {release.cluster}: {delivered.old_version} → {delivered.new_version}, "
            f"committed {short} to {name} ({delivered.branch}), {where}{attempts}. {self._following(release)}"
        )
        return release, message
