//! Ingest metrics on `/metrics`: samples accepted, stored, duplicates and rejected by reason;
//! committed batch sizes and commit latency; samples waiting in the queue; per MQTT broker
//! (`mqtt`, `ttn_mqtt`) messages, refusals by reason, reconnects and whether it is connected.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts};
use srs_common::metrics::register;
use std::sync::LazyLock;

// The options are constants: a bad one is a programming error every test would catch.
#[allow(clippy::unwrap_used)]
static ACCEPTED: LazyLock<IntCounter> =
    LazyLock::new(|| register(IntCounter::new("srs_ingest_samples_accepted_total", "Samples accepted (valid), stored or not").unwrap()));
#[allow(clippy::unwrap_used)]
static STORED: LazyLock<IntCounter> =
    LazyLock::new(|| register(IntCounter::new("srs_ingest_samples_stored_total", "Samples committed to the store").unwrap()));
#[allow(clippy::unwrap_used)]
static DUPLICATES: LazyLock<IntCounter> =
    LazyLock::new(|| register(IntCounter::new("srs_ingest_samples_duplicate_total", "Samples already stored (retries)").unwrap()));
#[allow(clippy::unwrap_used)]
static REJECTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(Opts::new("srs_ingest_requests_rejected_total", "Sample posts refused, by reason (problem code)"), &["reason"])
            .unwrap(),
    )
});
#[allow(clippy::unwrap_used)]
static BATCH_SIZE: LazyLock<Histogram> = LazyLock::new(|| {
    let buckets = vec![1.0, 10.0, 100.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0, 20_000.0];
    register(Histogram::with_opts(HistogramOpts::new("srs_ingest_batch_samples", "Samples per committed batch").buckets(buckets)).unwrap())
});
#[allow(clippy::unwrap_used)]
static COMMIT_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    let buckets = vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];
    register(Histogram::with_opts(HistogramOpts::new("srs_ingest_commit_seconds", "Time to commit one batch").buckets(buckets)).unwrap())
});
#[allow(clippy::unwrap_used)]
static QUEUE_DEPTH: LazyLock<IntGauge> =
    LazyLock::new(|| register(IntGauge::new("srs_ingest_queue_samples", "Samples waiting to be committed").unwrap()));

#[allow(clippy::unwrap_used)]
static MQTT_MESSAGES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(IntCounterVec::new(Opts::new("srs_ingest_mqtt_messages_total", "MQTT messages received, by broker"), &["broker"]).unwrap())
});
#[allow(clippy::unwrap_used)]
static MQTT_SAMPLES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(Opts::new("srs_ingest_mqtt_samples_total", "Valid samples in MQTT messages, by broker"), &["broker"]).unwrap(),
    )
});
#[allow(clippy::unwrap_used)]
static MQTT_REJECTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new("srs_ingest_mqtt_rejected_total", "MQTT messages refused (nothing stored), by broker and reason (problem code)"),
            &["broker", "reason"],
        )
        .unwrap(),
    )
});
#[allow(clippy::unwrap_used)]
static MQTT_RECONNECTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(Opts::new("srs_ingest_mqtt_reconnects_total", "Lost or failed MQTT connections, by broker"), &["broker"])
            .unwrap(),
    )
});
#[allow(clippy::unwrap_used)]
static MQTT_CONNECTED: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(IntGaugeVec::new(Opts::new("srs_ingest_mqtt_connected", "1 while connected to the MQTT broker"), &["broker"]).unwrap())
});

pub fn mqtt_message(broker: &str) {
    MQTT_MESSAGES.with_label_values(&[broker]).inc();
}
pub fn mqtt_samples(broker: &str, samples: usize) {
    MQTT_SAMPLES.with_label_values(&[broker]).inc_by(samples as u64);
}
pub fn mqtt_rejected(broker: &str, reason: &str) {
    MQTT_REJECTED.with_label_values(&[broker, reason]).inc();
}
pub fn mqtt_reconnect(broker: &str) {
    MQTT_RECONNECTS.with_label_values(&[broker]).inc();
}
pub fn mqtt_connected(broker: &str, connected: bool) {
    MQTT_CONNECTED.with_label_values(&[broker]).set(i64::from(connected));
}

pub fn accepted() -> &'static IntCounter {
    &ACCEPTED
}
pub fn stored() -> &'static IntCounter {
    &STORED
}
pub fn duplicates() -> &'static IntCounter {
    &DUPLICATES
}
pub fn rejected(reason: &str) {
    REJECTED.with_label_values(&[reason]).inc();
}
pub fn batch_size() -> &'static Histogram {
    &BATCH_SIZE
}
pub fn commit_seconds() -> &'static Histogram {
    &COMMIT_SECONDS
}
pub fn queue_depth() -> &'static IntGauge {
    &QUEUE_DEPTH
}

/// Registers every ingest metric, so `/metrics` lists them (at zero) from the start.
pub fn init() {
    let _ = (&*ACCEPTED, &*STORED, &*DUPLICATES, &*REJECTED, &*BATCH_SIZE, &*COMMIT_SECONDS, &*QUEUE_DEPTH);
    let _ = (&*MQTT_MESSAGES, &*MQTT_SAMPLES, &*MQTT_REJECTED, &*MQTT_RECONNECTS, &*MQTT_CONNECTED);
}
