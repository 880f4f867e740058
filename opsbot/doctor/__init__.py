"""`opsbot check-config`, the doctor: is everything opsbot needs in place, and if not, what to do.

requirements.py  pure: what this config needs (RBAC permissions per cluster, Slack scopes,
                 the channels opsbot posts to)
placeholders.py  pure: the Slack ids the config names; which are the example's placeholders
checks.py        I/O: the config and environment (placeholders, kubeconfig files), Slack
                 (auth.test, conversations.info per posting channel, apps.connections.open),
                 every cluster (GET /version, one SelfSubjectAccessReview per permission)
report.py        pure: answers → checklist lines (✓ / ! / ✗, each failure with its fix)
"""
