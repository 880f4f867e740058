"""What replicas hand each other (opsbot.alertmanager.handoff), without a network: signed with
the key every replica derives from the bot token, and nothing malformed gets through."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from opsbot.alertmanager.cards import APPROVE_ACTION
from opsbot.alertmanager.handoff import (
    SilencesMade,
    click_document,
    made_document,
    parse_click,
    parse_ended,
    replica_key,
    signed_request,
)
from opsbot.alertmanager.payload import PayloadError
from opsbot.alertmanager.service import CLICKS as ACTIONS
from opsbot.alertmanager.signing import verify
from opsbot.core.request import ButtonClick

CLICK = ButtonClick("U0BOB0001", "C0ALERTS01", None, f"{APPROVE_ACTION}:0", "r-1", frozenset({"S0OPS"}))
UNTIL = datetime(2030, 1, 1, 14, 0, tzinfo=UTC)


def test_a_click_is_signed_with_the_replicas_key_and_read_back_as_it_was() -> None:
    key = replica_key("xoxb-the-bots-token")
    assert "xoxb" not in key.reveal() and key.reveal() == replica_key("xoxb-the-bots-token").reveal()
    body, headers = signed_request(click_document(CLICK), key, time.time())
    lowered = {name.lower(): value for name, value in headers.items()}
    assert verify(key.reveal(), lowered, body, time.time()) is None
    assert verify(replica_key("xoxb-another-app").reveal(), lowered, body, time.time()) == "no valid signature"
    assert parse_click(click_document(CLICK), ACTIONS) == CLICK


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"action_id": "opsbot:restart:0"}, "action_id"),
        ({"user_id": "<@U1>"}, "user_id"),
        ({"channel_id": ""}, "channel_id"),
        ({"value": "x" * 301}, "value"),
        ({"usergroups": ["S1", 7]}, "usergroups"),
    ],
)
def test_a_malformed_click_is_refused(change: dict[str, Any], error: str) -> None:
    with pytest.raises(PayloadError, match=error):
        parse_click({**click_document(CLICK), **change}, ACTIONS)


def test_silence_notes_round_trip_and_malformed_ones_are_refused() -> None:
    document = made_document([("6f1b2c3d-aaaa", "00000000000000bb")], "U0BOB0001", "bob", UNTIL, "C0OPS0001", None)
    made = SilencesMade(document)
    assert (made.made, made.user_id, made.user_name, made.until, made.thread) == (
        [("6f1b2c3d-aaaa", "00000000000000bb")], "U0BOB0001", "bob", UNTIL, None,
    )  # fmt: skip
    malformed: list[dict[str, Any]] = [
        {"made": []},
        {"made": [["id", "not-a-fingerprint"]]},
        {"until": "tomorrow"},
        {"user_id": None},
    ]
    for bad in malformed:
        with pytest.raises(PayloadError):
            SilencesMade({**document, **bad})
    assert parse_ended({"ended": ["6f1b2c3d-aaaa"], "by": "U0BOB0001"}) == ({"6f1b2c3d-aaaa"}, "U0BOB0001")
    with pytest.raises(PayloadError):
        parse_ended({"ended": ["; DROP"], "by": ""})
