//! Taking a message's samples in, trying again while the store or the queue cannot take them:
//! an MQTT message has no client waiting to retry it, and acknowledging it unstored would lose
//! it, so it waits here (unacknowledged) until it is committed or the process stops.

use crate::intake::{take, Body, IngestResult};
use crate::Ingest;
use srs_common::{ApiError, AppContext, ErrorCode};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const FIRST_WAIT: Duration = Duration::from_millis(100);
const LAST_WAIT: Duration = Duration::from_secs(5);

/// The outcome once it is final: committed, refused for good (4xx), or shutting down.
pub async fn until_taken<'a>(
    ingest: &Ingest,
    context: &AppContext,
    closing: &CancellationToken,
    body: impl Fn() -> Body<'a>,
) -> Result<IngestResult, ApiError> {
    let mut wait = FIRST_WAIT;
    loop {
        let result = take(ingest, context, body()).await;
        match &result {
            Err(error) if error.status().is_server_error() && error.code() != ErrorCode::ShuttingDown => {
                tracing::warn!(code = %error.code(), retry_in_ms = wait.as_millis() as u64, "MQTT samples not committed yet; trying again");
            }
            _ => return result,
        }
        tokio::select! {
            () = closing.cancelled() => return Err(ApiError::unavailable(ErrorCode::ShuttingDown, "ingest is shutting down", 1)),
            () = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(LAST_WAIT);
    }
}
