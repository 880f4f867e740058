"""Optional tracing (OpenTelemetry) and error reporting (Sentry), off unless configured.

The rest of opsbot talks to two small protocols, :class:`Tracer` and
:class:`ErrorReporter`, whose defaults do nothing; so the core package imports and
runs without either SDK. :func:`from_environ` builds the real ones, once, in the
composition root:

    OTEL_EXPORTER_OTLP_ENDPOINT set ... spans over OTLP/HTTP (opsbot.telemetry.otel)
    SENTRY_DSN set .................... unexpected exceptions to Sentry (opsbot.telemetry.sentry)

Those two modules are the only ones that import ``opentelemetry`` or ``sentry_sdk``,
and only when their variable is set. A variable set without its extra installed is
a configuration error, reported at startup in one line.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping

import structlog

from opsbot.errors import ConfigError
from opsbot.telemetry.api import (
    NOOP_ERRORS,
    NOOP_TRACER,
    Attribute,
    ErrorReporter,
    NoopErrorReporter,
    NoopSpan,
    NoopTracer,
    Span,
    Tracer,
)

__all__ = [
    "NOOP_ERRORS",
    "NOOP_TRACER",
    "Attribute",
    "ErrorReporter",
    "NoopErrorReporter",
    "NoopSpan",
    "NoopTracer",
    "Span",
    "Telemetry",
    "Tracer",
    "from_environ",
]

log = structlog.get_logger("opsbot.telemetry")

OTEL_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
SENTRY_DSN = "SENTRY_DSN"

class Telemetry:
    """What the composition root hands out, and flushes on the way out."""

    def __init__(
        self,
        tracer: Tracer = NOOP_TRACER,
        errors: ErrorReporter = NOOP_ERRORS,
        closers: tuple[Callable[[], None], ...] = (),
        *,
        describe: Mapping[str, str] | None = None,
    ) -> None:
        self.tracer = tracer
        self.errors = errors
        self._closers = closers
        self._lock = threading.Lock()
        self._closed = False
        self.describe = dict(describe or {})

    def shutdown(self) -> None:
        """Flush what is buffered and stop the exporters; blocking, so call it off the event
        loop. Safe to call more than once (Bot.stop and run_bot both may)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for close in self._closers:
            try:
                close()
            except Exception:
                log.exception("telemetry_shutdown_failed")


def _missing(exc: ImportError, package: str) -> bool:
    return (exc.name or "").split(".")[0] == package


def from_environ(environ: Mapping[str, str]) -> Telemetry:
    """Build tracing and error reporting from `environ` (os.environ in `opsbot run`).

    Nothing set: the no-op defaults, and neither SDK is imported. Raises ConfigError
    when a variable is set but its optional dependency is not installed.
    """
    problems: list[str] = []
    tracer: Tracer = NOOP_TRACER
    errors: ErrorReporter = NOOP_ERRORS
    closers: list[Callable[[], None]] = []
    describe: dict[str, str] = {}
    tracing_wanted = bool(environ.get(OTEL_ENDPOINT) or environ.get(OTEL_TRACES_ENDPOINT))
    if tracing_wanted and environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        tracing_wanted = False
    if tracing_wanted:
        try:
            from opsbot.telemetry import otel
        except ImportError as exc:
            if not _missing(exc, "opentelemetry"):
                raise
            name = OTEL_ENDPOINT if environ.get(OTEL_ENDPOINT) else OTEL_TRACES_ENDPOINT
            problems.append(f"{name} is set but OpenTelemetry is not installed: pip install 'opsbot[otel]'")
        else:
            try:
                otel_tracer, otel_close, endpoint = otel.build(environ)
            except ConfigError as exc:
                problems.extend(exc.problems)
            else:
                tracer = otel_tracer
                closers.append(otel_close)
                describe["tracing"] = endpoint
    if environ.get(SENTRY_DSN):
        try:
            from opsbot.telemetry import sentry
        except ImportError as exc:
            if not _missing(exc, "sentry_sdk"):
                raise
            problems.append(
                f"{SENTRY_DSN} is set but sentry-sdk is not installed: pip install 'opsbot[sentry]'"
            )
        else:
            try:
                reporter, sentry_close = sentry.build(environ)
            except ConfigError as exc:
                problems.extend(exc.problems)
            else:
                errors = reporter
                closers.append(sentry_close)
                describe["errors"] = "sentry"
    if problems:
        # Whatever was built already must not keep threads running behind the error.
        for close in closers:
            with contextlib.suppress(Exception):
                close()
        raise ConfigError(problems)
    return Telemetry(tracer, errors, tuple(closers), describe=describe)
