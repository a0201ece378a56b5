//! `srs serve`: the operations endpoints and every service library that has landed (or those
//! `--services` names), on one listener, with the store and bus the settings choose (SQLite
//! and in-process by default).

use srs_common::service::Service;
use srs_common::Settings;

/// Every service `srs serve` runs. Ingest first: the router tries routes in order, and sample
/// posts are the hot path; the console last (its `/console/...` pages are the app's).
pub const ALL: &[&Service] = &[
    &srs_ingest::SERVICE,
    &srs_experiments::SERVICE,
    &srs_exporter::SERVICE,
    &srs_control::SERVICE,
    &srs_notifier::SERVICE,
    &srs_console::SERVICE,
];

/// The services `--services` names (comma-separated), in [`ALL`]'s order; every one without it.
pub fn chosen(list: Option<&str>) -> anyhow::Result<Vec<&'static Service>> {
    let Some(list) = list else { return Ok(ALL.to_vec()) };
    let names: Vec<&str> = list.split(',').map(str::trim).filter(|name| !name.is_empty()).collect();
    if let Some(unknown) = names.iter().find(|name| !ALL.iter().any(|service| service.name == **name)) {
        let known: Vec<&str> = ALL.iter().map(|service| service.name).collect();
        anyhow::bail!("--services: no service \"{unknown}\" (known: {})", known.join(", "));
    }
    if names.is_empty() {
        anyhow::bail!("--services: name at least one service");
    }
    Ok(ALL.iter().copied().filter(|service| names.contains(&service.name)).collect())
}

pub async fn serve(settings: Settings, services: &[&Service]) -> anyhow::Result<()> {
    srs_common::service::serve("srs", settings, services).await
}
