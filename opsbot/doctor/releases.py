"""`opsbot check-config` for releases: every GitOps repository answers with its credentials.

Like `git ls-remote`: the credentials are read as the bot reads them, the server is asked
for the branch; nothing is cloned, fetched or pushed. Messages never carry a credential
(the repository layer scrubs them).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from opsbot.config import Settings
from opsbot.doctor.report import Section
from opsbot.releases.credentials import load_credentials
from opsbot.releases.errors import GitAuthError, ReleaseError


def check_repositories(settings: Settings, environ: Mapping[str, str]) -> Section | None:
    """One line per repository under `releases.repositories` (None when there are none)."""
    repositories = settings.releases.repositories
    if not repositories:
        return None
    from opsbot.releases.git import GitRepository

    section = Section("Releases")
    for name, repository in repositories.items():
        where = f"releases.repositories.{name}"
        try:
            credentials = load_credentials(repository.auth, environ)
            with tempfile.TemporaryDirectory() as scratch:
                head = GitRepository(name, repository, credentials, Path(scratch)).remote_head()
        except GitAuthError as exc:
            section.add("fail", f"{where}: {exc}", f"check {where}.auth and the token or key it names")
            continue
        except ReleaseError as exc:
            section.add(
                "fail", f"{where}: {exc}", f"check {where}.url and .branch, and that the server is reachable"
            )
            continue
        section.add("ok", f"{where}: branch {repository.branch} at {head[:12]} ({repository.url})")
    for cluster, delivery in settings.releases.clusters.items():
        via = (
            f"repository {delivery.repository}"
            if delivery.mode == "gitops"
            else "direct (set image / rollout undo)"
        )
        flux = (
            f", following {delivery.flux.kind} {delivery.flux.namespace}/{delivery.flux.name}"
            if delivery.flux
            else ""
        )
        section.add("info", f"cluster {cluster}: {via}{flux}")
    return section
