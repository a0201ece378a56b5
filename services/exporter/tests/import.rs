//! `import(export(experiment))` into an empty store reproduces every sample and the metadata;
//! importing again stores nothing new; a damaged export is refused before anything is written.

mod support;

use futures_util::TryStreamExt;
use serde_json::Value;
use srs_common::model::{ExportFilter, SampleQuery, StoredSample};
use srs_common::store::DynStore;
use srs_exporter::{import_export, ImportError};
use support::lab;

/// Every sample of the experiment in `ts` order, with its values parsed (numbers compared as
/// numbers: an `f64` field sent as `-1` comes back from Parquet as `-1.0`).
async fn samples(store: &DynStore, experiment_id: &str) -> Vec<(StoredSample, Value)> {
    let query = SampleQuery { experiment_id: experiment_id.to_owned(), ..SampleQuery::default() };
    let chunks: Vec<Vec<StoredSample>> = store.stream_samples(query).try_collect().await.expect("stream");
    let mut all: Vec<(StoredSample, Value)> = chunks
        .into_iter()
        .flatten()
        .map(|sample| {
            let values = normalized(serde_json::from_str(&sample.values.to_json()).expect("values"));
            (StoredSample { values: Default::default(), ..sample }, values)
        })
        .collect();
    // Same ts: order by sensor so both sides line up.
    all.sort_by(|a, b| (a.0.ts, &a.0.sensor_id).cmp(&(b.0.ts, &b.0.sensor_id)));
    all
}

fn normalized(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, normalized(v))).collect()),
        Value::Number(n) => n.as_f64().map_or(Value::Null, Value::from),
        other => other,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_of_an_export_reproduces_every_sample_once() {
    let lab = lab().await;
    lab.record(0, 3_000).await;
    lab.record(1, 700).await;
    let out = tempfile::tempdir().expect("out");
    let exported = support::export(&lab, out.path(), ExportFilter::default()).await.expect("export");

    let target = tempfile::tempdir().expect("target");
    let store = support::sqlite(target.path()).await;
    let imported = import_export(&store, &exported.dir).await.expect("import");
    assert_eq!((imported.samples, imported.stored), (exported.rows, exported.rows));
    let id = &lab.experiment.id;
    assert_eq!(samples(&store, id).await, samples(&lab.store, id).await);
    assert_eq!(store.get_experiment(id).await.expect("get"), lab.store.get_experiment(id).await.expect("get"));
    assert_eq!(store.list_recordings(id).await.expect("recordings"), lab.store.list_recordings(id).await.expect("recordings"));
    assert_eq!(store.sample_stats(id).await.expect("stats"), lab.store.sample_stats(id).await.expect("stats"));
    assert!(store.get_sensor_config(&lab.experiment.sensor_config_id).await.expect("config").is_some());

    let again = import_export(&store, &exported.dir).await.expect("import again");
    assert_eq!((again.samples, again.stored, again.records), (exported.rows, 0, 0), "a second import stores nothing new");
    let query = SampleQuery { experiment_id: id.clone(), ..SampleQuery::default() };
    assert_eq!(store.count_samples(&query).await.expect("count"), exported.rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_export_is_refused_before_anything_is_written() {
    let lab = lab().await;
    lab.record(0, 200).await;
    let out = tempfile::tempdir().expect("out");
    let exported = support::export(&lab, out.path(), ExportFilter::default()).await.expect("export");
    let victim = exported.files.iter().rfind(|f| f.path.ends_with(".parquet")).expect("a parquet file");
    let path = exported.dir.join(&victim.path);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[10] ^= 0xff;
    std::fs::write(&path, bytes).expect("write");

    let target = tempfile::tempdir().expect("target");
    let store = support::sqlite(target.path()).await;
    let refused = import_export(&store, &exported.dir).await;
    assert!(matches!(refused, Err(ImportError::Damaged(ref p, _)) if *p == victim.path), "{refused:?}");
    assert!(store.list_experiments().await.expect("list").is_empty(), "nothing is written");
    let query = SampleQuery { experiment_id: lab.experiment.id.clone(), ..SampleQuery::default() };
    assert_eq!(store.count_samples(&query).await.expect("count"), 0);
}
