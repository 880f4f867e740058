"""What an incident's thread shows besides the card, fetched from the cluster once its root is posted.

Per subject:

* a pod: the container's last log lines (the run that crashed, or the current one: the
  detector's ``DetectorSpec.container_log``; none when no container ran) and its Warning
  events. A pod stuck creating is explained by them (FailedMount, FailedAttachVolume,
  FailedCreatePodSandBox): the newest such message becomes the card's quote;
* a node: the pods on it, how many are not ready and which workloads they belong to
  (the card shows the count and the workloads), and the node's Warning events;
* a Deployment: the Warning events of its pods; failing probes (Unhealthy) become the
  card's quote;
* a Job or a CronJob's failed run: the Job's Warning events.

Enrichment is part of the incident's state (``Incident.enrichment``): gathered and posted
once, also when the root was found again after a restart. A failed fetch is a note or
left out; it never stops the pipeline.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import structlog

from opsbot.alerts.detectors import detector
from opsbot.alerts.detectors.jobs import LAST_RUN
from opsbot.alerts.findings import EXTERNAL_KINDS, AlertKind
from opsbot.alerts.incidents import Incident
from opsbot.alerts.owners import DEFAULT_OWNERS
from opsbot.core import kubeobjects as fmt
from opsbot.ports import KubeDirectory, KubeObject, KubePort, RunBlocking

log = structlog.get_logger("opsbot.alerts")

LOG_LIMIT_BYTES = 64_000
WORKLOADS_SHOWN = 5
# What explains a pod stuck creating, or a Deployment below its replicas.
CAUSES = {
    AlertKind.STUCK_CREATING: (
        "FailedMount",
        "FailedAttachVolume",
        "FailedCreatePodSandBox",
        "FailedCreatePodContainer",
    ),
    AlertKind.DEPLOYMENT_UNAVAILABLE: ("Unhealthy", "BackOff", "FailedMount"),
    AlertKind.ROLLOUT_FAILED: ("Unhealthy", "BackOff", "Failed", "FailedCreate"),
}
PODS_ON_NODE = "pods_on_node"
NOT_READY_ON_NODE = "not_ready_on_node"
WORKLOADS = "workloads"
CAUSE = "cause"


@dataclass(frozen=True)
class Enrichment:
    """What a new incident's thread gets, and what it tells the card."""

    log_lines: list[str]
    log_note: str  # why there are no lines (the cluster's answer), else ""
    events: list[KubeObject]
    container: str | None = None
    pods: list[KubeObject] = field(default_factory=list)  # a node's pods
    facts: dict[str, str] = field(default_factory=dict)  # merged into the incident's facts
    cause: str = ""  # the newest message that explains the problem, quoted by the card


def wants_enrichment(incident: Incident) -> bool:
    """Whether this kind of incident has anything to add in its thread (an external source's
    alerts carry their own links instead)."""
    if incident.kind in EXTERNAL_KINDS:
        return False
    return incident.kind is not AlertKind.WARNING_EVENT and (
        incident.subject_kind != "Pod" or detector(incident.kind).container_log is not None
    )


class Enricher:
    """Fetches an :class:`Enrichment` for an incident through blocking client calls run off the loop."""

    def __init__(self, clusters: KubeDirectory, run_blocking: RunBlocking, *, lines: int) -> None:
        self._clusters = clusters
        self._run_blocking = run_blocking
        self._lines = lines

    @property
    def enabled(self) -> bool:
        return self._lines > 0

    async def gather(self, incident: Incident) -> Enrichment | None:
        """None when the thread gets nothing: enrichment is off, or nothing to add for this kind."""
        if not self.enabled or not wants_enrichment(incident) or not incident.affected:
            return None
        kube = self._clusters.get(incident.cluster)
        if incident.subject_kind == "Node":
            return await self._node(kube, incident)
        if incident.subject_kind == "Pod":
            return await self._pod(kube, incident)
        name = incident.affected[0].name
        if incident.subject_kind == "Deployment":
            events = await self._events(kube, incident.namespace, "type=Warning", prefix=f"{name}-")
        else:  # a Job, or the failed run of a CronJob
            job = incident.facts.get(LAST_RUN, name) if incident.subject_kind == "CronJob" else name
            events = await self._events(kube, incident.namespace, f"involvedObject.name={job},type=Warning")
        return Enrichment([], "", events, cause=_cause(incident.kind, events))

    async def _pod(self, kube: KubePort, incident: Incident) -> Enrichment:
        live = [item for item in incident.affected if not item.gone] or list(incident.affected)
        pod, container = live[0].name, live[0].container
        wanted = detector(incident.kind).container_log
        lines: list[str] = []
        note = ""
        if wanted in ("previous", "current"):
            try:
                text = await self._run_blocking(
                    kube.read_pod_log,
                    incident.namespace,
                    pod,
                    container=container,
                    tail_lines=self._lines,
                    previous=wanted == "previous",
                    since_seconds=None,
                    limit_bytes=LOG_LIMIT_BYTES,
                )
                lines = str(text).splitlines()
            except Exception as exc:
                note = str(exc)[:300]
        events = await self._events(kube, incident.namespace, f"involvedObject.name={pod},type=Warning")
        return Enrichment(lines, note, events, container=container, cause=_cause(incident.kind, events))

    async def _node(self, kube: KubePort, incident: Incident) -> Enrichment:
        node = incident.workload.name
        facts: dict[str, str] = {}
        pods: list[KubeObject] = []
        try:
            pods = await self._run_blocking(kube.list_pods, None, field_selector=f"spec.nodeName={node}")
        except Exception as exc:
            log.info("enrichment_node_pods_unavailable", error=str(exc)[:200])
        else:
            facts.update(node_pod_facts(pods))
        events = await self._events(
            kube, None, f"involvedObject.kind=Node,involvedObject.name={node},type=Warning"
        )
        return Enrichment([], "", events, pods=pods, facts=facts)

    async def _events(
        self, kube: KubePort, namespace: str | None, selector: str, *, prefix: str | None = None
    ) -> list[KubeObject]:
        try:
            events: list[KubeObject] = await self._run_blocking(
                kube.list_events, namespace, field_selector=selector
            )
        except Exception as exc:
            log.info("enrichment_events_unavailable", error=str(exc)[:200])
            return []
        if prefix is not None:
            events = [
                e for e in events if str((e.get("involvedObject") or {}).get("name", "")).startswith(prefix)
            ]
        return events


def _cause(kind: AlertKind, events: list[KubeObject]) -> str:
    reasons = CAUSES.get(kind, ())
    explaining = [event for event in fmt.sort_events(events) if event.get("reason") in reasons]
    return str(explaining[-1].get("message", "")) if explaining else ""


def node_pod_facts(pods: list[KubeObject]) -> dict[str, str]:
    """How many pods run on a node, how many are not ready, and the workloads of those."""
    running = [pod for pod in pods if fmt.status(pod).get("phase") not in {"Succeeded", "Failed"}]
    unhealthy = [pod for pod in running if not fmt.pod_is_healthy(pod)]
    workloads = Counter(
        f"{DEFAULT_OWNERS.workload_of(pod)} ({fmt.namespace_of(pod)})" for pod in unhealthy or running
    )
    named = [name for name, _count in workloads.most_common(WORKLOADS_SHOWN)]
    more = len(workloads) - len(named)
    return {
        PODS_ON_NODE: str(len(running)),
        NOT_READY_ON_NODE: str(len(unhealthy)),
        WORKLOADS: ", ".join(named) + (f" and {more} more" if more > 0 else ""),
    }
