//! `srs-console`: the operators' web app alone, for the distributed deployment (behind the
//! gateway, on the API's origin).

use std::process::ExitCode;

/// mimalloc, as every SRS binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    srs_common::service::run_service_binary(&srs_console::SERVICE)
}
