"""Mutes shared by replicas: each replica's copy follows the store within the refresh interval
(or at once when asked), and a store that cannot answer leaves the last copy in place. That a
removal reads the store first is the alert service's part (test_alert_leadership)."""

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

    async def read(self) -> list[Mute]:
        self.reads += 1
        if self.down:
            raise StoreUnavailable("the shared store (Redis) is unavailable")
        return list(self.mutes)


async def test_a_mute_another_replica_stored_counts_here_after_the_refresh_interval() -> None:
    shared, here = Shared(), MuteList()
    here.share(shared.read, every=2.0, clock=lambda: shared.now)
    await here.refresh()
    assert here.muted("test/web/api", NOW) is None
    shared.mutes.append(mute("m1"))
    shared.now += 1.0
    await here.refresh()
    assert here.muted("test/web/api", NOW) is None  # read a second ago: not yet
    shared.now += 1.5
    await here.refresh()
    found = here.muted("test/web/api", NOW)
    assert found is not None and found.id == "m1"
    assert shared.reads == 2


async def test_a_refresh_asked_for_now_reads_within_the_interval() -> None:
    shared, here = Shared(), MuteList()
    here.share(shared.read, every=60.0, clock=lambda: shared.now)
    await here.refresh()
    assert here.active(NOW) == []
    shared.mutes.append(mute("m2"))
    await here.refresh()
    assert here.active(NOW) == [] and shared.reads == 1
    await here.refresh(now=True)
    assert [m.id for m in here.active(NOW)] == ["m2"] and shared.reads == 2


async def test_a_store_that_cannot_answer_leaves_the_last_copy() -> None:
    shared, here = Shared(), MuteList()
    here.share(shared.read, every=2.0, clock=lambda: shared.now)
    shared.mutes.append(mute("m3"))
    await here.refresh()
    assert [m.id for m in here.active(NOW)] == ["m3"]
    shared.down = True
    shared.now += 5.0
    await here.refresh()
    assert [m.id for m in here.active(NOW)] == ["m3"]
    assert shared.reads == 2


async def test_one_replica_never_reads_anything() -> None:
    here = MuteList([mute("m4")])
    await here.refresh(now=True)
    assert [m.id for m in here.active(NOW)] == ["m4"]
    assert here.remove("m4") is not None and here.active(NOW) == []
