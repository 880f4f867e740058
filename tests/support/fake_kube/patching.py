"""The three PATCH flavours the API server accepts for built-in kinds.

Strategic merge needs the schema's patch-merge keys; the fake keys them by field
name (the same name has the same key in every kind it serves), which covers what
``kubectl patch``/``rollout restart``/``scale``/``edit`` send.
"""

from __future__ import annotations

import copy
from typing import Any

# Field name -> patchMergeKey of lists merged by key (from the k8s API types).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "volumes": "name",
    "conditions": "type",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "addresses": "type",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
}
# Lists of scalars whose strategy is "merge" (set union).
PRIMITIVE_MERGE: frozenset[str] = frozenset({"finalizers"})

_DELETE = object()


class PatchError(Exception):
    """A patch that cannot be applied; ``code`` is 400 (malformed) or 422 (does not apply)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge, ``null`` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = merge_patch(result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch with ``$patch``, ``$retainKeys``, ``$setElementOrder``,
    ``$deleteFromPrimitiveList`` directives and keyed list merging."""
    if not isinstance(patch, dict):
        raise PatchError(400, "strategic merge patch body must be a JSON object")
    out = _smp_map(target if isinstance(target, dict) else {}, patch)
    if out is _DELETE:
        return {}
    return out


def _smp_map(original: dict[str, Any], patch: dict[str, Any]) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _clean({k: v for k, v in patch.items() if k != "$patch"})
    result = dict(original)
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            if isinstance(value, list):
                orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            fld = key.split("/", 1)[1]
            cur = result.get(fld)
            if isinstance(cur, list) and isinstance(value, list):
                result[fld] = [x for x in cur if x not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            prev = result.get(key)
            merged = _smp_map(prev if isinstance(prev, dict) else {}, value)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _smp_list(result.get(key), value, key)
        else:
            result[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for fld, order in orders.items():
        if isinstance(result.get(fld), list):
            result[fld] = _reorder(result[fld], order, MERGE_KEYS.get(fld))
    return result


def _smp_list(original: Any, patch: list[Any], field: str) -> list[Any]:
    key = MERGE_KEYS.get(field)
    orig = list(original) if isinstance(original, list) else []
    if key and all(isinstance(item, dict) for item in patch):
        if any(item.get("$patch") == "replace" for item in patch):
            return [_clean(i) for i in patch if i.get("$patch") is None]
        result: list[Any] = [copy.deepcopy(x) for x in orig]
        for item in patch:
            kv = item.get(key)
            idx = next((i for i, x in enumerate(result) if isinstance(x, dict) and x.get(key) == kv), None)
            if item.get("$patch") == "delete":
                if idx is not None:
                    del result[idx]
                continue
            if idx is None:
                result.append(_clean(item))
            else:
                merged = _smp_map(result[idx], item)
                if merged is _DELETE:
                    del result[idx]
                else:
                    result[idx] = merged
        return result
    if field in PRIMITIVE_MERGE:
        merged_list = list(orig)
        for x in patch:
            if x not in merged_list:
                merged_list.append(x)
        return merged_list
    return [_clean(x) if isinstance(x, dict) else copy.deepcopy(x) for x in patch]


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(x: Any) -> Any:
        if key and isinstance(x, dict):
            return x.get(key)
        return x

    wanted = [ident(o) for o in order]
    ranked = [x for w in wanted for x in items if ident(x) == w]
    rest = [x for x in items if ident(x) not in wanted]
    return ranked + rest


def _clean(value: Any) -> Any:
    """Drop nulls and directives from a value that is being added wholesale."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None and not k.startswith("$")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(422, f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], op: str, path: str) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise PatchError(422, f"jsonpatch {op} operation does not apply: doc is missing path: {path}")
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise PatchError(
                    422, f"jsonpatch {op} operation does not apply: doc is missing path: {path}"
                ) from None
        else:
            raise PatchError(422, f"jsonpatch {op} operation does not apply: doc is missing path: {path}")
    return cur


def _get(doc: Any, path: str, op: str) -> Any:
    return _walk(doc, _pointer(path), op, path)


def _remove(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise PatchError(422, f"jsonpatch {op} operation does not apply: cannot remove root")
    parent = _walk(doc, parts[:-1], op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(422, f"jsonpatch {op} operation does not apply: doc is missing key: {path}")
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError):
            raise PatchError(
                422, f"jsonpatch {op} operation does not apply: doc is missing index: {path}"
            ) from None
    raise PatchError(422, f"jsonpatch {op} operation does not apply: doc is missing path: {path}")


def _add(doc: Any, path: str, value: Any, op: str, *, replace: bool) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(422, f"jsonpatch {op} operation does not apply: doc is missing key: {path}")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        else:
            try:
                idx = int(last)
            except ValueError:
                raise PatchError(
                    422, f"jsonpatch {op} operation does not apply: invalid index: {path}"
                ) from None
            if replace:
                if not 0 <= idx < len(parent):
                    raise PatchError(
                        422, f"jsonpatch {op} operation does not apply: doc is missing index: {path}"
                    )
                parent[idx] = value
            else:
                if not 0 <= idx <= len(parent):
                    raise PatchError(
                        422, f"jsonpatch {op} operation does not apply: index out of bounds: {path}"
                    )
                parent.insert(idx, value)
    else:
        raise PatchError(422, f"jsonpatch {op} operation does not apply: doc is missing path: {path}")
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, test, move, copy)."""
    if not isinstance(ops, list):
        raise PatchError(400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(400, f"invalid JSON patch operation: {op!r}")
        kind = op["op"]
        path = str(op["path"])
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), kind, replace=False)
        elif kind == "remove":
            _remove(doc, path, kind)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), kind, replace=True)
        elif kind == "test":
            try:
                current = _get(doc, path, kind)
            except PatchError:
                raise PatchError(422, f"testing value {path} failed: test failed") from None
            if current != op.get("value"):
                raise PatchError(422, f"testing value {path} failed: test failed")
        elif kind in ("move", "copy"):
            src = str(op.get("from", ""))
            value = _remove(doc, src, kind) if kind == "move" else copy.deepcopy(_get(doc, src, kind))
            doc = _add(doc, path, value, kind, replace=False)
        else:
            raise PatchError(400, f"Unexpected kind: {kind}")
    return doc
