"""FakeKubeServer: a real HTTP kube-apiserver stand-in on 127.0.0.1 plus a test control API.

The server runs a ``ThreadingHTTPServer`` in its own thread, one thread per
connection: a long-lived watch or a slow client only ever blocks its own thread,
and watch events reach a stream as soon as the writer commits them (each stream
drains its own queue). Every control method is synchronous and thread-safe, so
tests on any thread or event loop can build the world, inject faults and observe
requests while the code under test talks to the server through the real client.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import queue
import re
import secrets
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import yaml

from . import builders, errors
from .api import Api, Reply, Request, WatchPlan, error_reply
from .logs import LogInput
from .rbac import Attributes, Authorizer, forbidden_error
from .resources import Obj, ResourceType, resolve
from .store import CLOSE, DROP, Signal, Watcher
from .world import World

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

DEFAULT_USER = "system:serviceaccount:opsbot:opsbot"
DEFAULT_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:opsbot", "system:authenticated")
_PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")


@dataclass
class RecordedRequest:
    """One request as the server saw it (``status`` is 0 until answered)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    user: str = ""
    groups: tuple[str, ...] = ()
    status: int = 0
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        """The body decoded as JSON (None when empty)."""
        return json.loads(self.body) if self.body.strip() else None

    @property
    def content_type(self) -> str:
        """The request's Content-Type header."""
        return self.headers.get("content-type", "")


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    reason: str
    message: str
    remaining: int
    retry_after: int | None


