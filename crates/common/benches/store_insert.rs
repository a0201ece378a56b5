//! Store benchmark (scripts/bench-store.sh): the same realistic samples inserted in batches of
//! 1,000 through our SQLite store (compressed blocks) and, as baselines in the same run, through
//! plain rusqlite prepared-statement loops with the same pragmas: into one row per sample with
//! the dedup and time indexes SRS used before blocks (the layout the store had), and into a bare
//! table without any index (the ceiling of a row loop). Prints rows/s, ratios and bytes on disk
//! per sample. With SRS_BENCH_MONGODB_URI (a replica set; the GitLab bench-mongodb job), also
//! MongoStore's buckets against the one document per sample it stored before them.
//!
//! SRS_BENCH_SAMPLES sets the number of samples (default 5,000,000).

use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{Acknowledgment, DatabaseOptions, IndexOptions, ReadConcern, WriteConcern};
use mongodb::IndexModel;
use srs_common::model::{new_id, Experiment, NewSample, Participant, Recording, RecordingStamp};
use srs_common::store::mongo::MongoStore;
use srs_common::store::sqlite::SqliteStore;
use srs_common::store::Store;
use std::sync::Arc;
use std::time::Instant;

/// Samples per insert: 1,000 (what batched ingest commits), or `SRS_BENCH_BATCH` (ingest at one
/// sample per request commits about 20 per batch).
static BATCH: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| std::env::var("SRS_BENCH_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000));
const START_NS: i64 = 1_795_420_800_000_000_000; // 2026-11-23T00:00:00Z

/// The lab's sensors and their rates: ECG at 250 Hz with ids, eye tracker at 120 Hz, two IMUs
/// at 100 Hz, plus door and CO2 now and then — interleaved in time as ingest would commit them.
fn realistic_samples(count: usize, stamp: &Arc<RecordingStamp>) -> Vec<NewSample> {
    let sensors: [(&str, &str, u32); 5] =
        [("ecg-1", "ecg", 250), ("eye-1", "eye_tracker", 120), ("imu-left", "imu", 100), ("imu-right", "imu", 100), ("co2-1", "co2", 1)];
    let ids: Vec<(Arc<str>, Arc<str>)> = sensors.iter().map(|(id, kind, _)| (Arc::from(*id), Arc::from(*kind))).collect();
    let mut samples = Vec::with_capacity(count);
    let mut tick: i64 = 0;
    while samples.len() < count {
        // One millisecond of time: every sensor whose period divides it emits.
        for (index, (_, _, hz)) in sensors.iter().enumerate() {
            let period_ms = 1_000 / i64::from(*hz);
            if tick % period_ms != 0 || samples.len() >= count {
                continue;
            }
            let ts = START_NS + tick * 1_000_000 + index as i64;
            let n = tick / period_ms;
            let values = match index {
                0 => format!(
                    "{{\"lead_i\":{:.4},\"lead_ii\":{:.4},\"heart_rate\":{}}}",
                    (n as f64 * 0.1).sin(),
                    (n as f64 * 0.1).cos(),
                    60 + n % 30
                ),
                1 => format!(
                    "{{\"gaze_x\":{:.4},\"gaze_y\":{:.4},\"pupil_left\":3.1,\"pupil_right\":3.2,\"valid\":true}}",
                    (n % 1000) as f64 / 1000.0,
                    (n % 700) as f64 / 700.0
                ),
                2 | 3 => format!(
                    "{{\"acc_x\":{:.3},\"acc_y\":0.02,\"acc_z\":9.81,\"gyro_x\":0.001,\"gyro_y\":{:.3},\"gyro_z\":0.0}}",
                    (n % 100) as f64 / 50.0,
                    (n % 17) as f64 / 10.0
                ),
                _ => format!("{{\"co2_ppm\":{},\"temperature\":21.5,\"humidity\":40.2}}", 420 + n % 50),
            };
            let (sensor_id, sensor_type) = ids[index].clone();
            let sample_id = (index == 0).then(|| format!("ecg-1:{n}"));
            samples.push(NewSample {
                sensor_id,
                sensor_type,
                ts,
                received_at: ts + 40_000_000,
                sample_id,
                values,
                stamp: Some(stamp.clone()),
            });
        }
        tick += 1;
    }
    samples
}

/// An active experiment with a running recording in `store`; the samples' stamp.
async fn prepare(store: &dyn Store) -> Arc<RecordingStamp> {
    let participant = Participant { id: new_id(), code: "P01".into(), attributes: Default::default() };
    let experiment = Experiment {
        id: new_id(),
        name: "bench".into(),
        description: String::new(),
        owner_id: "o".into(),
        sensor_config_id: "c".into(),
        tasks: vec![],
        operators: vec![],
        participants: vec![participant.clone()],
        created_at: srs_common::time::now(),
        version: 0,
        samples_deleted_at: None,
    };
    store.insert_experiment(&experiment).await.expect("experiment");
    store.set_active_experiment(Some(&experiment.id)).await.expect("activate");
    let recording = Recording {
        id: new_id(),
        experiment_id: experiment.id,
        participant_id: participant.id,
        task_id: None,
        started_at: srs_common::time::now(),
        stopped_at: None,
    };
    store.start_recording(&recording).await.expect("recording");
    Arc::new(recording.stamp())
}

/// The row layout SRS had before blocks: one row per sample, values as JSON text, the two
/// partial dedup indexes and the time index. Without `indexes`, the bare table.
fn row_table(indexes: bool) -> String {
    let mut sql = "CREATE TABLE rows (experiment INTEGER NOT NULL, recording INTEGER NOT NULL, sensor INTEGER NOT NULL,
        ts INTEGER NOT NULL, received_at INTEGER NOT NULL, sample_id TEXT, vals TEXT NOT NULL);"
        .to_owned();
    if indexes {
        sql.push_str(
            "CREATE UNIQUE INDEX rows_dedup_id ON rows (sensor, sample_id) WHERE sample_id IS NOT NULL;
             CREATE UNIQUE INDEX rows_dedup_ts ON rows (sensor, ts) WHERE sample_id IS NULL;
             CREATE INDEX rows_by_experiment_ts ON rows (experiment, ts);",
        );
    }
    sql
}

