"""Pure builders for realistic Kubernetes objects and kubelet-style status patches.

Objects look like what the real API server returns (field names, condition sets,
message formats from the kubelet and controllers), so code under test is
exercised against the shapes it meets in production. Nothing here touches a
server; the status transformers take the current object and return the
``status`` to merge-patch (lists are complete because merge patch replaces lists).

They are as heavy as real ones, so that benchmarks do not flatter the bot: a pod
carries ``metadata.managedFields`` (its controller's and the kubelet's entries), the
admission defaults (the ``kube-api-access-*`` projected volume and its mounts, the
not-ready/unreachable tolerations), containers with ports, env, resources and probes,
and the kubelet's full status (container ``resources``, ``user``, ``volumeMounts``):
about 6 KB of JSON like on a v1.36 cluster. A node carries the kubelet's image list
(``status.images``, 40 entries), runtime handlers and managedFields (~13 KB);
a Deployment its managedFields and ``last-applied-configuration`` annotation.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

Obj = dict[str, Any]
TimeLike = datetime | str | None

# The alphabet Kubernetes uses for generated name suffixes and template hashes
# (no vowels, no confusable digits).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
TEMPLATE_HASH_LABEL = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def rfc3339(value: TimeLike = None) -> str:
    """RFC 3339 UTC timestamp with a ``Z`` suffix and whole seconds, as the API uses."""
    if isinstance(value, str):
        return value
    dt = value or datetime.now(UTC)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 timestamp as written by :func:`rfc3339`."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()


def safe_encode(hexdigest: str, length: int) -> str:
    """Encode a hex digest into ``length`` chars of :data:`SAFE_ALPHABET`."""
    num = int(hexdigest, 16)
    out = []
    for _ in range(length):
        num, rem = divmod(num, len(SAFE_ALPHABET))
        out.append(SAFE_ALPHABET[rem])
    return "".join(out)


def pod_template_hash(template: Mapping[str, Any]) -> str:
    """Stable 10-char hash of a pod template (ignores an existing hash label)."""
    tpl = copy.deepcopy(dict(template))
    labels = (tpl.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(TEMPLATE_HASH_LABEL, None)
    return safe_encode(_digest(json.dumps(tpl, sort_keys=True, separators=(",", ":"))), 10)


def _uid(*parts: object) -> str:
    h = _digest("uid", *parts)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _ip_from(name: str, prefix: str) -> str:
    h = int(_digest("ip", name)[:8], 16)
    return f"{prefix}.{(h >> 8) % 250 + 1}.{h % 250 + 2}"


def full_image(image: str) -> str:
    """``nginx:1.27`` -> ``docker.io/library/nginx:1.27`` as containerd reports it."""
    name = image
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if ":" not in name.rsplit("/", 1)[-1] and "@" not in name:
        name += ":latest"
    return name


def image_id(image: str) -> str:
    """A plausible digest reference for an image."""
    repo = full_image(image).rsplit(":", 1)[0]
    return f"{repo}@sha256:{_digest('image', image)}"


def container(name: str, image: str = "nginx:1.27", **extra: Any) -> Obj:
    """A container spec with the API server's defaults filled in."""
    c: Obj = {
        "name": name,
        "image": image,
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "Always" if image.endswith(":latest") or ":" not in image else "IfNotPresent",
    }
    c.update(extra)
    return c


def _probe(path: str, port: str, *, initial_delay: int) -> Obj:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": initial_delay,
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }


def app_container(name: str, image: str = "nginx:1.27", *, port: int = 8080, sidecar: bool = False) -> Obj:
    """A container as teams write them, API defaults filled in: a named port, requests and a
    memory limit, a readiness probe; the main one (not a ``sidecar``) also env from the
    downward API and a liveness probe."""
    port_name = "http" if port == 8080 else f"http-{port}"
    extra: Obj = {
        "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
        "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
    }
    if not sidecar:
        extra["env"] = [
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}},
            },
            {"name": "LOG_LEVEL", "value": "info"},
        ]
        extra["livenessProbe"] = _probe("/healthz", port_name, initial_delay=10)
    extra["readinessProbe"] = _probe("/readyz", port_name, initial_delay=5)
    return container(name, image, **extra)


def _containers(containers: Sequence[str | Mapping[str, Any]] | None, image: str) -> list[Obj]:
    """Containers named by a string are realistic (:func:`app_container`); a mapping is taken as
    given over the API defaults (:func:`container`)."""
    out: list[Obj] = []
    for index, c in enumerate(containers or ("app",)):
        if isinstance(c, str):
            out.append(app_container(c, image, port=8080 + index, sidecar=index > 0))
        else:
            spec = dict(c)
            merged = container(str(spec["name"]), str(spec.get("image", image)))
            merged.update(spec)
            out.append(merged)
    return out


def _condition(
    ctype: str, status: str, when: str, reason: str | None = None, message: str | None = None
) -> Obj:
    cond: Obj = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": when}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def container_id(pod_name: str, cname: str, restarts: int) -> str:
    """A containerd container ID stable for (pod, container, restart count)."""
    return "containerd://" + _digest("cid", pod_name, cname, restarts)


def running_container_status(
    pod_name: str, spec: Mapping[str, Any], started: str, *, restarts: int = 0, ready: bool = True
) -> Obj:
    """``containerStatuses[]`` entry for a running container."""
    image = str(spec.get("image", ""))
    return {
        "name": spec["name"],
        "state": {"running": {"startedAt": started}},
        "lastState": {},
        "ready": ready,
        "restartCount": restarts,
        "image": full_image(image),
        "imageID": image_id(image),
        "containerID": container_id(pod_name, str(spec["name"]), restarts),
        "started": True,
        **_kubelet_container_fields(spec),
    }


def _kubelet_container_fields(spec: Mapping[str, Any]) -> Obj:
    """What the v1.36 kubelet adds to a started container's status: the resources it runs
    with, the user it runs as and its volume mounts (recursiveReadOnly reported)."""
    fields: Obj = {}
    resources = spec.get("resources") or {}
    if resources:
        fields["allocatedResources"] = dict(resources.get("requests") or resources.get("limits") or {})
        fields["resources"] = copy.deepcopy(dict(resources))
    security = spec.get("securityContext") or {}
    uid = 65532 if security.get("runAsNonRoot") else 0
    fields["user"] = {"linux": {"uid": uid, "gid": uid, "supplementalGroups": [uid]}}
    mounts = [
        {**mount, "recursiveReadOnly": "Disabled"} if mount.get("readOnly") else dict(mount)
        for mount in spec.get("volumeMounts") or []
    ]
    if mounts:
        fields["volumeMounts"] = mounts
    return fields


