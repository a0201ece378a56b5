//! `disk_low`: the free space of the data directory is under `notifier.disk_free_min_mb` or
//! under `notifier.disk_free_min_percent` of the disk, checked every `disk_check_secs`. It is
//! resolved only once the free space is back above both thresholds by a margin (hysteresis),
//! so a disk hovering at the threshold does not alert on every check.

use crate::alerts::{Alerts, Finding};
use serde_json::json;
use srs_common::shutdown::Background;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub const RULE: &str = "disk_low";

/// Resolved when the free space is this much above each threshold (10 %).
const HYSTERESIS: f64 = 1.1;
const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Space {
    pub free_bytes: u64,
    pub total_bytes: u64,
}

impl Space {
    fn free_mib(self) -> f64 {
        self.free_bytes as f64 / MIB
    }

    fn free_percent(self) -> f64 {
        if self.total_bytes == 0 {
            return 100.0;
        }
        self.free_bytes as f64 * 100.0 / self.total_bytes as f64
    }
}

/// The space of the filesystem holding `path`, as an unprivileged process may use it.
pub fn space(path: &Path) -> std::io::Result<Space> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(Space { free_bytes: stat.f_bavail.saturating_mul(stat.f_frsize), total_bytes: stat.f_blocks.saturating_mul(stat.f_frsize) })
}

/// What a check concludes.
#[derive(Debug, PartialEq)]
enum Verdict {
    Low,
    Recovered,
    /// Between the threshold and the margin: whatever holds, holds on.
    Unchanged,
}

fn judge(space: Space, min_mb: u64, min_percent: f64) -> Verdict {
    let (mib, percent) = (space.free_mib(), space.free_percent());
    if mib < min_mb as f64 || percent < min_percent {
        Verdict::Low
    } else if mib >= min_mb as f64 * HYSTERESIS && percent >= min_percent * HYSTERESIS {
        Verdict::Recovered
    } else {
        Verdict::Unchanged
    }
}

pub fn start(alerts: Arc<Alerts>, data_dir: PathBuf, background: &Background) {
    let stop = background.token.clone();
    background.spawn(async move {
        let mut checks = tokio::time::interval(Duration::from_secs(alerts.settings().disk_check_secs));
        checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = checks.tick() => check(&alerts, &data_dir).await,
            }
        }
    });
}

async fn check(alerts: &Alerts, data_dir: &Path) {
    let space = match space(data_dir) {
        Ok(space) => space,
        Err(error) => return tracing::warn!(%error, dir = %data_dir.display(), "cannot read the free space of the data directory"),
    };
    let settings = alerts.settings();
    let subject = data_dir.display().to_string();
    let outcome = match judge(space, settings.disk_free_min_mb, settings.disk_free_min_percent) {
        Verdict::Low => {
            let (mib, percent) = (space.free_mib(), space.free_percent());
            let finding = Finding {
                rule: RULE,
                subject: subject.clone(),
                message: format!("The data directory {subject} has {mib:.0} MiB free ({percent:.1} %)"),
                details: json!({
                    "directory": subject,
                    "free_mib": mib.round(),
                    "free_percent": (percent * 10.0).round() / 10.0,
                    "threshold": format!("{} MiB or {} %", settings.disk_free_min_mb, settings.disk_free_min_percent),
                    "path": "/console/dashboard",
                }),
            };
            alerts.fire(finding).await.map(|_| ())
        }
        Verdict::Recovered => alerts.resolve(RULE, &subject).await.map(|_| ()),
        Verdict::Unchanged => Ok(()),
    };
    if let Err(error) = outcome {
        tracing::warn!(%error, "cannot record the disk_low check; checking again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * 1024 * 1024;

    #[test]
    fn low_under_either_threshold_and_recovered_only_past_the_margin() {
        let disk = |free_gib: f64| Space { free_bytes: (free_gib * GIB as f64) as u64, total_bytes: 100 * GIB };
        assert_eq!(judge(disk(0.5), 1024, 5.0), Verdict::Low, "under the size");
        assert_eq!(judge(disk(4.0), 1024, 5.0), Verdict::Low, "under the share");
        assert_eq!(judge(disk(5.2), 1024, 5.0), Verdict::Unchanged, "within the margin");
        assert_eq!(judge(disk(5.6), 1024, 5.0), Verdict::Recovered);
        assert_eq!(judge(disk(1.05), 1024, 0.0), Verdict::Unchanged);
        assert_eq!(judge(disk(1.2), 1024, 0.0), Verdict::Recovered);
        assert_eq!(judge(disk(0.0), 0, 0.0), Verdict::Recovered, "thresholds of 0 never alert");
    }

    #[test]
    fn the_space_of_a_real_directory_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let space = space(dir.path()).expect("statvfs");
        assert!(space.total_bytes > 0 && space.free_bytes <= space.total_bytes, "{space:?}");
    }
}