/// A baseline: a plain prepared-statement loop, one transaction per batch, into [`row_table`].
fn raw_loop(path: &std::path::Path, indexes: bool, samples: &[NewSample]) -> f64 {
    let mut conn = rusqlite::Connection::open(path).expect("open");
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;")
        .expect("pragmas");
    conn.execute_batch(&row_table(indexes)).expect("table");
    let sensors = ["ecg-1", "eye-1", "imu-left", "imu-right", "co2-1"];
    let started = Instant::now();
    for batch in samples.chunks(*BATCH) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).expect("begin");
        {
            let mut insert = tx
                .prepare_cached("INSERT OR IGNORE INTO rows (experiment, recording, sensor, ts, received_at, sample_id, vals) VALUES (1, 1, ?1, ?2, ?3, ?4, ?5)")
                .expect("prepare");
            for sample in batch {
                let sensor = sensors.iter().position(|s| **s == *sample.sensor_id).unwrap_or(0) as i64 + 1;
                insert.execute(rusqlite::params![sensor, sample.ts, sample.received_at, sample.sample_id, sample.values]).expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").expect("checkpoint");
    rate
}

/// Bytes of the database file per sample, after a checkpoint.
fn bytes_per_sample(path: &std::path::Path, count: usize) -> f64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as f64 / count as f64
}

