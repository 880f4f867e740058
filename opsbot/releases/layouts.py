"""The three GitOps layouts, each a change of ONE field in one YAML file (`Layout` and
`FieldTarget` live in `fields`, which imports no YAML library).

- `helm-chart`: a HelmRelease's `spec.chart.spec.version` (also in a values/patch file
  holding a partial HelmRelease, e.g. `apps/prod/podinfo-values.yaml`);
- `kustomize-image`: a kustomization's `images[].newTag` for one image name;
- `deployment-image`: a plain Deployment's container `image:` tag (container by name or
  the only one).

Pure: text in, text out (`yamledit` keeps every other byte). Multi-document files work:
the one matching document is edited; more than one match is an error, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opsbot.core.versions import parse_image
from opsbot.releases.errors import AmbiguousFieldError, FieldNotFoundError
from opsbot.releases.fields import FieldTarget, Layout, check_version
from opsbot.releases.rules import VersionRule
from opsbot.releases.yamledit import FieldPath, Site, field_text, load_documents, locate, replace_scalar


@dataclass(frozen=True)
class FieldValue:
    """The version found at a target: where exactly, and the raw value there."""

    target: FieldTarget
    document: int
    path: FieldPath
    line: int  # 1-based
    raw: str
    version: str

    @property
    def field(self) -> str:
        """The exact field path, e.g. `images[1].newTag` (with `#n` for document n > 0)."""
        where = field_text(self.path)
        return f"{where} (document {self.document + 1})" if self.document else where


@dataclass(frozen=True)
class EditResult:
    """One edit: old → new version at one field; `changed` False when it already had it."""

    path: str
    field: str
    line: int
    old_version: str
    new_version: str
    old_text: str
    new_text: str

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text


# -- finding the field ---------------------------------------------------------------------


def _kind_is(doc: Any, *kinds: str) -> bool:
    kind = doc.get("kind")
    return kind is None or kind in kinds


def _name(doc: Any) -> str | None:
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _maps(documents: list[Any]) -> list[tuple[int, Any]]:
    return [(index, doc) for index, doc in enumerate(documents) if isinstance(doc, dict)]


def _one(target: FieldTarget, found: list[tuple[int, FieldPath]], what: str) -> tuple[int, FieldPath]:
    if not found:
        raise FieldNotFoundError(
            f"`{target.path}` has no {what}.", path=target.path, field=target.field_description
        )
    if len(found) > 1:
        shown = tuple(
            f"{field_text(path)} (document {index + 1})" if index else field_text(path)
            for index, path in found
        )
        raise AmbiguousFieldError(
            f"`{target.path}` has {len(found)} matches for {what}: {', '.join(shown)}; "
            "name the one to edit in the config.",
            path=target.path,
            field=target.field_description,
            matches=shown,
        )
    return found[0]


def _helm(target: FieldTarget, documents: list[Any]) -> tuple[int, FieldPath]:
    releases = [
        (index, doc)
        for index, doc in _maps(documents)
        if _kind_is(doc, "HelmRelease") and isinstance(_get(doc, "spec", "chart", "spec"), dict)
    ]
    if target.name is not None:
        named = [(i, d) for i, d in releases if _name(d) in (target.name, None)]
        releases = named
    found: list[tuple[int, FieldPath]] = [
        (i, ("spec", "chart", "spec", "version"))
        for i, d in releases
        if "version" in d["spec"]["chart"]["spec"]
    ]
    return _one(target, found, target.field_description)


def _kustomize(target: FieldTarget, documents: list[Any]) -> tuple[int, FieldPath]:
    found: list[tuple[int, FieldPath]] = []
    names: list[str] = []
    without_tag = False
    for index, doc in _maps(documents):
        images = doc.get("images")
        if not _kind_is(doc, "Kustomization") or not isinstance(images, list):
            continue
        for position, entry in enumerate(images):
            if not isinstance(entry, dict):
                continue
            names.append(str(entry.get("name")))
            if entry.get("name") == target.image:
                if "newTag" in entry:
                    found.append((index, ("images", position, "newTag")))
                else:
                    without_tag = True
    if not found and without_tag:
        raise FieldNotFoundError(
            f"`{target.path}` lists image `{target.image}` without a `newTag` (add one to promote by tag).",
            path=target.path,
            field=target.field_description,
        )
    if not found:
        listed = f" (it lists {', '.join(f'`{n}`' for n in names)})" if names else ""
        raise FieldNotFoundError(
            f"`{target.path}` has no image `{target.image}` under `images:`{listed}.",
            path=target.path,
            field=target.field_description,
        )
    return _one(target, found, target.field_description)


def _deployment(target: FieldTarget, documents: list[Any]) -> tuple[int, FieldPath]:
    deployments = [
        (index, doc)
        for index, doc in _maps(documents)
        if doc.get("kind") == "Deployment" and (target.name is None or _name(doc) == target.name)
    ]
    index, _ = _one(
        target, [(i, ()) for i, _ in deployments], "Deployment" + (f" `{target.name}`" if target.name else "")
    )
    containers = _get(documents[index], "spec", "template", "spec", "containers")
    if not isinstance(containers, list) or not containers:
        raise FieldNotFoundError(
            f"the Deployment in `{target.path}` has no containers.",
            path=target.path,
            field=target.field_description,
        )
    wanted = target.container or target.name
    named = [i for i, c in enumerate(containers) if isinstance(c, dict) and c.get("name") == wanted]
    if target.container is not None and not named:
        listed = ", ".join(f"`{c.get('name')}`" for c in containers if isinstance(c, dict))
        raise FieldNotFoundError(
            f"the Deployment in `{target.path}` has no container `{target.container}` (it has {listed}).",
            path=target.path,
            field=target.field_description,
        )
    if not named and len(containers) > 1:
        shown = tuple(str(c.get("name")) for c in containers if isinstance(c, dict))
        raise AmbiguousFieldError(
            f"the Deployment in `{target.path}` has {len(containers)} containers ({', '.join(shown)}); "
            "name the one to edit in the config.",
            path=target.path,
            field=target.field_description,
            matches=shown,
        )
    position = named[0] if named else 0
    if not isinstance(containers[position], dict) or "image" not in containers[position]:
        raise FieldNotFoundError(
            f"the container in `{target.path}` has no `image:`.",
            path=target.path,
            field=target.field_description,
        )
    return index, ("spec", "template", "spec", "containers", position, "image")


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


_FINDERS = {
    Layout.HELM_CHART: _helm,
    Layout.KUSTOMIZE_IMAGE: _kustomize,
    Layout.DEPLOYMENT_IMAGE: _deployment,
}


def _version(target: FieldTarget, raw: str) -> str:
    if target.layout is Layout.DEPLOYMENT_IMAGE:
        try:
            return parse_image(raw).version
        except ValueError:
            raise FieldNotFoundError(
                f"`{raw}` in `{target.path}` is not an image reference.",
                path=target.path,
                field=target.field_description,
            ) from None
    return raw


def read_version(target: FieldTarget, text: str) -> FieldValue:
    """The version the file holds for this target (no change)."""
    documents = load_documents(text, file=target.path)
    index, path = _FINDERS[target.layout](target, documents)
    node = documents[index]
    for item in path:
        node = node[item]
    if isinstance(node, (dict, list)) or node is None:
        raise FieldNotFoundError(
            f"`{field_text(path)}` in `{target.path}` holds no version.",
            path=target.path,
            field=field_text(path),
        )
    site = locate(documents, index, path)
    raw = str(node)
    return FieldValue(target, index, path, site.line + 1, raw, _version(target, raw))


def edit_version(
    target: FieldTarget, text: str, version: str, *, rule: VersionRule | None = None
) -> EditResult:
    """The file with the target's version set to `version`; nothing else changes.

    Raises FieldNotFoundError / AmbiguousFieldError / UnsupportedValueError (naming the
    file and field) or VersionNotAllowedError. Already at `version`: `changed` is False.
    """
    check_version(version, rule)
    current = read_version(target, text)
    result = EditResult(target.path, current.field, current.line, current.version, version, text, text)
    if current.version == version and (
        target.layout is not Layout.DEPLOYMENT_IMAGE or parse_image(current.raw).digest is None
    ):
        return result
    new_raw = (
        parse_image(current.raw).with_tag(version) if target.layout is Layout.DEPLOYMENT_IMAGE else version
    )
    documents = load_documents(text, file=target.path)
    site: Site = locate(documents, current.document, current.path)
    new_text = replace_scalar(text, documents, site, new_raw, file=target.path)
    return EditResult(target.path, current.field, current.line, current.version, version, text, new_text)


__all__ = [
    "EditResult",
    "FieldTarget",
    "FieldValue",
    "Layout",
    "check_version",
    "edit_version",
    "read_version",
]
