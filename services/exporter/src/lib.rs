//! The exporter: streams an experiment from the store into Parquet files (one per participant,
//! UTC date and sensor type, typed columns, sorted by `ts`, zstd) plus metadata JSON and a
//! manifest with every file's rows, bytes and SHA-256 — with memory bounded whatever the
//! experiment's size.
//!
//! The export itself (`export`) runs offline in `srs export` and as the export job service:
//! `POST /api/v1/exports` queues a job on the durable work queue, workers (`jobs`) run it, and
//! the files are downloaded with Range support (`routes`). `import` loads an export back into
//! a store (`srs import`). A library with a thin binary (`srs-exporter`); `srs serve` mounts it.

mod export;
mod hashing;
mod import;
mod jobs;
mod metadata;
mod paths;
mod router;
mod routes;
pub mod sensor_file;
pub mod settings;

pub use export::{check_filter, export_experiment, sample_query, ExportError, Exported};
pub use import::{import_export, ImportError, Imported};
pub use jobs::ExportJobs;
pub use paths::{export_dir, partial_dir};

use actix_web::web;
use srs_common::http::Mount;
use srs_common::service::Service;
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::sync::Arc;
use utoipa::OpenApi;

/// The exporter service.
pub const SERVICE: Service = Service { name: "exporter", openapi, start, settings: &[&settings::SECTION] };

/// Starts the export workers on `background` and returns the routes.
fn start(context: &AppContext, background: &Background) -> anyhow::Result<Mount> {
    let jobs = ExportJobs::new(context, background.token.child_token())?;
    jobs.start(background);
    let jobs = web::Data::new(jobs);
    Ok(Arc::new(move |config| {
        config.app_data(jobs.clone());
        routes::configure(config);
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(routes::create, routes::list, routes::show, routes::download),
    components(schemas(srs_common::events::ExportProgress, srs_common::events::ExportCompleted, srs_common::events::ExportFailed)),
    tags((name = "exports", description = "Export jobs: Parquet and metadata JSON, streamed downloads"))
)]
struct ExporterApi;

/// The service's OpenAPI document.
fn openapi() -> utoipa::openapi::OpenApi {
    ExporterApi::openapi()
}
