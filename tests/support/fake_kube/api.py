"""Request routing and endpoint semantics, independent of the socket plumbing.

``Api.dispatch`` turns a parsed request into either a complete reply or a watch
to stream; everything a real apiserver decides (paths, verbs, RBAC, selectors,
pagination, patch types, dry-run, Status bodies) is decided here.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from . import errors
from .logs import render_logs
from .rbac import Attributes, Authorizer
from .resources import BY_GROUP_PLURAL, RESOURCES, Obj, ResourceType
from .selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from .store import CLOSE, Entry, Gone, Watcher, dumps, event_line
from .world import NODES, PATCH_TYPES, PODS, World

VERSION_INFO: Obj = {
    "major": "1",
    "minor": "36",
    "emulationMajor": "1",
    "emulationMinor": "36",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "35",
    "gitVersion": "v1.36.0",
    "gitCommit": "6a0c1d0b5e8b8e7e6f3a9c4f2b1d0e9f8a7b6c5d",
    "gitTreeState": "clean",
    "buildDate": "2026-04-22T12:00:00Z",
    "goVersion": "go1.25.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_CONTINUE_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can start "
    "a new list without the continue parameter, or use the continue token in this response to "
    "retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list."
)


@dataclass
class Request:
    """A parsed HTTP request plus who is making it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    header_lists: dict[str, list[str]]
    body: bytes
    user: str = ""
    groups: tuple[str, ...] = ()

    def param(self, key: str) -> str | None:
        """First value of a query parameter."""
        vals = self.query.get(key)
        return vals[0] if vals else None

    def flag(self, key: str) -> bool:
        """Boolean query parameter (``true``/``1``)."""
        return (self.param(key) or "").lower() in ("true", "1")


@dataclass
class Reply:
    """A complete (non-streaming) response."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class WatchPlan:
    """A watch to stream: its watcher, whether it is registered, and its timeout."""

    watcher: Watcher
    registered: bool
    timeout: float | None


def error_reply(err: errors.FakeKubeError) -> Reply:
    """Status body with the error's code."""
    return Reply(err.code, dumps(err.status()), headers=dict(err.headers))


def _json_body(req: Request) -> Any:
    if not req.body.strip():
        raise errors.bad_request("the body of the request was empty")
    try:
        return json.loads(req.body)
    except ValueError as exc:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


