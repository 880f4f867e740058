"""The Slack emulator against the real slack_sdk / slack_bolt clients.

Why: the bot's end-to-end tests are only as good as the emulator; these prove
the unmodified clients accept it (Web API, file uploads, response_url, Socket
Mode hello/envelopes/acks/reconnects) and that its faults look like Slack's.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
import yaml
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from websockets.exceptions import InvalidStatus

from tests.support import slack_fixtures
from tests.support.slack_emulator import APP_MANIFEST, Post, SlackEmulator
from tests.support.slack_fixtures import bolt_app, socket_mode_app

# The `slack` fixture (tests/conftest.py may also import it; same function either way).
slack = slack_fixtures.slack

BUTTON_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "deploy *web* is failing"}},
    {
        "type": "actions",
        "block_id": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "restart",
                "text": {"type": "plain_text", "text": "Restart"},
                "value": "web",
            }
        ],
    },
]


def web_client(slack: SlackEmulator, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.base_url, **kwargs)


async def api_error(call: Any) -> SlackApiError:
    """Await a client call that must fail and return the SlackApiError."""
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


async def raw_socket(slack: SlackEmulator) -> tuple[Any, dict[str, Any]]:
    """Open a bare websockets connection the way the SDK does; return it and its hello."""
    opened = await web_client(slack).apps_connections_open(app_token=slack.app_token)
    ws = await websockets.connect(opened["url"], ping_interval=None)
    hello = json.loads(await ws.recv())
    return ws, hello


async def test_web_api_methods(slack: SlackEmulator) -> None:
    slack.add_user("U1", "alice", "Alice Adams")
    slack.add_channel("C1", "ops")
    client = web_client(slack)

    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["user"]) == ("UBOT0001", "BBOT0001", "opsbot")
    assert auth["team_id"] == "T0000001"

    user = await client.users_info(user="U1")
    assert user["user"]["real_name"] == "Alice Adams"
    assert (await api_error(client.users_info(user="U404"))).response["error"] == "user_not_found"
    conv = await client.conversations_info(channel="C1")
    assert conv["channel"]["name"] == "ops"
    assert conv["channel"]["is_im"] is False
    err = await api_error(client.conversations_info(channel="C404"))
    assert err.response["error"] == "channel_not_found"

    posted = await client.chat_postMessage(channel="C1", text="alert", blocks=BUTTON_BLOCKS)
    ts = posted["ts"]
    assert posted["channel"] == "C1"
    assert posted["message"]["bot_id"] == "BBOT0001"
    assert posted["message"]["user"] == "UBOT0001"
    # Bolt adds team_id to listener calls: unknown arguments are accepted.
    reply = await client.chat_postMessage(channel="C1", text="details", thread_ts=ts, team_id="T0")
    assert float(reply["ts"]) > float(ts)
    assert [(p.method, p.thread_ts) for p in slack.posts] == [
        ("chat.postMessage", None),
        ("chat.postMessage", ts),
    ]
    assert slack.posts[0].blocks == BUTTON_BLOCKS

    updated = await client.chat_update(channel="C1", ts=ts, text="resolved")
    assert updated["ts"] == ts
    assert updated["message"]["text"] == "resolved"
    assert slack.messages("C1")[0]["text"] == "resolved"
    assert slack.messages("C1")[0]["blocks"] == BUTTON_BLOCKS  # blocks kept when not sent
    assert slack.posts[-1].method == "chat.update"
    err = await api_error(client.chat_update(channel="C1", ts="1.000001", text="x"))
    assert err.response["error"] == "message_not_found"

    eph = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert eph["message_ts"]
    assert (slack.posts[-1].method, slack.posts[-1].user) == ("chat.postEphemeral", "U1")
    assert slack.posts[-1].ts == eph["message_ts"]

    await client.reactions_add(channel="C1", name="eyes", timestamp=ts)
    err = await api_error(client.reactions_add(channel="C1", name="eyes", timestamp=ts))
    assert err.response["error"] == "already_reacted"
    assert slack.messages("C1")[0]["reactions"] == ["eyes"]

    # Form-style arguments in the query string, booleans as "1".
    await client.api_call(
        "chat.postMessage",
        params={"channel": "C1", "text": "bcast", "thread_ts": ts, "reply_broadcast": True},
    )
    assert slack.posts[-1].args["reply_broadcast"] == "1"
    assert slack.posts[-1].thread_ts == ts

    assert (await api_error(client.api_call("nope.nothing"))).response["error"] == "unknown_method"
    bad = AsyncWebClient(token="xoxb-wrong", base_url=slack.base_url)
    assert (await api_error(bad.auth_test())).response["error"] == "invalid_auth"
    app_tok = AsyncWebClient(token=slack.app_token, base_url=slack.base_url)
    err = await api_error(app_tok.chat_postMessage(channel="C1", text="x"))
    assert err.response["error"] == "not_allowed_token_type"
    err = await api_error(client.apps_connections_open(app_token=slack.bot_token))
    assert err.response["error"] == "not_allowed_token_type"
    with pytest.warns(UserWarning):  # the SDK itself warns about a missing text
        err = await api_error(client.chat_postMessage(channel="C1"))
    assert err.response["error"] == "no_text"

    methods = [m for m, _ in slack.calls]
    assert methods[:4] == ["auth.test", "users.info", "users.info", "conversations.info"]
    assert "token" not in slack.calls[0][1]


async def test_block_kit_and_text_limits(slack: SlackEmulator) -> None:
    client = web_client(slack)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    await client.chat_postMessage(channel="C1", text="fifty", blocks=[section] * 50)

    err = await api_error(client.chat_postMessage(channel="C1", text="t", blocks=[section] * 51))
    assert err.response["error"] == "invalid_blocks"
    assert err.response["response_metadata"]["messages"]
    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}
    err = await api_error(client.chat_postMessage(channel="C1", text="t", blocks=[long_section]))
    assert err.response["error"] == "invalid_blocks"
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    err = await api_error(client.chat_postMessage(channel="C1", text="t", blocks=[header]))
    assert err.response["error"] == "invalid_blocks"
    err = await api_error(client.chat_postMessage(channel="C1", text="z" * 40001))
    assert err.response["error"] == "msg_too_long"
    assert len(slack.posts) == 1


async def test_files_upload_v2_end_to_end(slack: SlackEmulator) -> None:
    client = web_client(slack)
    parent = await client.chat_postMessage(channel="C1", text="logs below")
    result = await client.files_upload_v2(
        channel="C1",
        thread_ts=parent["ts"],
        content="line 1\nline 2\n",
        filename="x.log",
        title="pod logs",
        initial_comment="here you go",
    )
    uploaded = await slack.wait_for_file(channel="C1")
    assert uploaded.content == b"line 1\nline 2\n"
    assert (uploaded.filename, uploaded.title) == ("x.log", "pod logs")
    assert (uploaded.thread_ts, uploaded.initial_comment) == (parent["ts"], "here you go")
    assert result["file"]["id"] == uploaded.file_id
    assert [m for m, _ in slack.calls][-2:] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    err = await api_error(client.files_completeUploadExternal(files=[{"id": "F404", "title": "t"}]))
    assert err.response["error"] == "file_not_found"


async def test_raw_socket_envelopes_acks_and_response_url(slack: SlackEmulator) -> None:
    ws, hello = await raw_socket(slack)
    try:
        assert hello["type"] == "hello"
        assert hello["connection_info"] == {"app_id": "A0000001"}
        # aiohttp answers the SDK's pings with a pong echoing the payload.
        await asyncio.wait_for(await ws.ping(b"sdk-ping-pong:1763780000"), 2)

        sent = await slack.slash("U1", "C1", "pods -n web")
        envelope = json.loads(await ws.recv())
        assert envelope["envelope_id"] == sent.envelope_id
        assert envelope["type"] == "slash_commands"
        assert envelope["accepts_response_payload"] is True
        assert (envelope["retry_attempt"], envelope["retry_reason"]) == (0, "")
        payload = envelope["payload"]
        assert payload["command"] == "/opsbot"
        assert (payload["text"], payload["user_id"], payload["channel_id"]) == (
            "pods -n web",
            "U1",
            "C1",
        )
        assert payload["response_url"] == sent.response_url
        assert sent.response_url is not None
        assert sent.response_url.startswith(f"http://127.0.0.1:{slack.port}/response/")

        await ws.send(json.dumps({"envelope_id": sent.envelope_id}))
        assert await slack.wait_for_ack(sent.envelope_id) == {"envelope_id": sent.envelope_id}

        resp = await AsyncWebhookClient(url=sent.response_url).send(text="3 pods", response_type="in_channel")
        assert (resp.status_code, resp.body) == (200, "ok")
        post = await slack.wait_for_post(method="response_url")
        assert (post.channel, post.user, post.text) == ("C1", "U1", "3 pods")
        assert post.args["response_type"] == "in_channel"
        assert slack.messages("C1")[-1]["text"] == "3 pods"
    finally:
        await ws.close()
    await slack.wait_disconnected()


async def test_tickets_are_single_use_and_connections_can_be_disabled(
    slack: SlackEmulator,
) -> None:
    client = web_client(slack)
    slack.disable_connections()
    err = await api_error(client.apps_connections_open(app_token=slack.app_token))
    assert err.response["error"] == "invalid_auth"
    slack.enable_connections()

    first = await client.apps_connections_open(app_token=slack.app_token)
    second = await client.apps_connections_open(app_token=slack.app_token)
    assert first["url"] != second["url"]
    assert first["url"].startswith(f"ws://127.0.0.1:{slack.port}/link?ticket=")
    ws = await websockets.connect(first["url"], ping_interval=None)
    try:
        assert json.loads(await ws.recv())["type"] == "hello"
        with pytest.raises(InvalidStatus):
            await websockets.connect(first["url"], ping_interval=None)
    finally:
        await ws.close()


async def test_bot_token_responses_carry_the_granted_scopes_like_slack(slack: SlackEmulator) -> None:
    """Slack reports a token's scopes in `x-oauth-scopes`; `opsbot check-config` reads them."""
    manifest = yaml.safe_load(APP_MANIFEST.read_text(encoding="utf-8"))
    client = web_client(slack)
    response = await client.auth_test()
    granted = response.headers["x-oauth-scopes"].split(",")
    assert set(granted) == set(manifest["oauth_config"]["scopes"]["bot"]) and "chat:write" in granted

    slack.granted_scopes = {"commands", "chat:write"}
    response = await client.chat_postMessage(channel="C0OPS0001", text="hi")
    assert response.headers["x-oauth-scopes"] == "chat:write,commands"
    failed = await api_error(client.conversations_info(channel="C0NOPE0001"))
    assert failed.response.headers["x-oauth-scopes"] == "chat:write,commands"

    opened = await client.apps_connections_open(app_token=slack.app_token)
    assert "x-oauth-scopes" not in opened.headers  # app-level token: not the bot's scopes


