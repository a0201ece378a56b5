//! `srs export`: the same export as the exporter service, run offline against the configured
//! store — for data too large to wait on over HTTP. The export is recorded in the store like
//! one made through the API, so it counts for the guarded delete.

use anyhow::Context;
use srs_common::model::{ExportFilter, ExportRecord};
use srs_common::Settings;
use std::io::Write;
use std::path::Path;

pub struct ExportArgs {
    pub experiment: String,
    pub participants: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub sensor_types: Vec<String>,
}

pub async fn export(settings: &Settings, args: ExportArgs, out: &Path) -> anyhow::Result<()> {
    let store = srs_common::store::open(settings).await.context("cannot open the store")?;
    let sensors = srs_common::sensors::SensorCatalog::load(&settings.sensors.file)?;
    let experiment =
        store.get_experiment(&args.experiment).await?.with_context(|| format!("no experiment {} in the store", args.experiment))?;
    // Participants are named by their codes on the command line.
    let mut participant_ids = Vec::new();
    for code in &args.participants {
        let participant =
            experiment.participants.iter().find(|p| &p.code == code).with_context(|| format!("no participant {code} in the experiment"))?;
        participant_ids.push(participant.id.clone());
    }
    let filter = ExportFilter { participant_ids, from: args.from, to: args.to, sensor_types: args.sensor_types };
    // Recorded once done (as done), so no exporter ever takes it for an unfinished job.
    let mut record = ExportRecord::queued(&experiment.id, filter.clone());
    record.attempts = 1;
    let mut last_percent = None;
    let exported =
        srs_exporter::export_experiment(&store, &sensors, out, &experiment.id, (&record.id, "offline"), &filter, |rows, total| {
            let percent = (rows * 100).checked_div(total).unwrap_or(100);
            if last_percent != Some(percent) {
                last_percent = Some(percent);
                eprint!("\rexported {rows} of {total} rows ({percent}%)");
                let _ = std::io::stderr().flush();
            }
            std::ops::ControlFlow::Continue(())
        })
        .await?;
    eprintln!();
    exported.mark_done(&mut record);
    store.insert_export(&record).await.context("the export is written but could not be recorded in the store")?;
    println!("exported {} rows in {} files to {}", exported.rows, exported.files.len(), exported.dir.display());
    Ok(())
}

/// `srs import DIR`: loads an export directory back into the configured store.
pub async fn import(settings: &Settings, dir: &Path) -> anyhow::Result<()> {
    let store = srs_common::store::open(settings).await.context("cannot open the store")?;
    let imported = srs_exporter::import_export(&store, dir).await.with_context(|| format!("cannot import {}", dir.display()))?;
    println!(
        "imported {} samples from {}: {} stored, {} already in the store; {} metadata records written",
        imported.samples,
        dir.display(),
        imported.stored,
        imported.samples - imported.stored,
        imported.records
    );
    Ok(())
}
