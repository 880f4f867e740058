"""The Web API endpoint /api/<method>: auth, fault injection, rate limits, dispatch.

Methods that post live in `chat`; the read-only ones (users, conversations) and
file uploads live here.
"""

from __future__ import annotations

import copy
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .chat import ChatMethods
from .records import Fault, PendingUpload, UploadedFile
from .wire import ApiError, opt_str, parse_json_arg


class WebApi(ChatMethods):
    """Serves /api/<method> and the raw upload URL."""

    @staticmethod
    def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(body, status=status, headers=headers)

    @staticmethod
    async def _read_args(request: web.Request) -> dict[str, Any]:
        """Merge query string + form + JSON body (clients use all three)."""
        args: dict[str, Any] = dict(request.query.items())
        if not request.body_exists:
            return args
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                args.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    args[key] = value.file.read()
                else:
                    args[key] = value
        return args

    def _token_error(self, token: str | None, method: str) -> str | None:
        wants_app = method == "apps.connections.open"
        if token == (self.app_token if wants_app else self.bot_token):
            return None
        if token in (self.app_token, self.bot_token):
            return "not_allowed_token_type"
        return "invalid_auth"

    def _take_fault(self, method: str) -> Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        return fault

    def _rate_check(self, method: str, args: dict[str, Any]) -> int | None:
        """Token bucket per (method, channel); returns Retry-After seconds when over."""
        limit = self._limits.get(method)
        if limit is None:
            return None
        channel = str(args.get("channel") or args.get("channel_id") or "")
        now = time.monotonic()
        tokens, last = self._buckets.get((method, channel), (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - last) * limit.per_second)
        if tokens >= 1.0:
            self._buckets[(method, channel)] = (tokens - 1.0, now)
            return None
        self._buckets[(method, channel)] = (tokens, now)
        self.rate_limited += 1
        return max(1, math.ceil((1.0 - tokens) / limit.per_second))

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        """/api/<method>: auth, fault injection, rate limits, then the method itself."""
        method = request.match_info["method"]
        try:
            args = await self._read_args(request)
        except ValueError:
            self.calls.append((method, {}))
            await self._changed()
            return self._json({"ok": False, "error": "invalid_json"})
        token = args.pop("token", None)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :].strip()
        try:
            handler = self._methods().get(method)
            if handler is None:
                return self._json({"ok": False, "error": "unknown_method"})
            token_error = self._token_error(opt_str(token), method)
            if token_error is not None:
                return self._json({"ok": False, "error": token_error})
            scopes = (
                {"x-oauth-scopes": ",".join(sorted(self.granted_scopes))} if token == self.bot_token else {}
            )
            fault = self._take_fault(method)
            if fault is not None:
                headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                return self._json({"ok": False, "error": fault.error}, fault.status, {**headers, **scopes})
            retry_after = self._rate_check(method, args)
            if retry_after is not None:
                return self._json(
                    {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after), **scopes}
                )
            try:
                return self._json(await handler(args), headers=scopes)
            except ApiError as e:
                body: dict[str, Any] = {"ok": False, "error": e.error}
                if e.messages:
                    body["response_metadata"] = {"messages": e.messages}
                return self._json(body, headers=scopes)
        finally:
            self.calls.append((method, args))
            await self._changed()

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]]:
        return {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.replies": self._conversations_replies,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    async def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_name.lower()}.slack.com/",
            "team": self.team_name,
            "user": self._users[self.bot_user_id]["name"],
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    async def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._connections_error is not None:
            raise ApiError(self._connections_error)
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link?ticket={ticket}"}

    async def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup") or "")
        if group not in self._usergroups:
            raise ApiError("no_such_subteam")
        return {"ok": True, "users": list(self._usergroups[group])}

    async def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(args.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"ok": True, "user": copy.deepcopy(user)}

    async def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        info = self._channels.get(str(args.get("channel") or ""))
        if info is None:
            raise ApiError("channel_not_found")
        return {"ok": True, "channel": dict(info)}

    async def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        ts = str(args.get("message_ts") or "")
        if channel not in self._channels or ts not in self._messages.get(channel, {}):
            raise ApiError("message_not_found")
        link = f"https://{self.team_name.lower()}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    async def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if channel not in self._channels:
            raise ApiError("channel_not_found")
        limit = int(args.get("limit") or 100)
        oldest = float(args.get("oldest") or 0)
        top = [
            m
            for m in self._messages[channel].values()
            if m["thread_ts"] in (None, m["ts"]) and float(m["ts"]) >= oldest
        ]
        top.sort(key=lambda m: m["ts"], reverse=True)
        return {
            "ok": True,
            "messages": [self._public_message(m) for m in top[:limit]],
            "has_more": len(top) > limit,
        }

    async def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if channel not in self._channels:
            raise ApiError("channel_not_found")
        ts = str(args.get("ts") or "")
        thread = [m for m in self._messages[channel].values() if m["ts"] == ts or m["thread_ts"] == ts]
        if not thread:
            raise ApiError("thread_not_found")
        thread.sort(key=lambda m: m["ts"])
        return {
            "ok": True,
            "messages": [self._public_message(m) for m in thread],
            "has_more": False,
        }

    async def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = opt_str(args.get("filename"))
        try:
            length = int(args.get("length") or -1)
        except (TypeError, ValueError):
            length = -1
        if filename is None or length < 0:
            raise ApiError("invalid_arguments")
        file_id = f"F{next(self._ids):09d}"
        self._uploads[file_id] = PendingUpload(file_id, filename, length)
        return {"ok": True, "upload_url": f"{self.http_url}/upload/{file_id}", "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """The raw upload URL (no auth, like files.slack.com/upload/v1/...)."""
        pending = self._uploads.get(request.match_info["file_id"])
        if pending is None:
            return web.Response(status=404, text="file_not_found")
        pending.content = await request.read()
        await self._changed()
        return web.Response(text=f"OK - {len(pending.content)}")

    async def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        items = parse_json_arg(args.get("files"), "invalid_arguments")
        if not isinstance(items, list) or not items:
            raise ApiError("invalid_arguments")
        channel_arg = opt_str(args.get("channel_id")) or opt_str(
            str(args.get("channels") or "").split(",")[0]
        )
        channel = None if channel_arg is None else self._resolve_channel(channel_arg)
        thread_ts = opt_str(args.get("thread_ts"))
        comment = opt_str(args.get("initial_comment"))
        uploads: list[tuple[PendingUpload, str | None]] = []
        for item in items:
            file_id = str(item.get("id") or "") if isinstance(item, dict) else ""
            pending = self._uploads.get(file_id)
            if pending is None or pending.content is None:
                raise ApiError("file_not_found")
            title = opt_str(item.get("title")) if isinstance(item, dict) else None
            uploads.append((pending, title))
        now = int(time.time())
        files: list[dict[str, Any]] = []
        for pending, title in uploads:
            del self._uploads[pending.file_id]
            content = pending.content or b""
            self.files.append(
                UploadedFile(pending.file_id, pending.filename, title, content, channel, thread_ts, comment)
            )
            files.append(
                {
                    "id": pending.file_id,
                    "created": now,
                    "timestamp": now,
                    "name": pending.filename,
                    "title": title or pending.filename,
                    "mimetype": "text/plain",
                    "filetype": "text",
                    "user": self.bot_user_id,
                    "size": len(content),
                    "channels": [channel] if channel is not None else [],
                }
            )
        return {"ok": True, "files": files}
