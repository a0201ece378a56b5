//! `export_completed` and `export_failed`: a notice per finished export job, naming the
//! experiment, what was written (or the error), and linking to the export's page.

use crate::alerts::{Alerts, Finding};
use serde_json::json;
use srs_common::events::{ExportCompleted, ExportFailed};
use srs_common::store::StoreResult;

pub async fn completed(alerts: &Alerts, event_id: &str, export: &ExportCompleted) -> StoreResult<()> {
    let experiment = experiment_name(alerts, &export.experiment_id).await?;
    let finding = Finding {
        rule: "export_completed",
        subject: export.export_id.clone(),
        message: format!("Export of {experiment} is ready: {} rows in {} files", export.rows, export.files),
        details: json!({
            "experiment": experiment,
            "export_id": export.export_id,
            "rows": export.rows,
            "files": export.files,
            "bytes": export.bytes,
            "path": format!("/console/exports/{}", export.export_id),
        }),
    };
    alerts.notice(event_id, finding).await.map(|_| ())
}

pub async fn failed(alerts: &Alerts, event_id: &str, export: &ExportFailed) -> StoreResult<()> {
    let experiment = experiment_name(alerts, &export.experiment_id).await?;
    let finding = Finding {
        rule: "export_failed",
        subject: export.export_id.clone(),
        message: format!("Export of {experiment} failed: {}", export.error),
        details: json!({
            "experiment": experiment,
            "export_id": export.export_id,
            "error": export.error,
            "attempts": export.attempts,
            "path": format!("/console/exports/{}", export.export_id),
        }),
    };
    alerts.notice(event_id, finding).await.map(|_| ())
}

/// The experiment's name, or its id when it is gone (deleted since).
async fn experiment_name(alerts: &Alerts, id: &str) -> StoreResult<String> {
    Ok(alerts.store().get_experiment(id).await?.map_or_else(|| format!("experiment {id}"), |e| e.name))
}
