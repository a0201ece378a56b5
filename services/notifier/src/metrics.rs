//! Notifier metrics on `/metrics`: alerts recorded per rule, and delivery attempts per channel
//! and outcome (`delivered`, `retry`, `failed`) — a channel that keeps failing shows here
//! before anyone misses a message.

use prometheus::{IntCounterVec, Opts};
use srs_common::metrics::register;
use std::sync::LazyLock;

// The options are constants: a bad one is a programming error every test would catch.
#[allow(clippy::unwrap_used)]
static ALERTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(IntCounterVec::new(Opts::new("srs_alerts_total", "Alerts and notices recorded by this replica, per rule"), &["rule"]).unwrap())
});
#[allow(clippy::unwrap_used)]
static ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let opts = Opts::new("srs_alert_delivery_attempts_total", "Delivery attempts per channel and outcome (delivered, retry, failed)");
    register(IntCounterVec::new(opts, &["channel", "outcome"]).unwrap())
});

pub fn init() {
    let _ = (&*ALERTS, &*ATTEMPTS);
}

pub fn alert_recorded(rule: &str) {
    ALERTS.with_label_values(&[rule]).inc();
}

pub fn delivery_attempt(channel: &str, outcome: &str) {
    ATTEMPTS.with_label_values(&[channel, outcome]).inc();
}
