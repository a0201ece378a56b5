//! Where an export's files live, and names made safe for paths: participant codes are free
//! text, and a download names a file by its path inside the export.

use srs_common::model::Experiment;
use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

/// Where `export_id` of `experiment_id` lives under `root`.
pub fn export_dir(root: &Path, experiment_id: &str, export_id: &str) -> PathBuf {
    root.join(experiment_id).join(export_id)
}

/// Where one attempt of an export is written; renamed to [`export_dir`] when complete. Each
/// attempt has its own, so an attempt that lost its job to another never writes into the
/// other's files.
pub fn partial_dir(root: &Path, experiment_id: &str, export_id: &str, attempt: &str) -> PathBuf {
    root.join(experiment_id).join(format!("{export_id}.{}.partial", safe_name(attempt)))
}

/// Whether `name` (a directory under the experiment's folder) is a partial of `export_id`.
pub fn is_partial_of(name: &str, export_id: &str) -> bool {
    name.strip_prefix(export_id).is_some_and(|rest| rest.starts_with('.') && rest.ends_with(".partial"))
}

/// `text` as one safe path component: letters, digits, `-`, `_` and `.` are kept, anything
/// else becomes `_`; never empty, never `.` or `..`.
pub fn safe_name(text: &str) -> String {
    let name: String = text.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        format!("_{name}")
    } else {
        name
    }
}

/// Directory name per participant id: the code made safe, unique within the export.
pub fn participant_folders(experiment: &Experiment) -> HashMap<String, String> {
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    let mut folders = HashMap::new();
    for participant in &experiment.participants {
        let mut name = safe_name(&participant.code);
        let count = taken.entry(name.clone()).or_default();
        *count += 1;
        if *count > 1 {
            name = format!("{name}-{}", *count);
        }
        folders.insert(participant.id.clone(), name);
    }
    folders
}

/// `path` relative to `dir`, with `/` separators (as the manifest lists it).
pub fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// The file `relative` names inside `dir`, if it is a plain relative path (no `..`, no root,
/// no empty or `.` parts) — so it can never point outside `dir`.
pub fn inside(dir: &Path, relative: &str) -> Option<PathBuf> {
    let path = Path::new(relative);
    let plain = !relative.is_empty()
        && !relative.contains('\\')
        && relative.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then(|| dir.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_stay_one_component() {
        assert_eq!(safe_name("P01"), "P01");
        assert_eq!(safe_name("P/02"), "P_02");
        assert_eq!(safe_name(".."), "_..");
        assert_eq!(safe_name(""), "_");
        assert_eq!(safe_name("Zoë 3"), "Zo__3");
    }

    #[test]
    fn only_plain_relative_paths_are_inside() {
        let dir = Path::new("/exports/e/x");
        assert_eq!(inside(dir, "P01/2026-11-20/ecg.parquet"), Some(dir.join("P01/2026-11-20/ecg.parquet")));
        for bad in ["", "../x", "P01/../../y", "/etc/passwd", "a//b", "./a", "a\\..\\b", "a/"] {
            assert_eq!(inside(dir, bad), None, "{bad}");
        }
    }
}
