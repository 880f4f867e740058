"""Unexpected exceptions to Sentry: the only module importing sentry_sdk.

Built only when SENTRY_DSN is set. Reporting is explicit: the places that catch
what should never happen (a crashed command, a dead alert consumer, a watch loop
bug) call :meth:`SentryReporter.capture`. Log lines never become events (so a
Kubernetes refusal logged at error level is not reported), no local variables or
default PII are sent, and every event passes through the same token redaction as
the logs before it leaves the process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.utils import BadDsn

from opsbot import __version__
from opsbot.errors import ConfigError
from opsbot.logs import redact_value
from opsbot.telemetry.api import Attribute

if TYPE_CHECKING:
    from sentry_sdk._types import Event, Hint

FLUSH_SECONDS = 5.0


def scrub(event: Event, hint: Hint) -> Event | None:
    """before_send: anything shaped like a Slack token (or bearer token) is redacted, anywhere."""
    scrubbed: Event = redact_value(event)
    return scrubbed


class SentryReporter:
    def __init__(self, client: sentry_sdk.client.BaseClient) -> None:
        self._client = client

    def capture(self, exc: BaseException, **context: Attribute | None) -> None:
        # A forked scope per report: tags from one report never leak into the next,
        # whichever thread (event loop, watch thread) reports.
        with sentry_sdk.new_scope() as scope:
            scope.set_client(self._client)
            for key, value in context.items():
                if value is not None:
                    scope.set_tag(key, value)
            scope.capture_exception(exc)

    def close(self) -> None:
        self._client.close(timeout=FLUSH_SECONDS)


def build(environ: Mapping[str, str]) -> tuple[SentryReporter, Callable[[], None]]:
    """sentry_sdk.init from SENTRY_DSN, SENTRY_ENVIRONMENT and SENTRY_TRACES_SAMPLE_RATE (default 0)."""
    raw_rate = environ.get("SENTRY_TRACES_SAMPLE_RATE") or "0"
    try:
        rate = float(raw_rate)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(
            [f"SENTRY_TRACES_SAMPLE_RATE: expected a number from 0 to 1, got {raw_rate[:20]!r}"]
        )
    try:
        sentry_sdk.init(
            dsn=environ["SENTRY_DSN"],
            release=f"opsbot@{__version__}",
            environment=environ.get("SENTRY_ENVIRONMENT") or None,
            send_default_pii=False,
            include_local_variables=False,
            traces_sample_rate=rate,
            before_send=scrub,
            # No events and no breadcrumbs from log lines: only explicit reports.
            integrations=[LoggingIntegration(level=None, event_level=None)],
            # No silent patching of aiohttp and friends: reports come from our catch-alls.
            auto_enabling_integrations=False,
        )
    except BadDsn as exc:
        raise ConfigError([f"SENTRY_DSN: not a valid Sentry DSN ({exc})"]) from None
    reporter = SentryReporter(sentry_sdk.get_client())
    return reporter, reporter.close
