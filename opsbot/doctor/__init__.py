"""`opsbot check-config`, the doctor: is everything opsbot needs in place, and if not, what to do.

requirements.py  pure: what this config needs (RBAC permissions per cluster, Slack scopes)
checks.py        I/O: the config and environment, Slack (auth.test, apps.connections.open),
                 every cluster (GET /version, one SelfSubjectAccessReview per permission)
report.py        pure: answers → checklist lines (✓ / ! / ✗, each failure with its fix)
"""
