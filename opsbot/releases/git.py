"""The GitOps repository: one local clone per repository, edit → commit → push.

dulwich (pure Python) speaks file://, smart HTTP(S) with basic/token auth and SSH (over
paramiko, `gitssh`), so no `git` program is ever started; GitPython is not an option in
a daemon (its own docs say it leaks). The clone is bare: a change is one new blob, the
trees above it and a commit, made from objects, so there is no working tree to get out
of step and nothing to clean after a failure but one ref.

Every call is blocking (run it in the thread pool) and serialised per repository by a
lock. `deliver()` is the whole promotion: fetch, edit on the remote head, commit, push;
when someone pushed meanwhile (non-fast-forward) it fetches again and re-applies the edit
on the new head, a bounded number of times. On any failure the local branch goes back
to the remote head: no half-done commit stays behind.
"""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import structlog
from dulwich.client import GitClient, HTTPUnauthorized, SSHGitClient, default_urllib3_manager
from dulwich.client import get_transport_and_path as _transport_and_path
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from opsbot.releases.changes import HistoryEntry, ReleaseChange, commit_message, history_entry
from opsbot.releases.credentials import GitCredentials
from opsbot.releases.errors import (
    ChangedSinceError,
    FieldNotFoundError,
    GitAuthError,
    GitError,
    GitUnavailableError,
    PushRejectedError,
    ReleaseError,
)
from opsbot.releases.gitssh import ParamikoSSHVendor
from opsbot.releases.layouts import EditResult, edit_version
from opsbot.releases.rules import VersionRule
from opsbot.releases.settings import RepositorySettings

log = structlog.get_logger(__name__)
_HISTORY_SCAN = 5000


@dataclass(frozen=True)
class Delivered:
    """What a delivery did. `commit` None and `already` True: the branch already had the
    version (someone else promoted it, or a re-applied edit found it done)."""

    repository: str
    branch: str
    commit: str | None
    path: str
    field: str
    line: int
    old_version: str
    new_version: str
    already: bool
    attempts: int


class _RemoteMoved(Exception):
    """The remote branch is not where our commit's parent is (non-fast-forward)."""


