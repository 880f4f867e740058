"""The read-only view of a running Bot that the health port (probes, /metrics) gets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from opsbot.alerts.service import AlertService
from opsbot.kube.watch import WatchHealth
from opsbot.slack.outbox import Outbox

if TYPE_CHECKING:
    from opsbot.app.bot import Bot


class BotStatusView:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    @property
    def accepting(self) -> bool:
        return self._bot.frontend.accepting

    @property
    def socket_hellos(self) -> int:
        return self._bot.socket_hellos

    @property
    def outbox(self) -> Outbox:
        return self._bot.outbox

    @property
    def alerts(self) -> AlertService | None:
        return self._bot.alerts

    def watch_health(self) -> list[WatchHealth] | None:
        runner = self._bot.watching.runner
        return runner.health() if runner is not None else None

    def link_problem(self) -> str | None:
        return self._bot.link.state.problem()

    def unusable_clusters(self) -> Mapping[str, str]:
        return dict(self._bot.watching.unusable)

    async def store_problem(self) -> str | None:
        return await self._bot.store.aproblem()

    async def connected(self) -> bool:
        return await self._bot.connected()
