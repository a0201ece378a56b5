//! `srs`: every SRS service in one process on the embedded defaults, and the admin CLI.

mod backup;
mod cli;
mod export;
mod serve;
mod users;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc: the services allocate many small, short-lived buffers per request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // One clear line, never a panic trace: `{:#}` joins the causes with ": ".
        Err(error) => fail(&format!("{error:#}")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
