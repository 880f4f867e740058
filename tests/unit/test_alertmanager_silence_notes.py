"""Silences that end are noted on their groups' cards. Each note is written over the group as
it is after the previous write's await: a notification that changed another group meanwhile
is kept, not overwritten by a copy read before it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from opsbot.alertmanager.groups import AlertGroup, SilenceNote
from opsbot.alertmanager.settings import AlertmanagerSettings
from opsbot.alertmanager.silencing import Silencer
from opsbot.alertmanager.state import State
from opsbot.ports import Document
from opsbot.store.sqlite import SqliteStore

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return NOW


class Announced:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def announce(self, key: str, text: object = None) -> None:
        self.keys.append(key)


class MeanwhileStore(SqliteStore):
    """A store whose first group write lets another task change the other group first."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.state: State | None = None
        self.meanwhile_done = False

    async def put_am_group(self, key: str, data: Document) -> None:
        if not self.meanwhile_done and self.state is not None and key == "am/a":
            self.meanwhile_done = True
            other = self.state.group("am/b")
            assert other is not None
            await self.state.put_group(replace(other, external_url="http://alertmanager:9093"))
        await super().put_am_group(key, data)


def group(key: str, silence_id: str) -> AlertGroup:
    note = SilenceNote((silence_id,), "U0ALICE01", "alice", NOW + timedelta(hours=1), ("f" * 16,))
    return AlertGroup(key, "opsbot", f"gk-{key}", {"alertname": key}, silences=(note,))


async def test_a_group_changed_while_another_groups_note_was_written_keeps_that_change() -> None:
    store = MeanwhileStore()
    state = State(store)
    await state.put_group(group("am/a", "s1"))
    await state.put_group(group("am/b", "s2"))
    store.state = state
    announced = Announced()
    silencer = Silencer(
        AlertmanagerSettings(), state, None, cast(Any, None), cast(Any, announced), Clock(),
        thread_link=cast(Any, None),
    )  # fmt: skip
    await silencer.end({"s1", "s2"}, "U0BOB0001")
    assert store.meanwhile_done
    b = state.group("am/b")
    assert b is not None and b.external_url == "http://alertmanager:9093"  # the change made meanwhile
    assert [note.state for note in b.silences] == ["removed"]
    stored = await store.am_group("am/b")
    assert stored is not None and stored["external_url"] == "http://alertmanager:9093"
    assert sorted(announced.keys) == ["am/a", "am/b"]
