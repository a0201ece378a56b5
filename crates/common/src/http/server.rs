//! Server bootstrap: binds its own listener (port 0 in tests), mounts the services' routes next
//! to the operations endpoints, and stops gracefully when told (signals are the binary's job).

use super::openapi::{self, OpenApiDocument};
use super::route_table::{self, RouteTable};
use super::{health, json_config, observe, path_config, query_config};
use crate::AppContext;
use actix_web::dev::ServerHandle;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// A service's routes, mounted on the shared app.
pub type Mount = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// How much a connection gathers before it writes (actix-web's default is 32 KiB). Each
/// connection keeps a write buffer of about that size once used, so with a thousand live
/// sockets this is most of their memory; large downloads are unaffected (their chunks are
/// written whole).
const WRITE_BUFFER_BYTES: usize = 8 * 1024;

pub struct ServerBuilder {
    context: AppContext,
    mounts: Vec<Mount>,
    documents: Vec<utoipa::openapi::OpenApi>,
}

impl ServerBuilder {
    pub fn new(context: AppContext) -> Self {
        Self { context, mounts: Vec::new(), documents: Vec::new() }
    }

    /// Adds a service's routes and its OpenAPI document.
    pub fn mount(mut self, mount: Mount, document: utoipa::openapi::OpenApi) -> Self {
        self.mounts.push(mount);
        self.documents.push(document);
        self
    }

    /// Binds `listen` (port 0 picks a free port) and starts serving.
    pub fn bind(self, listen: SocketAddr) -> std::io::Result<RunningServer> {
        let listener = TcpListener::bind(listen)?;
        self.serve(listener)
    }

    pub fn serve(self, listener: TcpListener) -> std::io::Result<RunningServer> {
        let addr = listener.local_addr()?;
        let merged = openapi::merged(self.documents);
        let document = OpenApiDocument(merged.to_json().map_err(std::io::Error::other)?);
        let routes = web::Data::new(RouteTable::from_document(&merged));
        let shutdown_timeout = self.context.settings.server.shutdown_timeout_secs;
        let (context, mounts) = (self.context, Arc::new(self.mounts));
        let server = HttpServer::new(move || {
            let mounts = mounts.clone();
            App::new()
                .app_data(web::Data::new(context.clone()))
                .app_data(web::Data::new(document.clone()))
                .app_data(routes.clone())
                .app_data(json_config())
                .app_data(path_config())
                .app_data(query_config())
                .wrap(from_fn(observe::observe))
                .wrap(security_headers())
                .service(health::healthz)
                .service(health::readyz)
                .service(health::metrics)
                .service(openapi::openapi_json)
                // The problems page before the reference page, whose route takes the rest of
                // /api/v1/docs/. That route is a pattern (a regular expression) that actix tries
                // on every path it reaches, so it comes after the services' routes: a sample
                // post finds its route without running it.
                .service(crate::error::problems::problems_page)
                .service(openapi::docs_redirect)
                .configure(move |config| mounts.iter().for_each(|mount| mount(config)))
                .service(openapi::docs_page())
                .default_service(web::to(route_table::unmatched))
        })
        .h1_write_buffer_size(WRITE_BUFFER_BYTES)
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(shutdown_timeout)
        .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        tracing::info!(%addr, "listening");
        Ok(RunningServer { addr, handle, task })
    }
}

/// On every answer, unless the handler set its own: no content sniffing, no framing, no
/// referrer beyond this origin. (The console adds its Content-Security-Policy; the gateway
/// adds HSTS in production.)
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((actix_web::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((actix_web::http::header::X_FRAME_OPTIONS, "DENY"))
        .add((actix_web::http::header::REFERRER_POLICY, "same-origin"))
}

pub struct RunningServer {
    addr: SocketAddr,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops accepting connections and waits for in-flight requests (up to the shutdown timeout).
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.task).await;
    }

    /// Resolves if the server stops by itself (it should not).
    pub async fn stopped(&mut self) -> std::io::Result<()> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(error) => Err(std::io::Error::other(error)),
        }
    }
}
