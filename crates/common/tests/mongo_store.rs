//! MongoDB-only properties: samples stored before buckets (one document per sample in
//! `samples`) are converted when the store connects, and read back, count and deduplicate as
//! before. Ignored unless asked for: scripts/test.sh runs it when SRS_TEST_MONGODB_URI names a
//! replica set (the GitLab pipeline has one).

mod mongodb {
    use ::mongodb::bson::{doc, Bson, Document};
    use futures_util::TryStreamExt;
    use srs_common::model::*;
    use srs_common::store::mongo::MongoStore;
    use srs_common::store::{ExperimentStore, RecordingStore, SampleStore};
    use srs_common::time::now;
    use std::sync::Arc;

    const T0: i64 = 1_795_392_000_000_000_000; // 2026-11-23T00:00:00Z
    /// More than one conversion chunk (10,000) and, for the ECG sensor, more than one block.
    const ECG_ROWS: i64 = 21_000;
    const DOOR_ROWS: i64 = 300;

    async fn connect(uri: &str, database: &str) -> MongoStore {
        MongoStore::connect(uri, database).await.expect("connect to SRS_TEST_MONGODB_URI")
    }

    /// An experiment with one stopped recording, through the store's own API.
    async fn recorded_experiment(store: &MongoStore) -> RecordingStamp {
        let experiment = Experiment {
            id: new_id(),
            name: "converted".into(),
            description: String::new(),
            owner_id: "o".into(),
            sensor_config_id: "c".into(),
            tasks: vec![Task { id: new_id(), name: "rest".into(), description: String::new() }],
            operators: vec![],
            participants: vec![Participant { id: new_id(), code: "P1".into(), attributes: Default::default() }],
            created_at: now(),
            version: 0,
            samples_deleted_at: None,
        };
        store.insert_experiment(&experiment).await.expect("experiment");
        store.set_active_experiment(Some(&experiment.id)).await.expect("activate");
        let recording = Recording {
            id: new_id(),
            experiment_id: experiment.id.clone(),
            participant_id: experiment.participants[0].id.clone(),
            task_id: Some(experiment.tasks[0].id.clone()),
            started_at: now(),
            stopped_at: None,
        };
        store.start_recording(&recording).await.expect("start");
        store.stop_recording(&recording.id, now()).await.expect("stop");
        recording.stamp()
    }

    fn ecg_ts(n: i64) -> i64 {
        // 250 Hz from 20 s before a window edge: the rows cross into the next window.
        T0 + 580_000_000_000 + n * 4_000_000
    }

    /// The documents the code before buckets wrote (its `to_document`).
    fn old_documents(stamp: &RecordingStamp) -> Vec<Document> {
        let base = |sensor: &str, kind: &str, ts: i64| {
            doc! {
                "exp": &stamp.experiment_id, "rec": &stamp.recording_id, "part": &stamp.participant_id, "task": stamp.task_id.as_deref(),
                "sensor": sensor, "type": kind, "ts": ts, "recv": ts + 40_000_000,
            }
        };
        let mut documents = Vec::new();
        for n in 0..ECG_ROWS {
            let mut document = base("ecg-1", "ecg", ecg_ts(n));
            document.insert("dk", format!("t:{}", ecg_ts(n)));
            document.insert("sid", Bson::Null);
            document.insert("v", doc! {"lead_i": n as f64 * 0.5, "lead_ii": n});
            documents.push(document);
        }
        for n in 0..DOOR_ROWS {
            let mut document = base("door-1", "door", T0 + n * 1_000_000_000);
            document.insert("dk", format!("i:door-1:{n}"));
            document.insert("sid", format!("door-1:{n}"));
            document.insert("v", doc! {"open": n % 2 == 0, "note": "lab 2"});
            documents.push(document);
        }
        documents
    }

