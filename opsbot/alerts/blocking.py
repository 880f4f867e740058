"""The alert pipeline as command handlers see it (`opsbot.commands.context.AlertsView`).

Handlers run in the pool; the pipeline, its mutes and the store reads behind `incidents`
(with replicas) are on the event loop. Each call runs there and this thread waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from opsbot.alerts.incidents import Incident
from opsbot.alerts.mutes import Mute
from opsbot.alerts.service import AlertService
from opsbot.core.onloop import wait_on
from opsbot.errors import StoreUnavailable

CALL_TIMEOUT_SECONDS = 10.0
"""Longer than any store call can take (its own timeout, retried once): only a stuck loop."""

_T = TypeVar("_T")


def _late() -> StoreUnavailable:
    return StoreUnavailable(f"the alert pipeline did not answer within {CALL_TIMEOUT_SECONDS:g} s; try again")


class BlockingAlerts:
    def __init__(self, service: AlertService, loop: asyncio.AbstractEventLoop) -> None:
        self._service = service
        self._loop = loop

    def _wait(self, call: Coroutine[Any, Any, _T]) -> _T:
        return wait_on(self._loop, call, timeout=CALL_TIMEOUT_SECONDS, late=_late)

    def open_incidents(self) -> list[Incident]:
        return self._wait(self._service.open_incidents())

    def active_mutes(self) -> list[Mute]:
        return self._wait(self._service.active_mutes())

    def unmute(self, mute_id: str) -> Mute | None:
        return self._wait(self._service.unmute(mute_id))
