"""Kubernetes naming rules, checked before any API call (pure)."""

from __future__ import annotations

import pytest

from opsbot.core import validation
from opsbot.errors import InvalidNameError


@pytest.mark.parametrize("name", ["web", "a", "api-7d9f-x2k4p", "a.b.c", "x" * 253])
def test_valid_object_names_pass(name: str) -> None:
    assert validation.object_name(name, kind="pod") == name


@pytest.mark.parametrize(
    "name",
    ["", "Web", "-web", "web-", "a_b", "a..b", "x" * 254, "../etc", "a b", "pod;rm", "ünï"],
)
def test_invalid_object_names_fail(name: str) -> None:
    with pytest.raises(InvalidNameError):
        validation.object_name(name, kind="pod")


@pytest.mark.parametrize("name", ["a.b", "x" * 64, "Web"])
def test_namespace_names_are_dns_labels(name: str) -> None:
    with pytest.raises(InvalidNameError, match="namespace"):
        validation.namespace_name(name)


@pytest.mark.parametrize(
    "selector",
    [
        "app=api",
        "app==api",
        "tier!=db",
        "env in (prod,staging)",
        "env notin (dev)",
        "canary",
        "!canary",
        "app.kubernetes.io/name=web,tier=front",
        "k=",
        "example.com/key in (a, b)",
    ],
)
def test_label_selectors_kubectl_accepts_pass(selector: str) -> None:
    assert validation.label_selector(selector)


@pytest.mark.parametrize(
    "selector", ["app=(x", "=x", "a b c", "app=api;rm", "-x=1", "a=" + "v" * 64, ",", "in (a)"]
)
def test_malformed_label_selectors_fail(selector: str) -> None:
    with pytest.raises(InvalidNameError):
        validation.label_selector(selector)


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("1h30m", 5400), ("2d", 172800)])
def test_durations(text: str, seconds: int) -> None:
    assert validation.duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "10x", "-5m", "0s", "31d", "1h 5m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidNameError):
        validation.duration_seconds(text)


def test_bounded_int_enforces_limits() -> None:
    assert validation.bounded_int("3", what="replicas", low=0, high=5) == 3
    for bad in ("6", "-1", "1.5", "1e3", "three", "99999999999"):
        with pytest.raises(InvalidNameError):
            validation.bounded_int(bad, what="replicas", low=0, high=5)
