"""A console session: lines typed in a terminal go through the very router, policy and
approval machine the Slack front end uses; only the surface differs (text, not Block Kit).

Lines starting with `:` steer the session (who you are, confirming, approving);
everything else is a command, exactly as it would be typed after `@opsbot`.
"""

from __future__ import annotations

import os
import shlex
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from opsbot.approvals.cards import approval_card
from opsbot.approvals.gate import approval_policy_for, may_approve
from opsbot.approvals.machine import Approval, Status
from opsbot.approvals.service import ApprovalService, InMemoryApprovals
from opsbot.commands.actions import ActionRunner
from opsbot.config import Settings
from opsbot.console.render import plain, render_text
from opsbot.core.audit import AuditLog, Auditor
from opsbot.core.clock import SystemClock
from opsbot.core.durations import count
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import Reply, Text
from opsbot.core.request import ChatRequest
from opsbot.errors import ConfigError
from opsbot.kube.fleet import Fleet
from opsbot.policy import Subject
from opsbot.policy.ids import CHANNEL_ID, USER_ID, USERGROUP_ID
from opsbot.ports import ContextStore, KubeDirectory
from opsbot.releases.errors import ReleaseError
from opsbot.releases.service import ReleasesService
from opsbot.store.releases import StoreReleases
from opsbot.store.sqlite import SqliteStore
from opsbot.wiring import build_router

CONSOLE_CHANNEL = "console"
SHORT_ID = 8

META_HELP = """Console commands (everything else is an opsbot command, e.g. `pods -n web`):
  :as USER [GROUP ...]  act as a Slack user id (and user-group ids) to try the policy
  :as                   back to the user the console started as
  :channel CHANNEL      pretend to type in a channel id (channel bindings apply)
  :whoami               who and where you are
  :pending              approvals waiting for a decision
  :confirm [ID]         run your own pending request (IDs may be shortened)
  :cancel [ID]          drop your own pending request
  :approve [ID]         approve someone else's request (two-person rules)
  :reject [ID]          reject someone else's request
  :help                 this text
  :quit                 leave (so do `quit`, `exit` and Ctrl-D)"""


@dataclass
class Who:
    user: str
    channel: str = CONSOLE_CHANNEL
    usergroups: frozenset[str] = frozenset()


class ConsoleSurface:
    """Where the approval machine's effects show up: printed, since there is no card to edit."""

    def __init__(self, write: Callable[[str], None], *, colour: bool) -> None:
        self._write = write
        self._colour = colour
        self._shown: set[str] = set()

    async def update_card(self, approval: Approval) -> None:
        """The whole card once; afterwards only its new title (the thread lines tell the rest)."""
        card = approval_card(approval)
        if approval.id in self._shown:
            card = Reply(card.title, tone=card.tone)
        self._shown.add(approval.id)
        steps = _next_steps(approval)
        self._write(render_text(card, colour=self._colour) + (f"\n{steps}" if steps else ""))

    async def notify(self, user: str, text: Text) -> None:
        self._write(f"(only {user} sees this) {plain(text)}")

    async def tell_thread(self, approval: Approval, text: Text) -> None:
        self._write(plain(text))


def _next_steps(approval: Approval) -> str:
    if approval.status is not Status.PENDING:
        return ""
    short = approval.id[:SHORT_ID]
    if approval.policy.second_person_required:
        return (
            f"[{short}] needs {count(approval.policy.approvals_required, 'approval')} by someone else: "
            f"`:as <their user id>` then `:approve {short}` or `:reject {short}`; `:cancel {short}` drops it."
        )
    return f"[{short}] `:confirm {short}` runs it, `:cancel {short}` drops it."


