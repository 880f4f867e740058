"""The neutral vocabulary every feature may import: requests and replies, action plans,
audit records, readers of Kubernetes objects, the table of watched resources, naming
rules, durations and the clock.

Nothing here imports a feature package (commands, alerts, approvals), an edge (slack,
kube, store) or the config; tests/unit/test_architecture.py keeps it that way.
"""