class GitRepository:
    """One GitOps repository and its local clone under `workdir` (created when missing)."""

    def __init__(
        self,
        name: str,
        settings: RepositorySettings,
        credentials: GitCredentials,
        workdir: Path,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.settings = settings
        self._credentials = credentials
        self._workdir = Path(workdir)
        self._clock = clock
        self._lock = threading.RLock()
        self._repo: Repo | None = None
        self._branch = Ref(b"refs/heads/" + settings.branch.encode())
        self._remote = Ref(b"refs/remotes/origin/" + settings.branch.encode())
        self._pending: tuple[ReleaseChange, VersionRule | None, ObjectID, EditResult] | None = None

    def __repr__(self) -> str:
        return f"GitRepository({self.name!r}, url={self.settings.url!r}, branch={self.settings.branch!r})"

    # -- transport ---------------------------------------------------------------------

    def _transport(self) -> tuple[GitClient, str]:
        url = self.settings.url
        creds = self._credentials
        password = creds.password.reveal() if creds.password is not None else None
        if url.startswith(("http://", "https://")):
            manager = default_urllib3_manager(None, base_url=url, timeout=self.settings.timeout_seconds)
            client, path = _transport_and_path(
                url, username=creds.username, password=password, pool_manager=cast(Any, manager)
            )
        else:
            client, path = _transport_and_path(url, key_filename=creds.ssh_key_file)
        if isinstance(client, SSHGitClient):
            client.ssh_vendor = ParamikoSSHVendor(
                known_hosts_file=creds.known_hosts_file, timeout=self.settings.timeout_seconds
            )
        return client, path

    @contextmanager
    def _talking(self, doing: str) -> Iterator[None]:
        """Library and network errors → our GitError tree, credentials scrubbed."""
        where = f"repository `{self.name}`"
        try:
            yield
        except ReleaseError as exc:
            raise type(exc)(self._credentials.scrub(str(exc))) if isinstance(exc, GitError) else exc from None
        except HTTPUnauthorized:
            raise GitAuthError(
                f"the git server refused opsbot's credentials while {doing} {where}."
            ) from None
        except NotGitRepository:
            raise GitError(f"{where} is not a git repository at its URL ({doing}).") from None
        except HangupException as exc:
            detail = self._credentials.scrub(
                b" ".join(exc.stderr_lines[-1:]).decode("utf-8", "replace") if exc.stderr_lines else ""
            )
            raise GitUnavailableError(
                f"the git server hung up while {doing} {where}. {detail}".strip()
            ) from None
        except GitProtocolError as exc:
            detail = self._credentials.scrub(str(exc))
            if "401" in detail or "403" in detail or "authentication" in detail.lower():
                raise GitAuthError(
                    f"the git server refused opsbot's credentials while {doing} {where}."
                ) from None
            raise GitError(f"git failed while {doing} {where}: {detail}") from None
        except (OSError, EOFError, ValueError, KeyError) as exc:
            detail = self._credentials.scrub(f"{type(exc).__name__}: {exc}")
            raise GitUnavailableError(f"git failed while {doing} {where} ({detail}).") from None
        except Exception as exc:
            if type(exc).__module__.startswith("urllib3"):
                raise GitUnavailableError(
                    f"cannot reach the git server of {where} ({type(exc).__name__})."
                ) from None
            raise

    # -- clone and fetch ---------------------------------------------------------------

    def remote_head(self) -> str:
        """The branch's sha on the server, fetching nothing (`git ls-remote`, for check-config)."""
        with self._talking("reading the branches of"):
            client, path = self._transport()
            try:
                refs = client.get_refs(path.encode() if isinstance(path, str) else path).refs
            finally:
                client.close()
        sha = refs.get(self._branch)
        if sha is None:
            raise GitError(f"repository `{self.name}` has no branch `{self.settings.branch}`.")
        return sha.decode()

    @property
    def repo(self) -> Repo:
        if self._repo is None:
            raise GitError(f"repository `{self.name}` is not cloned yet (call ensure_clone()).")
        return self._repo

    def ensure_clone(self) -> str:
        """Open or create the local clone and fetch; returns the remote head sha."""
        with self._lock:
            if self._repo is None:
                if (self._workdir / "objects").is_dir():
                    self._repo = Repo(str(self._workdir))
                else:
                    self._workdir.mkdir(parents=True, exist_ok=True)
                    self._repo = Repo.init_bare(str(self._workdir))
            return self.fetch_and_reset()

    def fetch_and_reset(self) -> str:
        """Fetch the branch and point the local branch at the remote head (dropping any
        local commit); returns the head sha."""
        with self._lock, self._talking("fetching"):
            repo = self.repo
            client, path = self._transport()
            found: dict[str, ObjectID] = {}

            def wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
                sha = refs.get(self._branch)
                if sha is None:
                    raise GitError(f"repository `{self.name}` has no branch `{self.settings.branch}`.")
                found["head"] = sha
                return [] if sha in repo.object_store else [sha]

            try:
                client.fetch(path, repo, determine_wants=wants)
            finally:
                client.close()
            head = found["head"]
            repo.refs[self._remote] = head
            repo.refs[self._branch] = head
            self._pending = None
            return head.decode()

    def head(self) -> str:
        """The remote head as last fetched."""
        with self._lock:
            return self.repo.refs[self._remote].decode()

    def local_head(self) -> str:
        """Where the local branch points: the remote head, except between apply() and push()."""
        with self._lock:
            return self.repo.refs[self._branch].decode()

    def read_file(self, path: str, *, commit: str | None = None) -> str | None:
        """A file's text at the remote head (or `commit`); None when it does not exist."""
        with self._lock:
            sha = ObjectID(commit.encode()) if commit else self.repo.refs[self._remote]
            return self._read(sha, path)

    def _read(self, commit_sha: ObjectID, path: str) -> str | None:
        store = self.repo.object_store
        commit = cast(Commit, store[commit_sha])
        try:
            _, blob_sha = tree_lookup_path(store.__getitem__, commit.tree, path.encode())
        except KeyError:
            return None
        blob = store[blob_sha]
        return blob.data.decode("utf-8") if isinstance(blob, Blob) else None

    # -- edit and commit ---------------------------------------------------------------

    def _replace(self, tree_sha: ObjectID, parts: list[bytes], blob: Blob) -> ObjectID:
        """A copy of the tree with the blob at `parts` replaced (mode kept)."""
        store = self.repo.object_store
        old = cast(Tree, store[tree_sha])
        tree = Tree()
        for item in old.iteritems():
            tree.add(item.path, item.mode, item.sha)
        mode, child = old[parts[0]]
        if len(parts) == 1:
            store.add_object(blob)
            tree.add(parts[0], mode if stat.S_ISREG(mode) else 0o100644, blob.id)
        else:
            tree.add(parts[0], stat.S_IFDIR, self._replace(child, parts[1:], blob))
        store.add_object(tree)
        return tree.id

    def _commit_on(
        self, base: ObjectID, change: ReleaseChange, rule: VersionRule | None
    ) -> tuple[EditResult, ObjectID | None]:
        path = change.target.path
        text = self._read(base, path)
        if text is None:
            raise FieldNotFoundError(
                f"`{path}` does not exist on branch `{self.settings.branch}` of repository `{self.name}`.",
                path=path,
                field=change.target.field_description,
            )
        result = edit_version(change.target, text, change.version, rule=rule)
        if not result.changed:
            return result, None
        blob = Blob.from_string(result.new_text.encode("utf-8"))
        parent = cast(Commit, self.repo.object_store[base])
        commit = Commit()
        commit.tree = self._replace(parent.tree, path.encode().split(b"/"), blob)
        commit.parents = [base]
        identity = f"{self.settings.author_name} <{self.settings.author_email}>".encode()
        commit.author = commit.committer = identity
        commit.author_time = commit.commit_time = int(self._clock())
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = commit_message(change, result.old_version).encode("utf-8")
        self.repo.object_store.add_object(commit)
        self.repo.refs[self._branch] = commit.id
        return result, commit.id

    def apply(self, change: ReleaseChange, *, rule: VersionRule | None = None) -> Delivered:
        """Commit `change` locally on the remote head (not pushed; see `push`). Raises the
        typed edit errors; then nothing was committed."""
        with self._lock:
            base = self.repo.refs[self._remote]
            self.repo.refs[self._branch] = base
            self._pending = None
            result, sha = self._commit_on(base, change, rule)
            if sha is not None:
                self._pending = (change, rule, sha, result)
            return self._delivered(result, sha, already=sha is None, attempts=0)

    def _delivered(
        self, result: EditResult, sha: ObjectID | None, *, already: bool, attempts: int
    ) -> Delivered:
        return Delivered(
            repository=self.name,
            branch=self.settings.branch,
            commit=sha.decode() if sha is not None else None,
            path=result.path,
            field=result.field,
            line=result.line,
            old_version=result.old_version,
            new_version=result.new_version,
            already=already,
            attempts=attempts,
        )

    # -- push --------------------------------------------------------------------------

    def _send(self, base: ObjectID, new: ObjectID) -> None:
        client, path = self._transport()

        def update_refs(refs: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
            if refs.get(self._branch) != base:
                raise _RemoteMoved
            return {**refs, self._branch: new}

        try:
            result = client.send_pack(path, update_refs, generate_pack_data=self.repo.generate_pack_data)  # type: ignore[arg-type]
        finally:
            client.close()
        problem = (result.ref_status or {}).get(self._branch)
        if problem:
            raise PushRejectedError(self._credentials.scrub(str(problem)))

    def push(self) -> Delivered:
        """Push the commit `apply` made. When the remote moved meanwhile: fetch, re-apply
        the same edit on the new head and try again (`push_attempts` in all); when the
        new head already has the version, nothing is pushed (`already`)."""
        with self._lock:
            if self._pending is None:
                raise GitError(f"nothing to push to repository `{self.name}` (call apply() first).")
            change, rule, sha, result = self._pending
            try:
                for attempt in range(1, self.settings.push_attempts + 1):
                    base = cast(Commit, self.repo.object_store[sha]).parents[0]
                    try:
                        with self._talking("pushing to"):
                            self._send(base, sha)
                    except _RemoteMoved:
                        log.info("git.push.remote_moved", repository=self.name, attempt=attempt)
                    except PushRejectedError as exc:
                        if self.fetch_and_reset().encode() == base:
                            raise PushRejectedError(
                                f"the git server refused the push to `{self.settings.branch}` of repository "
                                f"`{self.name}`: {exc}"
                            ) from None
                        log.info("git.push.raced", repository=self.name, attempt=attempt)
                    else:
                        self.repo.refs[self._remote] = sha
                        self._pending = None
                        log.info(
                            "git.pushed",
                            repository=self.name,
                            commit=sha.decode(),
                            attempts=attempt,
                            path=result.path,
                        )
                        return self._delivered(result, sha, already=False, attempts=attempt)
                    if attempt == self.settings.push_attempts:
                        break
                    self.fetch_and_reset()
                    result, new_sha = self._commit_on(self.repo.refs[self._remote], change, rule)
                    if new_sha is None:
                        log.info("git.push.already_there", repository=self.name, version=change.version)
                        return self._delivered(result, None, already=True, attempts=attempt)
                    sha = new_sha
                raise PushRejectedError(
                    f"the branch `{self.settings.branch}` of repository `{self.name}` kept moving: "
                    f"gave up after {self.settings.push_attempts} attempts."
                )
            finally:
                self._reset_local()

    def _reset_local(self) -> None:
        """Local branch back to the remote head; no pending change."""
        self._pending = None
        if self._repo is not None and self._remote in self._repo.refs:
            self._repo.refs[self._branch] = self._repo.refs[self._remote]

    def deliver(
        self, change: ReleaseChange, *, rule: VersionRule | None = None, expect: str | None = None
    ) -> Delivered:
        """Fetch, edit, commit and push `change` (the whole promotion, under one lock).

        `expect`: the version the field must still hold (what the approvers saw); when the
        branch moved to another one since, nothing is pushed (ChangedSinceError).
        """
        with self._lock:
            if self._repo is None:
                self.ensure_clone()
            else:
                self.fetch_and_reset()
            try:
                applied = self.apply(change, rule=rule)
                if expect is not None and not applied.already and applied.old_version != expect:
                    raise ChangedSinceError(
                        f"`{applied.path}` changed since the request: it now holds {applied.old_version}, "
                        f"not {expect}. Nothing was committed; ask again."
                    )
            except BaseException:
                self._reset_local()
                raise
            if applied.already:
                return applied
            return self.push()

    def read_head(self, path: str) -> tuple[str, str | None]:
        """Fetch, then the remote head's sha and the text of `path` there (None: no such file)."""
        with self._lock:
            head = self.ensure_clone() if self._repo is None else self.fetch_and_reset()
            return head, self.read_file(path)

    # -- history -----------------------------------------------------------------------

    def history(
        self, *, app: str | None = None, cluster: str | None = None, limit: int = 20
    ) -> list[HistoryEntry]:
        """opsbot's changes on the branch, newest first (read from the commit trailers)."""
        with self._lock:
            entries: list[HistoryEntry] = []
            walker = self.repo.get_walker(include=[self.repo.refs[self._remote]], max_entries=_HISTORY_SCAN)
            for walk_entry in walker:
                commit = walk_entry.commit
                entry = history_entry(
                    commit.id.decode(), int(commit.commit_time), commit.message.decode("utf-8", "replace")
                )
                if entry is None or (app and entry.app != app) or (cluster and entry.cluster != cluster):
                    continue
                entries.append(entry)
                if len(entries) >= limit:
                    break
            return entries

    def close(self) -> None:
        with self._lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None