async def test_envelopes_round_robin_over_open_sockets(slack: SlackEmulator) -> None:
    ws1, _ = await raw_socket(slack)
    ws2, hello2 = await raw_socket(slack)
    try:
        assert hello2["num_connections"] == 2
        await slack.wait_connected(2)
        first = await slack.mention("U1", "C1", "one")
        second = await slack.mention("U1", "C1", "two")
        got1 = json.loads(await ws1.recv())
        got2 = json.loads(await ws2.recv())
        assert {got1["envelope_id"], got2["envelope_id"]} == {
            first.envelope_id,
            second.envelope_id,
        }
        event = got1["payload"]
        assert event["type"] == "event_callback"
        assert event["event_id"].startswith("Ev")
        assert event["authorizations"][0]["user_id"] == "UBOT0001"
        assert event["event"]["type"] == "app_mention"
        assert event["event"]["text"].startswith("<@UBOT0001> ")
    finally:
        await ws1.close()
        await ws2.close()


async def test_an_unacked_event_is_sent_again_with_the_same_event_id_when_retries_are_on(
    slack: SlackEmulator,
) -> None:
    slack.retry_unacked_after = 0.2
    ws1, _ = await raw_socket(slack)
    ws2, _ = await raw_socket(slack)
    try:
        sent = await slack.mention("U1", "C1", "one")
        first = json.loads(await ws1.recv())  # never acked
        retry = json.loads(await asyncio.wait_for(ws2.recv(), 5))
        assert retry["payload"]["event_id"] == first["payload"]["event_id"] == sent.event_id
        assert (first["retry_attempt"], retry["retry_attempt"], retry["retry_reason"]) == (0, 1, "timeout")
        await ws2.send(json.dumps({"envelope_id": retry["envelope_id"]}))
        await slack.wait_for_ack(retry["envelope_id"])
        await asyncio.sleep(0.4)  # past the retry time: nothing announces a retry not sent
        assert [e.retry_attempt for e in slack.envelopes] == [0, 1]  # acked: no third delivery
    finally:
        await ws1.close()
        await ws2.close()


