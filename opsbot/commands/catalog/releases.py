"""`promote APP@VERSION to CLUSTER` and `rollback APP on CLUSTER [to VERSION]`.

Both plan (what will change: `podinfo on prod: 6.5.1 → 6.6.0`, and the file and field of
the GitOps repository or the Deployment's image / revision) and go through the approval
machine like `scale` and `restart`; the approved plan is made by the release service
(`ReleasesView.execute`: one change per app and cluster, a commit or a patch), which
then follows it until it is live. The cluster comes from the arguments (`to prod`,
`on prod`), not from the channel: the policy, the approval rule and the reply use it.
"""

from __future__ import annotations

from collections.abc import Sequence

from opsbot.commands.context import CommandContext
from opsbot.commands.spec import (
    NAMESPACE,
    ActionContext,
    CommandSpec,
    Invocation,
    KubeUse,
    NamedScope,
    ScopeViews,
)
from opsbot.commands.views import ReleasesView
from opsbot.commands.workloads import DRY_RUN_NOTE, dry_run
from opsbot.core import validation
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import Mono, Reply, Text, TextLike, where
from opsbot.core.rows import DeploymentRow
from opsbot.errors import UsageError, UserInputError
from opsbot.policy.settings import Group
from opsbot.ports import KubePort
from opsbot.releases.direct import managed_by_flux, plan_image_change, version_labels
from opsbot.releases.fields import check_version
from opsbot.releases.ledger import last_good
from opsbot.releases.records import VersionRecord
from opsbot.releases.targets import container_for, flux_ref, layout_of, rule_for
from opsbot.releases.undo import label_selector, rollout_history

RELEASE_KUBE = (
    KubeUse("deployment_rows"),
    KubeUse("get_deployment"),
    KubeUse("list_deployments"),
    KubeUse("list_replicasets"),
    KubeUse("set_deployment_image"),
    KubeUse("json_patch_deployment"),
)
"""What promote and rollback call: here (planning) and in opsbot.releases.direct (making it)."""


def _releases(ctx: CommandContext | ActionContext) -> ReleasesView:
    if ctx.releases is None:
        raise UserInputError("releases are not set up here (see `releases:` in the config).")
    return ctx.releases


def _find(kube: KubePort, namespace: str, app: str, cluster: str) -> DeploymentRow | None:
    """The Deployment that is `app` in `namespace` (by name, else by its name labels)."""
    rows = [row for row in kube.deployment_rows(namespace) if app in row.apps]
    exact = [row for row in rows if row.name == app]
    if exact or len(rows) <= 1:
        return (exact or rows)[0] if (exact or rows) else None
    names = ", ".join(f"`{row.name}`" for row in rows)
    raise UserInputError(f"several deployments in `{namespace}` on {cluster} are app `{app}`: {names}.")


def _namespace(ctx: CommandContext, releases: ReleasesView, app: str) -> str:
    return releases.settings.namespace_of(app) or ctx.single_namespace


# -- promote -------------------------------------------------------------------------------


def _promote_words(invocation: Invocation) -> tuple[str, str | None, str]:
    if len(invocation.args) != 3 or invocation.args[1].lower() != "to":
        raise UsageError(
            "say it as `promote APP@VERSION to CLUSTER` (or `promote APP to CLUSTER`)", command="promote"
        )
    app, at, version = invocation.args[0].partition("@")
    validation.object_name(app, kind="app")
    if at and not version:
        raise UsageError("say which version after the @, e.g. podinfo@6.6.0", command="promote")
    return app, version or None, invocation.args[2]


def _home(invocation: Invocation, views: ScopeViews) -> str | None:
    """The app's namespace: -n, else where the config says it lives (None: the usual default)."""
    app = invocation.args[0].partition("@")[0] if invocation.args else ""
    configured = views.releases.settings.namespace_of(app) if views.releases is not None else None
    return invocation.value("namespace") or configured


def promote_scope(invocation: Invocation, views: ScopeViews) -> NamedScope | None:
    """`promote APP… to CLUSTER` acts on CLUSTER, in the app's namespace."""
    args = invocation.args
    if len(args) == 3 and args[1].lower() == "to":
        return NamedScope(cluster=args[2], namespace=_home(invocation, views))
    return None


