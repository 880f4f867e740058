"""The checklist `opsbot check-config` prints, and the pure verdicts that fill it.

A `Section` (Config, Slack, Cluster NAME) holds one `Check` per line: ``ok`` ✓,
``warn`` ! (works, with a feature missing), ``fail`` ✗ (exit status 2), ``info`` ·
(deliberately not needed). Failures and warnings carry the fix, printed indented
below them. Nothing here does I/O: `opsbot.doctor.checks` asks Slack and the clusters
and hands the answers to `scope_checks` / `permission_checks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from opsbot.core.durations import count
from opsbot.doctor.requirements import SCOPE_FIX, Permission, ScopeNeed, fix_for

Status = Literal["ok", "warn", "fail", "info"]

UNICODE_MARKS: dict[Status, str] = {"ok": "✓", "warn": "!", "fail": "✗", "info": "·"}
ASCII_MARKS: dict[Status, str] = {"ok": "[ok]", "warn": "[!]", "fail": "[x]", "info": "[-]"}


@dataclass(frozen=True)
class Check:
    status: Status
    text: str
    fix: str = ""


@dataclass
class Section:
    title: str
    checks: list[Check] = field(default_factory=list)

    def add(self, status: Status, text: str, fix: str = "") -> None:
        self.checks.append(Check(status, text, fix))


def failed(sections: Iterable[Section]) -> bool:
    return any(check.status == "fail" for section in sections for check in section.checks)


def exit_code(sections: Iterable[Section]) -> int:
    """0 when nothing failed (warnings allowed), 2 otherwise."""
    return 2 if failed(sections) else 0


def marks_for(encoding: str | None) -> dict[Status, str]:
    """✓/✗/! when the output encoding can carry them, ASCII otherwise."""
    try:
        "".join(UNICODE_MARKS.values()).encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ASCII_MARKS
    return UNICODE_MARKS


_ASCII = str.maketrans({"→": "->", "…": "...", "—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"'})


def render(sections: Sequence[Section], *, encoding: str | None = "utf-8") -> str:
    """The checklist as text the output `encoding` can carry (ASCII marks and arrows if need be)."""
    marks = marks_for(encoding)
    lines: list[str] = []
    for section in sections:
        if lines:
            lines.append("")
        lines.append(section.title)
        for check in section.checks:
            lines.append(f"  {marks[check.status]} {check.text}")
            if check.fix and check.status in ("fail", "warn"):
                lines.append(f"      fix: {check.fix}")
    counts = {
        status: sum(1 for s in sections for c in s.checks if c.status == status)
        for status in ("fail", "warn")
    }
    summary = f"{count(counts['fail'], 'check')} failed" if counts["fail"] else "all checks passed"
    if counts["warn"]:
        summary += f", {count(counts['warn'], 'warning')}"
    lines.extend(("", summary))
    text = "\n".join(lines) + "\n"
    if marks is ASCII_MARKS:
        codec = encoding or "ascii"
        text = text.translate(_ASCII).encode(codec, "replace").decode(codec)
    return text


# -- verdicts ----------------------------------------------------------------------------


def _status(severity: str) -> Status:
    return "fail" if severity == "error" else "warn"


def scope_checks(granted: frozenset[str], needs: Sequence[ScopeNeed]) -> list[Check]:
    """One ✓ line when every needed bot scope is granted, else one line per missing scope."""
    missing = [need for need in needs if need.scope not in granted]
    checks: list[Check] = []
    present = [need.scope for need in needs if need.scope in granted]
    if not missing:
        checks.append(Check("ok", f"bot scopes: all {len(needs)} needed are granted ({', '.join(present)})"))
        return checks
    if present:
        checks.append(Check("ok", f"bot scopes granted: {', '.join(present)}"))
    checks.extend(
        Check(
            _status(need.severity),
            f"bot scope {need.scope} is missing: needed for {need.needed_by}",
            SCOPE_FIX,
        )
        for need in missing
    )
    return checks


def _granted_summary(permissions: Sequence[Permission]) -> str:
    """``deployments/scale get/patch, pods get/list/watch, pods/log get``."""
    verbs: dict[str, set[str]] = {}
    for permission in permissions:
        label = permission.resource_path + (f" {permission.name!r}" if permission.name else "")
        verbs.setdefault(label, set()).add(permission.verb)
    return ", ".join(f"{label} {'/'.join(sorted(verbs[label]))}" for label in sorted(verbs))


def permission_checks(answers: Sequence[tuple[Permission, bool]]) -> list[Check]:
    """Per scope (a namespace, all namespaces, cluster-scoped): one ✓ line for what is
    allowed, and one line with one fix for everything missing there.

    Missing verbs on the same resource (``get/list/watch nodes``) are listed together; the
    line is a failure if anything missing is needed, a warning if all of it is optional.
    """
    scopes: dict[str, list[tuple[Permission, bool]]] = {}
    for permission, allowed in answers:
        scopes.setdefault(permission.scope, []).append((permission, allowed))
    checks: list[Check] = []
    for scope, items in scopes.items():
        granted = [permission for permission, ok in items if ok]
        if granted:
            checks.append(
                Check("ok", f"{scope}: {count(len(granted), 'permission')} granted: {_granted_summary(granted)}")
            )
        missing = [permission for permission, ok in items if not ok]
        if not missing:
            continue
        status = _status("error" if any(p.severity == "error" for p in missing) else "warning")
        targets: dict[tuple[object, ...], list[Permission]] = {}
        for permission in missing:
            targets.setdefault(permission.target, []).append(permission)
        parts = []
        for same in targets.values():
            verbs = "/".join(sorted({p.verb for p in same}))
            needed_by = ", ".join(dict.fromkeys(reason for p in same for reason in p.needed_by))
            optional = status == "fail" and all(p.severity == "warning" for p in same)
            parts.append(f"{same[0].label(verbs)} for {needed_by}{' (optional)' if optional else ''}")
        text = f"{scope}: {count(len(missing), 'permission')} missing: {'; '.join(parts)}"
        checks.append(Check(status, text, fix_for(missing)))
    return checks
