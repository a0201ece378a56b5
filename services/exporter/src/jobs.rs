//! Export jobs. The API records a job (`queued`) and puts `export.requested` on the durable work
//! queue; workers take one job at a time each and acknowledge it only once it is complete.
//! Each delivery first claims the job in the store (one attempt at a time, under a lease it
//! renews every second), so a redelivered copy of a job still running is dropped and two
//! attempts never share files. A crash mid-job hands the job back (the broker redelivers it; on
//! the in-process bus it is re-enqueued from the store at start-up; the reconciler queues it
//! again once the dead attempt's lease lapses) and the export starts over. A job failing again
//! and again ends `failed` with its error and is dead-lettered; a job that can never succeed
//! (its experiment is gone, its filter no longer fits) fails at once.

use crate::settings::ExporterSettings;
use crate::{export_experiment, ExportError, Exported};
use srs_common::bus::{BusError, Event, JobHandler, Worker};
use srs_common::events::{self, ExportCompleted, ExportFailed, ExportProgress, ExportRequested};
use srs_common::model::{new_id, ClaimRequest, ExportClaim, ExportRecord, ExportStatus};
use srs_common::settings::SettingsError;
use srs_common::shutdown::Background;
use srs_common::store::StoreError;
use srs_common::AppContext;
use std::ops::ControlFlow;
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
    settings: ExporterSettings,
    /// Fires at shutdown: running exports stop and hand their job back.
    interrupt: CancellationToken,
}

impl ExportJobs {
    pub fn new(context: &AppContext, interrupt: CancellationToken) -> Result<Arc<Self>, SettingsError> {
        let settings = ExporterSettings::from_settings(&context.settings)?;
        let root = settings.exports_dir(&context.settings.data.dir);
        Ok(Arc::new(Self { context: context.clone(), root, settings, interrupt }))
    }

