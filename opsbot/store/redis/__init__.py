"""The Redis backend (several replicas share it): `RedisStore` over a breaker-guarded connection."""

from opsbot.store.redis.client import Breaker, Connection
from opsbot.store.redis.store import RedisStore

__all__ = ["Breaker", "Connection", "RedisStore"]