def waiting_container_status(spec: Mapping[str, Any], reason: str, message: str | None = None) -> Obj:
    """``containerStatuses[]`` entry for a container that never started."""
    waiting: Obj = {"reason": reason}
    if message:
        waiting["message"] = message
    return {
        "name": spec["name"],
        "state": {"waiting": waiting},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": full_image(str(spec.get("image", ""))),
        "imageID": "",
        "started": False,
    }


def _pod_conditions(
    ready: bool, when: str, *, not_ready: Sequence[str] = (), scheduled: bool = True
) -> list[Obj]:
    if not scheduled:
        return [_condition("PodScheduled", "False", when, "Unschedulable", "0/1 nodes are available")]
    conds = [
        _condition("PodReadyToStartContainers", "True", when),
        _condition("Initialized", "True", when),
    ]
    if ready:
        conds.append(_condition("Ready", "True", when))
        conds.append(_condition("ContainersReady", "True", when))
    else:
        msg = f"containers with unready status: [{' '.join(not_ready)}]"
        conds.append(_condition("Ready", "False", when, "ContainersNotReady", msg))
        conds.append(_condition("ContainersReady", "False", when, "ContainersNotReady", msg))
    conds.append(_condition("PodScheduled", "True", when))
    return conds


def _qos(containers: Sequence[Mapping[str, Any]]) -> str:
    res = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in res):
        return "BestEffort"
    if all(
        r.get("limits")
        and r.get("limits", {}).get("cpu")
        and r.get("limits", {}).get("memory")
        and (r.get("requests") or r.get("limits")) == r.get("limits")
        for r in res
    ):
        return "Guaranteed"
    return "Burstable"


def running_pod_status(
    pod_name: str,
    spec: Mapping[str, Any],
    *,
    host_ip: str,
    pod_ip: str,
    started: str,
    ready: bool = True,
    restarts: int = 0,
) -> Obj:
    """Status of a pod whose containers all run, as the kubelet reports it."""
    containers = list(spec.get("containers") or [])
    statuses = [
        running_container_status(pod_name, c, started, restarts=restarts, ready=ready) for c in containers
    ]
    return {
        "phase": "Running",
        "conditions": _pod_conditions(ready, started, not_ready=[str(c["name"]) for c in containers]),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": started,
        "containerStatuses": statuses,
        "qosClass": _qos(containers),
    }


def pending_pod_status(
    spec: Mapping[str, Any], *, host_ip: str | None, started: str, reason: str = "ContainerCreating"
) -> Obj:
    """Status of a freshly scheduled pod whose containers are being created."""
    containers = list(spec.get("containers") or [])
    status: Obj = {"phase": "Pending"}
    if host_ip is None:
        status["conditions"] = _pod_conditions(False, started, scheduled=False)
    else:
        conds = _pod_conditions(False, started, not_ready=[str(c["name"]) for c in containers])
        conds[0] = _condition("PodReadyToStartContainers", "False", started)
        status["conditions"] = conds
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
        status["startTime"] = started
        status["containerStatuses"] = [waiting_container_status(c, reason) for c in containers]
    status["qosClass"] = _qos(containers)
    return status


def pod_spec_defaults(spec: Mapping[str, Any]) -> Obj:
    """Fill the fields the API server defaults on every pod spec."""
    out = dict(spec)
    out["containers"] = [
        {**container(str(c["name"]), str(c.get("image", ""))), **c} for c in spec.get("containers") or []
    ]
    out.setdefault("restartPolicy", "Always")
    out.setdefault("terminationGracePeriodSeconds", 30)
    out.setdefault("dnsPolicy", "ClusterFirst")
    out.setdefault("securityContext", {})
    out.setdefault("schedulerName", "default-scheduler")
    return out


SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE_ACCOUNT_VOLUME = "kube-api-access-"
_DEFAULT_TOLERATIONS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def pod_admission(spec: Mapping[str, Any], *, namespace: str, name: str) -> Obj:
    """A pod spec as stored after the API server's defaulting and admission (idempotent):
    the service account with its ``kube-api-access-*`` projected volume mounted in every
    container, the not-ready/unreachable NoExecute tolerations (300 s), priority and the
    service-link defaults. Pods only: templates get :func:`pod_spec_defaults` alone."""
    out = pod_spec_defaults(spec)
    out.setdefault("serviceAccountName", "default")
    out.setdefault("serviceAccount", out["serviceAccountName"])
    out.setdefault("enableServiceLinks", True)
    out.setdefault("preemptionPolicy", "PreemptLowerPriority")
    out.setdefault("priority", 0)
    volumes = [dict(v) for v in out.get("volumes") or []]
    if out.get("automountServiceAccountToken") is not False and not any(
        str(v.get("name", "")).startswith(SERVICE_ACCOUNT_VOLUME) for v in volumes
    ):
        volume = SERVICE_ACCOUNT_VOLUME + safe_encode(_digest("kube-api-access", namespace, name), 5)
        volumes.append(
            {
                "name": volume,
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    }
                                ]
                            }
                        },
                    ],
                    "defaultMode": 420,
                },
            }
        )
        mount = {"name": volume, "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT}
        out["containers"] = [
            {**c, "volumeMounts": [*(c.get("volumeMounts") or []), mount]} for c in out["containers"]
        ]
    if volumes:
        out["volumes"] = volumes
    tolerations = [dict(t) for t in out.get("tolerations") or []]
    for key in _DEFAULT_TOLERATIONS:
        if not any(t.get("key") == key for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    out["tolerations"] = tolerations
    return out


# ---------------------------------------------------------------- managedFields

# The keys of the associative lists the API server merges by (containers by name,
# conditions by type, ports by containerPort+protocol, ...): FieldsV1 names their items
# ``k:{"name":"app"}``; any other list of objects is atomic (one ``{}``).
_LIST_KEYS = ("uid", "containerPort", "mountPath", "type", "ip", "name")
# Lists without a merge key: owned as a whole.
_ATOMIC = frozenset({"containerStatuses", "initContainerStatuses", "images", "tolerations", "podCIDRs"})


def _fields_v1(value: Any, depth: int = 0) -> Obj:
    if isinstance(value, dict):
        out: Obj = {".": {}} if depth > 1 and value else {}
        for key, item in value.items():
            out[f"f:{key}"] = {} if key in _ATOMIC else _fields_v1(item, depth + 1)
        return out
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        key = next((k for k in _LIST_KEYS if all(k in item for item in value)), None)
        if key is None:
            return {}
        items: Obj = {}
        for item in value:
            ident: Obj = {key: item[key]}
            if key == "containerPort":
                ident["protocol"] = item.get("protocol", "TCP")
            items["k:" + orjson.dumps(ident).decode()] = _fields_v1(item, 2)
        return items
    return {}


@functools.lru_cache(maxsize=1024)
def _spec_fields_v1_bytes(spec: bytes) -> bytes:
    return orjson.dumps(_fields_v1(orjson.loads(spec), 1))


def _spec_fields_v1(spec: bytes) -> Obj:
    """:func:`_fields_v1` of a spec given as JSON, remembered: the pods of one workload share
    their spec (a fresh copy each time)."""
    result: Obj = orjson.loads(_spec_fields_v1_bytes(spec))
    return result


def managed_fields_entry(
    manager: str,
    fields: Mapping[str, Any],
    *,
    when: TimeLike = None,
    api_version: str = "v1",
    operation: str = "Update",
    subresource: str | None = None,
) -> Obj:
    """One ``metadata.managedFields`` entry: ``manager`` set the fields present in ``fields``."""
    entry: Obj = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": rfc3339(when),
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            f"f:{key}": _spec_fields_v1(orjson.dumps(value)) if key == "spec" else _fields_v1(value, 1)
            for key, value in fields.items()
        },
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


# What admission, the scheduler (binding) and the API server add to a pod: nobody's fields.
_UNOWNED_POD_SPEC = ("nodeName", "volumes", "tolerations", "serviceAccount", "priority", "preemptionPolicy")


def pod_managed_fields(pod: Mapping[str, Any]) -> list[Obj]:
    """A pod's managedFields: its creator's (the ReplicaSet controller, or kubectl for a bare pod)
    metadata and spec, and the kubelet's status."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    when = meta.get("creationTimestamp")
    written_meta = {k: meta[k] for k in ("generateName", "labels", "annotations", "ownerReferences") if k in meta}
    written_spec = {k: v for k, v in spec.items() if k not in _UNOWNED_POD_SPEC}
    written_spec["containers"] = [
        {
            **c,
            "volumeMounts": [
                m for m in c.get("volumeMounts") or [] if not str(m.get("name", "")).startswith(SERVICE_ACCOUNT_VOLUME)
            ],
        }
        for c in spec.get("containers") or []
    ]
    for c in written_spec["containers"]:
        if not c["volumeMounts"]:
            del c["volumeMounts"]
    manager = "kube-controller-manager" if meta.get("ownerReferences") else "kubectl-create"
    entries = [managed_fields_entry(manager, {"metadata": written_meta, "spec": written_spec}, when=when)]
    status = {k: v for k, v in (pod.get("status") or {}).items() if k != "qosClass"}
    if status:
        entries.append(managed_fields_entry("kubelet", {"status": status}, when=when, subresource="status"))
    return entries


def pod(
    name: str,
    namespace: str = "default",
    *,
    phase: str = "Running",
    containers: Sequence[str | Mapping[str, Any]] = ("app",),
    node: str | None = "node-1",
    labels: Mapping[str, str] | None = None,
    owner: Mapping[str, Any] | None = None,
    ready: bool = True,
    restarts: int = 0,
    created: TimeLike = None,
    image: str = "nginx:1.27",
    annotations: Mapping[str, str] | None = None,
    pod_ip: str | None = None,
    host_ip: str | None = None,
) -> Obj:
    """A pod as the API server would return it after scheduling and kubelet sync.

    ``owner`` is ``{"kind", "name", "uid"}`` (``apiVersion`` inferred); ``phase``
    ``Pending`` gives ContainerCreating, ``Succeeded``/``Failed`` terminated containers.
    """
    when = rfc3339(created)
    spec = pod_admission({"containers": _containers(containers, image)}, namespace=namespace, name=name)
    if node:
        spec["nodeName"] = node
    meta: Obj = {"name": name, "namespace": namespace, "creationTimestamp": when}
    reference = owner_reference(owner) if owner else None
    if reference and reference["kind"] in ("ReplicaSet", "Job") and name.startswith(f"{reference['name']}-"):
        meta["generateName"] = f"{reference['name']}-"
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if reference:
        meta["ownerReferences"] = [reference]
    hip = host_ip or (_ip_from(node, "10.0") if node else None)
    pip = pod_ip or _ip_from(f"{namespace}/{name}", "10.244")
    status: Obj
    if phase == "Running" and hip:
        status = running_pod_status(
            name, spec, host_ip=hip, pod_ip=pip, started=when, ready=ready, restarts=restarts
        )
    elif phase == "Pending" or not hip:
        status = pending_pod_status(spec, host_ip=hip, started=when)
    else:
        exit_code = 0 if phase == "Succeeded" else 1
        reason = "Completed" if phase == "Succeeded" else "Error"
        cs = []
        for c in spec["containers"]:
            st = running_container_status(name, c, when, restarts=restarts, ready=False)
            st["state"] = {
                "terminated": {
                    "exitCode": exit_code,
                    "reason": reason,
                    "startedAt": when,
                    "finishedAt": when,
                    "containerID": st["containerID"],
                }
            }
            st["started"] = False
            cs.append(st)
        status = {
            "phase": phase,
            "conditions": [
                _condition("PodReadyToStartContainers", "False", when),
                _condition("Initialized", "True", when, "PodCompleted" if phase == "Succeeded" else None),
                _condition("Ready", "False", when, "PodCompleted" if phase == "Succeeded" else "PodFailed"),
                _condition(
                    "ContainersReady", "False", when, "PodCompleted" if phase == "Succeeded" else "PodFailed"
                ),
                _condition("PodScheduled", "True", when),
            ],
            "hostIP": hip,
            "hostIPs": [{"ip": hip}],
            "podIP": pip,
            "podIPs": [{"ip": pip}],
            "startTime": when,
            "containerStatuses": cs,
            "qosClass": _qos(spec["containers"]),
        }
    obj: Obj = {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status}
    meta["managedFields"] = pod_managed_fields(obj)
    return obj


_OWNER_API = {
    "ReplicaSet": "apps/v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "Node": "v1",
}


def owner_reference(owner: Mapping[str, Any]) -> Obj:
    """A controller ownerReference from ``{"kind","name","uid"}`` or a full object."""
    if "metadata" in owner:
        meta = owner["metadata"]
        kind = str(owner.get("kind", ""))
        return {
            "apiVersion": owner.get("apiVersion") or _OWNER_API.get(kind, "v1"),
            "kind": kind,
            "name": meta["name"],
            "uid": meta.get("uid") or _uid(kind, meta["name"]),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    kind = str(owner["kind"])
    return {
        "apiVersion": owner.get("apiVersion") or _OWNER_API.get(kind, "v1"),
        "kind": kind,
        "name": owner["name"],
        "uid": owner.get("uid") or _uid(kind, owner["name"]),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def backoff_text(restarts: int) -> str:
    """The kubelet's CrashLoopBackOff delay for a restart count, Go-duration formatted."""
    secs = min(10 * 2 ** max(restarts - 1, 0), 300)
    mins, s = divmod(secs, 60)
    return f"{mins}m{s}s" if mins else f"{s}s"


def _pod_ident(p: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = p.get("metadata") or {}
    name = str(meta.get("name", ""))
    ns = str(meta.get("namespace", "default"))
    uid = str(meta.get("uid") or _uid("Pod", ns, name))
    return name, ns, uid


def _statuses(p: Mapping[str, Any]) -> list[Obj]:
    """Current containerStatuses, synthesized as running if the pod has none."""
    name = _pod_ident(p)[0]
    spec = p.get("spec") or {}
    existing = {str(s.get("name")): s for s in (p.get("status") or {}).get("containerStatuses") or []}
    started = str((p.get("status") or {}).get("startTime") or rfc3339())
    out = []
    for c in spec.get("containers") or []:
        cur = existing.get(str(c["name"]))
        out.append(copy.deepcopy(cur) if cur else running_container_status(name, c, started))
    return out


def _with_container(
    p: Mapping[str, Any], container_name: str, update: Mapping[str, Any], *, phase: str = "Running"
) -> Obj:
    statuses = _statuses(p)
    names = [str(s["name"]) for s in statuses]
    if container_name not in names:
        raise ValueError(f"container {container_name!r} not in pod (have {names})")
    for s in statuses:
        if s["name"] == container_name:
            s.update(copy.deepcopy(dict(update)))
            for key in [k for k, v in s.items() if v is None]:
                del s[key]
    when = rfc3339()
    not_ready = [str(s["name"]) for s in statuses if not s.get("ready")]
    conds = _pod_conditions(not not_ready, when, not_ready=not_ready)
    old = {c.get("type"): c for c in (p.get("status") or {}).get("conditions") or []}
    for c in conds:
        prev = old.get(c["type"])
        if prev and prev.get("status") == c["status"]:
            c["lastTransitionTime"] = prev.get("lastTransitionTime", when)
    if phase == "Pending":
        conds[0] = _condition("PodReadyToStartContainers", "True", when)
    return {"phase": phase, "conditions": conds, "containerStatuses": statuses}


def crashloop_status(
    pod: Mapping[str, Any],
    container: str = "app",
    restarts: int = 5,
    exit_code: int = 1,
    reason: str = "Error",
    *,
    message: str | None = None,
) -> Obj:
    """CrashLoopBackOff: waiting with the kubelet's back-off message, last run terminated."""
    name, ns, uid = _pod_ident(pod)
    now = datetime.now(UTC)
    terminated: Obj = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": rfc3339(now - timedelta(seconds=12)),
        "finishedAt": rfc3339(now - timedelta(seconds=2)),
        "containerID": container_id(name, container, restarts - 1),
    }
    if message:
        terminated["message"] = message
    return _with_container(
        pod,
        container,
        {
            "state": {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {backoff_text(restarts)} restarting failed "
                    f"container={container} pod={name}_{ns}({uid})",
                }
            },
            "lastState": {"terminated": terminated},
            "ready": False,
            "started": False,
            "restartCount": restarts,
            "containerID": container_id(name, container, restarts - 1),
        },
    )


