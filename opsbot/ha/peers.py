"""Where each replica's internal port can be reached by the others (identity → base URL).

A replica derives its URL once its health server listens (`advertised_url`, pure), then
publishes it in the shared store with a time to live and refreshes it every retry period
(`Advertiser`); at shutdown it withdraws it. A replica that crashed disappears when its
entry expires. The store behind `PeerDirectory` is Redis (opsbot.store.redis.peers); its
calls are short and made on the event loop, like every store call.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping
from typing import Protocol

import structlog

log = structlog.get_logger("opsbot.ha")


class PeerDirectory(Protocol):
    async def publish(self, identity: str, url: str, ttl: float) -> None:
        """`identity` is reachable at `url` for the next `ttl` seconds."""
        ...

    async def lookup(self, identity: str) -> str | None:
        """`identity`'s URL, or None when it has published none (or it expired)."""
        ...

    async def withdraw(self, identity: str, url: str) -> None:
        """Forget `identity`'s entry if it still says `url`."""
        ...


def advertised_url(configured: str | None, environ: Mapping[str, str], port: int | None) -> str | None:
    """`ha.advertise_url` when set; else http://$POD_IP:`port` (an IPv6 address in brackets);
    None when neither is known (then this replica neither advertises nor forwards)."""
    if configured:
        return configured.rstrip("/")
    raw = environ.get("POD_IP", "").strip()
    if not raw or port is None or port <= 0:
        return None
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{host}:{port}"


class Advertiser:
    """Publishes this replica's URL now and every `every` seconds; withdraws it at `stop`."""

    def __init__(self, peers: PeerDirectory, identity: str, url: str, *, ttl: float, every: float) -> None:
        self._peers = peers
        self.identity = identity
        self.url = url
        self._ttl = ttl
        self._every = every
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def start(self) -> None:
        await self._publish()
        self._task = asyncio.create_task(self._loop(), name="peer-advertiser")
        log.info("peer_url_advertised", identity=self.identity, url=self.url)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self._peers.withdraw(self.identity, self.url)
        except Exception as exc:  # best effort: the entry expires on its own
            log.warning("peer_url_withdraw_failed", error=str(exc)[:200])

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            await self._publish()

    async def _publish(self) -> None:
        try:
            await self._peers.publish(self.identity, self.url, self._ttl)
        except Exception as exc:
            if not self._failing:
                log.warning("peer_url_publish_failed", error=str(exc)[:200])
            self._failing = True
            return
        if self._failing:
            log.info("peer_url_published_again")
        self._failing = False
