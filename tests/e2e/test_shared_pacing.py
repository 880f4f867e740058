"""Two replicas' outboxes posting to one channel share its pace through Redis: Slack (the
emulator) sees one channel's rate, not one per replica."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from opsbot.slack.outbox import Outbox
from opsbot.slack.settings import OutboxSettings
from opsbot.store.backend import channel_budget, open_backend
from opsbot.store.redis.pacing import RedisBudget
from opsbot.store.settings import StoreSettings
from tests.support.redis_server import RedisServer, redis_server
from tests.support.slack_emulator import SlackEmulator

__all__ = ["redis_server"]

CHANNEL = "C0OPS0001"
RATE, BURST, EACH = 10.0, 2, 12


async def test_two_replicas_posting_to_one_channel_keep_to_one_channels_pace(
    slack: SlackEmulator, redis_server: RedisServer
) -> None:
    # Slack's limit, a little above ours: two replicas pacing alone would go over it.
    slack.enforce_rate_limit("chat.postMessage", per_second=RATE * 1.5, burst=BURST + 1)
    settings = OutboxSettings(per_channel_per_second=RATE, burst=BURST)
    outboxes: list[Outbox] = []
    for _ in range(2):
        # Each replica opens the store as the bot does, and gets its budget from it.
        store = open_backend(StoreSettings(backend="redis"), {"OPSBOT_REDIS_URL": redis_server.url})
        budget = channel_budget(store, rate=RATE, burst=BURST)
        assert isinstance(budget, RedisBudget)
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        outboxes.append(Outbox(client, settings, journal=store, budget=budget))
    await asyncio.gather(
        *(outbox.post(CHANNEL, text=f"{n} from {i}") for i, outbox in enumerate(outboxes) for n in range(EACH))
    )
    for outbox in outboxes:
        await outbox.close()
    posts = [p for p in slack.posts if p.method == "chat.postMessage" and p.channel == CHANNEL]
    assert len(posts) == 2 * EACH
    assert slack.rate_limited == 0
    # The burst at once, then one post every 1/RATE s whichever replica sends it: the
    # posts span (24 - 2) / 10 = 2.2 s (alone, each replica's 12 would span 1.0 s).
    span = float(posts[-1].ts) - float(posts[0].ts)
    assert span >= (2 * EACH - BURST) / RATE - 0.2
