"""Turn what Slack delivers into what the person typed.

Slack rewrites messages: mentions become `<@U123>`, things that look like URLs or
domains become `<http://x|x>`, quotes turn smart and `--` may turn into an em dash.
We undo that before parsing, so `logs api.example-7d9f` means what it says.
"""

from __future__ import annotations

import re
import shlex
import unicodedata

from opsbot.errors import UsageError

_LEADING_MENTION = re.compile(r"^\s*<@[UW][A-Z0-9]+(\|[^>]*)?>[\s:,]*")
_ANGLE = re.compile(r"<([^<>]*)>")
_CODE_FENCE = re.compile(r"```")
_TRANSLATIONS = str.maketrans(
    {
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "`": " ",
    }
)
_DASHES = re.compile(r"(?:(?<=\s)|^)[\u2014\u2013](?=\S)")


def _angle_replacement(match: re.Match[str]) -> str:
    inner = match.group(1)
    if inner.startswith(("!", "@")):
        # <!here>, <!channel>, <@U123> in the middle of a command: not command words
        return " " if inner.startswith("!") else inner.split("|", 1)[0].lstrip("@")
    if inner.startswith("#"):
        # <#C123|general> → #C123: the channel's id (names change; ids are what we key on)
        return inner.split("|", 1)[0]
    parts = inner.split("|", 1)
    if len(parts) == 2:
        return parts[1]
    link = parts[0]
    for scheme in ("mailto:", "http://", "https://"):
        if link.startswith(scheme):
            return link[len(scheme) :]
    return link


def normalize(text: str) -> str:
    """Strip the bot mention and Slack markup; keep everything else as typed."""
    text = _LEADING_MENTION.sub("", text, count=1)
    text = _ANGLE.sub(_angle_replacement, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = _CODE_FENCE.sub(" ", text)
    text = text.translate(_TRANSLATIONS)
    text = _DASHES.sub("--", text)
    return " ".join(text.split())


def tokenize(text: str) -> list[str]:
    """Split like a shell would quote — but nothing is ever executed."""
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        lexer.commenters = ""
        return list(lexer)
    except ValueError as exc:
        raise UsageError(f"could not read the command: {exc} (check your quotes)") from None


def visible(text: str) -> str:
    """What may be echoed back: control, format (zero-width, bidi) and odd space characters
    dropped, so a reply never carries characters nobody can see."""
    shown = "".join(ch for ch in text if ch == " " or unicodedata.category(ch)[0] not in "CZ")
    return shown or "(invisible characters)"
