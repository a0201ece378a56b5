//! `SampleBatcher`: group commit. Requests hand their validated samples to a bounded queue and
//! wait; one writer takes everything queued (up to `max_batch_samples`), commits it in one
//! transaction, and answers each request with its own part of the outcome. While one commit
//! runs the next batch gathers, so the commit rate adapts to the load without a timer, and a
//! request is answered only once its samples are durable.
//!
//! The writer is a thread of its own. With SQLite, whose commit blocks a thread anyway, it
//! commits on that thread directly: one sample per request makes thousands of small commits a
//! second, and a hop from a runtime task to the blocking pool and back for each cost more CPU
//! than the commit's own work. An async store (MongoDB) is driven from the same thread.

use crate::metrics;
use srs_common::model::NewSample;
use srs_common::shutdown::Background;
use srs_common::store::{BlockingSampleInsert, DynStore, InsertOutcome, StoreError, StoreResult};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

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

enum Message {
    Job(Job),
    /// Shutdown: commit what is queued, then end.
    Stop,
}

#[derive(Clone)]
pub struct SampleBatcher {
    jobs: mpsc::Sender<Message>,
    capacity: Arc<Semaphore>,
}

/// How the writer thread commits a batch.
enum Insert {
    Blocking(BlockingSampleInsert),
    Async(DynStore, tokio::runtime::Handle),
}

impl Insert {
    /// Commits `batch`. A panic fails this batch only (as a task on the blocking pool would):
    /// the writer thread goes on with the next one.
    fn run(&self, batch: Vec<NewSample>) -> StoreResult<InsertOutcome> {
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match self {
            Insert::Blocking(insert) => insert(batch),
            Insert::Async(store, runtime) => runtime.block_on(store.insert_samples(batch)),
        }));
        attempt.unwrap_or_else(|_| Err(StoreError::Internal("the sample insert panicked".into())))
    }
}

impl SampleBatcher {
    /// Starts the writer thread (tracked by `background` until it ends); it commits what is
    /// queued when told to stop. Called inside the async runtime.
    pub fn start(store: DynStore, background: &Background, queue_capacity: usize, max_batch_samples: usize) -> Self {
        // The channel itself is unbounded; the semaphore bounds it in samples, not requests.
        let (jobs, receiver) = mpsc::channel();
        let capacity = Arc::new(Semaphore::new(queue_capacity));
        let insert = match store.blocking_sample_insert() {
            Some(insert) => Insert::Blocking(insert),
            None => Insert::Async(store, tokio::runtime::Handle::current()),
        };
        let (ended, writer_ended) = oneshot::channel::<()>();
        let spawned = std::thread::Builder::new().name("sample-writer".into()).spawn(move || {
            write(&insert, &receiver, max_batch_samples);
            let _ = ended.send(());
        });
        match spawned {
            Ok(_) => {
                let (stop, token) = (jobs.clone(), background.token.clone());
                background.spawn(async move {
                    token.cancelled().await;
                    let _ = stop.send(Message::Stop);
                    let _ = writer_ended.await;
                });
            }
            // Without a writer every submit answers `Closed` (503): ingest refuses, loses nothing.
            Err(error) => tracing::error!(%error, "cannot start the sample writer thread"),
        }
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
        self.jobs.send(Message::Job(Job { samples, _permit: permit, reply })).map_err(|_| SubmitError::Closed)?;
        Ok(answer.await.map_err(|_| SubmitError::Closed)??)
    }
}

/// The writer thread: batch after batch until `Stop`, then what was queued before it.
fn write(insert: &Insert, receiver: &mpsc::Receiver<Message>, max_batch: usize) {
    let mut stopping = false;
    loop {
        let first = if stopping { receiver.try_recv().ok() } else { receiver.recv().ok() };
        let first = match first {
            Some(Message::Job(job)) => job,
            Some(Message::Stop) => {
                stopping = true;
                continue;
            }
            None => return,
        };
        let mut jobs = vec![first];
        let mut queued = jobs[0].samples.len();
        while queued < max_batch {
            match receiver.try_recv() {
                Ok(Message::Job(job)) => {
                    queued += job.samples.len();
                    jobs.push(job);
                }
                Ok(Message::Stop) => stopping = true,
                Err(_) => break,
            }
        }
        commit(insert, jobs, queued);
    }
}

fn commit(insert: &Insert, jobs: Vec<Job>, count: usize) {
    let mut batch = Vec::with_capacity(count);
    let mut waiting = Vec::with_capacity(jobs.len());
    for job in jobs {
        waiting.push((job.samples.len(), job.reply, job._permit));
        batch.extend(job.samples);
    }
    let started = Instant::now();
    let result = insert.run(batch);
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
