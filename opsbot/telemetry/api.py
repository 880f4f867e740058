"""The two small protocols the rest of opsbot talks to (tracing, error reporting) and their
do-nothing defaults; the SDK-backed implementations import only this module."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol

Attribute = str | bool | int | float



class Span(Protocol):
    """The span of one unit of work (a command, an action, an alert step)."""

    def set(self, **attributes: Attribute | None) -> None:
        """Add attributes; None values are left out."""

    def fail(self, description: str) -> None:
        """Mark the work as failed (e.g. the cluster refused) without an exception to show."""

    def record_exception(self, exc: BaseException) -> None:
        """Attach an exception (its text scrubbed of tokens) and mark the work as failed."""


class Tracer(Protocol):
    def span(self, name: str, **attributes: Attribute | None) -> AbstractContextManager[Span]:
        """A span around the `with` body; it becomes the parent of spans started inside."""


class ErrorReporter(Protocol):
    def capture(self, exc: BaseException, **context: Attribute | None) -> None:
        """Report an unexpected exception (a bug), with a few tags saying where it happened."""


class NoopSpan:
    def set(self, **attributes: Attribute | None) -> None:
        pass

    def fail(self, description: str) -> None:
        pass

    def record_exception(self, exc: BaseException) -> None:
        pass


_NOOP_SPAN = NoopSpan()


class NoopTracer:
    """The default: no spans, no cost beyond a function call."""

    @contextlib.contextmanager
    def span(self, name: str, **attributes: Attribute | None) -> Iterator[Span]:
        yield _NOOP_SPAN


class NoopErrorReporter:
    """The default: the structlog error line is the whole report."""

    def capture(self, exc: BaseException, **context: Attribute | None) -> None:
        pass


NOOP_TRACER: Tracer = NoopTracer()
NOOP_ERRORS: ErrorReporter = NoopErrorReporter()
