"""`opsbot run | check-config | version`. Problems print as one clear line each."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from opsbot import __version__
from opsbot.config import load_secrets, load_settings
from opsbot.errors import ConfigError

DEFAULT_CONFIG = "config.yaml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsbot", description="Slack ChatOps bot for Kubernetes")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="connect to Slack and serve commands")
    run.add_argument(
        "--config", default=os.environ.get("OPSBOT_CONFIG", DEFAULT_CONFIG), help="path to config.yaml"
    )
    check = sub.add_parser("check-config", help="validate the config, environment and cluster access")
    check.add_argument(
        "--config", default=os.environ.get("OPSBOT_CONFIG", DEFAULT_CONFIG), help="path to config.yaml"
    )
    check.add_argument("--offline", action="store_true", help="validate only; reach no cluster")
    sub.add_parser("version", help="print the version")
    return parser


def _fail(problems: list[str]) -> int:
    for problem in problems:
        print(f"opsbot: {problem}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"opsbot {__version__}")
        return 0
    if args.command == "check-config":
        return check_config(args.config, offline=args.offline)
    return run(args.config)


def check_config(path: str, *, offline: bool = False) -> int:
    problems: list[str] = []
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
        settings = None
    if settings is not None:
        from opsbot.commands.catalog import build_registry
        from opsbot.commands.router import build_policy

        problems.extend(build_policy(settings.policy, build_registry()).unknown_verbs())
    try:
        load_secrets()
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        return _fail(problems)
    assert settings is not None
    print(f"{path}: OK ({len(settings.clusters)} cluster(s), default {settings.primary_cluster!r})")
    if offline:
        return 0
    from opsbot.kube.access import check_watch_access

    failed = False
    for line in check_watch_access(settings, environ_kubeconfig=os.environ.get("KUBECONFIG")):
        print(f"{line.level}: {line.text}", file=sys.stderr if line.level == "error" else sys.stdout)
        failed = failed or line.level == "error"
    return 2 if failed else 0


def run(path: str) -> int:
    try:
        settings = load_settings(path)
        secrets = load_secrets()
    except ConfigError as exc:
        return _fail(exc.problems)
    from opsbot import logs
    from opsbot.app import run_bot

    logs.configure(settings.logging.format, settings.logging.level)
    try:
        return asyncio.run(run_bot(settings, secrets, environ_kubeconfig=os.environ.get("KUBECONFIG")))
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        return _fail(exc.problems)


if __name__ == "__main__":
    sys.exit(main())