def oomkilled_status(
    pod: Mapping[str, Any], container: str = "app", restarts: int = 1, *, crashloop: bool = True
) -> Obj:
    """Last run OOMKilled (exit 137); waiting in back-off or already running again."""
    if crashloop:
        return crashloop_status(pod, container, restarts=restarts, exit_code=137, reason="OOMKilled")
    name = _pod_ident(pod)[0]
    now = datetime.now(UTC)
    return _with_container(
        pod,
        container,
        {
            "state": {"running": {"startedAt": rfc3339(now)}},
            "lastState": {
                "terminated": {
                    "exitCode": 137,
                    "reason": "OOMKilled",
                    "startedAt": rfc3339(now - timedelta(minutes=5)),
                    "finishedAt": rfc3339(now - timedelta(seconds=1)),
                    "containerID": container_id(name, container, restarts - 1),
                }
            },
            "ready": True,
            "started": True,
            "restartCount": restarts,
            "containerID": container_id(name, container, restarts),
        },
    )


def _spec_image(pod: Mapping[str, Any], container_name: str) -> str:
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == container_name:
            return str(c.get("image", ""))
    return ""


def image_pull_backoff_status(
    pod: Mapping[str, Any], container: str = "app", *, err_image_pull: bool = False, image: str | None = None
) -> Obj:
    """ImagePullBackOff (or ErrImagePull) for a container that never started."""
    img = image or _spec_image(pod, container)
    ref = full_image(img)
    pull_err = (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
        f'failed to resolve reference "{ref}": {ref}: not found'
    )
    if err_image_pull:
        waiting = {"reason": "ErrImagePull", "message": pull_err}
    else:
        waiting = {
            "reason": "ImagePullBackOff",
            "message": f'Back-off pulling image "{img}": ErrImagePull: {pull_err}',
        }
    return _with_container(
        pod,
        container,
        {
            "state": {"waiting": waiting},
            "lastState": {},
            "ready": False,
            "started": False,
            "restartCount": 0,
            "image": img,
            "imageID": "",
            "containerID": None,
        },
        phase="Pending",
    )


