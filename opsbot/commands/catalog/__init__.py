"""Every command opsbot understands: one module per command family, each exposing ``COMMANDS``.

`build_registry` collects them all; a new module here is a new command, nothing else to
register (modules whose name starts with ``_`` are skipped).
"""

from __future__ import annotations

import importlib
import pkgutil

from opsbot.commands.registry import Registry
from opsbot.commands.spec import CommandSpec


def command_specs() -> list[CommandSpec]:
    specs: list[CommandSpec] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        declared = getattr(loaded, "COMMANDS", None)
        if not isinstance(declared, tuple) or not all(isinstance(s, CommandSpec) for s in declared):
            raise TypeError(f"{loaded.__name__} must declare COMMANDS: a tuple of CommandSpec")
        specs.extend(declared)
    return specs


def build_registry() -> Registry:
    return Registry(command_specs())
