"""Reply → terminal text (pure). Slack mrkdwn is turned into plain text, so what a
command says reads the same in a terminal as in a channel."""

from __future__ import annotations

import re

from opsbot.core.reply import Code, Fields, Reply, Table, Text, Tone
from opsbot.slack.render import table_lines

_TONE_MARK: dict[Tone, str] = {"info": "", "success": "✓ ", "warning": "! ", "error": "✗ "}
_TONE_COLOUR: dict[Tone, str] = {"info": "1", "success": "1;32", "warning": "1;33", "error": "1;31"}

_USER = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_BOLD = re.compile(r"(?<![\w*])\*(\S(?:[^*\n]*\S)?)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(\S(?:[^_\n]*\S)?)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(\S(?:[^~\n]*\S)?)~(?![\w~])")
_FENCE = re.compile(r"```\n?(.*?)\n?```", re.DOTALL)
_EMOJI = {
    ":white_check_mark:": "✓",
    ":x:": "✗",
    ":warning:": "!",
    ":no_bell:": "🔕",
    ":rotating_light:": "!",
    ":hourglass_flowing_sand:": "…",
}


def plain(markdown: str) -> str:
    """Slack mrkdwn → text: links, mentions, emphasis and entities resolved; `code` keeps its
    backticks, which read as "type this" in a terminal too."""
    text = _FENCE.sub(lambda m: "\n".join("    " + line for line in m.group(1).split("\n")), markdown)
    text = _USER.sub(r"@\1", text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(r"@\1", text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), text)
    text = _BOLD.sub(r"\1", text)
    text = _ITALIC.sub(r"\1", text)
    text = _STRIKE.sub(r"\1", text)
    for code, symbol in _EMOJI.items():
        text = text.replace(code, symbol)
    # Entities last: an escaped "&lt;" in user text must not become markup above.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_text(reply: Reply, *, colour: bool = False) -> str:
    """The whole reply, attachments in full: a terminal has no 3000-character limit."""
    title = _TONE_MARK[reply.tone] + plain(reply.title)
    if colour:
        title = f"\x1b[{_TONE_COLOUR[reply.tone]}m{title}\x1b[0m"
    lines = [title]
    if reply.where:
        lines.append(plain(reply.where))
    for part in reply.parts:
        if isinstance(part, Text):
            lines.append(plain(part.markdown))
        elif isinstance(part, Fields):
            lines.extend(f"{plain(label)}: {plain(value)}" for label, value in part.pairs)
        elif isinstance(part, Table):
            lines.extend(table_lines(part))
            if part.hidden > 0:
                lines.append(plain(f"… and {part.hidden} more. {part.hint}".rstrip()))
        elif isinstance(part, Code):
            lines.append(part.text)
    if reply.attachment is not None:
        lines.append(f"--- {reply.attachment.filename} ---")
        lines.append(reply.attachment.content.rstrip("\n"))
    return "\n".join(lines)
