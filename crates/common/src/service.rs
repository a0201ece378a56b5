//! The one shape of a service, and running any list of them: open the context, start each
//! service (its background work and its routes) next to the operations endpoints, serve until a
//! signal, shut down in order. `srs serve`, every `srs-<name>` binary and the test harness
//! (srs-testkit) all go through [`start`], so they start and stop the same way.

use crate::http::{Mount, RunningServer, ServerBuilder};
use crate::settings::SettingsSection;
use crate::shutdown::{self, Background};
use crate::{AppContext, Settings};
use anyhow::Context;
use std::net::TcpListener;
use std::process::ExitCode;

/// A service: what a library under `services/` exposes as its `SERVICE`.
pub struct Service {
    /// "ingest": the binary is `srs-ingest`, and `srs serve --services ingest` runs it.
    pub name: &'static str,
    /// Its part of `/api/v1/openapi.json`.
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    /// Spawns its background work on `background` and returns its routes.
    pub start: fn(&AppContext, &Background) -> anyhow::Result<Mount>,
    /// Its own settings sections (ingest has three: `ingest`, `mqtt` and `ttn`).
    pub settings: &'static [&'static SettingsSection],
}

/// The settings sections of `services`, for [`Settings::load`].
pub fn sections(services: &[&Service]) -> Vec<&'static SettingsSection> {
    services.iter().flat_map(|service| service.settings.iter().copied()).collect()
}

/// A started set of services: the server (already accepting), its background work and context.
pub struct Started {
    pub server: RunningServer,
    pub background: Background,
    pub context: AppContext,
}

/// Opens the context from `settings` and starts `services` on `listener`.
pub async fn start(settings: Settings, services: &[&Service], listener: TcpListener) -> anyhow::Result<Started> {
    // Everything that can be wrong with the settings or the sensors file fails here, before
    // anything is written.
    let context = AppContext::open(settings).await?;
    tracing::info!(store = context.store.backend(), bus = context.bus.backend(), sensors = context.sensors.file().sensors.len(), "opened");
    let background = Background::new();
    let mut builder = ServerBuilder::new(context.clone());
    for service in services {
        let mount = (service.start)(&context, &background).with_context(|| format!("cannot start {}", service.name))?;
        builder = builder.mount(mount, (service.openapi)());
    }
    let server = builder.serve(listener)?;
    Ok(Started { server, background, context })
}

/// Serves `services` with the settings' store and bus until SIGINT/SIGTERM. Prints
/// `{name} listening on http://ADDR` to stdout once it accepts connections.
pub async fn serve(name: &str, settings: Settings, services: &[&Service]) -> anyhow::Result<()> {
    crate::telemetry::init(&settings.log);
    let listen = settings.server.listen;
    let listener = TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let started = start(settings, services, listener).await?;
    // Scripts and tests read the actual address (port 0 picks one) from this line.
    println!("{name} listening on http://{}", started.server.addr());
    shutdown::run_until_stopped(started.server, started.background, started.context, shutdown::signal()).await?;
    Ok(())
}

/// `main` of a single-service binary (`srs-<name>`): settings from `config/` and the
/// environment, then [`serve`]; failures end the process with one `error:` line.
pub fn run_service_binary(service: &Service) -> ExitCode {
    let name = format!("srs-{}", service.name);
    let result = Settings::load(&sections(&[service]))
        .map_err(anyhow::Error::from)
        .and_then(|settings| Ok((settings, tokio::runtime::Runtime::new().context("cannot start the async runtime")?)))
        .and_then(|(settings, runtime)| runtime.block_on(serve(&name, settings, &[service])));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
