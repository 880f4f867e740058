"""The I/O of `opsbot check-config`: read the config, ask Slack, ask every cluster.

Config: it loads, names no placeholder id left from the example (`placeholders`), and
every kubeconfig file it relies on exists. Slack: auth.test with the bot token (who we
are, and the granted scopes from the ``x-oauth-scopes`` response header),
conversations.info for each channel opsbot posts to on its own (it exists, opsbot is a
member), apps.connections.open with the app token (it may open Socket Mode connections;
the websocket itself is never opened). Without tokens Slack is "not checked" and the
clusters still are. Clusters: built like the bot builds them (`ClusterDirectory`),
GET /version, then one SelfSubjectAccessReview per required permission; nothing is
listed, read or changed. Store (Redis only): see `opsbot.doctor.store`.

No token value ever reaches a line: messages are built from Slack's error codes, and
every line is scrubbed of both tokens before it is returned.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from slack_sdk.errors import SlackApiError
from slack_sdk.web import WebClient

from opsbot.commands.catalog import build_registry
from opsbot.commands.router import build_policy
from opsbot.config import Secrets, Settings, load_secrets, load_settings
from opsbot.core.durations import count
from opsbot.doctor.alertmanager import check_alertmanager
from opsbot.doctor.placeholders import is_placeholder, placeholder_fix, placeholders
from opsbot.doctor.releases import check_repositories
from opsbot.doctor.report import Check, Section, permission_checks, scope_checks
from opsbot.doctor.requirements import (
    SCOPE_FIX,
    SLACK_MANIFEST,
    cluster_requirements,
    posting_channels,
    required_scopes,
)
from opsbot.doctor.store import check_store
from opsbot.errors import ConfigError, KubeError, UnauthorizedError
from opsbot.kube.client import KubeClient
from opsbot.kube.directory import ClusterDirectory

SLACK_TIMEOUT_SECONDS = 10
SECRET_HINT = "in Kubernetes: Secret opsbot-slack, see manifests/base/secret.example.yaml"
BOT_TOKEN_FIX = (
    "put the Bot User OAuth Token (xoxb-…, the app's OAuth & Permissions page) into SLACK_BOT_TOKEN "
    f"({SECRET_HINT}); reinstall the app if the token was revoked"
)
APP_TOKEN_FIX = (
    "generate an app-level token with the connections:write scope (Basic Information → App-Level "
    f"Tokens) and put it into SLACK_APP_TOKEN ({SECRET_HINT})"
)
SOCKET_MODE_FIX = (
    "turn on Socket Mode (the app's Settings → Socket Mode) and check that SLACK_APP_TOKEN is an "
    f"app-level token with connections:write ({SECRET_HINT})"
)
_REJECTED = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission"}
)


def diagnose(
    path: str, *, offline: bool, environ: Mapping[str, str], kubeconfig: str | None
) -> list[Section]:
    """Every section of the checklist. Slack and the clusters are checked once the config
    loads; Slack only with tokens, the clusters whatever Slack says."""
    config = Section("Config")
    settings: Settings | None = None
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        for problem in exc.problems:
            config.add("fail", problem, f"edit {path} (config.example.yaml documents every setting)")
    no_kubeconfig: set[str] = set()
    if settings is not None:
        unknown = build_policy(settings.policy, build_registry()).unknown_verbs()
        for problem in unknown:
            config.add("fail", problem, f"edit {path}: use command names, read, write or '*'")
        problems = [
            Check(
                "fail",
                f"{slack_id.path}: {slack_id.value} is a placeholder from the example config, "
                f"not a real {slack_id.kind} id",
                f"edit {path}: {placeholder_fix(slack_id.kind)}",
            )
            for slack_id in placeholders(settings)
        ]
        for cluster, check in kubeconfig_checks(settings, kubeconfig):
            no_kubeconfig.add(cluster)
            problems.append(check)
        if not unknown and not problems:
            config.add(
                "ok",
                f"{path}: valid ({count(len(settings.clusters), 'cluster')}, default {settings.primary_cluster!r})",
            )
        config.checks.extend(problems)
        if unknown:
            settings = None  # the policy cannot be built: nothing below would be right
    secrets: Secrets | None = None
    try:
        secrets = load_secrets(environ)
    except ConfigError as exc:
        for problem in exc.problems:
            config.add("fail", problem, f"set it in opsbot's environment ({SECRET_HINT})")
    else:
        config.add("ok", f"SLACK_BOT_TOKEN and SLACK_APP_TOKEN are set (Slack API {secrets.slack_api_url})")
    sections = [config]
    store = check_store(settings, environ, offline=offline) if settings is not None else None
    if store is not None:
        sections.append(store)
    alertmanager = check_alertmanager(settings, environ, offline=offline) if settings is not None else None
    if alertmanager is not None:
        sections.append(alertmanager)
    if offline:
        config.add("info", "--offline: Slack and clusters not checked")
        return sections
    if settings is None:
        config.add("info", "Slack and clusters not checked: fix the problems above first")
        return sections
    if secrets is None:
        slack = Section("Slack")
        slack.add("info", "not checked: the Slack tokens are missing or malformed (see Config)")
        sections.append(slack)
    else:
        sections.append(check_slack(settings, secrets))
    sections.extend(check_clusters(settings, kubeconfig, no_kubeconfig=no_kubeconfig))
    repositories = check_repositories(settings, environ)
    if repositories is not None:
        sections.append(repositories)
    return sections


def kubeconfig_checks(settings: Settings, environ_kubeconfig: str | None) -> list[tuple[str, Check]]:
    """(cluster, failure) for each cluster whose kubeconfig file is not there.

    The file comes from ``clusters.NAME.kubeconfig``, else $KUBECONFIG (a list, like
    kubectl's), else ~/.kube/config: what `opsbot.kube.client.build_api_client` loads.
    """
    found: list[tuple[str, Check]] = []
    for name, cluster in settings.clusters.items():
        if cluster.in_cluster:
            continue
        if cluster.kubeconfig:
            paths = [cluster.kubeconfig]
            text = f"clusters.{name}.kubeconfig: {cluster.kubeconfig} does not exist"
            fix = (
                f"point it at cluster {name}'s kubeconfig file, or remove it to use $KUBECONFIG or "
                "~/.kube/config"
            )
        elif environ_kubeconfig:
            paths = [p for p in environ_kubeconfig.split(os.pathsep) if p]
            text = f"clusters.{name}: no file named by $KUBECONFIG ({environ_kubeconfig}) exists"
            fix = f"set KUBECONFIG to an existing kubeconfig file, or set clusters.{name}.kubeconfig"
        else:
            paths = ["~/.kube/config"]
            text = f"clusters.{name}: no kubeconfig set and ~/.kube/config does not exist"
            fix = (
                f"set clusters.{name}.kubeconfig (or $KUBECONFIG) to its kubeconfig file, or use "
                "in_cluster: true where opsbot runs inside that cluster"
            )
        if not any(Path(os.path.expanduser(p)).is_file() for p in paths):
            found.append((name, Check("fail", text, fix)))
    return found


# -- Slack --------------------------------------------------------------------------------


def _header(headers: Mapping[str, object], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return None


def _api_error(exc: SlackApiError) -> str:
    error = exc.response.get("error") if exc.response is not None else None
    return str(error or f"HTTP {getattr(exc.response, 'status_code', '?')}")


def _unreachable(url: str, exc: Exception) -> Check:
    reason = getattr(exc, "reason", None) or exc
    return Check(
        "fail",
        f"Slack API at {url} could not be reached ({type(exc).__name__}: {str(reason)[:200]})",
        "check SLACK_API_URL, DNS and outbound HTTPS (proxy: HTTPS_PROXY) from where opsbot runs",
    )


def _bot_token_check(code: str) -> Check:
    if code == "not_allowed_token_type":
        return Check(
            "fail", "SLACK_BOT_TOKEN is not a bot token (auth.test: not_allowed_token_type)", BOT_TOKEN_FIX
        )
    if code in _REJECTED:
        return Check("fail", f"SLACK_BOT_TOKEN was rejected by Slack (auth.test: {code})", BOT_TOKEN_FIX)
    if code == "ratelimited":
        return Check("fail", "auth.test was rate limited by Slack", "run check-config again in a minute")
    return Check("fail", f"auth.test with SLACK_BOT_TOKEN failed ({code})", BOT_TOKEN_FIX)


def _app_token_check(code: str) -> Check:
    if code == "not_allowed_token_type":
        return Check(
            "fail",
            "SLACK_APP_TOKEN is not an app-level token (apps.connections.open: not_allowed_token_type)",
            APP_TOKEN_FIX,
        )
    if code == "missing_scope":
        return Check("fail", "SLACK_APP_TOKEN lacks the connections:write scope", APP_TOKEN_FIX)
    if code in _REJECTED:
        return Check(
            "fail", f"SLACK_APP_TOKEN was rejected by Slack (apps.connections.open: {code})", APP_TOKEN_FIX
        )
    return Check(
        "fail",
        f"apps.connections.open with SLACK_APP_TOKEN failed ({code}): Socket Mode cannot connect",
        SOCKET_MODE_FIX,
    )


def check_slack(settings: Settings, secrets: Secrets) -> Section:
    """Both tokens and the bot's scopes, against `secrets.slack_api_url`."""
    section = Section("Slack")
    url = secrets.slack_api_url
    bot = WebClient(token=secrets.bot_token, base_url=url, timeout=SLACK_TIMEOUT_SECONDS)
    try:
        response = bot.auth_test()
    except SlackApiError as exc:
        section.checks.append(_bot_token_check(_api_error(exc)))
    except Exception as exc:  # network, TLS, a non-JSON answer: nothing else can be checked
        section.checks.append(_unreachable(url, exc))
        return _scrubbed(section, secrets)
    else:
        bot_user = response.get("user") or "?"
        section.add(
            "ok",
            f"SLACK_BOT_TOKEN: auth.test OK: bot @{bot_user} ({response.get('user_id')}) "
            f"in workspace {response.get('team')} ({response.get('team_id')})",
        )
        granted = _header(response.headers, "x-oauth-scopes")
        scopes: frozenset[str] | None = None
        if granted is None:
            section.add(
                "warn",
                "Slack did not say which scopes the bot token has (no x-oauth-scopes header)",
                f"compare the app's OAuth & Permissions page with the bot scopes in {SLACK_MANIFEST}",
            )
        else:
            scopes = frozenset(scope.strip() for scope in granted.split(",") if scope.strip())
            section.checks.extend(scope_checks(scopes, required_scopes(settings)))
        section.checks.extend(channel_checks(bot, settings, scopes, bot_user))
    app = WebClient(base_url=url, timeout=SLACK_TIMEOUT_SECONDS)
    try:
        app.apps_connections_open(app_token=secrets.app_token)
    except SlackApiError as exc:
        section.checks.append(_app_token_check(_api_error(exc)))
    except Exception as exc:
        section.checks.append(_unreachable(url, exc))
    else:
        section.add("ok", "SLACK_APP_TOKEN: apps.connections.open OK (Socket Mode can connect)")
    return _scrubbed(section, secrets)


def channel_checks(
    bot: WebClient, settings: Settings, scopes: frozenset[str] | None, bot_user: str
) -> list[Check]:
    """Each channel opsbot posts to on its own exists, is not archived, and has opsbot in it."""
    channels = {c: paths for c, paths in posting_channels(settings).items() if not is_placeholder(c)}
    if not channels:
        return []
    if scopes is not None and "channels:read" not in scopes:
        return [Check("info", "alert and audit channels not checked: that needs the channels:read scope")]
    invite = f"/invite @{bot_user}"
    checks: list[Check] = []
    for channel, paths in channels.items():
        where = ", ".join(paths)
        try:
            info = bot.conversations_info(channel=channel).get("channel") or {}
        except SlackApiError as exc:
            code = _api_error(exc)
            if code == "channel_not_found":
                checks.append(
                    Check(
                        "fail",
                        f"{where}: channel {channel} not found",
                        "use the channel's id (in Slack: the channel's name → About → Channel ID); a "
                        f"private channel is visible to opsbot only once it is a member: {invite} there",
                    )
                )
            elif code == "missing_scope":
                checks.append(
                    Check(
                        "warn",
                        f"{where}: channel {channel} not checked: conversations.info needs channels:read "
                        "(groups:read for a private channel)",
                        SCOPE_FIX,
                    )
                )
            else:
                checks.append(
                    Check(
                        "warn",
                        f"{where}: channel {channel} not checked (conversations.info: {code})",
                        "run check-config again in a minute",
                    )
                )
            continue
        except Exception as exc:
            checks.append(_unreachable(str(bot.base_url), exc))
            break
        name = f"#{info['name']}" if info.get("name") else channel
        label = f"{name} ({channel})" if name != channel else channel
        if info.get("is_archived"):
            checks.append(
                Check(
                    "fail",
                    f"{where}: {label} is archived, so opsbot cannot post there",
                    f"unarchive it, or name another channel in {where}",
                )
            )
        elif not info.get("is_member"):
            checks.append(
                Check(
                    "fail",
                    f"{where}: opsbot is not a member of {label}, so it cannot post there",
                    f"invite it: type {invite} in {name}",
                )
            )
        else:
            checks.append(Check("ok", f"{where}: {label} exists and opsbot is a member"))
    return checks


def _scrubbed(section: Section, secrets: Secrets) -> Section:
    """Belt and braces: no line may carry a token, whatever an error message contained."""

    def scrub(text: str) -> str:
        for token in (secrets.bot_token, secrets.app_token):
            if token:
                text = text.replace(token, "***")
        return text

    section.checks = [Check(c.status, scrub(c.text), scrub(c.fix)) for c in section.checks]
    return section


# -- clusters -----------------------------------------------------------------------------


def check_clusters(
    settings: Settings, kubeconfig: str | None, *, no_kubeconfig: frozenset[str] | set[str] = frozenset()
) -> list[Section]:
    directory = ClusterDirectory(settings.clusters, environ_kubeconfig=kubeconfig)
    sections: list[Section] = []
    try:
        for name in directory.names():
            if name in no_kubeconfig:
                section = Section(f"Cluster {name}")
                section.add("info", "not checked: its kubeconfig file is missing (see Config)")
                sections.append(section)
            else:
                sections.append(check_cluster(settings, directory, name))
        return sections
    finally:
        directory.close()


def _plain(exc: Exception) -> str:
    """A KubeError's message (written for Slack) without its Markdown; others with their type."""
    if isinstance(exc, KubeError):
        return str(exc).replace("`", "").replace("*", "")
    return f"{type(exc).__name__}: {str(exc)[:200]}"  # e.g. a proxy's HTML page instead of JSON


def _whoami(kube: KubeClient) -> str | None:
    """Nice to show, never worth failing for (e.g. SelfSubjectReview forbidden)."""
    try:
        return kube.whoami()
    except KubeError:
        return None


def check_cluster(settings: Settings, directory: ClusterDirectory, name: str) -> Section:
    """Reach the cluster, then one access review per permission the config needs there."""
    section = Section(f"Cluster {name}")
    reach_fix = (
        f"check clusters.{name} (in_cluster, kubeconfig, context) and that the API server address "
        "is reachable from where opsbot runs"
    )
    credentials_fix = (
        f"check the credentials of clusters.{name}: opsbot's ServiceAccount token (in_cluster) or "
        "the kubeconfig user (an expired or revoked token?)"
    )
    try:
        kube = directory.get(name)
        version = kube.server_version()
    except Exception as exc:  # the doctor reports; it never ends in a traceback
        fix = credentials_fix if isinstance(exc, UnauthorizedError) else reach_fix
        section.add("fail", _plain(exc), fix)
        return section
    requirements = cluster_requirements(settings, name)
    user = _whoami(kube)
    try:
        answers = [
            (
                p,
                kube.can_i(
                    p.verb,
                    p.resource,
                    group=p.group,
                    subresource=p.subresource,
                    namespace=p.namespace,
                    name=p.name,
                ),
            )
            for p in requirements.permissions
        ]
    except Exception as exc:
        fix = credentials_fix if isinstance(exc, UnauthorizedError) else reach_fix
        section.add("ok", f"reached {kube.server} (Kubernetes {version.get('gitVersion', '?')})")
        section.add("fail", f"access reviews failed: {_plain(exc)}", fix)
        return section
    who = f" as {user}" if user else ""
    section.add("ok", f"reached {kube.server} (Kubernetes {version.get('gitVersion', '?')}){who}")
    section.checks.extend(permission_checks(answers))
    for note in requirements.notes:
        section.add("info", note)
    return section
