"""Version rules from the config: regex and semver ranges (pure)."""

from __future__ import annotations

import pytest

from opsbot.releases.errors import VersionNotAllowedError
from opsbot.releases.rules import SemVer, VersionRule, satisfies


@pytest.mark.parametrize(
    ("version", "semver_range", "ok"),
    [
        pytest.param("1.2.3", ">=1.0.0", True, id="gte"),
        pytest.param("0.9.0", ">=1.0.0", False, id="gte-below"),
        pytest.param("1.9.9", ">=1.2 <2", True, id="and"),
        pytest.param("2.0.0", ">=1.2 <2", False, id="and-upper-bound"),
        pytest.param("1.4.9", "~1.4.2", True, id="tilde"),
        pytest.param("1.5.0", "~1.4.2", False, id="tilde-next-minor"),
        pytest.param("1.9.0", "^1.4", True, id="caret"),
        pytest.param("2.0.0", "^1.4", False, id="caret-next-major"),
        pytest.param("0.2.5", "^0.2.3", True, id="caret-zero-major"),
        pytest.param("0.3.0", "^0.2.3", False, id="caret-zero-major-next-minor"),
        pytest.param("1.7.0", "1.x", True, id="x-range"),
        pytest.param("3.1.0", "^1 || ^3", True, id="or"),
        pytest.param("v6.5.2", "6.5.2", True, id="v-prefix-exact"),
        pytest.param("2.0.0-rc.1", ">=1.0.0", False, id="prerelease-excluded"),
        pytest.param("2.0.0-rc.2", ">=2.0.0-rc.1", True, id="prerelease-named"),
        pytest.param("latest", ">=1", False, id="not-semver"),
    ],
)
def test_semver_ranges(version: str, semver_range: str, ok: bool) -> None:
    assert satisfies(version, semver_range) is ok


def test_prerelease_orders_before_release() -> None:
    assert SemVer.parse("1.0.0-rc.1") < SemVer.parse("1.0.0")  # type: ignore[operator]
    assert SemVer.parse("1.0.0-rc.2") < SemVer.parse("1.0.0-rc.10")  # type: ignore[operator]


def test_rule_with_pattern_and_range_needs_both() -> None:
    rule = VersionRule(pattern=r"\d+\.\d+\.\d+", semver="<2")
    assert rule.allows("1.2.3")
    assert not rule.allows("v1.2.3")
    assert not rule.allows("2.0.0")
    with pytest.raises(VersionNotAllowedError, match=r"must match .* and must be semver within `<2`"):
        rule.check("2.0.0")


def test_an_empty_rule_allows_anything() -> None:
    assert VersionRule().allows("whatever-1")


def test_bad_rules_are_refused_when_built() -> None:
    with pytest.raises(ValueError):
        VersionRule(semver=">=banana")
