"""The short id a person types back (``unmute k7m2qx``, ``incidents``): derived from the incident's
full id, unique among the incidents opsbot knows, stable across restarts (it is stored with
the incident; one stored before refs existed gets the same ref again when it is read).

The alphabet has no vowels (no words by accident) and none of ``0 o 1 l i`` (nothing to
misread); six characters give about 387 million refs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container

ALPHABET = "bcdfghjkmnpqrstvwxz23456789"
LENGTH = 6
_TRIES = 8


def _encode(number: int, length: int) -> str:
    out = []
    for _ in range(length):
        number, rest = divmod(number, len(ALPHABET))
        out.append(ALPHABET[rest])
    return "".join(out)


def short_ref(incident_id: str, taken: Container[str] = ()) -> str:
    """A ref for ``incident_id`` that is not in ``taken`` (the same one each time for the same
    id and the same ``taken``)."""
    number = int.from_bytes(hashlib.sha256(incident_id.encode()).digest(), "big")
    for attempt in range(_TRIES):
        ref = _encode(number >> (attempt * 29), LENGTH + attempt // 4)
        if ref not in taken:
            return ref
    # Eight collisions in a row: not with a real number of incidents, but never a duplicate.
    index = 0
    while (ref := _encode(number + index, LENGTH + 2)) in taken:
        index += 1
    return ref


def looks_like_ref(text: str) -> bool:
    return LENGTH <= len(text) <= LENGTH + 2 and all(char in ALPHABET for char in text)
