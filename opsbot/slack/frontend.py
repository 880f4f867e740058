"""Slack ⇄ opsbot: Slack payloads become ChatRequests; Replies become messages.

Nothing here decides anything: parsing, permissions to confirm, what to say all live
in commands/ and approvals/. This module only knows Slack's shapes and where answers
go (the request's thread, an ephemeral reply, a card update).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

import structlog
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp

from opsbot.alerts.actions import ACTIONS, ClickOutcome, MuteFor, RunCommand
from opsbot.alerts.incidents import Incident
from opsbot.alerts.mutes import Mute
from opsbot.alerts.thread import mute_notice
from opsbot.approvals.cards import APPROVE_ACTION, CANCEL_ACTION, CONFIRM_ACTION, REJECT_ACTION, approval_card
from opsbot.approvals.gate import approval_policy_for, may_approve
from opsbot.approvals.service import ApprovalService
from opsbot.commands.router import CommandRouter
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import RUN_ACTION, Reply, Text
from opsbot.core.request import ButtonClick, ChatRequest, Source
from opsbot.errors import StoreUnavailable
from opsbot.policy import Subject
from opsbot.slack.clicks import Click, clicked
from opsbot.slack.dedupe import SEEN_TTL_SECONDS, FirstSeen, SeenKeys
from opsbot.slack.outbox import Outbox, OutboxClosedError
from opsbot.slack.render import mrkdwn
from opsbot.slack.surfaces import CardSurface, EphemeralResponder, Respond, Responder, ThreadResponder
from opsbot.slack.users import UserGroups, UserNames
from opsbot.telemetry import NOOP_ERRORS, ErrorReporter

log = structlog.get_logger("opsbot.slack")

Listener = Callable[..., Awaitable[None]]


class IncidentActions(Protocol):
    """What incident buttons need from the alert pipeline."""

    async def incident(self, incident_id: str) -> Incident | None: ...

    async def mute(self, incident_id: str, hours: float, user: str) -> Mute | None: ...

    def on_click(self, action_id: str, incident: Incident) -> ClickOutcome: ...


_ADMITTED: contextvars.ContextVar[bool] = contextvars.ContextVar("opsbot_listener_admitted", default=False)
"""Set in a listener call that began while the bot was accepting work: what it acked is served."""

_INCIDENT_ACTIONS = re.compile("^(" + "|".join(re.escape(a) for a in sorted(ACTIONS)) + ")$")

_APPROVAL_ACTIONS = re.compile(
    "^("
    + "|".join(re.escape(a) for a in (CONFIRM_ACTION, CANCEL_ACTION, APPROVE_ACTION, REJECT_ACTION))
    + ")$"
)


class SlackFrontend:
    def __init__(
        self,
        router: CommandRouter,
        approvals: ApprovalService,
        outbox: Outbox,
        *,
        slash_command: str,
        max_concurrent: int,
        incidents: IncidentActions | None = None,
        user_names: UserNames | None = None,
        usergroups: UserGroups | None = None,
        errors: ErrorReporter = NOOP_ERRORS,
        seen: FirstSeen | None = None,
    ) -> None:
        self._router = router
        self._approvals = approvals
        self._outbox = outbox
        self._slash_command = slash_command
        self._incidents = incidents
        self._user_names = user_names
        self._usergroups = usergroups
        self._errors = errors
        self._seen: FirstSeen = seen or SeenKeys()
        self._tasks: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(max_concurrent)
        self.accepting = True
        # Listener calls under way; `_quiet` is set when none is and no request task runs.
        self._listening = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    # wiring ---------------------------------------------------------------

    def register(self, app: AsyncApp) -> None:
        app.use(self._events_only_while_accepting)
        app.event("app_mention")(self._counted(self._on_mention))
        app.event("message")(self._counted(self._on_message))
        app.command(self._slash_command)(self._counted(self._on_slash))
        app.action(_APPROVAL_ACTIONS)(self._counted(self._on_approval_click))
        app.action(_INCIDENT_ACTIONS)(self._counted(self._on_incident_click))
        app.action(RUN_ACTION)(self._counted(self._on_run_click))

    async def _events_only_while_accepting(
        self, body: dict[str, Any], next_: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Once shutting down, an event is neither marked as seen nor acked: Slack sends it again,
        to a replica that takes it (seen here and then refused, the others would drop it)."""
        if self.accepting or body.get("type") != "event_callback":
            await next_()
            return None
        log.info("event_left_unacked_shutting_down", event_id=str(body.get("event_id", ""))[:64])
        return BoltResponse(status=503, body="shutting down")

    def add_action(self, app: AsyncApp, pattern: re.Pattern[str], handler: Callable[[ButtonClick], Awaitable[None]]) -> None:
        """Another feature's buttons (Alertmanager's Approve / Reject): acked at once, replays dropped,
        each click handed over as a neutral `ButtonClick`."""

        async def listener(ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
            await ack()
            action, user = (body.get("actions") or [{}])[0], str((body.get("user") or {}).get("id", ""))
            container = body.get("container") or {}
            if not await self._fresh(body.get("trigger_id")):
                return
            channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id", ""))
            click = ButtonClick(user, channel, str(container.get("message_ts") or "") or None,
                                str(action.get("action_id", ""))[:255], str(action.get("value", ""))[:300],
                                await self._usergroups_of(user))  # fmt: skip
            try:
                await handler(click)
            except Exception as exc:
                log.exception("button_click_failed", action=click.action_id, user=user)
                self._errors.capture(exc, where="button_click", action=click.action_id[:64])

        app.action(pattern)(self._counted(listener))

    def _counted(self, listener: Listener) -> Listener:
        """`listener`, counted while it runs (the part after ack() included), for idle()."""

        @functools.wraps(listener)  # Bolt reads the wrapped listener's argument names
        async def counted(*args: Any, **kwargs: Any) -> None:
            admitted = _ADMITTED.set(self.accepting)
            self._listening += 1
            self._quiet.clear()
            try:
                await listener(*args, **kwargs)
            finally:
                self._listening -= 1
                self._check_quiet()
                _ADMITTED.reset(admitted)

        return counted

    def _check_quiet(self, _task: object = None) -> None:
        if not self._listening and not self._tasks:
            self._quiet.set()

    async def idle(self) -> None:
        """Return once every listener call and request task has finished and the outbox
        has nothing queued or being sent."""
        while True:
            await self._quiet.wait()
            await self._outbox.idle()
            if self._quiet.is_set():
                return

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> bool:
        """Stop accepting work and wait for the work in progress: listener calls (one acked an
        event and may still be checking it is new) and the commands they started; True if all
        finished."""
        self.accepting = False
        try:
            async with asyncio.timeout(timeout):
                await self._quiet.wait()
        except TimeoutError:
            return False
        return True

    # listeners --------------------------------------------------------------

    async def _on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if not await self._fresh(body.get("event_id")) or _from_a_bot(event):
            return
        channel = str(event.get("channel", ""))
        thread_ts = event.get("thread_ts") or event.get("ts")
        request = self._request(event, "mention", thread_ts)
        self._spawn(request, ThreadResponder(self._outbox, channel, thread_ts))

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or _from_a_bot(event):
            return
        if not await self._fresh(body.get("event_id")):
            return
        thread_ts = event.get("thread_ts")
        request = self._request(event, "dm", thread_ts)
        self._spawn(request, ThreadResponder(self._outbox, str(event.get("channel", "")), thread_ts))

    async def _on_slash(
        self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], respond: Respond
    ) -> None:
        await ack()
        if not await self._fresh(body.get("trigger_id")):
            return
        request = ChatRequest(
            request_id=uuid.uuid4().hex[:12],
            user_id=str(body.get("user_id", "")),
            channel_id=str(body.get("channel_id", "")),
            text=str(body.get("text", "")),
            source="slash",
        )
        self._spawn(request, EphemeralResponder(respond, str(body.get("response_url") or "") or None))

    async def _on_approval_click(
        self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], respond: Respond
    ) -> None:
        await ack()
        if not await self._fresh(body.get("trigger_id")):
            return
        click = clicked(body)
        user, channel, approval_id, action_id = click.user, click.channel, click.value[:64], click.action_id
        surface = CardSurface(
            self._outbox,
            respond=respond,
            ephemeral_card=click.ephemeral,
            clicked_channel=channel,
            clicked_message_ts=click.message_ts,
        )
        bound = log.bind(user=user, channel=channel, approval_id=approval_id, action=action_id)
        try:
            known = await self._approvals.get(approval_id)
            if known is not None and known.card is None and not click.ephemeral:
                # A click can come before the card's ts was recorded: Slack says which message it was.
                await self._approvals.attach(approval_id, card=click.message_ts)
            if action_id == CONFIRM_ACTION:
                await self._approvals.confirm(approval_id, user, surface)
            elif action_id == CANCEL_ACTION:
                await self._approvals.cancel(approval_id, user, surface)
            else:
                usergroups = await self._usergroups_of(user)
                allowed, reason = may_approve(
                    self._router.policy, await self._approvals.get(approval_id), Subject(user, usergroups, channel)
                )
                if action_id == APPROVE_ACTION:
                    await self._approvals.approve(approval_id, user, surface, allowed=allowed, reason=reason)
                else:
                    await self._approvals.reject(approval_id, user, surface, allowed=allowed, reason=reason)
            bound.info("approval_click")
        except StoreUnavailable as exc:
            bound.warning("approval_click_store_unavailable")
            await surface.notify(user, Text(f"Nothing was changed: {exc}. Try again in a moment."))
        except Exception as exc:
            bound.exception("approval_click_failed")
            self._errors.capture(exc, where="approval_click", action=action_id[:64])

    async def _on_incident_click(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
        await ack()
        if not await self._fresh(body.get("trigger_id")) or self._incidents is None:
            return
        click = clicked(body)
        try:  # with replicas, an incident led elsewhere is read from the store (a mute written there)
            await self._incident_click(self._incidents, click)
        except StoreUnavailable as exc:
            text = mrkdwn(f"Nothing was changed: {exc}. Try again in a moment.")
            await self._outbox.ephemeral(click.channel, click.user, text=text, thread_ts=click.message_ts)

    async def _incident_click(self, incidents: IncidentActions, click: Click) -> None:
        channel, user, root_ts = click.channel, click.user, click.message_ts
        incident = await incidents.incident(click.value[:300])
        if incident is None:
            await self._outbox.ephemeral(
                channel, user, text=mrkdwn("This incident is no longer known to opsbot.")
            )
            return
        outcome = incidents.on_click(click.action_id, incident)
        if isinstance(outcome, MuteFor):
            mute = await incidents.mute(incident.id, outcome.hours, user)
            if mute is not None:
                text = mrkdwn(mute_notice(user, outcome.hours, incident.ref))
                await self._outbox.post(channel, text=text, thread_ts=root_ts)
            return
        if not isinstance(outcome, RunCommand):
            await self._outbox.ephemeral(channel, user, text=mrkdwn(outcome.reason), thread_ts=root_ts)
            return
        self._run_as_typed(user, channel, outcome.text, ThreadResponder(self._outbox, channel, root_ts), root_ts)

    async def _on_run_click(
        self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], respond: Respond
    ) -> None:
        """A button standing for a command (`opsbot.commands.buttons`): run as the clicker typed
        it, answered in the same thread (privately when the button was on a private answer)."""
        await ack()
        if not await self._fresh(body.get("trigger_id")):
            return
        click = clicked(body)
        responder: Responder = (
            EphemeralResponder(respond, click.response_url)
            if click.ephemeral
            else ThreadResponder(self._outbox, click.channel, click.thread)
        )
        self._run_as_typed(click.user, click.channel, click.value, responder, click.thread)

    def _run_as_typed(
        self, user: str, channel: str, text: str, responder: Responder, thread: str | None
    ) -> None:
        request = ChatRequest(uuid.uuid4().hex[:12], user, channel, text, "button", thread=thread)
        self._spawn(request, responder)

    async def _usergroups_of(self, user: str) -> frozenset[str]:
        return await self._usergroups.of(user) if self._usergroups is not None else frozenset()

    # helpers ----------------------------------------------------------------

    async def _fresh(self, key: object) -> bool:
        if not isinstance(key, str) or not key:
            return True
        fresh = await self._seen.first_seen(key, SEEN_TTL_SECONDS)
        if not fresh:
            log.info("duplicate_delivery_ignored", key=key)
        return fresh

    def _request(self, event: dict[str, Any], source: Source, thread_ts: object) -> ChatRequest:
        return ChatRequest(
            request_id=uuid.uuid4().hex[:12],
            user_id=str(event.get("user", "")),
            channel_id=str(event.get("channel", "")),
            text=str(event.get("text", "")),
            source=source,
            thread=thread_ts if isinstance(thread_ts, str) else None,
        )

    def _spawn(self, request: ChatRequest, responder: Responder) -> None:
        # A listener that began before the stop acked its request (and may have awaited the
        # store since): it is served; one that began after is refused.
        if not self.accepting and not _ADMITTED.get():
            log.info("request_refused_shutting_down", request_id=request.request_id)
            return
        task = asyncio.create_task(self._serve(request, responder), name=f"request:{request.request_id}")
        self._tasks.add(task)
        self._quiet.clear()
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._check_quiet)

    def _waiting_notice(self, request: ChatRequest, responder: Responder) -> Callable[[Reply], Awaitable[None]]:
        """Says "you're in line" where the answer will come; a failure to say it changes nothing."""

        async def send(reply: Reply) -> None:
            try:
                await responder.send(reply)
            except Exception:
                log.warning("waiting_notice_failed", request_id=request.request_id, exc_info=True)

        return send

    async def _serve(self, request: ChatRequest, responder: Responder) -> None:
        async with self._limit:
            try:
                if self._user_names is not None:
                    request = replace(request, user_name=await self._user_names.name(request.user_id))
                request = replace(request, usergroups=await self._usergroups_of(request.user_id))
                result = await self._router.handle(request, on_wait=self._waiting_notice(request, responder))
                if isinstance(result, ActionPlan):
                    approval = await self._approvals.open(
                        result, request, approval_policy_for(self._router.policy, result)
                    )
                    ts = await responder.send(approval_card(approval))
                    # A private (slash) card has no ts; its response_url lets expiry update it.
                    await self._approvals.attach(
                        approval.id, card=ts, response_url=getattr(responder, "response_url", None)
                    )
                else:
                    await responder.send(result)
            except OutboxClosedError:
                log.info("reply_left_for_next_start", request_id=request.request_id)
            except Exception as exc:
                log.exception("reply_failed", request_id=request.request_id)
                self._errors.capture(exc, where="reply", request_id=request.request_id)


def _from_a_bot(event: dict[str, Any]) -> bool:
    return bool(event.get("bot_id") or event.get("bot_profile") or event.get("subtype") == "bot_message")
