"""The Slack bot, composed and run.

    parts.py     every part built from Settings and wired (the composition root)
    bot.py       the lifecycle: start in order, keep running, stop cleanly
    watching.py  the cluster watches feeding the alert pipeline
    leading.py   several replicas: who leads which cluster, and what the leader runs
    forwarding.py  several replicas: URLs advertised, Alertmanager's requests forwarded to the leader
    status.py    the read-only view the health port gets
    run.py       `opsbot run`: signals, exit codes
    slow_stop.py a stop that hangs says which step it is in and where every task waits

Tests start the very same `Bot` (`build_bot`) against the Slack emulator and the fake
API server.
"""

from opsbot.app.bot import Bot
from opsbot.app.parts import BotParts, Options, build_parts
from opsbot.app.run import build_bot, run_bot

__all__ = ["Bot", "BotParts", "Options", "build_bot", "build_parts", "run_bot"]
