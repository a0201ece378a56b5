//! `GET /api/v1/ws/live`: the operators' live feed (any signed-in user). The access token comes
//! as `?access_token=` or as the second entry of `Sec-WebSocket-Protocol: bearer, <token>`
//! (browsers cannot set headers on a WebSocket); a missing or bad one closes the socket with
//! 1008. A browser's `Origin` must be this server's own or one of `control.allowed_origins`.
//! Frames come from the replica's hub (`live.rs`); a client that takes nothing for
//! `control.silence_secs` is closed.
//!
//! A client asks for live values with `{"type": "subscribe", "sensors": [...], "max_hz": 50}`
//! and stops with `{"type": "unsubscribe", "sensors": [...]}` (no `sensors`: all). Each gets an
//! answer on the socket: `subscribed` with the sensors taken and the rate used (rounded down to
//! a divisor of 500) and those `unknown` to the sensors file, `unsubscribed`, or `error`.

use crate::live::{frame, Frame, Next};
use crate::upgrade::upgrade;
use crate::Control;
use actix_web::{get, web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Item};
use bytestring::ByteString;
use serde::Deserialize;
use serde_json::json;
use srs_common::auth::Caller;
use srs_common::error::Problem;
use srs_common::live_values::{round_max_hz, DEFAULT_HZ};
use srs_common::{ApiError, AppContext};
use std::sync::Arc;
use std::time::Duration;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// An access token (or use `Sec-WebSocket-Protocol: bearer, <token>`).
    pub access_token: Option<String>,
}

/// The live feed: activity once a second, recording, device, command and export events, and the live values a client subscribes to (WebSocket).
#[utoipa::path(get, path = "/api/v1/ws/live", tag = "devices", params(LiveQuery), responses(
    (status = 101, description = "the socket is open (closed with 1008 at once without a valid access token)"),
    (status = 403, description = "a browser page of another origin", body = Problem, content_type = "application/problem+json"),
    (status = 426, description = "not a WebSocket request", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/ws/live")]
pub async fn live_socket(
    request: HttpRequest,
    body: web::Payload,
    context: web::Data<AppContext>,
    control: web::Data<Control>,
    query: web::Query<LiveQuery>,
) -> Result<HttpResponse, ApiError> {
    check_origin(&request, &control.settings.allowed_origins)?;
    let token = query.access_token.clone().or_else(|| protocol_token(&request));
    let caller = token.as_deref().map(|token| Caller::from_token(&context, token));
    let (response, session, stream) = upgrade(&request, body, &["bearer"])?;
    let stream = stream.max_frame_size(control.settings.max_message_bytes).aggregate_continuations();
    match caller {
        Some(Ok(_)) => {
            actix_web::rt::spawn(serve(control.into_inner(), context.get_ref().clone(), session, stream));
        }
        _ => {
            let reason = CloseReason { code: CloseCode::Policy, description: Some("a valid access token is required".into()) };
            actix_web::rt::spawn(async move {
                let _ = session.close(Some(reason)).await;
            });
        }
    }
    Ok(response)
}

/// The token of `Sec-WebSocket-Protocol: bearer, <token>`.
fn protocol_token(request: &HttpRequest) -> Option<String> {
    let value = request.headers().get("sec-websocket-protocol")?.to_str().ok()?;
    let mut parts = value.split(',').map(str::trim);
    (parts.next()? == "bearer").then(|| parts.next().map(str::to_owned)).flatten()
}

/// A browser sends `Origin`: it must be this server (same host) or an allowed one.
fn check_origin(request: &HttpRequest, allowed: &[String]) -> Result<(), ApiError> {
    let Some(origin) = request.headers().get("origin").and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = request.connection_info().host().to_owned();
    let same_origin = origin.split_once("://").is_some_and(|(_, rest)| rest.trim_end_matches('/') == host);
    if same_origin || allowed.iter().any(|a| a.trim_end_matches('/') == origin.trim_end_matches('/')) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!("pages from {origin} may not open the live feed (control.allowed_origins)")))
}

/// Frames longer than this go out as WebSocket fragments of about this size (clients
/// reassemble them), so that the connection's write buffer never has to grow to a whole
/// activity frame of a big lab — a buffer that would stay allocated for every client.
const FRAGMENT_BYTES: usize = 4096;

