"""The decision-making packages stay free of I/O libraries (architecture rule)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "opsbot"
PURE_PACKAGES = ("commands", "alerts", "approvals")
FORBIDDEN = ("slack_sdk", "slack_bolt", "kubernetes", "aiohttp", "urllib3", "websockets", "sqlite3")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_do_not_import_io_libraries(package: str) -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in (PACKAGE / package).rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
        or module.startswith(("opsbot.slack", "opsbot.kube", "opsbot.store"))
    }
    assert offenders == set()


def test_no_shell_is_ever_started() -> None:
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for needle in ("shell=True", "os.system(", "os.popen(", "subprocess"):
            assert needle not in source, f"{path}: {needle}"