def _running(ctx: CommandContext, source: str, namespace: str, app: str) -> str:
    """The version `app` runs on the source cluster."""
    if ctx.fleet is None:
        raise UserInputError(f"say which version: promote {app}@VERSION to {ctx.cluster}")
    answer = ctx.fleet.each(lambda kube: _find(kube, namespace, app, source), [source], timeout=5.0)[source]
    if not isinstance(answer, DeploymentRow):
        reason = getattr(answer, "reason", f"`{app}` does not run there (namespace {namespace})")
        raise UserInputError(f"cannot read the version of {app} on {source}: {reason}.")
    if not answer.version:
        raise UserInputError(f"{app} on {source} has no readable version (no version label, no image tag).")
    return answer.version


def _seen_anywhere(releases: ReleasesView, app: str, version: str) -> bool:
    return any(record.version == version for record in releases.versions(app=app, limit=500))


def plan_promote(invocation: Invocation, ctx: CommandContext) -> Reply | ActionPlan:
    releases = _releases(ctx)
    settings = releases.settings
    app, version, _ = _promote_words(invocation)
    cluster = ctx.cluster
    namespace = _namespace(ctx, releases, app)
    if version is None:
        source = settings.source_for(app)
        if source is None or source == cluster:
            raise UsageError(
                f"say which version (promote {app}@VERSION to {cluster}), or set releases.source",
                command="promote",
            )
        version = _running(ctx, source, namespace, app)
    check_version(version, rule_for(settings, app, cluster))
    row = _find(ctx.kube, namespace, app, cluster)
    delivery = settings.delivery(cluster)
    if row is None and delivery.mode == "direct":
        raise UserInputError(f"no app `{app}` on {cluster} in namespace `{namespace}` (unknown app).")
    deployment = row.name if row is not None else app
    held = releases.holder(cluster, namespace, deployment)
    if held is not None:
        return Reply(f"{app} on {cluster} is busy", (held,), where=where(cluster, namespace), tone="warning")
    notes: list[TextLike] = []
    if not _seen_anywhere(releases, app, version):
        notes.append(f"note: {version} has not been fully available on any cluster yet")
    params: dict[str, object] = {
        "app": app,
        "version": version,
        "namespace": namespace,
        "deployment": deployment,
    }
    if delivery.mode == "gitops":
        return _gitops_plan("promote", ctx, releases, app, version, row, params, notes)
    return _direct_promote_plan(ctx, app, version, namespace, deployment, params, notes)


def _gitops_plan(
    verb: str,
    ctx: CommandContext,
    releases: ReleasesView,
    app: str,
    version: str,
    row: DeploymentRow | None,
    params: dict[str, object],
    notes: Sequence[TextLike],
) -> Reply | ActionPlan:
    cluster, namespace = ctx.cluster, str(params["namespace"])
    field = releases.repository_version(app, cluster)
    if field.version == version:
        return Reply(
            f"{app} on {cluster} is already at {version}",
            (
                Text(
                    "The repository holds ",
                    Mono(version),
                    " in ",
                    Mono(field.path),
                    f" line {field.line}; nothing to change.",
                ),
            ),
            where=where(cluster, namespace),
        )
    flux = flux_ref(releases.settings, app, cluster)
    layout = layout_of(releases.settings, app, cluster)
    running = (
        f"runs {row.version} ({row.ready} ready, {row.rollout.value})" if row else "does not run there yet"
    )
    changes: list[TextLike] = [
        f"{app} on {cluster}: {field.version} → {version}",
        Text(
            "commit to ",
            Mono(field.repository),
            f" ({field.branch}): ",
            Mono(field.path),
            f" line {field.line}, ",
            Mono(field.field),
        ),
        f"the Deployment {namespace}/{params['deployment']} {running}",
        f"followed until live: {flux or 'the Deployment'} (timeout {releases.settings.follow.timeout_minutes:g} min)",
        *notes,
    ]
    params.update(
        mode="gitops",
        **{"from": field.version},
        repository=field.repository,
        path=field.path,
        layout=layout.value if layout else None,
        flux={"kind": flux.kind, "name": flux.name, "namespace": flux.namespace} if flux else None,
    )
    return ActionPlan(verb, cluster, namespace, "app", app, tuple(changes), params)


