"""Test driving: event-driven waits for posts, files, acks, calls, envelopes and sockets.

Every helper re-checks on each state change (no polling) and raises AssertionError
describing what it saw when the timeout passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .core import EmulatorCore
from .records import Envelope, Post, UploadedFile


class Waiting(EmulatorCore):
    """wait_for_* helpers and settle()."""

    async def wait_for_post(
        self,
        predicate: Callable[[Post], bool] | None = None,
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
        method: str | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> Post:
        """First post at index >= after matching every filter; AssertionError on timeout."""

        def matches(post: Post) -> bool:
            return (
                (channel is None or post.channel == channel)
                and (thread_ts is None or post.thread_ts == thread_ts)
                and (method is None or post.method == method)
                and (predicate is None or predicate(post))
            )

        def check() -> Post | None:
            return next((p for p in self.posts[after:] if matches(p)), None)

        def describe() -> str:
            wanted = f"channel={channel} thread_ts={thread_ts} method={method} after={after}"
            lines = [
                f"  [{i}] {p.method} channel={p.channel} ts={p.ts} thread_ts={p.thread_ts} "
                f"user={p.user} text={p.text[:120]!r}"
                for i, p in enumerate(self.posts)
            ]
            return f"no matching post within {timeout}s ({wanted}); posts so far:\n" + (
                "\n".join(lines) or "  (none)"
            )

        return await self._wait_until(check, timeout, describe)

    async def wait_for_file(
        self,
        *,
        channel: str | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> UploadedFile:
        """First uploaded file (optionally in `channel`); AssertionError on timeout."""

        def check() -> UploadedFile | None:
            return next((f for f in self.files[after:] if channel is None or f.channel == channel), None)

        def describe() -> str:
            listing = [f"  {f.file_id} {f.filename} channel={f.channel}" for f in self.files]
            return f"no file for channel={channel} within {timeout}s; files:\n" + (
                "\n".join(listing) or "  (none)"
            )

        return await self._wait_until(check, timeout, describe)

    async def wait_for_ack(
        self,
        envelope_id: str,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The ack frame a client sent for `envelope_id`."""
        return await self._wait_until(
            lambda: self.acks.get(envelope_id),
            timeout,
            lambda: f"no ack for envelope {envelope_id} within {timeout}s; acked: {sorted(self.acks)}",
        )

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        *,
        timeout: float = 5.0,
        after: int = 0,
    ) -> dict[str, Any]:
        """Args of the first handled Web API call to `method` (index >= after in calls)."""

        def check() -> dict[str, Any] | None:
            for name, args in self.calls[after:]:
                if name == method and (predicate is None or predicate(args)):
                    return args
            return None

        return await self._wait_until(
            check,
            timeout,
            lambda: f"no {method} call within {timeout}s; calls: {[m for m, _ in self.calls]}",
        )

    async def wait_for_envelope(
        self,
        predicate: Callable[[Envelope], bool] | None = None,
        *,
        kind: str | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> Envelope:
        """First envelope sent (index >= after in envelopes) of `kind` matching `predicate`."""

        def check() -> Envelope | None:
            for env in self.envelopes[after:]:
                if (kind is None or env.type == kind) and (predicate is None or predicate(env)):
                    return env
            return None

        return await self._wait_until(
            check,
            timeout,
            lambda: (
                f"no matching {kind or 'any'} envelope within {timeout}s; sent "
                f"{[(e.type, e.envelope_id) for e in self.envelopes]}"
            ),
        )

    async def wait_connected(
        self,
        count: int = 1,
        timeout: float = 10.0,
    ) -> None:
        """Until `count` sockets in total (since start) have been sent hello."""
        await self._wait_until(
            lambda: True if self.hello_count >= count else None,
            timeout,
            lambda: f"only {self.hello_count} of {count} connections within {timeout}s",
        )

    async def wait_disconnected(
        self,
        open_count: int = 0,
        timeout: float = 5.0,
    ) -> None:
        """Until at most `open_count` sockets remain open."""
        await self._wait_until(
            lambda: True if self.open_connections <= open_count else None,
            timeout,
            lambda: f"{self.open_connections} sockets still open after {timeout}s",
        )

    def delivered(self) -> bool:
        """No echo is on its way and every envelope sent over a socket still open is acked."""
        open_ids = {c.conn_id for c in self._conns if not c.ws.closed}
        return not self._echoes and all(
            e.envelope_id in self.acks or e.connection_id not in open_ids for e in self.envelopes
        )

    async def wait_delivered(self, timeout: float = 5.0) -> None:
        """Until delivered() holds: everything sent so far reached the client and was acked."""
        await self._wait_until(
            lambda: True if self.delivered() else None,
            timeout,
            lambda: (
                f"not delivered within {timeout}s: {self._echoes} echoes on their way, unacked "
                f"{[(e.type, e.envelope_id) for e in self.envelopes if e.envelope_id not in self.acks]}"
            ),
        )

    async def settle(self, timeout: float = 1.0) -> bool:
        """Wait until pending echoes are delivered and acked; False if that timed out.

        Why: a test usually ends right after the bot's last post, whose echo is still
        in flight; closing the client then makes it log failed acks. Call before closing.
        """
        try:
            await self._wait_until(
                lambda: (
                    True
                    if not self._tasks and all(e.envelope_id in self.acks for e in self.envelopes if e.echo)
                    else None
                ),
                timeout,
                lambda: "echoes not settled",
            )
        except AssertionError:
            return False
        return True
