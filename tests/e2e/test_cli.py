"""`opsbot` as an operator runs it: the real process, its errors and its logs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.fake_kube import FakeKubeServer
from tests.support.harness import CHANNEL, block_text
from tests.support.slack_emulator import SlackEmulator

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}


def run_cli(
    *args: str, env: dict[str, str] | None = None, unset: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_") and k not in unset}
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
    result = run_cli("check-config", "--config", str(config), env=TOKENS)
    assert result.returncode == 2
    assert re.search(r"^  ✗ clusters\.prod\.in_cluster: ", result.stdout, re.M)
    assert "  ✗ colour: unknown setting" in result.stdout
    assert f"      fix: edit {config} (config.example.yaml documents every setting)" in result.stdout
    assert "  · Slack and clusters not checked: fix the problems above first" in result.stdout
    assert "Traceback" not in result.stderr


def test_check_config_offline_refuses_the_unedited_example_naming_each_placeholder() -> None:
    result = run_cli("check-config", "--offline", "--config", "config.example.yaml", env=TOKENS)
    assert result.returncode == 2, result.stdout + result.stderr
    config = checks(result.stdout, "Config")
    assert not any(line.endswith("valid (2 clusters, default 'prod')") for line in config)
    failed = [line for line in config if line.startswith("✗")]
    assert failed == [
        "✗ channels.CEXAMPLEWEB: CEXAMPLEWEB is a placeholder from the example config, not a real channel id",
        "✗ channels.CEXAMPLEPAYMENTS: CEXAMPLEPAYMENTS is a placeholder from the example config, "
        "not a real channel id",
        "✗ approvals.audit_channel: CEXAMPLEAUDIT is a placeholder from the example config, "
        "not a real channel id",
        "✗ alerts.default_channel: CEXAMPLEALERTS is a placeholder from the example config, "
        "not a real channel id",
        "✗ alerts.rules.0.channel: CEXAMPLEPAYALERTS is a placeholder from the example config, "
        "not a real channel id",
        "✗ policy.bindings.0.users: UEXAMPLEADMIN is a placeholder from the example config, not a real user id",
        "✗ policy.bindings.1.usergroups: SEXAMPLESRE is a placeholder from the example config, "
        "not a real user group id",
        "✗ policy.bindings.2.users: UEXAMPLEWEBDEV is a placeholder from the example config, "
        "not a real user id",
        "✗ policy.bindings.3.channels: CEXAMPLEWEB is a placeholder from the example config, "
        "not a real channel id",
        "✗ policy.channels.CEXAMPLEPAYMENTS: CEXAMPLEPAYMENTS is a placeholder from the example config, "
        "not a real channel id",
        "✗ clusters.staging.kubeconfig: /etc/opsbot/kubeconfig does not exist",
    ]
    assert fix_after(result.stdout, failed[3]) == (
        "edit config.example.yaml: replace it with your own channel id "
        "(in Slack, the channel's name → About → Channel ID)"
    )
    assert fix_after(result.stdout, failed[-1]).startswith("point it at cluster staging's kubeconfig file")
    assert config[-2:] == [
        "✓ SLACK_BOT_TOKEN and SLACK_APP_TOKEN are set (Slack API https://slack.com/api/)",
        "· --offline: Slack and clusters not checked",
    ]
    assert "Slack" not in titles(result.stdout)


def test_check_config_offline_accepts_an_edited_config(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "staging.kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    text = (
        (ROOT / "config.example.yaml")
        .read_text(encoding="utf-8")
        .replace("/etc/opsbot/kubeconfig", str(kubeconfig))
    )
    edited = tmp_path / "config.yaml"
    edited.write_text(re.sub(r"\b([CUS])EXAMPLE", r"\g<1>0MINE", text), encoding="utf-8")
    result = run_cli("check-config", "--offline", "--config", str(edited), env=TOKENS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert checks(result.stdout, "Config")[0] == f"✓ {edited}: valid (2 clusters, default 'prod')"


def test_check_config_names_a_missing_kubeconfig_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"clusters": {"dev": {}}, "alerts": {"enabled": False}}))
    missing = tmp_path / "nope.kubeconfig"
    result = run_cli(
        "check-config", "--offline", "--config", str(config), env={**TOKENS, "KUBECONFIG": str(missing)}
    )
    assert result.returncode == 2
    line = f"✗ clusters.dev: no file named by $KUBECONFIG ({missing}) exists"
    assert line in checks(result.stdout, "Config")
    home = tmp_path / "home"
    home.mkdir()
    environment = {k: v for k, v in TOKENS.items()} | {"HOME": str(home)}
    result = run_cli(
        "check-config", "--offline", "--config", str(config), env=environment, unset=("KUBECONFIG",)
    )
    assert "✗ clusters.dev: no kubeconfig set and ~/.kube/config does not exist" in checks(
        result.stdout, "Config"
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
    result = run_cli("check-config", "--offline", "--config", str(config), env=TOKENS)
    assert result.returncode == 2
    assert "  ✗ policy.roles.dev.verbs: 'scael' is not a command" in result.stdout


def test_check_config_prints_ascii_marks_when_stdout_is_not_utf8(tmp_path: Path) -> None:
    result = run_cli(
        "check-config", "--config", "/nonexistent/opsbot.yaml", env={"PYTHONIOENCODING": "ascii"}
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "  [x] /nonexistent/opsbot.yaml: config file not found" in result.stdout
    assert "  [x] SLACK_BOT_TOKEN is not set: use the app's Bot User OAuth Token (xoxb-...)" in result.stdout
    result.stdout.encode("ascii")


# -- the doctor against the Slack emulator and the fake API server --------------------------


def write_config(tmp_path: Path, kubeconfig: Path, **overrides: Any) -> Path:
    """Alerts watching default and web, Bob an operator: reads, watches and writes all needed."""
    settings: dict[str, Any] = {
        "clusters": {"test": {"kubeconfig": str(kubeconfig), "context": "fake"}},
        "alerts": {"default_channel": "C0ALERTS01"},
        "watch": {"namespaces": ["default", "web"]},
        "policy": {"bindings": [{"role": "operator", "users": ["U0BOB0001"]}]},
    }
    settings.update(overrides)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    return config


async def doctor(
    slack: SlackEmulator, config: Path, *, tokens: bool = True, alert_channel: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    """`opsbot check-config` as a real process, while this test's loop serves the emulator.

    `alert_channel`: `write_config`'s alert channel exists, with opsbot in it."""
    if alert_channel:
        slack.add_channel("C0ALERTS01", "alerts")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    environment["PYTHONIOENCODING"] = "utf-8"
    if tokens:
        environment.update(
            {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_APP_TOKEN": slack.app_token,
                "SLACK_API_URL": slack.base_url,
            }
        )
    environment.update(env)
    args = [sys.executable, "-m", "opsbot", "check-config", "--config", str(config)]
    process = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return subprocess.CompletedProcess(args, process.returncode, out.decode(), err.decode())


