"""GitOps edits: one field of one YAML file changes, every other byte stays (pure)."""

from __future__ import annotations

import difflib

import pytest

from opsbot.releases.errors import (
    AmbiguousFieldError,
    EditError,
    FieldNotFoundError,
    UnsupportedValueError,
    VersionNotAllowedError,
)
from opsbot.releases.layouts import EditResult, FieldTarget, Layout, edit_version, read_version
from opsbot.releases.rules import VersionRule
from opsbot.releases.targets import TargetError, resolve_target
from tests.support import gitops_fixtures as fleet


def changed_lines(result: EditResult) -> list[tuple[str, str]]:
    """(old line, new line) pairs of the diff; asserts the edit is a one-line replacement."""
    old, new = result.old_text.splitlines(keepends=True), result.new_text.splitlines(keepends=True)
    assert len(old) == len(new)
    pairs = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    diff = [line for line in difflib.unified_diff(old, new, n=0) if line.startswith(("+", "-"))]
    assert len(diff) == 4  # ---, +++, one - and one +
    return pairs


@pytest.mark.parametrize(
    ("app", "version", "old_line", "new_line"),
    [
        pytest.param(
            "podinfo",
            "6.6.0",
            '      version: "6.5.2"  # pinned\n',
            '      version: "6.6.0"  # pinned\n',
            id="helm-values-file",
        ),
        pytest.param(
            "web",
            "1.5.0",
            '    newTag: 1.4.0 # {"$imagepolicy": "flux-system:web:tag"}\n',
            '    newTag: 1.5.0 # {"$imagepolicy": "flux-system:web:tag"}\n',
            id="kustomize-newtag-keeps-imagepolicy-marker",
        ),
        pytest.param(
            "worker",
            "2.1.0",
            '        image: registry:5000/org/worker:2.0.0 # {"$imagepolicy": "flux-system:worker"}\n',
            '        image: registry:5000/org/worker:2.1.0 # {"$imagepolicy": "flux-system:worker"}\n',
            id="deployment-image-in-second-document",
        ),
    ],
)
def test_each_layout_changes_exactly_one_line_and_keeps_comments(
    app: str, version: str, old_line: str, new_line: str
) -> None:
    text = fleet.files()[fleet.target(app, "stage").path]
    result = edit_version(fleet.target(app, "stage"), text, version)
    assert changed_lines(result) == [(old_line, new_line)]
    assert result.old_version == fleet.VERSIONS["stage"][app]
    assert result.new_version == version
    assert result.new_text.count("#") == text.count("#")
    assert result.new_text.replace(new_line, old_line) == text


def test_result_names_the_exact_field_and_line() -> None:
    text = fleet.files()["apps/stage/worker.yaml"]
    result = edit_version(fleet.target("worker", "stage"), text, "2.1.0")
    assert result.field == "spec.template.spec.containers[1].image (document 2)"
    assert text.splitlines()[result.line - 1].strip().startswith("image: registry:5000/org/worker:2.0.0")
    kustomize = edit_version(
        fleet.target("web", "stage"), fleet.files()["apps/stage/kustomization.yaml"], "1.5.0"
    )
    assert kustomize.field == "images[0].newTag"


def test_a_partial_helmrelease_and_a_full_one_are_both_edited() -> None:
    base = FieldTarget(Layout.HELM_CHART, "apps/base/podinfo/helmrelease.yaml", name="podinfo")
    result = edit_version(base, fleet.HELMRELEASE_BASE, "6.6.0")
    assert changed_lines(result) == [
        (
            '      version: ">=1.0.0"   # upstream tracks a range; each cluster pins one\n',
            '      version: "6.6.0"   # upstream tracks a range; each cluster pins one\n',
        )
    ]
    assert result.old_version == ">=1.0.0"


def test_quotes_and_flow_style_are_kept() -> None:
    text = fleet.files()["apps/stage/kustomization.yaml"]
    redis = FieldTarget(Layout.KUSTOMIZE_IMAGE, "k.yaml", image="docker.io/library/redis")
    result = edit_version(redis, text, "7.4")
    assert changed_lines(result) == [
        (
            '  - {name: docker.io/library/redis, newTag: "7.2"}\n',
            '  - {name: docker.io/library/redis, newTag: "7.4"}\n',
        )
    ]


