//! The exporter: streams an experiment from the store into Parquet files (one per participant,
//! UTC date and sensor type, typed columns, sorted by `ts`, zstd) plus metadata JSON and a
//! manifest with every file's rows, bytes and SHA-256 — with memory bounded by one row group
//! per open file, whatever the experiment's size.
//!
//! This library holds the export itself, which `srs export` runs offline; the export job
//! service (HTTP endpoints, work queue, downloads) builds on it.

mod export;
mod hashing;
mod metadata;
pub mod sensor_file;

pub use export::{export_dir, export_experiment, sample_query, ExportError, Exported};
