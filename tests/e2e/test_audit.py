"""Every command and every approval step leaves an append-only audit record."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from opsbot.approvals.cards import CONFIRM_ACTION
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import (
    ALICE,
    BOB,
    CHANNEL,
    BotHarness,
    block_text,
    button_value,
    make_settings,
    running_bot,
)
from tests.support.slack_emulator import SlackEmulator


async def test_reads_refusals_requests_and_executions_are_audited(harness: BotHarness) -> None:
    harness.slack.add_user(ALICE, "alice", "Alice Example")
    harness.kube.add_deployment("web", "api", replicas=3)
    with capture_logs() as logs:
        await harness.ask("pods -n web")
        await harness.ask("logs Bad_Name")
        card = await harness.ask("scale deploy/api 1 -n web")
        await harness.slack.click(
            ALICE,
            channel=CHANNEL,
            message_ts=card.ts,
            action_id=CONFIRM_ACTION,
            value=button_value(card, CONFIRM_ACTION),
        )
        await harness.slack.wait_for_post(lambda p: "Scaled deployment/api" in p.text)
    records = harness.bot.auditor.recent(last=10)
    summary = [(r["kind"], r["command"], r["outcome"]) for r in records]
    assert summary[:3] == [
        ("command", "pods -n web", "ok"),
        ("command", "logs Bad_Name", "invalid_input"),
        ("command", "scale deploy/api 1 -n web", "planned"),
    ]
    assert ("approval", "scale deployment/api in web on test", "requested") in summary
    assert ("approval", "scale deployment/api in web on test", "executing") in summary
    execution = [r for r in records if r["kind"] == "execution"]
    assert execution and execution[0]["outcome"].startswith("succeeded: Scaled deployment/api from 3 to 1")
    first = records[0]
    assert first["user_id"] == ALICE and first["user_name"] == "alice"
    # Approval steps and the execution carry the name too, not only commands.
    assert {(r["kind"], r["user_name"]) for r in records if r["kind"] != "command"} == {
        ("approval", "alice"),
        ("execution", "alice"),
    }
    assert first["cluster"] == "test" and first["namespace"] == "web" and first["channel"] == CHANNEL
    assert sum(1 for entry in logs if entry["event"] == "audit") == len(records)


def test_the_audit_table_refuses_updates_and_deletes(tmp_path) -> None:
    from opsbot.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "s.db")
    store.append_audit(1.0, "U1", "command", {"command": "pods"})
    store.close()
    db = sqlite3.connect(tmp_path / "s.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit SET user_id = 'U2'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit")


async def test_audit_command_is_for_admins(harness: BotHarness) -> None:
    await harness.ask("pods -n web", user=BOB)
    text = block_text(await harness.ask(f"audit --user {BOB} --last 5", user=ALICE))
    assert "pods -n web" in text and BOB in text
    refused = block_text(await harness.ask("audit", user=BOB))
    assert "Not allowed" in refused and "admin" in refused


async def test_mutating_actions_are_mirrored_to_the_audit_channel(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=3)
    settings = make_settings(kubeconfig, approvals={"audit_channel": "C0AUDIT001"})
    async with running_bot(slack, kube, settings) as bot:
        harness = BotHarness(slack, kube, bot)
        await harness.ask("pods -n web")
        card = await harness.ask("scale deploy/api 1 -n web")
        await slack.click(
            ALICE,
            channel=CHANNEL,
            message_ts=card.ts,
            action_id=CONFIRM_ACTION,
            value=button_value(card, CONFIRM_ACTION),
        )
        done = await slack.wait_for_post(lambda p: "succeeded" in p.text, channel="C0AUDIT001")
        assert f"<@{ALICE}>" in done.text and "scale deployment/api in web on test" in done.text
        await harness.settle()
    mirrored = [p.text for p in slack.posts if p.channel == "C0AUDIT001"]
    assert not any("pods -n web" in text for text in mirrored), "reads are not mirrored"
    assert any("requested" in text for text in mirrored)


async def test_the_audit_reads_as_short_lines_and_cluster_scoped_commands_name_no_namespace(
    harness: BotHarness,
) -> None:
    await harness.ask("nodes", user=ALICE)
    await harness.ask("pods -n web", user=ALICE)
    reply = await harness.ask("audit --last 3", user=ALICE)
    lines = [line for line in block_text(reply).split("\n") if line.startswith(("•", "    →"))]
    assert lines and all(len(line) <= 200 for line in lines)
    nodes = next(line for line in lines if "`nodes`" in line)
    assert nodes.endswith("on test")
    pods = next(line for line in lines if "pods -n web" in line)
    assert pods.endswith("on test/web")
