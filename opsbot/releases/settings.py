"""`releases:` settings: repositories, per-app layouts with per-cluster overrides, and how
each cluster receives versions (GitOps through a repository, or direct).

Not wired into `opsbot.config` yet (the chat commands will add the section). Example::

    releases:
      source: stage                 # `promote APP to CLUSTER` takes the version running here
      follow: {timeout_minutes: 15}
      repositories:
        fleet:
          url: https://git.example.com/org/fleet.git
          auth: {username: x-access-token, token_file: /var/run/secrets/git/token}
      defaults: {layout: helm-chart, path: "apps/{cluster}/{app}-values.yaml"}
      apps:
        podinfo: {versions: {semver: ">=6 <7"}}
        web:
          layout: kustomize-image
          path: "apps/{cluster}/kustomization.yaml"
          image: ghcr.io/org/web
          clusters: {prod: {versions: {pattern: '\\d+\\.\\d+\\.\\d+'}}}
      clusters:
        stage: {repository: fleet, flux: {kind: Kustomization, name: apps}}
        prod: {repository: fleet, flux: {kind: Kustomization, name: apps}}
        lab: {mode: direct}

A cluster not listed under `clusters` is delivered to directly (`kubectl set image` /
`rollout undo`), which refuses Deployments that Flux or Argo CD apply.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Literal

from pydantic import Field, field_validator, model_validator

from opsbot.core.settings import Strict
from opsbot.releases.fields import Layout
from opsbot.releases.rules import VersionRule

PLACEHOLDERS = frozenset({"app", "cluster", "namespace"})
_PLACEHOLDER = re.compile(r"{([^{}]*)}")


class VersionRuleSettings(Strict):
    """`pattern`: full-match regex; `semver`: a range (`>=1.2 <2`, `^1.4`, `~1.4.2`)."""

    pattern: str | None = None
    semver: str | None = None

    @model_validator(mode="after")
    def _valid(self) -> VersionRuleSettings:
        try:
            self.rule()
        except (re.error, ValueError) as exc:
            raise ValueError(str(exc)) from None
        return self

    def rule(self) -> VersionRule:
        return VersionRule(pattern=self.pattern, semver=self.semver)


class FluxObjectSettings(Strict):
    """The Flux object that applies the app on this cluster (to follow a promotion)."""

    kind: Literal["Kustomization", "HelmRelease"]
    name: str
    namespace: str = "flux-system"


class FieldSettings(Strict):
    """Where an app's version lives; every key may be overridden per cluster.

    `path` is a template over {app}, {cluster} and {namespace}.
    """

    layout: Layout | None = None
    path: str | None = None
    name: str | None = None
    image: str | None = None
    container: str | None = None
    versions: VersionRuleSettings | None = None
    flux: FluxObjectSettings | None = None
    """The Flux object to follow for this app (e.g. its HelmRelease) instead of the cluster's."""

    @field_validator("path")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        unknown = set(_PLACEHOLDER.findall(value)) - PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; use {{app}}, {{cluster}}, {{namespace}}"
            )
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("a path inside the repository: relative, without `..`")
        return value


class AppSettings(FieldSettings):
    """One app: its layout (over `defaults`), namespace, source cluster and per-cluster overrides."""

    namespace: str | None = None
    source: str | None = None
    clusters: dict[str, FieldSettings] = {}


class GitAuthSettings(Strict):
    """Credentials are read from the environment or a mounted file, never from the config.

    HTTPS: `username` (default `x-access-token`, what GitHub expects with a token) and a
    token or password from `token_env` / `token_file`. SSH: `ssh_key_file` and
    `known_hosts_file` (the server's key must be listed: no trust on first use).
    """

    username: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    ssh_key_file: str | None = None
    known_hosts_file: str | None = None


class RepositorySettings(Strict):
    url: str
    branch: str = "main"
    auth: GitAuthSettings = GitAuthSettings()
    author_name: str = "opsbot"
    author_email: str = "opsbot@users.noreply.invalid"
    timeout_seconds: float = 30.0
    push_attempts: int = 3

    @field_validator("url")
    @classmethod
    def _no_credentials_in_url(cls, value: str) -> str:
        if re.match(r"^[a-z+]+://[^/@]*:[^/@]*@", value):
            raise ValueError("put credentials in `auth`, not in the URL (URLs end up in logs)")
        return value


class ClusterDeliverySettings(Strict):
    mode: Literal["gitops", "direct"] = "gitops"
    repository: str | None = None
    flux: FluxObjectSettings | None = None

    @model_validator(mode="after")
    def _repository_for_gitops(self) -> ClusterDeliverySettings:
        if self.mode == "gitops" and not self.repository:
            raise ValueError("a gitops cluster names its `repository`")
        return self


class FollowSettings(Strict):
    """How long the follow-up of a promote / rollback waits for the change to be live."""

    timeout_minutes: float = Field(default=15, gt=0, le=24 * 60)


class ReleasesSettings(Strict):
    source: str | None = None
    """The cluster whose running version `promote APP to CLUSTER` delivers (e.g. stage)."""
    workdir: str | None = None
    """Where the local clones live (default: `git/` beside `store.path`); on the state volume."""
    follow: FollowSettings = FollowSettings()
    repositories: dict[str, RepositorySettings] = {}
    defaults: FieldSettings = FieldSettings()
    apps: dict[str, AppSettings] = {}
    clusters: dict[str, ClusterDeliverySettings] = {}

    @property
    def configured(self) -> bool:
        """The section says anything: releases are followed even without the command caches."""
        return bool(self.repositories or self.apps or self.clusters or self.source)

    def namespaces(self) -> list[str]:
        """The namespaces of the configured apps (their Deployments must be watched)."""
        return sorted({settings.namespace or app for app, settings in self.apps.items()})

    def delivery(self, cluster: str) -> ClusterDeliverySettings:
        """How `cluster` receives versions: as configured, else directly."""
        return self.clusters.get(cluster) or ClusterDeliverySettings(mode="direct")

    def source_for(self, app: str) -> str | None:
        settings = self.apps.get(app)
        return (settings.source if settings is not None else None) or self.source

    def namespace_of(self, app: str) -> str | None:
        """The namespace the config gives `app` (None: not configured, find it on the cluster)."""
        settings = self.apps.get(app)
        return (settings.namespace or app) if settings is not None else None

    def references(self, clusters: Collection[str]) -> list[str]:
        """Problems with the cluster names this section uses, as `releases.…` key paths."""
        problems = []
        for name in self.clusters:
            if name not in clusters:
                problems.append(f"releases.clusters.{name}: not one of clusters")
        if self.source is not None and self.source not in clusters:
            problems.append(f"releases.source: {self.source!r} is not one of clusters")
        for app, settings in self.apps.items():
            if settings.source is not None and settings.source not in clusters:
                problems.append(f"releases.apps.{app}.source: {settings.source!r} is not one of clusters")
            for name in settings.clusters:
                if name not in clusters:
                    problems.append(f"releases.apps.{app}.clusters.{name}: not one of clusters")
        return problems

    @model_validator(mode="after")
    def _repositories_exist(self) -> ReleasesSettings:
        for name, cluster in self.clusters.items():
            if cluster.repository and cluster.repository not in self.repositories:
                raise ValueError(f"clusters.{name}.repository: no repository `{cluster.repository}`")
        return self
