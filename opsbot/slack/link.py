"""The Socket Mode link to Slack: checked at start, kept up, and honest about its state.

- At start the bot token is checked with ``auth.test`` and the app token by opening
  the link (``apps.connections.open``). A permanent refusal (a bad or revoked token,
  an uninstalled app) is a `SlackSetupError`: one line that says what is wrong and
  what to do; the process exits 2 without a traceback.
- Transient failures (Slack answering 5xx or 429, a timeout, DNS or a refused
  connection) are retried with jittered exponential backoff, forever: the bot stays
  up, /healthz answers and /readyz says why it is not ready (`problem`).
- When the websocket closes without Slack's ``disconnect`` message, slack_sdk only
  notices at its next ping (up to ``ping_interval`` later). `SocketLink` waits on the
  connection itself and reconnects at once.
- Once running, nothing is fatal: a token revoked later is logged and shown by /readyz
  while the link keeps retrying (a restart would not help, and the bot stays observable).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from slack_sdk.errors import SlackApiError
from tenacity import RetryCallState, Retrying, wait_exponential_jitter

log = structlog.get_logger("opsbot.slack.link")

# Slack's answers that no retry will change: the token or the app itself is the problem.
PERMANENT_ERRORS: dict[str, str] = {
    "invalid_auth": "is not valid (check for a typo, or a token from another app or workspace)",
    "not_authed": "is missing from the request",
    "token_revoked": "was revoked: reinstall the app and use its new token",
    "token_expired": "has expired: token rotation is on; turn it off for opsbot or use a fresh token",
    "account_inactive": "belongs to a deleted user or an uninstalled app: reinstall the app",
    "app_deleted": "belongs to a deleted app: create it again from slack-app-manifest.yaml",
    "team_disabled": "belongs to a workspace that was disabled",
    "invalid_token": "is not a token of the expected kind",
    "not_allowed_token_type": "is the wrong kind of token (bot xoxb-… / app-level xapp-…)",
    "missing_scope": "lacks a scope opsbot needs (reinstall the app from slack-app-manifest.yaml)",
}
TOKEN_VARIABLES = {"bot": "SLACK_BOT_TOKEN", "app": "SLACK_APP_TOKEN"}


class SlackSetupError(Exception):
    """Slack refused a token for good; the message is one line naming the token and the fix."""


def permanent_refusal(exc: BaseException, which: str) -> SlackSetupError | None:
    """The setup error for `exc` if no retry can help, else None (transient or unknown)."""
    if not isinstance(exc, SlackApiError) or exc.response is None:
        return None
    status = getattr(exc.response, "status_code", 200)
    if status == 429 or status >= 500:
        return None
    error = str(exc.response.get("error", "") or "")
    why = PERMANENT_ERRORS.get(error)
    if why is None:
        return None
    return SlackSetupError(f"{TOKEN_VARIABLES[which]} {why} (Slack said `{error}`)")


def describe_failure(exc: BaseException) -> str:
    """A short reason for logs and /readyz: never a token, never a traceback."""
    if isinstance(exc, SlackApiError) and exc.response is not None:
        status = getattr(exc.response, "status_code", "?")
        return f"Slack answered {status} {exc.response.get('error', '') or ''}".strip()
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "Slack did not answer in time"
    return f"{type(exc).__name__}: {str(exc)[:160]}" if str(exc) else type(exc).__name__


class SocketClient(Protocol):
    """What `SocketLink` uses of slack_sdk's websockets `SocketModeClient` (its public API)."""

    current_session: Any
    auto_reconnect_enabled: bool
    default_auto_reconnect_enabled: bool
    closed: bool

    async def connect_to_new_endpoint(self, force: bool = False) -> None: ...

    async def is_connected(self) -> bool: ...


