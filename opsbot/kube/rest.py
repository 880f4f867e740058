"""Kubernetes API requests by path, through the official client's ApiClient but none of its API classes.

The ApiClient brings what matters (the kubeconfig or in-cluster configuration, auth,
TLS, the urllib3 connection pool, `ApiException` for a non-2xx answer). The generated
API classes (`CoreV1Api`, `AppsV1Api`, ...) bring what opsbot never uses: importing
`CoreV1Api` alone loads ~250 pydantic model modules (~25 MiB resident), and each method
builds a pydantic validator on its first call (seconds of CPU on a bot's first command),
to check arguments opsbot builds itself and to build models it never reads (responses
are read raw and decoded with orjson). So the few paths opsbot calls are spelled out here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from kubernetes.client.api_client import ApiClient
from kubernetes.client.exceptions import ApiException

__all__ = ["ApiException", "api_root", "collection", "request"]

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

Timeout = float | tuple[float, float] | None


def api_root(api_version: str) -> str:
    """`v1` → `/api/v1` (the core group), `apps/v1` → `/apis/apps/v1`."""
    return f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"


def collection(api_version: str, plural: str, namespace: str | None = None) -> str:
    """The path of a collection, in one namespace or (None) across all of them / cluster-scoped."""
    where = f"/namespaces/{quote(namespace, safe='')}" if namespace is not None else ""
    return f"{api_root(api_version)}{where}/{plural}"


def item(api_version: str, plural: str, namespace: str | None, name: str, subresource: str = "") -> str:
    """The path of one object (and one of its subresources)."""
    path = f"{collection(api_version, plural, namespace)}/{quote(name, safe='')}"
    return f"{path}/{subresource}" if subresource else path


def request(
    api_client: ApiClient,
    method: str,
    path: str,
    *,
    query: Mapping[str, Any] | None = None,
    body: Any = None,
    content_type: str | None = None,
    accept: str = JSON,
    timeout: Timeout = None,
) -> Any:
    """Send one request; the urllib3 response, body unread (the caller reads and releases it).

    `query` values that are None are left out; booleans are sent as `true`/`false`.
    Raises `ApiException` for an answer outside 2xx (its body read), like the generated
    methods with `_preload_content=False`, and whatever urllib3 raises for a transport error.
    """
    headers: dict[str, str] = {"Accept": accept}
    if body is not None:
        headers["Content-Type"] = content_type or JSON
    params = [(key, value) for key, value in (query or {}).items() if value is not None]
    serialized = api_client.param_serialize(
        method=method,
        resource_path=path,
        query_params=params,
        header_params=headers,
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api_client.call_api(*serialized, _request_timeout=timeout)
    if not 200 <= response.status <= 299:
        response.read()
        raise ApiException.from_response(http_resp=response, body=None, data=None)
    return response.response
