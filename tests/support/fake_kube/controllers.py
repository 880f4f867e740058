"""Synchronous mini controllers: deployment, replicaset, statefulset, daemonset, GC, kubelet.

They run inside the write that triggers them (under the store lock), so a test
sees the settled world as soon as its call returns, with every intermediate
object change emitted as a watch event like the real controllers would cause.
Pods they create are scheduled round-robin and Running/ready at once; a pod
replacing an evicted one starts Pending (ContainerCreating) as the doc describes.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from . import builders
from .resources import Obj, ResourceType, resolve
from .selectors import selector_from_spec
from .store import Entry

if TYPE_CHECKING:
    from .world import World

PODS = resolve("pods")
NODES = resolve("nodes")
DEPLOYMENTS = resolve("deployments")
REPLICASETS = resolve("replicasets")
STATEFULSETS = resolve("statefulsets")
DAEMONSETS = resolve("daemonsets")

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
HASH = builders.TEMPLATE_HASH_LABEL
_DONE_PHASES = ("Failed", "Succeeded")


def controller_ref(obj: Obj) -> Obj | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owned_by(obj: Obj, uid: str) -> bool:
    """Whether ``obj`` has a controller reference to ``uid``."""
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == uid


def _is_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _active(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in _DONE_PHASES and not pod["metadata"].get(
        "deletionTimestamp"
    )


def _set_condition(conds: list[Obj], ctype: str, status: str, reason: str, message: str, now: str) -> None:
    for cond in conds:
        if cond.get("type") == ctype:
            if cond.get("status") != status:
                cond["lastTransitionTime"] = now
            if cond.get("status") != status or cond.get("reason") != reason or cond.get("message") != message:
                cond["lastUpdateTime"] = now
            cond.update(status=status, reason=reason, message=message)
            return
    conds.append(
        {
            "type": ctype,
            "status": status,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
    )


def _percent(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        pct = int(text[:-1])
        q, r = divmod(total * pct, 100)
        return q + (1 if round_up and r else 0)
    return int(text)


class Controllers:
    """Reactions to user writes; controller writes themselves trigger no hooks."""

    def __init__(self, world: World) -> None:
        self.w = world
        self._rr = 0
        self._ip = 0

    @property
    def store(self) -> Any:
        """The world's store (typed loosely to avoid an import cycle)."""
        return self.w.store

    # ------------------------------------------------------------ hooks

    def after_write(self, rt: ResourceType, old: Entry | None, new: Entry) -> None:
        """Called after a user create/update (not for dry-run)."""
        if not self.w.controllers_enabled:
            return
        kind = rt.kind
        spec_changed = old is None or old.obj.get("spec") != new.obj.get("spec")
        if kind == "Deployment" and spec_changed:
            self.sync_deployment(new)
        elif kind == "ReplicaSet" and spec_changed:
            self.sync_replicaset(new)
            self.refresh_owner(new.obj)
        elif kind == "StatefulSet" and spec_changed:
            self.sync_statefulset(new)
        elif kind == "DaemonSet" and spec_changed:
            self.sync_daemonset(new)
        elif kind == "Node" and old is None:
            self.sync_all_daemonsets()
        elif kind == "Pod":
            self._on_pod(old, new)

    def after_delete(self, rt: ResourceType, final: Entry, *, orphan: bool) -> None:
        """Called after a user delete: garbage collection and replacements."""
        if not self.w.controllers_enabled:
            return
        if not orphan:
            self.collect_dependents(final)
        if rt.kind == "Pod":
            self._on_pod_gone(final)
        elif rt.kind == "ReplicaSet":
            self.refresh_owner(final.obj)
        elif rt.kind == "Node":
            self.sync_all_daemonsets()

    # ------------------------------------------------------------ pods

    def _on_pod(self, old: Entry | None, new: Entry) -> None:
        pod = new.obj
        status = pod.get("status") or {}
        if old is None and not status.get("conditions") and status.get("phase", "Pending") == "Pending":
            new = self.kubelet_start(new)
            pod = new.obj
            status = pod.get("status") or {}
        if old is not None and old.obj.get("status") == status:
            return
        ref = controller_ref(pod)
        if ref is None:
            return
        owner = self._owner_entry(pod, ref)
        if owner is None:
            return
        newly_done = status.get("phase") in _DONE_PHASES and (
            old is None or (old.obj.get("status") or {}).get("phase") not in _DONE_PHASES
        )
        if ref["kind"] == "ReplicaSet":
            if newly_done:
                owner = self.sync_replicaset(owner, pending=True)
            else:
                owner = self.refresh_replicaset_status(owner)
            self.refresh_owner(owner.obj)
        elif ref["kind"] == "StatefulSet":
            if newly_done:
                self.w.remove_quietly(PODS, new)
            self.sync_statefulset(owner)
        elif ref["kind"] == "DaemonSet":
            if newly_done:
                self.w.remove_quietly(PODS, new)
            self.sync_daemonset(owner)

    def _on_pod_gone(self, final: Entry) -> None:
        ref = controller_ref(final.obj)
        if ref is None:
            return
        owner = self._owner_entry(final.obj, ref)
        if owner is None:
            return
        if ref["kind"] == "ReplicaSet":
            owner = self.sync_replicaset(owner)
            self.refresh_owner(owner.obj)
        elif ref["kind"] == "StatefulSet":
            self.sync_statefulset(owner)
        elif ref["kind"] == "DaemonSet":
            self.sync_daemonset(owner)

    def _owner_entry(self, obj: Obj, ref: Obj) -> Entry | None:
        try:
            rt = resolve(str(ref["kind"]))
        except KeyError:
            return None
        ns = str(obj["metadata"].get("namespace") or "") if rt.namespaced else ""
        entry: Entry | None = self.store.get(rt, ns, str(ref["name"]))
        if entry is None or entry.obj["metadata"].get("uid") != ref.get("uid"):
            return None
        return entry

    def pick_node(self) -> tuple[str, str]:
        """Round-robin over Ready, schedulable nodes (else any node; ``node-1`` if none exist)."""
        every = [e.obj for e in self.store.entries(NODES)]
        nodes = [
            n for n in every if not (n.get("spec") or {}).get("unschedulable") and _node_ready(n)
        ] or every
        if not nodes:
            return "node-1", "10.0.0.10"
        node = nodes[self._rr % len(nodes)]
        self._rr += 1
        return str(node["metadata"]["name"]), _node_ip(node)

    def node_ip(self, name: str) -> str:
        """InternalIP of a node (or a stable fallback)."""
        entry = self.store.get(NODES, "", name)
        return _node_ip(entry.obj) if entry is not None else "10.0.0.10"

    def next_pod_ip(self) -> str:
        """Sequential pod IPs from 10.244.0.0/16."""
        self._ip += 1
        return f"10.244.{(self._ip // 250) % 250}.{self._ip % 250 + 2}"

    def kubelet_start(self, entry: Entry) -> Entry:
        """Schedule a bare Pending pod and run it (what scheduler + kubelet would do)."""
        obj = entry.copy()
        spec = obj["spec"]
        node = spec.get("nodeName")
        if node:
            host_ip = self.node_ip(str(node))
        else:
            node, host_ip = self.pick_node()
            spec["nodeName"] = node
        obj["status"] = builders.running_pod_status(
            entry.name, spec, host_ip=host_ip, pod_ip=self.next_pod_ip(), started=builders.rfc3339()
        )
        result: Entry = self.store.commit(PODS, "MODIFIED", obj, entry)
        return result

    def make_pod(
        self,
        owner: Entry,
        template: Obj,
        name: str,
        *,
        generate_name: str | None = None,
        node: str | None = None,
        pending: bool = False,
        extra_labels: dict[str, str] | None = None,
    ) -> Entry:
        """Create a pod from a template, owned by ``owner`` (controller ref)."""
        tmeta = template.get("metadata") or {}
        meta: Obj = {
            "name": name,
            "namespace": owner.namespace,
            "uid": self.w.new_uid(),
            "creationTimestamp": builders.rfc3339(),
            "generation": 1,
            "labels": {**(tmeta.get("labels") or {}), **(extra_labels or {})},
            "ownerReferences": [builders.owner_reference(owner.obj)],
        }
        if generate_name:
            meta["generateName"] = generate_name
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        spec = builders.pod_admission(copy.deepcopy(template.get("spec") or {}), namespace=owner.namespace, name=name)
        if node is None:
            node, host_ip = self.pick_node()
        else:
            host_ip = self.node_ip(node)
        spec["nodeName"] = node
        now = builders.rfc3339()
        if pending:
            status = builders.pending_pod_status(spec, host_ip=host_ip, started=now)
        else:
            status = builders.running_pod_status(
                name, spec, host_ip=host_ip, pod_ip=self.next_pod_ip(), started=now
            )
        pod = {"metadata": meta, "spec": spec, "status": status}
        for container in spec.get("containers") or []:
            if container.get("image") in self.w.crashing_images:
                pod["status"] = builders.crashloop_status(pod, str(container.get("name")), restarts=3)
        meta["managedFields"] = builders.pod_managed_fields(pod)
        result: Entry = self.store.commit(PODS, "ADDED", pod, None)
        return result

    def _pods_of(self, owner: Entry) -> list[Entry]:
        uid = owner.obj["metadata"]["uid"]
        return [e for e in self.store.entries(PODS, owner.namespace) if owned_by(e.obj, uid)]

    def _update(self, rt: ResourceType, cur: Entry, obj: Obj) -> Entry:
        """Controller write: commit only when something changed."""
        if obj == cur.obj:
            return cur
        result: Entry = self.store.commit(rt, "MODIFIED", obj, cur)
        return result

    # ------------------------------------------------------------ replicasets

    def sync_replicaset(self, rs: Entry, *, pending: bool = False) -> Entry:
        """Create or delete pods to match ``spec.replicas``; then refresh status."""
        want = int((rs.obj.get("spec") or {}).get("replicas", 1))
        active = [p for p in self._pods_of(rs) if _active(p.obj)]
        if len(active) < want:
            tpl = (rs.obj.get("spec") or {}).get("template") or {}
            for _ in range(want - len(active)):
                name = f"{rs.name}-{self.w.suffix()}"
                while self.store.get(PODS, rs.namespace, name) is not None:
                    name = f"{rs.name}-{self.w.suffix()}"
                self.make_pod(rs, tpl, name, generate_name=f"{rs.name}-", pending=pending)
        elif len(active) > want:
            # Like the real controller: unready pods go first, then the newest.
            victims = sorted(active, key=lambda p: (_is_ready(p.obj), -p.seq))[: len(active) - want]
            for pod in victims:
                self.w.remove_quietly(PODS, pod)
        return self.refresh_replicaset_status(self._reload(REPLICASETS, rs))

    def refresh_replicaset_status(self, rs: Entry) -> Entry:
        """Recount replicas/ready/available from the pods."""
        active = [p for p in self._pods_of(rs) if _active(p.obj)]
        sel = selector_from_spec((rs.obj.get("spec") or {}).get("selector"))
        ready = sum(1 for p in active if _is_ready(p.obj))
        status: Obj = {"replicas": len(active)}
        labeled = sum(1 for p in active if sel.matches(p.obj["metadata"].get("labels")))
        if labeled:
            status["fullyLabeledReplicas"] = labeled
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        status["observedGeneration"] = int(rs.obj["metadata"].get("generation", 1))
        obj = rs.copy()
        obj["status"] = status
        return self._update(REPLICASETS, rs, obj)

    def _reload(self, rt: ResourceType, entry: Entry) -> Entry:
        cur: Entry | None = self.store.get(rt, entry.namespace, entry.name)
        return cur if cur is not None else entry

    def refresh_owner(self, obj: Obj) -> None:
        """Recompute the status of ``obj``'s controlling Deployment, if any."""
        ref = controller_ref(obj)
        if ref is None or ref.get("kind") != "Deployment":
            return
        dep = self._owner_entry(obj, ref)
        if dep is not None:
            self.refresh_deployment_status(dep, rollout=False)

    # ------------------------------------------------------------ deployments

    def _replicasets_of(self, dep: Entry) -> list[Entry]:
        uid = dep.obj["metadata"]["uid"]
        return [e for e in self.store.entries(REPLICASETS, dep.namespace) if owned_by(e.obj, uid)]

    def sync_deployment(self, dep: Entry) -> Entry:
        """Roll the deployment to its current template and replica count.

        A paused Deployment keeps its ReplicaSets (a template change waits for the resume)
        and reports ``Progressing=Unknown, reason=DeploymentPaused`` like the real controller.
        """
        spec = dep.obj.get("spec") or {}
        if spec.get("paused"):
            return self._sync_paused(dep)
        desired = int(spec.get("replicas", 1))
        template = copy.deepcopy(spec.get("template") or {})
        tpl_hash = builders.pod_template_hash(template)
        rss = self._replicasets_of(dep)
        max_rev = max(
            (int((r.obj["metadata"].get("annotations") or {}).get(REVISION, "0")) for r in rss), default=0
        )
        new_rs = next((r for r in rss if (r.obj["metadata"].get("labels") or {}).get(HASH) == tpl_hash), None)
        surge = _percent(
            ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge", "25%"),
            desired,
            round_up=True,
        )
        if new_rs is None:
            labels = {**((template.get("metadata") or {}).get("labels") or {}), HASH: tpl_hash}
            template.setdefault("metadata", {})["labels"] = labels
            selector = copy.deepcopy(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})[HASH] = tpl_hash
            rs_obj: Obj = {
                "metadata": {
                    "name": f"{dep.name}-{tpl_hash}",
                    "namespace": dep.namespace,
                    "uid": self.w.new_uid(),
                    "creationTimestamp": builders.rfc3339(),
                    "generation": 1,
                    "labels": labels,
                    "annotations": {
                        "deployment.kubernetes.io/desired-replicas": str(desired),
                        "deployment.kubernetes.io/max-replicas": str(desired + surge),
                        REVISION: str(max_rev + 1),
                    },
                    "ownerReferences": [builders.owner_reference(dep.obj)],
                },
                "spec": {"replicas": desired, "selector": selector, "template": template},
            }
            new_rs = self.store.commit(REPLICASETS, "ADDED", rs_obj, None)
        else:
            obj = new_rs.copy()
            ann = obj["metadata"].setdefault("annotations", {})
            ann["deployment.kubernetes.io/desired-replicas"] = str(desired)
            ann["deployment.kubernetes.io/max-replicas"] = str(desired + surge)
            if int(ann.get(REVISION, "0")) < max_rev:
                # A rollback to an old template: that ReplicaSet becomes the newest
                # revision and remembers the number it had (revision-history).
                history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
                ann[REVISION_HISTORY] = ",".join([*history, ann.get(REVISION, "0")])
                ann[REVISION] = str(max_rev + 1)
            if obj["spec"].get("replicas") != desired:
                obj["spec"]["replicas"] = desired
                obj["metadata"]["generation"] = int(obj["metadata"].get("generation", 1)) + 1
            new_rs = self._update(REPLICASETS, new_rs, obj)
        assert new_rs is not None
        new_rs = self.sync_replicaset(new_rs)
        for old in rss:
            if old.name == new_rs.name:
                continue
            old = self._reload(REPLICASETS, old)
            if (old.obj.get("spec") or {}).get("replicas", 1) != 0:
                obj = old.copy()
                obj["spec"]["replicas"] = 0
                obj["metadata"]["generation"] = int(obj["metadata"].get("generation", 1)) + 1
                old = self._update(REPLICASETS, old, obj)
            self.sync_replicaset(old)
        self._cleanup_history(dep, new_rs)
        dep = self._reload(DEPLOYMENTS, dep)
        obj = dep.copy()
        rev = (new_rs.obj["metadata"].get("annotations") or {}).get(REVISION, "1")
        obj["metadata"].setdefault("annotations", {})[REVISION] = rev
        dep = self._update(DEPLOYMENTS, dep, obj)
        return self.refresh_deployment_status(dep, rollout=True)

    def _sync_paused(self, dep: Entry) -> Entry:
        dep = self.refresh_deployment_status(dep, rollout=False)
        obj = dep.copy()
        conds = obj.setdefault("status", {}).setdefault("conditions", [])
        _set_condition(
            conds, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", builders.rfc3339()
        )
        return self._update(DEPLOYMENTS, dep, obj)

    def _cleanup_history(self, dep: Entry, new_rs: Entry) -> None:
        limit = int((dep.obj.get("spec") or {}).get("revisionHistoryLimit", 10))
        old = [
            r
            for r in self._replicasets_of(dep)
            if r.name != new_rs.name and (r.obj.get("spec") or {}).get("replicas", 1) == 0
        ]
        old.sort(key=lambda r: int((r.obj["metadata"].get("annotations") or {}).get(REVISION, "0")))
        for r in old[: max(len(old) - limit, 0)]:
            self.w.remove_quietly(REPLICASETS, r)

    def refresh_deployment_status(self, dep: Entry, *, rollout: bool) -> Entry:
        """Aggregate ReplicaSet counts into the Deployment status and conditions."""
        spec = dep.obj.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        tpl_hash = builders.pod_template_hash(spec.get("template") or {})
        rss = self._replicasets_of(dep)
        new_rs = next((r for r in rss if (r.obj["metadata"].get("labels") or {}).get(HASH) == tpl_hash), None)

        def total(key: str) -> int:
            return sum(int((r.obj.get("status") or {}).get(key, 0)) for r in rss)

        replicas = total("replicas")
        ready = total("readyReplicas")
        available = total("availableReplicas")
        updated = int((new_rs.obj.get("status") or {}).get("replicas", 0)) if new_rs else 0
        unavailable = max(desired - available, 0)
        max_unavailable = _percent(
            ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", "25%"),
            desired,
            round_up=False,
        )
        now = builders.rfc3339()
        old_status = dep.obj.get("status") or {}
        conds = copy.deepcopy(old_status.get("conditions") or [])
        if available >= desired - max_unavailable:
            _set_condition(
                conds,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
            )
        else:
            _set_condition(
                conds,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            )
        rs_name = new_rs.name if new_rs else f"{dep.name}-{tpl_hash}"
        complete = updated == desired and replicas == desired and available >= desired
        has_progressing = any(c.get("type") == "Progressing" for c in conds)
        if complete:
            _set_condition(
                conds,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
            )
        elif rollout or not has_progressing:
            _set_condition(
                conds,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                now,
            )
        status: Obj = {"observedGeneration": int(dep.obj["metadata"].get("generation", 1))}
        for key, value in (
            ("replicas", replicas),
            ("updatedReplicas", updated),
            ("readyReplicas", ready),
            ("availableReplicas", available),
            ("unavailableReplicas", unavailable),
        ):
            if value:
                status[key] = value
        status["conditions"] = conds
        obj = dep.copy()
        obj["status"] = status
        return self._update(DEPLOYMENTS, dep, obj)

    # ------------------------------------------------------------ statefulsets

    def sync_statefulset(self, sts: Entry) -> Entry:
        """Pods ``<name>-0..N-1`` at the current revision; extra ordinals removed."""
        spec = sts.obj.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        revision = f"{sts.name}-{builders.pod_template_hash(template)}"
        pods = {p.name: p for p in self._pods_of(sts)}
        for i in range(desired):
            pname = f"{sts.name}-{i}"
            cur = pods.pop(pname, None)
            if cur is not None and (
                (cur.obj["metadata"].get("labels") or {}).get("controller-revision-hash") != revision
                or not _active(cur.obj)
            ):
                self.w.remove_quietly(PODS, cur)
                cur = None
            if cur is None and self.store.get(PODS, sts.namespace, pname) is None:
                self.make_pod(
                    sts,
                    template,
                    pname,
                    extra_labels={
                        "controller-revision-hash": revision,
                        "statefulset.kubernetes.io/pod-name": pname,
                        "apps.kubernetes.io/pod-index": str(i),
                    },
                )
        for extra in sorted(pods.values(), key=lambda p: p.name, reverse=True):
            self.w.remove_quietly(PODS, extra)
        sts = self._reload(STATEFULSETS, sts)
        active = [p for p in self._pods_of(sts) if _active(p.obj)]
        ready = sum(1 for p in active if _is_ready(p.obj))
        status: Obj = {
            "observedGeneration": int(sts.obj["metadata"].get("generation", 1)),
            "replicas": len(active),
            "currentReplicas": len(active),
            "updatedReplicas": len(active),
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        obj = sts.copy()
        obj["status"] = status
        return self._update(STATEFULSETS, sts, obj)

    # ------------------------------------------------------------ daemonsets

    def sync_all_daemonsets(self) -> None:
        """Node set changed: every DaemonSet re-evaluates its placement."""
        for ds in self.store.entries(DAEMONSETS):
            self.sync_daemonset(ds)

    def sync_daemonset(self, ds: Entry) -> Entry:
        """One pod per node at the current template; pods on vanished nodes removed."""
        template = (ds.obj.get("spec") or {}).get("template") or {}
        revision = builders.pod_template_hash(template)
        nodes = [e.name for e in self.store.entries(NODES)]
        by_node: dict[str, Entry] = {}
        for pod in self._pods_of(ds):
            node = str((pod.obj.get("spec") or {}).get("nodeName") or "")
            stale = (pod.obj["metadata"].get("labels") or {}).get("controller-revision-hash") != revision
            if node not in nodes or stale or not _active(pod.obj) or node in by_node:
                self.w.remove_quietly(PODS, pod)
            else:
                by_node[node] = pod
        for node in nodes:
            if node not in by_node:
                name = f"{ds.name}-{self.w.suffix()}"
                self.make_pod(
                    ds,
                    template,
                    name,
                    generate_name=f"{ds.name}-",
                    node=node,
                    extra_labels={"controller-revision-hash": revision},
                )
        ds = self._reload(DAEMONSETS, ds)
        active = [p for p in self._pods_of(ds) if _active(p.obj)]
        ready = sum(1 for p in active if _is_ready(p.obj))
        status: Obj = {
            "currentNumberScheduled": len(active),
            "numberMisscheduled": 0,
            "desiredNumberScheduled": len(nodes),
            "numberReady": ready,
            "observedGeneration": int(ds.obj["metadata"].get("generation", 1)),
            "updatedNumberScheduled": len(active),
        }
        if ready:
            status["numberAvailable"] = ready
        if len(nodes) - ready > 0:
            status["numberUnavailable"] = len(nodes) - ready
        obj = ds.copy()
        obj["status"] = status
        return self._update(DAEMONSETS, ds, obj)

    # ------------------------------------------------------------ GC

    def collect_dependents(self, owner: Entry) -> None:
        """Background cascading deletion of objects controlled by ``owner``."""
        uid = owner.obj["metadata"].get("uid")
        if not uid:
            return
        for rt in (REPLICASETS, PODS):
            ns = owner.namespace if rt.namespaced else None
            for dep in self.store.entries(rt, ns):
                if owned_by(dep.obj, str(uid)) and self.store.get(rt, dep.namespace, dep.name) is dep:
                    self.w.remove_quietly(rt, dep)
                    self.collect_dependents(dep)


def _node_ready(node: Obj) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return True


def _node_ip(node: Obj) -> str:
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP":
            return str(addr.get("address"))
    return "10.0.0.10"