def create_container_config_error_status(
    pod: Mapping[str, Any], container: str = "app", message: str = 'secret "app-secrets" not found'
) -> Obj:
    """CreateContainerConfigError (missing Secret/ConfigMap key)."""
    return _with_container(
        pod,
        container,
        {
            "state": {"waiting": {"reason": "CreateContainerConfigError", "message": message}},
            "lastState": {},
            "ready": False,
            "started": False,
            "restartCount": 0,
            "imageID": "",
            "containerID": None,
        },
        phase="Pending",
    )


def evicted_status(pod: Mapping[str, Any], resource: str = "memory", *, container: str | None = None) -> Obj:
    """Kubelet eviction under node pressure: phase Failed, reason Evicted."""
    statuses = _statuses(pod)
    victim = container or (str(statuses[0]["name"]) if statuses else "app")
    if resource == "memory":
        detail = (
            f"Threshold quantity: 100Mi, available: 91036Ki. Container {victim} was using "
            f"1434408Ki, request is 0, has larger consumption of memory. "
        )
    else:
        detail = (
            f"Threshold quantity: 10%, available: 1021284Ki. Container {victim} was using "
            f"8815328Ki, request is 0, has larger consumption of {resource}. "
        )
    message = f"The node was low on resource: {resource}. {detail}"
    when = rfc3339()
    for s in statuses:
        started = (s.get("state") or {}).get("running", {}).get("startedAt", when)
        s["state"] = {
            "terminated": {
                "exitCode": 137,
                "reason": "Error",
                "startedAt": started,
                "finishedAt": when,
                "containerID": s.get("containerID") or "",
            }
        }
        s["ready"] = False
        s["started"] = False
    return {
        "phase": "Failed",
        "reason": "Evicted",
        "message": message,
        "conditions": [
            _condition("DisruptionTarget", "True", when, "TerminationByKubelet", message),
            _condition("PodReadyToStartContainers", "False", when),
            _condition("Initialized", "True", when),
            _condition("Ready", "False", when, "PodFailed"),
            _condition("ContainersReady", "False", when, "PodFailed"),
            _condition("PodScheduled", "True", when),
        ],
        "containerStatuses": statuses,
    }


def recovered_status(pod: Mapping[str, Any]) -> Obj:
    """Every container running and ready again; restart counts and lastState kept."""
    name = _pod_ident(pod)[0]
    statuses = _statuses(pod)
    when = rfc3339()
    for s in statuses:
        if "running" not in (s.get("state") or {}):
            s["state"] = {"running": {"startedAt": when}}
            s["containerID"] = container_id(name, str(s["name"]), int(s.get("restartCount", 0)))
        s["ready"] = True
        s["started"] = True
        if not s.get("imageID"):
            s["imageID"] = image_id(str(s.get("image", "")))
    conds = _pod_conditions(True, when)
    old = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
    for c in conds:
        prev = old.get(c["type"])
        if prev and prev.get("status") == "True":
            c["lastTransitionTime"] = prev.get("lastTransitionTime", when)
    status: Obj = {"phase": "Running", "conditions": conds, "containerStatuses": statuses}
    st = pod.get("status") or {}
    if "reason" in st:
        status["reason"] = None
        status["message"] = None
    return status


# ---------------------------------------------------------------- nodes


def _node_conditions(
    ready: str, when: str, *, reason: str | None = None, message: str | None = None
) -> list[Obj]:
    def cond(ctype: str, status: str, r: str, m: str) -> Obj:
        return {
            "type": ctype,
            "status": status,
            "lastHeartbeatTime": when,
            "lastTransitionTime": when,
            "reason": r,
            "message": m,
        }

    if ready == "Unknown":
        msg = "Kubelet stopped posting node status."
        return [
            cond(t, "Unknown", "NodeStatusUnknown", msg)
            for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
        ]
    return [
        cond(
            "MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"
        ),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status")
        if ready == "True"
        else cond(
            "Ready",
            "False",
            reason or "KubeletNotReady",
            message
            or "container runtime network not ready: "
            "NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: "
            "cni plugin not initialized",
        ),
    ]


