"""Client-library failures → opsbot errors a person can act on (what, where, which permission)."""

from __future__ import annotations

import json
import re

import urllib3
from kubernetes.client.exceptions import ApiException

from opsbot.errors import (
    ClusterUnreachableError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    KubeError,
    KubeTimeoutError,
    NotFoundError,
    TemporaryKubeError,
    UnauthorizedError,
)

_FORBIDDEN = re.compile(
    r'(?:User "(?P<user>[^"]*)" )?'
    r'cannot (?P<verb>[\w-]+) resource "(?P<resource>[^"]+)" in API group "(?P<group>[^"]*)"'
    r'(?: in the namespace "(?P<namespace>[^"]+)"| at the cluster scope)?'
)


def _status_message(exc: ApiException) -> tuple[str, str, bool]:
    """(reason, message, is_status) from the body: Kubernetes answers errors with a `Status`
    object; anything else (HTML, plain text) means the server is not a Kubernetes API server."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.startswith("{"):
        try:
            status = json.loads(body)
        except ValueError:
            pass
        else:
            if isinstance(status, dict):
                is_status = status.get("kind") == "Status"
                return str(status.get("reason", "")), str(status.get("message", "")), is_status
    return str(exc.reason or ""), (body if isinstance(body, str) else "")[:300], False


def translate(
    exc: Exception, *, cluster: str, what: str, namespace: str | None, impersonating: str | None = None
) -> KubeError:
    """Map a client-library failure to an opsbot error a person can act on.

    `impersonating`: the user the call impersonated. A Forbidden naming that user is the
    cluster's RBAC refusing the *person*, not opsbot's service account, and says so.
    """
    where = f" in namespace `{namespace}`" if namespace else ""
    place = f"{where} on cluster `{cluster}`"
    if isinstance(exc, ApiException):
        reason, message, is_status = _status_message(exc)
        status = exc.status or 0
        if status == 404 and not is_status:
            return ClusterUnreachableError(
                f"cluster `{cluster}` answered 404 Not Found for {what} without a Kubernetes Status: "
                f"is clusters.{cluster} pointing at a Kubernetes API server?",
                cluster=cluster,
            )
        if status == 404:
            return NotFoundError(f"{what} not found{place}.", cluster=cluster)
        if status == 403:
            found = _FORBIDDEN.search(message)
            if found:
                group = f" (API group `{found['group']}`)" if found["group"] else ""
                scope = (
                    f"in namespace `{found['namespace']}`" if found["namespace"] else "at the cluster scope"
                )
                if impersonating is not None and found["user"] == impersonating:
                    return ForbiddenError(
                        f"the cluster's RBAC does not allow you (User `{impersonating}`: opsbot acts "
                        f"as you on this cluster) to *{found['verb']}* `{found['resource']}`{group} "
                        f"{scope} on cluster `{cluster}`. Ask a cluster admin to grant it to "
                        f"`{impersonating}` or one of your groups (a RoleBinding or ClusterRoleBinding).",
                        cluster=cluster,
                    )
                if found["verb"] == "impersonate":
                    return ForbiddenError(
                        f"opsbot's service account may not *impersonate* `{found['resource']}` on "
                        f"cluster `{cluster}`, but impersonation is enabled in opsbot's config: apply "
                        f"manifests/components/impersonation/ (and list your groups there) "
                        f"or turn impersonation off.",
                        cluster=cluster,
                    )
                if not found["namespace"]:
                    # Cluster-scoped objects (nodes) and reads across all namespaces: a Role cannot
                    # grant them, only the cluster-wide component's ClusterRole can.
                    return ForbiddenError(
                        f"opsbot's service account may not *{found['verb']}* `{found['resource']}`{group} "
                        f"{scope} on cluster `{cluster}`: a namespaced install cannot. Enable "
                        "manifests/components/cluster-wide/ (read-only ClusterRole), or ask about one "
                        "namespace (`-n NAMESPACE`).",
                        cluster=cluster,
                    )
                # Writes come from the opt-in operate component, reads from the base Role.
                where = (
                    "manifests/components/operate/"
                    if found["verb"] in ("patch", "update")
                    else "manifests/base/role.yaml"
                )
                return ForbiddenError(
                    f"opsbot's service account may not *{found['verb']}* `{found['resource']}`{group} "
                    f"{scope} on cluster `{cluster}`. Grant it in opsbot's Role "
                    f"(see {where}) or use a namespace it covers.",
                    cluster=cluster,
                )
            return ForbiddenError(f"forbidden{place}: {message[:300]}", cluster=cluster)
        if status == 401:
            return UnauthorizedError(
                f"cluster `{cluster}` rejected opsbot's credentials "
                "(check its service account or kubeconfig).",
                cluster=cluster,
            )
        if status == 409:
            return ConflictError(f"conflict on {what}{place}: {message[:300]}", cluster=cluster)
        if status in (400, 422):
            return InvalidRequestError(f"{message[:500] or reason}{place}.", cluster=cluster)
        if status == 0:
            return ClusterUnreachableError(
                f"cluster `{cluster}` could not be reached ({reason[:200]}).", cluster=cluster
            )
        if status == 504 or reason == "Timeout":
            return KubeTimeoutError(f"cluster `{cluster}` timed out on {what}.", cluster=cluster)
        return TemporaryKubeError(
            f"cluster `{cluster}` answered {status} {reason} for {what}: {message[:200]}", cluster=cluster
        )
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    # NewConnectionError subclasses ConnectTimeoutError, but "refused" is not "slow".
    if isinstance(exc, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError)):
        return ClusterUnreachableError(
            f"cluster `{cluster}` is unreachable (connection refused).", cluster=cluster
        )
    if isinstance(
        exc, (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError, TimeoutError)
    ):
        return KubeTimeoutError(f"cluster `{cluster}` did not answer in time ({what}).", cluster=cluster)
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
        return ClusterUnreachableError(
            f"cluster `{cluster}` is unreachable ({type(exc).__name__}).", cluster=cluster
        )
    raise exc
