"""`PeerDirectory` (opsbot.ha.peers) in Redis: `<key_prefix>peer:<identity>` → the replica's
base URL, with a time to live (`SET PX`); withdrawn only while it still holds this replica's
URL (one short script), so a replica that restarted under the same identity keeps its entry."""

from __future__ import annotations

from opsbot.store.redis.client import Connection

# KEYS: the entry. ARGV: the URL it must still hold.
WITHDRAW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisPeers:
    def __init__(self, connection: Connection, *, key_prefix: str = "opsbot:") -> None:
        self._c = connection
        self._prefix = key_prefix + "peer:"
        self._withdraw = connection.async_script(WITHDRAW)

    async def publish(self, identity: str, url: str, ttl: float) -> None:
        key = self._prefix + identity
        await self._c.arun(lambda r: r.set(key, url, px=max(1, int(ttl * 1000))), "peer_publish")

    async def lookup(self, identity: str) -> str | None:
        key = self._prefix + identity
        found = await self._c.arun(lambda r: r.get(key), "peer_lookup")
        return str(found) if found is not None else None

    async def withdraw(self, identity: str, url: str) -> None:
        key = self._prefix + identity
        await self._c.arun(lambda r: self._withdraw(keys=[key], args=[url], client=r), "peer_withdraw")
