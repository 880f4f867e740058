"""`opsbot run` keeps glibc from holding on to big freed buffers (opsbot.memory)."""

from __future__ import annotations

import ctypes
import sys

import pytest

from opsbot.memory import give_back_big_buffers


def glibc() -> bool:
    try:
        return hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux") or not glibc(), reason="glibc only")
def test_the_mmap_threshold_is_fixed_on_glibc() -> None:
    assert give_back_big_buffers({}) is True


def test_an_operators_malloc_setting_wins() -> None:
    assert give_back_big_buffers({"MALLOC_MMAP_THRESHOLD_": "262144"}) is False
