//! The SQLite store: the embedded default. One writer connection (SQLite allows one writer at a
//! time anyway) and a pool of reader connections, all used on tokio's blocking pool so the async
//! runtime never waits on disk. WAL and `BEGIN IMMEDIATE` make it safe for several processes on
//! one host to share the file.

mod alerts;
mod blocks;
mod docs;
mod sample_migration;
mod sample_reads;
mod samples;
mod schema;

use self::docs::{duplicate_as, map_error, query_doc, query_docs, to_doc};
use self::samples::SampleWriter;
use super::{ExperimentUpdate, InsertOutcome, Store, StoreError, StoreResult};
use crate::model::*;
use crate::settings::SqliteSynchronous;
use crate::time::{to_ns, Timestamp};
use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How many idle reader connections are kept open.
const MAX_IDLE_READERS: usize = 8;
/// Page cache of the writer, KiB: its inserts walk the dedup and time index B-trees.
const WRITER_CACHE_KIB: i64 = 65_536;
/// Page cache of a pooled reader, KiB. Readers look up metadata and now and then scan an
/// experiment's samples (an export, sample stats): a scan gains little from a big cache but
/// would fill it and keep that memory, per reader, for good.
const READER_CACHE_KIB: i64 = 8192;

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    synchronous: SqliteSynchronous,
    /// The last write found the disk full: `ping` then checks with a write of its own, so the
    /// store reports not-ready until space returns (a read alone would still succeed).
    disk_full: AtomicBool,
    writer: Mutex<SampleWriter>,
    readers: Mutex<Vec<Connection>>,
}

