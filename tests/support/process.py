"""`opsbot run` as a real process against the Slack emulator (for signal and crash tests)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.support.slack_emulator import SlackEmulator

ROOT = Path(__file__).resolve().parents[2]


def slack_environment(slack: SlackEmulator) -> dict[str, str]:
    """This process's environment with the emulator's tokens and URL instead of any real ones."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    environment.update(
        {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.base_url,
        }
    )
    return environment


async def start_opsbot(
    slack: SlackEmulator, config: Path, *, capture_stderr: bool = False
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "opsbot", "run", "--config", str(config),
        cwd=ROOT,
        env=slack_environment(slack),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE if capture_stderr else asyncio.subprocess.DEVNULL,
    )  # fmt: skip