async fn our_store(store: &dyn Store, samples: Vec<NewSample>) -> f64 {
    let total = samples.len();
    let mut batches = Vec::with_capacity(total / *BATCH + 1);
    let mut iter = samples.into_iter();
    loop {
        let batch: Vec<NewSample> = iter.by_ref().take(*BATCH).collect();
        if batch.is_empty() {
            break;
        }
        batches.push(batch);
    }
    // The path ingest's writer thread takes: the blocking insert where the store has one
    // (SQLite), on this thread with no pool hop per batch; the async insert otherwise.
    let blocking = store.blocking_sample_insert();
    let started = Instant::now();
    let mut stored = 0;
    for batch in batches {
        let outcome = match &blocking {
            Some(insert) => insert(batch),
            None => store.insert_samples(batch).await,
        };
        stored += outcome.expect("insert").stored_count();
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    assert_eq!(stored, total, "every sample is new");
    rate
}

/// Storage bytes (data and indexes as MongoDB stores them, compressed) of `collections`.
async fn mongodb_bytes(db: &mongodb::Database, collections: &[&str]) -> i64 {
    let mut total = 0;
    for collection in collections {
        let stats = db.run_command(doc! {"collStats": *collection}).await.expect("collStats");
        let size = |key: &str| {
            stats
                .get(key)
                .and_then(|v| v.as_i64().or_else(|| v.as_i32().map(i64::from)).or_else(|| v.as_f64().map(|f| f as i64)))
                .unwrap_or(0)
        };
        total += size("storageSize") + size("totalIndexSize");
    }
    total
}

/// The baseline for MongoDB: the layout MongoStore had before buckets — one document per
/// sample, a unique (sensor, dk) index, the time and recording indexes — written as it was, one
/// transaction per batch that reads the batch's existing keys and inserts the new documents.
async fn mongodb_per_sample_documents(client: &mongodb::Client, db: &mongodb::Database, samples: &[NewSample]) -> f64 {
    let rows = db.collection::<Document>("rows");
    let unique = IndexOptions::builder().unique(true).build();
    rows.create_index(IndexModel::builder().keys(doc! {"sensor": 1, "dk": 1}).options(unique).build()).await.expect("index");
    rows.create_index(IndexModel::builder().keys(doc! {"exp": 1, "ts": 1, "_id": 1}).build()).await.expect("index");
    rows.create_index(IndexModel::builder().keys(doc! {"rec": 1}).build()).await.expect("index");
    let mut session = client.start_session().await.expect("session");
    let started = Instant::now();
    for batch in samples.chunks(*BATCH) {
        session.start_transaction().read_concern(ReadConcern::snapshot()).await.expect("begin");
        let keys: Vec<(String, String)> = batch
            .iter()
            .map(|s| (s.sensor_id.to_string(), s.sample_id.as_ref().map_or_else(|| format!("t:{}", s.ts), |id| format!("i:{id}"))))
            .collect();
        let any_of: Vec<Document> = keys.iter().map(|(sensor, key)| doc! {"sensor": sensor, "dk": key}).collect();
        let mut existing = rows.find(doc! {"$or": any_of}).projection(doc! {"dk": 1}).session(&mut session).await.expect("find");
        while let Some(found) = existing.next(&mut session).await {
            found.expect("existing key");
        }
        drop(existing);
        let documents: Vec<Document> = batch
            .iter()
            .zip(keys)
            .map(|(sample, (_, key))| {
                let values: serde_json::Value = serde_json::from_str(&sample.values).expect("values");
                let stamp = sample.stamp.as_deref().expect("stamp");
                doc! {
                    "exp": &stamp.experiment_id, "rec": &stamp.recording_id, "part": &stamp.participant_id, "task": stamp.task_id.as_deref(),
                    "sensor": &*sample.sensor_id, "type": &*sample.sensor_type, "ts": sample.ts, "recv": sample.received_at,
                    "dk": key, "sid": sample.sample_id.as_deref(), "v": Bson::try_from(values).expect("bson"),
                }
            })
            .collect();
        rows.insert_many(documents).session(&mut session).await.expect("insert");
        session.commit_transaction().await.expect("commit");
    }
    samples.len() as f64 / started.elapsed().as_secs_f64()
}

/// The same samples through the MongoDB store (SRS_BENCH_MONGODB_URI, a replica set) and, as
/// its baseline in the same run, the per-sample documents it stored before buckets, each in a
/// database of its own that is dropped afterwards; prints rows/s and bytes per sample.
async fn mongodb(uri: &str, mut samples: Vec<NewSample>) {
    let count = samples.len();
    let client = mongodb::Client::with_uri_str(uri).await.expect("connect to SRS_BENCH_MONGODB_URI");
    let majority = WriteConcern::builder().w(Acknowledgment::Majority).journal(true).build();
    let baseline_db = client.database_with_options(
        &format!("srs_bench_{}", new_id().replace('-', "")),
        DatabaseOptions::builder().write_concern(majority).build(),
    );
    let baseline = mongodb_per_sample_documents(&client, &baseline_db, &samples).await;
    let baseline_bytes = mongodb_bytes(&baseline_db, &["rows"]).await as f64 / count as f64;
    let _ = baseline_db.drop().await;

    let store = MongoStore::connect(uri, &format!("srs_bench_{}", new_id().replace('-', ""))).await.expect("connect");
    let stamp = prepare(&store).await;
    for sample in &mut samples {
        sample.stamp = Some(stamp.clone());
    }
    let rate = our_store(&store, samples).await;
    let bytes = mongodb_bytes(store.database(), &["sample_buckets", "sample_ids", "sample_sensors"]).await as f64 / count as f64;
    let _ = store.database().drop().await;
    println!(
        "  MongoDB, one document per sample, read keys + insert_many (before buckets): {baseline:>10.0} rows/s  {baseline_bytes:>6.1} bytes/sample"
    );
    println!(
        "  SRS MongoStore::insert_samples (buckets, deduplicated):                     {rate:>10.0} rows/s  {bytes:>6.1} bytes/sample"
    );
    println!("  ratio MongoStore / per-sample documents: {:.2}x   disk: {:.2}x", rate / baseline, bytes / baseline_bytes);
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("SRS_BENCH_SAMPLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    println!("store insert benchmark: {count} realistic samples, batches of {}, SQLite WAL synchronous=NORMAL", *BATCH);

    let store = SqliteStore::open(&dir.path().join("store.db")).await.expect("open store");
    let stamp = prepare(&store).await;
    let samples = realistic_samples(count, &stamp);
    let row_layout = raw_loop(&dir.path().join("rows.db"), true, &samples);
    let row_bytes = bytes_per_sample(&dir.path().join("rows.db"), count);
    let bare = raw_loop(&dir.path().join("bare.db"), false, &samples);
    let bare_bytes = bytes_per_sample(&dir.path().join("bare.db"), count);
    let ours = our_store(&store, samples).await;
    drop(store);
    {
        let conn = rusqlite::Connection::open(dir.path().join("store.db")).expect("open");
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").expect("checkpoint");
    }
    let our_bytes = bytes_per_sample(&dir.path().join("store.db"), count);
    println!("  raw loop, one row per sample + dedup and time indexes (SRS before blocks): {row_layout:>10.0} rows/s  {row_bytes:>6.1} bytes/sample");
    println!(
        "  raw loop, bare table without any index (a row loop's ceiling):            {bare:>10.0} rows/s  {bare_bytes:>6.1} bytes/sample"
    );
    println!(
        "  SRS SqliteStore, ingest's blocking insert (blocks, deduplicated):         {ours:>10.0} rows/s  {our_bytes:>6.1} bytes/sample"
    );
    println!(
        "  ratio store / row layout: {:.2}x   store / bare table: {:.2}x   disk store / row layout: {:.2}x",
        ours / row_layout,
        ours / bare,
        our_bytes / row_bytes
    );
    match std::env::var("SRS_BENCH_MONGODB_URI") {
        Ok(uri) if !uri.is_empty() => mongodb(&uri, realistic_samples(count, &stamp)).await,
        _ => println!("  MongoStore: not measured (set SRS_BENCH_MONGODB_URI to a replica set; the GitLab bench-mongodb job does)"),
    }
}
