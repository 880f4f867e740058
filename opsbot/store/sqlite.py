"""SQLite store (stdlib sqlite3, WAL): the default backend, one file, no server.

WAL plus `synchronous=NORMAL` keeps every committed write across a process crash
(kill -9); only a power loss can take back the last transactions. All access goes
through one connection guarded by a lock, so the asyncio side and worker threads
can share it; writes are small and fast. The calls the event loop awaits run on it
directly: a local file answers in microseconds, as a thread hop would not.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from opsbot.errors import ConfigError
from opsbot.ports import Document
from opsbot.store.protocol import FINAL_APPROVAL_STATUSES
from opsbot.store.sqlite_schema import SCHEMA, SCHEMA_VERSION


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))

    # incidents -------------------------------------------------------------

    async def put_incident(self, incident_id: str, key: str, state: str, channel: str, data: Document) -> None:
        payload = json.dumps(data, separators=(",", ":"), default=str)
        with self._lock:
            self._db.execute(
                "INSERT INTO incidents (id, key, state, channel, updated_at, data) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET key=excluded.key, state=excluded.state, "
                "channel=excluded.channel, updated_at=excluded.updated_at, data=excluded.data",
                (incident_id, key, state, channel, time.time(), payload),
            )

    def prune_incidents(self, *, resolved_before: float) -> int:
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM incidents WHERE state = 'resolved' AND updated_at < ?", (resolved_before,)
            )
        return cursor.rowcount

    async def incidents(self, *, state: str | None = None) -> list[Document]:
        with self._lock:
            if state is None:
                rows = self._db.execute("SELECT data FROM incidents ORDER BY updated_at").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT data FROM incidents WHERE state = ? ORDER BY updated_at", (state,)
                ).fetchall()
        return [json.loads(row[0]) for row in rows]

    async def incident(self, incident_id: str) -> Document | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return json.loads(row[0]) if row else None

    async def put_mute(self, mute_id: str, pattern: str, until: float, data: Document) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO mutes (id, pattern, until, data) VALUES (?, ?, ?, ?)",
                (mute_id, pattern, until, json.dumps(data, default=str)),
            )

    async def delete_mute(self, mute_id: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM mutes WHERE id = ?", (mute_id,))
        return cursor.rowcount > 0

    async def mutes(self, *, now: float) -> list[Document]:
        with self._lock:
            self._db.execute("DELETE FROM mutes WHERE until <= ?", (now,))
            rows = self._db.execute("SELECT data FROM mutes ORDER BY until").fetchall()
        return [json.loads(row[0]) for row in rows]

    # outbox journal ------------------------------------------------------------

    async def save_unsent(self, records: list[Document]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO outbox_unsent (data) VALUES (?)",
                    [(json.dumps(record, separators=(",", ":"), default=str),) for record in records],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    async def take_unsent(self) -> list[Document]:
        """Every saved message, oldest first, removed in the same transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute("SELECT data FROM outbox_unsent ORDER BY seq").fetchall()
                self._db.execute("DELETE FROM outbox_unsent")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [json.loads(row[0]) for row in rows]

    # approvals ---------------------------------------------------------------

    async def put_approval(self, approval_id: str, status: str, data: Document) -> None:
        payload = json.dumps(data, separators=(",", ":"), default=str)
        with self._lock:
            self._db.execute(
                "INSERT INTO approvals (id, status, updated_at, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET status=excluded.status, updated_at=excluded.updated_at, "
                "data=excluded.data",
                (approval_id, status, time.time(), payload),
            )

    async def replace_approval(self, approval_id: str, status: str, data: Document, *, revision: int) -> bool:
        """One guarded UPDATE: written only if the stored revision is still `revision`."""
        payload = json.dumps(data, separators=(",", ":"), default=str)
        with self._lock:
            cursor = self._db.execute(
                "UPDATE approvals SET status = ?, updated_at = ?, data = ? "
                "WHERE id = ? AND COALESCE(json_extract(data, '$.revision'), 0) = ?",
                (status, time.time(), payload, approval_id, revision),
            )
        return cursor.rowcount > 0

    def prune_approvals(self, *, over_before: float) -> int:
        marks = ", ".join("?" for _ in FINAL_APPROVAL_STATUSES)
        with self._lock:
            cursor = self._db.execute(
                f"DELETE FROM approvals WHERE status IN ({marks}) AND updated_at < ?",  # noqa: S608 - placeholders
                (*FINAL_APPROVAL_STATUSES, over_before),
            )
        return cursor.rowcount

    async def approval(self, approval_id: str) -> Document | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM approvals WHERE id = ?", (approval_id,)).fetchone()
        return json.loads(row[0]) if row else None

    async def approvals(self, *, status: str) -> list[Document]:
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM approvals WHERE status = ? ORDER BY updated_at", (status,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    # alertmanager ------------------------------------------------------------

    async def first_notification(self, key: str, at: float) -> bool:
        """Record a notification's key; False if it was recorded before (a retry or repeat)."""
        with self._lock:
            cursor = self._db.execute("INSERT OR IGNORE INTO am_notifications (key, at) VALUES (?, ?)", (key, at))
        return cursor.rowcount > 0

    async def forget_notification(self, key: str) -> None:
        """Undo `first_notification` (handling it failed: the retry must not count as a repeat)."""
        with self._lock:
            self._db.execute("DELETE FROM am_notifications WHERE key = ?", (key,))

    async def forget_notifications(self, before: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM am_notifications WHERE at < ?", (before,))

    async def put_am_group(self, key: str, data: Document) -> None:
        payload = json.dumps(data, separators=(",", ":"), default=str)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO am_groups (key, updated_at, data) VALUES (?, ?, ?)",
                (key, time.time(), payload),
            )

    async def am_groups(self) -> list[Document]:
        with self._lock:
            rows = self._db.execute("SELECT data FROM am_groups ORDER BY updated_at").fetchall()
        return [json.loads(row[0]) for row in rows]

    async def am_group(self, key: str) -> Document | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM am_groups WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    async def put_remediation(
        self, remediation_id: str, incident_key: str, closed: str, data: Document, *, delivery: tuple[str, str] | None
    ) -> None:
        """The remediation and, with `delivery` (webhook id, state), its signal's row, in one transaction."""
        self._remediation_write(remediation_id, incident_key, closed, data, delivery, None)

    async def replace_remediation(
        self,
        remediation_id: str,
        incident_key: str,
        closed: str,
        data: Document,
        *,
        delivery: tuple[str, str] | None,
        revision: int,
    ) -> bool:
        """As `put_remediation`, in the same transaction as a guarded UPDATE on the revision."""
        return self._remediation_write(remediation_id, incident_key, closed, data, delivery, revision)

    def _remediation_write(
        self,
        remediation_id: str,
        incident_key: str,
        closed: str,
        data: Document,
        delivery: tuple[str, str] | None,
        expected: int | None,
    ) -> bool:
        payload = json.dumps(data, separators=(",", ":"), default=str)
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if expected is None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO remediations (id, incident_key, closed, updated_at, data) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (remediation_id, incident_key, closed, now, payload),
                    )
                elif not self._db.execute(
                    "UPDATE remediations SET incident_key = ?, closed = ?, updated_at = ?, data = ? "
                    "WHERE id = ? AND COALESCE(json_extract(data, '$.revision'), 0) = ?",
                    (incident_key, closed, now, payload, remediation_id, expected),
                ).rowcount:
                    self._db.execute("ROLLBACK")
                    return False
                if delivery is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO signal_deliveries (webhook_id, remediation_id, state, updated_at) "
                        "VALUES (?, ?, ?, ?)",
                        (delivery[0], remediation_id, delivery[1], now),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return True

    async def remediation(self, remediation_id: str) -> Document | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM remediations WHERE id = ?", (remediation_id,)).fetchone()
        return json.loads(row[0]) if row else None

    async def open_remediations(self) -> list[Document]:
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM remediations WHERE closed = '' ORDER BY updated_at"
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    async def pending_deliveries(self) -> list[Document]:
        """The remediations whose signal is still to be delivered."""
        with self._lock:
            rows = self._db.execute(
                "SELECT r.data FROM signal_deliveries d JOIN remediations r ON r.id = d.remediation_id "
                "WHERE d.state = 'pending' ORDER BY d.updated_at"
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    # releases ------------------------------------------------------------------

    def claim_release(self, release_id: str, cluster: str, target: str, data: Document) -> Document | None:
        """Insert an active release; None when claimed, else the active holder's document."""
        payload = json.dumps(data, separators=(",", ":"), default=str)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO releases (id, cluster, target, active, updated_at, data) VALUES (?, ?, ?, 1, ?, ?)",
                    (release_id, cluster, target, time.time(), payload),
                )
                return None
            except sqlite3.IntegrityError:
                row = self._db.execute(
                    "SELECT id, data FROM releases WHERE cluster = ? AND target = ? AND active = 1",
                    (cluster, target),
                ).fetchone()
        if row and row[0] == release_id:
            return None  # this release holds it already: the same claim, made twice
        return json.loads(row[1]) if row else {}

    def put_release(self, release_id: str, active: bool, data: Document) -> None:
        payload = json.dumps(data, separators=(",", ":"), default=str)
        with self._lock:
            self._db.execute(
                "UPDATE releases SET active = ?, updated_at = ?, data = ? WHERE id = ?",
                (int(active), time.time(), payload, release_id),
            )

    def active_releases(self) -> list[Document]:
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM releases WHERE active = 1 ORDER BY updated_at"
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def add_version(self, cluster: str, target: str, apps: list[str], at: float, data: Document) -> None:
        names = "|" + "|".join(apps) + "|"
        with self._lock:
            self._db.execute(
                "INSERT INTO release_versions (cluster, target, apps, at, data) VALUES (?, ?, ?, ?, ?)",
                (cluster, target, names, at, json.dumps(data, separators=(",", ":"), default=str)),
            )

    def versions(self, *, cluster: str | None, app: str | None, limit: int) -> list[Document]:
        """Newest first; `app` matches any of the names the app goes by."""
        clauses, params = [], []
        if cluster is not None:
            clauses.append("cluster = ?")
            params.append(cluster)
        if app is not None:
            clauses.append("instr(apps, ?) > 0")
            params.append(f"|{app}|")
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT data FROM release_versions {where}ORDER BY seq DESC LIMIT ?",  # noqa: S608 - fixed clauses
                (*params, limit),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def latest_versions(self) -> list[Document]:
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM release_versions WHERE seq IN "
                "(SELECT MAX(seq) FROM release_versions GROUP BY cluster, target)"
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    # audit -----------------------------------------------------------------

    def append_audit(self, at: float, user_id: str, kind: str, data: Document) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO audit (at, user_id, kind, data) VALUES (?, ?, ?, ?)",
                (at, user_id, kind, json.dumps(data, separators=(",", ":"), default=str)),
            )

    def audit_records(self, *, user_id: str | None = None, last: int = 20) -> list[Document]:
        """The newest `last` records (of one user), oldest first."""
        with self._lock:
            if user_id is None:
                rows = self._db.execute(
                    "SELECT data FROM audit ORDER BY seq DESC LIMIT ?", (last,)
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT data FROM audit WHERE user_id = ? ORDER BY seq DESC LIMIT ?", (user_id, last)
                ).fetchall()
        return [json.loads(row[0]) for row in reversed(rows)]

    # saved contexts (`use`) ----------------------------------------------------

    def contexts(self, keys: Sequence[str]) -> list[tuple[Document, float] | None]:
        with self._lock:
            rows = [self._db.execute("SELECT data, used_at FROM contexts WHERE key = ?", (key,)).fetchone() for key in keys]
        return [(json.loads(row[0]), float(row[1])) if row else None for row in rows]

    def put_context(self, key: str, data: Document, used_at: float) -> None:
        payload = json.dumps(data, separators=(",", ":"), default=str)
        with self._lock:
            self._db.execute(
                "INSERT INTO contexts (key, used_at, data) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET used_at=excluded.used_at, data=excluded.data",
                (key, used_at, payload),
            )

    def touch_context(self, key: str, used_at: float) -> None:
        with self._lock:
            self._db.execute("UPDATE contexts SET used_at = ? WHERE key = ?", (used_at, key))

    def delete_context(self, key: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM contexts WHERE key = ?", (key,))
        return cursor.rowcount > 0

    def problem(self) -> str | None:
        """A local file: once open, always usable."""
        return None

    async def aproblem(self) -> str | None:
        return None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    async def aclose(self) -> None:
        self.close()


def open_store(path: str) -> SqliteStore:
    """The store, or a ConfigError naming `store.path` and what to do about it."""
    try:
        return SqliteStore(path)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            [f"store.path: cannot open {path!r} ({exc}); point it at a writable file"]
        ) from None
