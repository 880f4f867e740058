"""`opsbot run`: start the bot, run until SIGTERM/SIGINT, stop it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping

import structlog

from opsbot.app.bot import Bot
from opsbot.app.parts import Options, build_parts
from opsbot.app.slow_stop import reporting_a_slow_stop
from opsbot.config import Secrets, Settings
from opsbot.errors import ConfigError
from opsbot.slack.link import SlackSetupError
from opsbot.telemetry import from_environ as telemetry_from_environ

log = structlog.get_logger("opsbot")



def build_bot(settings: Settings, secrets: Secrets, options: Options | None = None) -> Bot:
    """The Slack bot built from Settings (and `Options`); nothing started yet."""
    return Bot(build_parts(settings, secrets, options or Options()))


async def run_bot(
    settings: Settings,
    secrets: Secrets,
    *,
    environ_kubeconfig: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code. Raises SlackSetupError when Slack
    refuses a token at start (the CLI prints it in one line and exits 2).

    `environ` (default: os.environ) is read once, here, for tracing and error
    reporting; a variable set without its extra raises ConfigError before anything starts.
    """
    telemetry = telemetry_from_environ(os.environ if environ is None else environ)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    bot: Bot | None = None
    try:
        bot = build_bot(settings, secrets, Options(telemetry=telemetry, environ_kubeconfig=environ_kubeconfig))
        starting = asyncio.create_task(bot.start())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # a signal while Slack was still unreachable
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
        else:
            starting.result()  # raises SlackSetupError, ConfigError, bugs
            await stopped
        stopped.cancel()
        log.info("shutdown_requested")
        stopping = bot
        async with reporting_a_slow_stop(lambda: stopping.stop_step):
            await bot.stop()
    except SlackSetupError as exc:
        log.error("slack_refused", error=str(exc))
        if bot is not None and bot.forwarding is not None:
            await bot.forwarding.stop()  # its URL withdrawn from the store
        if bot is not None and bot.health is not None:
            await bot.health.stop()
        raise
    except ConfigError:
        raise
    except Exception as exc:
        telemetry.errors.capture(exc, where="run")
        raise
    finally:
        # A failed start still flushes what was reported (Bot.stop already did otherwise).
        await loop.run_in_executor(None, telemetry.shutdown)
    return 0
