//! `srs import DIR`: loads an export back into a store. Every file is first checked against the
//! manifest (size and SHA-256), so a damaged export is refused before anything is written. An
//! experiment the store does not have comes back with its sensor config, recordings, logbook
//! and progress; one it has gets only the recordings it lacks. Samples are inserted in batches
//! through the store's deduplication (same sensor and `sample_id`, or same sensor and `ts`), so
//! importing the same export twice stores nothing new.

use crate::hashing::sha256_of_file;
use crate::paths::participant_folders;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampNanosecondType};
use chrono::{DateTime, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Deserialize;
use srs_common::model::{
    Experiment, ExportFile, LogEntry, NewSample, Participant, Progress, Recording, RecordingStamp, SensorConfig, Task,
};
use srs_common::store::backup::{self, Backup};
use srs_common::store::{DynStore, StoreError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Samples inserted per store transaction.
const IMPORT_BATCH: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: {1}")]
    Damaged(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    /// Samples in the export's Parquet files.
    pub samples: u64,
    /// Of those, newly stored (the rest were in the store already).
    pub stored: u64,
    /// Metadata records written (experiment, config, recordings, logbook, progress).
    pub records: usize,
}

#[derive(Deserialize)]
struct Manifest {
    experiment_id: String,
    files: Vec<ExportFile>,
}

#[derive(Deserialize)]
struct PersonRef {
    id: String,
}

/// The parts of `experiment.json` an import needs.
#[derive(Deserialize)]
struct ExperimentFile {
    id: String,
    name: String,
    description: String,
    created_at: DateTime<Utc>,
    owner: PersonRef,
    operators: Vec<PersonRef>,
    tasks: Vec<Task>,
    participants: Vec<Participant>,
    sensor_config_id: String,
    sensor_config: Option<SensorConfig>,
}

/// Imports the export in `dir` into `store`.
pub async fn import_export(store: &DynStore, dir: &Path) -> Result<Imported, ImportError> {
    let manifest: Manifest = read_json(dir, "manifest.json")?;
    for file in &manifest.files {
        let path = crate::paths::inside(dir, &file.path).ok_or_else(|| damaged(&file.path, "not a path inside the export"))?;
        let (bytes, sha256) = sha256_of_file(&path).map_err(|e| ImportError::Io(file.path.clone(), e))?;
        if bytes != file.bytes || sha256 != file.sha256 {
            return Err(damaged(&file.path, "size or SHA-256 differs from the manifest"));
        }
    }
    let file: ExperimentFile = read_json(dir, "experiment.json")?;
    if file.id != manifest.experiment_id {
        return Err(damaged("experiment.json", "belongs to another experiment than the manifest"));
    }
    let experiment = Experiment {
        id: file.id,
        name: file.name,
        description: file.description,
        owner_id: file.owner.id,
        sensor_config_id: file.sensor_config_id,
        tasks: file.tasks,
        operators: file.operators.into_iter().map(|p| p.id).collect(),
        participants: file.participants,
        created_at: file.created_at,
        version: 0,
        samples_deleted_at: None,
    };
    let recordings: Vec<Recording> = read_json(dir, "recordings.json")?;
    let mut imported =
        Imported { records: restore_metadata(store, dir, &experiment, file.sensor_config, &recordings).await?, ..Imported::default() };

    let participants: HashMap<String, String> = participant_folders(&experiment).into_iter().map(|(id, folder)| (folder, id)).collect();
    for file in manifest.files.iter().filter(|f| f.path.ends_with(".parquet")) {
        let mut parts = file.path.split('/');
        let (Some(folder), Some(_date), Some(name), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(damaged(&file.path, "not {participant}/{date}/{sensor_type}.parquet"));
        };
        let participant_id =
            participants.get(folder).ok_or_else(|| damaged(&file.path, "no participant of the experiment has this folder"))?;
        let sensor_type: Arc<str> = Arc::from(name.trim_end_matches(".parquet"));
        let source = SampleSource { experiment_id: &experiment.id, participant_id, sensor_type, path: &file.path };
        let (samples, stored) = source.import(store, &dir.join(&file.path)).await?;
        imported.samples += samples;
        imported.stored += stored;
    }
    Ok(imported)
}

/// Writes the metadata the store lacks; returns how many records were written.
async fn restore_metadata(
    store: &DynStore,
    dir: &Path,
    experiment: &Experiment,
    config: Option<SensorConfig>,
    recordings: &[Recording],
) -> Result<usize, ImportError> {
    let known = store.get_experiment(&experiment.id).await?.is_some();
    let mut metadata = Backup {
        format: backup::FORMAT.into(),
        version: backup::VERSION,
        created_at: srs_common::time::now(),
        users: Vec::new(),
        device_tokens: Vec::new(),
        sensor_configs: Vec::new(),
        experiments: Vec::new(),
        active_experiment_id: None,
        recordings: recordings.to_vec(),
        logbook: Vec::new(),
        progress: Vec::new(),
        exports: Vec::new(),
    };
    if !known {
        metadata.sensor_configs = config.into_iter().collect();
        metadata.experiments = vec![experiment.clone()];
        metadata.logbook = read_json::<Vec<LogEntry>>(dir, "logbook.json")?;
        metadata.progress = read_json::<Vec<Progress>>(dir, "progress.json")?;
    }
    // Existing records are kept as they are (no replace): importing never rewrites history.
    Ok(backup::restore(store, &metadata, false).await?.written)
}

/// The samples of one Parquet file of the export.
struct SampleSource<'a> {
    experiment_id: &'a str,
    participant_id: &'a str,
    sensor_type: Arc<str>,
    path: &'a str,
}

impl SampleSource<'_> {
    /// Reads the file a batch at a time and inserts its samples; returns (read, stored).
    async fn import(&self, store: &DynStore, path: &PathBuf) -> Result<(u64, u64), ImportError> {
        let file = std::fs::File::open(path).map_err(|e| ImportError::Io(self.path.to_owned(), e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|builder| builder.with_batch_size(IMPORT_BATCH).build())
            .map_err(|e| damaged(self.path, &e.to_string()))?;
        let mut stamps: HashMap<(String, Option<String>), Arc<RecordingStamp>> = HashMap::new();
        let mut sensor_ids: HashMap<String, Arc<str>> = HashMap::new();
        let (mut read, mut stored) = (0u64, 0u64);
        for batch in reader {
            let batch = batch.map_err(|e| damaged(self.path, &e.to_string()))?;
            let samples = self.samples(&batch, &mut stamps, &mut sensor_ids)?;
            read += samples.len() as u64;
            stored += store.insert_samples(samples).await?.stored_count() as u64;
        }
        Ok((read, stored))
    }

    fn samples(
        &self,
        batch: &RecordBatch,
        stamps: &mut HashMap<(String, Option<String>), Arc<RecordingStamp>>,
        sensor_ids: &mut HashMap<String, Arc<str>>,
    ) -> Result<Vec<NewSample>, ImportError> {
        let column = |name: &str| batch.column_by_name(name).ok_or_else(|| damaged(self.path, &format!("no column {name}")));
        let time = |name: &str| {
            column(name)?
                .as_primitive_opt::<TimestampNanosecondType>()
                .ok_or_else(|| damaged(self.path, &format!("{name} is not timestamp[ns]")))
        };
        let text =
            |name: &str| column(name)?.as_string_opt::<i32>().ok_or_else(|| damaged(self.path, &format!("{name} is not a string column")));
        let (ts, received_at) = (time("ts")?, time("received_at")?);
        let (sensor_id, recording_id, task_id, sample_id) =
            (text("sensor_id")?, text("recording_id")?, text("task_id")?, text("sample_id")?);
        let fields: Vec<(String, &dyn Array)> = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .skip(FIXED_COLUMNS)
            .map(|(field, array)| (field.name().clone(), array.as_ref()))
            .collect();
        let mut samples = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let mut values = serde_json::Map::new();
            for (name, array) in &fields {
                if let Some(value) = cell(*array, row) {
                    values.insert(name.clone(), value);
                }
            }
            let task = (!task_id.is_null(row)).then(|| task_id.value(row).to_owned());
            let stamp = stamps
                .entry((recording_id.value(row).to_owned(), task.clone()))
                .or_insert_with(|| {
                    Arc::new(RecordingStamp {
                        recording_id: recording_id.value(row).to_owned(),
                        experiment_id: self.experiment_id.to_owned(),
                        participant_id: self.participant_id.to_owned(),
                        task_id: task,
                    })
                })
                .clone();
            let sensor = sensor_ids.entry(sensor_id.value(row).to_owned()).or_insert_with(|| Arc::from(sensor_id.value(row))).clone();
            samples.push(NewSample {
                sensor_id: sensor,
                sensor_type: self.sensor_type.clone(),
                ts: ts.value(row),
                received_at: received_at.value(row),
                sample_id: (!sample_id.is_null(row)).then(|| sample_id.value(row).to_owned()),
                values: serde_json::Value::Object(values).to_string(),
                stamp: Some(stamp),
            });
        }
        Ok(samples)
    }
}

/// ts, received_at, sensor_id, recording_id, task_id, sample_id; the sensor type's fields follow.
const FIXED_COLUMNS: usize = 6;

/// One field's value as JSON; `None` for a null.
fn cell(array: &dyn Array, row: usize) -> Option<serde_json::Value> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Boolean => Some(array.as_boolean().value(row).into()),
        DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(row).into()),
        DataType::Float64 => serde_json::Number::from_f64(array.as_primitive::<Float64Type>().value(row)).map(serde_json::Value::Number),
        DataType::Utf8 => Some(array.as_string::<i32>().value(row).into()),
        _ => None,
    }
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<T, ImportError> {
    let bytes = std::fs::read(dir.join(name)).map_err(|e| ImportError::Io(dir.join(name).display().to_string(), e))?;
    serde_json::from_slice(&bytes).map_err(|e| damaged(name, &e.to_string()))
}

fn damaged(path: &str, problem: &str) -> ImportError {
    ImportError::Damaged(path.to_owned(), problem.to_owned())
}
