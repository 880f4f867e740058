"""Status errors shaped exactly like the kube-apiserver's ``metav1.Status``.

Code under test branches on ``reason``/``code`` and shows ``message`` to users,
so every failure path of the fake raises one of these instead of ad-hoc text.
"""

from __future__ import annotations

from typing import Any

from .resources import ResourceType

REASON_BY_CODE: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class FakeKubeError(Exception):
    """An API error carrying the Status body the server answers with.

    Raised by the control API too, so tests see the same message a client would.
    """

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        """The ``Status`` object in the field order the real server uses."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(rt: ResourceType | None, name: str = "", kind: str | None = None) -> dict[str, Any]:
    """StatusDetails with empty fields omitted, as Go's ``omitempty`` does."""
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    if rt is not None and rt.group:
        out["group"] = rt.group
    k = kind if kind is not None else (rt.plural if rt is not None else "")
    if k:
        out["kind"] = k
    return out


def not_found(rt: ResourceType, name: str) -> FakeKubeError:
    """``pods "x" not found`` / ``deployments.apps "web" not found``."""
    return FakeKubeError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def already_exists(rt: ResourceType, name: str) -> FakeKubeError:
    """409 AlreadyExists on create of an existing name."""
    return FakeKubeError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name))


def conflict(rt: ResourceType, name: str, why: str | None = None) -> FakeKubeError:
    """409 Conflict for a stale resourceVersion (optimistic concurrency)."""
    why = why or (
        "the object has been modified; please apply your changes to the latest version and try again"
    )
    return FakeKubeError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}',
        _details(rt, name),
    )


def invalid(
    rt: ResourceType, name: str, causes: list[tuple[str, str]], *, kind_qualified: str | None = None
) -> FakeKubeError:
    """422 Invalid; ``causes`` are ``(field, message)`` pairs like field.ErrorList."""
    texts = [f"{f}: {m}" for f, m in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    kq = kind_qualified or rt.kind_qualified
    details = _details(rt, name, kind=kq.split(".", 1)[0])
    details["causes"] = [{"reason": _cause_reason(m), "message": m, "field": f} for f, m in causes]
    return FakeKubeError(422, "Invalid", f'{kq} "{name}" is invalid: {joined}', details)


def _cause_reason(message: str) -> str:
    if message.startswith("Required value"):
        return "FieldValueRequired"
    if message.startswith("Unsupported value"):
        return "FieldValueNotSupported"
    return "FieldValueInvalid"


def bad_request(message: str) -> FakeKubeError:
    """400 BadRequest (selectors, log options, malformed bodies)."""
    return FakeKubeError(400, "BadRequest", message)


def method_not_allowed() -> FakeKubeError:
    """405 for a verb the resource does not serve."""
    return FakeKubeError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


def not_found_path() -> FakeKubeError:
    """404 for a path that names no resource at all."""
    return FakeKubeError(404, "NotFound", "the server could not find the requested resource", {})


def gone(message: str) -> FakeKubeError:
    """410 Expired (compacted watch/continue resourceVersion)."""
    return FakeKubeError(410, "Expired", message)


def forbidden(qualified: str, group: str, resource: str, name: str, reason_text: str) -> FakeKubeError:
    """403 with the authorizer's message, prefixed like ``errors.NewForbidden``."""
    prefix = f'{qualified} "{name}"' if name else qualified
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = resource
    return FakeKubeError(403, "Forbidden", f"{prefix} is forbidden: {reason_text}", details)


def unauthorized() -> FakeKubeError:
    """401 for a missing or unknown bearer token."""
    return FakeKubeError(401, "Unauthorized", "Unauthorized")


def unsupported_media_type(content_type: str) -> FakeKubeError:
    """415 for a PATCH content type the fake does not implement."""
    return FakeKubeError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json, "
        f"application/strategic-merge-patch+json (got {content_type or 'none'})",
    )


def strategic_merge_on_custom_resource() -> FakeKubeError:
    """415 for a strategic merge patch on a custom resource (CRDs have no patch strategy)."""
    return FakeKubeError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    )


def generic(code: int, message: str, reason: str | None = None) -> FakeKubeError:
    """Any other code (injected faults, kubelet proxy errors)."""
    return FakeKubeError(code, reason if reason is not None else REASON_BY_CODE.get(code, ""), message)
