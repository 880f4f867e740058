"""The `store:` section: which backend keeps the bot's state, and how to reach Redis.

Secrets (the Redis URL may carry a password, and the password itself) come from the
environment, named here, never from the config file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from opsbot.core.settings import Strict


class RedisSettings(Strict):
    """A Redis server shared by every replica, reached at one URL (no Sentinel discovery;
    not Redis Cluster: the scripts touch keys they compute)."""

    url_env: str = "OPSBOT_REDIS_URL"
    """The environment variable holding `redis://host:6379/0` (`rediss://` for TLS)."""
    password_env: str = "OPSBOT_REDIS_PASSWORD"
    """Optional: the password, when it is not in the URL. Never logged."""
    key_prefix: str = Field(default="opsbot:", min_length=1, max_length=64)
    timeout_seconds: float = Field(default=0.5, gt=0, le=10)
    """Socket connect and read timeout: calls run on the event loop, so keep it short."""
    retry_after_seconds: float = Field(default=2.0, gt=0, le=300)
    """After a connection error, calls fail at once for this long before Redis is tried again."""
    audit_max_entries: int = Field(default=1_000_000, ge=1000)
    """The audit stream is trimmed (approximately) to this many records."""


class StoreSettings(Strict):
    backend: Literal["sqlite", "redis"] = "sqlite"
    # Relative: in the working directory, so running locally writes nothing elsewhere. The
    # Deployment's config (manifests/base/config.yaml) puts it on the state volume instead.
    path: str = "opsbot.db"
    """The SQLite file (backend sqlite); also where `releases.workdir` defaults to."""
    retention_days: float = Field(default=30.0, ge=0)
    """Resolved incidents and approvals that are over are deleted this long after their last
    change (0: kept forever), so the store (Redis: memory) does not grow without end and a new
    leader loads what matters. The audit trail keeps its own limit."""
    redis: RedisSettings = RedisSettings()
