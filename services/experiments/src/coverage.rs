//! What the guarded delete may throw away: samples that a completed export wrote. An export
//! records how many samples it wrote per participant, UTC date and sensor type; samples are only
//! ever added (until a delete), so a group whose stored count equals what one export wrote is
//! wholly exported. Exports made before the last delete cover nothing recorded after it.

use chrono::{DateTime, Utc};
use srs_common::model::{ExportRecord, ExportStatus, SampleStat};
use std::collections::{BTreeMap, HashMap};

/// Per participant id: how many of its samples no completed export covers (none listed when
/// everything is covered), with the groups they are in.
pub fn uncovered(stats: &[SampleStat], exports: &[ExportRecord], deleted_at: Option<DateTime<Utc>>) -> BTreeMap<String, Vec<SampleStat>> {
    let mut exported: HashMap<(&str, &str, &str), u64> = HashMap::new();
    let eligible = exports.iter().filter(|e| e.status == ExportStatus::Done).filter(|e| deleted_at.is_none_or(|at| e.created_at > at));
    for group in eligible.flat_map(|e| &e.covered) {
        let key = (group.participant_id.as_str(), group.date.as_str(), group.sensor_type.as_str());
        let best = exported.entry(key).or_default();
        *best = (*best).max(group.count);
    }
    let mut missing: BTreeMap<String, Vec<SampleStat>> = BTreeMap::new();
    for stat in stats {
        let written = exported.get(&(stat.participant_id.as_str(), stat.date.as_str(), stat.sensor_type.as_str())).copied().unwrap_or(0);
        if written < stat.count {
            let gap = SampleStat { count: stat.count - written.min(stat.count), ..stat.clone() };
            missing.entry(stat.participant_id.clone()).or_default().push(gap);
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(participant: &str, date: &str, sensor_type: &str, count: u64) -> SampleStat {
        SampleStat { participant_id: participant.into(), date: date.into(), sensor_type: sensor_type.into(), count }
    }

    fn done(covered: Vec<SampleStat>) -> ExportRecord {
        ExportRecord { status: ExportStatus::Done, covered, ..ExportRecord::queued("e", Default::default()) }
    }

    #[test]
    fn a_group_is_covered_only_by_an_export_that_wrote_all_of_it() {
        let stats = [stat("p1", "2026-11-23", "ecg", 10), stat("p2", "2026-11-23", "ecg", 10)];
        let only_p1 = done(vec![stat("p1", "2026-11-23", "ecg", 10)]);
        let missing = uncovered(&stats, std::slice::from_ref(&only_p1), None);
        assert_eq!(missing.keys().collect::<Vec<_>>(), ["p2"]);
        assert_eq!(missing["p2"][0].count, 10);
        // An export that read p2 before its last samples arrived covers only part of it.
        let early_p2 = done(vec![stat("p2", "2026-11-23", "ecg", 7)]);
        assert_eq!(uncovered(&stats, &[only_p1.clone(), early_p2.clone()], None)["p2"][0].count, 3);
        let late_p2 = done(vec![stat("p2", "2026-11-23", "ecg", 10)]);
        assert!(uncovered(&stats, &[only_p1.clone(), early_p2, late_p2.clone()], None).is_empty());
        // Failed exports and exports older than the last delete cover nothing.
        let failed = ExportRecord { status: ExportStatus::Failed, ..late_p2.clone() };
        assert_eq!(uncovered(&stats, &[only_p1.clone(), failed], None).len(), 1);
        let deleted_later = Some(only_p1.created_at + chrono::Duration::seconds(1));
        assert_eq!(uncovered(&stats, &[only_p1, late_p2], deleted_later).len(), 2);
    }
}
