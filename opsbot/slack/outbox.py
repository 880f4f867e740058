"""Every message opsbot sends to Slack goes through here.

Slack allows about one message per second per channel with short bursts. Instead of
hoping retries save us, each channel gets a token bucket and a single worker that
sends in priority order (command replies before alerts). A 429 pauses that channel
for Retry-After seconds; 5xx, timeouts and connection errors are retried with
jittered exponential backoff (tenacity); other Slack errors go back to the caller.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from opsbot.config import OutboxSettings

log = structlog.get_logger("opsbot.outbox")


class Priority(IntEnum):
    REPLY = 0
    ALERT = 1


SlackCall = Callable[[], Awaitable[AsyncSlackResponse]]


@dataclass(order=True)
class _Job:
    priority: int
    sequence: int
    paced: bool = field(compare=False)
    call: SlackCall = field(compare=False)
    done: asyncio.Future[dict[str, Any]] = field(compare=False)
    what: str = field(compare=False, default="")
    queued_at: float = field(compare=False, default_factory=time.monotonic)


class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up."""

    def __init__(self, rate: float, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._capacity = float(capacity)
        self._tokens = float(capacity)
        self._clock = clock
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def delay_for_next(self) -> float:
        """Seconds until a token is available (0 if one is there now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self._rate

    def take(self) -> None:
        self._refill()
        self._tokens -= 1


def _retry_after(exc: BaseException) -> float | None:
    if isinstance(exc, SlackApiError) and exc.response is not None and exc.response.status_code == 429:
        header = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
        try:
            return max(1.0, float(header)) if header is not None else 1.0
        except (TypeError, ValueError):
            return 1.0
    return None


def _is_temporary(exc: BaseException) -> bool:
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code if exc.response is not None else 0
        return status == 429 or status >= 500
    return isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError))


class Outbox:
    def __init__(self, client: AsyncWebClient, settings: OutboxSettings) -> None:
        self._client = client
        self._settings = settings
        self._queues: dict[str, asyncio.PriorityQueue[_Job]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._sequence = itertools.count()
        self._closed = False
        self._pending: dict[str, int] = {}
        self.sent = 0
        self.rate_limited = 0
        # Slack API calls made by the outbox (every attempt), and the failed ones, by method.
        self.calls: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self._queued: dict[int, float] = {}  # sequence → time.monotonic() when queued

    # public API ----------------------------------------------------------

    async def post(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        priority: Priority = Priority.REPLY,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        async def call() -> AsyncSlackResponse:
            return await self._client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                metadata=metadata,
            )

        return await self._submit(channel, call, paced=True, priority=priority, what="chat.postMessage")

    async def update(
        self, channel: str, ts: str, *, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        async def call() -> AsyncSlackResponse:
            return await self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

        return await self._submit(channel, call, paced=False, priority=Priority.REPLY, what="chat.update")

    async def ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        async def call() -> AsyncSlackResponse:
            return await self._client.chat_postEphemeral(
                channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts
            )

        return await self._submit(
            channel, call, paced=False, priority=Priority.REPLY, what="chat.postEphemeral"
        )

    async def upload(
        self,
        channel: str,
        *,
        content: str,
        filename: str,
        title: str,
        thread_ts: str | None,
        comment: str | None = None,
    ) -> dict[str, Any]:
        async def call() -> AsyncSlackResponse:
            return await self._client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                content=content,
                filename=filename,
                title=title,
                initial_comment=comment,
            )

        return await self._submit(channel, call, paced=True, priority=Priority.REPLY, what="files.upload")

    def pending(self, channel: str) -> int:
        """Messages waiting for one channel (queued plus the one being sent)."""
        return self._pending.get(channel, 0)

    def depth(self) -> int:
        return sum(queue.qsize() for queue in self._queues.values())

    def oldest_age(self) -> float:
        """Seconds the oldest message still waiting in a queue has waited (0 when none)."""
        if not self._queued:
            return 0.0
        return max(0.0, time.monotonic() - min(self._queued.values()))

    async def close(self, timeout: float = 10.0) -> None:
        """Stop taking work; let queued messages go out for up to `timeout` seconds."""
        self._closed = True
        pending = [task for task in self._workers.values() if not task.done()]
        if pending:
            await asyncio.wait(
                [asyncio.ensure_future(self._drain(q)) for q in self._queues.values()], timeout=timeout
            )
        for task in self._workers.values():
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)

    # internals -----------------------------------------------------------

    @staticmethod
    async def _drain(queue: asyncio.PriorityQueue[_Job]) -> None:
        await queue.join()

    async def _submit(
        self, channel: str, call: SlackCall, *, paced: bool, priority: Priority, what: str
    ) -> dict[str, Any]:
        if self._closed:
            raise RuntimeError("outbox is closed")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[dict[str, Any]] = loop.create_future()
        queue = self._queues.get(channel)
        if queue is None:
            queue = self._queues[channel] = asyncio.PriorityQueue()
            self._buckets[channel] = TokenBucket(self._settings.per_channel_per_second, self._settings.burst)
        job = _Job(int(priority), next(self._sequence), paced, call, done, what)
        self._queued[job.sequence] = job.queued_at
        queue.put_nowait(job)
        self._pending[channel] = self._pending.get(channel, 0) + 1
        worker = self._workers.get(channel)
        if worker is None or worker.done():
            self._workers[channel] = asyncio.create_task(self._work(channel), name=f"outbox:{channel}")
        return await done

    async def _work(self, channel: str) -> None:
        queue = self._queues[channel]
        bucket = self._buckets[channel]
        while True:
            try:
                job = await asyncio.wait_for(queue.get(), timeout=60)
            except TimeoutError:
                return  # idle channel: a new worker starts with the next message
            self._queued.pop(job.sequence, None)
            try:
                if job.done.cancelled():
                    continue
                result = await self._send(channel, bucket, job)
                if not job.done.done():
                    job.done.set_result(result)
            except Exception as exc:
                if not job.done.done():
                    job.done.set_exception(exc)
            finally:
                self._pending[channel] -= 1
                queue.task_done()

    async def _send(self, channel: str, bucket: TokenBucket, job: _Job) -> dict[str, Any]:
        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = _retry_after(exc) if exc else None
            if retry_after is not None:
                # The channel's single worker sleeps, so the whole channel pauses.
                self.rate_limited += 1
                log.warning("slack_rate_limited", channel=channel, method=job.what, retry_after=retry_after)
                return retry_after
            return float(backoff(state))

        backoff = wait_exponential_jitter(initial=0.5, max=10)
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_is_temporary),
            wait=wait,
            stop=stop_after_attempt(self._settings.max_attempts),
            reraise=True,
        ):
            with attempt:
                if job.paced:
                    delay = bucket.delay_for_next()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    bucket.take()
                self.calls[job.what] = self.calls.get(job.what, 0) + 1
                try:
                    response = await job.call()
                except Exception:
                    self.errors[job.what] = self.errors.get(job.what, 0) + 1
                    raise
                self.sent += 1
                data = response.data
                return data if isinstance(data, dict) else {}
        raise AssertionError("unreachable")
