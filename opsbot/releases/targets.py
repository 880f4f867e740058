"""Where an app's version lives on a cluster: defaults ← app ← app's cluster override.

Pure resolution of `ReleasesSettings` into a `FieldTarget` and the `VersionRule` to
enforce, so the commands never format paths themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsbot.releases.fields import FieldTarget, Layout
from opsbot.releases.records import FluxRef
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


def rule_for(settings: ReleasesSettings, app: str, cluster: str) -> VersionRule:
    """The versions `app` may run on `cluster` (any, when the config says nothing)."""
    app_settings = settings.apps.get(app)
    merged = _merged(
        settings.defaults, app_settings, app_settings.clusters.get(cluster) if app_settings else None
    )
    versions = merged.get("versions")
    return versions.rule() if isinstance(versions, VersionRuleSettings) else VersionRule()


def container_for(settings: ReleasesSettings, app: str, cluster: str) -> str | None:
    """The container whose image carries the version, when the config names one."""
    app_settings = settings.apps.get(app)
    merged = _merged(
        settings.defaults, app_settings, app_settings.clusters.get(cluster) if app_settings else None
    )
    container = merged.get("container")
    return container if isinstance(container, str) else None


def flux_ref(settings: ReleasesSettings, app: str, cluster: str) -> FluxRef | None:
    """The Flux object that applies `app` on `cluster` (the app's override, else the cluster's)."""
    app_settings = settings.apps.get(app)
    override = app_settings.clusters.get(cluster) if app_settings else None
    flux = (override.flux if override else None) or (app_settings.flux if app_settings else None)
    flux = flux or settings.delivery(cluster).flux
    return FluxRef(flux.kind, flux.name, flux.namespace) if flux is not None else None


def layout_of(settings: ReleasesSettings, app: str, cluster: str) -> Layout | None:
    try:
        return resolve_target(settings, app, cluster).target.layout
    except TargetError:
        return None


def flux_objects(settings: ReleasesSettings, cluster: str) -> list[FluxRef]:
    """Every Flux object releases on `cluster` may wait for (the cluster's and the apps' own)."""
    if settings.delivery(cluster).mode != "gitops":
        return []
    found = [flux_ref(settings, app, cluster) for app in settings.apps]
    cluster_flux = settings.delivery(cluster).flux
    if cluster_flux is not None:
        found.append(FluxRef(cluster_flux.kind, cluster_flux.name, cluster_flux.namespace))
    return list(dict.fromkeys(ref for ref in found if ref is not None))
