"""The delivery layer keeps its decisions pure: git, network and YAML-free I/O stay in the
modules named here, which the pure ones never import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "opsbot" / "releases"
IO_MODULES = {"git", "gitssh", "credentials", "direct", "service", "tracker"}
PURE = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in IO_MODULES | {"__init__"})
IO_LIBRARIES = ("dulwich", "paramiko", "urllib3", "kubernetes", "socket", "threading", "os", "subprocess")


def imported(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_pure_modules_are_the_expected_ones() -> None:
    assert PURE == [
        "changes",
        "errors",
        "fields",
        "fleet",
        "follow",
        "landing",
        "layouts",
        "ledger",
        "notices",
        "records",
        "rules",
        "settings",
        "targets",
        "undo",
        "yamledit",
    ]


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_do_no_io(module: str) -> None:
    names = imported(module)
    assert not {n for n in names if n.split(".")[0] in IO_LIBRARIES}
    assert not {n for n in names if n.startswith("opsbot.releases.") and n.rsplit(".", 1)[1] in IO_MODULES}
    assert not {
        n for n in names if n.startswith(("opsbot.kube", "opsbot.slack", "opsbot.store", "opsbot.config"))
    }


# What `opsbot.config` and the commands import of the release feature must not load a
# YAML or git library: ruamel, dulwich and paramiko load only where a repository file is
# read or a repository is reached.
LIGHT = ["changes", "errors", "fields", "fleet", "follow", "landing", "ledger", "notices", "records", "rules", "settings", "targets", "undo"]


@pytest.mark.parametrize("module", LIGHT)
def test_modules_the_config_and_commands_use_import_no_yaml_or_git_library(module: str) -> None:
    names = imported(module)
    assert not {n for n in names if n.split(".")[0] in ("ruamel", "dulwich", "paramiko")}
    assert not names & {"opsbot.releases.layouts", "opsbot.releases.yamledit", "opsbot.releases.git"}


def test_starting_without_a_repository_loads_no_git_or_yaml_library() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, opsbot.app, opsbot.commands.catalog as c; c.build_registry(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dulwich', 'paramiko', 'ruamel'}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
