"""The same apps on several clusters, side by side (pure): the `apps` grid and the `diff`.

Input: one column per cluster, each the watch cache's Deployment rows (or why the
cluster could not answer). An app is a Deployment, matched across clusters by namespace
and name (GitOps fleets keep both the same); its version, rollout state and last change
are read once per change into the row (`opsbot.core.rows.DeploymentRow`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from opsbot.core.kubeobjects import natural_key
from opsbot.core.rows import ContainerRow, DeploymentRow, EnvValue
from opsbot.core.versions import RolloutState

MISSING = "missing"
AppKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class ClusterColumn:
    """One cluster's Deployments, or `problem` (e.g. "unreachable since 12:03 UTC")."""

    cluster: str
    rows: Sequence[DeploymentRow] | None
    problem: str = ""

    def by_app(self) -> dict[AppKey, DeploymentRow]:
        return {(row.namespace, row.name): row for row in self.rows or ()}


def state_of(row: DeploymentRow) -> str:
    """ok / rolling out / degraded / failed, as `apps` shows it."""
    if row.rollout is RolloutState.OK and row.available < row.desired:
        return RolloutState.DEGRADED.value
    return row.rollout.value


@dataclass(frozen=True)
class AppCell:
    version: str
    ready: str
    state: str
    changed: float | None


@dataclass(frozen=True)
class AppLine:
    namespace: str
    name: str
    cells: dict[str, AppCell | None]  # cluster → cell (None: not on that cluster)

    @property
    def attention(self) -> bool:
        """Something to look at: not ok somewhere, or the versions differ."""
        cells = [c for c in self.cells.values() if c is not None]
        return any(c.state != RolloutState.OK.value for c in cells) or len({c.version for c in cells}) > 1


def app_grid(columns: Sequence[ClusterColumn], *, matching: str | None = None) -> list[AppLine]:
    """Every app on any answering cluster, by namespace and name; `matching`: only apps
    going by that name (its name or its name/instance labels)."""
    indexed = {column.cluster: column.by_app() for column in columns if column.rows is not None}
    keys: set[AppKey] = set()
    for rows in indexed.values():
        keys.update(key for key, row in rows.items() if matching is None or matching in row.apps)
    lines = []
    for namespace, name in sorted(keys, key=lambda k: (natural_key(k[0]), natural_key(k[1]))):
        cells: dict[str, AppCell | None] = {}
        for column in columns:
            row = indexed.get(column.cluster, {}).get((namespace, name))
            cells[column.cluster] = (
                AppCell(row.version or "?", row.ready, state_of(row), row.changed)
                if row is not None
                else None
            )
        lines.append(AppLine(namespace, name, cells))
    return lines


# -- diff ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffLine:
    """One field of one app that differs: its value on every compared cluster."""

    namespace: str
    name: str
    what: str
    cells: dict[str, str]


HIDDEN = "hidden"
SAME = "same"
DIFFERS = "differs"
UNSET = "unset"


def _containers(row: DeploymentRow) -> dict[str, ContainerRow]:
    return {container.name: container for container in row.containers}


def _field_values(row: DeploymentRow | None) -> dict[str, tuple[str, str]]:
    """Every compared field of an app → (kind, text); kind `secret` texts are digests."""
    if row is None:
        return {}
    values: dict[str, tuple[str, str]] = {
        "version": ("value", row.version or "?"),
        "replicas": ("value", str(row.desired)),
    }
    for name, container in _containers(row).items():
        prefix = f"{name}: "
        values[prefix + "image"] = ("value", container.image)
        if container.command:
            values[prefix + "command"] = ("value", " ".join(container.command))
        if container.args:
            values[prefix + "args"] = ("value", " ".join(container.args))
        for key, amount in container.resources:
            values[prefix + key] = ("value", amount)
        for env in container.env:
            values[f"{prefix}env {env.name}"] = _env_value(env)
    return values


def _env_value(env: EnvValue) -> tuple[str, str]:
    if env.kind == "ref":
        return ("value", f"from {env.text}")
    return (env.kind, env.text)


def _order(what: str) -> tuple[int, str]:
    if what == "version":
        return (0, "")
    if what == "replicas":
        return (1, "")
    return (2, what)


def diff_apps(base: ClusterColumn, others: Sequence[ClusterColumn]) -> list[DiffLine]:
    """What differs between `base` and each of `others` (answering clusters only), per app:
    "only in" / "missing in" rows, then each differing field. Secret-looking env values are
    compared by digest and shown as `hidden` / `same` / `differs`, never as values."""
    answering = [column for column in others if column.rows is not None]
    base_apps = base.by_app()
    other_apps = {column.cluster: column.by_app() for column in answering}
    keys = set(base_apps)
    for apps in other_apps.values():
        keys.update(apps)
    lines: list[DiffLine] = []
    for namespace, name in sorted(keys, key=lambda k: (natural_key(k[0]), natural_key(k[1]))):
        mine = base_apps.get((namespace, name))
        theirs = {cluster: apps.get((namespace, name)) for cluster, apps in other_apps.items()}
        presence = _presence(base.cluster, mine, theirs)
        if presence is not None:
            lines.append(DiffLine(namespace, name, "app", presence))
            if mine is None:
                continue
        lines.extend(_field_lines(namespace, name, base.cluster, mine, theirs))
    return lines


def _presence(
    base: str, mine: DeploymentRow | None, theirs: dict[str, DeploymentRow | None]
) -> dict[str, str] | None:
    if mine is not None and all(row is not None for row in theirs.values()):
        return None
    if mine is None:
        return {base: MISSING, **{c: ("present" if r else MISSING) for c, r in theirs.items()}}
    return {base: "present", **{c: ("present" if r else MISSING) for c, r in theirs.items()}}


def _field_lines(
    namespace: str, name: str, base: str, mine: DeploymentRow | None, theirs: dict[str, DeploymentRow | None]
) -> Iterable[DiffLine]:
    values = {base: _field_values(mine)}
    present = {cluster: row for cluster, row in theirs.items() if row is not None}
    values.update({cluster: _field_values(row) for cluster, row in present.items()})
    fields: set[str] = set()
    for found in values.values():
        fields.update(found)
    for what in sorted(fields, key=_order):
        mine_value = values[base].get(what)
        their_values = {cluster: values[cluster].get(what) for cluster in present}
        if all(value == mine_value for value in their_values.values()):
            continue
        secret = any(v is not None and v[0] == "secret" for v in (mine_value, *their_values.values()))
        if secret:
            cells = {base: HIDDEN if mine_value is not None else UNSET}
            for cluster, value in their_values.items():
                cells[cluster] = UNSET if value is None else (SAME if value == mine_value else DIFFERS)
        else:
            cells = {base: mine_value[1] if mine_value is not None else UNSET}
            cells.update({c: v[1] if v is not None else UNSET for c, v in their_values.items()})
        yield DiffLine(namespace, name, what, cells)
