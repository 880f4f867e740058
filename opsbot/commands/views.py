"""What commands may see beyond one cluster: every cluster at once (`apps`, `diff`) and the
release feature (`promote`, `rollback`, `history`). Protocols: the app layer supplies them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from opsbot.core.fleet import Unanswered
from opsbot.core.plan import ActionOrigin, ActionPlan
from opsbot.core.reply import Text
from opsbot.ports import KubePort
from opsbot.releases.changes import HistoryEntry
from opsbot.releases.records import FieldVersion, VersionRecord
from opsbot.releases.settings import ReleasesSettings

T = TypeVar("T")


class FleetView(Protocol):
    """A client per configured cluster, read all at once; one cluster that cannot answer
    becomes an `Unanswered` and never holds up the others."""

    def clusters(self) -> list[str]: ...

    def each(
        self, read: Callable[[KubePort], T], clusters: Sequence[str], *, timeout: float
    ) -> dict[str, T | Unanswered]:
        """`read` on every cluster in parallel (opsbot's own credentials), in `clusters`
        order; a cluster known to be down is not asked."""
        ...


class ReleasesView(Protocol):
    """The release feature as the commands use it (blocking calls: run them in the pool)."""

    @property
    def settings(self) -> ReleasesSettings: ...

    def holder(self, cluster: str, namespace: str, deployment: str) -> Text | None:
        """Who holds this app on this cluster (an active change or a request waiting for
        approval), as a sentence; None when it is free."""
        ...

    def repository_version(self, app: str, cluster: str) -> FieldVersion:
        """The version the GitOps repository holds for `app` on `cluster`, fetched now."""
        ...

    def versions(self, *, app: str, cluster: str | None = None, limit: int = 100) -> list[VersionRecord]:
        """Versions that became available, newest first."""
        ...

    def helm_history(self, app: str, cluster: str) -> list[str]:
        """Chart versions the app's HelmRelease deployed on `cluster`, newest first (none
        when no HelmRelease is followed there)."""
        ...

    def commits(self, app: str, cluster: str) -> list[HistoryEntry]:
        """opsbot's commits for `app` on `cluster`, newest first (gitops clusters)."""
        ...

    def execute(self, plan: ActionPlan, kube: KubePort, origin: ActionOrigin | None) -> str:
        """Make an approved promote / rollback, then follow it; one sentence of what was done."""
        ...
