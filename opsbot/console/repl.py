"""The terminal loop around a ConsoleSession.

Input is read on the main thread (so Ctrl-C and Ctrl-D behave as in any shell) and
each line is answered on one long-lived event loop. Piped input works too, which
makes the console scriptable: `printf 'pods -n web\\n' | opsbot console`.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import re
from typing import TextIO

from opsbot.config import Settings
from opsbot.console.session import ConsoleSession, Who
from opsbot.kube.directory import ClusterDirectory
from opsbot.store.backend import open_backend
from opsbot.store.sqlite import open_store


def default_user() -> str:
    """`console:<login>`: bound to nothing in a Slack policy, so the defaults apply until `--as`."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "user"
    return "console:" + (re.sub(r"[^A-Za-z0-9._-]", "", login)[:64] or "user")


def run_console(
    settings: Settings,
    who: Who,
    *,
    store_path: str | None,
    environ_kubeconfig: str | None,
    stdin: TextIO,
    stdout: TextIO,
) -> int:
    # --store: a SQLite file of its own; else the configured store (Redis too), as the bot uses it.
    store = open_store(store_path) if store_path is not None else open_backend(settings.store, os.environ)
    directory = ClusterDirectory(settings.clusters, environ_kubeconfig=environ_kubeconfig)
    interactive = stdin.isatty() and stdout.isatty()
    colour = interactive and "NO_COLOR" not in os.environ

    encoding = getattr(stdout, "encoding", None) or "utf-8"

    def write(text: str) -> None:
        # A terminal or pipe that cannot carry ✓ or 🔴 gets a stand-in, not a crash.
        line = text.rstrip("\n") + "\n"
        stdout.write(line.encode(encoding, "replace").decode(encoding, "replace"))
        stdout.flush()

    session = ConsoleSession(settings, directory, who, write, audit_log=store, contexts=store, colour=colour)
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
        clusters = ", ".join(settings.clusters)
        write(
            f"opsbot console: clusters {clusters} (default {settings.primary_cluster}), "
            f"acting as {who.user}. `help` lists commands, `:help` the console's own."
        )
    try:
        with asyncio.Runner() as runner:
            while True:
                line = _read_line(stdin, session.prompt if interactive else None)
                if line is None:
                    break
                try:
                    if not runner.run(session.handle(line)):
                        break
                except KeyboardInterrupt:
                    write("interrupted")
    finally:
        session.close()
        directory.close()
        store.close()
    return 0


def _read_line(stdin: TextIO, prompt: str | None) -> str | None:
    """The next line, or None at end of input."""
    if prompt is None:
        line = stdin.readline()
        return line if line else None
    while True:
        try:
            return input(prompt)
        except EOFError:
            print()
            return None
        except KeyboardInterrupt:
            print()  # like a shell: a fresh prompt, not an exit
