//! Ordered graceful shutdown: stop accepting and drain HTTP requests, then stop background tasks
//! (which flush what they hold and acknowledge only what is committed), then close the bus.
//! The store closes when the last handle to it drops.

use crate::http::RunningServer;
use crate::AppContext;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Background tasks of a service: they watch `token` and finish their work when it fires.
#[derive(Clone, Default)]
pub struct Background {
    pub token: CancellationToken,
    /// Fires when shutdown begins, before requests are drained: long-lived connections
    /// (WebSockets) close on it, so that the drain does not wait for them.
    pub closing: CancellationToken,
    tracker: TaskTracker,
}

impl Background {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&self, task: F) {
        self.tracker.spawn(task);
    }

    /// Signals every task to stop and waits up to `timeout` for them.
    pub async fn stop(&self, timeout: Duration) {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout(timeout, self.tracker.wait()).await.is_err() {
            tracing::warn!(timeout_secs = timeout.as_secs(), "background tasks did not finish in time");
        }
    }
}

/// Serves until `stop` resolves (a signal), then shuts down in order.
pub async fn run_until_stopped(
    mut server: RunningServer,
    background: Background,
    context: AppContext,
    signal: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let result = tokio::select! {
        _ = signal => Ok(()),
        result = server.stopped() => result,
    };
    stop(server, &background, &context).await;
    result
}

/// The ordered shutdown: close long-lived connections, drain requests, stop background work,
/// close the bus.
pub async fn stop(server: RunningServer, background: &Background, context: &AppContext) {
    tracing::info!("shutting down: draining requests");
    background.closing.cancel();
    server.stop().await;
    tracing::info!("shutting down: stopping background work");
    background.stop(Duration::from_secs(context.settings.server.shutdown_timeout_secs)).await;
    context.bus.close().await;
    tracing::info!("stopped");
}

/// Resolves on SIGINT or SIGTERM.
pub async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
