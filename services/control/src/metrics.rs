//! Control metrics on `/metrics`: device sockets this replica holds, live sockets open, frames
//! dropped for slow clients, and live value buckets that came too late to be shown.

use prometheus::{IntCounter, IntGauge};
use srs_common::metrics::register;
use std::sync::LazyLock;

// The options are constants: a bad one is a programming error every test would catch.
#[allow(clippy::unwrap_used)]
static DEVICES_CONNECTED: LazyLock<IntGauge> =
    LazyLock::new(|| register(IntGauge::new("srs_devices_connected", "Device sockets this replica holds").unwrap()));
#[allow(clippy::unwrap_used)]
static LIVE_CLIENTS: LazyLock<IntGauge> = LazyLock::new(|| register(IntGauge::new("srs_live_clients", "Live sockets open").unwrap()));
#[allow(clippy::unwrap_used)]
static DROPPED_FRAMES: LazyLock<IntCounter> = LazyLock::new(|| {
    register(IntCounter::new("srs_live_dropped_frames_total", "Activity and values frames dropped for clients that lag").unwrap())
});
#[allow(clippy::unwrap_used)]
static LATE_BUCKETS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(IntCounter::new("srs_live_late_buckets_total", "Live value buckets that arrived after their bucket was sent").unwrap())
});

pub fn init() {
    let _ = (&*DEVICES_CONNECTED, &*LIVE_CLIENTS, &*DROPPED_FRAMES, &*LATE_BUCKETS);
}

pub fn devices_connected() -> &'static IntGauge {
    &DEVICES_CONNECTED
}

pub fn live_clients() -> &'static IntGauge {
    &LIVE_CLIENTS
}

pub fn dropped_frames() -> &'static IntCounter {
    &DROPPED_FRAMES
}

pub fn late_buckets() -> &'static IntCounter {
    &LATE_BUCKETS
}
