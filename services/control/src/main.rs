//! `srs-control`: the control service alone, for the distributed deployment.

use std::process::ExitCode;

/// mimalloc: the services allocate many small, short-lived buffers per message.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    srs_common::service::run_service_binary(&srs_control::SERVICE)
}
