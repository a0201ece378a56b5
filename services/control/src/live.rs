//! The operators' live feed: one hub per replica hands every frame to every live socket's own
//! small queue without waiting for any of them. When a queue is full, its oldest activity (or
//! values) frame makes room and the next frame the client gets says how many it lost
//! (`dropped`); lifecycle events are never dropped this way — a client so far behind that its
//! queue holds nothing else is closed. A stalled client thus costs the others, ingest and the
//! bus nothing. A frame is encoded once, however many clients get it.

use bytestring::ByteString;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Frames a client may have waiting.
pub const QUEUE_FRAMES: usize = 64;

/// A frame for live sockets: its JSON text (an object, encoded once and shared by every client
/// without a copy), and whether it may be dropped for a slow client.
#[derive(Debug, Clone)]
pub struct Frame {
    pub text: ByteString,
    pub droppable: bool,
}

/// One client's queue.
#[derive(Default)]
pub struct ClientQueue {
    state: Mutex<QueueState>,
    ready: Notify,
}

#[derive(Default)]
struct QueueState {
    frames: VecDeque<Frame>,
    /// Frames lost since the client last got one.
    dropped: u64,
    /// The client fell so far behind that only events wait; it is to be closed.
    overrun: bool,
}

/// What a client's writer gets next.
pub enum Next {
    Frame(ByteString),
    /// Close it: it could not keep up even with the events.
    Overrun,
}

impl ClientQueue {
    pub fn push(&self, frame: Frame) {
        {
            let mut state = self.lock();
            if state.frames.len() >= QUEUE_FRAMES {
                match state.frames.iter().position(|f| f.droppable) {
                    Some(oldest) => {
                        state.frames.remove(oldest);
                        state.dropped += 1;
                        crate::metrics::dropped_frames().inc();
                    }
                    None if frame.droppable => {
                        state.dropped += 1;
                        crate::metrics::dropped_frames().inc();
                        return;
                    }
                    None => state.overrun = true,
                }
            }
            state.frames.push_back(frame);
        }
        self.ready.notify_one();
    }

    /// The next frame as text (with `dropped` when frames were lost before it), waiting for one.
    pub async fn next(&self) -> Next {
        loop {
            {
                let mut state = self.lock();
                if state.overrun {
                    return Next::Overrun;
                }
                if let Some(frame) = state.frames.pop_front() {
                    if state.dropped > 0 {
                        let dropped = std::mem::take(&mut state.dropped);
                        // Every frame is a JSON object: `{"dropped":n,` + the rest of it.
                        return Next::Frame(format!("{{\"dropped\":{dropped},{}", frame.text.get(1..).unwrap_or_default()).into());
                    }
                    return Next::Frame(frame.text);
                }
            }
            self.ready.notified().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Every live socket of this replica.
#[derive(Default)]
pub struct Hub {
    clients: Mutex<HashMap<u64, Arc<ClientQueue>>>,
    next_client: AtomicU64,
}

impl Hub {
    pub fn join(&self) -> (u64, Arc<ClientQueue>) {
        let id = self.next_client.fetch_add(1, Ordering::Relaxed);
        let queue = Arc::new(ClientQueue::default());
        self.lock().insert(id, queue.clone());
        (id, queue)
    }

    pub fn leave(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Hands `frame` to every client; never waits for one.
    pub fn broadcast(&self, frame: &Frame) {
        let clients: Vec<Arc<ClientQueue>> = self.lock().values().cloned().collect();
        for client in clients {
            client.push(frame.clone());
        }
    }

    /// Hands `frame` to the clients `ids` (those still here); never waits for one.
    pub fn send_to<'a>(&self, ids: impl IntoIterator<Item = &'a u64>, frame: &Frame) {
        let clients: Vec<Arc<ClientQueue>> = {
            let clients = self.lock();
            ids.into_iter().filter_map(|id| clients.get(id).cloned()).collect()
        };
        for client in clients {
            client.push(frame.clone());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ClientQueue>>> {
        self.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A frame of `kind` with `payload`'s fields.
pub fn frame(kind: &str, payload: Value, droppable: bool) -> Frame {
    let mut body = match payload {
        Value::Object(fields) => fields,
        other => serde_json::Map::from_iter([("payload".to_owned(), other)]),
    };
    body.insert("type".into(), Value::from(kind));
    Frame { text: Value::Object(body).to_string().into(), droppable }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(next: Next) -> Value {
        match next {
            Next::Frame(text) => serde_json::from_str(&text).expect("json"),
            Next::Overrun => panic!("overrun"),
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_its_oldest_activity_and_says_so() {
        let queue = ClientQueue::default();
        queue.push(frame("recording_started", serde_json::json!({"recording_id": "r"}), false));
        for second in 0..QUEUE_FRAMES + 9 {
            queue.push(frame("activity", serde_json::json!({"at": second}), true));
        }
        // The event survived; the oldest ten activity frames made room.
        let first = text(queue.next().await);
        assert_eq!((first["type"].as_str(), first["dropped"].as_u64()), (Some("recording_started"), Some(10)));
        let second = text(queue.next().await);
        assert_eq!((second["at"].as_u64(), second.get("dropped")), (Some(10), None));
    }

    #[tokio::test]
    async fn a_queue_full_of_events_closes_the_client() {
        let queue = ClientQueue::default();
        for i in 0..=QUEUE_FRAMES {
            queue.push(frame("device_connected", serde_json::json!({"i": i}), false));
        }
        assert!(matches!(queue.next().await, Next::Overrun));
    }
}
