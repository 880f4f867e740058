"""In-process Slack emulator for end-to-end tests.

Why: opsbot talks to Slack only through slack_sdk / slack_bolt. Serving the Web
API, response_url endpoints and Socket Mode from one local aiohttp app lets the
real, unmodified clients run against it, so tests exercise the wire behaviour
(acks, redeliveries, reconnects, rate limits, Block Kit limits) without network.
Wire facts follow /work/shared/docs/slack-protocol.md.

Layout (one `SlackEmulator` class, assembled from parts that share its state):

- ``core``         the state: world (users, channels, messages), records, event-driven waits
- ``records``      Post, Sent, Envelope, UploadedFile and internal bookkeeping records
- ``wire``         Web API error replies and lenient argument parsing
- ``blocks``       Block Kit validation (the limits Slack enforces server side)
- ``socket_mode``  the websocket link: tickets, hello, envelopes, acks, disconnects
- ``chat``         chat.*, reactions.* and response_url posts
- ``web_api``      /api/<method> dispatch (auth, faults, rate limits), users, conversations, files
- ``scenarios``    test driving: mention, dm, message, slash, click, redeliver, fault injection
- ``waiting``      test driving: wait_for_* helpers and settle()
- ``emulator``     SlackEmulator itself and its start/stop lifecycle
"""

from .blocks import (
    MAX_ACTIONS_ELEMENTS,
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_BUTTON_VALUE,
    MAX_CONFIRM_TEXT,
    MAX_CONFIRM_TITLE,
    MAX_CONTEXT_ELEMENTS,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_ID_LENGTH,
    MAX_MESSAGE_TEXT,
    MAX_SECTION_FIELDS,
    MAX_SECTION_TEXT,
    validate_blocks,
)
from .core import APP_MANIFEST, manifest_bot_scopes
from .emulator import SlackEmulator
from .records import Envelope, Post, Sent, UploadedFile
from .socket_mode import MAX_WS_MESSAGE

__all__ = [
    "APP_MANIFEST",
    "MAX_ACTIONS_ELEMENTS",
    "MAX_BLOCKS",
    "MAX_BUTTON_TEXT",
    "MAX_BUTTON_VALUE",
    "MAX_CONFIRM_TEXT",
    "MAX_CONFIRM_TITLE",
    "MAX_CONTEXT_ELEMENTS",
    "MAX_FIELD_TEXT",
    "MAX_HEADER_TEXT",
    "MAX_ID_LENGTH",
    "MAX_MESSAGE_TEXT",
    "MAX_SECTION_FIELDS",
    "MAX_SECTION_TEXT",
    "MAX_WS_MESSAGE",
    "Envelope",
    "Post",
    "Sent",
    "SlackEmulator",
    "UploadedFile",
    "manifest_bot_scopes",
    "validate_blocks",
]
