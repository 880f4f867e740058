"""Saved contexts: set, read, kept alive by use, forgotten when idle (once), on every store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from opsbot.commands.contexts import TOUCH_EVERY, ContextBook, MemoryContexts, SavedContext
from opsbot.ports import ContextStore
from opsbot.store.sqlite import SqliteStore

HOUR = 3600.0
PODINFO = SavedContext("prod", "web", "podinfo", "Deployment", "U0ALICE01", 0.0, 0.0)


def sqlite(tmp_path: Path) -> ContextStore:
    return SqliteStore(tmp_path / "opsbot.db")


def memory(tmp_path: Path) -> ContextStore:
    return MemoryContexts()


STORES = pytest.mark.parametrize("make", [sqlite, memory], ids=["sqlite", "memory"])


@STORES
def test_a_context_is_read_back_as_it_was_set(make: Callable[[Path], ContextStore], tmp_path: Path) -> None:
    book = ContextBook(make(tmp_path), idle_seconds=12 * HOUR)
    book.set_person("U0ALICE01", "C0WEB00001", PODINFO, now=100.0)
    found = book.person("U0ALICE01", "C0WEB00001", now=100.0)
    assert found.saved is not None and found.expired is None
    assert (found.saved.cluster, found.saved.namespace, found.saved.app, found.saved.kind) == (
        "prod",
        "web",
        "podinfo",
        "Deployment",
    )
    assert found.saved.used_at == 100.0
    assert book.person("U0ALICE01", "C0OTHER001", now=100.0).saved is None  # per channel
    assert book.person("U0BOB0001", "C0WEB00001", now=100.0).saved is None  # per person


@STORES
def test_an_idle_context_expires_and_is_reported_once(
    make: Callable[[Path], ContextStore], tmp_path: Path
) -> None:
    book = ContextBook(make(tmp_path), idle_seconds=12 * HOUR)
    book.set_person("U0ALICE01", "C0WEB00001", PODINFO, now=0.0)
    assert book.person("U0ALICE01", "C0WEB00001", now=12 * HOUR).saved is not None  # the edge still counts
    late = book.person("U0ALICE01", "C0WEB00001", now=24 * HOUR + 1)
    assert late.saved is None and late.expired is not None and late.expired.app == "podinfo"
    assert book.person("U0ALICE01", "C0WEB00001", now=24 * HOUR + 2) == type(late)()


@STORES
def test_using_a_context_keeps_it_alive(make: Callable[[Path], ContextStore], tmp_path: Path) -> None:
    book = ContextBook(make(tmp_path), idle_seconds=HOUR)
    book.set_person("U0ALICE01", "C0WEB00001", PODINFO, now=0.0)
    for minute in range(50, 500, 50):  # used every 50 minutes for 8 hours
        assert book.person("U0ALICE01", "C0WEB00001", now=minute * 60.0).saved is not None
    peeked = book.peek("U0ALICE01", "C0WEB00001", now=450 * 60.0)
    assert peeked is not None and peeked.used_at == 450 * 60.0


@STORES
def test_use_is_written_back_at_most_once_a_minute(
    make: Callable[[Path], ContextStore], tmp_path: Path
) -> None:
    book = ContextBook(make(tmp_path), idle_seconds=HOUR)
    book.set_person("U0ALICE01", "C0WEB00001", PODINFO, now=0.0)
    book.person("U0ALICE01", "C0WEB00001", now=TOUCH_EVERY - 1)
    assert book.peek("U0ALICE01", "C0WEB00001", now=TOUCH_EVERY) == PODINFO
    book.person("U0ALICE01", "C0WEB00001", now=TOUCH_EVERY)
    saved = book.peek("U0ALICE01", "C0WEB00001", now=TOUCH_EVERY)
    assert saved is not None and saved.used_at == TOUCH_EVERY


@STORES
def test_a_channel_pin_never_expires_and_clears(make: Callable[[Path], ContextStore], tmp_path: Path) -> None:
    book = ContextBook(make(tmp_path), idle_seconds=HOUR)
    book.set_channel(
        "C0PAY00001", SavedContext("prod", "pay", "ledger", "Deployment", "U0ADMIN01", 0.0), now=0.0
    )
    pin = book.channel("C0PAY00001")
    assert pin is not None and pin.app == "ledger" and pin.set_by == "U0ADMIN01"
    assert book.clear_channel("C0PAY00001") and book.channel("C0PAY00001") is None
    assert not book.clear_channel("C0PAY00001")


@STORES
def test_clearing_forgets_only_that_persons_context_here(
    make: Callable[[Path], ContextStore], tmp_path: Path
) -> None:
    book = ContextBook(make(tmp_path), idle_seconds=HOUR)
    book.set_person("U0ALICE01", "C0WEB00001", PODINFO, now=0.0)
    book.set_person("U0ALICE01", "C0PAY00001", PODINFO, now=0.0)
    assert book.clear_person("U0ALICE01", "C0WEB00001")
    assert book.peek("U0ALICE01", "C0WEB00001", now=1.0) is None
    assert book.peek("U0ALICE01", "C0PAY00001", now=1.0) is not None


def test_sqlite_contexts_survive_reopening_the_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "opsbot.db")
    ContextBook(store, idle_seconds=HOUR).set_person("U0ALICE01", "C0WEB00001", PODINFO, now=5.0)
    store.close()
    again = ContextBook(SqliteStore(tmp_path / "opsbot.db"), idle_seconds=HOUR)
    assert again.peek("U0ALICE01", "C0WEB00001", now=6.0) == replace(PODINFO, used_at=5.0)


def test_a_record_with_missing_or_odd_fields_reads_as_unset() -> None:
    saved = SavedContext.from_data({"app": "", "namespace": 3, "cluster": "prod"}, used_at=1.0)
    assert (saved.cluster, saved.namespace, saved.app, saved.kind) == ("prod", None, None, None)
