"""Turn one watch event (old object, new object) into findings: pure edge detection.

catalog.py ...... DETECTORS, the table of DetectorSpecs everything else derives from
observe.py ...... observe(): one event → Observation (findings, healthy, active); detect()
spec.py ......... DetectorSpec, SubjectSpec, Change (what a detector reads), Symptom (what it returns)
pods.py, scheduling.py, nodes.py, deployments.py, jobs.py, events.py
                  the detectors and the health of each resource
containers.py ... a pod's container statuses, parsed once per event
evidence.py ..... since when a problem holds, from the object's own timestamps
facts.py ........ what a card shows besides the problem (memory limit, image, node)
cron.py ......... CronJob schedules: the next run due
readers.py ...... junk-proof readers shared by all of them
"""

from opsbot.alerts.detectors.catalog import (
    ALERT_RESOURCES,
    DEFAULT_ENABLED,
    DETECTORS,
    SEVERITY,
    SUBJECTS,
    THRESHOLDS,
    YIELDS_TO,
    detector,
    watched_resources,
)
from opsbot.alerts.detectors.observe import detect, observe
from opsbot.alerts.detectors.pods import (
    CONFIG_ERROR_REASONS,
    IMAGE_PULL_REASONS,
    RECENT_TERMINATION,
    pod_healthy,
)
from opsbot.alerts.detectors.spec import (
    DEFAULT_OPTIONS,
    Change,
    DetectorOptions,
    DetectorSpec,
    EventFilter,
    SubjectSpec,
    Symptom,
)

__all__ = [
    "ALERT_RESOURCES",
    "CONFIG_ERROR_REASONS",
    "DEFAULT_ENABLED",
    "DEFAULT_OPTIONS",
    "DETECTORS",
    "IMAGE_PULL_REASONS",
    "RECENT_TERMINATION",
    "SEVERITY",
    "SUBJECTS",
    "THRESHOLDS",
    "YIELDS_TO",
    "Change",
    "DetectorOptions",
    "DetectorSpec",
    "EventFilter",
    "SubjectSpec",
    "Symptom",
    "detect",
    "detector",
    "observe",
    "pod_healthy",
    "watched_resources",
]
