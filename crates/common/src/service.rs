//! Running a service: open the context, mount the service libraries next to the operations
//! endpoints, serve until a signal, shut down in order. `srs serve` and every `srs-*` binary
//! share this, so they start and stop the same way.

use crate::http::{Mount, ServerBuilder};
use crate::shutdown::{self, Background};
use crate::{AppContext, Settings};
use anyhow::Context;
use std::process::ExitCode;

/// The routes and OpenAPI document of each service a process runs.
pub type Mounts = Vec<(Mount, utoipa::openapi::OpenApi)>;

/// Serves the services with the settings' store and bus until SIGINT/SIGTERM. `services` gets
/// the opened context and the background-task set: each service spawns its background work
/// there and returns its routes and OpenAPI document. Prints `{name} listening on http://ADDR`
/// to stdout once it accepts connections.
pub async fn serve(name: &str, settings: Settings, services: impl FnOnce(&AppContext, &Background) -> Mounts) -> anyhow::Result<()> {
    crate::telemetry::init(&settings.log);
    let listen = settings.server.listen;
    // Everything that can be wrong with the settings or the sensors file fails here, before
    // anything is written.
    let context = AppContext::open(settings).await?;
    tracing::info!(store = context.store.backend(), bus = context.bus.backend(), sensors = context.sensors.file().sensors.len(), "opened");
    let background = Background::new();
    let mounts = services(&context, &background);
    let builder = mounts.into_iter().fold(ServerBuilder::new(context.clone()), |builder, (mount, document)| builder.mount(mount, document));
    let server = builder.bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    // Scripts and tests read the actual address (port 0 picks one) from this line.
    println!("{name} listening on http://{}", server.addr());
    shutdown::run_until_stopped(server, background, context, shutdown::signal()).await?;
    Ok(())
}

/// `main` of a single-service binary: settings from `config/` and the environment, then
/// [`serve`]; failures end the process with one `error:` line.
pub fn run_service_binary(name: &str, services: impl FnOnce(&AppContext, &Background) -> Mounts) -> ExitCode {
    let result = Settings::load()
        .map_err(anyhow::Error::from)
        .and_then(|settings| Ok((settings, tokio::runtime::Runtime::new().context("cannot start the async runtime")?)))
        .and_then(|(settings, runtime)| runtime.block_on(serve(name, settings, services)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
