"""The SQLite store's tables (opsbot.store.sqlite): created when missing, at every open."""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    channel TEXT NOT NULL,
    updated_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_by_state ON incidents (state, updated_at);
CREATE INDEX IF NOT EXISTS incidents_by_key ON incidents (key, updated_at);
CREATE TABLE IF NOT EXISTS mutes (
    id TEXT PRIMARY KEY,
    pattern TEXT NOT NULL,
    until REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    updated_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (status, updated_at);
CREATE TABLE IF NOT EXISTS releases (
    id TEXT PRIMARY KEY,
    cluster TEXT NOT NULL,
    target TEXT NOT NULL,
    active INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    data TEXT NOT NULL
);
-- One change per app and cluster: at most one active release per (cluster, namespace/deployment).
CREATE UNIQUE INDEX IF NOT EXISTS releases_one_active ON releases (cluster, target) WHERE active = 1;
CREATE TABLE IF NOT EXISTS release_versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster TEXT NOT NULL,
    target TEXT NOT NULL,
    apps TEXT NOT NULL,
    at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS release_versions_by_target ON release_versions (cluster, target, seq);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_unsent (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_user ON audit (user_id, seq);
-- Alertmanager (opsbot.alertmanager): notifications already handled, alert groups,
-- remediations (the approval and what followed) and the signals still to deliver.
CREATE TABLE IF NOT EXISTS am_notifications (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS am_notifications_by_age ON am_notifications (at);
CREATE TABLE IF NOT EXISTS am_groups (key TEXT PRIMARY KEY, updated_at REAL NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS remediations (
    id TEXT PRIMARY KEY,
    incident_key TEXT NOT NULL,
    closed TEXT NOT NULL,
    updated_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS remediations_open ON remediations (closed, updated_at);
CREATE TABLE IF NOT EXISTS signal_deliveries (
    webhook_id TEXT PRIMARY KEY,
    remediation_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS signal_deliveries_by_state ON signal_deliveries (state, updated_at);
CREATE TABLE IF NOT EXISTS contexts (
    key TEXT PRIMARY KEY,
    used_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""

SCHEMA_VERSION = "1"
