"""What a new incident's thread shows besides the card: the container's last log lines and
the pod's Warning events, fetched from the cluster once the root is posted.

Which log (the run that crashed, or the current one) and whether there is anything
to fetch at all (pods only) is the detector's word: ``DetectorSpec.container_log``.
A failed fetch is shown as a note or left out; it never stops the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from opsbot.alerts.detectors import detector
from opsbot.alerts.findings import EXTERNAL_KINDS, Finding
from opsbot.ports import KubeDirectory, KubeObject, RunBlocking

log = structlog.get_logger("opsbot.alerts")

LOG_LIMIT_BYTES = 64_000


@dataclass(frozen=True)
class Enrichment:
    """What a new incident's thread gets: the crashed container's last lines and warnings."""

    log_lines: list[str]
    log_note: str  # why there are no lines (the cluster's answer), else ""
    events: list[KubeObject]


class Enricher:
    """Fetches an :class:`Enrichment` for a finding through blocking client calls run off the loop."""

    def __init__(self, clusters: KubeDirectory, run_blocking: RunBlocking, *, lines: int) -> None:
        self._clusters = clusters
        self._run_blocking = run_blocking
        self._lines = lines

    async def gather(self, finding: Finding) -> Enrichment | None:
        """None when the thread gets nothing: enrichment is off, or the finding is not about a pod."""
        if finding.kind in EXTERNAL_KINDS:
            return None  # no detector says which log: the source's own links do
        wanted = detector(finding.kind).container_log
        if self._lines <= 0 or wanted is None:
            return None
        kube = self._clusters.get(finding.cluster)
        lines: list[str] = []
        note = ""
        try:
            text = await self._run_blocking(
                kube.read_pod_log,
                finding.namespace,
                finding.subject,
                container=finding.container,
                tail_lines=self._lines,
                previous=wanted == "previous",
                since_seconds=None,
                limit_bytes=LOG_LIMIT_BYTES,
            )
            lines = str(text).splitlines()
        except Exception as exc:
            note = str(exc)[:300]
        events: list[KubeObject] = []
        try:
            selector = f"involvedObject.name={finding.subject},type=Warning"
            events = await self._run_blocking(kube.list_events, finding.namespace, field_selector=selector)
        except Exception as exc:
            log.info("enrichment_events_unavailable", error=str(exc)[:200])
        return Enrichment(lines, note, events)
