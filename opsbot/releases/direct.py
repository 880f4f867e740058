"""Direct delivery, for clusters without GitOps: the same two moves a person makes with
kubectl, through the KubePort (blocking; run in the thread pool).

- promote: `kubectl set image` on the Deployment's main container (a strategic merge
  patch of that one container);
- rollback: `kubectl rollout undo` (`undo.plan_undo`, then its JSON patch).

A Deployment that Flux applies is refused: Flux would undo the change at its next
reconcile; deliver through the repository instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsbot.core.kubeobjects import meta, spec
from opsbot.core.versions import VERSION_LABEL, containers, is_app, main_container, parse_image
from opsbot.errors import NotFoundError
from opsbot.ports import KubeObject, KubePort
from opsbot.releases.errors import RolloutError
from opsbot.releases.fields import check_version
from opsbot.releases.rules import VersionRule
from opsbot.releases.undo import UndoSkipped, label_selector, plan_undo

FLUX_LABELS = ("kustomize.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/name")
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"


@dataclass(frozen=True)
class DirectResult:
    """What a direct promote / rollback did (`skipped`: nothing needed doing)."""

    cluster: str
    namespace: str
    deployment: str
    old_version: str | None
    new_version: str | None
    skipped: bool
    detail: str
    container: str | None = None
    revision: int | None = None


@dataclass(frozen=True)
class ImageChange:
    container: str
    old_image: str
    new_image: str
    old_version: str
    new_version: str


def managed_by_flux(deployment: KubeObject) -> str | None:
    """`Kustomization flux-system/apps` when Flux applies this Deployment (`Argo CD
    application …` when Argo CD does), else None."""
    labels = meta(deployment).get("labels") or {}
    for label in FLUX_LABELS:
        if labels.get(label):
            kind = "Kustomization" if label.startswith("kustomize") else "HelmRelease"
            namespace = labels.get(label.replace("/name", "/namespace"), "")
            return f"{kind} {namespace + '/' if namespace else ''}{labels[label]}"
    tracking = (meta(deployment).get("annotations") or {}).get(ARGO_TRACKING)
    if tracking:
        return f"Argo CD application {str(tracking).split(':', 1)[0]}"
    return None


def version_labels(deployment: KubeObject, version: str) -> tuple[dict[str, str], dict[str, str]]:
    """The version labels to move with the image (Deployment, pod template), where the
    Deployment carries one: `kubectl set image` would leave them stale, and a stale
    `app.kubernetes.io/version` wins over the image tag when reading the version. A
    label the selector uses is never touched (the template must keep matching it)."""
    labels = meta(deployment).get("labels") or {}
    own = {VERSION_LABEL: version} if VERSION_LABEL in labels else {}
    template = (spec(deployment).get("template") or {}).get("metadata") or {}
    selector = (spec(deployment).get("selector") or {}).get("matchLabels") or {}
    in_template = VERSION_LABEL in (template.get("labels") or {}) and VERSION_LABEL not in selector
    return own, ({VERSION_LABEL: version} if in_template else {})


def plan_image_change(
    deployment: KubeObject, version: str, *, container: str | None = None, rule: VersionRule | None = None
) -> ImageChange:
    """Which container gets which image (pure). The version is the image tag; a pinned
    digest is dropped. Raises VersionNotAllowedError or RolloutError."""
    check_version(version, rule)
    name = str(meta(deployment).get("name"))
    if container is None:
        chosen = main_container(deployment)
    else:
        chosen = next((c for c in containers(deployment) if c.get("name") == container), None)
    if chosen is None:
        raise RolloutError(f"deployment `{name}` has no container `{container or name}`.")
    image = str(chosen.get("image") or "")
    try:
        ref = parse_image(image)
    except ValueError:
        raise RolloutError(f"the image `{image}` of deployment `{name}` cannot be parsed.") from None
    return ImageChange(str(chosen.get("name")), image, ref.with_tag(version), ref.version, version)


def find_deployment(kube: KubePort, namespace: str, app: str) -> KubeObject:
    """The Deployment named `app`, else the one whose name labels say `app`."""
    try:
        return kube.get_deployment(namespace, app)
    except NotFoundError:
        matches = [d for d in kube.list_deployments(namespace) if is_app(d, app)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(f"`{meta(d).get('name')}`" for d in matches)
            raise RolloutError(f"several deployments in `{namespace}` are app `{app}`: {names}.") from None
        raise


def _refuse_flux(deployment: KubeObject, cluster: str) -> None:
    owner = managed_by_flux(deployment)
    if owner:
        raise RolloutError(
            f"deployment `{meta(deployment).get('name')}` on `{cluster}` is applied by Flux ({owner}); "
            "a direct change would be reverted at its next reconcile: deliver through the repository."
        )


def promote(
    kube: KubePort,
    namespace: str,
    app: str,
    version: str,
    *,
    container: str | None = None,
    rule: VersionRule | None = None,
    dry_run: bool = False,
) -> DirectResult:
    """Set the main (or named) container's image tag to `version`."""
    deployment = find_deployment(kube, namespace, app)
    _refuse_flux(deployment, kube.cluster)
    name = str(meta(deployment).get("name"))
    change = plan_image_change(deployment, version, container=container, rule=rule)
    if change.new_image == change.old_image:
        return DirectResult(
            kube.cluster,
            namespace,
            name,
            change.old_version,
            version,
            True,
            f"already runs {version}",
            change.container,
        )
    labels, template_labels = version_labels(deployment, version)
    kube.set_deployment_image(
        namespace,
        name,
        change.container,
        change.new_image,
        labels=labels or None,
        template_labels=template_labels or None,
        dry_run=dry_run,
    )
    return DirectResult(
        kube.cluster,
        namespace,
        name,
        change.old_version,
        version,
        False,
        f"{change.container}: {change.old_image} → {change.new_image}",
        change.container,
    )


def rollback(
    kube: KubePort, namespace: str, app: str, *, to_revision: int | None = None, dry_run: bool = False
) -> DirectResult:
    """`kubectl rollout undo [--to-revision]`. Raises PausedDeploymentError,
    RevisionNotFoundError, NoRolloutHistoryError."""
    deployment = find_deployment(kube, namespace, app)
    _refuse_flux(deployment, kube.cluster)
    name = str(meta(deployment).get("name"))
    selector = label_selector(spec(deployment).get("selector"))
    replicasets = kube.list_replicasets(namespace, selector=selector or None)
    plan = plan_undo(deployment, replicasets, to_revision=to_revision)
    if isinstance(plan, UndoSkipped):
        return DirectResult(
            kube.cluster, namespace, name, None, None, True, plan.reason, revision=plan.to_revision
        )
    patch = list(plan.patch)
    if plan.to_version and VERSION_LABEL in (meta(deployment).get("labels") or {}):
        # The Deployment's own version label follows the template it rolls back to.
        patch.append(
            {"op": "add", "path": "/metadata/labels/app.kubernetes.io~1version", "value": plan.to_version}
        )
    kube.json_patch_deployment(namespace, name, patch, dry_run=dry_run)
    return DirectResult(
        kube.cluster,
        namespace,
        name,
        plan.from_version,
        plan.to_version,
        False,
        f"rolled back to revision {plan.to_revision} ({plan.replicaset})",
        revision=plan.to_revision,
    )
