//! Export jobs. The API records a job (`queued`) and puts `export.requested` on the durable work
//! queue; workers take one job at a time each, run the export and acknowledge the job only once
//! it is complete. A crash mid-job hands the job back (the broker redelivers it; on the
//! in-process bus it is re-enqueued from the store at start-up) and the export starts over. A
//! job failing again and again ends `failed` with its error and is dead-lettered; a job that can
//! never succeed (its experiment is gone, its filter no longer fits) fails at once.

use crate::{export_experiment, ExportError, Exported};
use srs_common::bus::{BusError, Event, JobHandler, Worker};
use srs_common::events::{self, ExportCompleted, ExportFailed, ExportProgress, ExportRequested};
use srs_common::model::{ExportRecord, ExportStatus};
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often a running job reports its progress (store record and `export.progress`).
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub struct ExportJobs {
    context: AppContext,
    /// The export directory.
    pub root: PathBuf,
    queue: String,
    /// Fires at shutdown: running exports stop and hand their job back.
    interrupt: CancellationToken,
}

impl ExportJobs {
    pub fn new(context: &AppContext, interrupt: CancellationToken) -> Arc<Self> {
        let settings = &context.settings;
        Arc::new(Self { context: context.clone(), root: settings.exports_dir(), queue: settings.exporter.queue.clone(), interrupt })
    }

    /// Puts the recorded job on the work queue (confirmed by the broker when there is one).
    pub async fn enqueue(&self, record: &ExportRecord) -> Result<(), BusError> {
        let job = events::event(events::EXPORT_REQUESTED, &ExportRequested { export_id: record.id.clone() });
        self.context.bus.enqueue(&self.queue, &[job]).await
    }

    /// Starts `exporter.workers` workers on the queue, and first — when the bus forgets its
    /// queue with the process — re-enqueues every job the store says is unfinished. Workers
    /// stop at shutdown, each after handing back or finishing the job in hand.
    pub fn start(self: &Arc<Self>, background: &Background) {
        let jobs = self.clone();
        let stop = background.token.clone();
        background.spawn(async move {
            if !jobs.context.bus.durable_jobs() {
                jobs.requeue_unfinished().await;
            }
            let mut workers: Vec<Worker> = Vec::new();
            for _ in 0..jobs.context.settings.exporter.workers {
                let runner = jobs.clone();
                let handler: JobHandler = Arc::new(move |job| {
                    let runner = runner.clone();
                    Box::pin(async move { runner.handle(job).await })
                });
                match jobs.context.bus.work(&jobs.queue, handler).await {
                    Ok(worker) => workers.push(worker),
                    Err(error) => tracing::error!(%error, queue = %jobs.queue, "cannot start an export worker"),
                }
            }
            stop.cancelled().await;
            for worker in workers {
                worker.stop().await;
            }
        });
    }

    async fn requeue_unfinished(&self) {
        let records = match self.context.store.list_exports(None).await {
            Ok(records) => records,
            Err(error) => return tracing::error!(%error, "cannot read the unfinished export jobs"),
        };
        // Oldest first, as they were asked for.
        for record in records.iter().rev().filter(|r| !r.status.is_finished()) {
            match self.enqueue(record).await {
                Ok(()) => tracing::info!(export.id = %record.id, "unfinished export job queued again"),
                Err(error) => tracing::error!(export.id = %record.id, %error, "cannot queue an unfinished export job"),
            }
        }
    }

    /// One delivery of a job. `Ok` acknowledges it; `Err` hands it back for redelivery.
    async fn handle(&self, job: Event) -> Result<(), String> {
        let request: ExportRequested = serde_json::from_value(job.payload).map_err(|e| format!("not an export job: {e}"))?;
        let store = &self.context.store;
        let Some(mut record) = store.get_export(&request.export_id).await.map_err(|e| e.to_string())? else {
            tracing::warn!(export.id = %request.export_id, "export job without a record; dropped");
            return Ok(());
        };
        if record.status.is_finished() {
            return Ok(()); // a repeated delivery of a job already finished
        }
        record.attempts += 1;
        record.status = ExportStatus::Running;
        record.rows_written = 0;
        store.update_export(&record).await.map_err(|e| e.to_string())?;
        tracing::info!(export.id = %record.id, experiment.id = %record.experiment_id, attempt = record.attempts, "export started");
        let outcome = self.run(&record).await;
        match outcome {
            None => {
                record.status = ExportStatus::Queued;
                self.save(&record).await;
                Err("interrupted by a shutdown; the job runs again".into())
            }
            Some(Ok(exported)) => self.complete(record, &exported).await,
            Some(Err(error)) => self.fail(record, &error).await,
        }
    }

