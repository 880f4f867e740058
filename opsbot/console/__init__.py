"""`opsbot console`: the same router, policy and approvals, in a terminal instead of Slack."""
