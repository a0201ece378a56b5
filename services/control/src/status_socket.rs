//! `GET /api/v1/ws/status` (public): the body of `GET /api/v1/experiments/active` on connect and
//! on every change. One bus subscription per replica re-reads the state when an experiment or
//! recording event arrives and hands it to every socket through a watch channel, so a socket
//! costs no bus queue and a slow one only ever misses states that were already replaced.

use crate::upgrade::upgrade;
use crate::Control;
use actix_web::{get, web, HttpRequest, HttpResponse};
use actix_ws::AggregatedMessage;
use srs_common::active_state::ActiveState;
use srs_common::error::Problem;
use srs_common::shutdown::Background;
use srs_common::{ApiError, AppContext};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Keeps `state` equal to the store's active state: re-read on every lifecycle event and, in
/// case an event was missed (a broker reconnect), every `resync` anyway.
pub fn follow_active_state(context: AppContext, state: watch::Sender<ActiveState>, background: &Background, resync: Duration) {
    let token = background.token.clone();
    background.spawn(async move {
        let mut events = match context.bus.subscribe(&["experiment.*", "recording.*"]).await {
            Ok(events) => Some(events),
            Err(error) => {
                tracing::error!(%error, "cannot follow experiment events; the status socket polls the store instead");
                None
            }
        };
        let mut tick = tokio::time::interval(resync);
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tick.tick() => {}
                event = async { match events.as_mut() { Some(events) => events.recv().await, None => std::future::pending().await } } => {
                    if event.is_none() {
                        events = None;
                    }
                }
            }
            match srs_common::active_state::read(&context.store).await {
                Ok(now) => {
                    state.send_if_modified(|held| {
                        let changed = *held != now;
                        *held = now;
                        changed
                    });
                }
                Err(error) => tracing::warn!(%error, "cannot read the active state"),
            }
        }
    });
}

/// The active experiment and recording, pushed on connect and on every change (WebSocket).
#[utoipa::path(get, path = "/api/v1/ws/status", tag = "devices", responses(
    (status = 101, description = "the socket is open; each message is the body of GET /api/v1/experiments/active"),
    (status = 426, description = "not a WebSocket request", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/ws/status")]
pub async fn status_socket(
    request: HttpRequest,
    body: web::Payload,
    context: web::Data<AppContext>,
    control: web::Data<Control>,
) -> Result<HttpResponse, ApiError> {
    // The first message is read now, so even a socket opened before the first event says
    // what is active.
    let now = srs_common::active_state::read(&context.store).await?;
    let (response, session, stream) = upgrade(&request, body, &[])?;
    let changes = control.active_state.subscribe();
    let ping_every = Duration::from_secs(control.settings.ping_secs);
    actix_web::rt::spawn(serve(now, changes, (session, stream.aggregate_continuations()), ping_every, control.closing.clone()));
    Ok(response)
}

async fn serve(
    first: ActiveState,
    mut changes: watch::Receiver<ActiveState>,
    (mut session, mut stream): (actix_ws::Session, actix_ws::AggregatedMessageStream),
    ping_every: Duration,
    closing: CancellationToken,
) {
    let mut sent = first;
    if send(&mut session, &sent).await.is_err() {
        return;
    }
    let mut ping = tokio::time::interval(ping_every);
    let reason = loop {
        tokio::select! {
            _ = closing.cancelled() => break Some(crate::device_socket::going_away()),
            changed = changes.changed() => {
                if changed.is_err() {
                    break None;
                }
                let now = changes.borrow_and_update().clone();
                if now != sent {
                    sent = now;
                    if send(&mut session, &sent).await.is_err() {
                        return;
                    }
                }
            }
            _ = ping.tick() => {
                if session.ping(b"").await.is_err() {
                    return;
                }
            }
            message = stream.recv() => match message {
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    if session.pong(&bytes).await.is_err() {
                        return;
                    }
                }
                Some(Ok(AggregatedMessage::Close(_))) | None | Some(Err(_)) => break None,
                Some(Ok(_)) => {}
            },
        }
    };
    let _ = session.close(reason).await;
}

async fn send(session: &mut actix_ws::Session, state: &ActiveState) -> Result<(), actix_ws::Closed> {
    session.text(serde_json::to_string(state).unwrap_or_default()).await
}
