//! Routes the store's time-ordered samples to the Parquet file of their participant, UTC day and
//! sensor type. It runs on a blocking thread (Parquet encoding and zstd are CPU work that must
//! not stall the async runtime) and keeps memory bounded two ways: files of a day the stream
//! has left are finished at once, and when the open files together buffer more than
//! [`MAX_BUFFERED_ROWS`], the fullest one writes its buffer out as a row group early.

use crate::sensor_file::{FileError, SensorFile, Written};
use srs_common::model::StoredSample;
use srs_common::sensors::{SensorCatalog, SensorType};
use srs_common::time::{day_of_ns, day_to_date};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Rows all open files may buffer together before the fullest is written out early. Several
/// participants recorded on one day keep several files open; this caps what they hold
/// (roughly 100-200 bytes a row) whatever the number of files. Measured on 2M samples (before
/// timestamps were delta-encoded): an export process peaked at 138 / 152 / 171 MiB with
/// 65,536 / 131,072 / 262,144, the smaller caps writing smaller row groups (+6% / +2.6% output).
pub const MAX_BUFFERED_ROWS: usize = 131_072;

/// (participant id, day number, sensor type)
pub type FileKey = (Arc<str>, i64, Arc<str>);

pub struct SampleRouter<'a> {
    dir: PathBuf,
    sensors: &'a SensorCatalog,
    folders: &'a HashMap<String, String>,
    open: HashMap<FileKey, SensorFile>,
    written: Vec<(FileKey, Written)>,
    current_day: i64,
    buffered: usize,
}

impl<'a> SampleRouter<'a> {
    /// Files go to `dir/{folder of the participant}/{YYYY-MM-DD}/{type}.parquet`.
    pub fn new(dir: PathBuf, sensors: &'a SensorCatalog, folders: &'a HashMap<String, String>) -> Self {
        Self { dir, sensors, folders, open: HashMap::new(), written: Vec::new(), current_day: i64::MIN, buffered: 0 }
    }

    /// Appends samples that follow every sample appended before in `ts` order.
    pub fn append(&mut self, samples: &[StoredSample]) -> Result<(), FileError> {
        for sample in samples {
            let day = day_of_ns(sample.ts);
            if day > self.current_day {
                self.finish_days_before(day)?;
                self.current_day = day;
            }
            let key = (sample.participant_id.clone(), day, sample.sensor_type.clone());
            let file = match self.open.entry(key) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    let folder = self
                        .folders
                        .get(&*sample.participant_id)
                        .cloned()
                        .unwrap_or_else(|| crate::paths::safe_name(&sample.participant_id));
                    let path = self.dir.join(folder).join(day_to_date(day)).join(format!("{}.parquet", sample.sensor_type));
                    let sensor_type =
                        self.sensors.sensor_type(&sample.sensor_type).cloned().unwrap_or_else(|| untyped(&sample.sensor_type));
                    entry.insert(SensorFile::create(path, &sensor_type)?)
                }
            };
            let before = file.buffered();
            file.append(sample)?;
            // A full row group is written by the file itself; track what stays buffered.
            self.buffered = self.buffered + file.buffered() - before;
            if self.buffered > MAX_BUFFERED_ROWS {
                self.write_out_fullest()?;
            }
        }
        Ok(())
    }

    /// Finishes every open file and returns all files written, each with its group.
    pub fn finish(mut self) -> Result<Vec<(FileKey, Written)>, FileError> {
        for (key, file) in self.open.drain() {
            self.written.push((key, file.finish()?));
        }
        Ok(self.written)
    }

    fn finish_days_before(&mut self, day: i64) -> Result<(), FileError> {
        let done: Vec<FileKey> = self.open.keys().filter(|(_, d, _)| *d < day).cloned().collect();
        for key in done {
            if let Some(file) = self.open.remove(&key) {
                self.buffered -= file.buffered();
                self.written.push((key, file.finish()?));
            }
        }
        Ok(())
    }

    fn write_out_fullest(&mut self) -> Result<(), FileError> {
        if let Some(file) = self.open.values_mut().max_by_key(|f| f.buffered()) {
            self.buffered -= file.buffered();
            file.write_row_group()?;
        }
        Ok(())
    }
}

/// A sensor type no longer in the sensors file: its samples keep the fixed columns.
fn untyped(name: &str) -> SensorType {
    SensorType {
        name: name.to_owned(),
        description: None,
        fields: Vec::new(),
        commands: Vec::new(),
        on_recording_start: None,
        on_recording_stop: None,
    }
}