    /// Runs the export, reporting progress about once a second; `None` if interrupted.
    async fn run(&self, record: &ExportRecord) -> Option<Result<Exported, ExportError>> {
        let (progress, watched) = watch::channel((0u64, 0u64));
        let stop_reporting = CancellationToken::new();
        let reporter = tokio::spawn(report_progress(self.context.clone(), record.clone(), watched, stop_reporting.clone()));
        let (context, filter) = (&self.context, &record.filter);
        let export =
            export_experiment(&context.store, &context.sensors, &self.root, &record.experiment_id, &record.id, filter, |rows, total| {
                progress.send_replace((rows, total));
            });
        let outcome = tokio::select! {
            result = export => Some(result),
            _ = self.interrupt.cancelled() => None,
        };
        // The reporter finishes its write in hand before the final status is written.
        stop_reporting.cancel();
        let _ = reporter.await;
        outcome
    }

    async fn complete(&self, mut record: ExportRecord, exported: &Exported) -> Result<(), String> {
        exported.mark_done(&mut record);
        // Not recorded means not done: the job is handed back and the export made again.
        self.context.store.update_export(&record).await.map_err(|e| format!("cannot record the finished export: {e}"))?;
        tracing::info!(export.id = %record.id, rows = exported.rows, files = exported.files.len(), "export done");
        let bytes = exported.files.iter().map(|f| f.bytes).sum();
        let completed = ExportCompleted {
            export_id: record.id,
            experiment_id: record.experiment_id,
            rows: exported.rows,
            files: exported.files.len(),
            bytes,
        };
        self.publish(events::event(events::EXPORT_COMPLETED, &completed)).await;
        Ok(())
    }

    async fn fail(&self, mut record: ExportRecord, error: &ExportError) -> Result<(), String> {
        let limit = self.context.settings.bus.job_delivery_limit;
        let hopeless = matches!(error, ExportError::UnknownExperiment(_) | ExportError::BadFilter(_));
        if !hopeless && record.attempts < limit {
            record.status = ExportStatus::Queued;
            record.error = Some(format!("attempt {} of {limit} failed: {error}", record.attempts));
            self.save(&record).await;
            tracing::warn!(export.id = %record.id, attempt = record.attempts, %error, "export failed; it runs again");
            // Give a passing problem (a full disk being cleaned up, a store restart) time.
            let backoff = Duration::from_secs(u64::from(record.attempts));
            tokio::select! { _ = tokio::time::sleep(backoff) => {}, _ = self.interrupt.cancelled() => {} }
            return Err(error.to_string());
        }
        record.status = ExportStatus::Failed;
        record.error = Some(if hopeless { error.to_string() } else { format!("failed {} times; last error: {error}", record.attempts) });
        record.finished_at = Some(srs_common::time::now());
        self.save(&record).await;
        tracing::error!(export.id = %record.id, attempts = record.attempts, %error, "export failed");
        let failed = ExportFailed {
            export_id: record.id.clone(),
            experiment_id: record.experiment_id.clone(),
            error: record.error.clone().unwrap_or_default(),
            attempts: record.attempts,
        };
        self.publish(events::event(events::EXPORT_FAILED, &failed)).await;
        // Handing back a job on its last delivery dead-letters it, where an admin can find it;
        // a hopeless one is simply done.
        if hopeless {
            Ok(())
        } else {
            Err(error.to_string())
        }
    }

    async fn save(&self, record: &ExportRecord) {
        if let Err(error) = self.context.store.update_export(record).await {
            tracing::error!(export.id = %record.id, %error, "cannot record the export job's state");
        }
    }

    async fn publish(&self, event: Event) {
        if let Err(error) = self.context.bus.publish(&[event]).await {
            tracing::warn!(%error, "cannot publish an export event");
        }
    }
}

/// Writes the latest progress into the record and publishes `export.progress`, once per
/// [`PROGRESS_EVERY`] while it changes, until `stop`.
async fn report_progress(
    context: AppContext,
    mut record: ExportRecord,
    mut progress: watch::Receiver<(u64, u64)>,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(PROGRESS_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if !progress.has_changed().unwrap_or(false) {
            continue;
        }
        let (rows_written, rows_total) = *progress.borrow_and_update();
        record.rows_written = rows_written;
        record.rows_total = rows_total;
        if let Err(error) = context.store.update_export(&record).await {
            tracing::warn!(export.id = %record.id, %error, "cannot record export progress");
        }
        let event = ExportProgress { export_id: record.id.clone(), experiment_id: record.experiment_id.clone(), rows_written, rows_total };
        if let Err(error) = context.bus.publish(&[events::event(events::EXPORT_PROGRESS, &event)]).await {
            tracing::debug!(%error, "cannot publish export progress");
        }
    }
}
