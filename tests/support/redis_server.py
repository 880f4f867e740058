"""A real `redis-server` (Debian's package) on loopback, on a free port, in a temp dir.

`make test` installs the binary when it is missing (root + apt). Without it the Redis
tests skip, naming `make test`, unless `CI` is set: then a missing binary is a failure,
so CI can never go green by skipping them.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO

import pytest
import redis

from tests.support.loopback import free_port

READY_LINE = b"Ready to accept connections"
START_TIMEOUT = 10.0



def require_redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        message = "redis-server is not installed: `make test` installs it (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI is set, so this is a failure, not a skip")
        pytest.skip(message)
    return found


class RedisServer:
    """One redis-server process; `stop()` and `start()` again reuse the port and the directory."""

    def __init__(self, workdir: Path, *, appendonly: bool = False) -> None:
        self.binary = require_redis_server()
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.appendonly = appendonly
        self.appendfsync = "always"
        """With `appendonly`: `always` (tests: nothing acknowledged is lost) or `everysec`."""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        persistence = ["--appendonly", "yes", "--appendfsync", self.appendfsync] if self.appendonly else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--daemonize", "no",
             "--dir", str(self.workdir), "--save", "", *persistence, "--loglevel", "notice"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._await_ready()
        with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2) as client:
            assert client.ping()
        return self

    def _await_ready(self) -> None:
        """Read the server's log until it says it accepts connections (no polling of the port)."""
        assert self.process is not None and self.process.stdout is not None
        seen = b""
        deadline = time.monotonic() + START_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while READY_LINE not in seen:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(timeout=left):
                    raise RuntimeError(f"redis-server did not start: {seen.decode(errors='replace')[-2000:]}")
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"redis-server exited: {seen.decode(errors='replace')[-2000:]}")
                seen += chunk
        # Keep reading its log, so a full pipe can never block the server.
        threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True).start()

    @staticmethod
    def _drain(stream: IO[bytes]) -> None:
        try:
            while os.read(stream.fileno(), 65536):
                pass
        except OSError:
            pass
        finally:
            stream.close()

    def stop(self) -> None:
        """SIGTERM: Redis finishes its writes (the append-only file) and exits."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def running_redis(workdir: Path, *, appendonly: bool = False) -> Generator[RedisServer, None, None]:
    server = RedisServer(workdir, appendonly=appendonly).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    yield from running_redis(tmp_path / "redis")
