"""Signals: one signed POST per attempt to a downstream system (aiohttp).

Each attempt carries the same ``webhook-id`` (also as ``Idempotency-Key``) and body, a fresh
``webhook-timestamp`` and the signature over both. 2xx is delivered; 408, 425, 429, 5xx,
timeouts and connection errors are worth another attempt (after `backoff`, or the
``Retry-After`` the target asked for); any other answer is a refusal, final.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import aiohttp

from opsbot.alertmanager.remediation import Delivery, Remediation
from opsbot.alertmanager.secrets import Secret
from opsbot.alertmanager.settings import SignalTarget
from opsbot.alertmanager.signing import signed_headers

MAX_BACKOFF_SECONDS = 300.0
_RETRIED = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    final: bool
    """No further attempt: delivered, or refused."""
    status: int | None
    error: str
    retry_after: float | None = None


def after_attempt(
    current: Remediation, attempt: Attempt, target: SignalTarget | None, at: datetime
) -> Remediation | None:
    """The remediation after one more attempt at its signal: done (delivered, refused, out of
    attempts, its target gone) or still pending; a delivered rejection closes it."""
    delivery = current.delivery
    if delivery is None or delivery.state != "pending":
        return None
    attempts = delivery.attempts + 1
    if not (attempt.delivered or attempt.final or target is None or attempts >= target.max_attempts):
        failed = replace(delivery, attempts=attempts, http_status=attempt.status, error=attempt.error)
        return replace(current, delivery=failed)
    error = f"refused ({attempt.error})" if attempt.final and not attempt.delivered else attempt.error
    done = replace(
        delivery,
        state="delivered" if attempt.delivered else "failed",
        attempts=attempts,
        http_status=attempt.status,
        error=error,
        finished_at=at,
    )
    return replace(current, delivery=done, closed="rejected" if done.decision == "rejected" else current.closed)


def backoff(target: SignalTarget, attempts: int) -> float:
    """Seconds to wait after `attempts` failed attempts."""
    return float(min(MAX_BACKOFF_SECONDS, target.backoff_seconds * 2 ** max(0, attempts - 1)))


def _retry_after(value: str | None) -> float | None:
    try:
        return min(MAX_BACKOFF_SECONDS, max(0.0, float(value))) if value else None
    except ValueError:
        return None


class SignalSender:
    def __init__(
        self,
        targets: Mapping[str, SignalTarget],
        secrets: Mapping[str, Secret],
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._targets = targets
        self._secrets = secrets
        self._now = now
        self._session: aiohttp.ClientSession | None = None

    def target(self, name: str) -> SignalTarget | None:
        return self._targets.get(name)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(trust_env=False)
        return self._session

    async def attempt(self, delivery: Delivery) -> Attempt:
        target = self._targets.get(delivery.target)
        secret = self._secrets.get(delivery.target)
        if target is None or secret is None:
            return Attempt(False, True, None, f"signal target {delivery.target!r} is not configured any more")
        body = delivery.body.encode()
        headers = signed_headers(secret.reveal(), delivery.webhook_id, int(self._now()), body)
        timeout = aiohttp.ClientTimeout(total=target.timeout_seconds)
        try:
            async with self._client().post(
                target.url, data=body, headers=headers, timeout=timeout
            ) as response:
                await response.read()
                status = response.status
                if 200 <= status < 300:
                    return Attempt(True, True, status, "")
                retried = status >= 500 or status in _RETRIED
                return Attempt(
                    False,
                    not retried,
                    status,
                    f"HTTP {status}",
                    _retry_after(response.headers.get("Retry-After")),
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__
            return Attempt(False, False, None, reason)
