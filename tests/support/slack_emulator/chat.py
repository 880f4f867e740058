"""Web API methods that say something: chat.*, reactions.*, and response_url posts.

Every message the bot sends is recorded as a `Post`; chat.postMessage and
chat.update are echoed back over Socket Mode as Slack does (unless disabled).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .blocks import MAX_MESSAGE_TEXT, validate_blocks
from .records import Post
from .socket_mode import SocketModeLink
from .wire import ApiError, opt_str, parse_json_arg, truthy


class ChatMethods(SocketModeLink):
    """chat.postMessage/update/delete/postEphemeral, reactions.add/remove, response_url."""

    def _message_content(self, args: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """Validate text/blocks/attachments the way chat.* does."""
        text = args.get("text")
        text = "" if text is None else str(text)
        blocks = validate_blocks(args.get("blocks"))
        attachments = parse_json_arg(args.get("attachments"), "invalid_attachments")
        if not text and not blocks and not attachments:
            raise ApiError("no_text")
        if len(text) > MAX_MESSAGE_TEXT:
            raise ApiError("msg_too_long")
        return text, blocks

    async def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        text, blocks = self._message_content(args)
        thread_ts = opt_str(args.get("thread_ts"))
        ts = self._next_ts()
        msg = self._store_message(
            channel,
            ts,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            user=self.bot_user_id,
            bot_id=self.bot_id,
        )
        if args.get("metadata"):
            msg["metadata"] = parse_json_arg(args["metadata"], "invalid_metadata_format")
        self.posts.append(Post("chat.postMessage", channel, ts, text, blocks, thread_ts, None, args))
        public = self._public_message(msg)
        if self.echo_bot_messages:
            event = dict(public, channel=channel, event_ts=ts, channel_type=self._channel_type(channel))
            if thread_ts is not None and truthy(args.get("reply_broadcast")):
                event["subtype"] = "thread_broadcast"
            self._spawn_echo(event, channel)
        return {"ok": True, "channel": channel, "ts": ts, "message": public}

    def _bot_message(self, channel_arg: Any, ts_arg: Any) -> tuple[str, dict[str, Any]]:
        raw = opt_str(channel_arg)
        if raw is None or raw not in self._channels:
            raise ApiError("channel_not_found")
        msg = self._messages.get(raw, {}).get(str(ts_arg or ""))
        if msg is None:
            raise ApiError("message_not_found")
        return raw, msg

    async def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, msg = self._bot_message(args.get("channel"), args.get("ts"))
        if msg["bot_id"] != self.bot_id:
            raise ApiError("cant_update_message")
        text, blocks = self._message_content(args)
        previous = self._public_message(msg)
        if "text" in args:
            msg["text"] = text
        if "blocks" in args:
            msg["blocks"] = blocks
        edit_ts = self._next_ts()
        msg["edited"] = {"user": self.bot_user_id, "ts": edit_ts}
        ts = msg["ts"]
        self.posts.append(
            Post("chat.update", channel, ts, msg["text"], msg["blocks"], msg["thread_ts"], None, args)
        )
        public = self._public_message(msg)
        if self.echo_bot_messages:
            event = {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "channel": channel,
                "channel_type": self._channel_type(channel),
                "ts": edit_ts,
                "event_ts": edit_ts,
                "message": public,
                "previous_message": previous,
            }
            self._spawn_echo(event, channel)
        return {"ok": True, "channel": channel, "ts": ts, "text": msg["text"], "message": public}

    async def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, msg = self._bot_message(args.get("channel"), args.get("ts"))
        if msg["bot_id"] != self.bot_id:
            raise ApiError("cant_delete_message")
        del self._messages[channel][msg["ts"]]
        return {"ok": True, "channel": channel, "ts": msg["ts"]}

    async def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        user = opt_str(args.get("user"))
        if user is None:
            raise ApiError("user_not_found")
        text, blocks = self._message_content(args)
        thread_ts = opt_str(args.get("thread_ts"))
        ts = self._next_ts()
        self.posts.append(Post("chat.postEphemeral", channel, ts, text, blocks, thread_ts, user, args))
        return {"ok": True, "message_ts": ts}

    def _reaction_target(self, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
        raw = opt_str(args.get("channel"))
        msg = self._messages.get(raw or "", {}).get(str(args.get("timestamp") or ""))
        if msg is None:
            raise ApiError("message_not_found")
        name = opt_str(args.get("name"))
        if name is None:
            raise ApiError("invalid_name")
        return msg, name.strip(":")

    async def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        msg, name = self._reaction_target(args)
        if name in msg["reactions"]:
            raise ApiError("already_reacted")
        msg["reactions"].append(name)
        return {"ok": True}

    async def _reactions_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        msg, name = self._reaction_target(args)
        if name not in msg["reactions"]:
            raise ApiError("no_reaction")
        msg["reactions"].remove(name)
        return {"ok": True}

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        """response_url posts (AsyncWebhookClient / Bolt respond()): reply 200 "ok"."""
        target = self._responses.get(request.match_info["rid"])
        if target is None:
            return web.Response(status=404, text="no_service")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        text = str(body.get("text") or "")
        try:
            blocks = validate_blocks(body.get("blocks"))
        except ApiError as e:
            return web.Response(status=400, text=e.error)
        stored = (
            self._messages.get(target.channel, {}).get(target.message_ts)
            if target.message_ts is not None
            else None
        )
        thread_ts = opt_str(body.get("thread_ts")) or target.thread_ts
        ts: str
        if truthy(body.get("delete_original")):
            ts = target.message_ts or self._next_ts()
            if stored is not None:
                del self._messages[target.channel][stored["ts"]]
        elif truthy(body.get("replace_original")) and target.message_ts is not None:
            ts = target.message_ts
            if stored is not None:
                stored["text"] = text
                stored["blocks"] = blocks
        else:
            if not text and not blocks and not body.get("attachments"):
                return web.Response(status=400, text="no_text")
            ts = self._next_ts()
            if body.get("response_type") == "in_channel":
                self._store_message(
                    target.channel,
                    ts,
                    text=text,
                    blocks=blocks,
                    thread_ts=thread_ts,
                    user=self.bot_user_id,
                    bot_id=self.bot_id,
                )
        self.posts.append(
            Post("response_url", target.channel, ts, text, blocks, thread_ts, target.user, body)
        )
        await self._changed()
        return web.Response(text="ok")