def node(
    name: str,
    ready: bool = True,
    *,
    roles: Sequence[str] = ("worker",),
    version: str = "v1.36.0",
    cpu: str = "4",
    memory: str = "16Gi",
    max_pods: str = "110",
    labels: Mapping[str, str] | None = None,
    internal_ip: str | None = None,
    unschedulable: bool = False,
    created: TimeLike = None,
) -> Obj:
    """A node as the kubelet registers and reports it."""
    when = rfc3339(created)
    ip = internal_ip or _ip_from(name, "10.0")
    lab: Obj = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }
    for role in roles:
        lab[f"node-role.kubernetes.io/{role}"] = ""
    lab.update(labels or {})
    spec: Obj = {"podCIDR": _ip_from(name, "10.244").rsplit(".", 1)[0] + ".0/24"}
    spec["podCIDRs"] = [spec["podCIDR"]]
    if unschedulable:
        spec["unschedulable"] = True
        spec["taints"] = [
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": when}
        ]
    mem_kib = _kib(memory)
    obj: Obj = {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "labels": lab,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
            "creationTimestamp": when,
        },
        "spec": spec,
        "status": {
            "capacity": {
                "cpu": cpu,
                "ephemeral-storage": "102350Mi",
                "hugepages-2Mi": "0",
                "memory": f"{mem_kib}Ki",
                "pods": max_pods,
            },
            "allocatable": {
                "cpu": cpu,
                "ephemeral-storage": "96589578152",
                "hugepages-2Mi": "0",
                "memory": f"{mem_kib - 102400}Ki",
                "pods": max_pods,
            },
            "conditions": _node_conditions("True" if ready else "False", when),
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": _digest("machine", name)[:32],
                "systemUUID": _uid("system", name),
                "bootID": _uid("boot", name),
                "kernelVersion": "6.1.0-28-cloud-amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://2.1.4",
                "kubeletVersion": version,
                "kubeProxyVersion": "",  # deprecated, always serialized (empty) since 1.31
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "images": node_images(),
            "runtimeHandlers": [
                {"name": handler, "features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}}
                for handler in ("runc", "")
            ],
            "features": {"supplementalGroupsPolicy": True},
        },
    }
    metadata = obj["metadata"]
    status = obj["status"]
    metadata["managedFields"] = [
        managed_fields_entry(
            "kubelet",
            {"metadata": {"annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}, "labels": lab}},
            when=when,
        ),
        managed_fields_entry(
            "kube-controller-manager",
            {"metadata": {"annotations": {"node.alpha.kubernetes.io/ttl": "0"}}, "spec": spec},
            when=when,
        ),
        managed_fields_entry("kubelet", {"status": status}, when=when, subresource="status"),
    ]
    return obj


# What a worker's kubelet reports in ``status.images``: the system images plus the
# workloads' (up to 50 are reported, largest first).
_NODE_IMAGES = (
    ("registry.k8s.io/kube-proxy", "v1.36.0", 30_512_000),
    ("registry.k8s.io/coredns/coredns", "v1.12.1", 22_384_000),
    ("registry.k8s.io/pause", "3.10", 320_368),
    ("registry.k8s.io/metrics-server/metrics-server", "v0.7.2", 19_494_000),
    ("registry.k8s.io/ingress-nginx/controller", "v1.12.1", 105_900_000),
    ("registry.k8s.io/sig-storage/csi-node-driver-registrar", "v2.13.0", 14_380_000),
    ("registry.k8s.io/sig-storage/livenessprobe", "v2.15.0", 14_050_000),
    ("docker.io/calico/node", "v3.29.2", 146_200_000),
    ("docker.io/calico/cni", "v3.29.2", 97_700_000),
    ("quay.io/prometheus/node-exporter", "v1.9.0", 12_100_000),
    ("quay.io/cilium/cilium", "v1.17.2", 213_400_000),
    ("docker.io/grafana/promtail", "3.4.2", 87_200_000),
    ("docker.io/envoyproxy/envoy", "v1.33.2", 68_100_000),
    ("docker.io/library/nginx", "1.27", 72_900_000),
    ("docker.io/library/redis", "7.4", 45_300_000),
    ("docker.io/library/postgres", "17.4", 158_300_000),
    ("docker.io/library/busybox", "1.36", 2_160_000),
    ("docker.io/bitnami/kubectl", "1.36.0", 87_000_000),
    ("ghcr.io/fluxcd/source-controller", "v1.5.0", 41_000_000),
    ("ghcr.io/fluxcd/kustomize-controller", "v1.5.1", 39_600_000),
)


def node_images(count: int = 40) -> list[Obj]:
    """``status.images`` of a busy worker: ``count`` entries, each by digest and by tag."""
    images: list[Obj] = []
    for index in range(count):
        repo, tag, size = _NODE_IMAGES[index % len(_NODE_IMAGES)]
        if index >= len(_NODE_IMAGES):  # the teams' images, several versions of each
            repo, tag, size = f"registry.example.com/apps/svc-{index % 12:02d}", f"1.{index}.0", 48_000_000 + index
        digest = _digest("node-image", repo, tag)
        images.append({"names": [f"{repo}@sha256:{digest}", f"{repo}:{tag}"], "sizeBytes": size})
    images.sort(key=lambda image: -int(image["sizeBytes"]))
    return images


def _kib(quantity: str) -> int:
    units = {"Ki": 1, "Mi": 1024, "Gi": 1024**2, "Ti": 1024**3}
    for suffix, mult in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * mult)
    return int(quantity) // 1024


def node_ready_status() -> Obj:
    """Node status patch: all conditions healthy again."""
    return {"conditions": _node_conditions("True", rfc3339())}


def node_not_ready_status(reason: str = "KubeletNotReady", *, message: str | None = None) -> Obj:
    """Node status patch for NotReady: ``KubeletNotReady`` (Ready=False) or
    ``NodeStatusUnknown`` (every condition Unknown: the kubelet stopped reporting)."""
    when = rfc3339()
    if reason == "NodeStatusUnknown":
        return {"conditions": _node_conditions("Unknown", when)}
    return {"conditions": _node_conditions("False", when, reason=reason, message=message)}


def node_not_ready_taints(reason: str = "KubeletNotReady") -> Obj:
    """Spec patch with the taints the node lifecycle controller adds for NotReady."""
    key = (
        "node.kubernetes.io/unreachable" if reason == "NodeStatusUnknown" else "node.kubernetes.io/not-ready"
    )
    return {
        "spec": {
            "taints": [
                {"key": key, "effect": "NoSchedule", "timeAdded": rfc3339()},
                {"key": key, "effect": "NoExecute", "timeAdded": rfc3339()},
            ]
        }
    }


# ---------------------------------------------------------------- workloads


def namespace(name: str, *, labels: Mapping[str, str] | None = None) -> Obj:
    """A namespace (``kubernetes.io/metadata.name`` label is added by the server)."""
    meta: Obj = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    return {"kind": "Namespace", "apiVersion": "v1", "metadata": meta, "spec": {}, "status": {}}


def _template(
    labels: Mapping[str, str], containers: Sequence[str | Mapping[str, Any]] | None, image: str
) -> Obj:
    return {
        "metadata": {"labels": dict(labels)},
        "spec": pod_spec_defaults({"containers": _containers(containers, image)}),
    }


def deployment(
    name: str,
    namespace: str = "default",
    *,
    replicas: int = 1,
    image: str = "nginx:1.27",
    labels: Mapping[str, str] | None = None,
    containers: Sequence[str | Mapping[str, Any]] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    """A Deployment selecting ``labels`` (default ``app=<name>``)."""
    lab = dict(labels or {"app": name})
    template = _template(lab, containers, image)
    applied = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"annotations": {}, "labels": dict(lab), "name": name, "namespace": namespace},
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(lab)}, "template": copy.deepcopy(template)},
    }
    meta: Obj = {
        "name": name,
        "namespace": namespace,
        "labels": dict(lab),
        # `kubectl apply` keeps what it applied, the whole manifest, in an annotation.
        "annotations": {LAST_APPLIED: json.dumps(applied, sort_keys=True, separators=(",", ":")) + "\n"},
    }
    if annotations:
        meta["annotations"].update(annotations)
    obj: Obj = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": lab},
            "template": template,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    }
    meta["managedFields"] = [
        managed_fields_entry(
            "kubectl-client-side-apply",
            {"metadata": {"annotations": meta["annotations"], "labels": lab}, "spec": obj["spec"]},
            api_version="apps/v1",
        )
    ]
    return obj


def statefulset(
    name: str,
    namespace: str = "default",
    *,
    replicas: int = 1,
    image: str = "nginx:1.27",
    labels: Mapping[str, str] | None = None,
    containers: Sequence[str | Mapping[str, Any]] | None = None,
) -> Obj:
    """A StatefulSet; its controller names pods ``<name>-<ordinal>``."""
    lab = dict(labels or {"app": name})
    return {
        "kind": "StatefulSet",
        "apiVersion": "apps/v1",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(lab)},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": lab},
            "template": _template(lab, containers, image),
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
        },
    }


