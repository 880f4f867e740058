"""Change one scalar of a YAML file in place; every other byte stays as it was.

ruamel.yaml's round-trip loader finds the field (documents, keys and the line/column of
each value); the new value is then written over the old token on that one line, and the
result is parsed again to prove that exactly that field changed. Dumping the round-trip
tree instead would normalise what ruamel cannot keep per file (indentation is global,
long lines are folded, spacing after colons and before comments is re-emitted), so a
reviewer would see more than the one line the promotion is about. Comments, quotes,
flow style and the Flux `# {"$imagepolicy": …}` markers survive because nothing but the
token is touched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from opsbot.releases.errors import EditError, UnsupportedValueError

PathItem = str | int
FieldPath = tuple[PathItem, ...]

_PLAIN_UNSAFE = re.compile(r"""^[-?:,\[\]{}#&*!|>'"%@`\s]|: |\s#|\s$""")


def _loader() -> YAML:
    return YAML(typ="rt")


def load_documents(text: str, *, file: str) -> list[Any]:
    """Every document of `text` as round-trip nodes (None for an empty one)."""
    try:
        return list(_loader().load_all(text))
    except YAMLError as exc:
        problem = str(getattr(exc, "problem", "") or "syntax error")
        raise EditError(f"`{file}` is not valid YAML ({problem}).", path=file, field="") from None


def field_text(path: FieldPath) -> str:
    """`("images", 0, "newTag")` → `images[0].newTag`."""
    text = ""
    for item in path:
        text += f"[{item}]" if isinstance(item, int) else (f".{item}" if text else item)
    return text


def get_path(node: Any, path: FieldPath) -> Any:
    """The value at `path`, or raises KeyError/IndexError/TypeError."""
    for item in path:
        node = node[item]
    return node


@dataclass(frozen=True)
class Site:
    """Where a scalar sits: document index, key path, 0-based line and column of its token."""

    document: int
    path: FieldPath
    line: int
    column: int
    in_flow: bool


def locate(documents: Sequence[Any], document: int, path: FieldPath) -> Site:
    """Line and column of the value at `path` (which must exist) from ruamel's marks."""
    parent: Any = documents[document]
    in_flow = False
    for item in path[:-1]:
        in_flow = in_flow or _flow(parent)
        parent = parent[item]
    in_flow = in_flow or _flow(parent)
    last = path[-1]
    if isinstance(parent, CommentedMap):
        line, column = parent.lc.value(last)
    elif isinstance(parent, CommentedSeq):
        line, column = parent.lc.item(last)
    else:  # pragma: no cover - paths come from walking the same documents
        raise TypeError(f"no position for {field_text(path)}")
    return Site(document, path, int(line), int(column), in_flow)


def _flow(node: Any) -> bool:
    return isinstance(node, CommentedBase) and bool(node.fa.flow_style())


def _token_end(line: str, start: int, in_flow: bool) -> int | None:
    """End (exclusive) of the one-line scalar token starting at `start`; None when the
    scalar is not a one-line plain or quoted scalar."""
    first = line[start : start + 1]
    if first == '"':
        index = start + 1
        while index < len(line):
            if line[index] == "\\":
                index += 2
                continue
            if line[index] == '"':
                return index + 1
            index += 1
        return None
    if first == "'":
        index = start + 1
        while index < len(line):
            if line[index] == "'":
                if line[index + 1 : index + 2] == "'":
                    index += 2
                    continue
                return index + 1
            index += 1
        return None
    if not first or first in "|>&*!{[":
        return None
    end = len(line.rstrip("\r\n"))
    comment = re.search(r"\s#", line[start:end])
    if comment:
        end = start + comment.start()
    if in_flow:
        stop = re.search(r"[,\]}]", line[start:end])
        if stop:
            end = start + stop.start()
    while end > start and line[end - 1] in " \t":
        end -= 1
    return end


def _scalar_reads_as(token: str) -> Any:
    """What a YAML reader makes of `token` as a value."""
    return YAML(typ="safe", pure=True).load(f"v: {token}\n")["v"]


def render(old_token: str, old_value: Any, new_value: str) -> str:
    """The token for `new_value` in the old token's style: same quotes; plain only when it
    reads back as the same text (`1.10` plain would read as the number 1.1)."""
    if old_token.startswith('"'):
        return json.dumps(new_value, ensure_ascii=False)
    if old_token.startswith("'"):
        return "'" + new_value.replace("'", "''") + "'"
    if not _PLAIN_UNSAFE.search(new_value):
        reads = _scalar_reads_as(new_value)
        if reads == new_value or (not isinstance(old_value, str) and str(reads) == new_value):
            return new_value
    return json.dumps(new_value, ensure_ascii=False)


def replace_scalar(text: str, documents: Sequence[Any], site: Site, new_value: str, *, file: str) -> str:
    """`text` with the scalar at `site` set to `new_value`, checked by parsing it again:
    the field reads `new_value` and every other value is unchanged."""
    lines = text.splitlines(keepends=True)
    line = lines[site.line]
    field = field_text(site.path)
    end = _token_end(line, site.column, site.in_flow)
    old_value = get_path(documents[site.document], site.path)
    if end is None or isinstance(old_value, CommentedBase):
        raise UnsupportedValueError(
            f"`{field}` in `{file}` (line {site.line + 1}) is not a one-line scalar; edit it by hand "
            "or make it one.",
            path=file,
            field=field,
        )
    old_token = line[site.column : end]
    if not old_token.startswith(("'", '"')) and _scalar_reads_as(old_token) != old_value:
        raise UnsupportedValueError(
            f"`{field}` in `{file}` (line {site.line + 1}) continues on the next line; make it one line.",
            path=file,
            field=field,
        )
    lines[site.line] = line[: site.column] + render(old_token, old_value, new_value) + line[end:]
    result = "".join(lines)
    _check(text, result, site, new_value, file=file)
    return result


def _plain(documents: Sequence[Any]) -> list[Any]:
    return [json.loads(json.dumps(doc, default=str)) for doc in documents]


def _check(old_text: str, new_text: str, site: Site, new_value: str, *, file: str) -> None:
    """The edit changed exactly the field: same documents with that one value replaced."""
    before = _plain(load_documents(old_text, file=file))
    after = _plain(load_documents(new_text, file=file))
    parent = before[site.document]
    for item in site.path[:-1]:
        parent = parent[item]
    parent[site.path[-1]] = new_value
    got = get_path(after[site.document], site.path)
    after_parent = after[site.document]
    for item in site.path[:-1]:
        after_parent = after_parent[item]
    after_parent[site.path[-1]] = str(got)
    if before != after or str(got) != new_value:  # pragma: no cover - a bug in the splice
        raise UnsupportedValueError(
            f"could not change `{field_text(site.path)}` in `{file}` without touching other fields.",
            path=file,
            field=field_text(site.path),
        )
