"""Reading a streaming (``_preload_content=False``) urllib3 response and giving it back."""

from __future__ import annotations

import contextlib
import http.client
import socket
from collections.abc import Iterator
from typing import Any

import urllib3

# What a dropped or broken connection looks like while reading a stream.
STREAM_ERRORS: tuple[type[Exception], ...] = (
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


def read_chunks(resp: Any) -> Iterator[bytes]:
    """The body of a streaming urllib3 response as it arrives (each HTTP chunk when chunked)."""
    if getattr(resp, "chunked", False) and resp.supports_chunked_reads():
        yield from resp.read_chunked(decode_content=True)
        return
    while True:
        data: bytes = resp.read1(65536)
        if not data:
            return
        yield data


def close_response(resp: Any, *, fully_read: bool) -> None:
    """Give a ``_preload_content=False`` response's connection back (closed unless fully read)."""
    with contextlib.suppress(Exception):
        if not fully_read:
            resp.close()
        resp.release_conn()


def shut_down(resp: Any) -> None:
    """Shut the socket of an in-flight response (from any thread): a read blocked on it returns at once."""
    try:
        resp.shutdown()  # urllib3 >= 2.3: shutdown(SHUT_RD) of the response's socket
    except Exception:
        conn = getattr(resp, "connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
