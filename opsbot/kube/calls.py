"""How every Kubernetes call is made: raw bytes decoded with orjson, a total deadline, paging,
and failures turned into an opsbot KubeError that names the object, namespace and cluster.

`KubeClient` builds its typed methods on these; nothing else calls the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from opsbot.errors import KubeError, TemporaryKubeError
from opsbot.kube.errors import translate
from opsbot.ports import Identity, KubeObject


class ApiCalls:
    """The call plumbing of one cluster's client, for one identity."""

    def __init__(self, cluster: str, *, timeout: float, identity: Identity | None) -> None:
        self._cluster = cluster
        self.identity = identity
        # One number: urllib3's *total* deadline for the request (connect + every read).
        self._timeout = timeout

    def _raw(
        self, call: Callable[..., Any], *args: Any, what: str, namespace: str | None, **kwargs: Any
    ) -> bytes:
        try:
            response = call(*args, _preload_content=False, _request_timeout=self._timeout, **kwargs)
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
        self, call: Callable[..., Any], *args: Any, what: str, namespace: str | None, **kwargs: Any
    ) -> KubeObject:
        data = self._raw(call, *args, what=what, namespace=namespace, **kwargs)
        decoded = orjson.loads(data)
        if not isinstance(decoded, dict):
            raise TemporaryKubeError(
                f"cluster `{self._cluster}` sent an unexpected answer for {what}.", cluster=self._cluster
            )
        return decoded

    def _pages(
        self, call: Callable[..., Any], *args: Any, what: str, namespace: str | None, **kwargs: Any
    ) -> Iterator[list[KubeObject]]:
        """A list, one page (``limit=500``) at a time: callers keep what they need of each page."""
        token: str | None = None
        while True:
            page = self._json(
                call, *args, what=what, namespace=namespace, limit=500, _continue=token, **kwargs
            )
            yield page.get("items") or []
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return

    def _items(
        self, call: Callable[..., Any], *args: Any, what: str, namespace: str | None, **kwargs: Any
    ) -> list[KubeObject]:
        items: list[KubeObject] = []
        for page in self._pages(call, *args, what=what, namespace=namespace, **kwargs):
            items.extend(page)
        return items

    def _scoped_items(
        self,
        everywhere: Callable[..., Any],
        namespaced: Callable[..., Any],
        namespace: str | None,
        *,
        what: str,
        **kwargs: Any,
    ) -> list[KubeObject]:
        """A list in one namespace, or across all of them when `namespace` is None."""
        if namespace is None:
            return self._items(everywhere, what=what, namespace=None, **kwargs)
        return self._items(namespaced, namespace, what=what, namespace=namespace, **kwargs)

    def _scoped_pages(
        self,
        everywhere: Callable[..., Any],
        namespaced: Callable[..., Any],
        namespace: str | None,
        *,
        what: str,
        **kwargs: Any,
    ) -> Iterator[list[KubeObject]]:
        if namespace is None:
            return self._pages(everywhere, what=what, namespace=None, **kwargs)
        return self._pages(namespaced, namespace, what=what, namespace=namespace, **kwargs)
