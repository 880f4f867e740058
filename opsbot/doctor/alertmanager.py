"""The doctor's Alertmanager section: the rules against the command registry, the secrets in the
environment, and (online) Alertmanager's API: reachable, and a receiver of ours pointing at the
webhook path. Nothing is changed; no secret reaches a line."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping

import yaml

from opsbot.alertmanager.planning import check_rules
from opsbot.alertmanager.receiver import WEBHOOK_PATH
from opsbot.alertmanager.secrets import load_secrets
from opsbot.commands.catalog import build_registry
from opsbot.config import Settings
from opsbot.doctor.report import Check, Section
from opsbot.policy.settings import BUILTIN_ROLES

TIMEOUT_SECONDS = 10
SECRET_HINT = "in Kubernetes: Secret opsbot-alertmanager, see manifests/components/alertmanager/kustomization.yaml"


def check_alertmanager(settings: Settings, environ: Mapping[str, str], *, offline: bool) -> Section | None:
    """None while the feature is off."""
    config = settings.alertmanager
    if not config.enabled:
        return None
    section = Section("Alertmanager")
    roles = set(BUILTIN_ROLES) | set(settings.policy.roles)
    problems = check_rules(config, build_registry(), roles)
    for problem in problems:
        section.add("fail", problem, "fix the rule in the config (config.example.yaml shows each form)")
    secrets, missing = load_secrets(config, environ)
    for problem in missing:
        section.add("fail", problem, f"set it in opsbot's environment ({SECRET_HINT})")
    if not problems and secrets is not None:
        section.add("ok", f"{len(config.remediations)} remediation rule(s), {len(config.signal_targets)} signal target(s), secrets set")
    if config.url is None:
        section.add("warn", "alertmanager.url is not set: no reconcile after a restart, no silences",
                    "set alertmanager.url to Alertmanager's base URL")  # fmt: skip
        return section
    if offline or secrets is None:
        section.add("info", "Alertmanager's API not checked" + (" (--offline)" if offline else ""))
        return section
    request = urllib.request.Request(config.url + "/api/v2/status", headers=secrets.api.headers())  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = secrets.scrub(str(getattr(exc, "reason", exc)))[:200]
        section.add("fail", f"Alertmanager's API at {config.url} did not answer: {reason}",
                    "check alertmanager.url, the NetworkPolicy (TCP 9093) and the API credentials")  # fmt: skip
        return section
    version = (status.get("versionInfo") or {}).get("version", "?")
    section.add("ok", f"Alertmanager {version} answers at {config.url}")
    section.checks.append(_receiver_check(status, config.receivers))
    return section


def _receiver_check(status: Mapping[str, object], receivers: list[str]) -> Check:
    config = status.get("config")
    original = config.get("original", "") if isinstance(config, dict) else ""
    try:
        loaded = yaml.safe_load(str(original)) or {}
    except yaml.YAMLError:
        loaded = {}
    for receiver in loaded.get("receivers") or []:
        if receiver.get("name") not in receivers:
            continue
        for hook in receiver.get("webhook_configs") or []:
            if str(hook.get("url", "")).endswith(WEBHOOK_PATH) and hook.get("http_config", {}).get("authorization"):
                return Check("ok", f"receiver {receiver['name']!r} sends to {WEBHOOK_PATH} with a bearer token")
    return Check(
        "warn",
        f"no receiver named {', '.join(receivers)} sends to …{WEBHOOK_PATH} with http_config.authorization",
        "add the webhook_config shown in manifests/components/alertmanager/kustomization.yaml",
    )
