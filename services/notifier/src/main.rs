//! `srs-notifier`: the notifier service alone, for the distributed deployment. Several may run:
//! the store hands each delivery to one of them.

use std::process::ExitCode;

/// mimalloc: the services allocate many small, short-lived buffers per message.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    srs_common::service::run_service_binary(&srs_notifier::SERVICE)
}