    /// Puts the recorded job on the work queue (confirmed by the broker when there is one).
    pub async fn enqueue(&self, record: &ExportRecord) -> Result<(), BusError> {
        let job = events::event(events::EXPORT_REQUESTED, &ExportRequested { export_id: record.id.clone() });
        self.context.bus.enqueue(&self.settings.queue, &[job]).await
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
            for _ in 0..jobs.settings.workers {
                let runner = jobs.clone();
                let handler: JobHandler = Arc::new(move |job| {
                    let runner = runner.clone();
                    Box::pin(async move { runner.handle(job).await })
                });
                match jobs.context.bus.work(&jobs.settings.queue, handler).await {
                    Ok(worker) => workers.push(worker),
                    Err(error) => tracing::error!(%error, queue = %jobs.settings.queue, "cannot start an export worker"),
                }
            }
            let mut reconcile = tokio::time::interval(Duration::from_secs(jobs.settings.reconcile_secs));
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = reconcile.tick() => jobs.reconcile().await,
                }
            }
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
        let owner = new_id();
        let record = match self.claim(&request.export_id, &owner).await {
            Ok(ExportClaim::Claimed(record)) => record,
            Ok(ExportClaim::Finished(_)) => return Ok(()), // a repeated delivery of a finished job
            Ok(ExportClaim::Busy) => {
                // Another worker runs it (the broker redelivered a job still in hand). That
                // worker finishes it; should it die, its lease lapses and the reconciler
                // queues the job again.
                tracing::info!(export.id = %request.export_id, "export job already running elsewhere; this delivery is dropped");
                return Ok(());
            }
            Err(StoreError::NotFound(_)) => {
                tracing::warn!(export.id = %request.export_id, "export job without a record; dropped");
                return Ok(());
            }
            Err(error) => return Err(error.to_string()),
        };
        tracing::info!(export.id = %record.id, experiment.id = %record.experiment_id, attempt = record.attempts, "export started");
        let claimed = Claimed { record, owner };
        match self.run(&claimed).await {
            Outcome::Interrupted => {
                let mut record = claimed.record.clone();
                record.status = ExportStatus::Queued;
                let _ = self.save(&record, &claimed.owner).await;
                Err("interrupted by a shutdown; the job runs again".into())
            }
            Outcome::LostClaim => {
                tracing::warn!(export.id = %claimed.record.id, "another attempt took the export over; this one stopped");
                Ok(())
            }
            Outcome::Done(Ok(exported)) => self.complete(claimed, &exported).await,
            Outcome::Done(Err(error)) => self.fail(claimed, &error).await,
        }
    }

    async fn claim(&self, export_id: &str, owner: &str) -> Result<ExportClaim, StoreError> {
        let now = srs_common::time::now_ns();
        let lease = self.lease().as_nanos() as i64;
        let request = ClaimRequest { export_id: export_id.to_owned(), owner: owner.to_owned(), now_ns: now, lease_until_ns: now + lease };
        self.context.store.claim_export(&request).await
    }

    fn lease(&self) -> Duration {
        Duration::from_secs(self.settings.lease_secs)
    }

    /// Runs the export, renewing the claim and reporting progress about once a second. A
    /// shutdown or a lost claim stops it after the chunk in hand, its partial files removed.
    async fn run(&self, claimed: &Claimed) -> Outcome {
        let (progress, watched) = watch::channel((0u64, 0u64));
        let stop_reporting = CancellationToken::new();
        let lost = CancellationToken::new();
        let reporter = tokio::spawn(report_progress(
            self.context.clone(),
            claimed.clone(),
            self.lease(),
            watched,
            stop_reporting.clone(),
            lost.clone(),
        ));
        let (context, record) = (&self.context, &claimed.record);
        let result = export_experiment(
            &context.store,
            &context.sensors,
            &self.root,
            &record.experiment_id,
            (&record.id, &claimed.owner),
            &record.filter,
            |rows, total| {
                progress.send_replace((rows, total));
                if self.interrupt.is_cancelled() || lost.is_cancelled() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .await;
        // The reporter finishes its write in hand before the final status is written.
        stop_reporting.cancel();
        let _ = reporter.await;
        match result {
            _ if lost.is_cancelled() => Outcome::LostClaim,
            Err(ExportError::Stopped) => Outcome::Interrupted,
            result => Outcome::Done(result),
        }
    }

    /// Finds jobs that no worker will finish and settles them: a job whose worker died (its
    /// lease lapsed) is queued again, or failed once it used up its attempts — the broker
    /// dead-letters a job whose worker dies on every delivery without anyone recording why.
    /// (Dead letters themselves stay in their queue for an admin to look at.)
    async fn reconcile(&self) {
        let limit = self.context.settings.bus.job_delivery_limit;
        let running = match self.context.store.list_running_exports().await {
            Ok(records) => records,
            Err(error) => return tracing::warn!(%error, "cannot look for abandoned export jobs"),
        };
        let now = srs_common::time::now_ns();
        for record in running.iter().filter(|r| r.lease_until_ns.is_none_or(|until| until < now)) {
            // Taking the job over is the store's decision, like any claim: if its worker came
            // back to life (or another reconciler was first), this is `Busy` and changes nothing.
            // The reconciler's own lease ends at once, so a worker may claim the job right away.
            let owner = format!("reconciler-{}", new_id());
            let request = ClaimRequest { export_id: record.id.clone(), owner: owner.clone(), now_ns: now, lease_until_ns: now };
            let Ok(ExportClaim::Claimed(mut taken)) = self.context.store.claim_export(&request).await else { continue };
            // Taking over is not an attempt. Say so before the job can reach a worker: once it
            // is queued, a worker's claim counts its own attempt on top of the stored number.
            taken.attempts -= 1;
            let claimed = Claimed { record: taken, owner };
            if !self.save(&claimed.record, &claimed.owner).await {
                continue;
            }
            if claimed.record.attempts >= limit {
                let why = format!("its worker stopped during each of {} attempts", claimed.record.attempts);
                let _ = self.finish_failed(claimed, &ExportError::Abandoned(why), false).await;
            } else {
                self.requeue(claimed).await;
            }
        }
    }

    /// Puts a job taken over from a dead worker back on the queue. The message goes first: if
    /// it cannot be sent the job stays `running` under a lapsed lease and the next round tries
    /// again; once sent, the record says `queued`, so later rounds leave it alone.
    async fn requeue(&self, claimed: Claimed) {
        let Claimed { mut record, owner } = claimed;
        if let Err(error) = self.enqueue(&record).await {
            return tracing::warn!(export.id = %record.id, %error, "cannot queue an abandoned export job again");
        }
        record.status = ExportStatus::Queued;
        record.owner = None;
        record.lease_until_ns = None;
        // A conflict means a worker already claimed the new message: nothing more to do.
        if self.save(&record, &owner).await {
            tracing::warn!(export.id = %record.id, attempt = record.attempts, "export job abandoned by its worker; queued again");
        }
    }

    async fn complete(&self, claimed: Claimed, exported: &Exported) -> Result<(), String> {
        let Claimed { mut record, owner } = claimed;
        exported.mark_done(&mut record);
        match self.context.store.update_claimed_export(&record, &owner).await {
            Ok(()) => {}
            // Another attempt owns the job now; it writes the export again and records it.
            Err(StoreError::Conflict(_)) => return Ok(()),
            // Not recorded means not done: the job is handed back and the export made again.
            Err(error) => return Err(format!("cannot record the finished export: {error}")),
        }
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

    async fn fail(&self, claimed: Claimed, error: &ExportError) -> Result<(), String> {
        let limit = self.context.settings.bus.job_delivery_limit;
        let hopeless = matches!(error, ExportError::UnknownExperiment(_) | ExportError::BadFilter(_));
        let attempts = claimed.record.attempts;
        if !hopeless && attempts < limit {
            let mut record = claimed.record.clone();
            record.status = ExportStatus::Queued;
            record.error = Some(format!("attempt {attempts} of {limit} failed: {error}"));
            let _ = self.save(&record, &claimed.owner).await;
            tracing::warn!(export.id = %record.id, attempt = attempts, %error, "export failed; it runs again");
            // Give a passing problem (a full disk being cleaned up, a store restart) time.
            let backoff = Duration::from_secs(u64::from(attempts));
            tokio::select! { _ = tokio::time::sleep(backoff) => {}, _ = self.interrupt.cancelled() => {} }
            return Err(error.to_string());
        }
        self.finish_failed(claimed, error, !hopeless).await
    }

    /// Records the job as failed for good and says so on the bus. `hand_back`: answer `Err`, so
    /// the broker dead-letters the job on its last delivery, where an admin can find it.
    async fn finish_failed(&self, claimed: Claimed, error: &ExportError, hand_back: bool) -> Result<(), String> {
        let Claimed { mut record, owner } = claimed;
        record.status = ExportStatus::Failed;
        record.error = Some(match error {
            ExportError::UnknownExperiment(_) | ExportError::BadFilter(_) | ExportError::Abandoned(_) => error.to_string(),
            _ => format!("failed {} times; last error: {error}", record.attempts),
        });
        record.finished_at = Some(srs_common::time::now());
        if !self.save(&record, &owner).await {
            // Another attempt holds the job now: its outcome is the one to report.
            return Ok(());
        }
        tracing::error!(export.id = %record.id, attempts = record.attempts, %error, "export failed");
        let failed = ExportFailed {
            export_id: record.id.clone(),
            experiment_id: record.experiment_id.clone(),
            error: record.error.clone().unwrap_or_default(),
            attempts: record.attempts,
        };
        self.publish(events::event(events::EXPORT_FAILED, &failed)).await;
        if hand_back {
            Err(error.to_string())
        } else {
            Ok(())
        }
    }

    /// Writes the record while `owner` holds the job; false if it was not written.
    async fn save(&self, record: &ExportRecord, owner: &str) -> bool {
        match self.context.store.update_claimed_export(record, owner).await {
            Ok(()) => true,
            Err(StoreError::Conflict(_)) => {
                tracing::info!(export.id = %record.id, "another attempt holds the export job now; this one's state is not recorded");
                false
            }
            Err(error) => {
                tracing::error!(export.id = %record.id, %error, "cannot record the export job's state");
                false
            }
        }
    }

    async fn publish(&self, event: Event) {
        if let Err(error) = self.context.bus.publish(&[event]).await {
            tracing::warn!(%error, "cannot publish an export event");
        }
    }
}

/// A job this worker holds: the record as claimed and the attempt's owner id.
#[derive(Clone)]
struct Claimed {
    record: ExportRecord,
    owner: String,
}

enum Outcome {
    Done(Result<Exported, ExportError>),
    Interrupted,
    /// Another attempt claimed the job (this one's lease lapsed): stop without a word.
    LostClaim,
}

/// Once per [`PROGRESS_EVERY`]: renews the claim with the latest progress and publishes
/// `export.progress`, until `stop`. Fires `lost` when the claim is gone (another attempt holds
/// the job): the export must stop at once.
async fn report_progress(
    context: AppContext,
    claimed: Claimed,
    lease: Duration,
    mut progress: watch::Receiver<(u64, u64)>,
    stop: CancellationToken,
    lost: CancellationToken,
) {
    let Claimed { mut record, owner } = claimed;
    let mut ticks = tokio::time::interval(PROGRESS_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let changed = progress.has_changed().unwrap_or(false);
        let (rows_written, rows_total) = *progress.borrow_and_update();
        record.rows_written = rows_written;
        record.rows_total = rows_total;
        record.lease_until_ns = Some(srs_common::time::now_ns() + lease.as_nanos() as i64);
        match context.store.update_claimed_export(&record, &owner).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return lost.cancel(),
            Err(error) => tracing::warn!(export.id = %record.id, %error, "cannot renew the export's claim"),
        }
        if !changed {
            continue;
        }
        let event = ExportProgress { export_id: record.id.clone(), experiment_id: record.experiment_id.clone(), rows_written, rows_total };
        if let Err(error) = context.bus.publish(&[events::event(events::EXPORT_PROGRESS, &event)]).await {
            tracing::debug!(%error, "cannot publish export progress");
        }
    }
}
