"""What Slack ids look like: the policy binds ids, never display names."""

from __future__ import annotations

import re

USER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")
USERGROUP_ID = re.compile(r"^S[A-Z0-9]{6,}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
