"""Remediation rules (pure): which alerts a rule matches and what its templates say for them.

Templates name ``{labels.NAME}`` and ``{annotations.NAME}``. In a `command` every value put
in must be one plain word (a Kubernetes-style name, no spaces, not starting with ``-``), so a
label can never smuggle in another argument or option; the result is then parsed and
planned exactly like a typed command (`opsbot.alertmanager.planning`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from opsbot.alertmanager.settings import AlertmanagerSettings, RemediationRule

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_REFERENCE = re.compile(r"^(labels|annotations)\.([a-zA-Z_][a-zA-Z0-9_]*)$")
_COMMAND_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,252}$")


class TemplateError(ValueError):
    """A template cannot be filled in for this alert; the message says why."""


@dataclass(frozen=True)
class Rendered:
    rule: RemediationRule
    text: str
    """The command line, or the signal's action."""


def matches(rule: RemediationRule, labels: Mapping[str, str]) -> bool:
    return all(labels.get(name) == value for name, value in rule.match.items())


def placeholders(template: str) -> list[str]:
    """Problems with a template's placeholders (unknown forms), for the config check."""
    problems = []
    for match in _PLACEHOLDER.finditer(template):
        if not _REFERENCE.match(match.group(1)):
            problems.append(
                f"{{{match.group(1)}}} is not a placeholder: use {{labels.NAME}} or {{annotations.NAME}}"
            )
    if template.count("{") != template.count("}"):
        problems.append("unbalanced braces")
    return problems


def fill(template: str, labels: Mapping[str, str], annotations: Mapping[str, str], *, command: bool) -> str:
    def value(match: re.Match[str]) -> str:
        reference = _REFERENCE.match(match.group(1))
        if reference is None:
            raise TemplateError(f"{{{match.group(1)}}} is not a placeholder")
        source = labels if reference.group(1) == "labels" else annotations
        name = reference.group(2)
        if name not in source:
            raise TemplateError(f"the alert has no {reference.group(1)[:-1]} {name!r}")
        filled = source[name]
        if command and not _COMMAND_VALUE.match(filled):
            raise TemplateError(
                f"{reference.group(1)[:-1]} {name}={filled[:60]!r} is not a plain name and cannot go "
                "into a command"
            )
        return filled

    return _PLACEHOLDER.sub(value, template)


def proposals(
    settings: AlertmanagerSettings, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> list[Rendered | tuple[RemediationRule, str]]:
    """Every rule matching this alert: its filled-in action, or (rule, why it cannot be filled)."""
    found: list[Rendered | tuple[RemediationRule, str]] = []
    for rule in settings.remediations:
        if not matches(rule, labels):
            continue
        template = rule.command if rule.command is not None else rule.signal.action if rule.signal else ""
        try:
            found.append(
                Rendered(rule, fill(template, labels, annotations, command=rule.command is not None))
            )
        except TemplateError as exc:
            found.append((rule, str(exc)))
    return found


def sample(template: str) -> str:
    """The template with every placeholder replaced by a plain word (to parse it at start-up)."""
    return _PLACEHOLDER.sub(lambda m: "x1", template)