@pytest.mark.parametrize(
    ("old", "version", "new"),
    [
        pytest.param(
            "newTag: 1.2.3", "1.10", 'newTag: "1.10"', id="plain-that-would-read-as-number-gets-quoted"
        ),
        pytest.param("newTag: 1.2", "1.3", "newTag: 1.3", id="author-chose-a-plain-number"),
        pytest.param("newTag: 'v1'", "v2", "newTag: 'v2'", id="single-quotes"),
        pytest.param("newTag: v1   # note", "v2", "newTag: v2   # note", id="spacing-before-comment"),
    ],
)
def test_scalar_style_follows_the_old_token(old: str, version: str, new: str) -> None:
    text = f"images:\n- name: app\n  {old}\n"
    result = edit_version(FieldTarget(Layout.KUSTOMIZE_IMAGE, "k.yaml", image="app"), text, version)
    assert result.new_text == f"images:\n- name: app\n  {new}\n"


def test_indentation_ruamel_could_not_keep_is_untouched() -> None:
    """Mixed indentation (4 then 2), CRLF endings, a document marker and a trailing comment
    all survive: only the token is rewritten."""
    text = (
        "# head\r\n---\r\nkind: HelmRelease\r\nmetadata:\r\n    name: api\r\nspec:\r\n    chart:\r\n"
        "      spec:\r\n        version:   1.0.0\r\n    values: {a: 1}\r\n# tail\r\n"
    )
    result = edit_version(FieldTarget(Layout.HELM_CHART, "h.yaml", name="api"), text, "1.1.0")
    assert result.new_text == text.replace("version:   1.0.0", "version:   1.1.0")


def test_already_at_the_version_changes_nothing() -> None:
    text = fleet.files()["apps/prod/podinfo-values.yaml"]
    result = edit_version(fleet.target("podinfo", "prod"), text, "6.5.1")
    assert not result.changed
    assert result.new_text == text


def test_read_version_reads_without_changing() -> None:
    found = read_version(fleet.target("worker", "prod"), fleet.files()["apps/prod/worker.yaml"])
    assert (found.version, found.raw) == ("1.9.0", "registry:5000/org/worker:1.9.0")


def test_multi_document_file_edits_the_matching_helmrelease() -> None:
    text = (
        "kind: HelmRelease\nmetadata: {name: a}\nspec: {chart: {spec: {version: 1.0.0}}}\n---\n"
        "kind: HelmRelease\nmetadata: {name: b}\nspec: {chart: {spec: {version: 2.0.0}}}\n"
    )
    result = edit_version(FieldTarget(Layout.HELM_CHART, "h.yaml", name="b"), text, "2.1.0")
    assert result.new_text == text.replace("version: 2.0.0", "version: 2.1.0")
    with pytest.raises(AmbiguousFieldError) as raised:
        edit_version(FieldTarget(Layout.HELM_CHART, "h.yaml"), text, "2.1.0")
    assert raised.value.matches == ("spec.chart.spec.version", "spec.chart.spec.version (document 2)")


@pytest.mark.parametrize(
    ("target", "text", "message"),
    [
        pytest.param(
            FieldTarget(Layout.HELM_CHART, "apps/prod/x.yaml", name="podinfo"),
            "kind: HelmRelease\nmetadata: {name: podinfo}\nspec: {chart: {spec: {chart: podinfo}}}\n",
            "`apps/prod/x.yaml` has no spec.chart.spec.version of HelmRelease `podinfo`",
            id="helm-version-missing",
        ),
        pytest.param(
            FieldTarget(Layout.KUSTOMIZE_IMAGE, "k.yaml", image="ghcr.io/org/api"),
            fleet.kustomization("stage"),
            "`k.yaml` has no image `ghcr.io/org/api` under `images:` (it lists `ghcr.io/org/web`",
            id="kustomize-image-missing",
        ),
        pytest.param(
            FieldTarget(Layout.KUSTOMIZE_IMAGE, "k.yaml", image="app"),
            "images:\n- name: app\n  digest: sha256:abc\n",
            "lists image `app` without a `newTag`",
            id="kustomize-entry-without-newtag",
        ),
        pytest.param(
            FieldTarget(Layout.DEPLOYMENT_IMAGE, "w.yaml", name="worker", container="api"),
            fleet.worker("stage"),
            "has no container `api` (it has `log-shipper`, `worker`)",
            id="container-missing",
        ),
        pytest.param(
            FieldTarget(Layout.DEPLOYMENT_IMAGE, "w.yaml", name="other"),
            fleet.worker("stage"),
            "`w.yaml` has no Deployment `other`",
            id="deployment-missing",
        ),
    ],
)
def test_missing_fields_are_named(target: FieldTarget, text: str, message: str) -> None:
    with pytest.raises(FieldNotFoundError) as raised:
        edit_version(target, text, "9.9.9")
    assert message in str(raised.value)
    assert raised.value.path == target.path