def _direct_promote_plan(
    ctx: CommandContext,
    app: str,
    version: str,
    namespace: str,
    deployment: str,
    params: dict[str, object],
    notes: Sequence[TextLike],
) -> Reply | ActionPlan:
    cluster = ctx.cluster
    settings = _releases(ctx).settings
    current = ctx.kube.get_deployment(namespace, deployment)
    owner = managed_by_flux(current)
    if owner:
        raise UserInputError(
            f"deployment `{deployment}` on {cluster} is applied by {owner}: a direct change would be reverted. "
            f"Configure releases.clusters.{cluster} as gitops to promote through the repository."
        )
    change = plan_image_change(
        current,
        version,
        container=container_for(settings, app, cluster),
        rule=rule_for(settings, app, cluster),
    )
    if change.new_image == change.old_image:
        return Reply(
            f"{app} on {cluster} already runs {version}",
            (Text("Nothing to change."),),
            where=where(cluster, namespace),
        )
    changes: list[TextLike] = [
        f"{app} on {cluster}: {change.old_version} → {version}",
        Text(
            "image of container ",
            Mono(change.container),
            ": ",
            Mono(change.old_image),
            " → ",
            Mono(change.new_image),
        ),
    ]
    if (current.get("spec") or {}).get("paused"):
        changes.append("note: the Deployment is paused: the new image rolls out once it is resumed")
    labels, template_labels = version_labels(current, version)
    if labels or template_labels:
        changes.append("its app.kubernetes.io/version label follows (it would go stale otherwise)")
    if ctx.settings.server_dry_run:
        dry_run(
            lambda: ctx.kube.set_deployment_image(
                namespace,
                deployment,
                change.container,
                change.new_image,
                labels=labels or None,
                template_labels=template_labels or None,
                dry_run=True,
            ),
            f"setting the image of deployment/{deployment}",
        )
        changes.append(DRY_RUN_NOTE)
    changes.extend(notes)
    params.update(mode="direct", container=change.container, **{"from": change.old_version})
    return ActionPlan("promote", cluster, namespace, "app", app, tuple(changes), params)


# -- rollback ------------------------------------------------------------------------------


def _rollback_words(invocation: Invocation) -> tuple[str, str | None]:
    args = invocation.args
    shape = len(args) in (3, 5) and args[1].lower() == "on" and (len(args) == 3 or args[3].lower() == "to")
    if not shape:
        raise UsageError(
            "say it as `rollback APP on CLUSTER` or `rollback APP on CLUSTER to VERSION`", command="rollback"
        )
    validation.object_name(args[0], kind="app")
    return args[0], (args[4] if len(args) == 5 else None)


def rollback_scope(invocation: Invocation, views: ScopeViews) -> NamedScope | None:
    """`rollback APP on CLUSTER …` acts on CLUSTER, in the app's namespace."""
    args = invocation.args
    if len(args) >= 3 and args[1].lower() == "on":
        return NamedScope(cluster=args[2], namespace=_home(invocation, views))
    return None


def plan_rollback(invocation: Invocation, ctx: CommandContext) -> Reply | ActionPlan:
    releases = _releases(ctx)
    settings = releases.settings
    app, wanted = _rollback_words(invocation)
    cluster = ctx.cluster
    namespace = _namespace(ctx, releases, app)
    row = _find(ctx.kube, namespace, app, cluster)
    if row is None:
        raise UserInputError(f"no app `{app}` on {cluster} in namespace `{namespace}` (unknown app).")
    delivery = settings.delivery(cluster)
    current = releases.repository_version(app, cluster).version if delivery.mode == "gitops" else row.version
    records = [
        r for r in releases.versions(app=app, cluster=cluster) if r.target == f"{namespace}/{row.name}"
    ]
    revisions = _revisions(ctx.kube, namespace, row.name)
    helm = _helm_versions(ctx, releases, app) if delivery.mode == "gitops" else []
    if wanted is not None:
        check_version(wanted)
        known = [r.version for r in records] + helm + list(revisions)
        if wanted not in known:
            shown = ", ".join(dict.fromkeys(v for v in known if v != current)) or "none recorded"
            raise UserInputError(
                f"unknown version: {app} never ran {wanted} on {cluster} as far as opsbot knows (known: {shown})."
            )
        target, why = wanted, "asked for"
    else:
        target, why = _last_good(records, helm, revisions, current, app, cluster)
    if target == current:
        return Reply(
            f"{app} on {cluster} is already at {target}",
            (Text("Nothing to roll back."),),
            where=where(cluster, namespace),
        )
    held = releases.holder(cluster, namespace, row.name)
    if held is not None:
        return Reply(f"{app} on {cluster} is busy", (held,), where=where(cluster, namespace), tone="warning")
    params: dict[str, object] = {
        "app": app,
        "version": target,
        "namespace": namespace,
        "deployment": row.name,
    }
    if delivery.mode == "gitops":
        return _gitops_plan("rollback", ctx, releases, app, target, row, params, [f"{target}: {why}"])
    changes: list[TextLike] = [f"{app} on {cluster}: {current} → {target}", f"{target}: {why}"]
    revision = revisions.get(target)
    if revision is not None:
        changes.append(
            f"kubectl rollout undo --to-revision {revision}: the pod template of that revision comes back"
        )
        params["revision"] = revision
    else:
        changes.append(f"the image tag is set to {target} (no ReplicaSet of that version is left)")
        params["container"] = container_for(settings, app, cluster)
    params.update(mode="direct", **{"from": current})
    return ActionPlan("rollback", cluster, namespace, "app", app, tuple(changes), params)


