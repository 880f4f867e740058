"""Pure builders for realistic Kubernetes objects and kubelet-style status patches.

Objects look like what the real API server returns (field names, condition sets,
message formats from the kubelet and controllers), so code under test is
exercised against the shapes it meets in production. Nothing here touches a
server; the status transformers take the current object and return the
``status`` to merge-patch (lists are complete because merge patch replaces lists).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

Obj = dict[str, Any]
TimeLike = datetime | str | None

# The alphabet Kubernetes uses for generated name suffixes and template hashes
# (no vowels, no confusable digits).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
TEMPLATE_HASH_LABEL = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


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


def _containers(containers: Sequence[str | Mapping[str, Any]] | None, image: str) -> list[Obj]:
    out: list[Obj] = []
    for c in containers or ("app",):
        if isinstance(c, str):
            out.append(container(c, image))
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
    }


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
    spec = pod_spec_defaults({"containers": _containers(containers, image)})
    spec["serviceAccountName"] = "default"
    spec["serviceAccount"] = "default"
    if node:
        spec["nodeName"] = node
    meta: Obj = {"name": name, "namespace": namespace, "creationTimestamp": when}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner:
        meta["ownerReferences"] = [owner_reference(owner)]
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
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status}


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
    return {
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
        },
    }


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
    meta: Obj = {"name": name, "namespace": namespace, "labels": dict(lab)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": lab},
            "template": _template(lab, containers, image),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    }


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