def daemonset(
    name: str,
    namespace: str = "kube-system",
    *,
    image: str = "nginx:1.27",
    labels: Mapping[str, str] | None = None,
    containers: Sequence[str | Mapping[str, Any]] | None = None,
) -> Obj:
    """A DaemonSet; its controller runs one pod per node."""
    lab = dict(labels or {"app": name})
    return {
        "kind": "DaemonSet",
        "apiVersion": "apps/v1",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(lab)},
        "spec": {
            "selector": {"matchLabels": lab},
            "template": _template(lab, containers, image),
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
        },
    }


def job(
    name: str,
    namespace: str = "default",
    *,
    image: str = "busybox:1.36",
    succeeded: int = 0,
    failed: int = 0,
    active: int = 0,
    labels: Mapping[str, str] | None = None,
) -> Obj:
    """A Job with the given pod counts in its status (no controller runs jobs)."""
    lab = dict(labels or {"job-name": name})
    status: Obj = {}
    if active:
        status["active"] = active
    if succeeded:
        status["succeeded"] = succeeded
        status["conditions"] = [
            {
                "type": "Complete",
                "status": "True",
                "lastProbeTime": rfc3339(),
                "lastTransitionTime": rfc3339(),
            }
        ]
    if failed:
        status["failed"] = failed
    return {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(lab)},
        "spec": {
            "backoffLimit": 6,
            "completions": 1,
            "parallelism": 1,
            "template": {
                "metadata": {"labels": dict(lab)},
                "spec": pod_spec_defaults(
                    {"containers": [container("main", image)], "restartPolicy": "Never"}
                ),
            },
        },
        "status": status,
    }


def deployment_status(deployment: Mapping[str, Any], *, available: int | None = None) -> Obj:
    """Deployment status once its controller rolled it out: ``available`` of the desired
    replicas ready (default all), with the controller's Available/Progressing conditions."""
    spec = deployment.get("spec") or {}
    meta = deployment.get("metadata") or {}
    desired = int(spec.get("replicas", 1))
    ready = desired if available is None else available
    rs_name = f"{meta.get('name')}-{pod_template_hash(spec.get('template') or {})}"
    when = rfc3339(meta.get("creationTimestamp"))
    status: Obj = {
        "observedGeneration": int(meta.get("generation", 1)),
        "replicas": desired,
        "updatedReplicas": desired,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": [
            {
                "type": "Available",
                "status": "True" if ready >= desired else "False",
                "lastUpdateTime": when,
                "lastTransitionTime": when,
                "reason": "MinimumReplicasAvailable" if ready >= desired else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if ready >= desired
                else "Deployment does not have minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "True",
                "lastUpdateTime": when,
                "lastTransitionTime": when,
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{rs_name}" has successfully progressed.',
            },
        ],
    }
    if ready < desired:
        status["unavailableReplicas"] = desired - ready
    if not ready:
        del status["readyReplicas"], status["availableReplicas"]  # the API omits zero counts
    return status


def rollout_stuck_status(deployment: Mapping[str, Any], *, available: bool = True) -> Obj:
    """Deployment status while a rollout is stuck past ``progressDeadlineSeconds``."""
    spec = deployment.get("spec") or {}
    meta = deployment.get("metadata") or {}
    desired = int(spec.get("replicas", 1))
    rs_name = f"{meta.get('name')}-{pod_template_hash(spec.get('template') or {})}"
    when = rfc3339()
    avail = desired if available else max(desired - 1, 0)
    return {
        "observedGeneration": int(meta.get("generation", 1)),
        "replicas": desired + 1,
        "updatedReplicas": 1,
        "readyReplicas": avail,
        "availableReplicas": avail,
        "unavailableReplicas": desired + 1 - avail,
        "conditions": [
            {
                "type": "Available",
                "status": "True" if available else "False",
                "lastUpdateTime": when,
                "lastTransitionTime": when,
                "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "False",
                "lastUpdateTime": when,
                "lastTransitionTime": when,
                "reason": "ProgressDeadlineExceeded",
                "message": f'ReplicaSet "{rs_name}" has timed out progressing.',
            },
        ],
    }


# ---------------------------------------------------------------- events

_INVOLVED_API = {**_OWNER_API, "Pod": "v1", "Namespace": "v1", "Service": "v1"}


def event(
    namespace: str,
    involved: Mapping[str, Any] | tuple[str, str, str],
    reason: str,
    message: str,
    type: str = "Warning",
    count: int = 1,
    last_timestamp: TimeLike = None,
    *,
    first_timestamp: TimeLike = None,
    component: str = "kubelet",
    host: str | None = None,
    field_path: str | None = None,
    name: str | None = None,
) -> Obj:
    """A core/v1 Event about ``involved`` (an object dict or ``(kind, name, uid)``)."""
    if isinstance(involved, tuple):
        kind, iname, iuid = involved
        inv: Obj = {
            "kind": kind,
            "namespace": namespace,
            "name": iname,
            "uid": iuid,
            "apiVersion": _INVOLVED_API.get(kind, "v1"),
        }
    else:
        meta = involved.get("metadata") or {}
        kind = str(involved.get("kind", ""))
        inv = {
            "kind": kind,
            "namespace": meta.get("namespace", namespace),
            "name": meta.get("name"),
            "uid": meta.get("uid", ""),
            "apiVersion": involved.get("apiVersion") or _INVOLVED_API.get(kind, "v1"),
        }
        if meta.get("resourceVersion"):
            inv["resourceVersion"] = meta["resourceVersion"]
        iname = str(meta.get("name"))
    if kind == "Node":
        inv.pop("namespace", None)
    if field_path:
        inv["fieldPath"] = field_path
    last = rfc3339(last_timestamp)
    first = rfc3339(first_timestamp) if first_timestamp is not None else last
    ev_name = name or f"{iname}.{_digest('event', namespace, iname, reason, message, last)[:16]}"
    source: Obj = {"component": component}
    if host:
        source["host"] = host
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": ev_name, "namespace": namespace},
        "involvedObject": inv,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": first,
        "lastTimestamp": last,
        "count": count,
        "type": type,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }


# ---------------------------------------------------------------- stuck pods, pressure, jobs

UNSCHEDULABLE_MESSAGE = (
    "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
    "3 No preemption victims found for incoming pod."
)


