"""RBAC simulation: allow everything except explicit deny rules.

Deny rules match request attributes the way RBAC rules do (a rule for
``deployments`` does not cover ``deployments/scale``), and refusals carry the
exact Forbidden text of the apiserver's authorization filter.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from . import errors
from .resources import group_of

ANY = "*"


@dataclass(frozen=True)
class Attributes:
    """What the authorizer sees for one request."""

    user: str
    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str


@dataclass(frozen=True)
class DenyRule:
    """One deny rule; ``None``/``"*"`` fields match anything (subresource ``None`` = main resource)."""

    verbs: frozenset[str]
    resource: str
    subresource: str | None
    group: str
    namespace: str | None
    user: str | None
    name: str | None

    def matches(self, a: Attributes) -> bool:
        """Whether this rule refuses ``a``."""
        if ANY not in self.verbs and a.verb not in self.verbs:
            return False
        if self.resource != ANY and self.resource != a.resource:
            return False
        want_sub = self.subresource or ""
        if want_sub != ANY and want_sub != a.subresource:
            return False
        if self.group != ANY and self.group != a.group:
            return False
        if self.namespace is not None and self.namespace != a.namespace:
            return False
        if self.user is not None and self.user != a.user:
            return False
        return self.name is None or self.name == a.name


class Authorizer:
    """Thread-safe set of deny rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[DenyRule] = []

    def deny(
        self,
        verb: str | tuple[str, ...] | list[str],
        resource: str,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        group: str | None = None,
        user: str | None = None,
        name: str | None = None,
    ) -> None:
        """Add a rule; ``resource`` may be ``"deployments/scale"``; group inferred when None."""
        if "/" in resource and subresource is None:
            resource, subresource = resource.split("/", 1)
        verbs = frozenset([verb] if isinstance(verb, str) else verb)
        grp = group if group is not None else (ANY if resource == ANY else group_of(resource))
        with self._lock:
            self._rules.append(DenyRule(verbs, resource, subresource, grp, namespace, user, name))

    def allow_all(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def allowed(self, a: Attributes) -> bool:
        """True unless a rule refuses ``a``."""
        with self._lock:
            return not any(r.matches(a) for r in self._rules)

    def check(self, a: Attributes) -> None:
        """Raise the real Forbidden error when ``a`` is refused."""
        if not self.allowed(a):
            raise forbidden_error(a)


def forbidden_error(a: Attributes) -> errors.FakeKubeError:
    """``<resource>[.group] ["name"] is forbidden: User "u" cannot <verb> resource ...``."""
    res = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    scope = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
    text = f'User "{a.user}" cannot {a.verb} resource "{res}" in API group "{a.group}" {scope}'
    qualified = f"{a.resource}.{a.group}" if a.group else a.resource
    return errors.forbidden(qualified, a.group, a.resource, a.name, text)
