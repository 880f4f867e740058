"""Every message opsbot sends to Slack goes through here.

Slack allows about one message per second per channel with short bursts. Instead of
hoping retries save us, each channel has a budget (a token bucket: in this process, or
shared by the replicas in Redis, see `opsbot.core.pacing`) and a single worker that
sends in priority order (command replies before alerts). A 429 pauses that channel
for Retry-After seconds; 5xx, timeouts and connection errors are retried with
jittered exponential backoff (tenacity); other Slack errors go back to the caller.

Messages still unsent when the bot stops (Slack down, a long backlog) are written to a
journal and sent after the next start, so a shutdown never swallows an answer.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

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

from opsbot.core.pacing import ChannelBudget, LocalBudget
from opsbot.slack.settings import OutboxSettings

log = structlog.get_logger("opsbot.outbox")


class Priority(IntEnum):
    REPLY = 0
    ALERT = 1


SlackCall = Callable[[], Awaitable[AsyncSlackResponse]]
# Unsent messages older than this are dropped at start: a very late answer is noise.
REPLAY_MAX_AGE_SECONDS = 3600.0
_REPLAYABLE = {"chat.postMessage", "chat.update"}


class OutboxClosedError(RuntimeError):
    """The bot stopped before this message went out; it is in the journal if it was durable."""


class OutboxJournal(Protocol):
    """Where unsent messages wait across a restart (the store)."""

    async def save_unsent(self, records: list[dict[str, Any]]) -> None: ...

    async def take_unsent(self) -> list[dict[str, Any]]: ...


@dataclass(order=True)
class _Job:
    priority: int
    sequence: int
    paced: bool = field(compare=False)
    call: SlackCall = field(compare=False)
    done: asyncio.Future[dict[str, Any]] = field(compare=False)
    what: str = field(compare=False, default="")
    queued_at: float = field(compare=False, default_factory=time.monotonic)
    # Method and arguments, for the journal; None: not worth sending after a restart.
    record: dict[str, Any] | None = field(compare=False, default=None)
    # True while its HTTP call is under way: it may land, so it is never journaled.
    in_call: bool = field(compare=False, default=False)


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
    def __init__(
        self,
        client: AsyncWebClient,
        settings: OutboxSettings,
        journal: OutboxJournal | None = None,
        budget: ChannelBudget | None = None,
    ) -> None:
        """`budget`: how channels are paced; by default a token bucket per channel in memory."""
        self._client = client
        self._settings = settings
        self._journal = journal
        self._budget = budget or LocalBudget(settings.per_channel_per_second, settings.burst)
        self._current: dict[str, _Job] = {}
        self._queues: dict[str, asyncio.PriorityQueue[_Job]] = {}
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
        self._replays: set[asyncio.Task[None]] = set()
        # Jobs submitted and not yet finished (queued or being sent); `_settled` is set at 0.
        self._unfinished = 0
        self._settled = asyncio.Event()
        self._settled.set()

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
        durable: bool = True,
    ) -> dict[str, Any]:
        """`durable=False`: drop it at shutdown instead of sending it after the next start
        (for messages something else re-creates, like incident roots)."""
        args: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks, "thread_ts": thread_ts}
        if metadata is not None:
            args["metadata"] = metadata
        call = self._replayable("chat.postMessage", args)
        record = {"method": "chat.postMessage", "args": args} if durable else None
        return await self._submit(
            channel, call, paced=True, priority=priority, what="chat.postMessage", record=record
        )

    async def update(
        self, channel: str, ts: str, *, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"channel": channel, "ts": ts, "text": text, "blocks": blocks}
        call = self._replayable("chat.update", args)
        return await self._submit(
            channel,
            call,
            paced=False,
            priority=Priority.REPLY,
            what="chat.update",
            record={"method": "chat.update", "args": args},
        )

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

    async def idle(self) -> None:
        """Return once nothing is queued or being sent, journal replays included."""
        while self._replays or self._unfinished:
            if self._replays:
                await asyncio.wait(set(self._replays))
            else:
                await self._settled.wait()

    def depth(self) -> int:
        return sum(queue.qsize() for queue in self._queues.values())

    def oldest_age(self) -> float:
        """Seconds the oldest message still waiting in a queue has waited (0 when none)."""
        if not self._queued:
            return 0.0
        return max(0.0, time.monotonic() - min(self._queued.values()))

    async def close(self, timeout: float = 10.0) -> None:
        """Stop taking work; let queued messages go out for up to `timeout` seconds, then
        journal what is left (nothing whose HTTP call is under way: it may have landed)."""
        self._closed = True
        pending = [task for task in self._workers.values() if not task.done()]
        if pending:
            await asyncio.wait(
                [asyncio.ensure_future(self._drain(q)) for q in self._queues.values()], timeout=timeout
            )
        left: list[_Job] = [job for job in self._current.values() if not job.in_call and not job.done.done()]
        for queue in self._queues.values():
            while not queue.empty():
                left.append(queue.get_nowait())
                queue.task_done()
                self._finished()
        for task in self._workers.values():
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        await self._journal_unsent(sorted(left))

    async def _journal_unsent(self, jobs: list[_Job]) -> None:
        records = [
            {**job.record, "saved_at": time.time()}
            for job in jobs
            if job.record is not None and not job.done.done()
        ]
        for job in jobs:
            if not job.done.done():
                job.done.set_exception(OutboxClosedError("opsbot stopped before this message was sent"))
                job.done.exception()  # retrieved: nobody may be waiting any more
        if not records:
            return
        if self._journal is None:
            log.warning("outbox_unsent_dropped", messages=len(records))
            return
        try:
            await self._journal.save_unsent(records)
            log.info("outbox_unsent_saved", messages=len(records))
        except Exception:
            log.exception("outbox_unsent_save_failed", messages=len(records))

    async def replay(self) -> int:
        """Send what the last run could not; returns how many messages were queued again."""
        if self._journal is None:
            return 0
        try:
            records = await self._journal.take_unsent()
        except Exception:
            log.exception("outbox_replay_load_failed")
            return 0
        now = time.time()
        queued = 0
        for record in records:
            method, args = record.get("method"), record.get("args")
            if method not in _REPLAYABLE or not isinstance(args, dict) or not args.get("channel"):
                continue
            if now - float(record.get("saved_at", 0)) > REPLAY_MAX_AGE_SECONDS:
                log.info("outbox_replay_too_old", method=method, channel=args["channel"])
                continue
            task = asyncio.create_task(self._resend(str(method), args), name="outbox-replay")
            self._replays.add(task)
            task.add_done_callback(self._replays.discard)
            queued += 1
        if queued:
            log.info("outbox_replayed", messages=queued)
        return queued

    async def _resend(self, method: str, args: dict[str, Any]) -> None:
        try:
            await self._submit(
                str(args["channel"]),
                self._replayable(method, args),
                paced=method == "chat.postMessage",
                priority=Priority.REPLY,
                what=method,
                record={"method": method, "args": args},
            )
        except Exception as exc:
            log.warning("outbox_replay_failed", method=method, channel=args.get("channel"), error=str(exc)[:300])

    def _replayable(self, method: str, args: dict[str, Any]) -> SlackCall:
        async def call() -> AsyncSlackResponse:
            if method == "chat.postMessage":
                return await self._client.chat_postMessage(**args, unfurl_links=False, unfurl_media=False)
            return await self._client.chat_update(**args)

        return call

    # internals -----------------------------------------------------------

    @staticmethod
    async def _drain(queue: asyncio.PriorityQueue[_Job]) -> None:
        await queue.join()

    async def _submit(
        self,
        channel: str,
        call: SlackCall,
        *,
        paced: bool,
        priority: Priority,
        what: str,
        record: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if self._closed:
            raise OutboxClosedError("outbox is closed")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[dict[str, Any]] = loop.create_future()
        queue = self._queues.get(channel)
        if queue is None:
            queue = self._queues[channel] = asyncio.PriorityQueue()
        job = _Job(int(priority), next(self._sequence), paced, call, done, what, record=record)
        self._queued[job.sequence] = job.queued_at
        queue.put_nowait(job)
        self._pending[channel] = self._pending.get(channel, 0) + 1
        self._unfinished += 1
        self._settled.clear()
        worker = self._workers.get(channel)
        if worker is None or worker.done():
            self._workers[channel] = asyncio.create_task(self._work(channel), name=f"outbox:{channel}")
        return await done

    async def _work(self, channel: str) -> None:
        queue = self._queues[channel]
        while True:
            try:
                job = await asyncio.wait_for(queue.get(), timeout=60)
            except TimeoutError:
                return  # idle channel: a new worker starts with the next message
            self._queued.pop(job.sequence, None)
            self._current[channel] = job
            try:
                if job.done.cancelled():
                    continue
                result = await self._send(channel, job)
                if not job.done.done():
                    job.done.set_result(result)
            except Exception as exc:
                if not job.done.done():
                    job.done.set_exception(exc)
            finally:
                self._current.pop(channel, None)
                self._pending[channel] -= 1
                queue.task_done()
                self._finished()

    def _finished(self) -> None:
        self._unfinished -= 1
        if not self._unfinished:
            self._settled.set()

    async def _send(self, channel: str, job: _Job) -> dict[str, Any]:
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
                    await self._paced(channel)
                self.calls[job.what] = self.calls.get(job.what, 0) + 1
                job.in_call = True
                try:
                    response = await job.call()
                except Exception:
                    self.errors[job.what] = self.errors.get(job.what, 0) + 1
                    raise
                finally:
                    job.in_call = False
                self.sent += 1
                data = response.data
                return data if isinstance(data, dict) else {}
        raise AssertionError("unreachable")

    async def _paced(self, channel: str) -> None:
        """Wait until the channel's budget lets one more post out (and spend it). Waiting for
        time to pass, not for an event: the budget (maybe shared) says how long."""
        while (delay := await self._budget.take(channel, time.monotonic())) > 0:  # noqa: ASYNC110
            await asyncio.sleep(delay)
