"""Label selectors matched in-process, the way the API server matches them (for cached reads).

Only selectors that `opsbot.core.validation.label_selector` accepted reach here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from opsbot.core.validation import label_selector, split_requirements

Matcher = Callable[[Mapping[str, str]], bool]

_SET = re.compile(r"^(?P<key>[^\s!=()]+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")
_OPERATOR = re.compile(r"\s*(!=|==|=)\s*")


def _requirement(text: str) -> Matcher:
    text = text.strip()
    if text.startswith("!"):
        absent = text[1:].strip()
        return lambda labels: absent not in labels
    found = _SET.match(text)
    if found:
        key, values = found["key"], {value.strip() for value in found["values"].split(",")}
        if found["op"] == "in":
            return lambda labels: labels.get(key) in values
        # notin also matches objects without the label, as the API server does.
        return lambda labels: labels.get(key) not in values
    pieces = _OPERATOR.split(text, maxsplit=1)
    if len(pieces) == 1:
        return lambda labels: text in labels
    key, operator, value = pieces
    if operator == "!=":
        return lambda labels: labels.get(key) != value
    return lambda labels: labels.get(key) == value


def matcher(selector: str | None) -> Matcher:
    """A predicate over an object's labels; None or "" matches everything."""
    if not selector:
        return lambda labels: True
    requirements = [_requirement(part) for part in split_requirements(label_selector(selector))]
    return lambda labels: all(requirement(labels) for requirement in requirements)
