"""Kubernetes impersonation headers on every request of a per-person client view."""

from __future__ import annotations

from typing import Any

import urllib3
from kubernetes.client.api_client import ApiClient

from opsbot.ports import Identity


class ImpersonatingApiClient(ApiClient):
    """The base ApiClient (same configuration, REST client and connection pool) adding
    Kubernetes impersonation headers to every request it sends.

    Not through the request's header parameters: the client turns them
    into a plain dict, so only one `Impersonate-Group` would survive, while Kubernetes
    wants one header per group. Here they go to urllib3 as an HTTPHeaderDict, which
    sends each value as its own header line. (Through a plain-HTTP proxy urllib3 merges
    them into one comma-joined value; the API server then sees one unknown group, which
    fails closed.)
    """

    def __init__(self, base: ApiClient, identity: Identity) -> None:
        # No super().__init__(): that would build another REST client and pool.
        self.__dict__.update(base.__dict__)
        self._impersonation = impersonation_headers(identity)

    def call_api(
        self,
        method: Any,
        url: Any,
        header_params: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> Any:
        headers = urllib3.HTTPHeaderDict()
        for key, value in (header_params or {}).items():
            if not key.lower().startswith("impersonate-"):
                headers.add(key, value)
        for key, value in self._impersonation:
            headers.add(key, value)
        return super().call_api(
            method, url, headers, body=body, post_params=post_params, _request_timeout=_request_timeout
        )


def impersonation_headers(identity: Identity) -> tuple[tuple[str, str], ...]:
    """`Impersonate-User` plus one `Impersonate-Group` per (distinct) group."""
    groups = tuple(dict.fromkeys(identity.groups))
    return (("Impersonate-User", identity.user), *(("Impersonate-Group", group) for group in groups))
