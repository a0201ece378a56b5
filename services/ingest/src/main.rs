//! `srs-ingest`: the ingest service alone, for the distributed deployment.

use std::process::ExitCode;

fn main() -> ExitCode {
    srs_common::service::run_service_binary("srs-ingest", |context, background| {
        vec![(srs_ingest::start(context, background), srs_ingest::openapi())]
    })
}
