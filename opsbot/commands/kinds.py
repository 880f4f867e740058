"""The kind words people type (``pod``, ``deploy``, ``sts`` …) and the Kubernetes kinds they mean."""

from __future__ import annotations

KIND_WORDS = {
    "pod": "Pod",
    "pods": "Pod",
    "po": "Pod",
    "deploy": "Deployment",
    "deployment": "Deployment",
    "deployments": "Deployment",
    "node": "Node",
    "nodes": "Node",
    "no": "Node",
    "rs": "ReplicaSet",
    "replicaset": "ReplicaSet",
    "sts": "StatefulSet",
    "statefulset": "StatefulSet",
    "ds": "DaemonSet",
    "daemonset": "DaemonSet",
    "job": "Job",
    "jobs": "Job",
    "cronjob": "CronJob",
    "cj": "CronJob",
    "svc": "Service",
    "service": "Service",
}
