//! Export benchmark (scripts/bench-export.sh). Records realistic samples — several sensor types,
//! participants recorded one after another, several days — in a SQLite store, exports them, and
//! in the same run measures the baselines on the same rows: our Parquet writer alone (Arrow
//! batches in memory -> zstd Parquet) and pyarrow's `write_table` with the same codec and
//! row-group size. Prints rows/s, ratios, output bytes and the export's peak RSS.
//!
//! SRS_BENCH_SAMPLES sets the number of samples (default 10,000,000).

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use srs_common::model::{new_id, Experiment, ExportFilter, NewSample, Participant, Recording, SensorConfig};
use srs_common::sensors::SensorCatalog;
use srs_common::store::{sqlite::SqliteStore, DynStore};
use srs_exporter::sensor_file::{writer_properties, ROW_GROUP_ROWS};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The allocator `srs` and `srs-exporter` run with, so the peak RSS is theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PARTICIPANTS: usize = 6;
const DAYS: i64 = 3;
const DAY_NS: i64 = 86_400_000_000_000;
const START_NS: i64 = 1_795_132_800_000_000_000; // 2026-11-20T00:00:00Z
const INSERT_BATCH: usize = 20_000;

/// (sensor, type, samples per second) of one session, all sensors at once.
const SENSORS: [(&str, &str, i64); 6] = [
    ("ecg-1", "ecg", 250),
    ("eye-1", "eye_tracker", 120),
    ("imu-left", "imu", 100),
    ("imu-right", "imu", 100),
    ("co2-1", "co2", 1),
    ("door-1", "door", 1),
];

fn values(sensor_type: &str, n: i64) -> String {
    let x = n as f64;
    match sensor_type {
        "ecg" => format!("{{\"lead_i\":{:.4},\"lead_ii\":{:.4},\"heart_rate\":{}}}", (x * 0.1).sin(), (x * 0.1).cos(), 60 + n % 30),
        "eye_tracker" => format!(
            "{{\"gaze_x\":{:.4},\"gaze_y\":{:.4},\"pupil_left\":3.1,\"pupil_right\":3.2,\"valid\":{}}}",
            (n % 1000) as f64 / 1000.0,
            (n % 700) as f64 / 700.0,
            n % 50 != 0
        ),
        "imu" => format!(
            "{{\"acc_x\":{:.3},\"acc_y\":0.02,\"acc_z\":9.81,\"gyro_x\":0.001,\"gyro_y\":{:.3},\"gyro_z\":0.0}}",
            (n % 100) as f64 / 50.0,
            (n % 17) as f64 / 10.0
        ),
        "co2" => format!("{{\"co2_ppm\":{},\"temperature\":21.5,\"humidity\":40.2}}", 420 + n % 50),
        _ => format!("{{\"open\":{}}}", n % 2 == 0),
    }
}

/// Records `total` samples: each participant one session a day, sessions one after another.
async fn record(store: &DynStore, experiment: &Experiment, total: usize) {
    let sessions = PARTICIPANTS * DAYS as usize;
    let per_session = total / sessions;
    let rate: i64 = SENSORS.iter().map(|s| s.2).sum();
    let catalog: Vec<(Arc<str>, Arc<str>)> = SENSORS.iter().map(|(id, kind, _)| (Arc::from(*id), Arc::from(*kind))).collect();
    for session in 0..sessions {
        let (day, participant) = (session as i64 / PARTICIPANTS as i64, session % PARTICIPANTS);
        let started = START_NS + day * DAY_NS + 8 * 3_600_000_000_000 + participant as i64 * 3_600_000_000_000;
        let recording = Recording {
            id: new_id(),
            experiment_id: experiment.id.clone(),
            participant_id: experiment.participants[participant].id.clone(),
            task_id: None,
            started_at: srs_common::time::from_ns(started),
            stopped_at: None,
        };
        store.start_recording(&recording).await.expect("start");
        let stamp = Arc::new(recording.stamp());
        let count = if session == sessions - 1 { total - per_session * (sessions - 1) } else { per_session };
        let mut batch = Vec::with_capacity(INSERT_BATCH);
        for i in 0..count as i64 {
            // Sensors interleave by their rates within each second.
            let second = i / rate;
            let mut slot = i % rate;
            let index = SENSORS.iter().position(|s| {
                let inside = slot < s.2;
                slot -= s.2;
                inside
            });
            let index = index.unwrap_or(0);
            let (sensor_id, sensor_type) = catalog[index].clone();
            let ts = started + second * 1_000_000_000 + (i % rate) * (1_000_000_000 / rate);
            let sample_id = (index == 0).then(|| format!("ecg-1:{session}:{i}"));
            let values = values(&sensor_type, i);
            batch.push(NewSample {
                sensor_id,
                sensor_type,
                ts,
                received_at: ts + 40_000_000,
                sample_id,
                values,
                stamp: Some(stamp.clone()),
            });
            if batch.len() == INSERT_BATCH {
                store.insert_samples(std::mem::take(&mut batch)).await.expect("insert");
            }
        }
        store.insert_samples(batch).await.expect("insert");
        store.stop_recording(&recording.id, srs_common::time::from_ns(started + 3_000_000_000_000)).await.expect("stop");
    }
}

