//! One export, from the store to a directory: `experiment.json`, `logbook.json`,
//! `progress.json`, one Parquet file per participant, UTC date and sensor type, and
//! `manifest.json` listing every file with rows, bytes and SHA-256. Everything is written into
//! `{export_id}.partial/` and renamed to `{export_id}/` only when complete, so a crash never
//! leaves a directory that looks finished; running the same export again starts it over.

use crate::hashing::HashingWriter;
use crate::paths::{export_dir, is_partial_of, partial_dir, participant_folders, relative};
use crate::router::{FileKey, SampleRouter};
use crate::sensor_file::{FileError, Written};
use chrono::NaiveDate;
use futures_util::TryStreamExt;
use serde::Serialize;
use srs_common::model::{Experiment, ExportFile, ExportFilter, ExportRecord, ExportStatus, SampleQuery, SampleStat, StoredSample};
use srs_common::sensors::SensorCatalog;
use srs_common::store::{DynStore, StoreError};
use srs_common::time::day_to_date;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const DAY_NS: i64 = 86_400_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no experiment {0}")]
    UnknownExperiment(String),
    #[error("{0}")]
    BadFilter(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// No worker will finish the job (they died, or the broker gave up on it).
    #[error("{0}")]
    Abandoned(String),
    /// The progress callback asked to stop (a shutdown, or the job was taken over).
    #[error("the export was stopped before it finished")]
    Stopped,
}

/// What was exported.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The finished export directory.
    pub dir: PathBuf,
    pub files: Vec<ExportFile>,
    pub rows: u64,
    /// Samples written per participant, UTC date and sensor type (for the guarded delete).
    pub covered: Vec<SampleStat>,
}

impl Exported {
    /// Records the finished export in its job record (what the guarded delete reads).
    pub fn mark_done(&self, record: &mut ExportRecord) {
        record.status = ExportStatus::Done;
        record.rows_written = self.rows;
        record.rows_total = self.rows;
        record.files = self.files.clone();
        record.error = None;
        record.finished_at = Some(srs_common::time::now());
        record.covered = self.covered.clone();
    }
}

/// The samples `filter` selects, as a store query (dates inclusive, UTC).
pub fn sample_query(experiment_id: &str, filter: &ExportFilter) -> Result<SampleQuery, ExportError> {
    let day = |text: &Option<String>, field: &str| -> Result<Option<i64>, ExportError> {
        text.as_deref()
            .map(|t| {
                NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    // Nanosecond times end in 2262: a later day selects nothing ("from") or
                    // everything ("to"), which saturating arithmetic gives.
                    .map(|d| d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp()).saturating_mul(1_000_000_000))
                    .map_err(|_| ExportError::BadFilter(format!("{field}: expected a date YYYY-MM-DD, got \"{t}\"")))
            })
            .transpose()
    };
    let from_ns = day(&filter.from, "from")?;
    let to_ns = day(&filter.to, "to")?.map(|start| start.saturating_add(DAY_NS));
    if let (Some(from), Some(to)) = (from_ns, to_ns) {
        if from >= to {
            return Err(ExportError::BadFilter("from: must not be after to".into()));
        }
    }
    Ok(SampleQuery {
        experiment_id: experiment_id.to_owned(),
        participant_ids: filter.participant_ids.clone(),
        sensor_types: filter.sensor_types.clone(),
        from_ns,
        to_ns,
    })
}

/// Runs the export (`attempt` names this run's partial directory: one per attempt, see
/// [`partial_dir`]). `progress(rows_written, rows_total)` is called after every chunk and once
/// before the export is made final; `Break` stops it with [`ExportError::Stopped`]. On
/// failure (or if the future is dropped) nothing that looks finished is left: the partial
/// directory is removed, or removed by the next run of the same export.
pub async fn export_experiment(
    store: &DynStore,
    sensors: &SensorCatalog,
    root: &Path,
    experiment_id: &str,
    (export_id, attempt): (&str, &str),
    filter: &ExportFilter,
    progress: impl FnMut(u64, u64) -> ControlFlow<()>,
) -> Result<Exported, ExportError> {
    let experiment = store.get_experiment(experiment_id).await?.ok_or_else(|| ExportError::UnknownExperiment(experiment_id.to_owned()))?;
    check_filter(&experiment, sensors, filter)?;
    let dir = partial_dir(root, experiment_id, export_id, attempt);
    let result = write_export(store, sensors, root, &experiment, (export_id, attempt), filter, progress).await;
    if result.is_err() && dir.exists() {
        if let Err(error) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), %error, "cannot remove the partial export");
        }
    }
    result
}

/// The problems of `filter` for `experiment`, checked before anything is written.
pub fn check_filter(experiment: &Experiment, sensors: &SensorCatalog, filter: &ExportFilter) -> Result<(), ExportError> {
    for id in &filter.participant_ids {
        if experiment.participant(id).is_none() {
            return Err(ExportError::BadFilter(format!("participant_ids: no participant {id} in this experiment")));
        }
    }
    for name in &filter.sensor_types {
        if sensors.sensor_type(name).is_none() {
            return Err(ExportError::BadFilter(format!("sensor_types: no sensor type {name} in the sensors file")));
        }
    }
    sample_query(&experiment.id, filter).map(|_| ())
}

/// What the store-reading side hands the file-writing thread.
enum Handover {
    Rows(Vec<StoredSample>),
    /// Every row was handed over: finish the files. Without it (the reader failed or was
    /// dropped), the writer stops and finishes nothing.
    End,
}