class ConsoleSession:
    def __init__(
        self,
        settings: Settings,
        clusters: KubeDirectory,
        who: Who,
        write: Callable[[str], None],
        *,
        audit_log: AuditLog | None,
        contexts: ContextStore | None = None,
        colour: bool = False,
    ) -> None:
        self.settings = settings
        self.who = who
        self._default_user = who.user
        self._write = write
        self._clock = SystemClock()
        self._clusters = clusters
        self._pool = ThreadPoolExecutor(max_workers=settings.commands.workers, thread_name_prefix="opsbot-kube")
        # One person at a terminal (or a piped script): the per-person rate limit is for chat.
        self.router = build_router(
            settings, clusters, self._pool, self._clock.now, contexts=contexts, rate_limited=False
        )
        # `apps`, `diff` and `history` read every cluster; a promote / rollback is made here
        # too, but only the Slack bot (with its watches) follows it to the end.
        self.fleet = Fleet(clusters)
        try:
            self.releases = ReleasesService(
                settings.releases,
                StoreReleases(SqliteStore(":memory:")),
                workdir=settings.releases_workdir,
                environ=os.environ,
                clusters=clusters,
            )
        except ReleaseError as exc:
            raise ConfigError([f"releases.repositories: {exc}"]) from None
        self.router.fleet = self.fleet
        self.router.releases = self.releases
        self.approvals = ApprovalService(
            InMemoryApprovals(),
            ActionRunner(self.router.registry, clusters, self._pool, self._clock.now, releases=self.releases),
            self._clock,
            timedelta(minutes=settings.approvals.expire_after_minutes),
        )
        auditor = Auditor(audit_log)
        self.router.auditor = auditor
        self.approvals.auditor = auditor
        self._surface = ConsoleSurface(write, colour=colour)
        self._colour = colour
        self._known: list[str] = []  # approval ids, oldest first

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.fleet.close()
        self.releases.close()

    @property
    def prompt(self) -> str:
        where = "" if self.who.channel == CONSOLE_CHANNEL else f" in {self.who.channel}"
        return f"opsbot ({self.who.user}{where})> "

    async def handle(self, line: str) -> bool:
        """Answer one line; False when the session should end."""
        text = line.strip()
        await self.approvals.expire_overdue(self._surface)
        if not text or text.startswith("#"):
            return True
        if text in {"quit", "exit", ":quit", ":q", ":exit"}:
            return False
        if text.startswith(":"):
            await self._meta(text)
            return True
        await self._command(text)
        return True

    async def _command(self, text: str) -> None:
        request = ChatRequest(
            request_id=uuid.uuid4().hex[:12],
            user_id=self.who.user,
            channel_id=self.who.channel,
            text=text,
            source="console",
            user_name=self.who.user,
            usergroups=self.who.usergroups,
        )
        result = await self.router.handle(request)
        if isinstance(result, ActionPlan):
            approval = await self.approvals.open(result, request, approval_policy_for(self.router.policy, result))
            self._known.append(approval.id)
            await self._surface.update_card(approval)
        else:
            self._write(render_text(result, colour=self._colour))

    async def _meta(self, text: str) -> None:
        try:
            words = shlex.split(text[1:])
        except ValueError as exc:
            self._write(f"✗ {exc}")
            return
        verb, args = (words[0].lower(), words[1:]) if words else ("help", [])
        if verb == "help":
            self._write(META_HELP)
        elif verb == "whoami":
            groups = f", groups {' '.join(sorted(self.who.usergroups))}" if self.who.usergroups else ""
            self._write(f"user {self.who.user}{groups}, channel {self.who.channel}")
        elif verb == "as":
            self._switch_user(args)
        elif verb == "channel":
            self._switch_channel(args)
        elif verb == "pending":
            await self._list_pending()
        elif verb in {"confirm", "cancel", "approve", "reject"}:
            await self._decide(verb, args)
        else:
            self._write(f"✗ unknown console command `:{verb}`; `:help` lists them")

    def _switch_user(self, args: list[str]) -> None:
        if not args:
            self.who.user, self.who.usergroups = self._default_user, frozenset()
            self._write(f"now acting as {self.who.user} again")
            return
        if not USER_ID.match(args[0]) or not all(USERGROUP_ID.match(g) for g in args[1:]):
            self._write("✗ usage: `:as USER_ID [USERGROUP_ID ...]`, ids like U0123ABCD and S0123ABCD")
            return
        self.who.user = args[0]
        self.who.usergroups = frozenset(args[1:])
        self._write(f"now acting as {self.who.user}")

    def _switch_channel(self, args: list[str]) -> None:
        if len(args) != 1 or not (CHANNEL_ID.match(args[0]) or args[0] == CONSOLE_CHANNEL):
            self._write("✗ usage: `:channel CHANNEL_ID` (like C0123ABCD), or `:channel console`")
            return
        self.who.channel = args[0]
        self._write(f"now typing in {self.who.channel}")

    async def _pending(self) -> list[Approval]:
        found = [await self.approvals.get(approval_id) for approval_id in self._known]
        return [a for a in found if a is not None and a.status is Status.PENDING]

    async def _list_pending(self) -> None:
        pending = await self._pending()
        if not pending:
            self._write("nothing is waiting for a decision")
        for approval in pending:
            self._write(f"[{approval.id[:SHORT_ID]}] {approval.plan.summary}, asked by {approval.requester}")

    async def _resolve(self, args: list[str]) -> Approval | str:
        """The approval an id prefix names, or the newest pending one; a message otherwise."""
        if len(args) > 1:
            return "give at most one request id"
        if not args:
            pending = await self._pending()
            return pending[-1] if pending else "nothing is waiting for a decision"
        matches = [approval_id for approval_id in self._known if approval_id.startswith(args[0])]
        if len(matches) != 1:
            return f"no single request starts with `{args[0]}`; `:pending` lists them"
        approval = await self.approvals.get(matches[0])
        return approval if approval is not None else "that request is gone"

    async def _decide(self, verb: str, args: list[str]) -> None:
        approval = await self._resolve(args)
        if isinstance(approval, str):
            self._write(f"✗ {approval}")
            return
        user = self.who.user
        if verb == "confirm":
            await self.approvals.confirm(approval.id, user, self._surface)
        elif verb == "cancel":
            await self.approvals.cancel(approval.id, user, self._surface)
        else:
            subject = Subject(user, self.who.usergroups, self.who.channel)
            allowed, reason = may_approve(self.router.policy, approval, subject)
            if verb == "approve":
                await self.approvals.approve(approval.id, user, self._surface, allowed=allowed, reason=reason)
            else:
                await self.approvals.reject(approval.id, user, self._surface, allowed=allowed, reason=reason)