@dataclass
class _Delay:
    pattern: re.Pattern[str]
    seconds: float


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr: tuple[str, int], fake: FakeKubeServer) -> None:
        self.fake = fake
        super().__init__(addr, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib access log (tests inspect ``requests`` instead)."""

    def _any(self) -> None:
        try:
            self.server.fake._serve(self)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any


def _peer_closed(sock: socket.socket) -> bool:
    """True when the client hung up (readable with EOF) on an otherwise idle stream."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class FakeKubeServer:
    """A fake kube-apiserver (v1.36 behaviour) for tests; see the package docstring."""

    def __init__(
        self,
        *,
        controllers: bool = True,
        bookmark_interval: float = 1.0,
        gone_as_http_status: bool = False,
        history_limit: int = 100_000,
    ) -> None:
        self.bookmark_interval = bookmark_interval
        self.gone_as_http_status = gone_as_http_status
        self.world = World(controllers=controllers, history_limit=history_limit)
        self.authz = Authorizer()
        self.token = "fake-" + secrets.token_hex(16)
        self._tokens: dict[str, tuple[str, tuple[str, ...]]] = {self.token: (DEFAULT_USER, DEFAULT_GROUPS)}
        self._ctl = threading.RLock()  # guards faults, recordings, tokens, lifecycle
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._conns: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._paused = False
        self.port = 0
        self._api: Api | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeKubeServer:
        """Bind an ephemeral port on 127.0.0.1 and serve in a background thread."""
        with self._ctl:
            if self._httpd is not None:
                return self
            self._stopping.clear()
            self._listen(0)
            self._api = Api(
                self.world,
                self.authz,
                gone_as_http_status=self.gone_as_http_status,
                host=f"127.0.0.1:{self.port}",
            )
            return self

    def _listen(self, port: int) -> None:
        httpd = _HTTPServer(("127.0.0.1", port), self)
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-kube:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def _close_listener(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = None
        self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self.world.store.signal_all(DROP)
        for sock in list(self._conns):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Close the listener and every connection (watches end abruptly)."""
        with self._ctl:
            self._stopping.set()
            self._paused = False
            self._close_listener()

    def pause(self) -> None:
        """Simulate the API server going down: listener closed, connections reset.

        New connections are refused until :meth:`resume`, which listens on the
        same port again; stored objects and history survive (like etcd).
        """
        with self._ctl:
            if self._paused or self._httpd is None:
                return
            self._paused = True
            self._close_listener()

    def resume(self) -> None:
        """Listen again on the same port after :meth:`pause`."""
        with self._ctl:
            if not self._paused:
                return
            deadline = time.monotonic() + 5
            while True:
                try:
                    self._listen(self.port)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            self._paused = False

    def __enter__(self) -> FakeKubeServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def resource_version(self) -> str:
        """The current global resourceVersion."""
        with self.world.lock:
            return str(self.world.store.rv)

    # ------------------------------------------------------------ client configuration

    def kubeconfig_dict(self, *, context: str = "fake", token: str | None = None) -> Obj:
        """A kubeconfig (as a dict) pointing at this server with a bearer token."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": token or self.token}}],
            "contexts": [
                {"name": context, "context": {"cluster": context, "user": context, "namespace": "default"}}
            ],
            "current-context": context,
        }

    def write_kubeconfig(self, path: str | Path, *, context: str = "fake", token: str | None = None) -> Path:
        """Write a kubeconfig file for this server and return its path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.kubeconfig_dict(context=context, token=token), sort_keys=False))
        return target

    def api_client(self, *, token: str | None = None) -> ApiClient:
        """A ``kubernetes.client.ApiClient`` configured like the kubeconfig (proxies off)."""
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config_from_dict(self.kubeconfig_dict(token=token), client_configuration=cfg)
        cfg.proxy = None
        return client.ApiClient(cfg)

    def add_user(self, token: str, username: str, groups: Sequence[str] = ()) -> None:
        """Accept another bearer token, authenticating as ``username``."""
        with self._ctl:
            self._tokens[token] = (username, (*groups, "system:authenticated"))

    # ------------------------------------------------------------ world building

    @staticmethod
    def _rt(kind: str | ResourceType) -> ResourceType:
        return kind if isinstance(kind, ResourceType) else resolve(kind)

    @staticmethod
    def _ns(rt: ResourceType, namespace: str | None) -> str:
        return (namespace or "default") if rt.namespaced else ""

    def _latest(self, rt: ResourceType, ns: str, name: str) -> Obj:
        with self.world.lock:
            entry = self.world.store.get(rt, ns, name)
            if entry is None:
                raise errors.not_found(rt, name)
            return entry.copy()

    def create(self, obj: Mapping[str, Any]) -> Obj:
        """Store any supported object (controllers react); returns the settled object."""
        rt = resolve(str(obj.get("kind", "")), obj.get("apiVersion"))
        ns = self._ns(rt, (obj.get("metadata") or {}).get("namespace"))
        entry = self.world.create(rt, ns, dict(obj), from_client=False)
        return self._latest(rt, ns, entry.name)

    def create_many(self, objs: Iterable[Mapping[str, Any]]) -> int:
        """Bulk :meth:`create` for benchmarks (no copies returned); returns the count."""
        count = 0
        for obj in objs:
            rt = resolve(str(obj.get("kind", "")), obj.get("apiVersion"))
            ns = self._ns(rt, (obj.get("metadata") or {}).get("namespace"))
            self.world.create(rt, ns, dict(obj), from_client=False)
            count += 1
        return count

    def apply_status(
        self, kind: str, namespace: str | None, name: str, status_patch: Mapping[str, Any]
    ) -> Obj:
        """Merge-patch ``status`` (as the kubelet/controllers would); emits MODIFIED."""
        rt = self._rt(kind)
        patch = dict(status_patch)
        if set(patch) == {"status"} and isinstance(patch["status"], dict):
            patch = patch["status"]
        ns = self._ns(rt, namespace)
        self.world.patch(rt, ns, name, "merge", {"status": patch}, from_client=False)
        return self._latest(rt, ns, name)

    def patch(self, kind: str, namespace: str | None, name: str, merge_patch: Mapping[str, Any]) -> Obj:
        """JSON-merge-patch any part of an object (spec changes trigger controllers)."""
        rt = self._rt(kind)
        ns = self._ns(rt, namespace)
        self.world.patch(rt, ns, name, "merge", dict(merge_patch), from_client=False)
        return self._latest(rt, ns, name)

    def delete(self, kind: str, namespace: str | None, name: str) -> None:
        """Delete an object like a client would (graceful pods, GC, replacements)."""
        rt = self._rt(kind)
        self.world.delete(rt, self._ns(rt, namespace), name)

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """A copy of the stored object, or None."""
        rt = self._rt(kind)
        with self.world.lock:
            entry = self.world.store.get(rt, self._ns(rt, namespace), name)
            return entry.copy() if entry is not None else None

    def list(self, kind: str, namespace: str | None = None) -> list[Obj]:
        """Copies of stored objects in key order (all namespaces when None)."""
        rt = self._rt(kind)
        with self.world.lock:
            entries = self.world.store.entries(rt, namespace if rt.namespaced else None)
        return [e.copy() for e in entries]

    def add_namespace(self, name: str, *, labels: Mapping[str, str] | None = None) -> Obj:
        """Create a namespace."""
        return self.create(builders.namespace(name, labels=labels))

    def add_node(
        self,
        name: str,
        *,
        ready: bool = True,
        roles: Sequence[str] = ("worker",),
        version: str = "v1.36.0",
        **kwargs: Any,
    ) -> Obj:
        """Register a node (see :func:`builders.node` for more options)."""
        return self.create(builders.node(name, ready, roles=roles, version=version, **kwargs))

    def add_deployment(
        self,
        namespace: str,
        name: str,
        *,
        replicas: int = 1,
        image: str = "nginx:1.27",
        labels: Mapping[str, str] | None = None,
        containers: Sequence[str | Mapping[str, Any]] | None = None,
    ) -> Obj:
        """Create a Deployment; the controllers add its ReplicaSet and Running pods."""
        return self.create(
            builders.deployment(
                name, namespace, replicas=replicas, image=image, labels=labels, containers=containers
            )
        )

    def set_node_ready(self, name: str, ready: bool = True, *, reason: str = "KubeletNotReady") -> Obj:
        """Flip a node's Ready condition and its not-ready/unreachable taints together."""
        if ready:
            self.patch("nodes", None, name, {"spec": {"taints": None}})
            return self.apply_status("nodes", None, name, builders.node_ready_status())
        self.patch("nodes", None, name, builders.node_not_ready_taints(reason))
        return self.apply_status("nodes", None, name, builders.node_not_ready_status(reason))

    def set_log(
        self,
        namespace: str,
        pod: str,
        text_or_lines: LogInput,
        *,
        container: str | None = None,
        previous: bool = False,
        append: bool = False,
        at: datetime | None = None,
    ) -> None:
        """Set a container's log; lines may be ``(datetime, text)`` to control timestamps.

        ``container=None`` means the pod's first container (``"app"`` if the pod
        does not exist yet); ``previous=True`` sets the last terminated run's log.
        """
        if container is None:
            existing = self.get("pods", namespace, pod)
            containers = ((existing or {}).get("spec") or {}).get("containers") or [{"name": "app"}]
            container = str(containers[0]["name"])
        self.world.logs.set(namespace, pod, container, text_or_lines, previous=previous, append=append, at=at)

    # ------------------------------------------------------------ RBAC

    def deny(
        self,
        verb: str | Sequence[str],
        resource: str,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        group: str | None = None,
        user: str | None = None,
        name: str | None = None,
    ) -> None:
        """Refuse matching requests with 403 (and in SelfSubjectAccessReviews).

        ``resource`` is a plural (``"deployments"`` or ``"deployments/scale"``);
        ``group`` defaults to the resource's group; ``subresource=None`` matches
        only the main resource, ``"*"`` any; ``user`` targets one effective user.
        """
        verbs = verb if isinstance(verb, str) else tuple(verb)
        self.authz.deny(
            verbs, resource, namespace=namespace, subresource=subresource, group=group, user=user, name=name
        )

    def allow_all(self) -> None:
        """Drop every deny rule."""
        self.authz.allow_all()

    # ------------------------------------------------------------ faults & observation

    @property
    def requests(self) -> builtins.list[RecordedRequest]:
        """Snapshot of every request received so far."""
        with self._ctl:
            return builtins.list(self._requests)

    def writes(self) -> builtins.list[RecordedRequest]:
        """Non-GET requests that change something: no access reviews, no dry runs."""
        return [
            r
            for r in self.requests
            if r.method != "GET"
            and "selfsubjectaccessreviews" not in r.path
            and "selfsubjectreviews" not in r.path
            and r.query.get("dryRun") != ["All"]
        ]

    def clear_requests(self) -> None:
        """Forget recorded requests."""
        with self._ctl:
            self._requests.clear()

    def fail_next(
        self,
        method: str,
        path_regex: str,
        *,
        status: int = 500,
        times: int = 1,
        reason: str = "InternalError",
        message: str | None = None,
        retry_after: int | None = 1,
    ) -> None:
        """Answer the next ``times`` matching requests (``method`` or ``"*"``) with an error Status.

        429 answers carry ``Retry-After: retry_after`` like API Priority and Fairness
        (None omits it). Note the official client's urllib3 pool honours that header
        and retries 429/503 by itself (3 times), so a single 429 never reaches the caller.
        """
        text = message or (
            "Internal error occurred: injected failure"
            if status == 500
            else f"injected failure ({status} {reason})"
        )
        with self._ctl:
            self._faults.append(
                _Fault(method.upper(), re.compile(path_regex), status, reason, text, times, retry_after)
            )

    def delay(self, path_regex: str, seconds: float) -> None:
        """Hold matching requests for ``seconds`` before answering (0 removes the rule)."""
        with self._ctl:
            self._delays = [d for d in self._delays if d.pattern.pattern != path_regex]
            if seconds > 0:
                self._delays.append(_Delay(re.compile(path_regex), seconds))

    def clear_faults(self) -> None:
        """Remove pending failures and delays."""
        with self._ctl:
            self._faults.clear()
            self._delays.clear()

    def compact(self) -> None:
        """Forget watch history: resuming from any older resourceVersion gets 410 Expired."""
        self.world.store.compact()

    def drop_watches(self, *, clean: bool = False) -> None:
        """End every open watch: abruptly (connection cut) or, with ``clean``, like a timeout."""
        self.world.store.signal_all(CLOSE if clean else DROP)

    def send_bookmarks(self) -> None:
        """Send a BOOKMARK now to every watch that allowed bookmarks."""
        for w in self.world.store.all_watchers():
            if w.bookmarks:
                self.world.store.send_bookmark(w)

    @property
    def open_watches(self) -> int:
        """Number of watch streams currently registered."""
        return self.world.store.open_watches

    def wait_for_watches(self, count: int, timeout: float = 5.0) -> None:
        """Block until exactly ``count`` watches are open (raises TimeoutError)."""
        store = self.world.store
        with store.watch_cond:
            if not store.watch_cond.wait_for(lambda: store.open_watches == count, timeout):
                raise TimeoutError(f"expected {count} open watches, have {store.open_watches}")

    def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.01) -> None:
        """Poll ``predicate()`` until truthy (helper for tests driving async code)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met in time")
            time.sleep(interval)

    # ------------------------------------------------------------ HTTP plumbing

    def _track(self, sock: socket.socket, opened: bool) -> None:
        with self._ctl:
            if opened:
                self._conns.add(sock)
            else:
                self._conns.discard(sock)

    @staticmethod
    def _read_body(h: _Handler) -> bytes:
        length = h.headers.get("Content-Length")
        if length:
            return h.rfile.read(int(length))
        if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            while True:
                size = int(h.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(h.rfile.read(size))
                h.rfile.readline()
            return b"".join(parts)
        return b""

    def _authenticate(self, req: Request) -> None:
        auth = req.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        with self._ctl:
            ident = self._tokens.get(token)
        if ident is None:
            if req.path in _PUBLIC_PATHS:
                req.user, req.groups = "system:anonymous", ("system:unauthenticated",)
                return
            raise errors.unauthorized()
        user, groups = ident
        imp_user = req.header_lists.get("impersonate-user", [])
        imp_groups = req.header_lists.get("impersonate-group", [])
        if imp_groups and not imp_user:
            raise errors.bad_request(f"requested {imp_groups} without impersonating a user")
        if imp_user:
            target = imp_user[0]
            checks = [("users", target)] + [("groups", g) for g in imp_groups]
            for resource, name in checks:
                a = Attributes(user, "impersonate", "", resource, "", "", name)
                if not self.authz.allowed(a):
                    raise forbidden_error(a)
            user = target
            groups = (*imp_groups, "system:authenticated")
        req.user, req.groups = user, tuple(groups)

    def _take_fault(self, req: Request) -> errors.FakeKubeError | None:
        with self._ctl:
            for fault in self._faults:
                if fault.method in ("*", req.method) and fault.pattern.search(req.path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    headers = (
                        {"Retry-After": str(fault.retry_after)}
                        if fault.status == 429 and fault.retry_after is not None
                        else {}
                    )
                    return errors.FakeKubeError(fault.status, fault.reason, fault.message, {}, headers)
        return None

    def _serve(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        header_lists: dict[str, list[str]] = {}
        for key, value in h.headers.items():
            header_lists.setdefault(key.lower(), []).append(value)
        req = Request(
            method=h.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k: ", ".join(v) for k, v in header_lists.items()},
            header_lists=header_lists,
            body=self._read_body(h),
        )
        rec = RecordedRequest(req.method, req.path, req.query, req.headers, req.body)
        with self._ctl:
            self._requests.append(rec)
            delay = sum(d.seconds for d in self._delays if d.pattern.search(req.path))
        if delay:
            self._stopping.wait(delay)
        result: Reply | WatchPlan
        try:
            self._authenticate(req)
            rec.user, rec.groups = req.user, req.groups
            fault = self._take_fault(req)
            if fault is not None:
                raise fault
            assert self._api is not None
            result = self._api.dispatch(req)
        except errors.FakeKubeError as err:
            result = error_reply(err)
        except Exception as exc:  # a bug in the fake must still answer like a server
            result = error_reply(
                errors.generic(500, f"Internal error occurred: fake-kube: {type(exc).__name__}: {exc}")
            )
        if isinstance(result, WatchPlan):
            rec.status = 200
            self._stream_watch(h, result)
            return
        rec.status = result.status
        self._write(h, result)

    @staticmethod
    def _head(status: int, headers: Iterable[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        lines.append(f"Audit-Id: {uuid.uuid4()}")
        lines.append("Cache-Control: no-cache, private")
        lines.append(f"Date: {formatdate(usegmt=True)}")
        lines.extend(f"{k}: {v}" for k, v in headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _write(self, h: _Handler, reply: Reply) -> None:
        headers = [
            ("Content-Type", reply.content_type),
            ("Content-Length", str(len(reply.body))),
            *reply.headers.items(),
        ]
        payload = self._head(reply.status, headers)
        if h.command != "HEAD":
            payload += reply.body
        h.wfile.write(payload)

    def _stream_watch(self, h: _Handler, plan: WatchPlan) -> None:
        """Chunked newline-delimited JSON, one flush per batch of queued events."""
        w: Watcher = plan.watcher
        store = self.world.store
        sock = h.connection
        clean = True
        try:
            h.wfile.write(
                self._head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
            )
            now = time.monotonic()
            deadline = now + plan.timeout if plan.timeout else None
            interval = self.bookmark_interval
            next_bm = now + interval if w.bookmarks and interval > 0 else None
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if next_bm is not None and now >= next_bm:
                    store.send_bookmark(w)
                    next_bm = now + interval
                wait = 0.25
                if deadline is not None:
                    wait = min(wait, deadline - now)
                if next_bm is not None:
                    wait = min(wait, next_bm - now)
                try:
                    item = w.queue.get(timeout=max(wait, 0.001))
                except queue.Empty:
                    if _peer_closed(sock):
                        clean = False
                        break
                    continue
                chunks: list[bytes] = []
                signal: Signal | None = None
                while True:
                    if isinstance(item, Signal):
                        signal = item
                        break
                    chunks.append(item)
                    try:
                        item = w.queue.get_nowait()
                    except queue.Empty:
                        break
                if chunks:
                    # One HTTP chunk per event (as the apiserver flushes them), one syscall per batch.
                    h.wfile.write(b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks))
                if signal is DROP:
                    clean = False
                    break
                if signal is CLOSE:
                    break
            if clean:
                h.wfile.write(b"0\r\n\r\n")
        except OSError:
            clean = False
        finally:
            if plan.registered:
                store.close_watch(w)
            if not clean:
                h.close_connection = True
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


__all__ = ["DEFAULT_USER", "FakeKubeServer", "RecordedRequest"]
