//! The WebSocket upgrade every socket endpoint starts with; a plain HTTP request (or a broken
//! handshake) is answered 426 problem+json, as every other error of the API.

use actix_web::{web, HttpRequest, HttpResponse};
use srs_common::{ApiError, ErrorCode};

/// Upgrades to a WebSocket, agreeing on the first of the client's subprotocols that is in
/// `protocols` (none when empty).
pub fn upgrade(
    request: &HttpRequest,
    body: web::Payload,
    protocols: &[&str],
) -> Result<(HttpResponse, actix_ws::Session, actix_ws::MessageStream), ApiError> {
    actix_ws::handle_with_protocols(request, body, protocols)
        .map_err(|error| ApiError::new(ErrorCode::UpgradeRequired, format!("connect with a WebSocket client: {error}")))
}
