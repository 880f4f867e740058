"""One hop to the leader: a replica that does not run a leader-only loop forwards the request
that feeds it to the replica that does, and answers with that replica's answer.

Why: Alertmanager reaches the replicas through one Service, so its webhook lands on any of
them; only the lease cluster's leader takes notifications. Forwarding makes Alertmanager's
200 mean "the leader accepted it" on the first try instead of after retries with back-off.

    caller ──POST──▶ replica B (not leading) ──POST + X-Opsbot-Forwarded-By: B──▶ leader A
           ◀─ A's status and body ──────────┘

The caller authenticates with B before anything is forwarded (the receiver's job), and A
checks the same credentials again (the headers are passed on as they came). One hop only:
a forwarded request that lands on a replica that does not lead (A lost the lease meanwhile)
is not forwarded again. Every "cannot" (no leader known, no URL for it, it could not be
reached in time, it answered 5xx) is a reason for a 503: the caller retries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import aiohttp
import structlog

from opsbot.ha.peers import PeerDirectory

log = structlog.get_logger("opsbot.ha")

FORWARDED_HEADER = "X-Opsbot-Forwarded-By"
TIMEOUT_SECONDS = 5.0
OUTCOMES = ("ok", "failed", "no_leader", "hop_limit")

Answer = tuple[int, bytes, str]
"""The leader's answer: status, body, content type."""


class Forwarder:
    """`await forwarder(path, body, headers)`: the leader's `Answer`; a reason (str) to answer
    503 with; or None when this replica is the one to answer (it leads, or forwarding is off
    because it has no URL of its own)."""

    def __init__(
        self,
        identity: str,
        *,
        leading: Callable[[], bool],
        holder: Callable[[], str],
        peers: PeerDirectory,
        headers: Sequence[str],
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        """`leading`: whether this replica leads; `holder`: who does as last seen ("" unknown);
        `headers`: the request headers passed on (credentials, signatures, idempotency keys)."""
        self.identity = identity
        self._leading = leading
        self._holder = holder
        self._peers = peers
        self._headers = tuple(headers)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self.enabled = False
        """Set once this replica has a URL of its own (`opsbot.ha.peers.advertised_url`)."""
        self.outcomes: dict[str, int] = dict.fromkeys(OUTCOMES, 0)

    async def __call__(self, path: str, body: bytes, headers: Mapping[str, str]) -> Answer | str | None:
        if not self.enabled or self._leading():
            return None
        forwarded_by = headers.get(FORWARDED_HEADER)
        if forwarded_by is not None:
            why = f"forwarded by {forwarded_by[:100]} to a replica that does not lead; retry"
            return self._not("hop_limit", why)
        holder = self._holder()
        if not holder or holder == self.identity:
            return self._not("no_leader", "no replica leads yet; retry")
        try:
            base = await self._peers.lookup(holder)
        except Exception as exc:  # the store is unavailable: the caller retries
            return self._not("failed", f"cannot look up the leader's address: {str(exc)[:200]}")
        if base is None:
            return self._not("failed", f"the leader ({holder}) has not advertised its address; retry")
        return await self._post(holder, base + path, body, headers)

    async def _post(self, holder: str, url: str, body: bytes, headers: Mapping[str, str]) -> Answer | str:
        passed = {name: value for name in self._headers if (value := headers.get(name)) is not None}
        passed[FORWARDED_HEADER] = self.identity
        try:
            async with self._client().post(url, data=body, headers=passed, timeout=self._timeout) as response:
                answer = (response.status, await response.read(), response.content_type)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            why = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.warning("forward_failed", leader=holder, why=why)
            return self._not("failed", f"could not reach the leader ({holder}): {why}; retry")
        if answer[0] >= 500:
            return self._not("failed", f"the leader ({holder}) answered {answer[0]}; retry")
        self.outcomes["ok"] += 1
        return answer

    def _not(self, outcome: str, reason: str) -> str:
        self.outcomes[outcome] += 1
        return reason

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(trust_env=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
