"""`make` refuses a Python that is too old and rebuilds a virtualenv another Python left."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-n", *args], cwd=directory, capture_output=True, text=True, timeout=60)


def fake_python(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\ncase "$*" in *">= (3, 11)"*) echo {version >= "3.11"};; *) echo {version};; esac\n')
    path.chmod(0o755)
    return path


def test_a_virtualenv_built_by_another_python_is_rebuilt(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    fake_python(tmp_path / ".venv" / "bin" / "python", "3.10")
    result = make(tmp_path, "clean")
    assert "was built with Python 3.10" in result.stdout and "rebuilding it" in result.stdout
    assert not (tmp_path / ".venv").exists()


def test_a_python_older_than_3_11_is_refused_in_one_line(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    old = fake_python(tmp_path / "old" / "python3", "3.10")
    result = make(tmp_path, f"PYTHON={old}", "lint")
    assert result.returncode != 0
    assert "opsbot needs Python >= 3.11" in result.stderr and "is 3.10" in result.stderr
