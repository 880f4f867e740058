"""Forwarding to the leader, the decisions without a network: this replica's advertised URL,
the settings that name it, and when a request is not forwarded (and why)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from opsbot.ha.forwarding import FORWARDED_HEADER, Forwarder
from opsbot.ha.peers import advertised_url
from opsbot.ha.settings import HASettings


@pytest.mark.parametrize(
    ("configured", "environ", "port", "expected"),
    [
        ("http://opsbot-0.opsbot:8080/", {"POD_IP": "10.0.0.7"}, 8080, "http://opsbot-0.opsbot:8080"),
        (None, {"POD_IP": "10.1.2.3"}, 8080, "http://10.1.2.3:8080"),
        (None, {"POD_IP": " 10.1.2.3 "}, 41234, "http://10.1.2.3:41234"),
        (None, {"POD_IP": "fd00::1:2"}, 8080, "http://[fd00::1:2]:8080"),
        (None, {"POD_IP": "FD00:0::1"}, 8080, "http://[fd00::1]:8080"),
        (None, {}, 8080, None),
        (None, {"POD_IP": ""}, 8080, None),
        (None, {"POD_IP": "not-an-ip"}, 8080, None),
        (None, {"POD_IP": "10.1.2.3"}, None, None),
        (None, {"POD_IP": "10.1.2.3"}, 0, None),
    ],
    ids=[
        "advertise-url-wins",
        "pod-ip-v4",
        "pod-ip-trimmed-actual-port",
        "pod-ip-v6-in-brackets",
        "pod-ip-v6-normalised",
        "no-pod-ip",
        "empty-pod-ip",
        "garbage-pod-ip",
        "not-listening",
        "port-zero",
    ],
)
def test_advertised_url(configured: str | None, environ: dict[str, str], port: int | None, expected: str | None) -> None:
    assert advertised_url(configured, environ, port) == expected


def test_advertise_url_setting_must_be_a_plain_http_url() -> None:
    assert HASettings(advertise_url="https://opsbot.internal:8443/").advertise_url == "https://opsbot.internal:8443"
    assert HASettings().advertise_url is None
    for bad in ("opsbot:8080", "ftp://x", "http://user:pw@opsbot:8080"):
        with pytest.raises(ValidationError, match="advertise_url"):
            HASettings(advertise_url=bad)


class Peers:
    """An in-memory PeerDirectory (what Redis holds), which may be made to fail."""

    def __init__(self, urls: dict[str, str] | None = None, *, broken: bool = False) -> None:
        self.urls = urls or {}
        self.broken = broken

    async def publish(self, identity: str, url: str, ttl: float) -> None:
        self.urls[identity] = url

    async def lookup(self, identity: str) -> str | None:
        if self.broken:
            raise RuntimeError("the shared store is unavailable (Redis cannot be reached)")
        return self.urls.get(identity)

    async def withdraw(self, identity: str, url: str) -> None:
        if self.urls.get(identity) == url:
            del self.urls[identity]


def forwarder(*, leading: bool = False, holder: str = "a", peers: Peers | None = None, enabled: bool = True) -> Forwarder:
    made = Forwarder(
        "b",
        leading=lambda: leading,
        holder=lambda: holder,
        peers=peers or Peers({"a": "http://127.0.0.1:9"}),
        headers=("Authorization",),
    )
    made.enabled = enabled
    return made


async def test_without_a_url_of_its_own_a_replica_answers_itself() -> None:
    """No ha.advertise_url and no POD_IP: forwarding is off, the receiver answers 503 as before."""
    made = forwarder(enabled=False)
    assert await made("/alertmanager/webhook", b"{}", {}) is None
    assert set(made.outcomes.values()) == {0}


async def test_the_leader_answers_itself_even_before_it_is_ready() -> None:
    made = forwarder(leading=True, holder="b")
    assert await made("/alertmanager/webhook", b"{}", {}) is None


@pytest.mark.parametrize(
    ("holder", "peers", "headers", "outcome", "reason"),
    [
        ("a", None, {FORWARDED_HEADER: "c"}, "hop_limit", "forwarded by c"),
        ("", None, {}, "no_leader", "no replica leads yet"),
        ("b", None, {}, "no_leader", "no replica leads yet"),
        ("a", Peers(), {}, "failed", "(a) has not advertised its address"),
        ("a", Peers(broken=True), {}, "failed", "cannot look up the leader's address"),
    ],
    ids=["already-forwarded", "no-holder-seen", "holder-is-self-but-not-leading", "no-url", "store-down"],
)
async def test_a_request_not_forwarded_says_why(
    holder: str, peers: Peers | None, headers: dict[str, str], outcome: str, reason: str
) -> None:
    made = forwarder(holder=holder, peers=peers)
    answer = await made("/alertmanager/webhook", b"{}", headers)
    assert isinstance(answer, str) and reason in answer
    assert made.outcomes == {**dict.fromkeys(made.outcomes, 0), outcome: 1}
