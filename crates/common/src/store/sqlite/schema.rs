//! SQLite schema, applied as numbered migrations at open. Idempotent: each migration runs once,
//! recorded in `PRAGMA user_version`, inside the same transaction as its statements.
//!
//! Metadata rows keep their document as JSON in `doc`, with the columns that need a key or an
//! index lifted out. Samples are the hot table: compressed blocks keyed by integer sensor,
//! recording and experiment keys (migration 8 and `blocks.rs`).

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
    r#"
-- Samples as compressed blocks of one sensor, recording and UTC day, sorted by ts
-- (blocks.rs). The dedup key and the time order share the blocks: (sensor, max_ts) finds the
-- blocks a batch overlaps, (experiment, min_ts) serves time-ordered reads. Client ids are
-- checked in their own small table. The rows of the old `samples` table move into blocks in
-- the same transaction (sample_migration.rs), which then drops it.
CREATE TABLE sample_blocks (
    key INTEGER PRIMARY KEY,
    sensor INTEGER NOT NULL,
    experiment INTEGER NOT NULL,
    recording INTEGER NOT NULL,
    day INTEGER NOT NULL,
    min_ts INTEGER NOT NULL,
    max_ts INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    with_ids INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX sample_blocks_by_sensor ON sample_blocks (sensor, max_ts);
CREATE INDEX sample_blocks_by_experiment ON sample_blocks (experiment, min_ts);
CREATE TABLE sample_ids (
    sensor INTEGER NOT NULL,
    sample_id TEXT NOT NULL,
    PRIMARY KEY (sensor, sample_id)
) WITHOUT ROWID;
"#,
];

/// A migration step written in Rust, run inside the migration's transaction.
type Conversion = fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>;

/// Steps in Rust that run right after the SQL migration of the same number (1-based).
const CONVERSIONS: &[(usize, Conversion)] = &[(8, super::sample_migration::rows_to_blocks)];

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
    migrate_to(conn, MIGRATIONS.len())
}

/// Applies the migrations up to number `target` (a test builds an older database with it).
pub(super) fn migrate_to(conn: &mut Connection, target: usize) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: usize = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (index, migration) in MIGRATIONS.iter().enumerate().take(target).skip(applied) {
        let number = index + 1;
        tx.execute_batch(migration)?;
        for (_, convert) in CONVERSIONS.iter().filter(|(at, _)| *at == number) {
            convert(&tx)?;
        }
        tx.pragma_update(None, "user_version", number)?;
    }
    tx.commit()
}