    fn resent(stamp: &RecordingStamp) -> Vec<NewSample> {
        let stamp = Arc::new(stamp.clone());
        let ecg = (0..ECG_ROWS).step_by(97).map(|n| NewSample {
            sensor_id: "ecg-1".into(),
            sensor_type: "ecg".into(),
            ts: ecg_ts(n),
            received_at: ecg_ts(n),
            sample_id: None,
            values: format!(r#"{{"lead_i":{},"lead_ii":{n}}}"#, n as f64 * 0.5),
            stamp: Some(stamp.clone()),
        });
        // The same ids at other times: duplicates by id, not by time.
        let doors = (0..DOOR_ROWS).step_by(7).map(|n| NewSample {
            sensor_id: "door-1".into(),
            sensor_type: "door".into(),
            ts: T0 - 1,
            received_at: T0,
            sample_id: Some(format!("door-1:{n}")),
            values: r#"{"open":true}"#.into(),
            stamp: Some(stamp.clone()),
        });
        ecg.chain(doors).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "needs SRS_TEST_MONGODB_URI (a MongoDB replica set; the GitLab pipeline has one)"]
    async fn samples_stored_before_buckets_are_converted_on_connect() {
        let uri = std::env::var("SRS_TEST_MONGODB_URI").expect("SRS_TEST_MONGODB_URI must name a MongoDB server to run this suite");
        let database = format!("srs_test_{}", new_id().replace('-', ""));
        let store = connect(&uri, &database).await;
        let stamp = recorded_experiment(&store).await;
        store.database().collection::<Document>("samples").insert_many(old_documents(&stamp)).await.expect("old documents");

        let store = connect(&uri, &database).await;
        let collections = store.database().list_collection_names().await.expect("collections");
        assert!(!collections.contains(&"samples".to_string()), "the old collection is gone: {collections:?}");
        let total = (ECG_ROWS + DOOR_ROWS) as u64;
        let everything = SampleQuery { experiment_id: stamp.experiment_id.clone(), ..Default::default() };
        assert_eq!(store.count_samples(&everything).await.expect("count"), total);
        assert_eq!(store.count_recording_samples(&stamp.recording_id).await.expect("count"), total);
        let stats = store.sample_stats(&stamp.experiment_id).await.expect("stats");
        assert_eq!(stats.iter().map(|s| s.count).sum::<u64>(), total);

        let chunks: Vec<Vec<StoredSample>> = store.stream_samples(everything.clone()).try_collect().await.expect("stream");
        let rows: Vec<StoredSample> = chunks.into_iter().flatten().collect();
        assert_eq!(rows.len() as u64, total);
        assert!(rows.windows(2).all(|w| w[0].ts <= w[1].ts), "time order");
        let ecg: Vec<&StoredSample> = rows.iter().filter(|s| &*s.sensor_id == "ecg-1").collect();
        assert_eq!(ecg.len() as i64, ECG_ROWS);
        let sample = ecg[1234];
        assert_eq!((sample.ts, sample.received_at), (ecg_ts(1234), ecg_ts(1234) + 40_000_000));
        let fields: Vec<(&str, FieldValue<'_>)> = sample.values.iter().collect();
        assert_eq!(fields, vec![("lead_i", FieldValue::F64(617.0)), ("lead_ii", FieldValue::I64(1234))]);
        assert_eq!((&*sample.recording_id, &*sample.participant_id), (stamp.recording_id.as_str(), stamp.participant_id.as_str()));
        assert_eq!(sample.task_id.as_deref(), stamp.task_id.as_deref());
        assert!(sample.sample_id.is_none());
        let door = rows.iter().find(|s| s.sample_id.as_deref() == Some("door-1:3")).expect("door-1:3");
        // By name: the trip through JSON may reorder fields, and the export matches them by name.
        let mut fields: Vec<(&str, FieldValue<'_>)> = door.values.iter().collect();
        fields.sort_by_key(|(name, _)| *name);
        assert_eq!(fields, vec![("note", FieldValue::Str("lab 2")), ("open", FieldValue::Bool(false))]);

        // Converted samples still deduplicate, by time and by id.
        let again = resent(&stamp);
        let outcome = store.insert_samples(again.clone()).await.expect("resend");
        assert_eq!(outcome.duplicate_count(), again.len());
        // Connecting again converts nothing twice.
        let store = connect(&uri, &database).await;
        assert_eq!(store.count_samples(&everything).await.expect("count"), total);
        let _ = store.database().drop().await;
    }
}
