//! One export, from the store to a directory: `experiment.json`, `logbook.json`,
//! `progress.json`, one Parquet file per participant, UTC date and sensor type, and
//! `manifest.json` listing every file with rows, bytes and SHA-256. Everything is written into
//! `{export_id}.partial/` and renamed to `{export_id}/` only when complete, so a crash never
//! leaves a directory that looks finished; running the same export again starts it over.

use crate::hashing::HashingWriter;
use crate::sensor_file::{FileError, SensorFile};
use chrono::NaiveDate;
use futures_util::TryStreamExt;
use serde::Serialize;
use srs_common::model::{Experiment, ExportFile, ExportFilter, SampleQuery};
use srs_common::sensors::SensorCatalog;
use srs_common::store::{DynStore, StoreError};
use srs_common::time::{day_of_ns, day_to_date};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

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
}

/// What was exported.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The finished export directory.
    pub dir: PathBuf,
    pub files: Vec<ExportFile>,
    pub rows: u64,
    /// The newest receive time the export covers (for the guarded delete).
    pub covers_received_until: Option<i64>,
}

/// Where `export_id` of `experiment_id` lives under `root`.
pub fn export_dir(root: &Path, experiment_id: &str, export_id: &str) -> PathBuf {
    root.join(experiment_id).join(export_id)
}

/// The samples `filter` selects, as a store query (dates inclusive, UTC).
pub fn sample_query(experiment_id: &str, filter: &ExportFilter) -> Result<SampleQuery, ExportError> {
    let day = |text: &Option<String>, field: &str| -> Result<Option<i64>, ExportError> {
        text.as_deref()
            .map(|t| {
                NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .map(|d| d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp()) * 1_000_000_000)
                    .map_err(|_| ExportError::BadFilter(format!("{field}: expected a date YYYY-MM-DD, got \"{t}\"")))
            })
            .transpose()
    };
    let from_ns = day(&filter.from, "from")?;
    let to_ns = day(&filter.to, "to")?.map(|start| start + DAY_NS);
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

/// A participant code as a safe directory name (codes are free text).
fn directory_name(code: &str) -> String {
    let name: String = code.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        format!("_{name}")
    } else {
        name
    }
}

/// Runs the export. `progress(rows_written, rows_total)` is called after every chunk.
pub async fn export_experiment(
    store: &DynStore,
    sensors: &SensorCatalog,
    root: &Path,
    experiment_id: &str,
    export_id: &str,
    filter: &ExportFilter,
    mut progress: impl FnMut(u64, u64),
) -> Result<Exported, ExportError> {
    let experiment = store.get_experiment(experiment_id).await?.ok_or_else(|| ExportError::UnknownExperiment(experiment_id.to_owned()))?;
    for id in &filter.participant_ids {
        if experiment.participant(id).is_none() {
            return Err(ExportError::BadFilter(format!("participant_ids: no participant {id} in this experiment")));
        }
    }
    let query = sample_query(experiment_id, filter)?;
    let covers_received_until = store.latest_received_at(experiment_id).await?;
    let rows_total = store.count_samples(&query).await?;
    let final_dir = export_dir(root, experiment_id, export_id);
    let dir = final_dir.with_extension("partial");
    for stale in [&dir, &final_dir] {
        if stale.exists() {
            std::fs::remove_dir_all(stale).map_err(|e| ExportError::Io(stale.display().to_string(), e))?;
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| ExportError::Io(dir.display().to_string(), e))?;

    let mut files = crate::metadata::write_all(store, sensors, &experiment, filter, &dir).await?;
    let folders = participant_folders(&experiment);
    let mut open: HashMap<(String, i64, String), SensorFile> = HashMap::new();
    let mut written = Vec::new();
    let mut rows = 0u64;
    let mut current_day = i64::MIN;
    let mut chunks = store.stream_samples(query);
    while let Some(chunk) = chunks.try_next().await? {
        for sample in &chunk {
            let day = day_of_ns(sample.ts);
            if day > current_day {
                // Samples come in ts order: no file of an earlier day gets another row.
                let done: Vec<_> = open.keys().filter(|(_, d, _)| *d < day).cloned().collect();
                for key in done {
                    if let Some(file) = open.remove(&key) {
                        written.push(file.finish()?);
                    }
                }
                current_day = day;
            }
            let key = (sample.participant_id.clone(), day, sample.sensor_type.clone());
            if !open.contains_key(&key) {
                let folder = folders.get(&sample.participant_id).cloned().unwrap_or_else(|| directory_name(&sample.participant_id));
                let path = dir.join(folder).join(day_to_date(day)).join(format!("{}.parquet", sample.sensor_type));
                let sensor_type = sensors.sensor_type(&sample.sensor_type).cloned().unwrap_or_else(|| untyped(&sample.sensor_type));
                open.insert(key.clone(), SensorFile::create(path, &sensor_type)?);
            }
            if let Some(file) = open.get_mut(&key) {
                file.append(sample)?;
            }
        }
        rows += chunk.len() as u64;
        progress(rows, rows_total);
    }
    for (_, file) in open.drain() {
        written.push(file.finish()?);
    }
    for file in written {
        files.push(ExportFile { path: relative(&dir, &file.path), rows: file.rows, bytes: file.bytes, sha256: file.sha256 });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    write_json(&dir, "manifest.json", &Manifest { experiment_id, export_id, filter, rows, files: &files })?;
    sync_dir(&dir)?;
    std::fs::rename(&dir, &final_dir).map_err(|e| ExportError::Io(final_dir.display().to_string(), e))?;
    Ok(Exported { dir: final_dir, files, rows, covers_received_until })
}

/// A sensor type no longer in the sensors file: its samples keep the fixed columns.
fn untyped(name: &str) -> srs_common::sensors::SensorType {
    srs_common::sensors::SensorType {
        name: name.to_owned(),
        description: None,
        fields: Vec::new(),
        commands: Vec::new(),
        on_recording_start: None,
        on_recording_stop: None,
    }
}

/// Directory name per participant id: the code made safe, unique within the export.
fn participant_folders(experiment: &Experiment) -> HashMap<String, String> {
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    let mut folders = HashMap::new();
    for participant in &experiment.participants {
        let mut name = directory_name(&participant.code);
        let count = taken.entry(name.clone()).or_default();
        *count += 1;
        if *count > 1 {
            name = format!("{name}-{}", *count);
        }
        folders.insert(participant.id.clone(), name);
    }
    folders
}

fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
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
