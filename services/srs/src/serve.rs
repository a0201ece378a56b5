//! `srs serve`: the operations endpoints and every service library that has landed, on one
//! listener, with the store and bus the settings choose (SQLite and in-process by default).

use anyhow::Context;
use srs_common::http::ServerBuilder;
use srs_common::shutdown::{self, Background};
use srs_common::{AppContext, Settings};

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    srs_common::telemetry::init(&settings.log);
    let listen = settings.server.listen;
    let (private_key, public_key) = settings.jwt_key_paths();
    // Everything that can be wrong with the settings or the sensors file fails here, before
    // anything is written.
    let context = AppContext::open(settings).await?;
    if srs_common::auth::keys::ensure_pair(&private_key, &public_key)? {
        tracing::info!(key = %public_key.display(), "generated JWT signing keys");
    }
    tracing::info!(store = context.store.backend(), bus = context.bus.backend(), sensors = context.sensors.file().sensors.len(), "opened");
    let background = Background::new();
    let server = ServerBuilder::new(context.clone()).bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    // Scripts and tests read the actual address (port 0 picks one) from this line.
    println!("srs listening on http://{}", server.addr());
    shutdown::run_until_stopped(server, background, context, shutdown::signal()).await?;
    Ok(())
}
