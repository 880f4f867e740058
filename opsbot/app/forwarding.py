"""With `ha:` and the Redis store: this replica advertises where the others reach its internal
port, and forwards the Alertmanager requests that land on it while another replica runs the
Alertmanager loops (opsbot.ha.peers, opsbot.ha.forwarding; the receiver in
opsbot.alertmanager.receiver), and hands that replica the clicks and silence notes it takes
(opsbot.alertmanager.handoff). Without a URL of its own (no `ha.advertise_url`, no $POD_IP)
a replica neither advertises nor forwards: it answers 503 as a replica without forwarding did.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import structlog
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from opsbot.alertmanager.receiver import RELAYED_HEADERS
from opsbot.app.leading import Leadership
from opsbot.ha.forwarding import Forwarder
from opsbot.ha.peers import Advertiser, PeerDirectory, advertised_url
from opsbot.ha.settings import HASettings

log = structlog.get_logger("opsbot.ha")

TTL_LEASES = 3
"""An advertised URL lives this many lease durations unless refreshed (every retry period)."""


class Forwarding:
    def __init__(
        self,
        leadership: Leadership,
        peers: PeerDirectory,
        settings: HASettings,
        environ: Mapping[str, str],
        *,
        alertmanager: bool,
    ) -> None:
        """`alertmanager`: whether anything is forwarded (else a missing URL is no warning)."""
        self._alertmanager = alertmanager
        self._peers = peers
        self._settings = settings
        self._environ = environ
        self.identity = leadership.identity
        self.forwarder = Forwarder(
            leadership.identity,
            leading=leadership.leads_shared,
            holder=leadership.shared_holder,
            peers=peers,
            headers=RELAYED_HEADERS,
        )
        self.advertiser: Advertiser | None = None

    @property
    def url(self) -> str | None:
        return self.advertiser.url if self.advertiser is not None else None

    async def start(self, port: int | None) -> None:
        """Once the internal port listens (`port`: the one bound): advertise it, and forward."""
        url = advertised_url(self._settings.advertise_url, self._environ, port)
        if url is None:
            (log.warning if self._alertmanager else log.info)(
                "forwarding_disabled",
                why="neither ha.advertise_url nor $POD_IP is set: Alertmanager requests that land on "
                "a replica not running its loops get 503 (Alertmanager retries)",
            )
            return
        ttl = TTL_LEASES * self._settings.lease_duration_seconds
        self.advertiser = Advertiser(
            self._peers, self.identity, url, ttl=ttl, every=self._settings.retry_period_seconds
        )
        await self.advertiser.start()
        self.forwarder.enabled = True

    async def stop(self) -> None:
        self.forwarder.enabled = False
        if self.advertiser is not None:
            await self.advertiser.stop()
        await self.forwarder.close()


class ForwardingCollector(Collector):
    """/metrics: Alertmanager requests this replica forwarded (or could not), by outcome."""

    def __init__(self, forwarder: Forwarder) -> None:
        self._forwarder = forwarder

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        forwarded = CounterMetricFamily(
            "opsbot_alertmanager_forwarded",
            "Alertmanager requests (webhooks, status updates; and clicks, silence notes handed on) that "
            "landed here while another replica ran the loops, by outcome "
            "(ok: the leader answered; failed: no address, unreachable or 5xx; no_leader: none known; "
            "hop_limit: already forwarded once).",
            labels=["outcome"],
        )
        for outcome, count in self._forwarder.outcomes.items():
            forwarded.add_metric([outcome], count)
        yield forwarded
