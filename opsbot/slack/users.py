"""Display names for the audit trail, looked up once per user and cached.

Names are only ever shown and recorded next to the immutable user id; nothing
decides anything on them."""

from __future__ import annotations

import asyncio
import time

import structlog
from slack_sdk.web.async_client import AsyncWebClient

log = structlog.get_logger("opsbot.slack")


class UserNames:
    def __init__(self, client: AsyncWebClient, *, ttl: float = 3600, timeout: float = 2.0) -> None:
        self._client = client
        self._ttl = ttl
        self._timeout = timeout
        self._cache: dict[str, tuple[float, str]] = {}

    async def name(self, user_id: str) -> str:
        cached = self._cache.get(user_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        name = ""
        try:
            response = await asyncio.wait_for(self._client.users_info(user=user_id), self._timeout)
            user = response.get("user") or {}
            profile = user.get("profile") or {}
            name = str(profile.get("display_name") or user.get("real_name") or user.get("name") or "")
        except Exception as exc:
            log.info("user_name_unavailable", user=user_id, error=type(exc).__name__)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[user_id] = (now, name)
        return name


class UserGroups:
    """Which of the user groups named in the policy a user belongs to.

    Membership comes from usergroups.users.list, one call per group, refreshed
    every `ttl` seconds; a failed refresh keeps the last known membership.
    """

    def __init__(self, client: AsyncWebClient, groups: frozenset[str], *, ttl: float = 300) -> None:
        self._client = client
        self._groups = groups
        self._ttl = ttl
        self._members: dict[str, frozenset[str]] = {}
        self._fetched = float("-inf")
        self._lock = asyncio.Lock()

    async def of(self, user_id: str) -> frozenset[str]:
        if not self._groups:
            return frozenset()
        async with self._lock:
            if time.monotonic() - self._fetched >= self._ttl:
                await self._refresh()
        return frozenset(group for group, members in self._members.items() if user_id in members)

    async def _refresh(self) -> None:
        for group in sorted(self._groups):
            try:
                response = await asyncio.wait_for(self._client.usergroups_users_list(usergroup=group), 5.0)
                self._members[group] = frozenset(str(user) for user in response.get("users") or [])
            except Exception as exc:
                log.warning("usergroup_lookup_failed", usergroup=group, error=type(exc).__name__)
        self._fetched = time.monotonic()