/// Sends `text` as one message, in fragments when it is long; the fragments are slices of the
/// shared frame, not copies, and each is valid UTF-8 by itself.
async fn send_in_fragments(session: &mut actix_ws::Session, text: ByteString) -> Result<(), actix_ws::Closed> {
    if text.len() <= FRAGMENT_BYTES {
        return session.text(text).await;
    }
    let mut cuts = Vec::with_capacity(text.len() / FRAGMENT_BYTES + 1);
    let mut end = 0;
    while end < text.len() {
        end = (end + FRAGMENT_BYTES).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        cuts.push(end);
    }
    let bytes = text.into_bytes();
    let mut start = 0;
    for end in cuts {
        let part = bytes.slice(start..end);
        let item = match (start, end == bytes.len()) {
            (0, _) => Item::FirstText(part),
            (_, false) => Item::Continue(part),
            (_, true) => Item::Last(part),
        };
        session.continuation(item).await?;
        start = end;
    }
    Ok(())
}

/// How long a closing socket waits to hand over its close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// What a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Subscribe { sensors: Vec<String>, max_hz: Option<f64> },
    Unsubscribe { sensors: Option<Vec<String>> },
}

/// Acts on a client's message and returns the answer frame.
fn answer(control: &Control, context: &AppContext, client: u64, text: &str) -> Frame {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Subscribe { sensors, max_hz }) => {
            let max_hz = max_hz.map_or(DEFAULT_HZ, round_max_hz);
            let (known, unknown): (Vec<String>, Vec<String>) = sensors.into_iter().partition(|id| context.sensors.sensor(id).is_some());
            control.values.subscribe(client, &known, max_hz);
            frame("subscribed", json!({"sensors": known, "max_hz": max_hz, "unknown": unknown}), false)
        }
        Ok(ClientMessage::Unsubscribe { sensors }) => {
            control.values.unsubscribe(client, sensors.as_deref());
            frame("unsubscribed", json!({"sensors": sensors}), false)
        }
        Err(error) => frame("error", json!({"detail": format!("not a message of the live socket: {error}")}), false),
    }
}

async fn serve(control: Arc<Control>, context: AppContext, mut session: actix_ws::Session, mut stream: actix_ws::AggregatedMessageStream) {
    let (client, queue) = control.hub.join();
    crate::metrics::live_clients().inc();
    let stall = Duration::from_secs(control.settings.silence_secs);
    let mut ping = tokio::time::interval(Duration::from_secs(control.settings.ping_secs));
    let reason = loop {
        tokio::select! {
            _ = control.closing.cancelled() => break Some(crate::device_socket::going_away()),
            next = queue.next() => match next {
                // A client that takes nothing for `stall` is closed; it never holds up others.
                Next::Frame(text) => {
                    // Shutdown does not wait for a client that takes nothing.
                    let sent = tokio::select! {
                        sent = tokio::time::timeout(stall, send_in_fragments(&mut session, text)) => sent,
                        _ = control.closing.cancelled() => break Some(crate::device_socket::going_away()),
                    };
                    match sent {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break None,
                        Err(_) => break Some(CloseReason { code: CloseCode::Away, description: Some("took nothing for too long".into()) }),
                    }
                }
                Next::Overrun => break Some(CloseReason { code: CloseCode::Away, description: Some("too far behind".into()) }),
            },
            _ = ping.tick() => {
                if session.ping(b"").await.is_err() {
                    break None;
                }
            }
            message = stream.recv() => match message {
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    if session.pong(&bytes).await.is_err() {
                        break None;
                    }
                }
                Some(Ok(AggregatedMessage::Text(text))) => queue.push(answer(&control, &context, client, &text)),
                Some(Ok(AggregatedMessage::Close(_))) | None => break None,
                Some(Err(actix_ws::ProtocolError::Overflow)) => break Some(CloseReason { code: CloseCode::Size, description: None }),
                Some(Err(_)) => break None,
                Some(Ok(_)) => {}
            },
        }
    };
    control.values.unsubscribe(client, None);
    control.hub.leave(client);
    crate::metrics::live_clients().dec();
    // A stalled client cannot take the close frame either: give up on it after a moment.
    let _ = tokio::time::timeout(CLOSE_WAIT, session.close(reason)).await;
}