def unschedulable_status(
    pod: Mapping[str, Any], *, since: TimeLike = None, message: str = UNSCHEDULABLE_MESSAGE
) -> Obj:
    """Pending, never scheduled: PodScheduled=False (Unschedulable) since ``since``, as the
    scheduler writes it (merge patch: node-side fields removed)."""
    when = rfc3339(since)
    return {
        "phase": "Pending",
        "conditions": [_condition("PodScheduled", "False", when, "Unschedulable", message)],
        "containerStatuses": None,
        "initContainerStatuses": None,
        "hostIP": None,
        "hostIPs": None,
        "podIP": None,
        "podIPs": None,
        "startTime": None,
        "qosClass": _qos((pod.get("spec") or {}).get("containers") or []),
    }


def container_creating_status(pod: Mapping[str, Any], *, since: TimeLike = None) -> Obj:
    """Scheduled at ``since`` and still creating its containers (a volume that will not mount,
    a sandbox that will not start): Pending, every container waiting in ContainerCreating."""
    spec = pod.get("spec") or {}
    when = rfc3339(since)
    host = _ip_from(str(spec.get("nodeName") or "node-1"), "10.0")
    status = pending_pod_status(spec, host_ip=host, started=when)
    status["podIP"] = None
    status["podIPs"] = None
    return status


_PRESSURE = {
    "MemoryPressure": ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    "DiskPressure": ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    "PIDPressure": ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
}


def node_pressure_status(*kinds: str, since: TimeLike = None) -> Obj:
    """Node conditions with ``kinds`` (e.g. ``"MemoryPressure"``) True since ``since``; Ready."""
    when = rfc3339(since)
    conds = _node_conditions("True", rfc3339())
    for cond in conds:
        if cond["type"] in kinds:
            reason, message = _PRESSURE[cond["type"]]
            cond.update(status="True", reason=reason, message=message, lastTransitionTime=when)
    return {"conditions": conds}


def cordoned_spec(*, since: TimeLike = None) -> Obj:
    """Spec patch of ``kubectl cordon``: unschedulable, with the taint the node controller adds."""
    return {
        "spec": {
            "unschedulable": True,
            "taints": [
                {
                    "key": "node.kubernetes.io/unschedulable",
                    "effect": "NoSchedule",
                    "timeAdded": rfc3339(since),
                }
            ],
        }
    }


def deployment_unavailable_status(
    deployment: Mapping[str, Any], *, available: int = 0, since: TimeLike = None
) -> Obj:
    """A rolled-out Deployment whose pods stopped being ready (failing probes): availableReplicas
    below desired; ``Available=False`` since ``since`` when under the minimum."""
    spec = deployment.get("spec") or {}
    meta = deployment.get("metadata") or {}
    desired = int(spec.get("replicas", 1))
    rs_name = f"{meta.get('name')}-{pod_template_hash(spec.get('template') or {})}"
    when = rfc3339(since)
    minimum = desired - max(desired // 4, 0)
    status: Obj = {
        "observedGeneration": int(meta.get("generation", 1)),
        "replicas": desired,
        "updatedReplicas": desired,
        "readyReplicas": available,
        "availableReplicas": available,
        "unavailableReplicas": desired - available,
        "conditions": [
            {
                "type": "Progressing",
                "status": "True",
                "lastUpdateTime": when,
                "lastTransitionTime": when,
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{rs_name}" has successfully progressed.',
            },
            {
                "type": "Available",
                "status": "True" if available >= minimum else "False",
                "lastUpdateTime": when,
                "lastTransitionTime": when,
                "reason": "MinimumReplicasAvailable"
                if available >= minimum
                else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available >= minimum
                else "Deployment does not have minimum availability.",
            },
        ],
    }
    if not available:
        del status["readyReplicas"], status["availableReplicas"]
    return status


def readiness_failing_status(pod: Mapping[str, Any], container: str = "app") -> Obj:
    """Running, but its readiness probe fails: the container is not ready (no restarts)."""
    return _with_container(pod, container, {"ready": False, "started": True})


def job_failed_status(
    job: Mapping[str, Any], reason: str = "BackoffLimitExceeded", *, since: TimeLike = None
) -> Obj:
    """A Job that gave up: Failed=True (and the FailureTarget the controller sets first)."""
    when = rfc3339(since)
    message = {
        "BackoffLimitExceeded": "Job has reached the specified backoff limit",
        "DeadlineExceeded": "Job was active longer than specified deadline",
    }.get(reason, reason)
    limit = int((job.get("spec") or {}).get("backoffLimit", 6))
    conds = [
        {
            "type": kind,
            "status": "True",
            "lastProbeTime": when,
            "lastTransitionTime": when,
            "reason": reason,
            "message": message,
        }
        for kind in ("FailureTarget", "Failed")
    ]
    return {
        "failed": limit + 1,
        "active": None,
        "startTime": when,
        "conditions": conds,
        "terminating": 0,
        "ready": 0,
    }


def cronjob(
    name: str,
    namespace: str = "default",
    *,
    schedule: str = "*/5 * * * *",
    suspend: bool = False,
    created: TimeLike = None,
    image: str = "busybox:1.36",
) -> Obj:
    """A CronJob as the API server returns it (no controller runs it: statuses are patched)."""
    lab = {"app": name}
    return {
        "kind": "CronJob",
        "apiVersion": "batch/v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": lab,
            "creationTimestamp": rfc3339(created),
        },
        "spec": {
            "schedule": schedule,
            "suspend": suspend,
            "concurrencyPolicy": "Allow",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 6,
                    "template": {
                        "metadata": {"labels": lab},
                        "spec": pod_spec_defaults(
                            {"containers": [container("main", image)], "restartPolicy": "OnFailure"}
                        ),
                    },
                }
            },
        },
        "status": {},
    }


def cronjob_status(
    *, last_schedule: TimeLike, last_success: TimeLike = None, active: Sequence[str] = ()
) -> Obj:
    """What the CronJob controller writes: the last scheduled run, the last successful one,
    and the Jobs still running."""
    status: Obj = {"lastScheduleTime": rfc3339(last_schedule)}
    status["lastSuccessfulTime"] = rfc3339(last_success) if last_success is not None else None
    status["active"] = (
        [{"kind": "Job", "namespace": "default", "name": job, "apiVersion": "batch/v1"} for job in active]
        if active
        else None
    )
    return status
