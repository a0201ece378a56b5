//! `SampleBatcher`: group commit. Requests hand their validated samples to a bounded queue and
//! wait; one writer takes everything queued (up to `max_batch_samples`), commits it in one
//! transaction, and answers each request with its own part of the outcome. While one commit
//! runs the next batch gathers, so the commit rate adapts to the load without a timer, and a
//! request is answered only once its samples are durable.

use crate::metrics;
use srs_common::model::NewSample;
use srs_common::shutdown::Background;
use srs_common::store::{DynStore, InsertOutcome, StoreError};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

/// Why samples were not committed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the ingest queue is full")]
    QueueFull,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ingest is shutting down")]
    Closed,
}

struct Job {
    samples: Vec<NewSample>,
    /// Holds the job's share of the queue capacity until it is committed.
    _permit: OwnedSemaphorePermit,
    reply: oneshot::Sender<Result<InsertOutcome, StoreError>>,
}

#[derive(Clone)]
pub struct SampleBatcher {
    jobs: mpsc::UnboundedSender<Job>,
    capacity: Arc<Semaphore>,
}

impl SampleBatcher {
    /// Starts the writer on `background`; it commits what is queued when told to stop.
    pub fn start(store: DynStore, background: &Background, queue_capacity: usize, max_batch_samples: usize) -> Self {
        // The channel itself is unbounded; the semaphore bounds it in samples, not requests.
        let (jobs, receiver) = mpsc::unbounded_channel();
        let capacity = Arc::new(Semaphore::new(queue_capacity));
        background.spawn(write(store, receiver, max_batch_samples, background.token.clone()));
        Self { jobs, capacity }
    }

    /// Queues `samples` and waits until they are committed: what became of each, and the
    /// recording that ran at commit.
    pub async fn submit(&self, samples: Vec<NewSample>) -> Result<InsertOutcome, SubmitError> {
        if samples.is_empty() {
            return Ok(InsertOutcome::default());
        }
        let count = u32::try_from(samples.len()).map_err(|_| SubmitError::QueueFull)?;
        let permit = self.capacity.clone().try_acquire_many_owned(count).map_err(|_| SubmitError::QueueFull)?;
        metrics::queue_depth().add(i64::from(count));
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { samples, _permit: permit, reply }).map_err(|_| SubmitError::Closed)?;
        Ok(answer.await.map_err(|_| SubmitError::Closed)??)
    }
}

async fn write(store: DynStore, mut receiver: mpsc::UnboundedReceiver<Job>, max_batch: usize, stop: tokio_util::sync::CancellationToken) {
    loop {
        let first = tokio::select! {
            job = receiver.recv() => job,
            // On shutdown, stop taking new work only once the queue is empty: everything a
            // request is waiting for still gets committed.
            () = stop.cancelled() => receiver.try_recv().ok(),
        };
        let Some(first) = first else { return };
        let mut jobs = vec![first];
        let mut queued = jobs[0].samples.len();
        while queued < max_batch {
            match receiver.try_recv() {
                Ok(job) => {
                    queued += job.samples.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        commit(&store, jobs, queued).await;
    }
}

async fn commit(store: &DynStore, jobs: Vec<Job>, count: usize) {
    let mut batch = Vec::with_capacity(count);
    let mut waiting = Vec::with_capacity(jobs.len());
    for job in jobs {
        waiting.push((job.samples.len(), job.reply, job._permit));
        batch.extend(job.samples);
    }
    let started = Instant::now();
    let result = store.insert_samples(batch).await;
    metrics::commit_seconds().observe(started.elapsed().as_secs_f64());
    metrics::batch_size().observe(count as f64);
    metrics::queue_depth().sub(i64::try_from(count).unwrap_or(i64::MAX));
    match result {
        Ok(outcome) => {
            let mut fates = outcome.fates.into_iter();
            for (len, reply, _permit) in waiting {
                let part = InsertOutcome { fates: fates.by_ref().take(len).collect(), recording_id: outcome.recording_id.clone() };
                let _ = reply.send(Ok(part));
            }
        }
        Err(error) => {
            tracing::error!(%error, samples = count, "sample batch not committed");
            for (_, reply, _permit) in waiting {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
