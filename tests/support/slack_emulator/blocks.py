"""Block Kit validation: the limits Slack enforces server side on blocks and messages.

Why: Slack rejects an oversized or malformed message with `invalid_blocks` and a
json-pointer to the culprit; the emulator does the same so a rendering bug fails a
test instead of a production post. Limits follow /work/shared/docs/slack-protocol.md.
"""

from __future__ import annotations

from typing import Any

from .wire import ApiError, parse_json_arg

# Block Kit / message limits Slack enforces server side (see the protocol doc).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID_LENGTH = 255
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_MESSAGE_TEXT = 40000


def _text_of(obj: Any) -> str:
    """The string inside a Block Kit text object (or "" if absent)."""
    if isinstance(obj, dict):
        text = obj.get("text")
        return text if isinstance(text, str) else ""
    return ""


def _check_len(value: str, limit: int, pointer: str) -> None:
    if len(value) > limit:
        raise ApiError(
            "invalid_blocks",
            f"[ERROR] must be less than {limit + 1} characters [json-pointer:{pointer}]",
        )


def _validate_element(element: Any, pointer: str) -> None:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        raise ApiError("invalid_blocks", f"[ERROR] missing required field: type [json-pointer:{pointer}]")
    action_id = element.get("action_id")
    if isinstance(action_id, str):
        _check_len(action_id, MAX_ID_LENGTH, f"{pointer}/action_id")
    if element["type"] == "button":
        _check_len(_text_of(element.get("text")), MAX_BUTTON_TEXT, f"{pointer}/text/text")
        value = element.get("value")
        if isinstance(value, str):
            _check_len(value, MAX_BUTTON_VALUE, f"{pointer}/value")
    confirm = element.get("confirm")
    if isinstance(confirm, dict):
        _check_len(_text_of(confirm.get("title")), MAX_CONFIRM_TITLE, f"{pointer}/confirm/title")
        _check_len(_text_of(confirm.get("text")), MAX_CONFIRM_TEXT, f"{pointer}/confirm/text")


def validate_blocks(raw: Any) -> list[dict[str, Any]]:
    """Parse and check blocks the way Slack does server side; raise ApiError("invalid_blocks")."""
    if raw is None or raw == "":
        return []
    blocks = parse_json_arg(raw, "invalid_blocks")
    if not isinstance(blocks, list):
        raise ApiError("invalid_blocks", "[ERROR] blocks must be an array")
    if len(blocks) > MAX_BLOCKS:
        raise ApiError(
            "invalid_blocks",
            f"[ERROR] must provide an array with no more than {MAX_BLOCKS} items [json-pointer:/blocks]",
        )
    result: list[dict[str, Any]] = []
    for i, block in enumerate(blocks):
        ptr = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise ApiError("invalid_blocks", f"[ERROR] missing required field: type [json-pointer:{ptr}]")
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            _check_len(block_id, MAX_ID_LENGTH, f"{ptr}/block_id")
        kind = block["type"]
        if kind == "section":
            fields = block.get("fields")
            if block.get("text") is None and not fields:
                raise ApiError("invalid_blocks", f"[ERROR] must provide text or fields [json-pointer:{ptr}]")
            _check_len(_text_of(block.get("text")), MAX_SECTION_TEXT, f"{ptr}/text/text")
            if isinstance(fields, list):
                if len(fields) > MAX_SECTION_FIELDS:
                    raise ApiError(
                        "invalid_blocks",
                        "[ERROR] must provide an array with no more than "
                        f"{MAX_SECTION_FIELDS} items [json-pointer:{ptr}/fields]",
                    )
                for j, fld in enumerate(fields):
                    _check_len(_text_of(fld), MAX_FIELD_TEXT, f"{ptr}/fields/{j}/text")
            accessory = block.get("accessory")
            if accessory is not None:
                _validate_element(accessory, f"{ptr}/accessory")
        elif kind == "header":
            text = _text_of(block.get("text"))
            if not text:
                raise ApiError("invalid_blocks", f"[ERROR] missing required field: text [json-pointer:{ptr}]")
            _check_len(text, MAX_HEADER_TEXT, f"{ptr}/text/text")
        elif kind in ("actions", "context"):
            elements = block.get("elements")
            limit = MAX_ACTIONS_ELEMENTS if kind == "actions" else MAX_CONTEXT_ELEMENTS
            if not isinstance(elements, list) or not elements or len(elements) > limit:
                raise ApiError(
                    "invalid_blocks",
                    f"[ERROR] must provide an array with 1 to {limit} items [json-pointer:{ptr}/elements]",
                )
            if kind == "actions":
                for j, element in enumerate(elements):
                    _validate_element(element, f"{ptr}/elements/{j}")
        result.append(block)
    return result
