"""A thin typed client of Alertmanager's API v2 (alerts, silences) over aiohttp.

No maintained Python client exists for v2, so this is the few calls opsbot makes. Failures
leave as `AlertmanagerError` (``temporary`` for timeouts, connection errors and 5xx); the
credentials never appear in a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp

from opsbot.alertmanager.payload import (
    AmAlert,
    PayloadError,
    api_alert_receivers,
    parse_api_alert,
    parse_time,
)
from opsbot.alertmanager.secrets import ApiCredentials
from opsbot.core.silences import Matcher, Silence
from opsbot.errors import AlertmanagerError


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def silence_from(data: Mapping[str, Any]) -> Silence:
    matchers = tuple(
        Matcher(
            str(item.get("name", "")),
            str(item.get("value", "")),
            bool(item.get("isRegex", False)),
            bool(item.get("isEqual", True)),
        )
        for item in data.get("matchers") or []
        if isinstance(item, Mapping)
    )
    status = data.get("status") or {}
    return Silence(
        id=str(data.get("id", "")),
        matchers=matchers,
        starts_at=parse_time(data.get("startsAt"), "silence.startsAt"),
        ends_at=parse_time(data.get("endsAt"), "silence.endsAt"),
        created_by=str(data.get("createdBy", "")),
        comment=str(data.get("comment", "")),
        state=str(status.get("state", "")) if isinstance(status, Mapping) else "",
    )


class AlertmanagerApi:
    def __init__(self, base_url: str, credentials: ApiCredentials, *, timeout: float) -> None:
        self.base_url = base_url.rstrip("/") + "/api/v2"
        self._credentials = credentials
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers=self._credentials.headers(), trust_env=False
            )
        return self._session

    async def _call(
        self, method: str, path: str, *, params: Sequence[tuple[str, str]] = (), json: Any = None
    ) -> Any:
        url = self.base_url + path
        try:
            async with self._client().request(method, url, params=list(params), json=json) as response:
                text = await response.text()
                if response.status >= 400:
                    detail = text.strip().replace("\n", " ")[:200]
                    raise AlertmanagerError(
                        f"Alertmanager answered {response.status} to {method} {path}: {detail}",
                        temporary=response.status >= 500 or response.status == 429,
                        status=response.status,
                    )
                if not text:
                    return None
                try:
                    return await response.json(content_type=None)
                except ValueError:
                    raise AlertmanagerError(f"Alertmanager sent no JSON for {method} {path}") from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = type(exc).__name__ if isinstance(exc, asyncio.TimeoutError) else str(exc)[:200]
            raise AlertmanagerError(
                f"Alertmanager unreachable at {self.base_url}: {reason}", temporary=True
            ) from None

    # alerts -------------------------------------------------------------------------

    async def alerts(
        self, receivers: Sequence[str], *, filters: Sequence[str] = ()
    ) -> list[tuple[AmAlert, frozenset[str]]]:
        """Active (firing) alerts routed to one of `receivers`, with their receivers. Silenced and
        inhibited ones too: they still fire (their ``state`` says ``suppressed``)."""
        params = [("active", "true"), ("silenced", "true"), ("inhibited", "true"), ("unprocessed", "true")]
        params.extend(("filter", item) for item in filters)
        data = await self._call("GET", "/alerts", params=params)
        found = []
        for item in data if isinstance(data, list) else []:
            names = api_alert_receivers(item)
            if receivers and not names & set(receivers):
                continue
            try:
                found.append((parse_api_alert(item), names))
            except PayloadError:
                continue
        return found

    async def groups(self, receivers: Sequence[str]) -> list[tuple[str, dict[str, str], list[AmAlert]]]:
        """``GET /alerts/groups``: (receiver, group labels, active alerts) for each group of ours."""
        data = await self._call(
            "GET", "/alerts/groups", params=[("active", "true"), ("silenced", "true"), ("inhibited", "true")]
        )
        found = []
        for item in data if isinstance(data, list) else []:
            if not isinstance(item, Mapping):
                continue
            receiver = str((item.get("receiver") or {}).get("name", ""))
            if receiver not in receivers:
                continue
            labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
            alerts = []
            for raw in item.get("alerts") or []:
                try:
                    alerts.append(parse_api_alert(raw))
                except PayloadError:
                    continue
            found.append((receiver, labels, alerts))
        return found

    # silences ------------------------------------------------------------------------

    async def create_silence(
        self,
        matchers: Sequence[Matcher],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        body = {
            "matchers": [
                {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
                for m in matchers
            ],
            "startsAt": _iso(starts_at),
            "endsAt": _iso(ends_at),
            "createdBy": created_by,
            "comment": comment,
        }
        data = await self._call("POST", "/silences", json=body)
        silence_id = data.get("silenceID") if isinstance(data, Mapping) else None
        if not isinstance(silence_id, str) or not silence_id:
            raise AlertmanagerError("Alertmanager created a silence but sent no id")
        return silence_id

    async def silences(self) -> list[Silence]:
        data = await self._call("GET", "/silences")
        found = []
        for item in data if isinstance(data, list) else []:
            try:
                found.append(silence_from(item))
            except PayloadError:
                continue
        return found

    async def silence(self, silence_id: str) -> Silence | None:
        try:
            data = await self._call("GET", f"/silence/{silence_id}")
        except AlertmanagerError as exc:
            if exc.status == 404:
                return None
            raise
        return silence_from(data) if isinstance(data, Mapping) else None

    async def expire_silence(self, silence_id: str) -> None:
        await self._call("DELETE", f"/silence/{silence_id}")

    async def status(self) -> Mapping[str, Any]:
        data = await self._call("GET", "/status")
        return data if isinstance(data, Mapping) else {}
