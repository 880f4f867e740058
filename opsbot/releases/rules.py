"""Which versions may be delivered: a regex and/or a semver range from the config.

A small semver reader of our own (ranges like `>=1.2.0 <2`, `^1.4`, `~1.4.2`, `1.x`,
alternatives with `||`): the rules people write in Helm charts and Flux image policies,
without a dependency for forty lines. Pre-releases match a range only when the range
names a pre-release of the same major.minor.patch (npm's rule, which Helm follows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from opsbot.releases.errors import VersionNotAllowedError

_SEMVER = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)
_PARTIAL = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?$")
_COMPARATOR = re.compile(r"^(>=|<=|>|<|=|\^|~)?\s*(.+)$")


@total_ordering
@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SemVer | None:
        """`1.2.3`, `v1.2.3-rc.1+build` → SemVer; None when it is not semver."""
        match = _SEMVER.match(text.strip())
        if not match:
            return None
        pre = tuple(match["pre"].split(".")) if match["pre"] else ()
        return cls(int(match["major"]), int(match["minor"]), int(match["patch"]), pre)

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def _pre_key(self) -> tuple[tuple[int, int | str], ...]:
        return tuple((0, int(p)) if p.isdigit() else (1, p) for p in self.pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        if self.core != other.core:
            return self.core < other.core
        if not self.pre or not other.pre:
            return bool(self.pre) and not other.pre
        return self._pre_key() < other._pre_key()


Comparator = tuple[str, SemVer]


def _bounds(op: str, text: str) -> list[Comparator]:
    """One comparator (with partial versions and `^`/`~`) as a list of plain ones."""
    match = _PARTIAL.match(text)
    if not match:
        raise ValueError(f"`{text}` is not a version in a semver range")
    parts = [None if p is None or p in "xX*" else int(p) for p in match.groups()[:3]]
    pre = tuple(match.group(4).split(".")) if match.group(4) else ()
    major, minor, patch = parts
    if major is None:
        return [(">=", SemVer(0, 0, 0))] if op in ("", "=", ">=", "^", "~") else [("<", SemVer(0, 0, 0))]
    low = SemVer(major, minor or 0, patch or 0, pre)
    if op in ("", "=") and patch is not None:
        return [("=", low)]
    if op in ("", "=") or (op == "~" and patch is None):
        high = SemVer(major + 1, 0, 0) if minor is None else SemVer(major, minor + 1, 0)
        return [(">=", low), ("<", high)]
    if op == "~":
        return [(">=", low), ("<", SemVer(major, (minor or 0) + 1, 0))]
    if op == "^":
        if major > 0 or minor is None:
            high = SemVer(major + 1, 0, 0)
        elif minor > 0 or patch is None:
            high = SemVer(0, minor + 1, 0)
        else:
            high = SemVer(0, 0, (patch or 0) + 1)
        return [(">=", low), ("<", high)]
    if op == ">" and patch is None:
        return [(">=", SemVer(major + 1, 0, 0) if minor is None else SemVer(major, minor + 1, 0))]
    if op == "<=" and patch is None:
        return [("<", SemVer(major + 1, 0, 0) if minor is None else SemVer(major, minor + 1, 0))]
    return [(op, low)]


def _holds(op: str, version: SemVer, bound: SemVer) -> bool:
    if op == "=":
        return version == bound
    if op == ">=":
        return version >= bound
    if op == ">":
        return version > bound
    if op == "<=":
        return version <= bound
    return version < bound


def parse_range(text: str) -> list[list[Comparator]]:
    """`>=1.2 <2 || ^3` → alternatives of comparator sets. Raises ValueError."""
    alternatives: list[list[Comparator]] = []
    for alternative in text.split("||"):
        words = re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", alternative.strip().replace(",", " ")).split()
        if not words:
            raise ValueError(f"`{text}` has an empty alternative")
        comparators: list[Comparator] = []
        for word in words:
            match = _COMPARATOR.match(word)
            assert match is not None
            comparators.extend(_bounds(match.group(1) or "", match.group(2)))
        alternatives.append(comparators)
    return alternatives


def satisfies(version: str, semver_range: str) -> bool:
    """Whether `version` is semver and inside `semver_range`."""
    parsed = SemVer.parse(version)
    if parsed is None:
        return False
    for comparators in parse_range(semver_range):
        if not all(_holds(op, parsed, bound) for op, bound in comparators):
            continue
        if parsed.pre and not any(bound.pre and bound.core == parsed.core for _, bound in comparators):
            continue
        return True
    return False


@dataclass(frozen=True)
class VersionRule:
    """The versions an app may be delivered at on a cluster; empty = any version.

    `pattern` is a full-match regex (`\\d+\\.\\d+\\.\\d+`), `semver` a range (`>=2 <3`);
    both must hold when both are set.
    """

    pattern: str | None = None
    semver: str | None = None

    def __post_init__(self) -> None:
        if self.pattern is not None:
            re.compile(self.pattern)
        if self.semver is not None:
            parse_range(self.semver)

    def describe(self) -> str:
        parts = []
        if self.pattern is not None:
            parts.append(f"must match `{self.pattern}`")
        if self.semver is not None:
            parts.append(f"must be semver within `{self.semver}`")
        return " and ".join(parts) or "any version"

    def allows(self, version: str) -> bool:
        if self.pattern is not None and not re.fullmatch(self.pattern, version):
            return False
        return self.semver is None or satisfies(version, self.semver)

    def check(self, version: str) -> None:
        """Raises VersionNotAllowedError naming the rule."""
        if not self.allows(version):
            raise VersionNotAllowedError(version, self.describe())
