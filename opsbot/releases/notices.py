"""What people read about a release while it is followed (pure): its live status, and how it ended.

The status is one message in the conversation's thread, updated in place (and shown on
the approval card): `podinfo on prod: 6.5.1 → 6.6.0`, then one line per step. The end
is a new message in the thread that mentions the requester: available, failed (with
the failing pods' reason and a **Roll back** button) or timed out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from opsbot.core.reply import (
    Button,
    Icon,
    Mention,
    Reply,
    Strong,
    Text,
    Tone,
    bullets,
    lines,
    on_cluster,
    run_button,
)
from opsbot.releases.changes import Action
from opsbot.releases.records import Phase, Release


class ReleaseNotices(Protocol):
    """Where a release's progress is shown (the Slack layer implements it)."""

    async def progress(self, release: Release, status: Text) -> str | None:
        """Show `status` as the release's live status: posted in its thread the first time,
        then updated in place (`release.status_message`). Returns the status message's id."""
        ...

    async def finished(self, release: Release, reply: Reply, status: Text) -> None:
        """Post how it ended in the thread, and show `status` as the final live status."""
        ...


def headline(release: Release) -> str:
    verb = "roll back" if release.action is Action.ROLLBACK else "promote"
    return f"{verb} {release.app} on {release.cluster}: {release.from_version} → {release.to_version}"


def with_step(steps: tuple[str, ...], line: str) -> tuple[str, ...]:
    """The steps so far plus `line`; a newer rollout progress line replaces the previous one."""
    if steps and steps[-1].startswith("rolling out") and line.startswith("rolling out"):
        return (*steps[:-1], line)
    return (*steps, line)


_ICONS = {
    Phase.AVAILABLE: Icon.SUCCESS,
    Phase.FAILED: Icon.FAILURE,
    Phase.TIMED_OUT: Icon.WARNING,
}


def status_text(release: Release, steps: Sequence[str]) -> Text:
    """`Release: promote podinfo on prod: 6.5.1 → 6.6.0` and one line per step so far."""
    icon = _ICONS.get(release.phase, Icon.WAITING)
    items = [Text(step) for step in steps]
    return Text(icon, " ", Strong("Release: "), headline(release), "\n", bullets(items) if items else Text())


def rollback_command(release: Release) -> str:
    return f"rollback {release.app} on {release.cluster}"


def final_reply(release: Release, line: str, failing: Sequence[str] = ()) -> Reply:
    """The message that says how a release ended."""
    tone: Tone = (
        "success"
        if release.phase is Phase.AVAILABLE
        else "error"
        if release.phase is Phase.FAILED
        else "warning"
    )
    parts: list[Text] = []
    if release.requested_by:
        parts.append(Text(Mention(release.requested_by), " ", headline(release)))
    if failing:
        parts.append(Text(Strong("Failing pods"), "\n", lines(*failing)))
    buttons: tuple[Button, ...] = ()
    if release.phase in (Phase.FAILED, Phase.TIMED_OUT) and release.action is Action.PROMOTE:
        parts.append(
            Text(
                "Roll back to the last version that was fully available here with the button, or ask: ",
                rollback_command(release),
            )
        )
        buttons = (run_button("Roll back", rollback_command(release), style="danger"),)
    title = line[:1].upper() + line[1:] if release.phase is not Phase.AVAILABLE else line
    return Reply(title, tuple(parts), where=on_cluster(release.cluster), tone=tone, buttons=buttons)