@dataclass
class LinkState:
    """What /readyz and /metrics say about the link."""

    up: bool = False
    attempt: int = 0
    last_error: str = ""
    retry_at: float | None = None  # time.monotonic() of the next attempt

    def problem(self) -> str | None:
        """Why the link is not usable (None when it is up)."""
        if self.up:
            return None
        if not self.last_error:
            return "connecting to Slack (Socket Mode)"
        wait = f", next try in {max(0.0, self.retry_at - time.monotonic()):.0f}s" if self.retry_at else ""
        return f"the Socket Mode link to Slack is down (attempt {self.attempt}: {self.last_error}{wait})"


class SocketLink:
    """Opens the Socket Mode link, retries transient failures, reconnects as soon as it drops."""

    def __init__(
        self,
        socket: SocketClient,
        check_bot_token: Callable[[], Awaitable[Any]],
        *,
        max_backoff: float = 30.0,
    ) -> None:
        self._socket = socket
        self._check_bot_token = check_bot_token
        self._wait = wait_exponential_jitter(initial=0.25, max=max_backoff, jitter=0.25)
        self.state = LinkState()
        self.reconnects = 0
        self._keeper: asyncio.Task[None] | None = None
        self._stopping = False
        # We reconnect ourselves, at once; slack_sdk's ping-interval monitor would only add delay
        # (each connect() resets `auto_reconnect_enabled` from the default, so turn off both).
        socket.default_auto_reconnect_enabled = False
        socket.auto_reconnect_enabled = False

    async def start(self) -> None:
        """Check the bot token, then open the link; returns once it is up.

        Raises SlackSetupError on a permanent refusal; transient failures are retried.
        """
        await self._retrying(self._check_bot_token, which="bot", what="auth.test")
        await self._retrying(lambda: self._socket.connect_to_new_endpoint(force=True), which="app", what="connect")
        self.state.up = True
        self._keeper = asyncio.create_task(self._keep(), name="slack-link")

    async def stop(self) -> None:
        self._stopping = True
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            self._keeper = None
        self.state.up = False

    async def _retrying(
        self, call: Callable[[], Awaitable[Any]], *, which: str, what: str, fatal: bool = True
    ) -> None:
        """Call until it succeeds. A permanent refusal raises SlackSetupError when `fatal`, else it
        is logged (once per distinct reason) and retried like any failure."""
        self.state.attempt = 0
        reported = ""
        while True:
            self.state.attempt += 1
            try:
                await call()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                refusal = permanent_refusal(exc, which)
                if refusal is not None and fatal:
                    raise refusal from None
                delay = self._backoff(self.state.attempt)
                self.state.last_error = str(refusal) if refusal is not None else describe_failure(exc)
                if refusal is not None and reported != self.state.last_error:
                    log.error("slack_refused", step=what, error=self.state.last_error)
                reported = self.state.last_error
                self.state.retry_at = time.monotonic() + delay
                log.warning(
                    "slack_unavailable", step=what, attempt=self.state.attempt, error=self.state.last_error,
                    retry_in=round(delay, 2),
                )  # fmt: skip
                await asyncio.sleep(delay)
                continue
            self.state.last_error, self.state.retry_at = "", None
            return

    def _backoff(self, attempt: int) -> float:
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = attempt
        return float(self._wait(state))

    async def _keep(self) -> None:
        """Wait for the connection to close; reconnect at once (and back off if that fails)."""
        while not self._stopping:
            session = self._socket.current_session
            if session is not None:
                with contextlib.suppress(Exception):
                    await session.wait_closed()
            if self._stopping or self._socket.closed:
                return
            if self._socket.current_session is not session and await self._socket.is_connected():
                continue  # replaced meanwhile (Slack's `disconnect` message): watch the new one
            self.state.up = False
            log.info("slack_link_closed_reconnecting")
            await self._retrying(
                lambda: self._socket.connect_to_new_endpoint(force=True), which="app", what="reconnect", fatal=False
            )
            self.state.up = True
            self.reconnects += 1
