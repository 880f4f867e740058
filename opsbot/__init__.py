"""opsbot: a Slack ChatOps bot for Kubernetes."""

__version__ = "0.1.0"
