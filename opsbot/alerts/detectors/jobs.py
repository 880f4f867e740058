"""Job and CronJob detectors: a Job failed; a CronJob's last run failed; a CronJob did not run when due.

* JobFailed: the Job's ``Failed`` condition turned True (BackoffLimitExceeded,
  DeadlineExceeded, …). A Job created by a CronJob is left to CronJobFailed while that is
  enabled: the CronJob is what people own, and its next successful run is what resolves it.
* CronJobFailed: the CronJob's last scheduled run is over (no active Job) and did not
  succeed (``lastScheduleTime`` after ``lastSuccessfulTime``). Resolved by a successful run.
  The run's Job is named ``<cronjob>-<scheduled time in minutes since the epoch>``, as the
  controller names it.
* CronJobMissed: the next run the schedule asks for (after the last one, or after the
  CronJob's creation) is due and has not happened; alerted once it is late by its
  threshold. Suspended CronJobs are never late.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsbot.alerts.detectors.cron import CronError, parse
from opsbot.alerts.detectors.readers import as_dict, integer, metadata, moment_of, name, status, text
from opsbot.alerts.detectors.spec import Change, Symptom
from opsbot.alerts.findings import AlertKind
from opsbot.alerts.owners import controller_of
from opsbot.core.kubeobjects import condition
from opsbot.ports import KubeObject

LAST_RUN = "last_run"
LAST_SUCCESS = "last_success"
SCHEDULE = "schedule"
NEXT_RUN = "due"


# ---------------------------------------------------------------- Jobs


def _failed(job: KubeObject | None) -> dict[str, Any] | None:
    if job is None:
        return None
    found = condition(job, "Failed")
    return found if found is not None and found.get("status") == "True" else None


def _left_to_cronjob(change: Change) -> bool:
    owner = controller_of(change.new)
    return owner is not None and owner[0] == "CronJob" and AlertKind.CRONJOB_FAILED in change.enabled


def detect_job_failed(change: Change) -> list[Symptom]:
    """The Job's Failed condition turned True."""
    failed = _failed(change.new)
    if failed is None or _failed(change.old) is not None or _left_to_cronjob(change):
        return []
    since = moment_of(failed.get("lastTransitionTime"))
    state = status(change.new)
    facts = {"failed_pods": str(integer(state.get("failed")) or 0)}
    return [
        Symptom(
            text(failed.get("reason")) or "Failed",
            text(failed.get("message")),
            since=since,
            since_exact=since is not None,
            facts=facts,
        )
    ]


def job_failed_now(change: Change) -> bool:
    return _failed(change.new) is not None and not _left_to_cronjob(change)


def job_healthy(change: Change) -> bool:
    return _failed(change.new) is None


# ---------------------------------------------------------------- CronJobs


def run_name(cronjob: KubeObject, scheduled: datetime) -> str:
    return f"{name(cronjob)}-{int(scheduled.timestamp()) // 60}"


def _last_run_failed(cronjob: KubeObject | None) -> datetime | None:
    """When the last run was scheduled, if it is over and did not succeed."""
    if cronjob is None:
        return None
    state = status(cronjob)
    scheduled = moment_of(state.get("lastScheduleTime"))
    if scheduled is None or state.get("active"):
        return None
    succeeded = moment_of(state.get("lastSuccessfulTime"))
    return scheduled if succeeded is None or succeeded < scheduled else None


def _cronjob_facts(cronjob: KubeObject, scheduled: datetime | None) -> dict[str, str]:
    facts = {SCHEDULE: text(as_dict(cronjob.get("spec")).get("schedule"))}
    if scheduled is not None:
        facts[LAST_RUN] = run_name(cronjob, scheduled)
    succeeded = moment_of(status(cronjob).get("lastSuccessfulTime"))
    facts[LAST_SUCCESS] = succeeded.isoformat() if succeeded else ""
    return facts


def detect_cronjob_failed(change: Change) -> list[Symptom]:
    """The last scheduled run ended without success (seen ending: since now)."""
    scheduled = _last_run_failed(change.new)
    if scheduled is None or _last_run_failed(change.old) == scheduled:
        return []
    seen_ending = change.old is not None
    return [
        Symptom(
            "LastRunFailed",
            "The last scheduled run ended without succeeding.",
            since=change.now if seen_ending else None,
            since_exact=seen_ending,
            facts=_cronjob_facts(change.new, scheduled),
        )
    ]


def cronjob_failed_now(change: Change) -> bool:
    return _last_run_failed(change.new) is not None


def next_due(cronjob: KubeObject) -> datetime | None:
    """The run the schedule asks for after the last one (or after creation); None when
    suspended or the schedule cannot be read."""
    spec = as_dict(cronjob.get("spec"))
    if spec.get("suspend") is True:
        return None
    last = moment_of(status(cronjob).get("lastScheduleTime")) or moment_of(
        metadata(cronjob).get("creationTimestamp")
    )
    if last is None:
        return None
    try:
        schedule = parse(text(spec.get("schedule")), text(spec.get("timeZone")) or None)
    except CronError:
        return None
    return schedule.next_after(last)


def detect_cronjob_missed(change: Change) -> list[Symptom]:
    """The next run's due time (a level: ``since`` may lie ahead; see DetectorSpec.threshold)."""
    due = next_due(change.new)
    if due is None:
        return []
    busy = " A run is still active." if status(change.new).get("active") else ""
    facts = _cronjob_facts(change.new, moment_of(status(change.new).get("lastScheduleTime")))
    facts[NEXT_RUN] = due.isoformat()
    return [
        Symptom(
            "MissedSchedule",
            f"The run the schedule asked for has not started.{busy}",
            since=due,
            since_exact=True,
            facts=facts,
        )
    ]


def cronjob_missed_now(change: Change) -> bool:
    due = next_due(change.new)
    return due is not None and due <= change.now


def cronjob_healthy(change: Change) -> bool:
    return _last_run_failed(change.new) is None and not cronjob_missed_now(change)
