"""`opsbot console`: the Slack front end's router, policy and approvals, typed in a terminal,
against the fake API server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsbot.console.session import ConsoleSession, Who
from opsbot.kube.directory import ClusterDirectory
from opsbot.store.sqlite import SqliteStore
from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import ALICE, BOB, make_settings

POLICY: dict[str, Any] = {
    "bindings": [
        {"role": "admin", "users": [ALICE]},
        {"role": "operator", "users": [BOB]},
    ],
    "channels": {"C0READONLY": {"allow_verbs": ["read"]}},
    "approvals": [{"namespaces": ["prod"], "self_confirm": False, "approvals_required": 1}],
    "rate_limit": {"commands_per_minute": 600, "burst": 50},
}


class Console:
    """A session plus everything it printed."""

    def __init__(self, session: ConsoleSession, store: SqliteStore) -> None:
        self.session = session
        self.store = store
        self.printed: list[str] = []

    async def type(self, line: str) -> str:
        """What the console printed for this one line."""
        before = len(self.printed)
        keep = await self.session.handle(line)
        assert keep
        return "\n".join(self.printed[before:])


@pytest.fixture
def console(kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path) -> Iterator[Console]:
    for namespace in ("web", "prod"):
        kube.add_namespace(namespace)
        kube.add_deployment(namespace, "api", replicas=3)
    settings = make_settings(kubeconfig, policy=POLICY)
    directory = ClusterDirectory(settings.clusters)
    store = SqliteStore(tmp_path / "console.db")
    holder: list[Console] = []
    session = ConsoleSession(
        settings, directory, Who("console:tester"), lambda text: holder[0].printed.append(text), audit_log=store
    )
    holder.append(Console(session, store))
    try:
        yield holder[0]
    finally:
        session.close()
        directory.close()
        store.close()


def replicas(kube: FakeKubeServer, namespace: str) -> int:
    deployment = kube.get("deployments", namespace, "api")
    assert deployment is not None
    return int(deployment["spec"]["replicas"])


async def test_read_commands_answer_as_plain_text(console: Console, kube: FakeKubeServer) -> None:
    await console.type(f":as {BOB}")
    out = await console.type("pods -n web")
    assert "NAME" in out and "api-" in out and "Running" in out
    assert "```" not in out and "*" not in out.splitlines()[0]


async def test_unknown_commands_and_bad_names_get_an_answer_and_call_nothing(
    console: Console, kube: FakeKubeServer
) -> None:
    await console.type(f":as {BOB}")
    kube.clear_requests()
    assert "I don't know the command `podz`" in await console.type("podz")
    assert "Invalid input" in await console.type("logs Bad_Name!! -n web")
    assert kube.requests == []


async def test_the_policy_applies_to_the_console_user(console: Console, kube: FakeKubeServer) -> None:
    assert "bind your user id console:tester" in await console.type("pods -n web")
    await console.type(f":as {BOB}")
    assert "now typing in C0READONLY" in await console.type(":channel C0READONLY")
    assert "Not allowed" not in await console.type("pods -n web")
    assert "Not allowed" in await console.type("scale deploy/api 0 -n web")
    assert replicas(kube, "web") == 3
    await console.type(":channel console")
    assert "Confirm: scale" in await console.type("scale deploy/api 0 -n web")
    assert replicas(kube, "web") == 3


async def test_a_confirmed_scale_runs_once_and_is_audited(console: Console, kube: FakeKubeServer) -> None:
    assert "now acting as U0ALICE01" in await console.type(f":as {ALICE}")
    card = await console.type("scale deploy/api 0 -n web")
    assert "Confirm: scale" in card and "replicas 3 → 0" in card and ":confirm" in card
    assert replicas(kube, "web") == 3
    done = await console.type(":confirm")
    assert "Done: scale" in done
    assert replicas(kube, "web") == 0
    assert "nothing is waiting" in await console.type(":confirm")
    kinds = [(record["kind"], record["outcome"]) for record in console.store.audit_records(user_id=ALICE)]
    assert ("command", "planned") in kinds
    assert any(kind == "execution" and outcome.startswith("succeeded") for kind, outcome in kinds)


async def test_a_cancelled_request_changes_nothing(console: Console, kube: FakeKubeServer) -> None:
    await console.type(f":as {BOB}")
    await console.type("restart deploy/api -n web")
    out = await console.type(":cancel")
    assert "Cancelled" in out
    assert "restartedAt" not in str(kube.get("deployments", "web", "api"))


async def test_two_person_rule_the_requester_cannot_approve_another_user_can(
    console: Console, kube: FakeKubeServer
) -> None:
    await console.type(f":as {ALICE}")
    card = await console.type("scale deploy/api 1 -n prod")
    assert "Approval needed" in card and "`:approve" in card
    short = card.split("[", 1)[1].split("]", 1)[0]
    await console.type(":confirm")
    await console.type(f":approve {short}")
    assert replicas(kube, "prod") == 3
    await console.type(f":as {BOB}")
    out = await console.type(f":approve {short}")
    assert "Done: scale" in out
    assert replicas(kube, "prod") == 1


async def test_console_commands_explain_their_mistakes(console: Console) -> None:
    assert "usage: `:as USER_ID" in await console.type(":as Alice Smith")
    assert "unknown console command `:frobnicate`" in await console.type(":frobnicate")
    assert "no single request starts with `zzz`" in await console.type(":approve zzz")
    assert ":confirm [ID]" in await console.type(":help")
    assert not await console.session.handle("quit")


def test_opsbot_console_reads_commands_from_a_pipe_and_confirms_a_scale(
    kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=3)
    not_a_directory = tmp_path / "plain-file"
    not_a_directory.write_text("")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "clusters": {"test": {"kubeconfig": str(kubeconfig), "context": "fake"}},
                "alerts": {"enabled": False},
                "store": {"path": str(not_a_directory / "opsbot.db")},
                "policy": {"bindings": [{"role": "admin", "users": [ALICE]}]},
            }
        )
    )
    command = [sys.executable, "-m", "opsbot", "console", "--config", str(config), "--as", ALICE]
    script = "pods -n web\nscale deploy/api 1 -n web\n:confirm\nquit\n"
    environment = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}

    refused = subprocess.run(command, input=script, capture_output=True, text=True, timeout=60, env=environment)
    assert refused.returncode == 2
    assert f"store.path: cannot open '{not_a_directory / 'opsbot.db'}'" in refused.stderr
    assert replicas(kube, "web") == 3
    assert "--store PATH" in refused.stderr

    store = tmp_path / "console.db"
    done = subprocess.run(
        [*command, "--store", str(store)], input=script, capture_output=True, text=True, timeout=60, env=environment
    )
    assert done.returncode == 0, done.stderr
    assert "api-" in done.stdout and "Confirm: scale" in done.stdout and "Done: scale" in done.stdout
    assert replicas(kube, "web") == 1
    audit = SqliteStore(store)
    try:
        assert any(record["kind"] == "execution" for record in audit.audit_records(user_id=ALICE))
    finally:
        audit.close()


def test_opsbot_console_refuses_ids_that_are_not_slack_ids(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "opsbot", "console", "--as", "alice", "--channel", "#ops"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "--as: 'alice' is not a Slack user id" in result.stderr
    assert "--channel: '#ops' is not a channel id" in result.stderr


async def test_as_without_a_user_goes_back_to_the_console_user(console: Console) -> None:
    await console.type(f":as {BOB}")
    assert "now acting as console:tester again" in await console.type(":as")
    assert console.session.who.user == "console:tester"


def test_a_piped_script_is_not_rate_limited_and_survives_an_ascii_terminal(
    kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    """Chat's per-person limit (default burst 5) does not stop a 12-line script; a pipe that
    can only carry ASCII gets stand-ins for ✓ and the like instead of a crash."""
    kube.add_namespace("web")
    kube.add_deployment("web", "api", replicas=1)
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "clusters": {"test": {"kubeconfig": str(kubeconfig), "context": "fake"}},
                "alerts": {"enabled": False},
                "watch": {"cache": False},
                "store": {"path": str(tmp_path / "console.db")},
            }
        )
    )
    script = "".join("pods -n web\n" for _ in range(12))
    environment = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    environment["PYTHONIOENCODING"] = "ascii"
    result = subprocess.run(
        [sys.executable, "-m", "opsbot", "console", "--config", str(config)],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("api-") == 12
    assert "Slow down" not in result.stdout and "UnicodeEncodeError" not in result.stderr


async def test_apps_in_the_console_lists_every_cluster_live(console: Console) -> None:
    """No watches in the console: `apps` lists each cluster live, and names them."""
    await console.type(f":as {BOB}")
    out = await console.type("apps -n web")
    assert "1 apps on 1 of 1 clusters" in out and "api" in out and "nginx" not in out
