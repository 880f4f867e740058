"""structlog setup: JSON lines by default, console when attached to a TTY.

Library loggers (slack_sdk, slack_bolt, kubernetes, urllib3) go through the same
processors, and a redaction step removes anything shaped like a Slack token from
every event, so a token can never reach a log line, whoever logs it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_TOKEN = re.compile(r"\b(xox[abposr]|xapp)-[A-Za-z0-9-]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_TICKET = re.compile(r"(ticket=)[A-Za-z0-9-]+")
_WEBHOOK_SECRET = re.compile(r"\bwhsec_[A-Za-z0-9+/=]+")  # Standard Webhooks signing secrets


def redact_text(text: str) -> str:
    text = _TOKEN.sub(r"\1-[redacted]", text)
    text = _BEARER.sub(r"\1[redacted]", text)
    text = _WEBHOOK_SECRET.sub("whsec_[redacted]", text)
    return _TICKET.sub(r"\1[redacted]", text)


def redact_value(value: Any) -> Any:
    """`redact_text` through nested dicts, lists and tuples (log events, Sentry events)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(item) for item in value)
    return value


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        event_dict[key] = redact_value(value)
    return event_dict


def configure(fmt: str = "auto", level: str = "info") -> None:
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Any = structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The SDKs are chatty at INFO (and print websocket URLs at DEBUG).
    for name in ("slack_sdk", "slack_bolt", "kubernetes", "urllib3", "websockets", "aiohttp"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
