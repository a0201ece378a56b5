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
        let insert = match store.blocking_sample_insert() {
            Some(insert) => Insert::Blocking(insert),
            None => Insert::Async(store, tokio::runtime::Handle::current()),
        };
        Self::start_with(insert, background, queue_capacity, max_batch_samples)
    }

    fn start_with(insert: Insert, background: &Background, queue_capacity: usize, max_batch_samples: usize) -> Self {
        // The channel itself is unbounded; the semaphore bounds it in samples, not requests.
        let (jobs, receiver) = mpsc::channel();
        let capacity = Arc::new(Semaphore::new(queue_capacity));
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

#[cfg(test)]
mod tests {
    use super::*;
    use srs_common::model::Recording;
    use srs_common::store::SampleFate;
    use std::time::Duration;

    fn door_samples(stamp: &Arc<srs_common::model::RecordingStamp>, from: i64, count: i64) -> Vec<NewSample> {
        (from..from + count)
            .map(|ts| NewSample {
                sensor_id: Arc::from("door-1"),
                sensor_type: Arc::from("door"),
                ts: srs_testkit::lab::DAY_ONE + ts,
                received_at: srs_testkit::lab::DAY_ONE,
                sample_id: None,
                values: r#"{"open": true}"#.into(),
                stamp: Some(stamp.clone()),
            })
            .collect()
    }

    /// A lab store with a running recording of participant 0.
    async fn recording_lab() -> (srs_testkit::lab::Lab, Recording) {
        let lab = srs_testkit::lab::lab().await;
        let recording = lab.start_recording(0).await;
        (lab, recording)
    }

    /// On `Stop` the writer still commits every job queued before it — and any that raced in
    /// while it gathered that batch — then ends instead of waiting for more.
    #[tokio::test]
    async fn the_writer_commits_what_is_queued_around_the_stop_and_ends() {
        let (lab, recording) = recording_lab().await;
        let stamp = Arc::new(recording.stamp());
        let capacity = Arc::new(Semaphore::new(100));
        let (jobs, receiver) = mpsc::channel();
        let mut answers = Vec::new();
        for (from, count) in [(0, 3), (3, 2)] {
            let (reply, answer) = oneshot::channel();
            let permit = capacity.clone().try_acquire_many_owned(count as u32).expect("permit");
            jobs.send(Message::Job(Job { samples: door_samples(&stamp, from, count), _permit: permit, reply })).expect("send");
            if from == 0 {
                jobs.send(Message::Stop).expect("stop");
            }
            answers.push(answer);
        }
        let insert = Insert::Blocking(lab.store.blocking_sample_insert().expect("SQLite inserts blocking"));
        // Returns although `jobs` is still open: after the stop it takes only what is queued.
        write(&insert, &receiver, 1_000);
        for (answer, count) in answers.into_iter().zip([3, 2]) {
            assert_eq!(answer.await.expect("answered").expect("committed").stored_count(), count);
        }
        assert_eq!(capacity.available_permits(), 100, "the queue's capacity is back");
        assert_eq!(lab.store.count_recording_samples(&recording.id).await.expect("count"), 5);
    }

    /// An async store (MongoDB's way: no blocking insert) driven from the writer thread, on a
    /// single-thread runtime as in tests: concurrent requests each get their own fates, a
    /// resent request is answered as duplicates, and once stopped the batcher refuses.
    #[tokio::test]
    async fn an_async_store_commits_from_the_writer_thread_and_refuses_once_stopped() {
        let (lab, recording) = recording_lab().await;
        let stamp = Arc::new(recording.stamp());
        let samples = |from: i64, count: i64| door_samples(&stamp, from, count);
        let background = Background::new();
        let insert = Insert::Async(lab.store.clone(), tokio::runtime::Handle::current());
        let batcher = SampleBatcher::start_with(insert, &background, 10_000, 1_000);
        let (a, b, c) = tokio::join!(batcher.submit(samples(0, 3)), batcher.submit(samples(3, 2)), batcher.submit(samples(0, 1)));
        let fates = |outcome: Result<InsertOutcome, SubmitError>| outcome.expect("committed").fates;
        let (a, b, c) = (fates(a), fates(b), fates(c));
        assert_eq!((a.len(), b.len(), c.len()), (3, 2, 1), "each request gets the fates of its own samples");
        assert_eq!(
            [&a[..], &b[..], &c[..]].concat().iter().filter(|fate| **fate == SampleFate::Stored).count(),
            5,
            "the first sample, sent twice, is stored once: {a:?} {b:?} {c:?}"
        );
        assert_eq!(fates(batcher.submit(samples(0, 5)).await), vec![SampleFate::Duplicate; 5]);

        // Stopping ends the writer thread (the stop waits for it); later requests are refused
        // as closed, not left waiting.
        background.stop(Duration::from_secs(10)).await;
        assert!(matches!(batcher.submit(samples(9, 1)).await, Err(SubmitError::Closed)), "the writer has ended");
        assert_eq!(lab.store.count_recording_samples(&recording.id).await.expect("count"), 5);
    }
}
