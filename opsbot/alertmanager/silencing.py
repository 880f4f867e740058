"""Silences from Slack, made in Alertmanager (API v2) and followed on the group's card.

One silence per alert, matching its full label set (never the alert name alone, which would
mute every instance); ``createdBy`` is the Slack user's name and the comment links the
alert's thread. The card says "Silenced by @alice until 14:00 UTC"; when a silence ends
(expired, removed with `unsilence` or in Alertmanager's UI) the card and the thread say so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar

import structlog

from opsbot.alertmanager.api import AlertmanagerApi
from opsbot.alertmanager.groups import AlertGroup, SilenceNote
from opsbot.alertmanager.handoff import SILENCES_PATH, Handoff, SilencesMade, made_document
from opsbot.alertmanager.settings import AlertmanagerSettings
from opsbot.alertmanager.state import State
from opsbot.alerts.incidents import IncidentBook
from opsbot.alerts.publishing import Publishing
from opsbot.core.onloop import wait_on
from opsbot.core.reply import Emphasis, Icon, Mention, Moment, Text
from opsbot.core.request import ChatRequest
from opsbot.core.silences import Silence, SilenceOutcome, matchers_for
from opsbot.errors import AlertmanagerError, InvalidNameError
from opsbot.ports import Clock

log = structlog.get_logger("opsbot.alertmanager")

_T = TypeVar("_T")
CALL_TIMEOUT_SECONDS = 30.0
_HEX = frozenset("0123456789abcdef")


def looks_like_fingerprint(word: str) -> bool:
    return len(word) == 16 and set(word) <= _HEX


class Silencer:
    def __init__(
        self,
        settings: AlertmanagerSettings,
        state: State,
        api: AlertmanagerApi | None,
        book: IncidentBook,
        publishing: Publishing,
        clock: Clock,
        *,
        thread_link: Callable[[str, str | None], Awaitable[str]],
    ) -> None:
        self._settings = settings
        self._state = state
        self._api = api
        self._book = book
        self._publishing = publishing
        self._clock = clock
        self._thread_link = thread_link
        self.created = 0
        self.handoff: Handoff | None = None
        """With replicas: how the notes reach the replica running the loops (it holds the groups)."""

    def _client(self) -> AlertmanagerApi:
        if self._api is None:
            raise AlertmanagerError(
                "alertmanager.url is not configured, so opsbot cannot reach Alertmanager's API"
            )
        return self._api

    # silence -------------------------------------------------------------------------------

    async def silence(
        self, targets: Sequence[str], duration: timedelta, comment: str, request: ChatRequest
    ) -> SilenceOutcome:
        api = self._client()
        limit = timedelta(hours=self._settings.max_silence_hours)
        if duration > limit:
            raise InvalidNameError(
                f"silences last at most {self._settings.max_silence_hours:g}h (alertmanager.max_silence_hours)"
            )
        found, missing = await self._alerts_for(targets)
        now = self._clock.now()
        until = now + duration
        who = request.user_name or request.user_id
        created: list[Silence] = []
        made: list[tuple[str, str]] = []
        for fingerprint, labels in found:
            link = await self._link_for(self._state.group_of(fingerprint), request)
            text = (comment + " — " if comment else "") + f"silenced from Slack by {who} (opsbot): {link}"
            matchers = matchers_for(labels)
            silence_id = await api.create_silence(matchers, now, until, who, text[:1000])
            self.created += 1
            created.append(Silence(silence_id, matchers, now, until, who, text, "active"))
            made.append((silence_id, fingerprint))
        log.info("silenced", user=request.user_id, silences=len(created), until=until.isoformat())
        if made:
            noted = made_document(made, request.user_id, who, until, request.channel_id, request.thread)
            if not await self._passed_on(noted):
                await self.note(SilencesMade(noted))
        return SilenceOutcome(tuple(created), tuple(missing))

    async def _passed_on(self, document: dict[str, Any]) -> bool:
        """Whether the replica running the loops (it holds the groups) notes this: not here."""
        if self.handoff is None or not self.handoff.passing_on:
            return False
        # Not taken (logged by the hand-off): the silences are made, only their card note is missing.
        await self.handoff.pass_on(SILENCES_PATH, document)
        return True

    async def note(self, silences: SilencesMade) -> None:
        """Silences just made, on their groups' cards and in their threads."""
        by_group: dict[str, list[tuple[str, str]]] = {}
        for silence_id, fingerprint in silences.made:
            group = self._state.group_of(fingerprint)
            if group is not None:
                by_group.setdefault(group.key, []).append((silence_id, fingerprint))
        for key, made in by_group.items():
            group = self._state.group(key)
            if group is None:
                continue
            note = SilenceNote(
                tuple(i for i, _ in made), silences.user_id, silences.user_name, silences.until,
                tuple(f for _, f in made),
            )  # fmt: skip
            await self._state.put_group(replace(group, silences=(*group.silences, note)[-10:]))
            said = Text(
                Icon.MUTED,
                " ",
                Mention(silences.user_id),
                f" silenced {len(made)} alert(s) in Alertmanager until ",
                Moment(silences.until),
                " (",
                Emphasis("unsilence ID"),
                " ends it early).",
            )
            # Asked in the alert's own thread (its Silence button): the answer is there already.
            incident = self._book.get(key)
            here = incident is not None and (silences.channel, silences.thread) == (incident.channel, incident.root)
            self._publishing.announce(key, None if here else said)

    async def _alerts_for(self, targets: Sequence[str]) -> tuple[list[tuple[str, dict[str, str]]], list[str]]:
        """(fingerprint, labels) of every alert the targets name, and the targets naming none."""
        found: dict[str, dict[str, str]] = {}
        missing: list[str] = []
        listed: list[tuple[str, dict[str, str]]] | None = None
        for target in targets:
            group = self._state.group_of(target) if looks_like_fingerprint(target) else None
            if group is not None and group.alerts[target].firing:
                found[target] = dict(group.alerts[target].labels)
                continue
            if listed is None:
                listed = [
                    (a.fingerprint, dict(a.labels))
                    for a, _ in await self._client().alerts(self._settings.receivers)
                ]
            hits = [
                (fp, labels) for fp, labels in listed if fp == target or labels.get("alertname") == target
            ]
            if not hits:
                missing.append(target)
            found.update(hits)
        return list(found.items()), missing

    async def _link_for(self, group: AlertGroup | None, request: ChatRequest) -> str:
        incident = self._book.get(group.key) if group is not None else None
        if incident is not None and incident.root:
            return await self._thread_link(incident.channel, incident.root)
        return await self._thread_link(request.channel_id, request.thread)

    # list, unsilence ---------------------------------------------------------------------------

    async def silences(self) -> list[Silence]:
        found = [s for s in await self._client().silences() if s.state != "expired"]
        return sorted(found, key=lambda s: s.ends_at)

    async def unsilence(self, silence_id: str, request: ChatRequest) -> Silence | None:
        """End a silence now; `silence_id` may be its first 8+ characters, as cards show it."""
        if (
            len(silence_id) < 8
            or len(silence_id) > 64
            or not all(c.isalnum() or c == "-" for c in silence_id)
        ):
            raise InvalidNameError(f"{silence_id[:40]!r} is not a silence id (see `silences`)")
        current = [s for s in await self.silences() if s.id.startswith(silence_id)]
        if len(current) != 1:
            return None
        silence = current[0]
        await self._client().expire_silence(silence.id)
        log.info("unsilenced", silence=silence.id, user=request.user_id)
        if not await self._passed_on({"ended": [silence.id], "by": request.user_id}):
            await self.end({silence.id}, request.user_id)
        return silence

    async def end(self, ids: set[str], by: str) -> None:
        """Silences someone removed with `unsilence`: ended on their cards."""
        await self._ended(ids, "removed", by)

    # following ------------------------------------------------------------------------------------

    async def check(self, *, ask: bool) -> None:
        """Silences that ran out end on the card; with `ask`, also those removed in Alertmanager."""
        now = self._clock.now()
        expired = {
            i
            for g in self._state.groups.values()
            for n in g.active_silences()
            if n.until <= now
            for i in n.ids
        }
        if expired:
            await self._ended(expired, "expired", "")
        if not ask or self._api is None or not any(g.active_silences() for g in self._state.groups.values()):
            return
        live = {s.id for s in await self._api.silences() if s.state in ("active", "pending")}
        gone = {
            i
            for g in self._state.groups.values()
            for n in g.active_silences()
            for i in n.ids
            if i not in live
        }
        if gone:
            await self._ended(gone, "removed", "")

    async def _ended(self, ids: set[str], how: str, by: str) -> None:
        now = self._clock.now()
        for key in list(self._state.groups):
            # Read after the last write's await: a notification may have changed the group since.
            group = self._state.group(key)
            if group is None:
                continue
            notes, changed = [], []
            for note in group.silences:
                left = tuple(i for i in note.ids if i not in ids) if note.state == "active" else note.ids
                if note.state == "active" and not left:
                    note = replace(
                        note,
                        state=how,
                        ended_at=min(now, note.until) if how == "removed" else note.until,
                        ended_by=by,
                    )
                    changed.append(note)
                elif left != note.ids:
                    note = replace(note, ids=left)
                notes.append(note)
            if tuple(notes) == group.silences:
                continue
            await self._state.put_group(replace(group, silences=tuple(notes)))
            for note in changed:
                who = Mention(note.by_id) if note.by_id else note.by_name
                if how == "expired":
                    text = Text(Icon.ALERT, " The silence by ", who, " expired: these alerts notify again.")
                else:
                    remover = Text(" by ", Mention(by)) if by else Text(" in Alertmanager")
                    text = Text(Icon.ALERT, " The silence by ", who, " was removed", remover, ".")
                self._publishing.announce(group.key, text)


def _late() -> AlertmanagerError:
    return AlertmanagerError(f"no answer within {CALL_TIMEOUT_SECONDS:g} s", temporary=True)


class SilenceCommands:
    """The blocking face the command handlers (in the pool) use: each call runs on the bot's loop."""

    def __init__(self, silencer: Silencer, loop: asyncio.AbstractEventLoop) -> None:
        self._silencer = silencer
        self._loop = loop

    def _wait(self, call: Coroutine[Any, Any, _T]) -> _T:
        return wait_on(self._loop, call, timeout=CALL_TIMEOUT_SECONDS, late=_late)

    def silence(
        self, targets: Sequence[str], duration: timedelta, comment: str, request: ChatRequest
    ) -> SilenceOutcome:
        return self._wait(self._silencer.silence(targets, duration, comment, request))

    def silences(self) -> list[Silence]:
        return self._wait(self._silencer.silences())

    def unsilence(self, silence_id: str, request: ChatRequest) -> Silence | None:
        return self._wait(self._silencer.unsilence(silence_id, request))

