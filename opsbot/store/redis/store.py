"""The Redis backend: every `StateStore` call, shared by all replicas of the bot.

The calls the event loop makes are awaited on redis-py's asyncio client; the ones worker
threads make (releases, versions, audit, contexts, housekeeping) block on its synchronous
client (see `opsbot.store.protocol`). Both go through the breaker in `client.Connection`:
one short timeout, then calls fail fast with `StoreUnavailable` until a probe succeeds.

Layout, under `key_prefix` (default `opsbot:`): documents are JSON strings in one hash
per kind (`incident:data`, `approval:data`, …) with sorted-set indexes for the queries
(`incidents:state:<state>`, `approvals:<status>`, `releases:active`, `mutes` by end time).
Exclusive changes are atomic: `SET NX EX` for de-duplication, Lua scripts (scripts.py)
for compare-and-set (approvals, release claims). The audit trail is a Stream (`XADD`,
trimmed approximately), with a second one per user for `audit --user`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio

from opsbot.ports import Document
from opsbot.store.protocol import FINAL_APPROVAL_STATUSES
from opsbot.store.redis import scripts
from opsbot.store.redis.client import Connection

# Alertmanager's intake forgets notification keys after 7 days; the keys expire a day later
# on their own in case nothing prunes them.
NOTIFICATION_TTL_SECONDS = 8 * 24 * 3600


def _dump(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


def _load_all(found: list[str]) -> list[Document]:
    return [json.loads(item) for item in found]


def _score(value: float) -> str:
    return repr(float(value))


def _token() -> str:
    """What marks one call's own write, for when the same call reaches Redis twice."""
    return uuid.uuid4().hex