def titles(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line and not line.startswith(" ")][:-1]


def checks(stdout: str, title: str) -> list[str]:
    """The check lines of one section, marks included, without the indentation or fix lines."""
    lines = stdout.splitlines()
    start = lines.index(title) + 1
    found: list[str] = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        if not line.startswith("      fix: "):
            found.append(line[2:])
    return found


def fix_after(stdout: str, check: str) -> str:
    """The fix printed under the check line that starts with `check`."""
    lines = stdout.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"  {check}"))
    assert lines[index + 1].startswith("      fix: "), lines[index : index + 2]
    return lines[index + 1].removeprefix("      fix: ")


async def test_check_config_all_good_ticks_every_line_and_exits_0(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    result = await doctor(slack, write_config(tmp_path, kubeconfig))
    assert result.returncode == 0, result.stdout + result.stderr
    assert titles(result.stdout) == ["Config", "Slack", "Cluster test"]
    every = [line for title in titles(result.stdout) for line in checks(result.stdout, title)]
    assert every and all(line.startswith("✓ ") for line in every), every
    assert "✓ SLACK_BOT_TOKEN: auth.test OK: bot @opsbot (UBOT0001) in workspace Emulator (T0000001)" in every
    assert "✓ SLACK_APP_TOKEN: apps.connections.open OK (Socket Mode can connect)" in every
    assert any(line.startswith("✓ bot scopes: all 10 needed are granted (chat:write,") for line in every)
    assert "✓ alerts.default_channel: #alerts (C0ALERTS01) exists and opsbot is a member" in every
    cluster = checks(result.stdout, "Cluster test")
    assert cluster[0] == f"✓ reached {kube.url} (Kubernetes v1.36.0) as system:serviceaccount:opsbot:opsbot"
    assert cluster[1].startswith(
        "✓ namespace default: 18 permissions granted: cronjobs list/watch, daemonsets list, "
        "deployments get/list/patch/watch, "
    )
    assert "deployments/scale get/patch" in cluster[1]
    assert result.stdout.rstrip().endswith("all checks passed")
    reviews = [r for r in kube.requests if "selfsubjectaccessreviews" in r.path]
    assert reviews and kube.writes() == []  # it only asked; nothing was listed as a probe or changed
    assert [r.path for r in kube.requests if r.method == "GET"] == ["/version/"]


async def test_check_config_reports_a_denied_scale_with_the_rule_to_add_and_exits_2(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube.deny("patch", "deployments/scale", namespace="web")
    result = await doctor(slack, write_config(tmp_path, kubeconfig))
    assert result.returncode == 2
    failed = [line for line in checks(result.stdout, "Cluster test") if line.startswith("✗")]
    assert failed == ["✗ namespace web: 1 permission missing: patch deployments/scale (apps) for scale"]
    fix = fix_after(result.stdout, failed[0])
    assert fix.startswith(
        'grant {apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["patch"]} '
        "with the Role opsbot-operate in namespace web: enable manifests/components/operate/"
    )
    assert result.stdout.rstrip().endswith("1 check failed")


async def test_check_config_fails_when_a_watched_namespace_is_not_readable(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube.deny("list", "pods", namespace="web")
    result = await doctor(slack, write_config(tmp_path, kubeconfig))
    assert result.returncode == 2
    line = (
        "✗ namespace web: 1 permission missing: list pods for alert watches, "
        "alert details (log lines, events, pods on a node), describe, events, hello, logs, pods, status, use, restart"
    )
    assert line in checks(result.stdout, "Cluster test")
    fix = fix_after(result.stdout, line)
    assert fix.startswith('add {apiGroups: [""], resources: ["pods"], verbs: ["list"]} to opsbot\'s Role')
    assert any(
        c.startswith("✓ namespace default: ") and "pods get/list/watch" in c
        for c in checks(result.stdout, "Cluster test")
    )


async def test_check_config_missing_node_access_is_only_a_warning(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube.deny(["get", "list", "watch"], "nodes")
    result = await doctor(slack, write_config(tmp_path, kubeconfig))
    assert result.returncode == 0, result.stdout
    warnings = [line for line in checks(result.stdout, "Cluster test") if not line.startswith("✓")]
    assert warnings == [
        "! cluster-scoped: 3 permissions missing: get/list/watch nodes for alert watches, nodes, "
        "status, describe"
    ]
    fix = fix_after(result.stdout, warnings[0])
    assert fix.startswith("enable manifests/components/cluster-wide/ (uncomment it under `components:` in")
    assert 'add {apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"]}' in fix
    assert result.stdout.rstrip().endswith("all checks passed, 1 warning")


async def test_check_config_reports_a_missing_slack_scope_with_the_fix(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    slack.granted_scopes.discard("chat:write")
    result = await doctor(slack, write_config(tmp_path, kubeconfig))
    assert result.returncode == 2
    line = "✗ bot scope chat:write is missing: needed for replies, approval cards and alerts"
    assert any(c.startswith(line) for c in checks(result.stdout, "Slack"))
    assert fix_after(result.stdout, line) == (
        "add the scope in the app config (OAuth & Permissions) or re-create the app from "
        "slack-app-manifest.yaml, then reinstall the app"
    )


async def test_check_config_names_a_rejected_bot_token_without_printing_it(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    wrong = "xoxb-not-the-installed-token-8d1f0c"
    result = await doctor(slack, write_config(tmp_path, kubeconfig), SLACK_BOT_TOKEN=wrong)
    assert result.returncode == 2
    slack_checks = checks(result.stdout, "Slack")
    assert slack_checks == [
        "✗ SLACK_BOT_TOKEN was rejected by Slack (auth.test: invalid_auth)",
        "✓ SLACK_APP_TOKEN: apps.connections.open OK (Socket Mode can connect)",
    ]
    assert "Bot User OAuth Token (xoxb-…" in fix_after(result.stdout, slack_checks[0])
    for secret in (wrong, "8d1f0c", slack.app_token):
        assert secret not in result.stdout and secret not in result.stderr


async def test_check_config_fails_when_socket_mode_cannot_connect(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    slack.disable_connections()
    result = await doctor(slack, write_config(tmp_path, kubeconfig))
    assert result.returncode == 2
    line = "✗ SLACK_APP_TOKEN was rejected by Slack (apps.connections.open: invalid_auth)"
    assert line in checks(result.stdout, "Slack")
    assert "connections:write" in fix_after(result.stdout, line)
    assert slack.app_token not in result.stdout + result.stderr
    assert slack.bot_token not in result.stdout + result.stderr
    assert slack.hello_count == 0  # it asked for a URL but never opened the websocket


async def test_check_config_reports_an_unreachable_cluster_once_and_checks_the_others(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = kube.kubeconfig_dict(context="down")
    dead["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    down = tmp_path / "down.kubeconfig"
    down.write_text(yaml.safe_dump(dead))
    clusters = {
        "test": {"kubeconfig": str(kubeconfig), "context": "fake"},
        "down": {"kubeconfig": str(down), "request_timeout_seconds": 3},
    }
    config = write_config(tmp_path, kubeconfig, clusters=clusters, default_cluster="test")
    result = await doctor(slack, config)
    assert result.returncode == 2
    assert titles(result.stdout) == ["Config", "Slack", "Cluster test", "Cluster down"]
    line = "✗ cluster down is unreachable (connection refused)."
    assert checks(result.stdout, "Cluster down") == [line]
    assert fix_after(result.stdout, line).startswith("check clusters.down (in_cluster, kubeconfig, context)")
    assert all(line.startswith("✓") for line in checks(result.stdout, "Cluster test"))


async def test_check_config_reports_rejected_cluster_credentials_once(
    slack: SlackEmulator, kube: FakeKubeServer, tmp_path: Path
) -> None:
    kubeconfig = kube.write_kubeconfig(tmp_path / "stale.kubeconfig", token="revoked-token")
    result = await doctor(slack, write_config(tmp_path, kubeconfig))
    assert result.returncode == 2
    line = "✗ cluster test rejected opsbot's credentials (check its service account or kubeconfig)."
    assert checks(result.stdout, "Cluster test") == [line]
    assert "an expired or revoked token?" in fix_after(result.stdout, line)
    assert "revoked-token" not in result.stdout + result.stderr


async def test_check_config_checks_impersonation_of_each_group(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube.deny("impersonate", "groups", name="slack:S0SRE0001")
    config = write_config(
        tmp_path,
        kubeconfig,
        impersonation={"enabled": True},
        policy={"bindings": [{"role": "operator", "usergroups": ["S0SRE0001"]}]},
    )
    result = await doctor(slack, config)
    assert result.returncode == 2
    cluster = checks(result.stdout, "Cluster test")
    line = "✗ cluster-scoped: 1 permission missing: impersonate groups 'slack:S0SRE0001' for impersonation"
    assert line in cluster
    fix = fix_after(result.stdout, line)
    assert 'resourceNames: ["slack:S0SRE0001"]}' in fix and "manifests/components/impersonation/" in fix
    assert any("users impersonate" in c and "groups 'opsbot:users' impersonate" in c for c in cluster)
    assert any(c.startswith("· writes (promote, restart, rollback, scale): not needed from opsbot") for c in cluster)


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


# -- channels opsbot posts to, and checking without Slack tokens -----------------------------


async def test_check_config_fails_when_opsbot_is_not_in_the_alert_or_audit_channel(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    slack.add_channel("C0ALERTS01", "alerts", member=False)
    config = write_config(tmp_path, kubeconfig, approvals={"audit_channel": "C0AUDIT001"})
    result = await doctor(slack, config, alert_channel=False)
    assert result.returncode == 2
    slack_checks = checks(result.stdout, "Slack")
    line = "✗ alerts.default_channel: opsbot is not a member of #alerts (C0ALERTS01), so it cannot post there"
    assert line in slack_checks
    assert fix_after(result.stdout, line) == "invite it: type /invite @opsbot in #alerts"
    missing = "✗ approvals.audit_channel: channel C0AUDIT001 not found"
    assert missing in slack_checks
    assert "/invite @opsbot there" in fix_after(result.stdout, missing)
    assert [call for call, _ in slack.calls].count("conversations.info") == 2
    assert all(line.startswith("✓") for line in checks(result.stdout, "Cluster test"))


async def test_check_config_names_each_key_of_a_shared_channel_and_skips_placeholders(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    alerts = {"default_channel": "C0ALERTS01", "rules": [{"channel": "C0ALERTS01"}, {"channel": "CEXAMPLEX"}]}
    result = await doctor(slack, write_config(tmp_path, kubeconfig, alerts=alerts))
    assert result.returncode == 2  # the placeholder, in Config
    assert (
        "✓ alerts.default_channel, alerts.rules.0.channel: #alerts (C0ALERTS01) exists and opsbot is a member"
        in checks(result.stdout, "Slack")
    )
    assert any(
        line.startswith("✗ alerts.rules.1.channel: CEXAMPLEX is a placeholder")
        for line in checks(result.stdout, "Config")
    )
    asked = [args.get("channel") for call, args in slack.calls if call == "conversations.info"]
    assert asked == ["C0ALERTS01"]


async def test_check_config_without_channels_read_skips_the_channel_check_with_a_warning(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    slack.granted_scopes.discard("channels:read")
    result = await doctor(slack, write_config(tmp_path, kubeconfig))
    assert result.returncode == 0, result.stdout
    slack_checks = checks(result.stdout, "Slack")
    assert any(
        line.startswith("! bot scope channels:read is missing: needed for check-config: ")
        for line in slack_checks
    )
    assert "· alert and audit channels not checked: that needs the channels:read scope" in slack_checks
    assert "conversations.info" not in [call for call, _ in slack.calls]


async def test_check_config_without_slack_tokens_still_checks_the_clusters(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube.deny("list", "pods", namespace="web")
    result = await doctor(slack, write_config(tmp_path, kubeconfig), tokens=False)
    assert result.returncode == 2
    assert titles(result.stdout) == ["Config", "Slack", "Cluster test"]
    assert checks(result.stdout, "Slack") == [
        "· not checked: the Slack tokens are missing or malformed (see Config)"
    ]
    config = checks(result.stdout, "Config")
    assert config[0] == f"✓ {tmp_path / 'config.yaml'}: valid (1 cluster, default 'test')"
    assert any(line.startswith("✗ SLACK_BOT_TOKEN is not set") for line in config)
    cluster = checks(result.stdout, "Cluster test")
    assert cluster[0].startswith("✓ reached ")
    assert (
        "✗ namespace web: 1 permission missing: list pods for alert watches, "
        "alert details (log lines, events, pods on a node), describe, events, hello, logs, pods, status, use, restart"
        in cluster
    )
    assert slack.calls == []