/// Peak resident memory of this process, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(parquet_files(&path));
        } else if path.extension().is_some_and(|e| e == "parquet") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Our writer alone on the export's rows: batches in memory, timed writing (rows, seconds).
fn our_writer_alone(dir: &Path, scratch: &Path) -> (u64, f64) {
    let (mut rows, mut seconds) = (0u64, 0f64);
    for path in parquet_files(dir) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).expect("open")).expect("reader");
        let schema = reader.schema().clone();
        let batches: Vec<_> = reader.with_batch_size(ROW_GROUP_ROWS).build().expect("build").map(|b| b.expect("batch")).collect();
        let target = scratch.join("ours.parquet");
        let started = Instant::now();
        let mut writer =
            ArrowWriter::try_new(std::fs::File::create(&target).expect("create"), schema, Some(writer_properties())).expect("writer");
        for batch in &batches {
            writer.write(batch).expect("write");
            rows += batch.num_rows() as u64;
        }
        writer.close().expect("close");
        seconds += started.elapsed().as_secs_f64();
    }
    (rows, seconds)
}

/// The export as `srs export` or a fresh `srs-exporter` runs it: a process of its own that
/// opens the store and exports, so its peak RSS is the export's and not the recording's.
/// Set up by `main` (SRS_BENCH_EXPORT = "{store file}\n{export root}\n{experiment id}").
async fn export_in_this_process(setup: &str) {
    let mut lines = setup.lines();
    let (Some(db), Some(out), Some(experiment_id)) = (lines.next(), lines.next(), lines.next()) else { panic!("bad SRS_BENCH_EXPORT") };
    let store: DynStore = Arc::new(SqliteStore::open(Path::new(db)).await.expect("store"));
    let sensors = SensorCatalog::load(Path::new("")).expect("sensors");
    let started = Instant::now();
    let exported = srs_exporter::export_experiment(
        &store,
        &sensors,
        Path::new(out),
        experiment_id,
        ("bench", "bench"),
        &ExportFilter::default(),
        |_, _| std::ops::ControlFlow::Continue(()),
    )
    .await
    .expect("export");
    let report = serde_json::json!({
        "seconds": started.elapsed().as_secs_f64(),
        "rows": exported.rows,
        "parquet_files": exported.files.iter().filter(|f| f.path.ends_with(".parquet")).count(),
        "bytes": exported.files.iter().map(|f| f.bytes).sum::<u64>(),
        "dir": exported.dir,
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{report}");
}

#[tokio::main]
async fn main() {
    if let Ok(setup) = std::env::var("SRS_BENCH_EXPORT") {
        return export_in_this_process(&setup).await;
    }
    let total: usize = std::env::var("SRS_BENCH_SAMPLES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store: DynStore = Arc::new(SqliteStore::open(&dir.path().join("srs.db")).await.expect("store"));
    let now = srs_common::time::now();
    let config = SensorConfig { id: new_id(), name: "bench".into(), sensors: Vec::new(), created_at: now, updated_at: now, version: 0 };
    store.insert_sensor_config(&config).await.expect("config");
    let participants =
        (1..=PARTICIPANTS).map(|n| Participant { id: new_id(), code: format!("P{n:02}"), attributes: Default::default() }).collect();
    let experiment = Experiment {
        id: new_id(),
        name: "bench".into(),
        description: String::new(),
        owner_id: new_id(),
        sensor_config_id: config.id,
        tasks: Vec::new(),
        operators: Vec::new(),
        participants,
        created_at: now,
        version: 0,
        samples_deleted_at: None,
    };
    store.insert_experiment(&experiment).await.expect("experiment");
    store.set_active_experiment(Some(&experiment.id)).await.expect("activate");
    println!("recording {total} samples ({PARTICIPANTS} participants, {DAYS} days, {} sensors) ...", SENSORS.len());
    record(&store, &experiment, total).await;

    drop(store);

    let setup = format!("{}\n{}\n{}", dir.path().join("srs.db").display(), dir.path().join("exports").display(), experiment.id);
    let child =
        std::process::Command::new(std::env::current_exe().expect("own path")).env("SRS_BENCH_EXPORT", setup).output().expect("export");
    assert!(child.status.success(), "export failed: {}", String::from_utf8_lossy(&child.stderr));
    let report: serde_json::Value = serde_json::from_slice(&child.stdout).expect("export report");
    let (rows, export_secs) = (report["rows"].as_u64().unwrap_or(0), report["seconds"].as_f64().unwrap_or(f64::NAN));
    let (bytes, parquet_files, peak) =
        (report["bytes"].as_u64().unwrap_or(0), &report["parquet_files"], report["peak_rss_mib"].as_f64().unwrap_or(f64::NAN));
    let export_dir = PathBuf::from(report["dir"].as_str().expect("export dir"));
    let export_rate = rows as f64 / export_secs;

    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).expect("scratch");
    let (writer_rows, writer_secs) = our_writer_alone(&export_dir, &scratch);
    let writer_rate = writer_rows as f64 / writer_secs;
    let script = srs_testkit::workspace().join("scripts/bench/pyarrow_write.py");
    let output = std::process::Command::new(srs_testkit::python()).arg(script).arg(&export_dir).arg(&scratch).output().expect("python");
    assert!(output.status.success(), "pyarrow baseline failed: {}", String::from_utf8_lossy(&output.stderr));
    let baseline: serde_json::Value = serde_json::from_slice(&output.stdout).expect("pyarrow report");
    let pyarrow_rows = baseline["rows"].as_u64().unwrap_or(0);
    assert_eq!((writer_rows, pyarrow_rows), (rows, rows), "every measurement saw every row");
    let pyarrow = |run: &str| {
        let seconds = baseline[run]["seconds"].as_f64().unwrap_or(f64::NAN);
        (pyarrow_rows as f64 / seconds, baseline[run]["bytes"].as_f64().unwrap_or(f64::NAN) / 1048576.0)
    };
    let (pyarrow_rate, pyarrow_mib) = pyarrow("default");
    let (same_rate, same_mib) = pyarrow("same_encodings");

    println!(
        "export (SQLite store -> {parquet_files} Parquet files + JSON, a process of its own): {rows} rows in {export_secs:.1} s = {export_rate:.0} rows/s"
    );
    println!(
        "  output {:.1} MiB ({:.1} bytes/row); the exporting process's peak RSS {peak:.0} MiB",
        bytes as f64 / 1048576.0,
        bytes as f64 / rows as f64
    );
    println!("our Parquet writer alone (same rows, in memory): {writer_rate:.0} rows/s");
    println!(
        "pyarrow write_table (same rows, zstd, 65,536-row groups, its default encodings): {pyarrow_rate:.0} rows/s, {pyarrow_mib:.1} MiB"
    );
    println!("pyarrow write_table (the same, with our encodings: delta timestamps): {same_rate:.0} rows/s, {same_mib:.1} MiB");
    println!("ratio our writer / pyarrow: {:.2}x (with our encodings: {:.2}x)", writer_rate / pyarrow_rate, writer_rate / same_rate);
    println!("ratio whole export / pyarrow writing alone: {:.2}x", export_rate / pyarrow_rate);
}
