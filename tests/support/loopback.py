"""An aiohttp app served on a free loopback port: the shape every small test server shares."""

from __future__ import annotations

import gzip
import socket
import zlib

from aiohttp import web


def free_port() -> int:
    """A TCP port nothing listens on right now, on loopback (for a server started next)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LoopbackSite:
    def __init__(self, *, auto_decompress: bool = False, shutdown_timeout: float = 60.0) -> None:
        # auto_decompress=False: bodies stay as sent, for servers that decode them like the real ones.
        self._auto_decompress = auto_decompress
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def started(self) -> bool:
        return self._runner is not None

    @property
    def port(self) -> int:
        assert self._port is not None, "server not started"
        return self._port

    async def start(self, app: web.Application) -> None:
        runner = web.AppRunner(
            app,
            access_log=None,
            auto_decompress=self._auto_decompress,
            shutdown_timeout=self._shutdown_timeout,
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def decompress(body: bytes, encoding: str) -> bytes:
    """A request body by its Content-Encoding, as a collector or ingest decodes it."""
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding not in ("", "identity"):
        raise web.HTTPUnsupportedMediaType(text=f"unsupported Content-Encoding {encoding!r}")
    return body
