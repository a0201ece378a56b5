//! The console service: serves the operators' single-page app, built from `web/` by Vite.
//! Release builds embed the built files; debug builds read them from `web/dist` at run time,
//! so a rebuilt console shows without rebuilding the binary.
//!
//! - `/` and `/console` redirect to `/console/`.
//! - `/console/assets/...` are content-hashed: cached for a year, immutable.
//! - Any other `/console/...` path is a page of the app (`/console/dashboard`, ...): it gets
//!   `index.html`, never cached, so a new release is picked up on the next load.
//! - Every answer carries a strict Content-Security-Policy: the app loads only its own files
//!   and talks only to its own origin (HTTP and WebSocket) — it works on an offline network.
//! - `/gateway-error/{status}` is the problem document for an answer the gateway makes itself.

mod files;
mod gateway_errors;

pub use files::CONTENT_SECURITY_POLICY;

use srs_common::http::Mount;
use srs_common::service::Service;
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::sync::Arc;
use utoipa::OpenApi;

/// The console service.
pub const SERVICE: Service = Service { name: "console", openapi, start, settings: &[] };

fn start(_context: &AppContext, _background: &Background) -> anyhow::Result<Mount> {
    if !files::built() {
        tracing::warn!("the console is not built: /console/ answers 404 (scripts/serve.sh builds it; or npm ci && npm run build in services/console/web)");
    }
    Ok(Arc::new(|config: &mut actix_web::web::ServiceConfig| {
        files::configure(config);
        gateway_errors::configure(config);
    }))
}

#[derive(OpenApi)]
#[openapi(paths(gateway_errors::gateway_error))]
struct ConsoleApi;

/// The console serves pages, not API endpoints: its document has only the gateway's error page.
fn openapi() -> utoipa::openapi::OpenApi {
    ConsoleApi::openapi()
}
