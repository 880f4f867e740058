"""Kubernetes naming rules and our own limits, checked before any API call."""

from __future__ import annotations

import re

from opsbot.errors import InvalidNameError

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DURATION_PART = re.compile(r"(\d+)([smhd])")
_SELECTOR_OPERATOR = re.compile(r"\s*(!=|==|=)\s*")
_SET_EXPRESSION = re.compile(r"^(?P<key>[^\s!=()]+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and _DNS1123_LABEL.fullmatch(value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(value) is not None


def _show(value: str) -> str:
    shown = value if len(value) <= 60 else value[:57] + "…"
    return repr(shown)


def namespace_name(value: str) -> str:
    if not is_dns1123_label(value):
        raise InvalidNameError(
            f"{_show(value)} is not a valid namespace name: use at most 63 lowercase letters, "
            "digits and '-', starting and ending with a letter or digit"
        )
    return value


def object_name(value: str, *, kind: str) -> str:
    """Pods, deployments and nodes use DNS-1123 subdomain names."""
    if not is_dns1123_subdomain(value):
        raise InvalidNameError(
            f"{_show(value)} is not a valid {kind} name: use at most 253 lowercase letters, "
            "digits, '-' and '.', starting and ending with a letter or digit"
        )
    return value


def container_name(value: str) -> str:
    if not is_dns1123_label(value):
        raise InvalidNameError(f"{_show(value)} is not a valid container name")
    return value


def _label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and not is_dns1123_subdomain(prefix):
        return False
    return len(name) <= 63 and _LABEL_NAME.fullmatch(name) is not None


def _label_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and _LABEL_NAME.fullmatch(value) is not None)


def label_selector(value: str) -> str:
    """Accept what kubectl accepts for -l; reject anything else before the API sees it."""
    if len(value) > 1024:
        raise InvalidNameError("label selector is too long")
    requirements = split_requirements(value)
    if not requirements:
        raise InvalidNameError("label selector is empty")
    for requirement in requirements:
        if not _valid_requirement(requirement.strip()):
            raise InvalidNameError(
                f"{_show(requirement.strip())} is not a valid label selector "
                "(examples: app=api, tier!=db, env in (prod,staging), !canary)"
            )
    return ",".join(requirement.strip() for requirement in requirements)


def split_requirements(value: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in value:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()] if value.strip() else []


def _valid_requirement(requirement: str) -> bool:
    if requirement.startswith("!"):
        return _label_key(requirement[1:].strip())
    match = _SET_EXPRESSION.match(requirement)
    if match:
        values = [v.strip() for v in match["values"].split(",")]
        return _label_key(match["key"]) and all(_label_value(v) for v in values)
    pieces = _SELECTOR_OPERATOR.split(requirement, maxsplit=1)
    if len(pieces) == 1:
        return _label_key(requirement)
    key, _operator, val = pieces
    return _label_key(key) and _label_value(val)


def duration_seconds(value: str) -> int:
    """'10m', '1h30m', '45s', '2d' → seconds."""
    text = value.strip().lower()
    position = 0
    total = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += int(match[1]) * _UNITS[match[2]]
        position = match.end()
    if position != len(text) or not text or total <= 0:
        raise InvalidNameError(f"{_show(value)} is not a duration (examples: 30s, 10m, 2h, 1h30m)")
    if total > 30 * 86400:
        raise InvalidNameError("duration is longer than 30 days")
    return total


def bounded_int(value: str, *, what: str, low: int, high: int) -> int:
    """A whole number in ASCII digits (not `３` or `٣`, which Python's int() would accept)."""
    allowed = f"a whole number from {low} to {high}"
    text = value.strip()
    if not re.fullmatch(r"[0-9]{1,9}", text, flags=re.ASCII):
        raise InvalidNameError(f"{what} must be {allowed}, got {_show(value)}")
    number = int(text)
    if number < low or number > high:
        raise InvalidNameError(f"{what} must be {allowed}, got {number}")
    return number
