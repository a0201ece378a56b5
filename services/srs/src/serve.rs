//! `srs serve`: the operations endpoints and every service library that has landed, on one
//! listener, with the store and bus the settings choose (SQLite and in-process by default).

use srs_common::Settings;

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    srs_common::service::serve("srs", settings, |context, background| {
        // Ingest first: the router tries routes in order, and sample posts are the hot path.
        vec![
            (srs_ingest::start(context, background), srs_ingest::openapi()),
            (srs_experiments::mount_with(&context.settings), srs_experiments::openapi()),
            (srs_exporter::start(context, background), srs_exporter::openapi()),
        ]
    })
    .await
}
