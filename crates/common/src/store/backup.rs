//! Metadata backup and restore (`srs backup` / `srs restore`): users, device tokens, sensor
//! configs, experiments, recordings, logbook, progress, export records and which experiment is
//! active — everything but samples (those leave as Parquet exports) and refresh tokens (after a
//! restore, people sign in again).

use super::{DynStore, StoreError, StoreResult};
use crate::model::*;
use crate::time::Timestamp;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "srs-backup";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    pub format: String,
    pub version: u32,
    pub created_at: Timestamp,
    pub users: Vec<User>,
    pub device_tokens: Vec<DeviceToken>,
    pub sensor_configs: Vec<SensorConfig>,
    pub experiments: Vec<Experiment>,
    pub active_experiment_id: Option<String>,
    pub recordings: Vec<Recording>,
    pub logbook: Vec<LogEntry>,
    pub progress: Vec<Progress>,
    pub exports: Vec<ExportRecord>,
}

/// How many records a restore wrote, and how many it left as they were (same id present).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    pub written: usize,
    pub kept: usize,
}

/// Everything the store holds but samples.
pub async fn take(store: &DynStore) -> StoreResult<Backup> {
    let experiments = store.list_experiments().await?;
    let (mut recordings, mut logbook, mut progress) = (Vec::new(), Vec::new(), Vec::new());
    for experiment in &experiments {
        recordings.extend(store.list_recordings(&experiment.id).await?);
        logbook.extend(store.list_log(&experiment.id).await?);
        progress.extend(store.list_progress(&experiment.id).await?);
    }
    Ok(Backup {
        format: FORMAT.into(),
        version: VERSION,
        created_at: crate::time::now(),
        users: store.list_users().await?,
        device_tokens: store.list_device_tokens().await?,
        sensor_configs: store.list_sensor_configs().await?,
        active_experiment_id: store.active_experiment_id().await?,
        experiments,
        recordings,
        logbook,
        progress,
        exports: store.list_exports(None).await?,
    })
}

/// Whether the store holds no users, sensor configs or experiments.
pub async fn is_empty(store: &DynStore) -> StoreResult<bool> {
    Ok(store.list_users().await?.is_empty() && store.list_sensor_configs().await?.is_empty() && store.list_experiments().await?.is_empty())
}

/// Writes the backup into the store. Records whose id already exists are replaced when
/// `replace` is set and the record is mutable (users, sensor configs, experiments, progress,
/// export records); history (recordings, logbook, device tokens) is never rewritten.
pub async fn restore(store: &DynStore, backup: &Backup, replace: bool) -> StoreResult<RestoreSummary> {
    if backup.format != FORMAT || backup.version != VERSION {
        return Err(StoreError::Conflict(format!("not an {FORMAT} version {VERSION} file")));
    }
    let mut summary = RestoreSummary::default();
    for user in &backup.users {
        count(&mut summary, store.insert_user(user).await, replace.then(|| store.update_user(user))).await?;
    }
    for token in &backup.device_tokens {
        count(&mut summary, store.insert_device_token(token).await, None).await?;
    }
    for config in &backup.sensor_configs {
        count(&mut summary, store.insert_sensor_config(config).await, replace.then(|| replace_sensor_config(store, config))).await?;
    }
    for experiment in &backup.experiments {
        let inserted = store.insert_experiment(experiment).await;
        if matches!(inserted, Err(StoreError::Duplicate(_))) && replace {
            let snapshot = experiment.clone();
            let restore = move |current: &mut Experiment| {
                *current = Experiment { version: current.version, ..snapshot.clone() };
                Ok(())
            };
            store.update_experiment(&experiment.id, &restore).await?;
            summary.written += 1;
        } else {
            count(&mut summary, inserted, None).await?;
        }
    }
    // Before the recordings: a running one may only be stored for the active experiment.
    if let Some(active) = &backup.active_experiment_id {
        store.set_active_experiment(Some(active)).await?;
    }
    for recording in &backup.recordings {
        count(&mut summary, store.start_recording(recording).await, None).await?;
    }
    for entry in &backup.logbook {
        count(&mut summary, store.append_log(entry).await, None).await?;
    }
    for progress in &backup.progress {
        store.put_progress(progress).await?;
        summary.written += 1;
    }
    for export in &backup.exports {
        count(&mut summary, store.insert_export(export).await, replace.then(|| store.update_export(export))).await?;
    }
    Ok(summary)
}

/// Writes the backup's config over the stored one, whatever version that has now.
fn replace_sensor_config<'a>(store: &'a DynStore, config: &'a SensorConfig) -> BoxFuture<'a, StoreResult<()>> {
    Box::pin(async move {
        let current = store.get_sensor_config(&config.id).await?.ok_or_else(|| StoreError::NotFound("sensor config".into()))?;
        store.update_sensor_config(&SensorConfig { version: current.version, ..config.clone() }).await.map(|_| ())
    })
}

/// Counts one insert: written, or — for a record that already exists — replaced (when a
/// replacement is given) or kept.
async fn count(
    summary: &mut RestoreSummary,
    inserted: StoreResult<()>,
    replacement: Option<BoxFuture<'_, StoreResult<()>>>,
) -> StoreResult<()> {
    match (inserted, replacement) {
        (Ok(()), _) => summary.written += 1,
        (Err(StoreError::Duplicate(_) | StoreError::Conflict(_)), Some(replacement)) => {
            replacement.await?;
            summary.written += 1;
        }
        (Err(StoreError::Duplicate(_) | StoreError::Conflict(_)), None) => summary.kept += 1,
        (Err(error), _) => return Err(error),
    }
    Ok(())
}
