"""Tracing and error reporting are optional: off by default, a clear error when asked for but missing."""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import opsbot.telemetry
from opsbot import __version__
from opsbot.alerts.mutes import MuteList
from opsbot.alerts.service import AlertService
from opsbot.app import run_bot
from opsbot.config import Secrets, parse_settings
from opsbot.errors import ConfigError
from opsbot.kube.watch import WatchRunner
from opsbot.telemetry import NoopErrorReporter, NoopTracer, Telemetry, from_environ
from opsbot.telemetry.otel import OtelTracer, resource_attributes, traces_endpoint
from opsbot.telemetry.sentry import scrub

PACKAGE = Path(__file__).resolve().parents[2] / "opsbot"
TOKEN = "xoxb-1234-5678-abcdefABCDEF"

OTEL_MISSING = (
    "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed: pip install 'opsbot[otel]'"
)
SENTRY_MISSING = "SENTRY_DSN is set but sentry-sdk is not installed: pip install 'opsbot[sentry]'"


def hide(monkeypatch: pytest.MonkeyPatch, package: str, wrapper: str) -> None:
    """Make `package` unimportable (as if not installed) and forget opsbot's wrapper of it."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, package, None)
    monkeypatch.delitem(sys.modules, f"opsbot.telemetry.{wrapper}", raising=False)
    monkeypatch.delattr(opsbot.telemetry, wrapper, raising=False)


def test_nothing_configured_gives_the_no_ops_without_either_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "opentelemetry", "otel")
    hide(monkeypatch, "sentry_sdk", "sentry")
    telemetry = from_environ({"OTEL_SERVICE_NAME": "x", "SENTRY_ENVIRONMENT": "prod"})
    assert isinstance(telemetry.tracer, NoopTracer)
    assert isinstance(telemetry.errors, NoopErrorReporter)
    with telemetry.tracer.span("opsbot.command", **{"opsbot.command": "pods"}) as span:
        span.set(**{"opsbot.outcome": "ok"})
        span.fail("no")
        span.record_exception(RuntimeError("x"))
    telemetry.errors.capture(RuntimeError("x"), where="test")
    telemetry.shutdown()


def test_otel_endpoint_without_the_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "opentelemetry", "otel")
    with pytest.raises(ConfigError) as caught:
        from_environ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert caught.value.problems == [OTEL_MISSING]


def test_sentry_dsn_without_the_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "sentry_sdk", "sentry")
    with pytest.raises(ConfigError) as caught:
        from_environ({"SENTRY_DSN": "https://public@sentry.example.com/1"})
    assert caught.value.problems == [SENTRY_MISSING]


def test_both_missing_name_both_and_run_bot_stops_before_starting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hide(monkeypatch, "opentelemetry", "otel")
    hide(monkeypatch, "sentry_sdk", "sentry")
    settings = parse_settings(
        {
            "clusters": {"c": {"kubeconfig": str(tmp_path / "none")}},
            "store": {"path": str(tmp_path / "db")},
            "alerts": {"enabled": False},
        }
    )
    secrets = Secrets(bot_token=TOKEN, app_token="xapp-1-2", slack_api_url="http://127.0.0.1:9/api/")
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "SENTRY_DSN": "https://k@h/1"}
    with pytest.raises(ConfigError) as caught:
        asyncio.run(run_bot(settings, secrets, environ=environ))
    assert caught.value.problems == [OTEL_MISSING, SENTRY_MISSING]
    assert not (tmp_path / "db").exists()  # nothing was built


def test_the_core_package_imports_and_builds_without_either_sdk() -> None:
    """A fresh interpreter where both SDKs are absent: the bot's modules import and the defaults work."""
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "sys.modules['sentry_sdk'] = None\n"
        "import opsbot.app, opsbot.cli, opsbot.telemetry\n"
        "t = opsbot.telemetry.from_environ({})\n"
        "assert type(t.tracer).__name__ == 'NoopTracer'\n"
        "assert not [m for m in sys.modules if m.startswith(('opentelemetry.', 'sentry_sdk.'))]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_only_the_wrappers_import_the_sdks() -> None:
    owners = {"opentelemetry": "telemetry/otel.py", "sentry_sdk": "telemetry/sentry.py"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in owners and path.relative_to(PACKAGE).as_posix() != owners[top]:
                    offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert offenders == []


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "expected an http(s):// URL"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_BSP_SCHEDULE_DELAY": "soon"}, "OTEL_BSP"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, "gzip"),
        ({"SENTRY_DSN": "not a dsn"}, "SENTRY_DSN: not a valid Sentry DSN"),
        ({"SENTRY_DSN": "https://k@h/1", "SENTRY_TRACES_SAMPLE_RATE": "2"}, "from 0 to 1"),
    ],
    ids=["endpoint-not-url", "bsp-not-number", "unknown-compression", "bad-dsn", "rate-out-of-range"],
)
def test_unusable_settings_are_config_errors(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_environ(environ)
    assert any(problem in line for line in caught.value.problems), caught.value.problems


def test_sdk_disabled_turns_tracing_off() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}
    assert isinstance(from_environ(environ).tracer, NoopTracer)


