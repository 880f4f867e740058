"""The Redis backend (several replicas share it): `RedisStore` over a breaker-guarded connection.

redis-py imports OpenTelemetry's metrics SDK whenever it is installed, for an optional
instrumentation of its own that opsbot never turns on: ~2.5 MiB of every replica's memory.
Unless something loaded the SDK already (then it costs nothing more), it is hidden while
redis-py is imported; it can still be imported afterwards (tracing turned on later).
"""

import sys

_METRICS_SDK = "opentelemetry.sdk.metrics"

if "redis" not in sys.modules and _METRICS_SDK not in sys.modules:
    sys.modules[_METRICS_SDK] = None  # type: ignore[assignment]  # `import` raises ImportError
    try:
        import redis  # noqa: F401
    finally:
        del sys.modules[_METRICS_SDK]

from opsbot.store.redis.client import Breaker, Connection  # noqa: E402
from opsbot.store.redis.store import RedisStore  # noqa: E402

__all__ = ["Breaker", "Connection", "RedisStore"]