async fn write_export(
    store: &DynStore,
    sensors: &SensorCatalog,
    root: &Path,
    experiment: &Experiment,
    (export_id, attempt): (&str, &str),
    filter: &ExportFilter,
    mut progress: impl FnMut(u64, u64) -> ControlFlow<()>,
) -> Result<Exported, ExportError> {
    let query = sample_query(&experiment.id, filter)?;
    let rows_total = store.count_samples(&query).await?;
    let final_dir = export_dir(root, &experiment.id, export_id);
    let dir = partial_dir(root, &experiment.id, export_id, attempt);
    remove_stale(&root.join(&experiment.id), export_id, &final_dir)?;
    std::fs::create_dir_all(&dir).map_err(|e| ExportError::Io(dir.display().to_string(), e))?;
    let mut files = crate::metadata::write_all(store, sensors, experiment, filter, &dir).await?;

    // Reading (store, async) and writing (Parquet and zstd, CPU) overlap: the store side runs
    // here, the files are written on a blocking thread, with two chunks in between at most.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Handover>(2);
    let written_rows = Arc::new(AtomicU64::new(0));
    let writer = {
        let (dir, sensors, folders, written_rows) = (dir.clone(), sensors.clone(), participant_folders(experiment), written_rows.clone());
        tokio::task::spawn_blocking(move || -> Result<Option<Vec<(FileKey, Written)>>, FileError> {
            let mut router = SampleRouter::new(dir, &sensors, &folders);
            while let Some(handover) = receiver.blocking_recv() {
                match handover {
                    Handover::Rows(chunk) => {
                        router.append(&chunk)?;
                        written_rows.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    }
                    Handover::End => return router.finish().map(Some),
                }
            }
            Ok(None)
        })
    };
    let mut chunks = store.stream_samples(query);
    let mut rows = 0u64;
    let read = async {
        while let Some(chunk) = chunks.try_next().await? {
            rows += chunk.len() as u64;
            if sender.send(Handover::Rows(chunk)).await.is_err() {
                break; // the writer failed; its error is reported below
            }
            if progress(written_rows.load(Ordering::Relaxed), rows_total).is_break() {
                // Without `End` the writer finishes nothing; it is joined below, so the
                // partial directory is removed only once nothing writes into it any more.
                return Err(ExportError::Stopped);
            }
        }
        let _ = sender.send(Handover::End).await;
        Ok::<(), ExportError>(())
    };
    let read_result = read.await;
    drop(sender);
    let written = writer.await.map_err(|e| ExportError::Io(dir.display().to_string(), std::io::Error::other(e)))??;
    read_result?;
    let written = written.ok_or_else(|| ExportError::Io(dir.display().to_string(), std::io::Error::other("the writer stopped early")))?;
    if progress(rows, rows_total).is_break() {
        return Err(ExportError::Stopped);
    }
    let mut covered = Vec::with_capacity(written.len());
    for ((participant_id, day, sensor_type), file) in written {
        covered.push(SampleStat {
            participant_id: participant_id.to_string(),
            date: day_to_date(day),
            sensor_type: sensor_type.to_string(),
            count: file.rows,
        });
        files.push(ExportFile { path: relative(&dir, &file.path), rows: file.rows, bytes: file.bytes, sha256: file.sha256 });
    }
    covered.sort();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    write_json(&dir, "manifest.json", &Manifest { experiment_id: &experiment.id, export_id, filter, rows, files: &files })?;
    // Every directory's entries reach the disk (deepest first, the export directory last)
    // before the rename makes the export look finished, and the rename itself before the job
    // is acknowledged.
    let folders: std::collections::BTreeSet<&Path> = files.iter().flat_map(|f| Path::new(&f.path).ancestors().skip(1)).collect();
    for folder in folders.iter().rev() {
        sync_dir(&dir.join(folder))?;
    }
    std::fs::rename(&dir, &final_dir).map_err(|e| ExportError::Io(final_dir.display().to_string(), e))?;
    sync_dir(final_dir.parent().unwrap_or(root))?;
    Ok(Exported { dir: final_dir, files, rows, covered })
}

/// Removes what earlier attempts of the export left: their partial directories, and a
/// finished directory whose job was never recorded as done.
fn remove_stale(experiment_dir: &Path, export_id: &str, final_dir: &Path) -> Result<(), ExportError> {
    let mut stale = vec![final_dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(experiment_dir) {
        stale.extend(entries.flatten().filter(|e| e.file_name().to_str().is_some_and(|n| is_partial_of(n, export_id))).map(|e| e.path()));
    }
    for dir in stale.iter().filter(|d| d.exists()) {
        std::fs::remove_dir_all(dir).map_err(|e| ExportError::Io(dir.display().to_string(), e))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Manifest<'a> {
    experiment_id: &'a str,
    export_id: &'a str,
    filter: &'a ExportFilter,
    rows: u64,
    files: &'a [ExportFile],
}

/// Writes `value` as pretty JSON to `dir/name` (synced) and describes the file.
pub(crate) fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<ExportFile, ExportError> {
    let path = dir.join(name);
    let failed = |e: std::io::Error| ExportError::Io(path.display().to_string(), e);
    let file = std::fs::File::create(&path).map_err(failed)?;
    let mut writer = HashingWriter::new(file);
    serde_json::to_writer_pretty(&mut writer, value).map_err(|e| failed(e.into()))?;
    writer.write_all(b"\n").map_err(failed)?;
    let (file, bytes, sha256) = writer.finish().map_err(failed)?;
    file.sync_all().map_err(failed)?;
    Ok(ExportFile { path: name.to_owned(), rows: 0, bytes, sha256 })
}

fn sync_dir(dir: &Path) -> Result<(), ExportError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| ExportError::Io(dir.display().to_string(), e))
}
