//! Publishing lifecycle events. They are published after the store committed the change, with
//! publisher confirms. If the bus is down the change still stands and the caller is answered:
//! consumers re-read the store when they reconnect, so a lost notification cannot leave them
//! with a wrong recording context.

use serde::Serialize;
use srs_common::AppContext;

pub async fn publish<T: Serialize>(context: &AppContext, kind: &str, payload: &T) {
    let event = srs_common::events::event(kind, payload);
    if let Err(error) = context.bus.publish(std::slice::from_ref(&event)).await {
        tracing::error!(event.type = kind, %error, "event not published; consumers re-read the store when the bus returns");
    }
}
