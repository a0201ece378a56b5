//! `srs backup --out FILE` and `srs restore FILE [--force]`: the lab's metadata backup (users,
//! device tokens, sensor configs, experiments, recordings, logbook, progress, export records).
//! Samples are not in it: they leave through exports.

use anyhow::Context;
use srs_common::store::backup::{self, Backup};
use srs_common::Settings;
use std::io::Write;
use std::path::Path;

pub async fn backup(settings: &Settings, out: &Path) -> anyhow::Result<()> {
    let store = srs_common::store::open(settings).await.context("cannot open the store")?;
    let snapshot = backup::take(&store).await.context("cannot read the store")?;
    let json = serde_json::to_vec_pretty(&snapshot)?;
    write_private_atomically(out, &json).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "backed up {} users, {} sensor configs, {} experiments, {} recordings, {} logbook entries to {}",
        snapshot.users.len(),
        snapshot.sensor_configs.len(),
        snapshot.experiments.len(),
        snapshot.recordings.len(),
        snapshot.logbook.len(),
        out.display()
    );
    Ok(())
}

pub async fn restore(settings: &Settings, file: &Path, force: bool) -> anyhow::Result<()> {
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let snapshot: Backup = serde_json::from_slice(&text).with_context(|| format!("{} is not an SRS backup", file.display()))?;
    let store = srs_common::store::open(settings).await.context("cannot open the store")?;
    if !force && !backup::is_empty(&store).await? {
        anyhow::bail!("the store is not empty; restore into an empty store, or pass --force to write the backup over it");
    }
    let summary = backup::restore(&store, &snapshot, force).await.context("restore failed")?;
    println!("restored {} records from {} ({} already present and kept)", summary.written, file.display(), summary.kept);
    Ok(())
}

/// Writes `bytes` to `path` readable by the owner only (the file holds password hashes),
/// through a temporary file and a rename so a crash never leaves half a backup.
fn write_private_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temporary = tempfile::Builder::new().prefix(".srs-backup").tempfile_in(dir)?;
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    Ok(())
}
