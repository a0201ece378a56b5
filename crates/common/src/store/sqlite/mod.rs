//! The SQLite store: the embedded default. One writer connection (SQLite allows one writer at a
//! time anyway) and a pool of reader connections, all used on tokio's blocking pool so the async
//! runtime never waits on disk. WAL and `BEGIN IMMEDIATE` make it safe for several processes on
//! one host to share the file.

mod aggregates;
mod alerts;
mod docs;
mod sample_migration;
mod sample_reads;
mod samples;
mod schema;
#[cfg(test)]
mod test_support;

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
/// Page cache of the writer, KiB: its inserts walk the `sample_ids` B-tree (one entry per
/// sample sent with an id) and the block indexes.
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

    /// Runs `f` (any write but a sample insert) on the writer connection off the async runtime.
    async fn write<T: Send + 'static>(&self, f: impl FnOnce(&mut SampleWriter) -> StoreResult<T> + Send + 'static) -> StoreResult<T> {
        let inner = self.inner.clone();
        run_blocking(move || {
            inner.write_now(|writer| {
                writer.forget_running();
                f(writer)
            })
        })
        .await
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
    /// Runs `f` on the writer connection, on this thread, and notes whether the disk is full.
    fn write_now<T>(&self, f: impl FnOnce(&mut SampleWriter) -> StoreResult<T>) -> StoreResult<T> {
        let result = match self.writer.lock() {
            Ok(mut writer) => f(&mut writer),
            Err(_) => Err(StoreError::Internal("writer lock poisoned".into())),
        };
        match &result {
            Ok(_) => self.disk_full.store(false, Ordering::Relaxed),
            Err(StoreError::Full(_)) => self.disk_full.store(true, Ordering::Relaxed),
            Err(_) => {}
        }
        result
    }

    fn insert_samples(&self, samples: &[NewSample]) -> StoreResult<InsertOutcome> {
        self.write_now(|writer| writer.insert(samples))
    }

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