class RedisStore:
    def __init__(self, connection: Connection, *, key_prefix: str = "opsbot:", audit_max_entries: int = 1_000_000) -> None:
        self._c = connection
        self._p = key_prefix
        self._audit_max = audit_max_entries
        client = connection.client
        self._put_indexed = connection.async_script(scripts.PUT_INDEXED)
        self._put_approval = connection.async_script(scripts.PUT_APPROVAL)
        self._read_indexed = client.register_script(scripts.READ_INDEXED)
        self._a_read_indexed = connection.async_script(scripts.READ_INDEXED)
        self._prune = client.register_script(scripts.PRUNE_INDEXED)
        self._mutes = connection.async_script(scripts.MUTES)
        self._first_offer = connection.async_script(scripts.FIRST_OFFER)
        self._first_notification = connection.async_script(scripts.FIRST_NOTIFICATION)
        self._forget_notifications = connection.async_script(scripts.FORGET_NOTIFICATIONS)
        self._put_remediation = connection.async_script(scripts.PUT_REMEDIATION)
        self._pending = connection.async_script(scripts.PENDING_DELIVERIES)
        self._claim = client.register_script(scripts.CLAIM_RELEASE)
        self._put_release = client.register_script(scripts.PUT_RELEASE)
        self._add_version = client.register_script(scripts.ADD_VERSION)
        self._versions = client.register_script(scripts.VERSIONS)
        self._latest = client.register_script(scripts.LATEST_VERSIONS)
        self._touch = client.register_script(scripts.TOUCH_CONTEXT)

    def _k(self, *parts: str) -> str:
        return self._p + ":".join(parts)

    def _indexed(self, index: str, data: str) -> list[Document]:
        return _load_all(self._c.run(lambda r: self._read_indexed(keys=[index, data], client=r), read=True))

    async def _aindexed(self, index: str, data: str) -> list[Document]:
        found = await self._c.arun(lambda r: self._a_read_indexed(keys=[index, data], client=r), read=True)
        return _load_all(found)

    async def _aget(self, hash_key: str, field: str) -> Document | None:
        found = await self._c.arun(lambda r: r.hget(hash_key, field), read=True)
        return json.loads(found) if found is not None else None

    # incidents and mutes ----------------------------------------------------------------

    async def put_incident(self, incident_id: str, key: str, state: str, channel: str, data: Document) -> None:
        keys = [self._k("incident", "data"), self._k("incident", "state"), self._k("incidents")]
        args = [incident_id, state, _score(time.time()), _dump(data), self._k("incidents", "state", "")]
        await self._c.arun(lambda r: self._put_indexed(keys=keys, args=args, client=r))

    async def incidents(self, *, state: str | None = None) -> list[Document]:
        index = self._k("incidents") if state is None else self._k("incidents", "state", state)
        return await self._aindexed(index, self._k("incident", "data"))

    async def incident(self, incident_id: str) -> Document | None:
        return await self._aget(self._k("incident", "data"), incident_id)

    def prune_incidents(self, *, resolved_before: float) -> int:
        keys = [
            self._k("incidents", "state", "resolved"),
            self._k("incident", "data"),
            self._k("incident", "state"),
            self._k("incidents"),
        ]
        return self._pruned(keys, hashes=2, before=resolved_before)

    def _pruned(self, keys: list[str], *, hashes: int, before: float) -> int:
        args = [_score(before), str(hashes)]
        return int(self._c.run(lambda r: self._prune(keys=keys, args=args, client=r)))

    async def put_mute(self, mute_id: str, pattern: str, until: float, data: Document) -> None:
        async def put(r: redis.asyncio.Redis) -> None:
            pipe = r.pipeline()
            pipe.hset(self._k("mute", "data"), mute_id, _dump(data))
            pipe.zadd(self._k("mutes"), {mute_id: until})
            await pipe.execute()

        await self._c.arun(put)

    async def delete_mute(self, mute_id: str) -> bool:
        async def delete(r: redis.asyncio.Redis) -> bool:
            pipe = r.pipeline()
            pipe.hdel(self._k("mute", "data"), mute_id)
            pipe.zrem(self._k("mutes"), mute_id)
            return bool((await pipe.execute())[0])

        return await self._c.arun(delete)

    async def mutes(self, *, now: float) -> list[Document]:
        keys = [self._k("mutes"), self._k("mute", "data")]
        return _load_all(await self._c.arun(lambda r: self._mutes(keys=keys, args=[_score(now)], client=r)))

    # outbox journal ---------------------------------------------------------------------

    async def save_unsent(self, records: list[Document]) -> None:
        if records:
            await self._c.arun(lambda r: r.rpush(self._k("outbox", "unsent"), *[_dump(record) for record in records]))

    async def take_unsent(self) -> list[Document]:
        """Every saved message, oldest first, removed in the same transaction."""

        async def take(r: redis.asyncio.Redis) -> list[str]:
            pipe = r.pipeline()
            pipe.lrange(self._k("outbox", "unsent"), 0, -1)
            pipe.delete(self._k("outbox", "unsent"))
            return list((await pipe.execute())[0])

        return _load_all(await self._c.arun(take))

    # approvals --------------------------------------------------------------------------

    async def _approval_write(self, approval_id: str, status: str, data: Document, expected: int | None) -> bool:
        keys = [self._k("approval", field) for field in ("data", "status", "revision", "writer")]
        args = [approval_id, status, _score(time.time()), _dump(data), self._k("approvals", "")]
        args += [str(int(data.get("revision", 0))), _token()]
        if expected is not None:
            args.append(str(expected))
        return bool(await self._c.arun(lambda r: self._put_approval(keys=keys, args=args, client=r)))

    async def put_approval(self, approval_id: str, status: str, data: Document) -> None:
        await self._approval_write(approval_id, status, data, None)

    async def replace_approval(self, approval_id: str, status: str, data: Document, *, revision: int) -> bool:
        """Compare-and-set in one script: written only if the stored revision is still `revision`."""
        return await self._approval_write(approval_id, status, data, revision)

    def prune_approvals(self, *, over_before: float) -> int:
        hashes = [self._k("approval", field) for field in ("data", "status", "revision", "writer")]
        return sum(
            self._pruned([self._k("approvals", status), *hashes], hashes=4, before=over_before)
            for status in FINAL_APPROVAL_STATUSES
        )

    async def approval(self, approval_id: str) -> Document | None:
        return await self._aget(self._k("approval", "data"), approval_id)

    async def approvals(self, *, status: str) -> list[Document]:
        return await self._aindexed(self._k("approvals", status), self._k("approval", "data"))

    # alertmanager -----------------------------------------------------------------------

    async def first_notification(self, key: str, at: float) -> bool:
        """Record a notification's key (SET NX EX); False if it was recorded before."""
        keys = [self._k("am", "seen", key), self._k("am", "seen")]
        args = [_score(at), str(NOTIFICATION_TTL_SECONDS), key, _token()]
        return bool(await self._c.arun(lambda r: self._first_notification(keys=keys, args=args, client=r)))

    async def forget_notification(self, key: str) -> None:
        async def forget(r: redis.asyncio.Redis) -> None:
            pipe = r.pipeline()
            pipe.delete(self._k("am", "seen", key))
            pipe.zrem(self._k("am", "seen"), key)
            await pipe.execute()

        await self._c.arun(forget)

    async def forget_notifications(self, before: float) -> None:
        keys, args = [self._k("am", "seen")], [_score(before), self._k("am", "seen", "")]
        await self._c.arun(lambda r: self._forget_notifications(keys=keys, args=args, client=r))

    async def put_am_group(self, key: str, data: Document) -> None:
        async def put(r: redis.asyncio.Redis) -> None:
            pipe = r.pipeline()
            pipe.hset(self._k("am", "group", "data"), key, _dump(data))
            pipe.zadd(self._k("am", "groups"), {key: time.time()})
            await pipe.execute()

        await self._c.arun(put)

    async def am_groups(self) -> list[Document]:
        return await self._aindexed(self._k("am", "groups"), self._k("am", "group", "data"))

    async def am_group(self, key: str) -> Document | None:
        return await self._aget(self._k("am", "group", "data"), key)

    async def put_remediation(
        self, remediation_id: str, incident_key: str, closed: str, data: Document, *, delivery: tuple[str, str] | None
    ) -> None:
        """The remediation and, with `delivery` (webhook id, state), its signal's state, atomically."""
        await self._remediation_write(remediation_id, closed, data, delivery, None)

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
        """Compare-and-set in one script: written only if the stored revision is still `revision`."""
        return await self._remediation_write(remediation_id, closed, data, delivery, revision)

    async def _remediation_write(
        self, remediation_id: str, closed: str, data: Document, delivery: tuple[str, str] | None, expected: int | None
    ) -> bool:
        keys = [
            self._k("remediation", "data"),
            self._k("remediations", "open"),
            self._k("delivery", "remediation"),
            self._k("deliveries", "pending"),
            self._k("remediation", "revision"),
            self._k("remediation", "writer"),
        ]
        webhook, state = delivery if delivery is not None else ("", "")
        args = [remediation_id, closed, _score(time.time()), _dump(data), webhook, state]
        args += [str(int(data.get("revision", 0))), _token()]
        if expected is not None:
            args.append(str(expected))
        return bool(await self._c.arun(lambda r: self._put_remediation(keys=keys, args=args, client=r)))

    async def remediation(self, remediation_id: str) -> Document | None:
        return await self._aget(self._k("remediation", "data"), remediation_id)

    async def open_remediations(self) -> list[Document]:
        return await self._aindexed(self._k("remediations", "open"), self._k("remediation", "data"))

    async def pending_deliveries(self) -> list[Document]:
        keys = [self._k("deliveries", "pending"), self._k("delivery", "remediation"), self._k("remediation", "data")]
        return _load_all(await self._c.arun(lambda r: self._pending(keys=keys, client=r), read=True))

    # releases ---------------------------------------------------------------------------

    def _release_keys(self) -> list[str]:
        return [
            self._k("release", "data"),
            self._k("release", "slot"),
            self._k("release", "holder"),
            self._k("releases", "active"),
        ]

    def claim_release(self, release_id: str, cluster: str, target: str, data: Document) -> Document | None:
        """Claim the app on the cluster (one script); None when claimed, else the holder's document."""
        args = [release_id, f"{cluster}\x00{target}", _dump(data), _score(time.time())]
        found = self._c.run(lambda r: self._claim(keys=self._release_keys(), args=args, client=r))
        return None if int(found[0]) == 0 else json.loads(found[1])

    def put_release(self, release_id: str, active: bool, data: Document) -> None:
        args = [release_id, "1" if active else "0", _dump(data), _score(time.time())]
        self._c.run(lambda r: self._put_release(keys=self._release_keys(), args=args, client=r))

    def active_releases(self) -> list[Document]:
        return self._indexed(self._k("releases", "active"), self._k("release", "data"))

    def add_version(self, cluster: str, target: str, apps: list[str], at: float, data: Document) -> None:
        keys = [
            self._k("version", "seq"),
            self._k("version", "data"),
            self._k("version", "cluster"),
            self._k("versions"),
            self._k("version", "latest"),
        ]
        args = [cluster, f"{cluster}\x00{target}", _dump(data), self._k("versions", "cluster", ""),
                self._k("versions", "app", ""), *apps]  # fmt: skip
        self._c.run(lambda r: self._add_version(keys=keys, args=args, client=r))

    def versions(self, *, cluster: str | None, app: str | None, limit: int) -> list[Document]:
        """Newest first; `app` matches any of the names the app goes by."""
        if app is not None:
            index, only = self._k("versions", "app", app), cluster or ""
        elif cluster is not None:
            index, only = self._k("versions", "cluster", cluster), ""
        else:
            index, only = self._k("versions"), ""
        keys = [index, self._k("version", "data"), self._k("version", "cluster")]
        if limit <= 0:
            return []
        return _load_all(self._c.run(lambda r: self._versions(keys=keys, args=[str(limit), only], client=r), read=True))

    def latest_versions(self) -> list[Document]:
        keys = [self._k("version", "latest"), self._k("version", "data")]
        return _load_all(self._c.run(lambda r: self._latest(keys=keys, client=r), read=True))

    # audit ------------------------------------------------------------------------------

    def append_audit(self, at: float, user_id: str, kind: str, data: Document) -> None:
        """Appended to the trail and to the user's own; both trimmed approximately (MAXLEN ~)."""
        fields: dict[Any, Any] = {"at": _score(at), "user": user_id, "kind": kind, "data": _dump(data)}

        def append(r: redis.Redis) -> None:
            pipe = r.pipeline()
            pipe.xadd(self._k("audit"), fields, maxlen=self._audit_max, approximate=True)
            pipe.xadd(self._k("audit", "user", user_id), fields, maxlen=self._audit_max, approximate=True)
            pipe.execute()

        self._c.run(append)

    def audit_records(self, *, user_id: str | None = None, last: int = 20) -> list[Document]:
        """The newest `last` records (of one user), oldest first."""
        if last <= 0:
            return []
        stream = self._k("audit") if user_id is None else self._k("audit", "user", user_id)
        entries = self._c.run(lambda r: r.xrevrange(stream, count=last), read=True) or []
        return [json.loads(fields["data"]) for _id, fields in reversed(entries) if fields]

    # saved contexts (`use`) -------------------------------------------------------------

    def contexts(self, keys: Sequence[str]) -> list[tuple[Document, float] | None]:
        if not keys:
            return []

        def read(r: redis.Redis) -> list[Any]:
            pipe = r.pipeline()
            pipe.hmget(self._k("context", "data"), list(keys))
            pipe.hmget(self._k("context", "used"), list(keys))
            return list(pipe.execute())

        documents, used = self._c.run(read, read=True)
        return [
            (json.loads(data), float(at or 0.0)) if data is not None else None
            for data, at in zip(documents, used, strict=True)
        ]

    def put_context(self, key: str, data: Document, used_at: float) -> None:
        def put(r: redis.Redis) -> None:
            pipe = r.pipeline()
            pipe.hset(self._k("context", "data"), key, _dump(data))
            pipe.hset(self._k("context", "used"), key, _score(used_at))
            pipe.execute()

        self._c.run(put)

    def touch_context(self, key: str, used_at: float) -> None:
        keys = [self._k("context", "data"), self._k("context", "used")]
        self._c.run(lambda r: self._touch(keys=keys, args=[key, _score(used_at)], client=r))

    def delete_context(self, key: str) -> bool:
        def delete(r: redis.Redis) -> bool:
            pipe = r.pipeline()
            pipe.hdel(self._k("context", "data"), key)
            pipe.hdel(self._k("context", "used"), key)
            return bool(pipe.execute()[0])

        return self._c.run(delete)

    # Slack de-duplication (opsbot.slack.dedupe.FirstSeen) -------------------------------

    async def first_seen(self, key: str, ttl: float) -> bool:
        """True for the first replica to offer `key` within `ttl` seconds (SET NX EX, as a
        script that knows its own call again: scripts.FIRST_OFFER)."""
        keys, args = [self._k("seen", key)], [_token(), str(max(1, int(ttl)))]
        offered = await self._c.arun(lambda r: self._first_offer(keys=keys, args=args, client=r), "first_seen")
        return bool(offered)

    # health and lifecycle ---------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """False while the breaker is open (the last call could not reach Redis)."""
        return self._c.breaker.reason is None

    @property
    def reason(self) -> str | None:
        """Why Redis is considered down (None while healthy)."""
        return self._c.breaker.reason

    @property
    def connection(self) -> Connection:
        """The breaker-guarded client, for what shares the server but is not state (pacing)."""
        return self._c

    @property
    def key_prefix(self) -> str:
        return self._p

    def problem(self) -> str | None:
        return self._c.problem()

    async def aproblem(self) -> str | None:
        """`problem`, on the event loop (readiness)."""
        return await self._c.aproblem()

    def close(self) -> None:
        self._c.close()

    async def aclose(self) -> None:
        await self._c.aclose()
