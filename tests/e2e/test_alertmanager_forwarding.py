"""Several replicas (`ha.enabled`) behind one Service: an Alertmanager request that lands on a
replica not running the Alertmanager loops is forwarded once to the one that is (the lease
cluster's leader), and answered with its answer. Two real bots in this process share one
real redis-server, the fake API server's Leases and the Slack emulator; each advertises
http://$POD_IP:<its health port>."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from opsbot.alertmanager.cards import APPROVE_ACTION
from opsbot.alertmanager.handoff import CLICK_PATH, click_document, replica_key, signed_request
from opsbot.alertmanager.receiver import STATUS_PATH, WEBHOOK_PATH
from opsbot.alertmanager.signing import signed_headers
from opsbot.app import Bot
from opsbot.core.request import ButtonClick
from opsbot.ha.forwarding import FORWARDED_HEADER, Forwarder
from tests.e2e.test_alerts import roots
from tests.e2e.test_ha import connection_of, ha_settings, leading
from tests.e2e.test_ha import shared_store as shared_store  # the replicas' one Redis (autouse)
from tests.support.alertmanager import WEBHOOK_TOKEN, Alertmanager, notification
from tests.support.am_world import RULES, secrets
from tests.support.downstream import SECRET
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import ALERTS, BOB, CHANNEL, BotHarness, block_text, click_card, running_bot
from tests.support.loopback import free_port
from tests.support.polling import until
from tests.support.slack_emulator import SlackEmulator

GOOD = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
NOISY = {"alertname": "NoisyDisk", "severity": "warning", "namespace": "web", "instance": "node-7"}


@pytest.fixture(autouse=True)
def pod_ip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set by the downward API in components/ha; both replicas listen on loopback."""
    monkeypatch.setenv("POD_IP", "127.0.0.1")


@contextlib.asynccontextmanager
async def am_replicas(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, *, port_of_a: int = 0, **alertmanager: Any
) -> AsyncIterator[dict[str, Bot]]:
    """Replicas a and b with Alertmanager on (without `url`, no Alertmanager API: notifications
    only), ready to forward: one leads and runs the loops, the other has seen who and found its
    URL. `port_of_a`: a's internal port (where a real Alertmanager sends)."""
    async with contextlib.AsyncExitStack() as stack:
        bots: dict[str, Bot] = {}
        for name in ("a", "b"):
            settings = ha_settings(kubeconfig, name)
            options = settings.alertmanager.model_validate({"enabled": True, **alertmanager})
            health = settings.health.model_copy(update={"port": port_of_a if name == "a" else 0})
            settings = settings.model_copy(update={"alertmanager": options, "health": health})
            bots[name] = await stack.enter_async_context(
                running_bot(slack, kube, settings, alert_flush_interval=0.2, alertmanager_secrets=secrets())
            )

        def forwarding_ready() -> bool:
            leaders = [b for b in bots.values() if leading(b)]
            if len(leaders) != 1 or not leaders[0].alertmanager or not leaders[0].alertmanager.ready:
                return False
            (other,) = [b for b in bots.values() if b is not leaders[0]]
            assert other.leadership is not None and other.forwarding is not None
            return other.leadership.shared_holder() == leaders[0].leadership.identity  # type: ignore[union-attr]

        await until(forwarding_ready)
        yield bots


def roles(bots: dict[str, Bot]) -> tuple[Bot, Bot]:
    """(leader, follower)."""
    (leader,) = [b for b in bots.values() if leading(b)]
    (follower,) = [b for b in bots.values() if b is not leader]
    return leader, follower


def url(bot: Bot, path: str = WEBHOOK_PATH) -> str:
    assert bot.health is not None
    return f"http://127.0.0.1:{bot.health.port}{path}"


def received(bot: Bot) -> int:
    assert bot.alertmanager is not None
    return bot.alertmanager.intake.received


def forwarded(bot: Bot, outcome: str) -> float | None:
    return bot.metrics.registry.get_sample_value("opsbot_alertmanager_forwarded_total", {"outcome": outcome})


