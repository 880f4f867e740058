"""OpenTelemetry spans exported over OTLP/HTTP (protobuf): the only module importing opentelemetry.

Built only when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set. The
standard variables are read from the mapping given to :func:`build` (os.environ in
`opsbot run`), so tests can pass their own: endpoint, headers, timeout and
compression (general or traces-specific), OTEL_SERVICE_NAME (default "opsbot"),
OTEL_RESOURCE_ATTRIBUTES and the OTEL_BSP_* batch settings. What the SDK reads on
its own (the sampler, TLS files) comes from the process environment.

The provider is private to the Bot (never the process-global one), so several bots
in one test process each export their own spans.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.util.re import parse_env_headers

from opsbot import __version__
from opsbot.errors import ConfigError
from opsbot.logs import redact_text
from opsbot.telemetry.api import Attribute, Span

TRACES_PATH = "v1/traces"


class OtelSpan:
    """Adapts an SDK span to opsbot's small Span protocol."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set(self, **attributes: Attribute | None) -> None:
        self._span.set_attributes(_clean(attributes))

    def fail(self, description: str) -> None:
        self._span.set_status(trace.Status(trace.StatusCode.ERROR, description))

    def record_exception(self, exc: BaseException) -> None:
        # Our own event rather than span.record_exception: the message and the stack
        # go through the same token redaction as the logs.
        self._span.add_event(
            "exception",
            {
                "exception.type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                "exception.message": redact_text(str(exc))[:2000],
                "exception.stacktrace": redact_text("".join(traceback.format_exception(exc)))[:20_000],
            },
        )
        self.fail(type(exc).__name__)


class OtelTracer:
    def __init__(self, provider: TracerProvider) -> None:
        self._tracer = provider.get_tracer("opsbot", __version__)

    @contextlib.contextmanager
    def span(self, name: str, **attributes: Attribute | None) -> Iterator[Span]:
        with self._tracer.start_as_current_span(
            name, attributes=_clean(attributes), record_exception=False, set_status_on_exception=False
        ) as span:
            handle = OtelSpan(span)
            try:
                yield handle
            except Exception as exc:
                handle.record_exception(exc)
                raise


def _clean(attributes: Mapping[str, Attribute | None]) -> dict[str, Attribute]:
    """None values left out; text redacted like log lines (a pasted token stays here)."""
    return {
        key: redact_text(value) if isinstance(value, str) else value
        for key, value in attributes.items()
        if value is not None
    }


def _setting(environ: Mapping[str, str], name: str) -> str | None:
    """The traces-specific variable, else the general one (the OTLP exporter's rule)."""
    return (
        environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or environ.get(f"OTEL_EXPORTER_OTLP_{name}") or None
    )


def traces_endpoint(environ: Mapping[str, str]) -> str:
    """The ..._TRACES_ENDPOINT is used as is; the general endpoint gets /v1/traces appended."""
    specific = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if specific:
        return specific
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    return f"{base.rstrip('/')}/{TRACES_PATH}"


def resource_attributes(environ: Mapping[str, str]) -> dict[str, str]:
    """OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME over it (default "opsbot"), plus our version."""
    attributes: dict[str, str] = {}
    for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            attributes[key.strip()] = unquote(value.strip())
    attributes["service.name"] = (
        environ.get("OTEL_SERVICE_NAME") or attributes.get("service.name") or "opsbot"
    )
    attributes.setdefault("service.version", __version__)
    return attributes


def _number(name: str, raw: str | None, problems: list[str]) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        problems.append(f"{name}: expected a non-negative number, got {raw[:40]!r}")
        return None
    return value


def build(environ: Mapping[str, str]) -> tuple[OtelTracer, Callable[[], None], str]:
    """(tracer, shutdown, endpoint to log): a private TracerProvider with a BatchSpanProcessor and
    an OTLPSpanExporter over HTTP/protobuf. ConfigError when a variable cannot be used."""
    problems: list[str] = []
    endpoint = traces_endpoint(environ)
    if not endpoint.startswith(("http://", "https://")):
        problems.append(f"OTEL_EXPORTER_OTLP_ENDPOINT: expected an http(s):// URL, got {endpoint[:80]!r}")
    compression: Compression | None = None
    raw_compression = _setting(environ, "COMPRESSION")
    if raw_compression:
        try:
            compression = Compression(raw_compression.strip().lower())
        except ValueError:
            problems.append(
                f"OTEL_EXPORTER_OTLP_COMPRESSION: expected none, gzip or deflate, got {raw_compression[:20]!r}"
            )
    timeout = _number("OTEL_EXPORTER_OTLP_TIMEOUT", _setting(environ, "TIMEOUT"), problems)
    batch = {
        option: _number(name, environ.get(name), problems)
        for option, name in (
            ("schedule_delay_millis", "OTEL_BSP_SCHEDULE_DELAY"),
            ("export_timeout_millis", "OTEL_BSP_EXPORT_TIMEOUT"),
            ("max_queue_size", "OTEL_BSP_MAX_QUEUE_SIZE"),
            ("max_export_batch_size", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
        )
    }
    if problems:
        raise ConfigError(problems)
    headers = parse_env_headers(_setting(environ, "HEADERS") or "", liberal=True)
    exporter = OTLPSpanExporter(
        endpoint=endpoint,
        headers=dict(headers),
        timeout=timeout,
        compression=compression,
    )
    queue, size = batch["max_queue_size"], batch["max_export_batch_size"]
    processor = BatchSpanProcessor(
        exporter,
        schedule_delay_millis=batch["schedule_delay_millis"],
        export_timeout_millis=batch["export_timeout_millis"],
        max_queue_size=None if queue is None else int(queue),
        max_export_batch_size=None if size is None else int(size),
    )
    provider = TracerProvider(resource=Resource.create(resource_attributes(environ)))
    provider.add_span_processor(processor)
    # What the startup log line shows: never credentials embedded in the URL.
    parts = urlsplit(endpoint)
    shown = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return OtelTracer(provider), provider.shutdown, shown
