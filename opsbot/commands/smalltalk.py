"""Greetings and small talk, told apart from commands (pure).

"hi", "hey @opsbot", "good morning", "what's up?", "thanks!" are not commands, and a
colleague would not answer them with "I don't know the command `hi`". A text is small
talk only when *every* word of it is: a known phrase, a filler ("there", "team",
"opsbot"), a mention, an emoji or punctuation. Anything else stays a command (and an
unknown word still gets "did you mean"). "hi, pods -n web" is a greeting followed by a
command: `after_greeting` gives the command back.
"""

from __future__ import annotations

import re
from enum import Enum


class Talk(Enum):
    GREETING = "greeting"
    WHATS_UP = "whats_up"
    THANKS = "thanks"
    BYE = "bye"

    @property
    def command(self) -> str:
        """The command that answers it: "what's up?" is a status question, the rest `hello`."""
        return "status" if self is Talk.WHATS_UP else "hello"


_PHRASES: dict[Talk, tuple[str, ...]] = {
    Talk.GREETING: (
        "hi", "hello", "hey", "heya", "hiya", "yo", "howdy", "hola", "hallo", "greetings", "ping",
        "morning", "afternoon", "evening", "gm", "good morning", "good afternoon", "good evening",
        "good day", "how are you", "how are you doing", "how's it going", "how is it going",
        "how do you do", "how goes it", "you there", "are you there", "you alive", "are you alive",
        "long time no see", "nice to meet you",
    ),
    Talk.WHATS_UP: (
        "what's up", "whats up", "what is up", "wassup", "wazzup", "sup", "what's new", "whats new",
        "what's going on", "whats going on", "what is going on", "what's happening", "whats happening",
        "anything on fire", "anything broken", "anything wrong", "how's prod", "how is prod",
        "how are things", "how's it looking", "hows it looking", "how are we looking",
        "how are we doing", "what's the status", "whats the status", "status",
    ),
    Talk.THANKS: (
        "thanks", "thank you", "thank you very much", "thanks a lot", "thx", "ty", "tyvm", "cheers",
        "much appreciated", "appreciated", "great", "nice", "awesome", "perfect", "cool", "ok",
        "okay", "good bot", "nice one", "well done", "you rock", "brilliant", "lovely",
    ),
    Talk.BYE: (
        "bye", "goodbye", "good bye", "bye bye", "see you", "see ya", "see you later", "later",
        "good night", "gn", "cya", "ttyl",
    ),
}  # fmt: skip

_FILLER = frozenset(
    {
        "opsbot", "bot", "there", "team", "all", "folks", "everyone", "everybody", "guys", "y'all",
        "mate", "buddy", "friend", "again", "today", "so", "and", "oh", "well", "please", "pls",
        "lol", "haha", "then", "now", "dear", "you", "very", "much", "a", "lot", "so much",
    }
)  # fmt: skip

_LOOKUP = {phrase: talk for talk, phrases in _PHRASES.items() for phrase in phrases}
_LONGEST = max(len(phrase.split()) for phrase in _LOOKUP)
_PRIORITY = (Talk.WHATS_UP, Talk.THANKS, Talk.BYE, Talk.GREETING)

_ID = re.compile(r"\b[UW][A-Z0-9]{6,}\b")  # a mention, as `normalize` leaves it
_EMOJI = re.compile(r":[a-z0-9_+\-]+:")
_PUNCTUATION = re.compile(r"[^\w'\s]+")
_STRETCHED = re.compile(r"([a-z])\1+$")  # "hiii", "heyyy", "yooo"


def _words(text: str) -> list[str]:
    text = _ID.sub(" ", text)
    text = _EMOJI.sub(" ", text.lower()).replace("\u2019", "'")
    text = _PUNCTUATION.sub(" ", text)
    return [_unstretch(word) for word in text.split()]


def _unstretch(word: str) -> str:
    if word in _LOOKUP or word in _FILLER:
        return word
    shorter = _STRETCHED.sub(r"\1", word)
    return shorter if shorter in _LOOKUP else word


def _scan(words: list[str]) -> tuple[set[Talk], int]:
    """The kinds of talk found from the start, and how many words they cover (it stops
    at the first word that is neither a phrase nor a filler)."""
    found: set[Talk] = set()
    index = 0
    while index < len(words):
        for size in range(min(_LONGEST, len(words) - index), 0, -1):
            phrase = " ".join(words[index : index + size])
            if phrase in _LOOKUP:
                found.add(_LOOKUP[phrase])
                index += size
                break
        else:
            if words[index] not in _FILLER:
                break
            index += 1
    return found, index


def small_talk(text: str) -> Talk | None:
    """The kind of small talk `text` (as typed, Slack markup undone) is, or None when it
    has words that are not small talk. Nothing at all (a bare mention) is a greeting."""
    words = _words(text)
    found, covered = _scan(words)
    if covered < len(words):
        return None
    return next((talk for talk in _PRIORITY if talk in found), Talk.GREETING)


def after_greeting(text: str) -> str | None:
    """The rest of "hi, pods -n web" ("pods -n web"), when the text starts with a greeting
    and goes on with something else; None otherwise."""
    match = re.match(r"\s*([A-Za-z']+)[\s,!.:;]*(.*)$", text, re.DOTALL)
    if match is None:
        return None
    first, rest = _unstretch(match[1].lower()), match[2].strip()
    if _LOOKUP.get(first) is not Talk.GREETING or not rest:
        return None
    leading = re.match(r"((?:there|team|all|folks|everyone|opsbot|[UW][A-Z0-9]{6,})[\s,!.:;]+)+", rest)
    return rest[leading.end() :] if leading else rest