class Api:
    """The resource endpoints of the fake apiserver."""

    def __init__(self, world: World, authorizer: Authorizer, *, gone_as_http_status: bool, host: str) -> None:
        self.world = world
        self.authz = authorizer
        self.gone_as_http_status = gone_as_http_status
        self.host = host

    # ------------------------------------------------------------ entry point

    def dispatch(self, req: Request) -> Reply | WatchPlan:
        """Route ``req``; raises FakeKubeError for error answers."""
        parts = [unquote(p) for p in req.path.split("/") if p]
        if not parts:
            return self._json(200, {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/version"]})
        if parts in (["healthz"], ["livez"], ["readyz"]):
            return Reply(200, b"ok", "text/plain; charset=utf-8")
        if parts == ["version"]:
            return self._json(200, VERSION_INFO)
        if parts == ["api"]:
            return self._json(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.host}],
                },
            )
        if parts == ["apis"]:
            return self._json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()})
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                grp = next((g for g in self._groups() if g["name"] == parts[1]), None)
                if grp is None:
                    raise errors.not_found_path()
                return self._json(200, {"kind": "APIGroup", "apiVersion": "v1", **grp})
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.not_found_path()
        if not any(r.group == group and r.version == version for r in RESOURCES):
            raise errors.not_found_path()
        if not rest:
            return self._json(200, self._resource_list(group, version))
        watch = req.flag("watch")
        if rest[0] == "watch":
            watch = True
            rest = rest[1:]
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in BY_GROUP_PLURAL:
            namespace = rest[1]
            rest = rest[2:]
        if not rest:
            raise errors.not_found_path()
        rt = BY_GROUP_PLURAL.get((group, version, rest[0]))
        if rt is None or len(rest) > 3:
            raise errors.not_found_path()
        if rt.namespaced and namespace is None and len(rest) > 1:
            raise errors.not_found_path()
        if not rt.namespaced and namespace is not None:
            raise errors.not_found_path()
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in rt.subresources:
            raise errors.not_found_path()
        verb = self._verb(req.method, name, sub, watch)
        if verb not in rt.verbs and not sub:
            raise errors.method_not_allowed()
        self.authz.check(Attributes(req.user, verb, rt.group, rt.plural, sub, namespace or "", name))
        return self._serve(req, rt, namespace, name, sub, verb)

    @staticmethod
    def _verb(method: str, name: str, sub: str, watch: bool) -> str:
        if method == "GET":
            if not name:
                return "watch" if watch else "list"
            return "get"
        if method == "POST":
            if name and sub not in ("eviction", "binding"):
                raise errors.method_not_allowed()
            return "create"
        if method in ("PUT", "PATCH"):
            if not name:
                raise errors.method_not_allowed()
            return "update" if method == "PUT" else "patch"
        if method == "DELETE":
            if sub:
                raise errors.method_not_allowed()
            return "delete" if name else "deletecollection"
        raise errors.method_not_allowed()

    def _json(self, status: int, obj: Any) -> Reply:
        return Reply(status, dumps(obj))

    # ------------------------------------------------------------ discovery

    def _groups(self) -> list[Obj]:
        seen: dict[str, Obj] = {}
        for r in RESOURCES:
            if r.group and r.group not in seen:
                gv = {"groupVersion": f"{r.group}/{r.version}", "version": r.version}
                seen[r.group] = {"name": r.group, "versions": [gv], "preferredVersion": gv}
        return list(seen.values())

    def _resource_list(self, group: str, version: str) -> Obj:
        resources: list[Obj] = []
        for r in RESOURCES:
            if r.group != group or r.version != version:
                continue
            item: Obj = {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
            }
            if r.short_names:
                item["shortNames"] = list(r.short_names)
            resources.append(item)
            for sub in sorted(r.subresources):
                sub_item: Obj = {
                    "name": f"{r.plural}/{sub}",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["get", "patch", "update"],
                }
                if sub == "scale":
                    sub_item.update(group="autoscaling", version="v1", kind="Scale")
                elif sub == "log":
                    sub_item["verbs"] = ["get"]
                elif sub == "eviction":
                    sub_item.update(group="policy", version="v1", kind="Eviction", verbs=["create"])
                elif sub == "binding":
                    sub_item.update(kind="Binding", verbs=["create"])
                elif sub == "finalize":
                    sub_item["verbs"] = ["update"]
                resources.append(sub_item)
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

    # ------------------------------------------------------------ endpoints

    def _dry_run(self, req: Request, body: Any = None) -> bool:
        values = req.query.get("dryRun", [])
        if isinstance(body, dict) and isinstance(body.get("dryRun"), list):
            values = values + [str(v) for v in body["dryRun"]]
        for v in values:
            if v != "All":
                raise errors.bad_request(f'Invalid value: "{v}": supported values: "All"')
        return bool(values)

    def _serve(
        self, req: Request, rt: ResourceType, namespace: str | None, name: str, sub: str, verb: str
    ) -> Reply | WatchPlan:
        ns = namespace or ""
        if rt.virtual:
            return self._review(req, rt)
        if verb == "list":
            return self._list(req, rt, namespace)
        if verb == "watch":
            return self._watch(req, rt, namespace)
        if verb == "deletecollection":
            return self._delete_collection(req, rt, namespace)
        if sub == "log":
            if verb != "get":
                raise errors.method_not_allowed()
            return self._logs(req, ns, name)
        if sub == "scale":
            return self._scale(req, rt, ns, name, verb)
        if sub == "eviction":
            return self._evict(req, ns, name)
        if sub == "binding":
            return self._bind(req, ns, name)
        if sub == "finalize":
            raise errors.method_not_allowed()
        world = self.world
        if verb == "get":
            with world.lock:
                entry = world.require(rt, ns, name)
            return Reply(200, entry.raw)
        if verb == "create":
            body = _json_body(req)
            if not isinstance(body, dict):
                raise errors.bad_request("the body of the request must be a JSON object")
            entry = world.create(rt, ns, body, dry_run=self._dry_run(req, body))
            return Reply(201, entry.raw)
        if verb == "update":
            body = _json_body(req)
            if not isinstance(body, dict):
                raise errors.bad_request("the body of the request must be a JSON object")
            entry = world.update(rt, ns, name, body, subresource=sub or None, dry_run=self._dry_run(req))
            return Reply(200, entry.raw)
        if verb == "patch":
            ptype = self._patch_type(req)
            if ptype == "strategic" and rt.custom:
                raise errors.strategic_merge_on_custom_resource()
            body = _json_body(req)
            entry = world.patch(
                rt, ns, name, ptype, body, subresource=sub or None, dry_run=self._dry_run(req)
            )
            return Reply(200, entry.raw)
        if verb == "delete":
            return self._delete(req, rt, ns, name)
        raise errors.method_not_allowed()

    @staticmethod
    def _patch_type(req: Request) -> str:
        ctype = req.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        ptype = PATCH_TYPES.get(ctype)
        if ptype is None:
            raise errors.unsupported_media_type(ctype)
        return ptype

    # ------------------------------------------------------------ list

    def _selectors(self, req: Request, rt: ResourceType) -> tuple[LabelSelector, FieldSelector]:
        try:
            labels = parse_label_selector(req.param("labelSelector"))
            fields = parse_field_selector(req.param("fieldSelector"), rt.field_getters())
        except SelectorError as exc:
            raise errors.bad_request(str(exc)) from None
        return labels, fields

    def _list(self, req: Request, rt: ResourceType, namespace: str | None) -> Reply:
        labels, fields = self._selectors(req, rt)
        limit_raw = req.param("limit")
        try:
            limit = int(limit_raw) if limit_raw else 0
        except ValueError:
            raise errors.bad_request(f"invalid limit: {limit_raw}") from None
        token = req.param("continue")
        store = self.world.store
        with store.lock:
            rv = store.rv
            compacted = store.compacted
            entries = store.entries(rt, namespace)
        start = ""
        if token:
            token_rv, start = self._decode_continue(token)
            if token_rv < compacted:
                raise errors.gone(_CONTINUE_TOO_OLD)
            rv = token_rv
        filtered = not labels.empty or not fields.empty

        def key(e: Entry) -> str:
            return f"{e.namespace}/{e.name}" if rt.namespaced else e.name

        items: list[Entry] = []
        next_key: str | None = None
        remaining = 0
        for e in entries:
            if start and key(e) <= start:
                continue
            if limit and len(items) >= limit:
                remaining += 1
                continue
            if filtered and not (labels.matches(e.obj["metadata"].get("labels")) and fields.matches(e.obj)):
                continue
            items.append(e)
            next_key = key(e)
        meta: Obj = {"resourceVersion": str(rv)}
        if limit and remaining and next_key is not None:
            meta["continue"] = self._encode_continue(rv, next_key)
            if not filtered:
                meta["remainingItemCount"] = remaining
        plen = len(rt.wire_prefix)
        head = (
            b'{"kind":"'
            + rt.list_kind.encode()
            + b'","apiVersion":"'
            + rt.api_version.encode()
            + b'","metadata":'
            + dumps(meta)
            + b',"items":['
        )
        body = head + b",".join([b"{" + e.raw[plen:] for e in items]) + b"]}"
        return Reply(200, body)

    @staticmethod
    def _encode_continue(rv: int, last_key: str) -> str:
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": last_key + "\x00"}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode_continue(token: str) -> tuple[int, str]:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            return int(data["rv"]), str(data["start"]).rstrip("\x00")
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise errors.bad_request(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
            ) from None

    # ------------------------------------------------------------ watch

    def _watch(self, req: Request, rt: ResourceType, namespace: str | None) -> WatchPlan:
        labels, fields = self._selectors(req, rt)
        rv_raw = req.param("resourceVersion")
        since: int | None = None
        if rv_raw not in (None, "", "0"):
            try:
                since = int(str(rv_raw))
            except ValueError:
                raise errors.bad_request(
                    f'invalid resource version: strconv.ParseUint: parsing "{rv_raw}": invalid syntax'
                ) from None
        initial_end = req.flag("sendInitialEvents")
        if initial_end:
            since = None
        timeout: float | None = None
        if req.param("timeoutSeconds"):
            try:
                timeout = float(str(req.param("timeoutSeconds")))
            except ValueError:
                raise errors.bad_request("invalid timeoutSeconds") from None
        try:
            watcher = self.world.store.open_watch(
                rt,
                namespace,
                labels,
                fields,
                since=since,
                bookmarks=req.flag("allowWatchBookmarks"),
                initial_events_end=initial_end,
            )
        except Gone as gone:
            err = errors.gone(str(gone))
            if self.gone_as_http_status:
                raise err from None
            watcher = Watcher(rt, namespace, labels, fields, bookmarks=False, start_rv=0)
            watcher.queue.put(event_line("ERROR", dumps(err.status())))
            watcher.queue.put(CLOSE)
            return WatchPlan(watcher, False, timeout)
        return WatchPlan(watcher, True, timeout)

    # ------------------------------------------------------------ delete

    def _delete_options(self, req: Request) -> Obj:
        opts: Obj = {}
        if req.body.strip():
            try:
                body = json.loads(req.body)
            except ValueError:
                raise errors.bad_request("invalid DeleteOptions body") from None
            if isinstance(body, dict):
                opts = body
        if req.param("propagationPolicy"):
            opts["propagationPolicy"] = req.param("propagationPolicy")
        if req.param("gracePeriodSeconds"):
            opts["gracePeriodSeconds"] = int(str(req.param("gracePeriodSeconds")))
        return opts

    def _delete(self, req: Request, rt: ResourceType, ns: str, name: str) -> Reply:
        opts = self._delete_options(req)
        dry = self._dry_run(req, opts)
        grace = opts.get("gracePeriodSeconds")
        entry = self.world.delete(
            rt,
            ns,
            name,
            dry_run=dry,
            propagation=opts.get("propagationPolicy"),
            grace_seconds=int(grace) if grace is not None else None,
            preconditions=opts.get("preconditions") if isinstance(opts.get("preconditions"), dict) else None,
        )
        if rt.returns_deleted_object or entry.obj["metadata"].get("finalizers"):
            return Reply(200, entry.raw)
        details: Obj = {"name": name}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.plural
        details["uid"] = entry.obj["metadata"].get("uid", "")
        return self._json(
            200,
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details},
        )

    def _delete_collection(self, req: Request, rt: ResourceType, namespace: str | None) -> Reply:
        labels, fields = self._selectors(req, rt)
        opts = self._delete_options(req)
        dry = self._dry_run(req, opts)
        deleted: list[Entry] = []
        with self.world.lock:
            for e in self.world.store.entries(rt, namespace):
                if labels.matches(e.obj["metadata"].get("labels")) and fields.matches(e.obj):
                    deleted.append(
                        self.world.delete(
                            rt, e.namespace, e.name, dry_run=dry, propagation=opts.get("propagationPolicy")
                        )
                    )
            rv = self.world.store.rv
        plen = len(rt.wire_prefix)
        body = (
            b'{"kind":"'
            + rt.list_kind.encode()
            + b'","apiVersion":"'
            + rt.api_version.encode()
            + b'","metadata":'
            + dumps({"resourceVersion": str(rv)})
            + b',"items":['
            + b",".join([b"{" + e.raw[plen:] for e in deleted])
            + b"]}"
        )
        return Reply(200, body)

    # ------------------------------------------------------------ subresources

    def _scale(self, req: Request, rt: ResourceType, ns: str, name: str, verb: str) -> Reply:
        world = self.world
        if verb == "get":
            with world.lock:
                entry = world.require(rt, ns, name)
                return self._json(200, world.scale_of(rt, entry))
        if verb == "update":
            body = _json_body(req)
            if not isinstance(body, dict):
                raise errors.bad_request("the body of the request must be a JSON object")
            return self._json(200, world.update_scale(rt, ns, name, body, dry_run=self._dry_run(req)))
        if verb == "patch":
            ptype = self._patch_type(req)
            return self._json(
                200, world.patch_scale(rt, ns, name, ptype, _json_body(req), dry_run=self._dry_run(req))
            )
        raise errors.method_not_allowed()

    def _logs(self, req: Request, ns: str, name: str) -> Reply:
        world = self.world
        with world.lock:
            pod = world.require(PODS, ns, name).obj
            node_name = str((pod.get("spec") or {}).get("nodeName") or "")
            node_entry = world.store.get(NODES, "", node_name) if node_name else None
            deleted = node_name in world.deleted_nodes
        data = render_logs(pod, req.query, world.logs, node_entry.obj if node_entry else None, deleted)
        return Reply(200, data, "text/plain")

    def _evict(self, req: Request, ns: str, name: str) -> Reply:
        body = _json_body(req) if req.body.strip() else {}
        opts = body.get("deleteOptions") if isinstance(body, dict) else None
        dry = self._dry_run(req, opts)
        self.world.delete(PODS, ns, name, dry_run=dry)
        return self._json(
            201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        )

    def _bind(self, req: Request, ns: str, name: str) -> Reply:
        body = _json_body(req)
        target = (body.get("target") or {}) if isinstance(body, dict) else {}
        node = str(target.get("name") or "")
        if not node:
            raise errors.invalid(PODS, name, [("target.name", "Required value")], kind_qualified="Binding")
        with self.world.lock:
            pod = self.world.require(PODS, ns, name)
            current = (pod.obj.get("spec") or {}).get("nodeName")
            if current:
                err = errors.conflict(PODS, name, f'pod {name} is already assigned to node "{current}"')
                err.message = err.message.replace('on pods "', 'on pods/binding "')
                raise err
            if not self._dry_run(req, body):
                self.world.patch(PODS, ns, name, "merge", {"spec": {"nodeName": node}}, from_client=False)
        return self._json(
            201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        )

    def _review(self, req: Request, rt: ResourceType) -> Reply:
        body = _json_body(req)
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        if rt.kind == "SelfSubjectReview":
            return self._json(
                201,
                {
                    "kind": "SelfSubjectReview",
                    "apiVersion": rt.api_version,
                    "metadata": {},
                    "status": {"userInfo": {"username": req.user, "groups": list(req.groups)}},
                },
            )
        spec = body.get("spec") or {}
        attrs = spec.get("resourceAttributes")
        status: Obj
        if isinstance(attrs, dict):
            a = Attributes(
                req.user,
                str(attrs.get("verb", "")),
                str(attrs.get("group", "")),
                str(attrs.get("resource", "")),
                str(attrs.get("subresource", "")),
                str(attrs.get("namespace", "")),
                str(attrs.get("name", "")),
            )
            if self.authz.allowed(a):
                status = {
                    "allowed": True,
                    "reason": f'RBAC: allowed by ClusterRoleBinding "fake-kube-allow" of '
                    f'ClusterRole "cluster-admin" to User "{req.user}"',
                }
            else:
                status = {"allowed": False}
        else:
            status = {"allowed": True}
        return self._json(
            201,
            {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {}, "spec": spec, "status": status},
        )
