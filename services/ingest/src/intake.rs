//! Taking a body of samples in, whatever carried it (an HTTP post, an MQTT message, a TTN
//! uplink): parse, check against the sensors file, feed the activity windows and the live
//! view, and commit through the `SampleBatcher`. The result is known only once the samples are
//! durable, so every transport answers (200, PUBACK) only after the commit.

use crate::batcher::SubmitError;
use crate::check::{check, Checked};
use crate::parse::{parse, Format};
use crate::Ingest;
use serde::Serialize;
use srs_common::model::NewSample;
use srs_common::sensors::SensorRef;
use srs_common::store::StoreError;
use srs_common::{ApiError, AppContext, ErrorCode};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestResult {
    /// Valid samples in the request.
    pub accepted: usize,
    /// Samples committed now.
    pub stored: usize,
    /// Samples already stored by an earlier (retried) request.
    pub duplicates: usize,
    /// The running recording samples are stored for; null when nothing records.
    pub recording_id: Option<String>,
}

/// One body of samples and what its transport already knows about it.
pub struct Body<'a> {
    pub bytes: &'a [u8],
    pub format: Format,
    /// The sensor the address names (`/sensors/{id}/samples`, `srs/samples/{id}`, a TTN device).
    pub path_sensor: Option<SensorRef<'a>>,
    /// The only sensor the caller's device token may write, when tokens are required.
    pub token_sensor: Option<&'a str>,
}

/// What to do while the store or the queue cannot take the samples (a 503).
#[derive(Clone, Copy)]
pub enum WhenUnavailable<'a> {
    /// Answer it: an HTTP client retries the request itself.
    Answer,
    /// Try again with backoff until committed, or until `closing` fires (answered
    /// `shutting_down`): an MQTT message has nobody waiting to retry it, and acknowledging it
    /// unstored would lose it, so it stays unacknowledged meanwhile.
    RetryUntil(&'a CancellationToken),
}

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// Checks and commits `body`; Ok once its samples are durable. Nothing of an invalid body is
/// stored: every problem is in the error. Parsing, checking and the activity count happen once,
/// whatever `when_unavailable` says; only the commit is tried again, with the same receive times.
pub async fn take(
    ingest: &Ingest,
    context: &AppContext,
    body: Body<'_>,
    when_unavailable: WhenUnavailable<'_>,
) -> Result<IngestResult, ApiError> {
    let settings = &ingest.settings;
    if body.bytes.len() > settings.max_body_bytes {
        return Err(ApiError::new(ErrorCode::BodyTooLarge, format!("the body is over the limit of {} bytes", settings.max_body_bytes)));
    }
    // parse() refuses more than the limit itself (413).
    let parsed = parse(body.bytes, body.format, settings.max_samples_per_request)?;
    // A nanosecond of its own for each sample without `ts` (see receive_clock).
    let untimed = parsed.samples.iter().filter(|(_, s)| s.ts.is_none()).count();
    let received_at = ingest.clock.reserve(srs_common::time::now_ns(), untimed);
    let samples = check(&context.sensors, parsed, body.path_sensor, received_at)?;
    if let Some(allowed) = body.token_sensor {
        if let Some(other) = samples.iter().find(|s| **s.sensor.id != *allowed) {
            return Err(ApiError::forbidden(format!("this device token may write only sensor {allowed}, not {}", other.sensor.id)));
        }
    }
    ingest.windows.record(samples.iter().map(|s| (s.sensor.index, s.ts)), received_at);
    ingest.live.record(&samples);
    let mut wait = FIRST_RETRY;
    loop {
        let result = commit(ingest, context, &samples, received_at).await;
        let WhenUnavailable::RetryUntil(closing) = when_unavailable else { return result };
        match &result {
            Err(error) if error.status().is_server_error() && error.code() != ErrorCode::ShuttingDown => {
                tracing::warn!(code = %error.code(), retry_in_ms = wait.as_millis() as u64, "samples not committed yet; trying again");
            }
            _ => return result,
        }
        tokio::select! {
            () = closing.cancelled() => return Err(ApiError::unavailable(ErrorCode::ShuttingDown, "ingest is shutting down", 1)),
            () = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(LAST_RETRY);
    }
}

/// One attempt at committing checked samples.
async fn commit(ingest: &Ingest, context: &AppContext, samples: &[Checked<'_>], received_at: i64) -> Result<IngestResult, ApiError> {
    // Every sample goes to the store, which stores it for the recording running at commit
    // (if its sensor is enabled there) or tells it was not recorded.
    let storable: Vec<NewSample> = samples
        .iter()
        .map(|sample| NewSample {
            sensor_id: Arc::clone(sample.sensor.id),
            sensor_type: Arc::clone(sample.sensor.type_name),
            ts: sample.ts,
            received_at,
            sample_id: sample.id.as_deref().map(str::to_owned),
            values: sample.values.to_owned(),
            stamp: None,
        })
        .collect();
    if storable.is_empty() {
        // Nothing to commit: say which recording would take samples now.
        let running = context.store.running_recording().await?;
        return Ok(IngestResult { accepted: 0, stored: 0, duplicates: 0, recording_id: running.map(|r| r.id) });
    }
    let outcome = ingest.batcher.submit(storable).await.map_err(|error| match error {
        SubmitError::QueueFull => ApiError::unavailable(ErrorCode::QueueFull, "the ingest queue is full; retry shortly", 1),
        // Full: 503 store_full; unavailable: 503; anything else: 500 — each with a stable text.
        SubmitError::Store(StoreError::Internal(detail)) => {
            tracing::error!(error = %detail, "samples not committed");
            ApiError::unavailable(ErrorCode::StoreUnavailable, "samples not committed: the store failed; retry shortly", 1)
        }
        SubmitError::Store(error) => ApiError::from(error),
        SubmitError::Closed => ApiError::unavailable(ErrorCode::ShuttingDown, "ingest is shutting down", 1),
    })?;
    Ok(IngestResult {
        accepted: samples.len(),
        stored: outcome.stored_count(),
        duplicates: outcome.duplicate_count(),
        recording_id: outcome.recording_id,
    })
}

/// Counts a finished intake in `/metrics` (samples accepted, stored, duplicates; refusals by
/// reason), the same for every transport.
pub fn count(result: &Result<IngestResult, ApiError>) {
    match result {
        Ok(outcome) => {
            crate::metrics::accepted().inc_by(outcome.accepted as u64);
            crate::metrics::stored().inc_by(outcome.stored as u64);
            crate::metrics::duplicates().inc_by(outcome.duplicates as u64);
        }
        Err(error) => crate::metrics::rejected(error.code().as_str()),
    }
}
