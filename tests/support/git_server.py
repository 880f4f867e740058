"""A git server stand-in: a bare repository on disk, served over file:// and over the
smart HTTP protocol (dulwich's WSGI server) from a loopback thread, with basic auth.

    with GitServer(tmp_path, gitops_fixtures.files()) as server:
        server.file_url                      # file:///…/fleet.git
        server.http_url                      # http://127.0.0.1:PORT/fleet.git (needs auth)
        server.add_user("x-access-token", TOKEN)
        server.commit({"README.md": "…"})    # someone else pushes
        server.on_receive = lambda: server.commit({...})   # lands mid-push (a race)
        server.reject_pushes = "protected branch hook declined"
        server.read("apps/prod/worker.yaml"); server.log()

The receive handler refuses a ref update whose old value is not the current one (what
real git reports as a non-fast-forward; dulwich's own handler ignores it).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo
from dulwich.server import DictBackend, ReceivePackHandler
from dulwich.web import make_wsgi_chain

BRANCH = b"refs/heads/main"
AUTHOR = b"Fleet Maintainer <maintainer@example.com>"


@dataclass
class GitRequest:
    method: str
    path: str
    user: str | None
    status: int


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""


def _tree(repo: Repo, files: dict[str, str], base: ObjectID | None) -> ObjectID:
    """A tree with `files` written over `base` (nested directories created)."""
    entries: dict[str, Any] = {}
    if base is not None:
        _load(repo, base, "", entries)
    for path, text in files.items():
        entries[path] = text
    return _write(repo, entries)


def _load(repo: Repo, tree_id: ObjectID, prefix: str, out: dict[str, Any]) -> None:
    tree = repo.object_store[tree_id]
    assert isinstance(tree, Tree)
    for item in tree.iteritems():
        name = prefix + item.path.decode()
        if item.mode & 0o040000:
            _load(repo, item.sha, name + "/", out)
        else:
            blob = repo.object_store[item.sha]
            assert isinstance(blob, Blob)
            out[name] = blob.data.decode()


def _write(repo: Repo, files: dict[str, Any]) -> ObjectID:
    children: dict[str, dict[str, Any]] = {}
    tree = Tree()
    for path, text in files.items():
        head, _, rest = path.partition("/")
        if rest:
            children.setdefault(head, {})[rest] = text
        else:
            blob = Blob.from_string(text.encode())
            repo.object_store.add_object(blob)
            tree.add(head.encode(), 0o100644, blob.id)
    for name, sub in children.items():
        tree.add(name.encode(), 0o040000, _write(repo, sub))
    repo.object_store.add_object(tree)
    return tree.id


class GitServer:
    """See the module docstring. Thread-safe; `stop()` closes the listener."""

    def __init__(self, root: Path, files: dict[str, str], *, name: str = "fleet.git") -> None:
        self.path = Path(root) / name
        self.path.mkdir(parents=True, exist_ok=True)
        self.repo = Repo.init_bare(str(self.path))
        self.name = name
        self.lock = threading.RLock()
        self.users: dict[str, str] = {}
        self.requests: list[GitRequest] = []
        self.on_receive: Callable[[], object] | None = None
        self.reject_pushes: str | None = None
        self.anonymous_reads = False
        self._commit_listeners: list[Callable[[str], None]] = []
        self._notified = ""
        self._httpd: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.commit(files, "Initial fleet layout")

    # -- repository --------------------------------------------------------------------

    def head(self) -> str:
        with self.lock:
            return self.repo.refs[Ref(BRANCH)].decode()

    def commit(self, files: dict[str, str], message: str = "Maintenance") -> str:
        """A commit by someone else lands on main (what another engineer's push does)."""
        with self.lock:
            parent = self.repo.refs[Ref(BRANCH)] if Ref(BRANCH) in self.repo.refs else None  # noqa: SIM401
            base = None
            if parent is not None:
                parent_commit = self.repo.object_store[parent]
                assert isinstance(parent_commit, Commit)
                base = parent_commit.tree
            commit = Commit()
            commit.tree = _tree(self.repo, files, base)
            commit.parents = [parent] if parent is not None else []
            commit.author = commit.committer = AUTHOR
            commit.author_time = commit.commit_time = int(time.time())
            commit.author_timezone = commit.commit_timezone = 0
            commit.message = message.encode() + b"\n"
            self.repo.object_store.add_object(commit)
            self.repo.refs[Ref(BRANCH)] = commit.id
            sha = commit.id.decode()
        self._notify(sha)
        return sha

    def read(self, path: str, commit: str | None = None) -> str:
        with self.lock:
            sha = ObjectID(commit.encode()) if commit else self.repo.refs[Ref(BRANCH)]
            tree = self.repo.object_store[sha]
            assert isinstance(tree, Commit)
            _, blob_id = tree_lookup_path(self.repo.object_store.__getitem__, tree.tree, path.encode())
            blob = self.repo.object_store[blob_id]
            assert isinstance(blob, Blob)
            return blob.data.decode()

    def log(self) -> list[tuple[str, str]]:
        """(sha, message) newest first."""
        with self.lock:
            walker = self.repo.get_walker(include=[self.repo.refs[Ref(BRANCH)]])
            return [(e.commit.id.decode(), e.commit.message.decode()) for e in walker]

    def parents(self, sha: str) -> list[str]:
        commit = self.repo.object_store[ObjectID(sha.encode())]
        assert isinstance(commit, Commit)
        return [p.decode() for p in commit.parents]

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call `listener(sha)` after every new head (pushes and `commit`)."""
        self._commit_listeners.append(listener)

    def _notify(self, sha: str) -> None:
        self._notified = sha
        for listener in list(self._commit_listeners):
            listener(sha)

    def _notify_if_moved(self) -> None:
        head = self.head()
        if head != self._notified:
            self._notify(head)

    # -- users -------------------------------------------------------------------------

    def add_user(self, username: str, password: str | None = None) -> str:
        """Accept basic auth `username:password` (a fresh token when None); returns it."""
        secret = password or "tok-" + secrets.token_hex(12)
        self.users[username] = secret
        return secret

    # -- HTTP --------------------------------------------------------------------------

    @property
    def file_url(self) -> str:
        return self.path.as_uri()

    @property
    def http_url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_port}/{self.name}"

    def pushes(self) -> list[GitRequest]:
        """POSTs to git-receive-pack that were let through."""
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("git-receive-pack")]

    def _handler_class(self) -> type[ReceivePackHandler]:
        server = self

        class Receive(ReceivePackHandler):
            def _on_update(self, ref_name: Ref, old_sha: ObjectID, new_sha: ObjectID) -> bytes | None:
                if server.on_receive is not None:
                    hook, server.on_receive = server.on_receive, None
                    hook()
                if server.reject_pushes:
                    return server.reject_pushes.encode()
                current = self.repo.refs[ref_name] if ref_name in self.repo.refs else None  # noqa: SIM401
                if current is not None and current != old_sha:
                    return b"non-fast-forward"
                return super()._on_update(ref_name, old_sha, new_sha)

            def _report_status(self, status: Any) -> None:
                # Listeners (the test Flux) run before the client hears the push succeeded,
                # so a test sees the push's effects as soon as the push returns.
                server._notify_if_moved()
                super()._report_status(status)

        return Receive

    def _app(self) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
        git = make_wsgi_chain(
            DictBackend(cast(Any, {f"/{self.name}": self.repo})), handlers={b"git-receive-pack": self._handler_class()}
        )

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            user = self._authenticate(environ.get("HTTP_AUTHORIZATION", ""))
            method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
            reading = "git-upload-pack" in path or "git-upload-pack" in environ.get("QUERY_STRING", "")
            if user is None and not (reading and self.anonymous_reads):
                self.requests.append(GitRequest(method, path, None, 401))
                start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="fleet"')])
                return [b"authentication required\n"]
            self.requests.append(GitRequest(method, path, user, 200))
            with self.lock:
                return list(git(environ, start_response))

        return app

    def _authenticate(self, header: str) -> str | None:
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        expected = self.users.get(user)
        return user if expected is not None and secrets.compare_digest(expected, password) else None

    def start(self) -> GitServer:
        self._httpd = make_server(
            "127.0.0.1", 0, self._app(), server_class=_Threading, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="git-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None
        self.repo.close()

    def __enter__(self) -> GitServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
