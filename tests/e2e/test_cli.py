"""`opsbot` as an operator runs it: the real process, its errors and its logs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import CHANNEL, block_text
from tests.support.slack_emulator import SlackEmulator

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "opsbot", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=60,
    )


def test_version_prints_the_version() -> None:
    result = run_cli("version")
    assert result.returncode == 0 and result.stdout.startswith("opsbot 0.")


def test_run_without_tokens_says_which_are_missing_in_one_line_each() -> None:
    result = run_cli("run", "--config", "config.example.yaml")
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in result.stderr and "SLACK_APP_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2


def test_run_without_config_file_says_how_to_make_one() -> None:
    result = run_cli(
        "run",
        "--config",
        "/nonexistent/opsbot.yaml",
        env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"},
    )
    assert result.returncode == 2
    assert "config file not found (copy config.example.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_names_the_key_path_of_each_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        yaml.safe_dump(
            {"clusters": {"prod": {"in_cluster": "maybe"}}, "default_cluster": "nope", "colour": 1}
        )
    )
    result = run_cli(
        "check-config",
        "--config",
        str(config),
        env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"},
    )
    assert result.returncode == 2
    assert "clusters.prod.in_cluster:" in result.stderr
    assert "colour: unknown setting" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_accepts_the_example() -> None:
    result = run_cli(
        "check-config",
        "--offline",
        "--config",
        "config.example.yaml",
        env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"},
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


async def test_opsbot_run_answers_in_slack_logs_json_without_tokens_and_exits_0_on_sigterm(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    settings = {
        "clusters": {"test": {"kubeconfig": str(kubeconfig), "context": "fake"}},
        "alerts": {"default_channel": "C0ALERTS01"},
        "store": {"path": str(tmp_path / "state" / "opsbot.db")},
        "health": {"host": "127.0.0.1", "port": 0},
    }
    config.write_text(yaml.safe_dump(settings))
    kube.add_deployment("default", "api", replicas=2)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    environment.update(
        {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.base_url,
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "opsbot", "run", "--config", str(config),
        cwd=ROOT, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        try:
            await slack.wait_connected(1, timeout=30)
        except AssertionError:
            process.kill()
            assert process.stderr is not None
            raise AssertionError((await process.stderr.read()).decode()[-3000:]) from None
        sent = await slack.mention("U0ALICE01", CHANNEL, "pods")
        reply = await slack.wait_for_post(thread_ts=sent.ts, timeout=15)
        assert "api-" in block_text(reply) and "cluster `test`" in block_text(reply)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    assert process.stderr is not None
    logs = (await process.stderr.read()).decode()
    assert slack.bot_token not in logs and slack.app_token not in logs
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    summary = [line for line in lines if line.get("event") == "command"]
    assert summary and summary[0]["command"] == "pods" and summary[0]["cluster"] == "test"
    assert {"request_id", "user", "channel", "namespace", "outcome", "duration_ms"} <= set(summary[0])
    assert any(line.get("event") == "stopped" for line in lines)


def test_check_config_reports_a_missing_node_permission_once_with_the_fix(
    kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube.deny(["list", "watch"], "nodes")
    config = tmp_path / "config.yaml"
    settings = {
        "clusters": {"test": {"kubeconfig": str(kubeconfig), "context": "fake"}},
        "alerts": {"default_channel": "C0ALERTS01"},
        "watch": {"namespaces": ["default"]},
    }
    config.write_text(yaml.safe_dump(settings))
    result = run_cli(
        "check-config",
        "--config",
        str(config),
        env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"},
    )
    assert result.returncode == 0, result.stderr
    assert "ok: cluster test: can list/watch pods in namespace default" in result.stdout
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: cluster test: may not list nodes (cluster-scoped): apply manifests/cluster-wide/ "
        "for node alerts and `nodes`; node watches are skipped"
    ]


def test_check_config_fails_when_a_watched_namespace_is_not_readable(
    kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube.deny("list", "pods", namespace="web")
    config = tmp_path / "config.yaml"
    settings = {
        "clusters": {"test": {"kubeconfig": str(kubeconfig), "context": "fake"}},
        "alerts": {"default_channel": "C0ALERTS01"},
        "watch": {"namespaces": ["default", "web"]},
    }
    config.write_text(yaml.safe_dump(settings))
    result = run_cli(
        "check-config",
        "--config",
        str(config),
        env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"},
    )
    assert result.returncode == 2
    assert (
        "error: cluster test: may not list pods in namespace web: add a Role + RoleBinding" in result.stderr
    )


def test_check_config_reports_policy_verbs_that_are_not_commands(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    settings = {
        "clusters": {"test": {"in_cluster": True}},
        "alerts": {"enabled": False},
        "policy": {
            "roles": {"dev": {"verbs": ["pods", "scael"]}},
            "bindings": [{"role": "dev", "users": ["U0DEV0001"]}],
        },
    }
    config.write_text(yaml.safe_dump(settings))
    result = run_cli(
        "check-config",
        "--offline",
        "--config",
        str(config),
        env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"},
    )
    assert result.returncode == 2
    assert "policy.roles.dev.verbs: 'scael' is not a command" in result.stderr