fn open_connection(path: &Path, synchronous: SqliteSynchronous, cache_kib: i64) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch(schema::CONNECTION_PRAGMAS)?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    if synchronous == SqliteSynchronous::Full {
        conn.pragma_update(None, "synchronous", "FULL")?;
    }
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations; commits
    /// survive a process crash (`synchronous = NORMAL`).
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with(path, SqliteSynchronous::Normal).await
    }

    /// [`open`](Self::open) with the chosen sync level.
    pub async fn open_with(path: &Path, synchronous: SqliteSynchronous) -> StoreResult<Self> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| StoreError::Unavailable(format!("create {}: {e}", parent.display())))?;
            }
            let mut conn = open_connection(&path, synchronous, WRITER_CACHE_KIB)
                .map_err(|e| StoreError::Unavailable(format!("open {}: {e}", path.display())))?;
            schema::migrate(&mut conn).map_err(map_error)?;
            let writer = Mutex::new(SampleWriter::new(conn));
            Ok(Self {
                inner: Arc::new(Inner { path, synchronous, disk_full: AtomicBool::new(false), writer, readers: Mutex::new(Vec::new()) }),
            })
        })
        .await
        .map_err(|e| StoreError::Internal(format!("open task failed: {e}")))?
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the writer connection off the async runtime.
    async fn write<T: Send + 'static>(&self, f: impl FnOnce(&mut SampleWriter) -> StoreResult<T> + Send + 'static) -> StoreResult<T> {
        let inner = self.inner.clone();
        let result = run_blocking(move || {
            let mut writer = inner.writer.lock().map_err(|_| StoreError::Internal("writer lock poisoned".into()))?;
            f(&mut writer)
        })
        .await;
        match &result {
            Ok(_) => self.inner.disk_full.store(false, Ordering::Relaxed),
            Err(StoreError::Full(_)) => self.inner.disk_full.store(true, Ordering::Relaxed),
            Err(_) => {}
        }
        result
    }

    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`, so it holds the database's write
    /// lock from the start and never fails half-way on a lock upgrade).
    async fn transact<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.write(move |writer| {
            let tx = writer.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_error)?;
            let value = f(&tx)?;
            tx.commit().map_err(map_error)?;
            Ok(value)
        })
        .await
    }

    /// Runs `f` on a reader connection off the async runtime.
    async fn read<T: Send + 'static>(&self, f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static) -> StoreResult<T> {
        let inner = self.inner.clone();
        run_blocking(move || inner.with_reader(f)).await
    }
}

impl Inner {
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = self.readers.lock().map_err(|_| StoreError::Internal("reader pool poisoned".into()))?.pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_connection(&self.path, self.synchronous, READER_CACHE_KIB).map_err(map_error)?,
        };
        let result = f(&conn);
        if let Ok(mut readers) = self.readers.lock() {
            if readers.len() < MAX_IDLE_READERS {
                readers.push(conn);
            }
        }
        result
    }
}

async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> StoreResult<T> + Send + 'static) -> StoreResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Internal(format!("store task failed: {e}")))?
}

/// `Conflict` while a recording runs (inside the caller's transaction).
fn refuse_while_recording(tx: &rusqlite::Transaction<'_>) -> StoreResult<()> {
    let running: Option<String> =
        tx.query_row("SELECT id FROM recordings WHERE running = 1", [], |r| r.get(0)).optional().map_err(map_error)?;
    match running {
        Some(id) => Err(StoreError::Conflict(format!("recording {id} is running; stop it first"))),
        None => Ok(()),
    }
}

fn expect_changed(changed: usize, what: &str) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound(what.to_string()))
    } else {
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        if self.inner.disk_full.load(Ordering::Relaxed) {
            let now = crate::time::now_ns();
            return self
                .transact(move |tx| {
                    tx.execute("INSERT OR REPLACE INTO write_probe (slot, at) VALUES (1, ?1)", [now]).map_err(map_error)?;
                    Ok(())
                })
                .await;
        }
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(map_error)).await
    }

    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        let (id, username, doc) = (user.id.clone(), user.username.clone(), to_doc(user)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO users (id, username, doc) VALUES (?1, ?2, ?3)", params![id, username, doc])
                .map_err(duplicate_as("user"))?;
            Ok(())
        })
        .await
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM users WHERE id = ?1", [id])).await
    }

    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let username = username.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM users WHERE username = ?1", [username])).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read(|c| query_docs(c, "SELECT doc FROM users ORDER BY key", [])).await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        let (id, username, doc) = (user.id.clone(), user.username.clone(), to_doc(user)?);
        self.transact(move |tx| {
            let changed = tx
                .execute("UPDATE users SET username = ?2, doc = ?3 WHERE id = ?1", params![id, username, doc])
                .map_err(duplicate_as("user"))?;
            expect_changed(changed, "user")
        })
        .await
    }

    async fn delete_user(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.transact(move |tx| expect_changed(tx.execute("DELETE FROM users WHERE id = ?1", [id]).map_err(map_error)?, "user")).await
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        let (id, family, user, doc) = (token.id.clone(), token.family_id.clone(), token.user_id.clone(), to_doc(token)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO refresh_tokens (id, family_id, user_id, doc) VALUES (?1, ?2, ?3, ?4)", params![id, family, user, doc])
                .map_err(duplicate_as("refresh token"))?;
            Ok(())
        })
        .await
    }

    async fn rotate_refresh_token(&self, used_id: &str, next: &RefreshToken, at: Timestamp) -> StoreResult<RefreshRotation> {
        let (used_id, next, at) = (used_id.to_owned(), next.clone(), to_doc(&at)?);
        self.transact(move |tx| {
            let found: Option<RefreshToken> = query_doc(tx, "SELECT doc FROM refresh_tokens WHERE id = ?1", [&used_id])?;
            let used = found.ok_or_else(|| StoreError::NotFound("refresh token".into()))?;
            if used.used_at.is_some() || used.revoked_at.is_some() {
                tx.execute(
                    "UPDATE refresh_tokens SET doc = json_set(doc, '$.revoked_at', json(?2))
                     WHERE family_id = ?1 AND json_extract(doc, '$.revoked_at') IS NULL",
                    params![used.family_id, at],
                )
                .map_err(map_error)?;
                return Ok(RefreshRotation::Reused);
            }
            tx.execute("UPDATE refresh_tokens SET doc = json_set(doc, '$.used_at', json(?2)) WHERE id = ?1", params![used_id, at])
                .map_err(map_error)?;
            tx.execute(
                "INSERT INTO refresh_tokens (id, family_id, user_id, doc) VALUES (?1, ?2, ?3, ?4)",
                params![next.id, next.family_id, next.user_id, to_doc(&next)?],
            )
            .map_err(duplicate_as("refresh token"))?;
            Ok(RefreshRotation::Rotated)
        })
        .await
    }

    async fn revoke_user_refresh_tokens(&self, user_id: &str, at: Timestamp) -> StoreResult<()> {
        let (user_id, at) = (user_id.to_owned(), to_doc(&at)?);
        self.transact(move |tx| {
            tx.execute(
                "UPDATE refresh_tokens SET doc = json_set(doc, '$.revoked_at', json(?2))
                 WHERE user_id = ?1 AND json_extract(doc, '$.revoked_at') IS NULL",
                params![user_id, at],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn prune_refresh_tokens(&self, user_id: &str, before: Timestamp) -> StoreResult<u64> {
        let (user_id, before) = (user_id.to_owned(), before.timestamp());
        self.transact(move |tx| {
            let deleted = tx
                .execute(
                    "DELETE FROM refresh_tokens WHERE user_id = ?1 AND unixepoch(json_extract(doc, '$.expires_at')) < ?2",
                    params![user_id, before],
                )
                .map_err(map_error)?;
            Ok(deleted as u64)
        })
        .await
    }

    async fn insert_device_token(&self, token: &DeviceToken) -> StoreResult<()> {
        let (id, sensor, hash, doc) = (token.id.clone(), token.sensor_id.clone(), token.token_hash.clone(), to_doc(token)?);
        self.transact(move |tx| {
            tx.execute(
                "INSERT INTO device_tokens (id, sensor_id, token_hash, doc) VALUES (?1, ?2, ?3, ?4)",
                params![id, sensor, hash, doc],
            )
            .map_err(duplicate_as("device token"))?;
            Ok(())
        })
        .await
    }

    async fn find_device_token(&self, token_hash: &str) -> StoreResult<Option<DeviceToken>> {
        let hash = token_hash.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM device_tokens WHERE token_hash = ?1", [hash])).await
    }

    async fn list_device_tokens(&self) -> StoreResult<Vec<DeviceToken>> {
        self.read(|c| query_docs(c, "SELECT doc FROM device_tokens ORDER BY key", [])).await
    }

    async fn revoke_device_token(&self, sensor_id: &str, id: &str, at: Timestamp) -> StoreResult<()> {
        let (sensor_id, id) = (sensor_id.to_owned(), id.to_owned());
        self.transact(move |tx| {
            let found: Option<DeviceToken> =
                query_doc(tx, "SELECT doc FROM device_tokens WHERE id = ?1 AND sensor_id = ?2", [&id, &sensor_id])?;
            let mut token = found.ok_or_else(|| StoreError::NotFound("device token".into()))?;
            token.revoked_at.get_or_insert(at);
            tx.execute("UPDATE device_tokens SET doc = ?2 WHERE id = ?1", params![id, to_doc(&token)?]).map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn insert_sensor_config(&self, config: &SensorConfig) -> StoreResult<()> {
        let (id, doc) = (config.id.clone(), to_doc(config)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO sensor_configs (id, doc) VALUES (?1, ?2)", params![id, doc]).map_err(duplicate_as("sensor config"))?;
            Ok(())
        })
        .await
    }

    async fn get_sensor_config(&self, id: &str) -> StoreResult<Option<SensorConfig>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM sensor_configs WHERE id = ?1", [id])).await
    }

    async fn list_sensor_configs(&self) -> StoreResult<Vec<SensorConfig>> {
        self.read(|c| query_docs(c, "SELECT doc FROM sensor_configs ORDER BY key", [])).await
    }

    async fn update_sensor_config(&self, config: &SensorConfig) -> StoreResult<SensorConfig> {
        let read_version = config.version as i64;
        let updated = SensorConfig { version: config.version + 1, ..config.clone() };
        let (id, doc) = (config.id.clone(), to_doc(&updated)?);
        self.transact(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE sensor_configs SET doc = ?2 WHERE id = ?1 AND COALESCE(json_extract(doc, '$.version'), 0) = ?3",
                    params![id, doc, read_version],
                )
                .map_err(map_error)?;
            if changed == 0 {
                let exists = tx.query_row("SELECT 1 FROM sensor_configs WHERE id = ?1", [&id], |_| Ok(())).optional().map_err(map_error)?;
                return Err(match exists {
                    Some(()) => StoreError::Conflict("the sensor config was changed meanwhile".into()),
                    None => StoreError::NotFound("sensor config".into()),
                });
            }
            Ok(updated)
        })
        .await
    }

    async fn insert_experiment(&self, experiment: &Experiment) -> StoreResult<()> {
        let (id, version, doc) = (experiment.id.clone(), experiment.version as i64, to_doc(experiment)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO experiments (id, version, doc) VALUES (?1, ?2, ?3)", params![id, version, doc])
                .map_err(duplicate_as("experiment"))?;
            Ok(())
        })
        .await
    }

    async fn get_experiment(&self, id: &str) -> StoreResult<Option<Experiment>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM experiments WHERE id = ?1", [id])).await
    }

    async fn list_experiments(&self) -> StoreResult<Vec<Experiment>> {
        self.read(|c| query_docs(c, "SELECT doc FROM experiments ORDER BY key", [])).await
    }

    async fn update_experiment(&self, id: &str, update: ExperimentUpdate<'_>) -> StoreResult<Experiment> {
        // The update closure borrows from the caller, so it cannot move to the blocking pool:
        // read, apply here, then write back only if nobody changed it meanwhile.
        loop {
            let current = self.get_experiment(id).await?.ok_or_else(|| StoreError::NotFound("experiment".into()))?;
            let mut updated = current.clone();
            update(&mut updated)?;
            updated.id = current.id.clone();
            updated.version = current.version + 1;
            let (doc, old, new, key) = (to_doc(&updated)?, current.version as i64, updated.version as i64, id.to_owned());
            let changed = self
                .transact(move |tx| {
                    tx.execute("UPDATE experiments SET doc = ?2, version = ?3 WHERE id = ?1 AND version = ?4", params![key, doc, new, old])
                        .map_err(map_error)
                })
                .await?;
            if changed == 1 {
                return Ok(updated);
            }
        }
    }

    async fn set_active_experiment(&self, id: Option<&str>) -> StoreResult<Option<String>> {
        let id = id.map(str::to_owned);
        self.transact(move |tx| {
            refuse_while_recording(tx)?;
            let previous: Option<String> = tx.query_row("SELECT experiment_id FROM active_experiment WHERE slot = 1", [], |r| r.get(0)).optional().map_err(map_error)?;
            match id {
                Some(id) => {
                    let exists = tx.query_row("SELECT 1 FROM experiments WHERE id = ?1", [&id], |_| Ok(())).optional().map_err(map_error)?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound("experiment".into()));
                    }
                    tx.execute(
                        "INSERT INTO active_experiment (slot, experiment_id) VALUES (1, ?1) ON CONFLICT (slot) DO UPDATE SET experiment_id = excluded.experiment_id",
                        [id],
                    )
                    .map_err(map_error)?;
                }
                None => {
                    tx.execute("DELETE FROM active_experiment", []).map_err(map_error)?;
                }
            }
            Ok(previous)
        })
        .await
    }

    async fn deactivate_experiment(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.transact(move |tx| {
            refuse_while_recording(tx)?;
            let changed = tx.execute("DELETE FROM active_experiment WHERE experiment_id = ?1", [id]).map_err(map_error)?;
            if changed == 0 {
                return Err(StoreError::Conflict(super::NOT_ACTIVE.into()));
            }
            Ok(())
        })
        .await
    }

    async fn active_experiment_id(&self) -> StoreResult<Option<String>> {
        self.read(|c| {
            c.query_row("SELECT experiment_id FROM active_experiment WHERE slot = 1", [], |r| r.get(0)).optional().map_err(map_error)
        })
        .await
    }

    async fn start_recording(&self, recording: &Recording) -> StoreResult<()> {
        let recording = recording.clone();
        let doc = to_doc(&recording)?;
        self.transact(move |tx| {
            let experiment_key: i64 = tx
                .query_row("SELECT key FROM experiments WHERE id = ?1", [&recording.experiment_id], |r| r.get(0))
                .optional()
                .map_err(map_error)?
                .ok_or_else(|| StoreError::NotFound("experiment".into()))?;
            let active: Option<String> = tx
                .query_row("SELECT experiment_id FROM active_experiment WHERE slot = 1", [], |r| r.get(0))
                .optional()
                .map_err(map_error)?;
            // A stopped recording is history (a restore or an import), not a start.
            if recording.stopped_at.is_none() && active.as_deref() != Some(recording.experiment_id.as_str()) {
                return Err(StoreError::Conflict(super::NOT_ACTIVE.into()));
            }
            let running = i64::from(recording.stopped_at.is_none());
            tx.execute(
                "INSERT INTO recordings (id, experiment_key, participant_id, task_id, running, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![recording.id, experiment_key, recording.participant_id, recording.task_id, running, doc],
            )
            .map_err(|e| match map_error(e) {
                StoreError::Duplicate(_) => StoreError::Conflict("a recording is already running".into()),
                other => other,
            })?;
            Ok(())
        })
        .await
    }

    async fn stop_recording(&self, id: &str, at: Timestamp) -> StoreResult<Recording> {
        let id = id.to_owned();
        self.transact(move |tx| {
            let found: Option<Recording> = query_doc(tx, "SELECT doc FROM recordings WHERE id = ?1", [&id])?;
            let mut recording = found.ok_or_else(|| StoreError::NotFound("recording".into()))?;
            if recording.stopped_at.is_some() {
                return Err(StoreError::Conflict("the recording has already stopped".into()));
            }
            recording.stopped_at = Some(at);
            tx.execute("UPDATE recordings SET running = 0, doc = ?2 WHERE id = ?1", params![id, to_doc(&recording)?]).map_err(map_error)?;
            Ok(recording)
        })
        .await
    }

    async fn get_recording(&self, id: &str) -> StoreResult<Option<Recording>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM recordings WHERE id = ?1", [id])).await
    }

    async fn running_recording(&self) -> StoreResult<Option<Recording>> {
        self.read(|c| query_doc(c, "SELECT doc FROM recordings WHERE running = 1", [])).await
    }

    async fn list_recordings(&self, experiment_id: &str) -> StoreResult<Vec<Recording>> {
        let id = experiment_id.to_owned();
        self.read(move |c| {
            query_docs(
                c,
                "SELECT r.doc FROM recordings r JOIN experiments e ON e.key = r.experiment_key WHERE e.id = ?1 ORDER BY r.key",
                [id],
            )
        })
        .await
    }

    async fn append_log(&self, entry: &LogEntry) -> StoreResult<()> {
        let (id, experiment, doc) = (entry.id.clone(), entry.experiment_id.clone(), to_doc(entry)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO logbook (id, experiment_id, doc) VALUES (?1, ?2, ?3)", params![id, experiment, doc])
                .map_err(duplicate_as("logbook entry"))?;
            Ok(())
        })
        .await
    }

    async fn insert_command(&self, command: &DeviceCommand) -> StoreResult<()> {
        let (id, sensor, doc) = (command.id.clone(), command.sensor_id.clone(), to_doc(command)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO commands (id, sensor_id, doc) VALUES (?1, ?2, ?3)", params![id, sensor, doc])
                .map_err(duplicate_as("command"))?;
            Ok(())
        })
        .await
    }

    async fn finish_command(&self, command: &DeviceCommand) -> StoreResult<DeviceCommand> {
        let finished = command.clone();
        let doc = to_doc(command)?;
        self.transact(move |tx| {
            let stored: DeviceCommand = query_doc(tx, "SELECT doc FROM commands WHERE id = ?1", [&finished.id])?
                .ok_or_else(|| StoreError::NotFound("command".into()))?;
            if stored.status != CommandStatus::Sent {
                return Ok(stored);
            }
            tx.execute("UPDATE commands SET doc = ?2 WHERE id = ?1", params![finished.id, doc]).map_err(map_error)?;
            Ok(finished)
        })
        .await
    }

    async fn list_commands(&self, sensor_id: &str, limit: usize) -> StoreResult<Vec<DeviceCommand>> {
        let (sensor, limit) = (sensor_id.to_owned(), i64::try_from(limit).unwrap_or(i64::MAX));
        self.read(move |c| {
            query_docs(c, "SELECT doc FROM commands WHERE sensor_id = ?1 ORDER BY key DESC LIMIT ?2", params![sensor, limit])
        })
        .await
    }

    async fn hold_device(&self, device: &ConnectedDevice, replica: &str, until: Timestamp) -> StoreResult<()> {
        let (sensor, replica, until, doc) = (device.sensor_id.clone(), replica.to_owned(), to_ns(&until), to_doc(device)?);
        self.transact(move |tx| {
            tx.execute(
                "INSERT INTO device_holders (sensor_id, replica, until_ns, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (sensor_id) DO UPDATE SET replica = excluded.replica, until_ns = excluded.until_ns, doc = excluded.doc",
                params![sensor, replica, until, doc],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn update_held_device(&self, device: &ConnectedDevice, replica: &str) -> StoreResult<()> {
        let (sensor, replica, doc) = (device.sensor_id.clone(), replica.to_owned(), to_doc(device)?);
        self.transact(move |tx| {
            tx.execute("UPDATE device_holders SET doc = ?3 WHERE sensor_id = ?1 AND replica = ?2", params![sensor, replica, doc])
                .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn list_held_devices(&self, now: Timestamp) -> StoreResult<Vec<ConnectedDevice>> {
        let now = to_ns(&now);
        self.read(move |c| {
            query_docs(c, "SELECT doc FROM device_holders WHERE until_ns > ?1 AND doc IS NOT NULL ORDER BY sensor_id", [now])
        })
        .await
    }

    async fn renew_device_holds(&self, replica: &str, until: Timestamp) -> StoreResult<()> {
        let (replica, until) = (replica.to_owned(), to_ns(&until));
        self.transact(move |tx| {
            tx.execute("UPDATE device_holders SET until_ns = ?2 WHERE replica = ?1", params![replica, until]).map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn release_device(&self, sensor_id: &str, replica: &str) -> StoreResult<()> {
        let (sensor, replica) = (sensor_id.to_owned(), replica.to_owned());
        self.transact(move |tx| {
            tx.execute("DELETE FROM device_holders WHERE sensor_id = ?1 AND replica = ?2", params![sensor, replica]).map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn device_holder(&self, sensor_id: &str, now: Timestamp) -> StoreResult<Option<String>> {
        let (sensor, now) = (sensor_id.to_owned(), to_ns(&now));
        self.read(move |c| {
            c.query_row("SELECT replica FROM device_holders WHERE sensor_id = ?1 AND until_ns > ?2", params![sensor, now], |r| r.get(0))
                .optional()
                .map_err(map_error)
        })
        .await
    }

    async fn open_alert(&self, alert: &Alert, outbox: &Outbox) -> StoreResult<bool> {
        let (alert, outbox) = (alert.clone(), outbox.clone());
        self.transact(move |tx| alerts::open(tx, &alert, &outbox)).await
    }

    async fn resolve_alert(&self, rule: &str, subject: &str, at: Timestamp, outbox: &Outbox) -> StoreResult<Option<Alert>> {
        let (rule, subject, outbox) = (rule.to_owned(), subject.to_owned(), outbox.clone());
        self.transact(move |tx| alerts::resolve(tx, &rule, &subject, at, &outbox)).await
    }

    async fn get_alert(&self, id: &str) -> StoreResult<Option<Alert>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM alerts WHERE id = ?1", [id])).await
    }

    async fn list_alerts(&self, state: Option<AlertState>, limit: usize) -> StoreResult<Vec<(Alert, Vec<Delivery>)>> {
        self.read(move |c| alerts::list(c, state, limit)).await
    }

    async fn claim_deliveries(&self, owner: &str, now_ns: i64, lease_until_ns: i64, max: usize) -> StoreResult<Vec<Delivery>> {
        let owner = owner.to_owned();
        self.transact(move |tx| alerts::claim(tx, &owner, now_ns, lease_until_ns, max)).await
    }

    async fn finish_delivery(&self, delivery: &Delivery, owner: &str) -> StoreResult<()> {
        let (delivery, owner) = (delivery.clone(), owner.to_owned());
        self.transact(move |tx| alerts::finish(tx, &delivery, &owner)).await
    }

    async fn list_log(&self, experiment_id: &str) -> StoreResult<Vec<LogEntry>> {
        let id = experiment_id.to_owned();
        self.read(move |c| query_docs(c, "SELECT doc FROM logbook WHERE experiment_id = ?1 ORDER BY key", [id])).await
    }

    async fn put_progress(&self, progress: &Progress) -> StoreResult<()> {
        let p = progress.clone();
        let doc = to_doc(&p)?;
        self.transact(move |tx| {
            tx.execute(
                "INSERT INTO progress (experiment_id, participant_id, task_id, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (experiment_id, participant_id, task_id) DO UPDATE SET doc = excluded.doc",
                params![p.experiment_id, p.participant_id, p.task_id, doc],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn list_progress(&self, experiment_id: &str) -> StoreResult<Vec<Progress>> {
        let id = experiment_id.to_owned();
        self.read(move |c| query_docs(c, "SELECT doc FROM progress WHERE experiment_id = ?1 ORDER BY participant_id, task_id", [id])).await
    }

    async fn insert_export(&self, export: &ExportRecord) -> StoreResult<()> {
        let (id, experiment, doc) = (export.id.clone(), export.experiment_id.clone(), to_doc(export)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO exports (id, experiment_id, doc) VALUES (?1, ?2, ?3)", params![id, experiment, doc])
                .map_err(duplicate_as("export"))?;
            Ok(())
        })
        .await
    }

    async fn update_export(&self, export: &ExportRecord) -> StoreResult<()> {
        let (id, doc) = (export.id.clone(), to_doc(export)?);
        self.transact(move |tx| {
            expect_changed(tx.execute("UPDATE exports SET doc = ?2 WHERE id = ?1", params![id, doc]).map_err(map_error)?, "export")
        })
        .await
    }

    async fn get_export(&self, id: &str) -> StoreResult<Option<ExportRecord>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM exports WHERE id = ?1", [id])).await
    }

    async fn claim_export(&self, claim: &ClaimRequest) -> StoreResult<ExportClaim> {
        let claim = claim.clone();
        self.transact(move |tx| {
            let found: Option<ExportRecord> = query_doc(tx, "SELECT doc FROM exports WHERE id = ?1", [&claim.export_id])?;
            let record = found.ok_or_else(|| StoreError::NotFound("export".into()))?;
            let outcome = super::claim_outcome(record, &claim);
            if let ExportClaim::Claimed(claimed) = &outcome {
                tx.execute("UPDATE exports SET doc = ?2 WHERE id = ?1", params![claimed.id, to_doc(claimed)?]).map_err(map_error)?;
            }
            Ok(outcome)
        })
        .await
    }

    async fn update_claimed_export(&self, export: &ExportRecord, owner: &str) -> StoreResult<()> {
        let (id, doc, owner) = (export.id.clone(), to_doc(export)?, owner.to_owned());
        self.transact(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE exports SET doc = ?2 WHERE id = ?1 AND json_extract(doc, '$.status') = 'running' AND json_extract(doc, '$.owner') = ?3",
                    params![id, doc, owner],
                )
                .map_err(map_error)?;
            if changed == 0 {
                return Err(StoreError::Conflict("another attempt runs this export now".into()));
            }
            Ok(())
        })
        .await
    }

    async fn list_running_exports(&self) -> StoreResult<Vec<ExportRecord>> {
        // The same expression as the `exports_by_status` index, so the index is used.
        self.read(|c| query_docs(c, "SELECT doc FROM exports WHERE json_extract(doc, '$.status') = 'running' ORDER BY key", [])).await
    }

    async fn list_exports(&self, experiment_id: Option<&str>) -> StoreResult<Vec<ExportRecord>> {
        let id = experiment_id.map(str::to_owned);
        self.read(move |c| match id {
            Some(id) => query_docs(c, "SELECT doc FROM exports WHERE experiment_id = ?1 ORDER BY key DESC", [id]),
            None => query_docs(c, "SELECT doc FROM exports ORDER BY key DESC", []),
        })
        .await
    }

    async fn insert_samples(&self, samples: Vec<NewSample>) -> StoreResult<InsertOutcome> {
        self.write(move |writer| writer.insert(&samples)).await
    }

    async fn count_samples(&self, query: &SampleQuery) -> StoreResult<u64> {
        let query = query.clone();
        self.read(move |c| sample_reads::count(c, &query)).await
    }

    async fn count_recording_samples(&self, recording_id: &str) -> StoreResult<u64> {
        let id = recording_id.to_owned();
        self.read(move |c| {
            let count: Option<i64> =
                c.query_row("SELECT sample_count FROM recordings WHERE id = ?1", [id], |r| r.get(0)).optional().map_err(map_error)?;
            count.map(|n| n as u64).ok_or_else(|| StoreError::NotFound("recording".into()))
        })
        .await
    }

    async fn sample_stats(&self, experiment_id: &str) -> StoreResult<Vec<SampleStat>> {
        let id = experiment_id.to_owned();
        self.read(move |c| sample_reads::stats(c, &id)).await
    }

    fn stream_samples(&self, query: SampleQuery) -> BoxStream<'static, StoreResult<Vec<StoredSample>>> {
        // The merge keeps its state between chunks; each chunk runs on the blocking pool with
        // a reader of its own, and the stream ends after the first empty chunk or error.
        let inner = self.inner.clone();
        futures_util::stream::unfold(Some(sample_reads::BlockMerge::new(query)), move |merge| {
            let inner = inner.clone();
            async move {
                let mut merge = merge?;
                let read = run_blocking(move || Ok((inner.with_reader(|c| merge.next_chunk(c)), merge))).await;
                match read {
                    Ok((Ok(rows), _)) if rows.is_empty() => None,
                    Ok((Ok(rows), merge)) => Some((Ok(rows), Some(merge))),
                    Ok((Err(error), _)) | Err(error) => Some((Err(error), None)),
                }
            }
        })
        .boxed()
    }

    async fn delete_samples(&self, experiment_id: &str, expected: Option<u64>) -> StoreResult<u64> {
        let id = experiment_id.to_owned();
        self.transact(move |tx| sample_reads::delete(tx, &id, expected)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_use_the_chosen_sync_level() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sync.db");
        let level = |synchronous| -> i64 {
            let conn = open_connection(&path, synchronous, READER_CACHE_KIB).expect("open");
            conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).expect("pragma")
        };
        assert_eq!(level(SqliteSynchronous::Normal), 1);
        assert_eq!(level(SqliteSynchronous::Full), 2);
        let conn = open_connection(&path, SqliteSynchronous::Normal, READER_CACHE_KIB).expect("open");
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("pragma");
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn pooled_readers_keep_a_small_page_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("srs.db")).await.expect("open");
        let cache = |c: &Connection| c.query_row("PRAGMA cache_size", [], |r| r.get::<_, i64>(0)).map_err(map_error);
        assert_eq!(store.inner.with_reader(cache).expect("reader"), -READER_CACHE_KIB);
        let writer = store.inner.writer.lock().expect("writer");
        assert_eq!(cache(&writer.conn).expect("writer"), -WRITER_CACHE_KIB, "the writer keeps the big cache");
    }
}
