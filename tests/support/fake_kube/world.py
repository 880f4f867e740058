"""API semantics on top of the store: create/update/patch/delete as the apiserver does them.

Both the HTTP layer and the test control API go through here, so defaulting,
validation, optimistic concurrency, status-subresource rules, dry-run, no-op
detection, graceful pod deletion and the mini controllers behave the same no
matter who writes. ``from_client=True`` applies the rules a real client meets;
the control API passes ``False`` to set up any state (e.g. a pod's status).
"""

from __future__ import annotations

import copy
import random
import uuid
from datetime import datetime
from typing import Any

import orjson

from . import builders, errors
from .controllers import Controllers
from .logs import LogStore
from .patching import PatchError, json_patch, merge_patch, strategic_merge_patch
from .resources import Obj, ResourceType, resolve
from .selectors import format_selector, selector_from_spec, valid_dns_subdomain
from .store import Entry, Store, dumps

NAMESPACES = resolve("namespaces")
PODS = resolve("pods")
NODES = resolve("nodes")

PATCH_TYPES = {
    "application/strategic-merge-patch+json": "strategic",
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
}

_NAME_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return builders.rfc3339(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def clone(obj: Obj) -> Obj:
    """Deep copy through JSON (many times faster than ``copy.deepcopy`` here)."""
    result: Obj = orjson.loads(
        orjson.dumps(obj, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS)
    )
    return result


def _spec_of(obj: Obj) -> Any:
    return obj.get("spec")


class World:
    """All cluster state plus the rules for changing it (guarded by ``store.lock``)."""

    def __init__(self, *, controllers: bool, history_limit: int, seed: int = 0) -> None:
        self.store = Store(history_limit)
        self.lock = self.store.lock
        self.rng = random.Random(seed)
        self.logs = LogStore()
        self.deleted_nodes: set[str] = set()
        # Images whose containers crash (CrashLoopBackOff) in every pod the controllers start:
        # a bad release, whose rollout never becomes available.
        self.crashing_images: set[str] = set()
        self.controllers_enabled = controllers
        self.ctl = Controllers(self)
        with self.lock:
            for ns in ("default", "kube-node-lease", "kube-public", "kube-system"):
                self.create(NAMESPACES, "", builders.namespace(ns), from_client=False)

    # ------------------------------------------------------------ helpers

    def new_uid(self) -> str:
        """Random (seeded) v4 UUID."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def suffix(self, n: int = 5) -> str:
        """Random name suffix from the alphabet Kubernetes uses."""
        return "".join(self.rng.choice(builders.SAFE_ALPHABET) for _ in range(n))

    def require(self, rt: ResourceType, namespace: str, name: str) -> Entry:
        """Current entry or a NotFound error."""
        entry = self.store.get(rt, namespace, name)
        if entry is None:
            raise errors.not_found(rt, name)
        return entry

    def uncommitted(self, rt: ResourceType, obj: Obj) -> Entry:
        """Wrap a dry-run result like a stored entry (nothing is stored)."""
        body = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
        final: Obj = {"kind": rt.kind, "apiVersion": rt.api_version, **body}
        return Entry(final, dumps(final), 0)

    # ------------------------------------------------------------ create

    def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: Obj,
        *,
        dry_run: bool = False,
        from_client: bool = True,
    ) -> Entry:
        """POST semantics: defaulting, validation, AlreadyExists, then controllers."""
        with self.lock:
            obj = clone(body)
            self._check_kind(rt, obj)
            meta = obj.get("metadata")
            if not isinstance(meta, dict):
                meta = {}
            obj["metadata"] = meta
            if rt.namespaced:
                body_ns = meta.get("namespace")
                if body_ns and namespace and body_ns != namespace:
                    raise errors.bad_request(
                        "the namespace of the provided object does not match the namespace sent "
                        "on the request"
                    )
                namespace = namespace or str(body_ns or "default")
                meta["namespace"] = namespace
                if self.store.get(NAMESPACES, "", namespace) is None:
                    if from_client:
                        raise errors.not_found(NAMESPACES, namespace)
                    self.create(NAMESPACES, "", builders.namespace(namespace), from_client=False)
            else:
                namespace = ""
                meta.pop("namespace", None)
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = str(meta["generateName"]) + self.suffix()
            name = str(meta.get("name") or "")
            name_causes = self._name_causes(rt, name)
            if not name_causes and self.store.get(rt, namespace, name) is not None:
                raise errors.already_exists(rt, name)
            for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(key, None)
            if from_client or not meta.get("uid"):
                meta["uid"] = self.new_uid()
            if from_client or not meta.get("creationTimestamp"):
                meta["creationTimestamp"] = builders.rfc3339()
            if rt.tracks_generation:
                meta["generation"] = 1
            self._default(rt, obj, creating=True, from_client=from_client)
            self._validate(rt, obj, name_causes)
            if dry_run:
                return self.uncommitted(rt, obj)
            entry = self.store.commit(rt, "ADDED", obj, None)
            if rt is NODES:
                self.deleted_nodes.discard(name)
            self.ctl.after_write(rt, None, entry)
            return entry

    # ------------------------------------------------------------ update / patch

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Obj,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        from_client: bool = True,
    ) -> Entry:
        """PUT semantics with the resourceVersion precondition (409 when stale)."""
        with self.lock:
            cur = self.require(rt, namespace, name)
            obj = clone(body)
            self._check_kind(rt, obj)
            meta = obj.get("metadata")
            if not isinstance(meta, dict):
                meta = {}
                obj["metadata"] = meta
            if meta.get("name") and meta["name"] != name:
                raise errors.bad_request(
                    f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
                )
            if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            rv = meta.get("resourceVersion")
            if rv and str(rv) != cur.obj["metadata"]["resourceVersion"]:
                raise errors.conflict(rt, name)
            return self._finish_update(
                rt, cur, obj, subresource=subresource, dry_run=dry_run, from_client=from_client
            )

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        patch_body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        from_client: bool = True,
    ) -> Entry:
        """PATCH semantics: apply the patch to the current object, then as PUT."""
        with self.lock:
            cur = self.require(rt, namespace, name)
            patched = self._apply_patch(cur.copy(), patch_type, patch_body)
            meta = patched.get("metadata") or {}
            rv = meta.get("resourceVersion")
            if rv and str(rv) != cur.obj["metadata"]["resourceVersion"]:
                raise errors.conflict(rt, name)
            return self._finish_update(
                rt, cur, patched, subresource=subresource, dry_run=dry_run, from_client=from_client
            )

    @staticmethod
    def _apply_patch(base: Obj, patch_type: str, patch_body: Any) -> Obj:
        try:
            if patch_type == "strategic":
                result = strategic_merge_patch(base, patch_body)
            elif patch_type == "merge":
                if not isinstance(patch_body, dict):
                    raise PatchError(400, "merge patch body must be a JSON object")
                result = merge_patch(base, patch_body)
            elif patch_type == "json":
                result = json_patch(base, patch_body)
            else:
                raise errors.unsupported_media_type(patch_type)
        except PatchError as exc:
            if exc.code == 400:
                raise errors.bad_request(exc.message) from None
            err = errors.generic(
                422, "the server rejected our request due to an error in our request", "Invalid"
            )
            err.details = {"causes": [{"type": "UnexpectedServerResponse", "message": exc.message}]}
            raise err from None
        if not isinstance(result, dict):
            raise errors.bad_request("patch result is not an object")
        return result

    def _finish_update(
        self,
        rt: ResourceType,
        cur: Entry,
        obj: Obj,
        *,
        subresource: str | None,
        dry_run: bool,
        from_client: bool,
    ) -> Entry:
        old = cur.obj
        old_meta = old["metadata"]
        if from_client and rt.has_status:
            if subresource == "status":
                status = obj.get("status")
                obj = cur.copy()
                if status is None:
                    obj.pop("status", None)
                else:
                    obj["status"] = status
            elif "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            else:
                obj.pop("status", None)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
            obj["metadata"] = meta
        for key in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        self._default(rt, obj, creating=False, from_client=from_client)
        if rt.tracks_generation and _spec_of(obj) != _spec_of(old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        self._validate(rt, obj)
        normalized = {
            "kind": rt.kind,
            "apiVersion": rt.api_version,
            **{k: v for k, v in obj.items() if k not in ("kind", "apiVersion")},
        }
        if normalized == old:
            return cur  # no-op writes do not bump the resourceVersion or notify watchers
        if dry_run:
            return self.uncommitted(rt, obj)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(rt, cur, graceful=False, user=True)
        entry = self.store.commit(rt, "MODIFIED", obj, cur)
        self.ctl.after_write(rt, cur, entry)
        return entry

    # ------------------------------------------------------------ delete

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        dry_run: bool = False,
        propagation: str | None = None,
        grace_seconds: int | None = None,
        preconditions: Obj | None = None,
    ) -> Entry:
        """DELETE semantics: preconditions, finalizers, graceful pods, GC, namespaces.

        Returns the entry to show the client (the object with ``deletionTimestamp``
        for graceful/finalized deletes, the final state otherwise).
        """
        with self.lock:
            cur = self.require(rt, namespace, name)
            meta = cur.obj["metadata"]
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise errors.conflict(
                    rt,
                    name,
                    f"Precondition failed: UID in precondition: {pre['uid']}, "
                    f"UID in object meta: {meta.get('uid')}",
                )
            if pre.get("resourceVersion") and str(pre["resourceVersion"]) != meta.get("resourceVersion"):
                raise errors.conflict(
                    rt,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                    f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                )
            if dry_run:
                return cur
            if meta.get("finalizers"):
                if meta.get("deletionTimestamp"):
                    return cur
                obj = cur.copy()
                obj["metadata"]["deletionTimestamp"] = builders.rfc3339()
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                return self.store.commit(rt, "MODIFIED", obj, cur)
            if rt is NAMESPACES:
                return self._delete_namespace(cur)
            graceful = (
                rt is PODS
                and bool((cur.obj.get("spec") or {}).get("nodeName"))
                and grace_seconds != 0
                and (cur.obj.get("status") or {}).get("phase") not in ("Failed", "Succeeded")
            )
            return self._remove(
                rt, cur, graceful=graceful, user=True, propagation=propagation, grace_seconds=grace_seconds
            )

    def _remove(
        self,
        rt: ResourceType,
        cur: Entry,
        *,
        graceful: bool,
        user: bool,
        propagation: str | None = None,
        grace_seconds: int | None = None,
    ) -> Entry:
        """Delete an entry; graceful pods first show ``deletionTimestamp`` (MODIFIED)."""
        shown = cur
        if graceful:
            obj = cur.copy()
            grace = (
                grace_seconds
                if grace_seconds is not None
                else int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
            )
            obj["metadata"]["deletionTimestamp"] = builders.rfc3339()
            obj["metadata"]["deletionGracePeriodSeconds"] = grace
            shown = self.store.commit(rt, "MODIFIED", obj, cur)
            cur = shown
        final = self.store.commit(rt, "DELETED", None, cur)
        if rt is PODS:
            self.logs.forget(cur.namespace, cur.name)
        if rt is NODES:
            self.deleted_nodes.add(cur.name)
        if user:
            self.ctl.after_delete(rt, final, orphan=propagation == "Orphan")
        return shown if graceful else final

    def remove_quietly(self, rt: ResourceType, cur: Entry) -> None:
        """Controller-side delete (no user hooks; pods still go through graceful)."""
        graceful = rt is PODS and bool((cur.obj.get("spec") or {}).get("nodeName"))
        self._remove(rt, cur, graceful=graceful, user=False)

    def _delete_namespace(self, cur: Entry) -> Entry:
        obj = cur.copy()
        obj["metadata"]["deletionTimestamp"] = builders.rfc3339()
        obj["status"] = {"phase": "Terminating"}
        shown = self.store.commit(NAMESPACES, "MODIFIED", obj, cur)
        for rt, entry in list(self.store.iter_namespace(cur.name)):
            if self.store.get(rt, entry.namespace, entry.name) is entry:
                self._remove(rt, entry, graceful=False, user=False)
        self.store.commit(NAMESPACES, "DELETED", None, shown)
        return shown

    # ------------------------------------------------------------ scale subresource

    def scale_of(self, rt: ResourceType, entry: Entry) -> Obj:
        """The ``autoscaling/v1`` Scale view of a workload."""
        meta = entry.obj["metadata"]
        spec = entry.obj.get("spec") or {}
        status = entry.obj.get("status") or {}
        scale_status: Obj = {"replicas": int(status.get("replicas", 0))}
        selector = format_selector(spec.get("selector"))
        if selector:
            scale_status["selector"] = selector
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta["resourceVersion"],
                "creationTimestamp": meta.get("creationTimestamp"),
            },
            "spec": {"replicas": int(spec.get("replicas", 1))},
            "status": scale_status,
        }

    def update_scale(
        self, rt: ResourceType, namespace: str, name: str, scale: Obj, *, dry_run: bool = False
    ) -> Obj:
        """PUT .../scale: rv precondition against the workload, then set replicas."""
        with self.lock:
            cur = self.require(rt, namespace, name)
            meta = scale.get("metadata") or {}
            rv = meta.get("resourceVersion")
            if rv and str(rv) != cur.obj["metadata"]["resourceVersion"]:
                raise errors.conflict(rt, name)
            replicas = (scale.get("spec") or {}).get("replicas", 0)
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid(
                    rt,
                    name,
                    [("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")],
                    kind_qualified="Scale.autoscaling",
                )
            obj = cur.copy()
            obj.setdefault("spec", {})["replicas"] = replicas
            entry = self._finish_update(rt, cur, obj, subresource="scale", dry_run=dry_run, from_client=True)
            return self.scale_of(rt, entry)

    def patch_scale(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        body: Any,
        *,
        dry_run: bool = False,
    ) -> Obj:
        """PATCH .../scale: patch the Scale view, then as PUT."""
        with self.lock:
            cur = self.require(rt, namespace, name)
            patched = self._apply_patch(self.scale_of(rt, cur), patch_type, body)
            return self.update_scale(rt, namespace, name, patched, dry_run=dry_run)

    # ------------------------------------------------------------ defaulting & validation

    @staticmethod
    def _check_kind(rt: ResourceType, obj: Obj) -> None:
        kind = obj.get("kind")
        if kind and kind != rt.kind:
            raise errors.bad_request(
                f"the server could not process a {kind} at the {rt.qualified} endpoint"
                f" (expected kind {rt.kind})"
            )
        av = obj.get("apiVersion")
        if av and av != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({av}) does not match the expected API version "
                f"({rt.api_version})"
            )

    @staticmethod
    def _name_causes(rt: ResourceType, name: str) -> list[tuple[str, str]]:
        if not name:
            return [("metadata.name", "Required value: name or generateName is required")]
        if rt is NAMESPACES:
            if len(name) > 63 or not valid_dns_subdomain(name) or "." in name:
                return [("metadata.name", f'Invalid value: "{name}": {_LABEL_MSG}')]
        elif not valid_dns_subdomain(name):
            return [("metadata.name", f'Invalid value: "{name}": {_NAME_MSG}')]
        return []

    def _default(self, rt: ResourceType, obj: Obj, *, creating: bool, from_client: bool) -> None:
        kind = rt.kind
        spec = obj.get("spec")
        if kind == "Namespace":
            meta = obj["metadata"]
            meta["labels"] = {**(meta.get("labels") or {}), "kubernetes.io/metadata.name": meta["name"]}
            obj["spec"] = spec if isinstance(spec, dict) and spec else {"finalizers": ["kubernetes"]}
            if creating:
                obj["status"] = {"phase": "Active"}
        elif kind == "Pod" and isinstance(spec, dict):
            if creating:  # admission runs on create: service account volume, tolerations, priority
                meta = obj["metadata"]
                obj["spec"] = builders.pod_admission(spec, namespace=str(meta.get("namespace")), name=str(meta["name"]))
            else:
                obj["spec"] = builders.pod_spec_defaults(spec)
                obj["spec"].setdefault("serviceAccountName", "default")
                obj["spec"].setdefault("serviceAccount", obj["spec"]["serviceAccountName"])
                obj["spec"].setdefault("enableServiceLinks", True)
                obj["spec"].setdefault("preemptionPolicy", "PreemptLowerPriority")
                obj["spec"].setdefault("priority", 0)
            if creating and (from_client or not obj.get("status")):
                obj["status"] = {"phase": "Pending", "qosClass": builders._qos(obj["spec"]["containers"])}
        elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job") and isinstance(
            spec, dict
        ):
            if kind in ("Deployment", "ReplicaSet", "StatefulSet"):
                spec.setdefault("replicas", 1)
            if kind == "Deployment":
                spec.setdefault(
                    "strategy",
                    {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                )
                spec.setdefault("revisionHistoryLimit", 10)
                spec.setdefault("progressDeadlineSeconds", 600)
            if kind == "StatefulSet":
                spec.setdefault("podManagementPolicy", "OrderedReady")
                spec.setdefault(
                    "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
                )
                spec.setdefault("revisionHistoryLimit", 10)
            if kind == "DaemonSet":
                spec.setdefault(
                    "updateStrategy",
                    {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                )
                spec.setdefault("revisionHistoryLimit", 10)
            tpl = spec.get("template")
            if isinstance(tpl, dict) and isinstance(tpl.get("spec"), dict):
                tpl["spec"] = builders.pod_spec_defaults(tpl["spec"])
                tpl.setdefault("metadata", {})
            if creating and from_client and kind != "Job":
                obj["status"] = {}
            if creating and not obj.get("status"):
                obj.pop("status", None)

    def _validate(self, rt: ResourceType, obj: Obj, name_causes: list[tuple[str, str]] | None = None) -> None:
        kind = rt.kind
        name = str(obj["metadata"].get("name", ""))
        causes: list[tuple[str, str]] = list(name_causes or [])
        spec = obj.get("spec")
        if kind == "Pod":
            containers = (spec or {}).get("containers") if isinstance(spec, dict) else None
            if not containers:
                causes.append(("spec.containers", "Required value"))
            else:
                for i, c in enumerate(containers):
                    if not c.get("name"):
                        causes.append((f"spec.containers[{i}].name", "Required value"))
                    if not c.get("image"):
                        causes.append((f"spec.containers[{i}].image", "Required value"))
        elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            if not isinstance(spec, dict):
                causes.append(("spec.selector", "Required value"))
                causes.append(("spec.template.spec.containers", "Required value"))
            else:
                replicas = spec.get("replicas", 1)
                if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                    causes.append(
                        ("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")
                    )
                sel = spec.get("selector")
                tpl = spec.get("template") or {}
                labels = (tpl.get("metadata") or {}).get("labels") or {}
                if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
                    causes.append(("spec.selector", "Required value"))
                elif not selector_from_spec(sel).matches(labels):
                    shown = (
                        "map[string]string{"
                        + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items()))
                        + "}"
                    )
                    causes.append(
                        (
                            "spec.template.metadata.labels",
                            f"Invalid value: {shown}: `selector` does not match template `labels`",
                        )
                    )
                if not ((tpl.get("spec") or {}).get("containers")):
                    causes.append(("spec.template.spec.containers", "Required value"))
        if causes:
            raise errors.invalid(rt, name, causes)
