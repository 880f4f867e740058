"""Mutes shared by replicas: each replica's copy follows the store within the refresh interval,
a removal reads it first, and a store that cannot answer leaves the last copy in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsbot.alerts.mutes import Mute, MuteList
from opsbot.errors import StoreUnavailable

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def mute(mute_id: str, pattern: str = "test/web/api") -> Mute:
    return Mute(mute_id, pattern, NOW + timedelta(hours=1), "U0ALICE01", "api")


class Shared:
    """What the store holds (another replica adds to it), and a clock the test moves."""

    def __init__(self) -> None:
        self.mutes: list[Mute] = []
        self.reads = 0
        self.now = 100.0
        self.down = False

    def read(self) -> list[Mute]:
        self.reads += 1
        if self.down:
            raise StoreUnavailable("the shared store (Redis) is unavailable")
        return list(self.mutes)


def test_a_mute_another_replica_stored_counts_here_after_the_refresh_interval() -> None:
    shared, here = Shared(), MuteList()
    here.share(shared.read, every=2.0, clock=lambda: shared.now)
    assert here.muted("test/web/api", NOW) is None
    shared.mutes.append(mute("m1"))
    shared.now += 1.0
    assert here.muted("test/web/api", NOW) is None  # read a second ago: not yet
    shared.now += 1.5
    found = here.muted("test/web/api", NOW)
    assert found is not None and found.id == "m1"
    assert shared.reads == 2


def test_a_removal_reads_the_store_first_so_another_replicas_mute_can_be_removed() -> None:
    shared, here = Shared(), MuteList()
    here.share(shared.read, every=60.0, clock=lambda: shared.now)
    assert here.active(NOW) == []
    shared.mutes.append(mute("m2"))
    removed = here.remove("m2")
    assert removed is not None and removed.id == "m2"


def test_a_store_that_cannot_answer_leaves_the_last_copy() -> None:
    shared, here = Shared(), MuteList()
    here.share(shared.read, every=2.0, clock=lambda: shared.now)
    shared.mutes.append(mute("m3"))
    assert [m.id for m in here.active(NOW)] == ["m3"]
    shared.down = True
    shared.now += 5.0
    assert [m.id for m in here.active(NOW)] == ["m3"]
    assert shared.reads == 2


def test_one_replica_never_reads_anything() -> None:
    here = MuteList([mute("m4")])
    assert [m.id for m in here.active(NOW)] == ["m4"]
    assert here.remove("m4") is not None and here.active(NOW) == []
