//! `srs-console`: the operators' web app alone, for the distributed deployment (behind the
//! gateway, on the API's origin). Alone it also serves the whole API's document at
//! `/api/v1/openapi.json` — every service's part, merged as `srs serve` merges them — and with
//! it the reference page `/api/v1/docs` and the problems page, which the gateway routes here.

use srs_common::service::Service;
use std::process::ExitCode;

/// mimalloc, as every SRS binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The console with the whole API's document as its own.
const STANDALONE: Service = Service { openapi: whole_api, ..srs_console::SERVICE };

fn whole_api() -> utoipa::openapi::OpenApi {
    let parts = [&srs_ingest::SERVICE, &srs_experiments::SERVICE, &srs_exporter::SERVICE, &srs_control::SERVICE, &srs_notifier::SERVICE];
    let mut document = (srs_console::SERVICE.openapi)();
    for service in parts {
        document.merge((service.openapi)());
    }
    document
}

fn main() -> ExitCode {
    srs_common::service::run_service_binary(&STANDALONE)
}
