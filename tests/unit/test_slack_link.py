"""The Socket Mode link: permanent refusals are one line, transient failures are retried, a closed
websocket is reopened at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from opsbot.slack.link import LinkState, SlackSetupError, SocketLink, describe_failure, permanent_refusal


def slack_error(error: str, status: int = 200) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.invalid/api/auth.test",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=status,
    )
    return SlackApiError(f"The request to the Slack API failed: {error}", response)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("error", "which", "expected"),
    [
        ("invalid_auth", "bot", "SLACK_BOT_TOKEN is not valid"),
        ("token_revoked", "app", "SLACK_APP_TOKEN was revoked: reinstall the app"),
        ("not_allowed_token_type", "app", "SLACK_APP_TOKEN is the wrong kind of token"),
    ],
)
def test_a_permanent_refusal_is_one_line_naming_the_variable(error: str, which: str, expected: str) -> None:
    refusal = permanent_refusal(slack_error(error), which)
    assert refusal is not None and str(refusal).startswith(expected)
    assert "\n" not in str(refusal)


@pytest.mark.parametrize(
    "exc",
    [slack_error("internal_error", 503), slack_error("ratelimited", 429), slack_error("fatal_error", 200),
     ConnectionRefusedError(), TimeoutError()],
    ids=["503", "429", "unknown-error", "refused", "timeout"],
)  # fmt: skip
def test_transient_or_unknown_failures_are_retried(exc: BaseException) -> None:
    assert permanent_refusal(exc, "app") is None


def test_failures_are_described_without_secrets() -> None:
    assert describe_failure(slack_error("internal_error", 503)) == "Slack answered 503 internal_error"
    assert describe_failure(TimeoutError()) == "Slack did not answer in time"


def test_the_state_says_why_the_link_is_not_usable() -> None:
    assert LinkState(up=True).problem() is None
    assert LinkState().problem() == "connecting to Slack (Socket Mode)"
    down = LinkState(attempt=3, last_error="Slack answered 503 internal_error")
    assert down.problem() == "the Socket Mode link to Slack is down (attempt 3: Slack answered 503 internal_error)"


class FakeSession:
    def __init__(self) -> None:
        self.closed = asyncio.Event()

    async def wait_closed(self) -> None:
        await self.closed.wait()


class FakeClient:
    """slack_sdk's SocketModeClient as SocketLink uses it; `failures` fail the next connects."""

    def __init__(self, failures: list[BaseException] | None = None) -> None:
        self.current_session: FakeSession | None = None
        self.auto_reconnect_enabled = True
        self.default_auto_reconnect_enabled = True
        self.closed = False
        self.failures = list(failures or [])
        self.connects = 0
        self.connected = asyncio.Event()

    async def connect_to_new_endpoint(self, force: bool = False) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.connects += 1
        self.current_session = FakeSession()
        self.connected.set()

    async def is_connected(self) -> bool:
        return self.current_session is not None and not self.current_session.closed.is_set()


async def ok() -> Any:
    return {"ok": True}


async def test_start_retries_a_503_and_gives_up_on_nothing() -> None:
    client = FakeClient([slack_error("internal_error", 503)])
    link = SocketLink(client, ok, max_backoff=0.01)
    await link.start()
    assert client.connects == 1 and link.state.up and not client.auto_reconnect_enabled
    await link.stop()


async def test_start_raises_a_setup_error_for_a_revoked_app_token() -> None:
    link = SocketLink(FakeClient([slack_error("token_revoked")]), ok, max_backoff=0.01)
    with pytest.raises(SlackSetupError, match="SLACK_APP_TOKEN was revoked"):
        await link.start()


async def test_a_bad_bot_token_is_refused_before_the_link_is_opened() -> None:
    client = FakeClient()

    async def refused() -> Any:
        raise slack_error("invalid_auth")

    with pytest.raises(SlackSetupError, match="SLACK_BOT_TOKEN is not valid"):
        await SocketLink(client, refused).start()
    assert client.connects == 0


async def test_a_closed_websocket_is_reopened_at_once() -> None:
    client = FakeClient()
    link = SocketLink(client, ok, max_backoff=0.01)
    await link.start()
    for expected in range(2, 5):
        assert client.current_session is not None
        client.connected.clear()
        client.current_session.closed.set()
        await asyncio.wait_for(client.connected.wait(), timeout=2)
        assert client.connects == expected
    assert link.reconnects == 3
    await link.stop()