async def test_bolt_mention_reply_in_thread_and_own_echo_ignored(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    user_messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(text=f"got: {event['text']}", thread_ts=event.get("thread_ts") or event["ts"])

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        await user_messages.put(event)

    async with socket_mode_app(slack, app):
        sent = await slack.mention("U1", "C1", "pods -n web")
        post = await slack.wait_for_post(channel="C1", thread_ts=sent.ts)
        assert post.text == "got: <@UBOT0001> pods -n web"
        assert await slack.wait_for_ack(sent.envelope_id) == {"envelope_id": sent.envelope_id}

        # Slack echoes the bot's own post as a message event; Bolt acks and drops it.
        echo = await slack.wait_for_envelope(lambda e: e.echo, kind="events_api")
        assert echo.payload["event"]["bot_id"] == "BBOT0001"
        assert echo.payload["event"]["user"] == "UBOT0001"
        assert (echo.payload["event"]["ts"], echo.payload["event"]["thread_ts"]) == (post.ts, sent.ts)
        await slack.wait_for_ack(echo.envelope_id)

        await slack.message("U1", "C1", "a human", thread_ts=sent.ts)
        human = await asyncio.wait_for(user_messages.get(), 5)
        assert (human["text"], human["thread_ts"], human["channel_type"]) == (
            "a human",
            sent.ts,
            "channel",
        )
        await slack.dm("U1", "help")
        direct = await asyncio.wait_for(user_messages.get(), 5)
        assert (direct["text"], direct["channel"], direct["channel_type"]) == ("help", "D0000001", "im")
        assert user_messages.empty()  # the echo never reached a listener


async def test_bolt_command_and_action_acks(slack: SlackEmulator) -> None:
    app = bolt_app(slack)

    @app.command("/opsbot")
    async def on_command(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        await ack(text=f"working on {command['text']}")
        await respond(text="done", response_type="in_channel")

    @app.action("restart")
    async def on_restart(ack: Any, respond: Any, body: dict[str, Any]) -> None:
        await ack()
        await respond(text=f"restarted by <@{body['user']['id']}>", replace_original=True)

    async with socket_mode_app(slack, app):
        sent = await slack.slash("U1", "C1", "restart web")
        ack = await slack.wait_for_ack(sent.envelope_id)
        assert ack == {
            "envelope_id": sent.envelope_id,
            "payload": {"text": "working on restart web"},
        }
        shown = await slack.wait_for_post(method="ack")
        assert (shown.channel, shown.user, shown.text) == ("C1", "U1", "working on restart web")
        done = await slack.wait_for_post(method="response_url")
        assert (done.channel, done.user, done.text) == ("C1", "U1", "done")

        alert = await web_client(slack).chat_postMessage(
            channel="C1", text="web failing", blocks=BUTTON_BLOCKS
        )
        mark = len(slack.posts)
        click = await slack.click(
            "U1", channel="C1", message_ts=alert["ts"], action_id="restart", value="web"
        )
        assert click.payload["message"]["text"] == "web failing"
        assert click.payload["actions"][0]["text"]["text"] == "Restart"
        assert click.payload["container"]["message_ts"] == alert["ts"]
        assert await slack.wait_for_ack(click.envelope_id) == {"envelope_id": click.envelope_id}
        replaced = await slack.wait_for_post(method="response_url", after=mark)
        assert replaced.ts == alert["ts"]
        assert replaced.args["replace_original"] is True
        assert slack.messages("C1")[-1]["text"] == "restarted by <@U1>"

        # Bolt sends no ack at all when no listener matches.
        unknown = await slack.click("U1", channel="C1", message_ts=alert["ts"], action_id="nobody", value="x")
        with pytest.raises(AssertionError, match="no ack"):
            await slack.wait_for_ack(unknown.envelope_id, timeout=0.5)


async def test_redelivery_keeps_event_id(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    retries: list[tuple[str, Any]] = []

    @app.event("app_mention")
    async def on_mention(body: dict[str, Any], context: Any, say: Any) -> None:
        retries.append((body["event_id"], context.get("retry_num")))
        await say(text=f"reply {len(retries)}", thread_ts=body["event"]["ts"])

    async with socket_mode_app(slack, app):
        sent = await slack.mention("U1", "C1", "status")
        await slack.wait_for_post(lambda p: p.text == "reply 1")
        again = await slack.redeliver(sent)
        assert again.envelope_id != sent.envelope_id
        assert again.event_id == sent.event_id
        env = slack.envelopes[-1]
        assert (env.retry_attempt, env.retry_reason) == (1, "timeout")
        await slack.wait_for_ack(again.envelope_id)
        # Bolt does not de-duplicate: the bot must (on event_id).
        await slack.wait_for_post(lambda p: p.text == "reply 2")
        assert [event_id for event_id, _ in retries] == [sent.event_id, sent.event_id]


async def test_disconnect_message_makes_client_reconnect(slack: SlackEmulator) -> None:
    app = bolt_app(slack)

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(text="pong", thread_ts=event["ts"])

    async with socket_mode_app(slack, app):
        opens = sum(1 for m, _ in slack.calls if m == "apps.connections.open")
        await slack.disconnect()
        await slack.wait_connected(count=2)
        await slack.wait_disconnected(open_count=1)  # the client closes the old socket
        assert sum(1 for m, _ in slack.calls if m == "apps.connections.open") == opens + 1
        sent = await slack.mention("U1", "C1", "ping")
        post = await slack.wait_for_post(thread_ts=sent.ts)
        assert post.text == "pong"
        delivered = next(e for e in slack.envelopes if e.envelope_id == sent.envelope_id)
        assert delivered.connection_id == 2  # the new socket, not the draining one


async def test_close_frame_makes_client_reconnect(slack: SlackEmulator) -> None:
    app = bolt_app(slack)

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(text="back", thread_ts=event["ts"])

    # The websockets adapter notices a closed socket on its monitor tick (ping_interval).
    async with socket_mode_app(slack, app, ping_interval=0.5):
        await slack.close_connections()
        await slack.wait_connected(count=2)
        sent = await slack.mention("U1", "C1", "ping")
        assert (await slack.wait_for_post(thread_ts=sent.ts)).text == "back"


async def test_injected_429_surfaces_with_retry_after(slack: SlackEmulator) -> None:
    client = web_client(slack, retry_handlers=[])
    slack.fail_next("chat.postMessage", retry_after=7)
    err = await api_error(client.chat_postMessage(channel="C1", text="x"))
    assert err.response.status_code == 429
    assert err.response.headers["Retry-After"] == "7"
    assert err.response["error"] == "ratelimited"
    await client.chat_postMessage(channel="C1", text="x")  # only the next call failed

    slack.fail_next("users.info", error="internal_error", status=500, retry_after=None)
    err = await api_error(client.users_info(user="UBOT0001"))
    assert (err.response.status_code, err.response["error"]) == (500, "internal_error")

    retrying = web_client(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    slack.fail_next("chat.postMessage", retry_after=0)
    assert (await retrying.chat_postMessage(channel="C1", text="y"))["ok"] is True


async def test_rate_limiter_is_per_channel(slack: SlackEmulator) -> None:
    client = web_client(slack, retry_handlers=[])
    slack.enforce_rate_limit("chat.postMessage", per_second=1.0, burst=1)
    await client.chat_postMessage(channel="C1", text="first")
    err = await api_error(client.chat_postMessage(channel="C1", text="second"))
    assert err.response.status_code == 429
    assert err.response["error"] == "ratelimited"
    assert int(err.response.headers["Retry-After"]) >= 1
    await client.chat_postMessage(channel="C2", text="other channel")
    assert slack.rate_limited == 1
    assert [p.text for p in slack.posts] == ["first", "other channel"]


async def test_wait_for_post_timeout_lists_posts(slack: SlackEmulator) -> None:
    await web_client(slack).chat_postMessage(channel="C1", text="something else")

    def never(post: Post) -> bool:
        return post.text == "never"

    with pytest.raises(AssertionError, match="something else"):
        await slack.wait_for_post(never, timeout=0.2)


async def test_strict_channels_and_context_manager() -> None:
    async with SlackEmulator(echo_bot_messages=False, auto_create_channels=False) as emu:
        client = web_client(emu)
        err = await api_error(client.chat_postMessage(channel="C404", text="x"))
        assert err.response["error"] == "channel_not_found"
        emu.add_channel("C1", "ops", is_private=True)
        by_name = await client.chat_postMessage(channel="#ops", text="by name")
        assert by_name["channel"] == "C1"
        emu.add_user("U1", "alice")
        to_user = await client.chat_postMessage(channel="U1", text="psst")
        assert to_user["channel"].startswith("D")
        assert (await client.conversations_info(channel=to_user["channel"]))["channel"]["is_im"]
        assert emu.envelopes == []  # no echo when disabled
        assert [m["text"] for m in emu.messages("C1")] == ["by name"]
