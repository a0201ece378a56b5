//! `srs-experiments`: the experiments service alone, for the distributed deployment.

use std::process::ExitCode;

fn main() -> ExitCode {
    srs_common::service::run_service_binary("srs-experiments", |settings| {
        vec![(srs_experiments::mount_with(settings), srs_experiments::openapi())]
    })
}
