//! `srs-exporter`: the exporter service alone, for the distributed deployment. Run several to
//! export in parallel: they share the durable job queue.

use std::process::ExitCode;

/// mimalloc: Arrow builders and Parquet encoding allocate many short-lived buffers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    srs_common::service::run_service_binary(&srs_exporter::SERVICE)
}