def test_endpoint_and_resource_follow_the_otel_variables() -> None:
    assert traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == "http://c:4318/v1/traces"
    specific = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x",
    }
    assert traces_endpoint(specific) == "http://t/x"
    assert resource_attributes({}) == {"service.name": "opsbot", "service.version": __version__}
    attributes = resource_attributes(
        {
            "OTEL_RESOURCE_ATTRIBUTES": "service.name=a,k8s.namespace.name=ops%20bot,broken",
            "OTEL_SERVICE_NAME": "b",
        }
    )
    assert attributes == {
        "service.name": "b",
        "k8s.namespace.name": "ops bot",
        "service.version": __version__,
    }


def test_spans_redact_tokens_in_attributes_and_exceptions() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = OtelTracer(provider)
    with pytest.raises(RuntimeError), tracer.span("outer", **{"opsbot.command_line": f"logs {TOKEN}"}):
        with tracer.span("inner") as inner:
            inner.record_exception(ValueError(f"bad {TOKEN}"))
        raise RuntimeError(f"escaped with {TOKEN}")
    inner_span, outer_span = exporter.get_finished_spans()
    assert inner_span.parent is not None and outer_span.context is not None
    assert inner_span.parent.span_id == outer_span.context.span_id
    assert outer_span.attributes is not None
    assert outer_span.attributes["opsbot.command_line"] == "logs xoxb-[redacted]"
    for span in (inner_span, outer_span):
        assert not span.status.is_ok
        (event,) = span.events
        assert event.attributes is not None
        assert TOKEN not in str(dict(event.attributes)) and "[redacted]" in str(
            event.attributes["exception.message"]
        )


def test_sentry_events_are_scrubbed_everywhere() -> None:
    event = {
        "message": f"token {TOKEN}",
        "exception": {"values": [{"type": "RuntimeError", "value": f"Authorization: Bearer {TOKEN}"}]},
        "breadcrumbs": {"values": [{"message": f"xapp-1-A0-123 and {TOKEN}"}]},
        "extra": {"nested": [(f"{TOKEN}",)]},
        "level": "error",
    }
    scrubbed = scrub(event, {})  # type: ignore[arg-type]
    assert scrubbed is not None
    assert TOKEN not in repr(scrubbed) and "xapp-1-A0-123" not in repr(scrubbed)
    assert scrubbed["level"] == "error"


def test_shutdown_runs_each_closer_once_and_survives_a_failing_one() -> None:
    calls: list[str] = []

    def failing() -> None:
        calls.append("failing")
        raise RuntimeError("exporter gone")

    telemetry = Telemetry(closers=(failing, lambda: calls.append("second")))
    telemetry.shutdown()
    telemetry.shutdown()
    assert calls == ["failing", "second"]


class RecordingReporter:
    def __init__(self) -> None:
        self.reports: list[tuple[str, dict[str, Any]]] = []

    def capture(self, exc: BaseException, **context: Any) -> None:
        self.reports.append((type(exc).__name__, context))


class CrashingWatch:
    """Just what WatchRunner reads of a ResourceWatch; run() hits a bug once, then stops."""

    cluster, resource, namespace = "prod", "pods", None

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.finished = False
        self.restarts = 0

    def run(self) -> None:
        if self.restarts == 0:
            raise KeyError("status")
        self.finished = True

    def note_restart(self) -> None:
        self.restarts += 1


def test_a_crashed_watch_loop_is_reported_and_restarted() -> None:
    reporter = RecordingReporter()
    watch = CrashingWatch()
    runner = WatchRunner([cast(Any, watch)], restart_delay=0.0, errors=reporter)
    runner._supervise(cast(Any, watch))
    assert watch.restarts == 1
    assert reporter.reports == [
        ("KeyError", {"where": "watch", "cluster": "prod", "resource": "pods", "namespace": None})
    ]


async def test_the_alert_consumer_reports_a_failed_event_and_goes_on() -> None:
    reporter = RecordingReporter()
    unused = cast(Any, None)
    service = AlertService(
        unused,
        unused,
        unused,
        unused,
        unused,
        mutes=MuteList([]),
        enabled=frozenset(),
        run_blocking=unused,
        errors=reporter,
    )
    handled: list[str] = []
    done = asyncio.Event()

    async def handle(event: Any) -> None:
        if event.type == "BROKEN":
            raise ValueError("bad object")
        handled.append(event.type)
        done.set()

    service.pipeline.handle = handle  # type: ignore[method-assign]
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for kind in ("BROKEN", "ADDED"):
        queue.put_nowait(SimpleNamespace(cluster="prod", resource="pods", type=kind))
    consumer = asyncio.create_task(service.consume(queue))
    try:
        await asyncio.wait_for(done.wait(), 5)
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
    assert handled == ["ADDED"]
    assert reporter.reports == [
        ("ValueError", {"where": "alert_consumer", "cluster": "prod", "resource": "pods"})
    ]
