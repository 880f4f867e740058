"""Following a release until it is live, as pure steps: (release, what was seen) → step.

    committed ──Flux applied──▶ applied ──Deployment rolling out──▶ rolling out ──▶ available
        │            (patched: direct)                                   │
        └── Flux failed / rollout ProgressDeadlineExceeded ──▶ failed ◀──┘
        └── deadline passed ──▶ timed out

The Deployment decides "available": it runs the new version (its version label or its
main container's tag; for a chart promoted through a HelmRelease, once that release is
Ready with the chart) and its rollout completed. Flux's own words come first when it
has them (applied, or a failed apply / upgrade). Every step is computed from the
object as the watch delivered it; an older resourceVersion than one already applied is
ignored, so a late read can never move a release back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from opsbot.core.durations import short_duration
from opsbot.core.kubeobjects import KubeObject, meta, spec, status
from opsbot.core.versions import RolloutState, main_container, parse_image, rollout_state, version_of
from opsbot.releases.fields import Layout
from opsbot.releases.landing import Landing, helmrelease_landing, kustomization_landing
from opsbot.releases.records import Phase, Release


@dataclass(frozen=True)
class Step:
    """What one observation did: the release as it is now, and what to tell people.

    `progress`: a new status line (shown in place); `outcome`: the release ended
    (available / failed / timed out) and this line says how.
    """

    release: Release
    progress: str | None = None
    outcome: str | None = None

    @property
    def changed(self) -> bool:
        return self.progress is not None or self.outcome is not None


def _key(resource: str, obj: KubeObject) -> str:
    return f"{resource}/{meta(obj).get('namespace', '')}/{meta(obj).get('name', '')}"


def _newer(release: Release, resource: str, obj: KubeObject) -> bool:
    """Whether `obj` is newer than what this release already saw of it."""
    seen = release.seen.get(_key(resource, obj))
    current = str(meta(obj).get("resourceVersion") or "")
    if seen is None or not current:
        return True
    if seen.isdigit() and current.isdigit():
        return int(current) > int(seen)
    return current != seen


def _saw(release: Release, resource: str, obj: KubeObject) -> Release:
    current = str(meta(obj).get("resourceVersion") or "")
    return replace(release, seen={**release.seen, _key(resource, obj): current}) if current else release


def runs(deployment: KubeObject, version: str) -> bool:
    """Whether the Deployment's spec runs `version` (its version label, or its main image's tag)."""
    if version_of(deployment) == version:
        return True
    container = main_container(deployment)
    image = container.get("image") if container else None
    try:
        return isinstance(image, str) and parse_image(image).version == version
    except ValueError:
        return False


def took(release: Release, now: float) -> str:
    """How long the release took, as a release engineer says it: `45s`, `1m12s`, `2h5m`."""
    seconds = max(0, int(now - release.started_at))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s" if seconds % 60 else f"{seconds // 60}m"
    return short_duration(seconds)


def on_deployment(release: Release, deployment: KubeObject, now: float) -> Step:
    """The Deployment changed (a watch event, or the first read after the change)."""
    if not release.active or not _newer(release, "deployments", deployment):
        return Step(release)
    release = _saw(release, "deployments", deployment)
    chart_released = (
        release.layout == Layout.HELM_CHART
        and release.phase is Phase.APPLIED
        and (release.flux is not None and release.flux.kind == "HelmRelease")
    )
    if not (runs(deployment, release.to_version) or chart_released):
        return Step(release)
    rollout = rollout_state(deployment)
    desired = int(spec(deployment).get("replicas", 1) or 0)
    available = int(status(deployment).get("availableReplicas") or 0)
    if rollout.state is RolloutState.OK:
        line = (
            f"{release.app} {release.to_version} available on {release.cluster} "
            f"({available}/{desired}) in {took(release, now)}"
        )
        return Step(release.moved(Phase.AVAILABLE, line, finished_at=now), outcome=line)
    if rollout.state is RolloutState.FAILED:
        line = f"rollout failed (ProgressDeadlineExceeded): {rollout.detail}"
        return Step(release.moved(Phase.FAILED, line, finished_at=now), outcome=line)
    line = f"rolling out: {rollout.detail}"
    if line == release.detail:
        return Step(release)
    return Step(release.moved(Phase.ROLLING_OUT, line), progress=line)


def on_flux(release: Release, obj: KubeObject, now: float) -> Step:
    """The release's Flux object changed: has it applied our commit / released our chart,
    or does it report a failure?"""
    flux = release.flux
    if flux is None or not release.active or release.phase is Phase.DELIVERING:
        return Step(release)  # (delivering: the commit is not known yet)
    resource = "kustomizations" if flux.kind == "Kustomization" else "helmreleases"
    if not _newer(release, resource, obj):
        return Step(release)
    release = _saw(release, resource, obj)
    if flux.kind == "Kustomization":
        state = kustomization_landing(obj, release.commit or "")
        revision = str(status(obj).get("lastAppliedRevision") or "")
        applied = f"Flux applied {revision or (release.commit or '')[:12]}"
    else:
        state = helmrelease_landing(obj, release.to_version)
        applied = f"Flux released chart {release.to_version} ({flux})"
    if state.landing is Landing.FAILED:
        line = f"Flux reports a failure ({flux}): {state.detail}"
        return Step(release.moved(Phase.FAILED, line, finished_at=now), outcome=line)
    if state.landing is Landing.APPLIED and release.phase is Phase.COMMITTED:
        return Step(release.moved(Phase.APPLIED, applied), progress=applied)
    return Step(release)


def on_deadline(release: Release, now: float) -> Step:
    """The follow-up waited long enough."""
    if not release.active or now < release.deadline:
        return Step(release)
    waited = release.deadline - release.started_at
    after = f"{waited / 60:g} min" if waited >= 60 else f"{max(1, round(waited))}s"
    where = {
        Phase.DELIVERING: "before the change was made",
        Phase.COMMITTED: "Flux had not applied the commit",
        Phase.APPLIED: "the Deployment had not started the new version",
        Phase.PATCHED: "the Deployment had not started the new version",
    }.get(release.phase, release.detail or release.phase.value)
    line = f"timed out after {after} ({where})"
    return Step(release.moved(Phase.TIMED_OUT, line, finished_at=now), outcome=line)
