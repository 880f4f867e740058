"""A TCP proxy on loopback in front of a real server that can hold back or swallow the next
reply: the command reached the server and ran, but the client does not hear so in time, or
its connection is lost before it does. What a busy network, a failover or a stalled server
does to a client, made to happen exactly once, on the next reply.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Literal

Mischief = Literal["delay", "drop"]


class ReplyProxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self._target = (host, target_port)
        self._listener = socket.create_server((host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._armed: tuple[Mischief, float] | None = None
        self.done = threading.Event()
        """Set once the armed mischief happened."""
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="reply-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def delay_next_reply(self, seconds: float) -> None:
        self._arm(("delay", seconds))

    def drop_next_reply(self) -> None:
        """The next reply is not passed on: the client's connection is closed instead."""
        self._arm(("drop", 0.0))

    def _arm(self, mischief: tuple[Mischief, float]) -> None:
        with self._lock:
            self._armed = mischief
            self.done.clear()

    def _take(self) -> tuple[Mischief, float] | None:
        with self._lock:
            armed, self._armed = self._armed, None
            return armed

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._target)
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                armed = self._take() if replies else None
                if armed is not None and armed[0] == "drop":
                    for end in (source, sink):
                        with contextlib.suppress(OSError):
                            end.shutdown(socket.SHUT_RDWR)
                    self.done.set()
                    return
                if armed is None:
                    sink.sendall(data)
                    continue
                time.sleep(armed[1])
                try:
                    sink.sendall(data)  # the client may have given up and closed by now
                finally:
                    self.done.set()
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()
        for each in self._sockets:
            with contextlib.suppress(OSError):
                each.close()


@contextlib.contextmanager
def reply_proxy(target_port: int) -> Iterator[ReplyProxy]:
    proxy = ReplyProxy(target_port)
    try:
        yield proxy
    finally:
        proxy.close()
