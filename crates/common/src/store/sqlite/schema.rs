//! SQLite schema, applied as numbered migrations at open. Idempotent: each migration runs once,
//! recorded in `PRAGMA user_version`, inside the same transaction as its statements.
//!
//! Metadata rows keep their document as JSON in `doc`, with the columns that need a key or an
//! index lifted out. Samples are the hot table: sensors and recordings are integer keys, so the
//! deduplication indexes stay small — the dedup key is the most expensive part of an insert.

use rusqlite::{Connection, TransactionBehavior};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE users (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
CREATE TABLE device_tokens (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    sensor_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
CREATE TABLE sensor_configs (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
CREATE TABLE experiments (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
-- One row at most: the active experiment.
CREATE TABLE active_experiment (
    slot INTEGER PRIMARY KEY CHECK (slot = 1),
    experiment_id TEXT NOT NULL
);
CREATE TABLE recordings (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    experiment_key INTEGER NOT NULL,
    participant_id TEXT NOT NULL,
    task_id TEXT,
    running INTEGER NOT NULL,
    sample_count INTEGER NOT NULL DEFAULT 0,
    last_received_at INTEGER,
    doc TEXT NOT NULL
);
-- At most one running recording, enforced by the database even across processes.
CREATE UNIQUE INDEX recordings_one_running ON recordings (running) WHERE running = 1;
CREATE INDEX recordings_by_experiment ON recordings (experiment_key);
CREATE TABLE logbook (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    experiment_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX logbook_by_experiment ON logbook (experiment_id, key);
CREATE TABLE progress (
    experiment_id TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (experiment_id, participant_id, task_id)
);
CREATE TABLE exports (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    experiment_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX exports_by_experiment ON exports (experiment_id);
CREATE TABLE sensor_keys (
    key INTEGER PRIMARY KEY,
    sensor_id TEXT NOT NULL UNIQUE,
    sensor_type TEXT NOT NULL
);
CREATE TABLE samples (
    experiment INTEGER NOT NULL,
    recording INTEGER NOT NULL,
    sensor INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    sample_id TEXT,
    vals TEXT NOT NULL
);
-- Deduplication: (sensor, client id) when the client sent an id, else (sensor, ts).
CREATE UNIQUE INDEX samples_dedup_id ON samples (sensor, sample_id) WHERE sample_id IS NOT NULL;
CREATE UNIQUE INDEX samples_dedup_ts ON samples (sensor, ts) WHERE sample_id IS NULL;
-- Time-ordered reads per experiment (export), keyset-paginated on (ts, rowid).
CREATE INDEX samples_by_experiment_ts ON samples (experiment, ts);
"#,
    r#"
CREATE TABLE refresh_tokens (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);
"#,
    r#"
-- One row rewritten by the readiness check while the disk was last found full.
CREATE TABLE write_probe (
    slot INTEGER PRIMARY KEY CHECK (slot = 1),
    at INTEGER NOT NULL
);
"#,
    r#"
-- The exporters' reconciler looks for running jobs every few seconds.
CREATE INDEX exports_by_status ON exports (json_extract(doc, '$.status'));
-- Nothing reads it any more: the guarded delete compares per-group counts instead.
ALTER TABLE recordings DROP COLUMN last_received_at;
"#,
    r#"
-- Device commands and their outcomes, newest first per device.
CREATE TABLE commands (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    sensor_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX commands_by_sensor ON commands (sensor_id, key);
-- Which control replica holds each device's socket, and until when (renewed while it lives).
CREATE TABLE device_holders (
    sensor_id TEXT PRIMARY KEY,
    replica TEXT NOT NULL,
    until_ns INTEGER NOT NULL
);
CREATE INDEX device_holders_by_replica ON device_holders (replica);
"#,
    r#"
-- The held device as GET /api/v1/devices lists it (type, connected_at, last status), so that
-- every control replica lists every replica's devices.
ALTER TABLE device_holders ADD COLUMN doc TEXT;
"#,
    r#"
-- The notifier's alerts: at most one firing per (rule, subject); `firing` is NULL once resolved.
CREATE TABLE alerts (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    firing INTEGER,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX alerts_one_firing ON alerts (rule, subject) WHERE firing = 1;
CREATE INDEX alerts_by_state ON alerts (firing, key);
-- Their outbox: one row per message and channel; `pending` is NULL once delivered or failed.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    pending INTEGER,
    next_attempt_ns INTEGER NOT NULL,
    owner TEXT,
    lease_until_ns INTEGER,
    doc TEXT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (pending, next_attempt_ns);
CREATE INDEX deliveries_by_alert ON deliveries (alert_id);
"#,
];

/// Pragmas for every connection. WAL lets readers run beside the one writer (and other
/// processes on the same host); `synchronous = NORMAL` in WAL survives process crashes
/// (`store.sqlite_synchronous = "full"` raises it per connection). The page cache is sized per
/// connection (`open_connection`).
pub(super) const CONNECTION_PRAGMAS: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA busy_timeout = 10000;
PRAGMA temp_store = MEMORY;
";

pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: usize = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", index + 1)?;
    }
    tx.commit()
}
