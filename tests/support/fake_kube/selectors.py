"""Label and field selectors with the API server's grammar and error texts.

Selectors are parsed once per request/watch and matched per object, so the
parsed forms are small immutable tuples with a ``matches`` method.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .resources import FieldGetter, Obj

_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SPECIAL = "!=(),<>"


class SelectorError(ValueError):
    """A selector the real server would reject with 400 BadRequest."""


@dataclass(frozen=True)
class Requirement:
    """One ``key op values`` term of a label selector."""

    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Apply the term; ``!=``/``notin`` also match objects lacking the key."""
        has = self.key in labels
        val = labels.get(self.key)
        if self.op in ("=", "in"):
            return has and val in self.values
        if self.op in ("!=", "notin"):
            return not has or val not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if not has or val is None:
            return False
        try:
            num = int(val)
        except ValueError:
            return False
        bound = int(self.values[0])
        return num > bound if self.op == "gt" else num < bound


@dataclass(frozen=True)
class LabelSelector:
    """A parsed label selector; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """True when every requirement holds (comma means AND)."""
        lab = labels or {}
        return all(r.matches(lab) for r in self.requirements)

    @property
    def empty(self) -> bool:
        """Whether this selector selects everything."""
        return not self.requirements


def _validate_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN_RE.match(prefix)):
        raise SelectorError(
            f'unable to parse requirement: <nil>: Invalid value: "{key}": prefix part a lowercase '
            "RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character"
        )
    if not name or len(name) > 63 or not _NAME_RE.match(name):
        raise SelectorError(
            f'unable to parse requirement: <nil>: Invalid value: "{key}": name part must consist '
            "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )


def _validate_value(key: str, value: str) -> None:
    if value and (len(value) > 63 or not _NAME_RE.match(value)):
        raise SelectorError(
            f'unable to parse requirement: <nil>: Invalid value: "{value}": a valid label must be '
            "an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )


def _lex(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "!=<>":
            two = text[i : i + 2]
            if two in ("!=", "=="):
                tokens.append(two)
                i += 2
            else:
                tokens.append(c)
                i += 1
            continue
        if c in "(),":
            tokens.append(c)
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in _SPECIAL:
            j += 1
        tokens.append(text[i:j])
        i = j
    return tokens


def _is_ident(tok: str | None) -> bool:
    return tok is not None and tok not in ("!", "=", "==", "!=", "(", ")", ",", "<", ">")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse ``a=b,c!=d,e in (x,y),!f,g`` into a LabelSelector (raises SelectorError)."""
    if text is None or not text.strip():
        return LabelSelector()
    toks = _lex(text)
    pos = 0
    reqs: list[Requirement] = []

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    def fail(found: str | None, expected: str) -> SelectorError:
        got = "EOS" if found is None else f"'{found}'"
        return SelectorError(f"unable to parse requirement: found {got}, expected: {expected}")

    while True:
        tok = peek()
        if tok == "!":
            pos += 1
            key = peek()
            if not _is_ident(key):
                raise fail(key, "identifier after '!'")
            assert key is not None
            _validate_key(key)
            pos += 1
            reqs.append(Requirement(key, "!"))
        else:
            if not _is_ident(tok):
                raise fail(tok, "!, identifier, or 'end of string'")
            assert tok is not None
            key = tok
            _validate_key(key)
            pos += 1
            op_tok = peek()
            if op_tok is None or op_tok == ",":
                reqs.append(Requirement(key, "exists"))
            elif op_tok in ("=", "==", "!="):
                pos += 1
                val = peek()
                if val is None or val == ",":
                    value = ""
                elif _is_ident(val):
                    value = val
                    pos += 1
                else:
                    raise fail(val, "identifier")
                _validate_value(key, value)
                reqs.append(Requirement(key, "!=" if op_tok == "!=" else "=", (value,)))
            elif op_tok in ("in", "notin"):
                pos += 1
                if peek() != "(":
                    raise fail(peek(), "'('")
                pos += 1
                values: list[str] = []
                while True:
                    v = peek()
                    if v == ")":
                        pos += 1
                        break
                    if v == ",":
                        values.append("")
                        pos += 1
                        continue
                    if not _is_ident(v):
                        raise fail(v, "',', ')' or identifier")
                    assert v is not None
                    _validate_value(key, v)
                    values.append(v)
                    pos += 1
                    nxt = peek()
                    if nxt == ",":
                        pos += 1
                    elif nxt != ")":
                        raise fail(nxt, "',' or ')'")
                if not values:
                    raise SelectorError(
                        f"unable to parse requirement: for '{op_tok}', 'notin' operators, "
                        "values set can't be empty"
                    )
                reqs.append(Requirement(key, op_tok, tuple(values)))
            elif op_tok in ("<", ">"):
                pos += 1
                val = peek()
                if val is None or not re.fullmatch(r"-?\d+", val):
                    raise SelectorError(
                        "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                pos += 1
                reqs.append(Requirement(key, "gt" if op_tok == ">" else "lt", (val,)))
            else:
                raise fail(op_tok, "'=', '!=', '==', 'in', notin'")
        nxt = peek()
        if nxt is None:
            break
        if nxt != ",":
            raise fail(nxt, "',' or 'end of string'")
        pos += 1
        if peek() is None:
            raise fail(None, "!, identifier, or 'end of string'")
    return LabelSelector(tuple(reqs))


def selector_from_spec(spec: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a ``metav1.LabelSelector`` object (matchLabels/matchExpressions)."""
    if not spec:
        return LabelSelector()
    reqs = [Requirement(k, "=", (str(v),)) for k, v in sorted((spec.get("matchLabels") or {}).items())]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in spec.get("matchExpressions") or []:
        reqs.append(
            Requirement(
                str(expr["key"]),
                ops.get(str(expr.get("operator")), "in"),
                tuple(str(v) for v in expr.get("values") or ()),
            )
        )
    return LabelSelector(tuple(reqs))


def format_selector(spec: Mapping[str, Any] | None) -> str:
    """Render a ``metav1.LabelSelector`` as the string used in ``Scale.status.selector``."""
    if not spec:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((spec.get("matchLabels") or {}).items())]
    for expr in spec.get("matchExpressions") or []:
        op = str(expr.get("operator"))
        vals = ",".join(sorted(str(v) for v in expr.get("values") or ()))
        if op == "In":
            parts.append(f"{expr['key']} in ({vals})")
        elif op == "NotIn":
            parts.append(f"{expr['key']} notin ({vals})")
        elif op == "Exists":
            parts.append(str(expr["key"]))
        elif op == "DoesNotExist":
            parts.append(f"!{expr['key']}")
    return ",".join(parts)


@dataclass(frozen=True)
class FieldRequirement:
    """One ``field=value`` / ``field!=value`` term of a field selector."""

    field: str
    negate: bool
    value: str
    getter: FieldGetter

    def matches(self, obj: Obj) -> bool:
        """Compare the object's field (``""`` when unset) with the value."""
        return (self.getter(obj) == self.value) != self.negate


@dataclass(frozen=True)
class FieldSelector:
    """A parsed field selector, validated against the kind's supported labels."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Obj) -> bool:
        """True when every term holds."""
        return all(r.matches(obj) for r in self.requirements)

    @property
    def empty(self) -> bool:
        """Whether this selector selects everything."""
        return not self.requirements

    def exact_name(self) -> str | None:
        """The name when the selector pins ``metadata.name=`` (fast path)."""
        for r in self.requirements:
            if r.field == "metadata.name" and not r.negate:
                return r.value
        return None


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(text: str | None, getters: Mapping[str, FieldGetter]) -> FieldSelector:
    """Parse ``a=b,c!=d`` and reject labels the kind does not index."""
    if text is None or not text.strip():
        return FieldSelector()
    reqs: list[FieldRequirement] = []
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        m = re.match(r"^((?:[^=!\\]|\\.)*?)(!=|==|=)(.*)$", term)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field_name = _unescape(m.group(1)).strip()
        op = m.group(2)
        value = _unescape(m.group(3))
        getter = getters.get(field_name)
        if getter is None:
            raise SelectorError(f"field label not supported: {field_name}")
        reqs.append(FieldRequirement(field_name, op == "!=", value, getter))
    return FieldSelector(tuple(reqs))


def valid_dns_subdomain(name: str) -> bool:
    """RFC 1123 subdomain check used for object names."""
    return 0 < len(name) <= 253 and bool(_DNS1123_SUBDOMAIN_RE.match(name))
