"""Where an app's version lives on a cluster: defaults ← app ← app's cluster override.

Pure resolution of `ReleasesSettings` into a `FieldTarget` and the `VersionRule` to
enforce, so the commands never format paths themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsbot.releases.layouts import FieldTarget, Layout
from opsbot.releases.rules import VersionRule
from opsbot.releases.settings import AppSettings, FieldSettings, ReleasesSettings, VersionRuleSettings

_KEYS = ("layout", "path", "name", "image", "container", "versions")


class TargetError(ValueError):
    """The settings do not say where this app's version lives on this cluster."""


@dataclass(frozen=True)
class ResolvedTarget:
    app: str
    cluster: str
    namespace: str
    target: FieldTarget
    rule: VersionRule
    repository: str | None


def _merged(*layers: FieldSettings | None) -> dict[str, object]:
    merged: dict[str, object] = {}
    for layer in layers:
        if layer is None:
            continue
        for key in _KEYS:
            value = getattr(layer, key)
            if value is not None:
                merged[key] = value
    return merged


def resolve_target(settings: ReleasesSettings, app: str, cluster: str) -> ResolvedTarget:
    """The FieldTarget for `app` on `cluster`. Raises TargetError naming what is missing."""
    app_settings: AppSettings | None = settings.apps.get(app)
    if app_settings is None:
        raise TargetError(f"no app `{app}` under releases.apps")
    delivery = settings.clusters.get(cluster)
    if delivery is None:
        raise TargetError(f"no cluster `{cluster}` under releases.clusters")
    merged = _merged(settings.defaults, app_settings, app_settings.clusters.get(cluster))
    namespace = app_settings.namespace or app
    layout = merged.get("layout")
    template = merged.get("path")
    if not isinstance(layout, Layout) or not isinstance(template, str):
        raise TargetError(f"releases.apps.{app}: set `layout` and `path` (here or under releases.defaults)")
    name = merged.get("name")
    image = merged.get("image")
    container = merged.get("container")
    if layout is Layout.KUSTOMIZE_IMAGE and not isinstance(image, str):
        raise TargetError(f"releases.apps.{app}: the kustomize-image layout needs `image`")
    versions = merged.get("versions")
    rule = versions.rule() if isinstance(versions, VersionRuleSettings) else VersionRule()
    target = FieldTarget(
        layout=layout,
        path=template.format(app=app, cluster=cluster, namespace=namespace),
        name=name if isinstance(name, str) else (app if layout is not Layout.KUSTOMIZE_IMAGE else None),
        image=image if isinstance(image, str) else None,
        container=container if isinstance(container, str) else None,
    )
    return ResolvedTarget(app, cluster, namespace, target, rule, delivery.repository)
