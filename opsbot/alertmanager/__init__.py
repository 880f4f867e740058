"""Alertmanager in the loop: its alerts in opsbot's incident threads, remediations a person
approves, silences from Slack, and the status of what was started, followed to the end.

Pure decisions, tested without a network:

    payload       webhook notifications and API v2 alerts → AmAlert / Notification
    groups        alert groups by receiver + group labels; what an incoming alert changes
    rules         remediation rules: matching labels, filling in templates safely
    remediation   a remediation as data (approval, run, signal delivery, status updates)
    signing       Standard Webhooks signatures
    cards         the group's card (alerts, links, silences, proposals with Approve / Reject)
    settings      ``alertmanager:`` in the config

Services and I/O:

    intake        notifications and the reconcile → IncidentBook / Publishing
    remediations  propose, decide (the approval machine), run a command or deliver a signal
    planning      a remediation's command planned like a typed one; the rules' start-up check
    silencing     silences in Alertmanager from Slack, followed on the card
    rollouts      following a Deployment after an approved command
    api           Alertmanager's API v2 (aiohttp)
    delivery      signed signal POSTs (aiohttp)
    receiver      the webhook and status endpoints on the internal port (aiohttp handlers)
    state         groups and remediations in memory and in the store
    secrets       tokens and signing secrets from the environment
    service       AlertmanagerService: everything above, built and run by the app
"""
