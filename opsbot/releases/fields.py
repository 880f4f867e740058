"""Where a version lives (`Layout`, `FieldTarget`) and what a version may look like.

Kept apart from `layouts` (which reads YAML with ruamel) so that the settings, the
commands and direct delivery import no YAML library: ruamel is loaded only where a
GitOps file is actually read or edited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from opsbot.releases.errors import VersionNotAllowedError
from opsbot.releases.rules import VersionRule

# What a version may look like anywhere we write one: an image tag's alphabet. Keeps
# quotes, spaces and newlines (YAML structure) out of the file whatever the config allows.
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")


class Layout(StrEnum):
    HELM_CHART = "helm-chart"
    KUSTOMIZE_IMAGE = "kustomize-image"
    DEPLOYMENT_IMAGE = "deployment-image"


@dataclass(frozen=True)
class FieldTarget:
    """Which field carries an app's version on one cluster.

    `name`: the HelmRelease / Deployment `metadata.name` to match (None: the only one);
    `image`: the kustomize `images[].name`; `container`: the Deployment's container
    (None: the one named like `name`, else the only one).
    """

    layout: Layout
    path: str
    name: str | None = None
    image: str | None = None
    container: str | None = None

    @property
    def field_description(self) -> str:
        if self.layout is Layout.HELM_CHART:
            return "spec.chart.spec.version" + (f" of HelmRelease `{self.name}`" if self.name else "")
        if self.layout is Layout.KUSTOMIZE_IMAGE:
            return f"images[name={self.image}].newTag"
        which = f"container `{self.container}`" if self.container else "its container"
        return f"image of {which}" + (f" in Deployment `{self.name}`" if self.name else "")


def check_version(version: str, rule: VersionRule | None = None) -> None:
    """Refuse what cannot be a version (YAML structure, spaces) and what the rule forbids."""
    if not _VERSION.match(version):
        raise VersionNotAllowedError(version, "a version is letters, digits and `. _ + -`, at most 128")
    if rule is not None:
        rule.check(version)
