"""`opsbot run | check-config | console | version`. Problems print as one clear line each."""

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
    # Every command that reads the config takes it the same way.
    with_config = argparse.ArgumentParser(add_help=False)
    with_config.add_argument(
        "--config", default=os.environ.get("OPSBOT_CONFIG", DEFAULT_CONFIG), help="path to config.yaml"
    )
    sub.add_parser("run", parents=[with_config], help="connect to Slack and serve commands")
    check = sub.add_parser(
        "check-config",
        parents=[with_config],
        help="check the config, the Slack tokens, scopes and channels, and every cluster's permissions",
    )
    check.add_argument(
        "--offline", action="store_true", help="validate the config and environment only; reach nothing"
    )
    console = sub.add_parser(
        "console",
        parents=[with_config],
        help="try commands in a terminal: same router, policy and approvals, no Slack app needed",
    )
    console.add_argument(
        "--as",
        dest="user",
        metavar="USER_ID",
        help="act as this Slack user id (policy bindings apply); default console:<login>",
    )
    console.add_argument(
        "--group", action="append", default=[], metavar="USERGROUP_ID", help="a user group of that user"
    )
    console.add_argument("--channel", default=None, metavar="CHANNEL_ID", help="pretend to type in this channel")
    console.add_argument(
        "--store", default=None, metavar="PATH", help="SQLite file for the audit trail (default: the configured store)"
    )
    console.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
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
    if args.command == "console":
        return console(args)
    return run(args.config)


def check_config(path: str, *, offline: bool = False) -> int:
    """The doctor: a checklist of config, Slack and cluster access, each failure with its fix."""
    from opsbot.doctor.checks import diagnose
    from opsbot.doctor.report import exit_code, render

    sections = diagnose(path, offline=offline, environ=os.environ, kubeconfig=os.environ.get("KUBECONFIG"))
    sys.stdout.write(render(sections, encoding=sys.stdout.encoding))
    sys.stdout.flush()
    return exit_code(sections)


def console(args: argparse.Namespace) -> int:
    from opsbot import logs
    from opsbot.console.repl import default_user, run_console
    from opsbot.console.session import CONSOLE_CHANNEL, Who
    from opsbot.policy.ids import CHANNEL_ID, USER_ID, USERGROUP_ID

    problems: list[str] = []
    if args.user is not None and not USER_ID.match(args.user):
        problems.append(f"--as: {args.user!r} is not a Slack user id (like U0123ABCD)")
    problems.extend(
        f"--group: {group!r} is not a user group id (like S0123ABCD)"
        for group in args.group
        if not USERGROUP_ID.match(group)
    )
    if args.channel is not None and not CHANNEL_ID.match(args.channel):
        problems.append(f"--channel: {args.channel!r} is not a channel id (like C0123ABCD)")
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        return _fail(problems)
    logs.configure("console", args.log_level)
    who = Who(args.user or default_user(), args.channel or CONSOLE_CHANNEL, frozenset(args.group))
    try:
        return run_console(
            settings,
            who,
            store_path=args.store,
            environ_kubeconfig=os.environ.get("KUBECONFIG"),
            stdin=sys.stdin,
            stdout=sys.stdout,
        )
    except ConfigError as exc:
        hint = [] if args.store else ["or pass --store PATH (e.g. --store ./opsbot-console.db)"]
        return _fail([*exc.problems, *hint])


def run(path: str) -> int:
    try:
        settings = load_settings(path)
        secrets = load_secrets()
    except ConfigError as exc:
        return _fail(exc.problems)
    from opsbot import logs
    from opsbot.app import run_bot
    from opsbot.memory import give_back_big_buffers
    from opsbot.slack.link import SlackSetupError

    logs.configure(settings.logging.format, settings.logging.level)
    give_back_big_buffers()
    try:
        return asyncio.run(run_bot(settings, secrets, environ_kubeconfig=os.environ.get("KUBECONFIG")))
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        return _fail(exc.problems)
    except SlackSetupError as exc:
        return _fail([str(exc)])


if __name__ == "__main__":
    sys.exit(main())
