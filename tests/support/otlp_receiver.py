"""A loopback OTLP/HTTP trace receiver: what a collector sees of opsbot's spans.

Why: the tracing tests must exercise the real exporter (protobuf over HTTP, batch
processor, flush on shutdown), not a fake tracer. It accepts ``POST /v1/traces``
with an ``ExportTraceServiceRequest`` (optionally gzip/deflate-compressed), records
every span with its resource, and lets a test await a span instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.support.loopback import LoopbackSite, decompress

PROTOBUF = "application/x-protobuf"

STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status_code: int
    status_message: str
    events: list[tuple[str, dict[str, Any]]]
    resource: dict[str, Any]
    scope: str
    start_ns: int
    end_ns: int


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._site = LoopbackSite()
        self._arrived = asyncio.Event()

    @property
    def endpoint(self) -> str:
        """The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it (the exporter adds /v1/traces)."""
        return f"http://127.0.0.1:{self._site.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/traces", self._traces)
        # Bodies are decompressed here, by Content-Encoding, as a collector does.
        await self._site.start(app)

    async def stop(self) -> None:
        await self._site.stop()

    async def wait_for_span(
        self, predicate: Callable[[ReceivedSpan], bool], *, timeout: float = 10.0
    ) -> ReceivedSpan:
        """The first received span matching `predicate`; AssertionError after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = next((span for span in self.spans if predicate(span)), None)
            if found is not None:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                names = [(span.name, span.attributes) for span in self.spans]
                raise AssertionError(f"no matching span within {timeout}s; received: {names}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    def named(self, name: str) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.name == name]

    async def _traces(self, request: web.Request) -> web.Response:
        if request.content_type != PROTOBUF:
            return web.Response(status=415, text=f"expected {PROTOBUF}")
        body = decompress(await request.read(), request.headers.get("Content-Encoding", ""))
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        self.requests += 1
        for resource_spans in message.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes=_attributes(span.attributes),
                            status_code=int(span.status.code),
                            status_message=span.status.message,
                            events=[(event.name, _attributes(event.attributes)) for event in span.events],
                            resource=resource,
                            scope=scope_spans.scope.name,
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                        )
                    )
        self._arrived.set()
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(), content_type=PROTOBUF)



def _attributes(pairs: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for pair in pairs:
        assert isinstance(pair, KeyValue)
        result[pair.key] = _value(pair.value)
    return result


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, which)