def _revisions(kube: KubePort, namespace: str, name: str) -> dict[str, int]:
    """Version → its newest ReplicaSet revision (`kubectl rollout history`)."""
    deployment = kube.get_deployment(namespace, name)
    selector = label_selector((deployment.get("spec") or {}).get("selector"))
    found: dict[str, int] = {}
    for revision in rollout_history(deployment, kube.list_replicasets(namespace, selector=selector or None)):
        if revision.version and revision.version not in found and not revision.current:
            found[revision.version] = revision.number
    return found


def _helm_versions(ctx: CommandContext, releases: ReleasesView, app: str) -> list[str]:
    return releases.helm_history(app, ctx.cluster)


def _last_good(
    records: Sequence[VersionRecord],
    helm: list[str],
    revisions: dict[str, int],
    current: str | None,
    app: str,
    cluster: str,
) -> tuple[str, str]:
    good = last_good(records, current)
    if good is not None:
        return good.version, "the last version that was fully available here (opsbot's record)"
    for version in helm:
        if version != current:
            return version, "the last release in the HelmRelease's history"
    for version in revisions:
        if version != current:
            return version, "the newest older ReplicaSet revision"
    raise UserInputError(
        f"nothing to roll back to: opsbot has no record of another version of {app} that was available on "
        f"{cluster}. Name one: rollback {app} on {cluster} to VERSION"
    )


def execute(plan: ActionPlan, ctx: ActionContext) -> str:
    return _releases(ctx).execute(plan, ctx.kube, ctx.origin)


PROMOTE_HELP = (
    "Delivers a version to a cluster: through the GitOps repository (one field of one file, committed "
    "and pushed; Flux applies it) or directly (the Deployment's image, like kubectl set image), as "
    "`releases.clusters` says. `promote APP to CLUSTER` takes the version running on `releases.source`. "
    "Goes through approval like scale/restart, one change per app and cluster at a time, and is "
    "followed in the thread until it is live, failed (with a Roll back button) or timed out."
)
ROLLBACK_HELP = (
    "Back to the last version that was fully available on that cluster (opsbot's own record, else the "
    "HelmRelease history or the ReplicaSet revisions), or to VERSION. On a GitOps cluster a rollback is a "
    "commit too (a patch would be reverted by Flux); directly it is `kubectl rollout undo`."
)

COMMANDS = (
    CommandSpec(
        "promote",
        "Deliver a version of an app to a cluster (GitOps commit or image), followed until live",
        "promote APP@VERSION to CLUSTER | promote APP to CLUSTER",
        plan_promote,
        group=Group.WRITE,
        execute=execute,
        kube=RELEASE_KUBE,
        examples=("promote podinfo@6.6.0 to prod", "promote podinfo to prod"),
        options=(NAMESPACE,),
        min_args=3,
        max_args=3,
        scope=promote_scope,
        help=PROMOTE_HELP,
    ),
    CommandSpec(
        "rollback",
        "Roll an app back on a cluster to its last good version (or to VERSION)",
        "rollback APP on CLUSTER [to VERSION]",
        plan_rollback,
        group=Group.WRITE,
        execute=execute,
        kube=RELEASE_KUBE,
        examples=("rollback podinfo on prod", "rollback podinfo on prod to 6.5.0"),
        options=(NAMESPACE,),
        min_args=3,
        max_args=5,
        scope=rollback_scope,
        help=ROLLBACK_HELP,
    ),
)
