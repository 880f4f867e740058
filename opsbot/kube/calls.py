"""How every Kubernetes call is made: by path (`opsbot.kube.rest`), raw bytes decoded with
orjson, a total deadline, lists read page by page, and failures turned into an opsbot
KubeError that names the object, namespace and cluster.

`KubeClient` builds its typed methods on these; nothing else calls the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import orjson
from kubernetes.client.api_client import ApiClient

from opsbot.errors import KubeError, TemporaryKubeError
from opsbot.kube import rest
from opsbot.kube.errors import translate
from opsbot.kube.impersonation import ImpersonatingApiClient
from opsbot.ports import Identity, KubeObject

Row = TypeVar("Row")
# Objects per list page. A page is what a live list holds decoded at once: 250 realistic pods
# are ~6 MB of Python objects (measured, 20 `pods -A` at 10,000 pods, 2 at a time: peak RSS
# 149 MiB with pages of 500, 108 MiB with 250, the same latency; 100 was slower).
PAGE_SIZE = 250


class ApiCalls:
    """The call plumbing of one cluster's client, for one identity."""

    def __init__(self, cluster: str, api_client: ApiClient, *, timeout: float, identity: Identity | None) -> None:
        self._cluster = cluster
        self.api_client = api_client
        self.identity = identity
        self._calls = api_client if identity is None else ImpersonatingApiClient(api_client, identity)
        # One number: urllib3's *total* deadline for the request (connect + every read).
        self._timeout = timeout

    def _raw(
        self,
        method: str,
        path: str,
        *,
        what: str,
        namespace: str | None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
        accept: str = rest.JSON,
    ) -> bytes:
        try:
            response = rest.request(
                self._calls,
                method,
                path,
                query=query,
                body=body,
                content_type=content_type,
                accept=accept,
                timeout=self._timeout,
            )
            try:
                data: bytes = response.data
            finally:
                response.release_conn()
            return data
        except KubeError:
            raise
        except Exception as exc:
            raise translate(
                exc,
                cluster=self._cluster,
                what=what,
                namespace=namespace,
                impersonating=self.identity.user if self.identity else None,
            ) from None

    def _json(
        self,
        method: str,
        path: str,
        *,
        what: str,
        namespace: str | None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> KubeObject:
        data = self._raw(
            method, path, what=what, namespace=namespace, query=query, body=body, content_type=content_type
        )
        decoded = orjson.loads(data)
        if not isinstance(decoded, dict):
            raise TemporaryKubeError(
                f"cluster `{self._cluster}` sent an unexpected answer for {what}.", cluster=self._cluster
            )
        return decoded

    def _get(self, path: str, *, what: str, namespace: str | None, **query: Any) -> KubeObject:
        return self._json("GET", path, what=what, namespace=namespace, query=query)

    def _pages(self, path: str, *, what: str, namespace: str | None, **query: Any) -> Iterator[list[KubeObject]]:
        """A list, one page (``limit=250``) at a time: callers keep what they need of each page."""
        token: str | None = None
        while True:
            page = self._get(path, what=what, namespace=namespace, limit=PAGE_SIZE, **{"continue": token}, **query)
            token = (page.get("metadata") or {}).get("continue") or None
            items = page.get("items") or []
            del page
            yield items
            del items  # not held while the next page is read
            if not token:
                return

    def _items(self, path: str, *, what: str, namespace: str | None, **query: Any) -> list[KubeObject]:
        items: list[KubeObject] = []
        for page in self._pages(path, what=what, namespace=namespace, **query):
            items.extend(page)
        return items

    def _rows(
        self, path: str, row: Callable[[KubeObject], Row], *, what: str, namespace: str | None, **query: Any
    ) -> list[Row]:
        """Each listed object's row, page by page: no more than one decoded page is ever held."""
        rows: list[Row] = []
        for page in self._pages(path, what=what, namespace=namespace, **query):
            rows.extend(map(row, page))
            page.clear()  # let go of the decoded objects before the next page is read
        return rows
