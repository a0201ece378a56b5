//! The in-process bus: same semantics as the AMQP one (confirmed publish, per-subscriber
//! fan-out, work queues with redelivery and dead-lettering), for the all-in-one binary.

use super::{Bus, BusError, Event, JobHandler, Subscription, Worker, LIVE_BUFFER, SUBSCRIPTION_BUFFER};
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

pub struct MemoryBus {
    shared: Arc<Shared>,
}

struct Shared {
    delivery_limit: u32,
    subscribers: Mutex<Vec<Subscriber>>,
    queues: Mutex<HashMap<String, Arc<JobQueue>>>,
    /// Work queues bound to the event stream (`consume`), by name, with their patterns.
    bindings: Mutex<HashMap<String, Arc<[String]>>>,
    closed: CancellationToken,
}

struct Subscriber {
    /// On the transient stream: a full buffer drops the message instead of waiting.
    live: bool,
    patterns: Arc<[String]>,
    sender: mpsc::Sender<Event>,
    cancel: CancellationToken,
}

/// A subscriber's patterns and where its events go.
type Target = (Arc<[String]>, mpsc::Sender<Event>);

#[derive(Default)]
struct JobQueue {
    /// Jobs with how many times they were handed out already.
    ready: Mutex<VecDeque<(Event, u32)>>,
    dead: Mutex<VecDeque<Event>>,
    notify: Notify,
}

impl MemoryBus {
    pub fn new(delivery_limit: u32) -> Self {
        let shared = Shared {
            delivery_limit: delivery_limit.max(1),
            subscribers: Mutex::default(),
            queues: Mutex::default(),
            bindings: Mutex::default(),
            closed: CancellationToken::new(),
        };
        Self { shared: Arc::new(shared) }
    }

    /// A snapshot of the subscribers of one stream (cheap `Arc` clones), so no lock is held
    /// while sending.
    fn targets(&self, live: bool) -> Result<Vec<Target>, BusError> {
        let mut subscribers = self.shared.subscribers.lock().map_err(|_| poisoned())?;
        subscribers.retain(|s| !s.cancel.is_cancelled() && !s.sender.is_closed());
        Ok(subscribers.iter().filter(|s| s.live == live).map(|s| (s.patterns.clone(), s.sender.clone())).collect())
    }

    fn add_subscriber(&self, patterns: &[&str], live: bool, buffer: usize) -> Result<Subscription, BusError> {
        let (sender, receiver) = mpsc::channel(buffer);
        let cancel = self.shared.closed.child_token();
        let patterns: Arc<[String]> = patterns.iter().map(|p| p.to_string()).collect();
        self.shared.subscribers.lock().map_err(|_| poisoned())?.push(Subscriber { live, patterns, sender, cancel: cancel.clone() });
        Ok(Subscription::new(receiver, cancel))
    }

    fn queue(&self, name: &str) -> Result<Arc<JobQueue>, BusError> {
        let mut queues = self.shared.queues.lock().map_err(|_| poisoned())?;
        Ok(queues.entry(name.to_owned()).or_default().clone())
    }

    /// The bound work queues `event` goes to.
    fn bound_queues(&self, event: &Event) -> Result<Vec<String>, BusError> {
        let bindings = self.shared.bindings.lock().map_err(|_| poisoned())?;
        Ok(bindings.iter().filter(|(_, patterns)| patterns.iter().any(|p| event.matches(p))).map(|(queue, _)| queue.clone()).collect())
    }
}

fn poisoned() -> BusError {
    BusError::Internal("bus lock poisoned".into())
}

#[async_trait]
impl Bus for MemoryBus {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn durable_jobs(&self) -> bool {
        false
    }

    fn is_ready(&self) -> bool {
        !self.shared.closed.is_cancelled()
    }

    async fn publish(&self, events: &[Event]) -> Result<(), BusError> {
        for event in events {
            for queue in self.bound_queues(event)? {
                self.enqueue(&queue, std::slice::from_ref(event)).await?;
            }
            for (patterns, sender) in &self.targets(false)? {
                if patterns.iter().any(|p| event.matches(p)) {
                    // A full buffer makes the publisher wait, like broker flow control; a
                    // dropped subscription is simply skipped.
                    let _ = sender.send(event.clone()).await;
                }
            }
        }
        Ok(())
    }

    async fn subscribe(&self, patterns: &[&str]) -> Result<Subscription, BusError> {
        self.add_subscriber(patterns, false, SUBSCRIPTION_BUFFER)
    }

    async fn publish_live(&self, events: &[Event]) -> Result<(), BusError> {
        for event in events {
            for (patterns, sender) in &self.targets(true)? {
                if patterns.iter().any(|p| event.matches(p)) {
                    let _ = sender.try_send(event.clone());
                }
            }
        }
        Ok(())
    }

    async fn subscribe_live(&self, patterns: &[&str]) -> Result<Subscription, BusError> {
        self.add_subscriber(patterns, true, LIVE_BUFFER)
    }

    async fn enqueue(&self, queue: &str, jobs: &[Event]) -> Result<(), BusError> {
        let queue = self.queue(queue)?;
        queue.ready.lock().map_err(|_| poisoned())?.extend(jobs.iter().map(|job| (job.clone(), 0)));
        queue.notify.notify_waiters();
        queue.notify.notify_one();
        Ok(())
    }

    async fn work(&self, queue: &str, handler: JobHandler) -> Result<Worker, BusError> {
        let jobs = self.queue(queue)?;
        let cancel = self.shared.closed.child_token();
        let limit = self.shared.delivery_limit;
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            loop {
                let next = jobs.ready.lock().ok().and_then(|mut ready| ready.pop_front());
                let Some((job, handed_out)) = next else {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = jobs.notify.notified() => continue,
                    }
                };
                let attempts = handed_out + 1;
                if let Err(error) = handler(job.clone()).await {
                    tracing::warn!(job.id = %job.id, job.type = %job.kind, attempts, %error, "job failed");
                    if attempts >= limit {
                        if let Ok(mut dead) = jobs.dead.lock() {
                            dead.push_back(job);
                        }
                    } else if let Ok(mut ready) = jobs.ready.lock() {
                        ready.push_back((job, attempts));
                    }
                }
                if stop.is_cancelled() {
                    return;
                }
            }
        });
        Ok(Worker::new(cancel, task))
    }

    async fn consume(&self, queue: &str, patterns: &[&str], handler: JobHandler) -> Result<Worker, BusError> {
        let patterns: Arc<[String]> = patterns.iter().map(|p| p.to_string()).collect();
        self.shared.bindings.lock().map_err(|_| poisoned())?.insert(queue.to_owned(), patterns);
        self.work(queue, handler).await
    }

    async fn take_dead_letters(&self, queue: &str, max: usize) -> Result<Vec<Event>, BusError> {
        let queue = self.queue(queue)?;
        let mut dead = queue.dead.lock().map_err(|_| poisoned())?;
        let count = max.min(dead.len());
        Ok(dead.drain(..count).collect())
    }

    async fn close(&self) {
        self.shared.closed.cancel();
        if let Ok(mut subscribers) = self.shared.subscribers.lock() {
            subscribers.clear();
        }
    }
}