async def post(http: aiohttp.ClientSession, target: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with http.post(target, data=body, headers={"Content-Type": "application/json", **headers}) as response:
        return response.status, await response.json()


async def test_a_notification_posted_to_a_follower_is_taken_by_the_leader_once(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    async with am_replicas(slack, kube, kubeconfig) as bots:
        leader, follower = roles(bots)
        body = json.dumps(notification("ForwardedOnce")).encode()
        async with aiohttp.ClientSession(trust_env=False) as http:
            status, answer = await post(http, url(follower), body, GOOD)
        # Alertmanager's 200 means the leader accepted it.
        assert (status, answer) == (200, {"status": "ok"})
        assert (received(leader), received(follower)) == (1, 0)
        await slack.wait_for_post(channel=ALERTS, method="chat.postMessage")
        for bot in bots.values():
            await BotHarness(slack, kube, bot).settle()
        assert len(roots(slack, ALERTS)) == 1
        assert leader.alertmanager is not None and leader.alertmanager.intake.opened == 1
        assert forwarded(follower, "ok") == 1.0
        assert forwarded(leader, "ok") == 0.0


async def test_a_follower_refuses_a_wrong_token_itself_and_never_forwards_twice(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    async with am_replicas(slack, kube, kubeconfig) as bots:
        leader, follower = roles(bots)
        body = json.dumps(notification("NotForwarded")).encode()
        async with aiohttp.ClientSession(trust_env=False) as http:
            status, answer = await post(http, url(follower), body, {"Authorization": "Bearer wrong"})
            assert status == 401 and "bearer" in answer["error"]
            # Nothing reached the leader: it neither took nor refused anything.
            assert leader.alertmanager is not None
            assert (received(leader), leader.alertmanager.refusals.counts) == (0, {})
            assert forwarded(follower, "ok") == 0.0
            # A request some replica already forwarded, landing on one that does not lead.
            again = {**GOOD, FORWARDED_HEADER: "c"}
            status, answer = await post(http, url(follower), body, again)
            assert status == 503 and "does not lead" in answer["error"]
            # The positive control: the same body, rightly authenticated, does reach the leader.
            assert received(leader) == 0
            status, _ = await post(http, url(follower), body, GOOD)
            assert status == 200
        assert received(leader) == 1
        assert [forwarded(follower, o) for o in ("ok", "hop_limit", "failed", "no_leader")] == [1, 1, 0, 0]
        assert follower.alertmanager is not None
        assert follower.alertmanager.refusals.counts == {"401": 1, "503": 1}


async def test_a_status_update_posted_to_a_follower_gets_the_leaders_answer(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    """The signature headers reach the leader intact: it checks them again and answers."""
    async with am_replicas(slack, kube, kubeconfig) as bots:
        leader, follower = roles(bots)
        body = json.dumps({"state": "succeeded"}).encode()
        target = url(follower, STATUS_PATH.replace("{id}", "no-such-action"))
        signed = signed_headers(SECRET, "msg-1", int(time.time()), body)
        async with aiohttp.ClientSession(trust_env=False) as http:
            status, answer = await post(http, target, body, signed)
            assert (status, answer["error"]) == (404, "unknown action id")  # said by the leader
            forged = {**signed, "webhook-signature": "v1,AAAA"}
            status, _ = await post(http, target, body, forged)
            assert status == 401
        assert forwarded(follower, "ok") == 1.0
        assert leader.alertmanager is not None and follower.alertmanager is not None
        assert leader.alertmanager.refusals.counts == {"404": 1}
        assert follower.alertmanager.refusals.counts == {"401": 1}


async def test_a_leader_not_ready_answers_503_itself_and_through_a_follower(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    async with am_replicas(slack, kube, kubeconfig) as bots:
        leader, follower = roles(bots)
        assert leader.alertmanager is not None and leader.leadership is not None
        await leader.alertmanager.pause()  # still leading, its loops not running: "starting"
        body = json.dumps(notification("NotYet")).encode()
        async with aiohttp.ClientSession(trust_env=False) as http:
            status, answer = await post(http, url(leader), body, GOOD)
            assert (status, answer["error"]) == (503, "opsbot is starting; retry")
            status, answer = await post(http, url(follower), body, GOOD)
        identity = leader.leadership.identity
        assert (status, answer["error"]) == (503, f"the leader ({identity}) answered 503; retry")
        assert received(leader) == 0
        assert forwarded(follower, "failed") == 1.0


async def test_without_pod_ip_or_advertise_url_a_follower_answers_503_as_before(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POD_IP")
    async with am_replicas(slack, kube, kubeconfig) as bots:
        leader, follower = roles(bots)
        assert follower.forwarding is not None and follower.forwarding.url is None
        body = json.dumps(notification("NoAddress")).encode()
        async with aiohttp.ClientSession(trust_env=False) as http:
            status, answer = await post(http, url(follower), body, GOOD)
        assert (status, answer["error"]) == (503, "opsbot is starting; retry")
        assert received(leader) == 0
        assert [forwarded(follower, o) for o in ("ok", "failed", "no_leader", "hop_limit")] == [0, 0, 0, 0]


async def test_an_approve_click_on_a_follower_is_decided_run_and_said_by_the_leader(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    """Only the replica running the loops holds the group's thread: the follower Slack handed
    the click to passes it on, and the thread hears who approved and what ran, once."""
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=1)
    saturated = {"alertname": "ApiSaturated", "namespace": "web", "deployment": "api"}
    async with am_replicas(slack, kube, kubeconfig, remediations=RULES[:1]) as bots:
        leader, follower = roles(bots)
        body = json.dumps(notification("ApiSaturated", labels=saturated)).encode()
        async with aiohttp.ClientSession(trust_env=False) as http:
            assert (await post(http, url(leader), body, GOOD))[0] == 200
        root = await slack.wait_for_post(
            lambda p: p.thread_ts is None and "Approve" in block_text(p), channel=ALERTS, timeout=20
        )
        await click_card(slack, root, f"{APPROVE_ACTION}:0", user=BOB, only=connection_of(slack, bots, follower))
        await slack.wait_for_post(lambda p: "Approved by" in p.text, thread_ts=root.ts, timeout=20)
        await slack.wait_for_post(lambda p: "Scaled deployment/api" in p.text, thread_ts=root.ts, timeout=20)
        assert forwarded(follower, "ok") == 1.0
        scales = [r for r in kube.writes() if r.path.endswith("/deployments/api/scale")]
        assert len(scales) == 1


async def test_a_click_not_signed_with_the_replicas_key_is_refused_and_changes_nothing(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    async with am_replicas(slack, kube, kubeconfig, remediations=RULES[:1]) as bots:
        leader, _ = roles(bots)
        click = ButtonClick(BOB, ALERTS, None, f"{APPROVE_ACTION}:0", "r-unknown")
        body, headers = signed_request(click_document(click), replica_key("xoxb-not-the-bots-token"), time.time())
        async with aiohttp.ClientSession(trust_env=False) as http:
            status, answer = await post(http, url(leader, CLICK_PATH), body, headers)
        assert (status, answer["error"]) == (401, "no valid signature")
        assert leader.alertmanager is not None and leader.alertmanager.refusals.counts == {"401": 1}


async def test_a_silence_made_on_a_follower_is_noted_on_the_card_by_the_leader(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    """The real Alertmanager sends to replica a (forwarded if b leads); `silence` and `unsilence`
    are typed to the replica that does not run the loops: the silences are made there, and the
    card and thread, held by the one that does, say so."""
    port_of_a = free_port()
    am = Alertmanager(tmp_path, f"http://127.0.0.1:{port_of_a}{WEBHOOK_PATH}")
    await am.start()
    try:
        async with am_replicas(
            slack, kube, kubeconfig, port_of_a=port_of_a, url=am.url, silence_check_seconds=0.5
        ) as bots:
            leader, follower = roles(bots)
            away_from_leader = {connection_of(slack, bots, leader)}
            await am.fire(NOISY)
            root = await slack.wait_for_post(
                lambda p: p.thread_ts is None and "NoisyDisk" in block_text(p), channel=ALERTS, timeout=30
            )
            asked = await slack.mention(BOB, CHANNEL, "silence NoisyDisk for 2h -- disk swap", avoid=away_from_leader)
            await slack.wait_for_post(lambda p: "Silenced 1 alert" in block_text(p), thread_ts=asked.ts, timeout=20)
            (silence,) = await am.silences()
            await slack.wait_for_post(
                lambda p: p.ts == root.ts and "Silenced by" in block_text(p), method="chat.update", timeout=20
            )
            await slack.wait_for_post(lambda p: "in Alertmanager until" in p.text, thread_ts=root.ts, timeout=20)
            assert forwarded(follower, "ok") == 1.0  # the notes (the notification came to a)
            ended = await slack.mention(BOB, CHANNEL, f"unsilence {silence['id'][:8]}", avoid=away_from_leader)
            await slack.wait_for_post(lambda p: "Silence ended" in block_text(p), thread_ts=ended.ts, timeout=20)
            await slack.wait_for_post(lambda p: "was removed by" in p.text, thread_ts=root.ts, timeout=20)
    finally:
        await am.stop()


class Leader:
    """A stand-in leader on loopback that records what reaches it and answers `status`."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.seen: list[tuple[str, dict[str, str], bytes]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, dict(request.headers), await request.read()))
        return web.json_response({"status": "from the leader"}, status=self.status)

    async def __aenter__(self) -> Leader:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


class OnePeer:
    def __init__(self, url: str) -> None:
        self.url = url

    async def publish(self, identity: str, url: str, ttl: float) -> None: ...

    async def lookup(self, identity: str) -> str | None:
        return self.url if identity == "a" else None

    async def withdraw(self, identity: str, url: str) -> None: ...


def forwarder_to(url: str, timeout: float = 5.0) -> Forwarder:
    made = Forwarder(
        "b", leading=lambda: False, holder=lambda: "a", peers=OnePeer(url),
        headers=("Authorization", "webhook-id"), timeout=timeout,
    )  # fmt: skip
    made.enabled = True
    return made


async def test_the_forwarder_passes_the_body_and_listed_headers_and_marks_the_hop() -> None:
    async with Leader(202) as leader:
        made = forwarder_to(leader.url)
        headers = {"Authorization": "Bearer t", "webhook-id": "m1", "Cookie": "not passed"}
        answer = await made("/alertmanager/webhook", b'{"x": 1}', headers)
        await made.close()
    assert answer == (202, b'{"status": "from the leader"}', "application/json")
    ((path, seen, body),) = leader.seen
    assert (path, body) == ("/alertmanager/webhook", b'{"x": 1}')
    assert seen["Authorization"] == "Bearer t" and seen["webhook-id"] == "m1"
    assert seen[FORWARDED_HEADER] == "b" and "Cookie" not in seen
    assert made.outcomes["ok"] == 1


async def test_a_leader_answering_5xx_or_unreachable_is_a_reason_to_retry() -> None:
    async with Leader(503) as leader:
        busy = forwarder_to(leader.url)
        answer = await busy("/alertmanager/webhook", b"{}", {})
        await busy.close()
    assert answer == "the leader (a) answered 503; retry"
    gone = forwarder_to(leader.url)  # nothing listens there any more
    answer = await gone("/alertmanager/webhook", b"{}", {})
    await gone.close()
    assert isinstance(answer, str) and answer.startswith("could not reach the leader (a)")
    for made in (busy, gone):
        assert made.outcomes == {"ok": 0, "failed": 1, "no_leader": 0, "hop_limit": 0}
