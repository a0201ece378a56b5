//! The export's JSON files: the experiment as it is at export time (with its owner, operators,
//! tasks, participants, sensor config and the sensor types it uses), its recordings (what
//! `srs import` needs to attribute samples again), its logbook and its participants' progress.

use crate::export::{write_json, ExportError};
use serde::Serialize;
use srs_common::model::{Experiment, ExportFile, ExportFilter, LogEntry, Participant, Progress, Recording, Role, SensorConfig, Task};
use srs_common::store::DynStore;
use std::path::Path;

#[derive(Serialize)]
struct Person {
    id: String,
    username: Option<String>,
    role: Option<Role>,
    email: Option<String>,
}

#[derive(Serialize)]
struct ExperimentFile<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
    created_at: chrono::DateTime<chrono::Utc>,
    owner: Person,
    operators: Vec<Person>,
    tasks: &'a [Task],
    participants: &'a [Participant],
    sensor_config_id: &'a str,
    sensor_config: Option<SensorConfig>,
    sensor_types: Vec<srs_common::sensors::SensorType>,
    filter: &'a ExportFilter,
    exported_at: chrono::DateTime<chrono::Utc>,
}

async fn person(store: &DynStore, id: &str) -> Result<Person, ExportError> {
    let user = store.get_user(id).await?;
    Ok(Person {
        id: id.to_owned(),
        username: user.as_ref().map(|u| u.username.clone()),
        role: user.as_ref().map(|u| u.role),
        email: user.and_then(|u| u.email),
    })
}

/// Writes experiment.json, logbook.json, progress.json and recordings.json into `dir`.
pub async fn write_all(
    store: &DynStore,
    sensors: &srs_common::sensors::SensorCatalog,
    experiment: &Experiment,
    filter: &ExportFilter,
    dir: &Path,
) -> Result<Vec<ExportFile>, ExportError> {
    let config = store.get_sensor_config(&experiment.sensor_config_id).await?;
    let mut operators = Vec::new();
    for id in &experiment.operators {
        operators.push(person(store, id).await?);
    }
    // Every type of the sensors file, so a reader can type any file of the export.
    let sensor_types = sensors.file().sensor_types.clone();
    let file = ExperimentFile {
        id: &experiment.id,
        name: &experiment.name,
        description: &experiment.description,
        created_at: experiment.created_at,
        owner: person(store, &experiment.owner_id).await?,
        operators,
        tasks: &experiment.tasks,
        participants: &experiment.participants,
        sensor_config_id: &experiment.sensor_config_id,
        sensor_types,
        sensor_config: config.clone(),
        filter,
        exported_at: srs_common::time::now(),
    };
    let logbook: Vec<LogEntry> = store.list_log(&experiment.id).await?;
    let progress: Vec<Progress> = store.list_progress(&experiment.id).await?;
    let mut files = vec![write_json(dir, "experiment.json", &file)?];
    files[0].rows = 1;
    let mut log_file = write_json(dir, "logbook.json", &logbook)?;
    log_file.rows = logbook.len() as u64;
    let mut progress_file = write_json(dir, "progress.json", &progress)?;
    progress_file.rows = progress.len() as u64;
    let recordings: Vec<Recording> = store.list_recordings(&experiment.id).await?;
    let mut recordings_file = write_json(dir, "recordings.json", &recordings)?;
    recordings_file.rows = recordings.len() as u64;
    files.extend([log_file, progress_file, recordings_file]);
    Ok(files)
}
