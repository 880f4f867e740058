"""The delivery layer keeps its decisions pure: git, network and YAML-free I/O stay in the
modules named here, which the pure ones never import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "opsbot" / "releases"
IO_MODULES = {"git", "gitssh", "credentials", "direct"}
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
        "landing",
        "layouts",
        "rules",
        "settings",
        "targets",
        "undo",
        "versions",
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
