"""Architecture rules: a declared layering of opsbot's packages, no import cycles, and the
decision-making packages free of I/O libraries."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from opsbot.slack.render import EMOJI

PACKAGE = Path(__file__).resolve().parents[2] / "opsbot"
PURE_PACKAGES = ("core", "policy", "commands", "alerts", "approvals")
FORBIDDEN = ("slack_sdk", "slack_bolt", "kubernetes", "aiohttp", "urllib3", "websockets", "sqlite3")

# Lowest first. A package may import packages of its own layer or below, never above.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "logs", "memory", "__init__"}),  # leaves (`opsbot/__init__.py`: the version)
    frozenset({"core"}),  # neutral vocabulary: requests, replies, plans, audit records, objects, rows
    frozenset({"ports", "telemetry"}),  # the boundaries the core talks to; tracing/error reporting
    frozenset({"policy"}),  # who may do what, rate limits
    frozenset({"ha", "alerts", "approvals", "releases"}),  # features (releases: pure decisions + git I/O in releases.git)
    frozenset({"commands"}),  # the command registry (incidents/mutes read the alert pipeline)
    frozenset({"slack", "store", "alertmanager"}),  # edges that need no config; Alertmanager in the loop
    frozenset({"config"}),  # aggregates every feature's settings section
    frozenset({"kube", "wiring"}),  # the Kubernetes edge; the core built from Settings
    frozenset({"health", "console", "doctor"}),  # operability and front ends other than Slack
    frozenset({"app"}),  # composition root of the Slack bot
    frozenset({"cli", "__main__"}),
)
LAYER_OF = {package: index for index, layer in enumerate(LAYERS) for package in layer}


def unit_of(module: str) -> str:
    """`opsbot.commands.router` → `commands`; `opsbot.app` → `app`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, *, runtime_only: bool = False) -> set[str]:
    """opsbot modules imported by `path` (relative imports resolved). `runtime_only` skips
    imports under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(child) for child in ast.walk(node))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # `from opsbot.alerts.detectors import pods` imports the submodule, not just the package.
            submodules = [f"{source}.{alias.name}" for alias in node.names if is_module(f"{source}.{alias.name}")]
            names.update(submodules or [source])
    return {name for name in names if name == "opsbot" or name.startswith("opsbot.")}


def is_module(dotted: str) -> bool:
    relative = Path(*dotted.split("."))
    root = PACKAGE.parent
    return (root / relative).with_suffix(".py").is_file() or (root / relative / "__init__.py").is_file()


def package_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        source = unit_of(module_name(path))
        for target in imports(path):
            if target != "opsbot" and unit_of(target) != source:
                edges[source].add(unit_of(target))
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_every_package_has_a_layer() -> None:
    units = {unit_of(module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert units - set(LAYER_OF) == set(), "add the new package to LAYERS"


def test_packages_import_only_their_own_layer_or_below() -> None:
    upward = {
        f"{source} -> {target}"
        for source, targets in package_edges().items()
        for target in targets
        if LAYER_OF[target] > LAYER_OF[source]
    }
    assert upward == set()


def test_packages_form_no_cycles() -> None:
    assert cycles(package_edges()) == []


def test_modules_form_no_import_cycles_at_runtime() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        source = module_name(path)
        for target in imports(path, runtime_only=True):
            # `from opsbot.core import kubeobjects` names a module, `from opsbot.core.x import y` a name.
            if target != source:
                edges[source].add(target)
    assert cycles(edges) == []


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_do_not_import_io_libraries(package: str) -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in (PACKAGE / package).rglob("*.py")
        for module in imports_any(path)
        if module.split(".")[0] in FORBIDDEN
        or module.startswith(("opsbot.slack", "opsbot.kube", "opsbot.store", "opsbot.config"))
    }
    assert offenders == set()


def imports_any(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_shell_is_ever_started() -> None:
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for needle in ("shell=True", "os.system(", "os.popen(", "subprocess"):
            assert needle not in source, f"{path}: {needle}"


def test_a_planted_cycle_is_found() -> None:
    """The cycle finder itself can fail: a two-package loop is reported."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


# Chat markup stays at the edge: only opsbot/slack/ writes Slack mrkdwn. Everything
# else builds neutral text (opsbot.core.reply) that the renderers turn into output.
SLACK_PACKAGE = "slack"
MARKUP_ALLOWED = {
    # Reads what Slack delivers (undoes `<@U1>`, `<#C1|x>`, `<!here>` in what people type).
    "commands/text.py",
}
_EMOJI_CODE = re.compile(r"(?<![\w:]):[a-z0-9_+\-]+:(?![\w:])")
_NOT_EMOJI = {":memory:"}  # sqlite's in-memory database


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: prose about markup is fine, output is not."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def chat_markup(source: str, name: str) -> list[str]:
    """String literals (f-string pieces included) that contain Slack mentions or emoji codes."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in skip:
            continue
        text = node.value
        emoji = [code for code in _EMOJI_CODE.findall(text) if code not in _NOT_EMOJI]
        emoji += [code for code in EMOJI.values() if code in text]
        if any(marker in text for marker in ("<@", "<#", "<!")) or emoji:
            found.append((node.lineno, text))
    return [f"{name}:{line}: {text[:60]!r}" for line, text in sorted(found)]


def test_no_module_outside_the_slack_package_writes_mentions_or_emoji() -> None:
    offenders = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if (name := path.relative_to(PACKAGE).as_posix()).split("/")[0] != SLACK_PACKAGE
        and name not in MARKUP_ALLOWED
        for hit in chat_markup(path.read_text(encoding="utf-8"), name)
    ]
    assert offenders == []


def test_the_markup_check_finds_mentions_and_emoji_but_not_prose_or_ids() -> None:
    sample = (
        '"""Docstrings may say <@U1> and :x:."""\n'
        'A = f"<@{1}> did it"\n'
        'B = "all good :white_check_mark:"\n'
        'C = "opsbot:approval:confirm"\n'
        'D = "fine: nothing :here"\n'
        'E = "<!channel>"\n'
        'F = ":no_bell: muted"\n'
    )
    assert [hit.split(":")[1] for hit in chat_markup(sample, "sample.py")] == ["2", "3", "6", "7"]