def test_several_containers_and_no_name_is_ambiguous() -> None:
    with pytest.raises(AmbiguousFieldError, match=r"2 containers \(log-shipper, worker\)"):
        edit_version(
            FieldTarget(Layout.DEPLOYMENT_IMAGE, "w.yaml"), fleet.worker("stage"), "1.0.0"
        )


def test_the_container_named_like_the_deployment_is_picked() -> None:
    result = edit_version(
        FieldTarget(Layout.DEPLOYMENT_IMAGE, "w.yaml", name="worker"), fleet.worker("stage"), "3.0.0"
    )
    assert "registry:5000/org/worker:3.0.0" in result.new_text


@pytest.mark.parametrize(
    ("version", "rule"),
    [
        pytest.param("7.0.0", VersionRule(semver=">=6 <7"), id="outside-semver-range"),
        pytest.param("v6.6.0", VersionRule(pattern=r"\d+\.\d+\.\d+"), id="pattern-mismatch"),
        pytest.param('6.6.0"\nevil: true', None, id="yaml-injection"),
        pytest.param("", None, id="empty"),
    ],
)
def test_disallowed_versions_are_refused_before_editing(version: str, rule: VersionRule | None) -> None:
    with pytest.raises(VersionNotAllowedError):
        edit_version(fleet.target("podinfo", "stage"), fleet.podinfo_values("stage"), version, rule=rule)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("images:\n- name: app\n  newTag: |\n    1.0\n", id="block-scalar"),
        pytest.param("images:\n- name: app\n  newTag: &v 1.0\n", id="anchor"),
        pytest.param("images:\n- name: app\n  newTag: 1.0\n    .1\n", id="multi-line-plain"),
    ],
)
def test_values_that_are_not_one_line_scalars_are_refused(text: str) -> None:
    with pytest.raises(UnsupportedValueError):
        edit_version(FieldTarget(Layout.KUSTOMIZE_IMAGE, "k.yaml", image="app"), text, "2.0")


def test_invalid_yaml_is_an_edit_error_naming_the_file() -> None:
    with pytest.raises(EditError, match=r"`k\.yaml` is not valid YAML"):
        edit_version(FieldTarget(Layout.KUSTOMIZE_IMAGE, "k.yaml", image="app"), "images: [\n", "1")


def test_targets_resolve_templates_and_per_cluster_overrides() -> None:
    settings = fleet.settings()
    podinfo = resolve_target(settings, "podinfo", "prod")
    assert podinfo.target == fleet.target("podinfo", "prod")
    assert podinfo.rule.semver == ">=6 <7"
    assert podinfo.repository == "fleet"
    worker_stage = resolve_target(settings, "worker", "stage")
    worker_prod = resolve_target(settings, "worker", "prod")
    assert worker_stage.target == fleet.target("worker", "stage")
    assert worker_stage.rule.allows("v2")
    assert not worker_prod.rule.allows("v2")
    assert resolve_target(settings, "web", "stage").target == fleet.target("web", "stage")
    with pytest.raises(TargetError, match="no app `nope`"):
        resolve_target(settings, "nope", "stage")


def test_settings_refuse_unknown_placeholders_and_credentials_in_urls() -> None:
    with pytest.raises(ValueError, match="unknown placeholder"):
        fleet.settings().model_validate({"defaults": {"path": "apps/{env}/x.yaml"}})
    with pytest.raises(ValueError, match="not in the URL"):
        fleet.settings("https://bot:s3cret@git.example.com/fleet.git")
