//! The store contract: every backend must pass every check here. Always runs against SQLite;
//! runs against MongoDB when `SRS_TEST_MONGODB_URI` is set (each test in a fresh database).

use futures_util::TryStreamExt;
use srs_common::model::*;
use srs_common::store::{DynStore, SampleFate, StoreError, SAMPLE_CHUNK};
use srs_common::time::{now, to_ns, Timestamp};
use std::sync::Arc;

async fn sqlite_store() -> (DynStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = srs_common::store::sqlite::SqliteStore::open(&dir.path().join("srs.db")).await.expect("open sqlite");
    (Arc::new(store), dir)
}

async fn mongo_store() -> Option<srs_common::store::mongo::MongoStore> {
    let uri = std::env::var("SRS_TEST_MONGODB_URI").ok().filter(|u| !u.is_empty())?;
    let database = format!("srs_test_{}", new_id().replace('-', ""));
    let store = srs_common::store::mongo::MongoStore::connect(&uri, &database).await.expect("connect to SRS_TEST_MONGODB_URI");
    Some(store)
}

/// `contract!(aggregate: checks...)`: the checks of one store trait, as
/// `aggregate::sqlite::check` and `aggregate::mongodb::check`.
macro_rules! contract {
    ($aggregate:ident: $($check:ident),* $(,)?) => {
        mod $aggregate {
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $check() {
                        let (store, _dir) = super::super::sqlite_store().await;
                        super::super::$check(store).await;
                    }
                )*
            }
            // Ignored unless asked for (`--run-ignored`): without a MongoDB server they cannot
            // run, and a test that did not run must not be reported as passed. scripts/test.sh
            // runs them when SRS_TEST_MONGODB_URI is set and lists them as skipped otherwise.
            mod mongodb {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    #[ignore = "needs SRS_TEST_MONGODB_URI (a MongoDB replica set; the GitLab pipeline has one)"]
                    async fn $check() {
                        let mongo = super::super::mongo_store().await.expect("SRS_TEST_MONGODB_URI must name a MongoDB server to run this suite");
                        super::super::$check(std::sync::Arc::new(mongo.clone())).await;
                        let _ = mongo.database().drop().await;
                    }
                )*
            }
        }
    };
}

contract!(users: users_are_unique_by_username, refresh_tokens_rotate_and_reuse_revokes_the_family, device_tokens_are_found_by_hash_and_revoked);
contract!(sensor_configs: sensor_configs_round_trip, sensor_config_updates_refuse_stale_versions);
contract!(experiments: experiment_updates_are_atomic, exactly_one_experiment_is_active, logbook_and_progress);
contract!(recordings: at_most_one_recording_runs, activation_and_recording_start_never_interleave);
contract!(
    devices: device_commands_keep_their_first_outcome,
    device_holds_lapse_unless_renewed_and_move_with_the_socket,
    held_devices_are_listed_with_their_last_status_while_held,
);
contract!(alerts: one_alert_fires_per_condition_until_it_is_resolved, each_delivery_goes_to_one_sender_and_keeps_its_outcome);
contract!(exports: export_claims_are_exclusive, export_records);
contract!(
    samples: samples_without_a_stamp_go_to_the_recording_running_at_commit,
    samples_are_deduplicated,
    concurrent_copies_of_a_batch_for_two_recordings_store_each_sample_once,
    retries_overlapping_stored_batches_store_only_what_is_new,
    time_ranges_count_what_they_stream,
    deleted_samples_free_their_client_ids,
    samples_stream_in_time_order_with_filters,
    samples_sharing_a_timestamp_stream_once_across_chunks,
    sample_stats_and_deletion,
);

fn user(name: &str) -> User {
    User {
        id: new_id(),
        username: name.into(),
        role: Role::Experimenter,
        email: None,
        password_hash: "$argon2id$x".into(),
        created_at: now(),
    }
}

fn experiment(owner: &str) -> Experiment {
    Experiment {
        id: new_id(),
        name: "Sleep study".into(),
        description: String::new(),
        owner_id: owner.into(),
        sensor_config_id: new_id(),
        tasks: vec![Task { id: new_id(), name: "rest".into(), description: String::new() }],
        operators: vec![],
        participants: vec![
            Participant { id: new_id(), code: "P01".into(), attributes: Default::default() },
            Participant { id: new_id(), code: "P02".into(), attributes: Default::default() },
        ],
        created_at: now(),
        version: 0,
        samples_deleted_at: None,
    }
}

fn recording(experiment: &Experiment, participant: usize) -> Recording {
    Recording {
        id: new_id(),
        experiment_id: experiment.id.clone(),
        participant_id: experiment.participants[participant].id.clone(),
        task_id: Some(experiment.tasks[0].id.clone()),
        started_at: now(),
        stopped_at: None,
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("valid time")
}

fn sample(stamp: &Arc<RecordingStamp>, sensor: &str, sensor_type: &str, ts: i64, id: Option<&str>) -> NewSample {
    NewSample {
        sensor_id: Arc::from(sensor),
        sensor_type: Arc::from(sensor_type),
        ts,
        received_at: ts + 1_000,
        sample_id: id.map(str::to_owned),
        values: format!("{{\"level\":{}}}", ts % 1000),
        stamp: Some(stamp.clone()),
    }
}

async fn users_are_unique_by_username(store: DynStore) {
    let alice = user("alice");
    store.insert_user(&alice).await.expect("insert");
    assert_eq!(store.insert_user(&user("alice")).await, Err(StoreError::Duplicate("user".into())));
    assert_eq!(store.get_user(&alice.id).await.expect("get"), Some(alice.clone()));
    assert_eq!(store.find_user_by_username("alice").await.expect("find").map(|u| u.id), Some(alice.id.clone()));
    assert_eq!(store.find_user_by_username("nobody").await.expect("find"), None);

    let bob = user("bob");
    store.insert_user(&bob).await.expect("insert bob");
    let mut renamed = bob.clone();
    renamed.username = "alice".into();
    assert_eq!(store.update_user(&renamed).await, Err(StoreError::Duplicate("user".into())));
    renamed.username = "robert".into();
    renamed.role = Role::Operator;
    store.update_user(&renamed).await.expect("update");
    assert_eq!(store.get_user(&bob.id).await.expect("get"), Some(renamed));
    assert_eq!(store.list_users().await.expect("list").len(), 2);

    store.delete_user(&alice.id).await.expect("delete");
    assert_eq!(store.delete_user(&alice.id).await, Err(StoreError::NotFound("user".into())));
    assert_eq!(store.update_user(&alice).await, Err(StoreError::NotFound("user".into())));
    assert_eq!(store.list_users().await.expect("list").len(), 1);
}

fn refresh(id: &str, family: &str, user: &str) -> RefreshToken {
    RefreshToken {
        id: id.into(),
        family_id: family.into(),
        user_id: user.into(),
        expires_at: now() + chrono::Duration::days(1),
        used_at: None,
        revoked_at: None,
    }
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_family(store: DynStore) {
    store.insert_refresh_token(&refresh("r1", "f1", "u1")).await.expect("insert");
    store.insert_refresh_token(&refresh("other", "f2", "u1")).await.expect("insert second login");
    assert_eq!(store.rotate_refresh_token("r1", &refresh("r2", "f1", "u1"), now()).await.expect("rotate"), RefreshRotation::Rotated);
    assert_eq!(store.rotate_refresh_token("r2", &refresh("r3", "f1", "u1"), now()).await.expect("rotate"), RefreshRotation::Rotated);
    // r1 presented again: replay. The family is revoked, so the current r3 no longer rotates.
    assert_eq!(store.rotate_refresh_token("r1", &refresh("x", "f1", "u1"), now()).await.expect("reuse"), RefreshRotation::Reused);
    assert_eq!(store.rotate_refresh_token("r3", &refresh("r4", "f1", "u1"), now()).await.expect("revoked"), RefreshRotation::Reused);
    // Another login of the same user is untouched until the user's tokens are revoked.
    assert_eq!(store.rotate_refresh_token("other", &refresh("o2", "f2", "u1"), now()).await.expect("rotate"), RefreshRotation::Rotated);
    store.revoke_user_refresh_tokens("u1", now()).await.expect("revoke user");
    assert_eq!(store.rotate_refresh_token("o2", &refresh("o3", "f2", "u1"), now()).await.expect("revoked"), RefreshRotation::Reused);
    assert!(matches!(store.rotate_refresh_token("nope", &refresh("n", "f3", "u1"), now()).await, Err(StoreError::NotFound(_))));

    // Expired tokens are forgotten, per user; current ones stay.
    let expired = RefreshToken { expires_at: now() - chrono::Duration::hours(2), ..refresh("old", "f4", "u2") };
    store.insert_refresh_token(&expired).await.expect("insert expired");
    store.insert_refresh_token(&refresh("current", "f5", "u2")).await.expect("insert current");
    assert_eq!(store.prune_refresh_tokens("u2", now()).await.expect("prune"), 1);
    assert_eq!(store.prune_refresh_tokens("u2", now()).await.expect("prune again"), 0);
    assert_eq!(store.rotate_refresh_token("current", &refresh("next", "f5", "u2"), now()).await.expect("kept"), RefreshRotation::Rotated);
}

async fn device_tokens_are_found_by_hash_and_revoked(store: DynStore) {
    let token = DeviceToken { id: new_id(), sensor_id: "door-1".into(), token_hash: "ab".repeat(32), created_at: now(), revoked_at: None };
    store.insert_device_token(&token).await.expect("insert");
    assert_eq!(store.find_device_token(&token.token_hash).await.expect("find"), Some(token.clone()));
    assert_eq!(store.find_device_token("cd").await.expect("find"), None);
    assert_eq!(store.revoke_device_token("door-2", &token.id, now()).await, Err(StoreError::NotFound("device token".into())));
    let revoked_at = at("2026-11-23T10:00:00Z");
    store.revoke_device_token("door-1", &token.id, revoked_at).await.expect("revoke");
    let found = store.find_device_token(&token.token_hash).await.expect("find").expect("still there");
    assert_eq!(found.revoked_at, Some(revoked_at));
    assert_eq!(store.list_device_tokens().await.expect("list").len(), 1);
}

async fn sensor_configs_round_trip(store: DynStore) {
    let mut config = SensorConfig {
        id: new_id(),
        name: "default".into(),
        sensors: vec![ConfiguredSensor { id: "door-1".into(), sensor_type: "door".into(), name: "Lab door".into(), enabled: true }],
        created_at: now(),
        updated_at: now(),
        version: 0,
    };
    store.insert_sensor_config(&config).await.expect("insert");
    config.sensors[0].enabled = false;
    config = store.update_sensor_config(&config).await.expect("update");
    assert_eq!(config.version, 1);
    assert_eq!(store.get_sensor_config(&config.id).await.expect("get"), Some(config.clone()));
    assert_eq!(store.list_sensor_configs().await.expect("list"), vec![config.clone()]);
    config.id = new_id();
    assert_eq!(store.update_sensor_config(&config).await, Err(StoreError::NotFound("sensor config".into())));
}

fn config(sensors: &[(&str, &str, bool)]) -> SensorConfig {
    SensorConfig {
        id: new_id(),
        name: "config".into(),
        sensors: sensors
            .iter()
            .map(|(id, sensor_type, enabled)| ConfiguredSensor {
                id: (*id).into(),
                sensor_type: (*sensor_type).into(),
                name: (*id).into(),
                enabled: *enabled,
            })
            .collect(),
        created_at: now(),
        updated_at: now(),
        version: 0,
    }
}

async fn sensor_config_updates_refuse_stale_versions(store: DynStore) {
    let stored = config(&[("door-1", "door", true), ("ecg-1", "ecg", true)]);
    store.insert_sensor_config(&stored).await.expect("insert");
    // Eight writers that all read version 0: exactly one write lands, the others conflict.
    let mut writers = Vec::new();
    for i in 0..8 {
        let (store, mut change) = (store.clone(), stored.clone());
        change.name = format!("writer {i}");
        writers.push(tokio::spawn(async move { store.update_sensor_config(&change).await }));
    }
    let mut won = Vec::new();
    for writer in writers {
        match writer.await.expect("task") {
            Ok(written) => won.push(written),
            Err(error) => assert!(matches!(error, StoreError::Conflict(_)), "{error:?}"),
        }
    }
    assert_eq!(won.len(), 1, "one write from version 0");
    assert_eq!(store.get_sensor_config(&stored.id).await.expect("get"), Some(won[0].clone()));
    assert_eq!(won[0].version, 1);
}

async fn experiment_updates_are_atomic(store: DynStore) {
    let experiment = experiment("owner");
    store.insert_experiment(&experiment).await.expect("insert");
    assert_eq!(store.insert_experiment(&experiment).await, Err(StoreError::Duplicate("experiment".into())));

    // Eight concurrent attempts to add the same participant code: exactly one wins.
    let mut attempts = Vec::new();
    for _ in 0..8 {
        let (store, id) = (store.clone(), experiment.id.clone());
        attempts.push(tokio::spawn(async move {
            store
                .update_experiment(&id, &|e: &mut Experiment| {
                    if e.participants.iter().any(|p| p.code == "P03") {
                        return Err(StoreError::Duplicate("participant code".into()));
                    }
                    e.participants.push(Participant { id: new_id(), code: "P03".into(), attributes: Default::default() });
                    Ok(())
                })
                .await
        }));
    }
    let mut won = 0;
    for attempt in attempts {
        match attempt.await.expect("task") {
            Ok(_) => won += 1,
            Err(error) => assert_eq!(error, StoreError::Duplicate("participant code".into())),
        }
    }
    assert_eq!(won, 1);
    let stored = store.get_experiment(&experiment.id).await.expect("get").expect("exists");
    assert_eq!(stored.participants.iter().filter(|p| p.code == "P03").count(), 1);
    assert_eq!(stored.version, 1);

    let renamed = store
        .update_experiment(&experiment.id, &|e: &mut Experiment| {
            e.name = "Renamed".into();
            Ok(())
        })
        .await
        .expect("rename");
    assert_eq!((renamed.name.as_str(), renamed.version), ("Renamed", 2));
    let missing = store.update_experiment("nope", &|_: &mut Experiment| Ok(())).await;
    assert_eq!(missing, Err(StoreError::NotFound("experiment".into())));
    assert_eq!(store.list_experiments().await.expect("list").len(), 1);
}

async fn exactly_one_experiment_is_active(store: DynStore) {
    let (first, second) = (experiment("o"), experiment("o"));
    store.insert_experiment(&first).await.expect("insert");
    store.insert_experiment(&second).await.expect("insert");
    assert_eq!(store.active_experiment_id().await.expect("active"), None);
    assert_eq!(store.set_active_experiment(Some(&first.id)).await.expect("activate"), None);
    assert_eq!(store.set_active_experiment(Some(&second.id)).await.expect("activate"), Some(first.id.clone()));
    assert_eq!(store.active_experiment_id().await.expect("active"), Some(second.id.clone()));
    assert_eq!(store.set_active_experiment(Some("nope")).await, Err(StoreError::NotFound("experiment".into())));
    assert_eq!(store.active_experiment_id().await.expect("active"), Some(second.id.clone()));
    assert_eq!(store.set_active_experiment(None).await.expect("deactivate"), Some(second.id));
    assert_eq!(store.active_experiment_id().await.expect("active"), None);
}

async fn at_most_one_recording_runs(store: DynStore) {
    let experiment = experiment("o");
    store.insert_experiment(&experiment).await.expect("insert");
    // Only the active experiment records.
    let early = recording(&experiment, 0);
    assert_eq!(store.start_recording(&early).await, Err(StoreError::Conflict(srs_common::store::NOT_ACTIVE.into())));
    store.set_active_experiment(Some(&experiment.id)).await.expect("activate");
    // Two concurrent starts: exactly one succeeds, the other conflicts.
    let (a, b) = (recording(&experiment, 0), recording(&experiment, 1));
    let (ra, rb) = tokio::join!(store.start_recording(&a), store.start_recording(&b));
    let results = [ra, rb];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().any(|r| matches!(r, Err(StoreError::Conflict(_)))), "{results:?}");
    let running = store.running_recording().await.expect("running").expect("one runs");
    assert!(running.id == a.id || running.id == b.id);
    // No switching while it runs.
    assert!(matches!(store.set_active_experiment(None).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.deactivate_experiment(&experiment.id).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.active_experiment_id().await.expect("active"), Some(experiment.id.clone()));

    let stopped_at = at("2026-11-23T12:00:00Z");
    let stopped = store.stop_recording(&running.id, stopped_at).await.expect("stop");
    assert_eq!(stopped.stopped_at, Some(stopped_at));
    assert!(matches!(store.stop_recording(&running.id, stopped_at).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.stop_recording("nope", stopped_at).await, Err(StoreError::NotFound("recording".into())));
    assert_eq!(store.running_recording().await.expect("running"), None);

    let next = recording(&experiment, 1);
    store.start_recording(&next).await.expect("a new recording may start once the old one stopped");
    assert_eq!(store.get_recording(&next.id).await.expect("get"), Some(next.clone()));
    let listed: Vec<String> = store.list_recordings(&experiment.id).await.expect("list").into_iter().map(|r| r.id).collect();
    assert_eq!(listed, vec![running.id.clone(), next.id.clone()]);
    let mut orphan = recording(&experiment, 0);
    orphan.experiment_id = "nope".into();
    assert_eq!(store.start_recording(&orphan).await, Err(StoreError::NotFound("experiment".into())));
}

/// Deactivating and starting a recording at the same moment: one of them wins, never both —
/// a recording never runs without its experiment being the active one.
async fn activation_and_recording_start_never_interleave(store: DynStore) {
    let experiment = experiment("o");
    store.insert_experiment(&experiment).await.expect("insert");
    for _ in 0..20 {
        store.set_active_experiment(Some(&experiment.id)).await.expect("activate");
        let attempt = recording(&experiment, 0);
        let (started, deactivated) = tokio::join!(store.start_recording(&attempt), store.deactivate_experiment(&experiment.id));
        assert!(started.is_ok() != deactivated.is_ok(), "exactly one wins: {started:?} {deactivated:?}");
        let running = store.running_recording().await.expect("running");
        let active = store.active_experiment_id().await.expect("active");
        match running {
            Some(running) => {
                assert_eq!(active.as_deref(), Some(experiment.id.as_str()), "a recording runs only on the active experiment");
                store.stop_recording(&running.id, now()).await.expect("stop");
                store.deactivate_experiment(&experiment.id).await.expect("deactivate");
            }
            None => assert_eq!(active, None),
        }
    }
}

async fn export_claims_are_exclusive(store: DynStore) {
    let record = ExportRecord::queued("e1", ExportFilter::default());
    store.insert_export(&record).await.expect("insert");
    let claim = |owner: &str, now_ns: i64| ClaimRequest {
        export_id: record.id.clone(),
        owner: owner.into(),
        now_ns,
        lease_until_ns: now_ns + 1_000,
    };
    // Two workers at once: one runs the job.
    let (claim_a, claim_b) = (claim("a", 0), claim("b", 0));
    let (a, b) = tokio::join!(store.claim_export(&claim_a), store.claim_export(&claim_b));
    let outcomes = [a.expect("claim"), b.expect("claim")];
    let claimed: Vec<&ExportRecord> =
        outcomes.iter().filter_map(|o| if let ExportClaim::Claimed(r) = o { Some(r) } else { None }).collect();
    assert_eq!(claimed.len(), 1, "{outcomes:?}");
    assert!(outcomes.contains(&ExportClaim::Busy), "{outcomes:?}");
    let (first, owner) = (claimed[0].clone(), claimed[0].owner.clone().expect("owner"));
    assert_eq!((first.status, first.attempts), (ExportStatus::Running, 1));
    assert_eq!(store.claim_export(&claim("c", 999)).await.expect("claim"), ExportClaim::Busy, "the lease still runs");
    assert_eq!(store.list_running_exports().await.expect("running").iter().map(|r| &r.id).collect::<Vec<_>>(), [&record.id]);
    let mut progress = first.clone();
    progress.rows_written = 5;
    store.update_claimed_export(&progress, &owner).await.expect("the owner writes");
    // Its lease lapses (the worker died): another attempt takes over; the first is locked out.
    let ExportClaim::Claimed(second) = store.claim_export(&claim("c", 1_001)).await.expect("claim") else { panic!("lapsed lease") };
    assert_eq!((second.attempts, second.owner.as_deref(), second.rows_written), (2, Some("c"), 0));
    assert!(matches!(store.update_claimed_export(&progress, &owner).await, Err(StoreError::Conflict(_))));
    let done = ExportRecord { status: ExportStatus::Done, ..second.clone() };
    store.update_claimed_export(&done, "c").await.expect("the new owner finishes");
    assert_eq!(store.list_running_exports().await.expect("running"), vec![]);
    assert_eq!(store.claim_export(&claim("d", i64::MAX - 2_000)).await.expect("claim"), ExportClaim::Finished(done));
    let missing = ClaimRequest { export_id: "nope".into(), ..claim("d", 0) };
    assert_eq!(store.claim_export(&missing).await, Err(StoreError::NotFound("export".into())));
}

/// Ingest's samples carry no recording: the store attributes each to the recording running when
/// it commits, if its sensor is enabled in the experiment's config.
async fn samples_without_a_stamp_go_to_the_recording_running_at_commit(store: DynStore) {
    let sensors = config(&[("door-1", "door", true), ("ecg-1", "ecg", false)]);
    store.insert_sensor_config(&sensors).await.expect("config");
    let experiment = Experiment { sensor_config_id: sensors.id.clone(), ..experiment("o") };
    store.insert_experiment(&experiment).await.expect("insert");
    store.set_active_experiment(Some(&experiment.id)).await.expect("activate");
    let base = to_ns(&at("2026-11-23T10:00:00Z"));
    let live =
        |ts: i64| vec![NewSample { stamp: None, ..sample(&Arc::new(recording(&experiment, 0).stamp()), "door-1", "door", ts, None) }];
    let nothing_records = store.insert_samples(live(base)).await.expect("insert");
    assert_eq!((nothing_records.fates, nothing_records.recording_id), (vec![SampleFate::NotRecorded], None));

    let running = recording(&experiment, 1);
    store.start_recording(&running).await.expect("start");
    let mut batch = live(base + 1);
    batch.push(NewSample { sensor_id: Arc::from("ecg-1"), sensor_type: Arc::from("ecg"), ..live(base + 2).remove(0) });
    batch.extend(live(base + 1));
    let outcome = store.insert_samples(batch).await.expect("insert");
    assert_eq!(outcome.fates, vec![SampleFate::Stored, SampleFate::NotRecorded, SampleFate::Duplicate], "ecg-1 is disabled");
    assert_eq!(outcome.recording_id.as_deref(), Some(running.id.as_str()));
    let query = SampleQuery { experiment_id: experiment.id.clone(), ..Default::default() };
    let stored: Vec<StoredSample> = store.stream_samples(query).try_collect::<Vec<_>>().await.expect("read").concat();
    assert_eq!(stored.len(), 1);
    assert_eq!((&*stored[0].recording_id, &*stored[0].participant_id), (running.id.as_str(), running.participant_id.as_str()));
    assert_eq!(store.count_recording_samples(&running.id).await.expect("count"), 1);

    store.stop_recording(&running.id, now()).await.expect("stop");
    let after = store.insert_samples(live(base + 3)).await.expect("insert");
    assert_eq!((after.fates, after.recording_id), (vec![SampleFate::NotRecorded], None));
}

async fn device_commands_keep_their_first_outcome(store: DynStore) {
    let command = |sensor: &str, name: &str| DeviceCommand {
        id: new_id(),
        sensor_id: sensor.into(),
        command: name.into(),
        args: serde_json::json!({"fps": 30}),
        status: CommandStatus::Sent,
        ok: None,
        detail: None,
        sent_by: "u1".into(),
        sent_at: now(),
        acked_at: None,
    };
    let first = command("cam-1", "start_recording");
    store.insert_command(&first).await.expect("insert");
    assert!(matches!(store.insert_command(&first).await, Err(StoreError::Duplicate(_))));
    let timed_out = DeviceCommand { status: CommandStatus::Timeout, ..first.clone() };
    assert_eq!(store.finish_command(&timed_out).await.expect("finish"), timed_out);
    // A late ack changes nothing: the first outcome stays.
    let late = DeviceCommand { status: CommandStatus::Acked, ok: Some(true), acked_at: Some(now()), ..first.clone() };
    assert_eq!(store.finish_command(&late).await.expect("finish again"), timed_out);
    let second = command("cam-1", "snapshot");
    store.insert_command(&second).await.expect("insert");
    store.insert_command(&command("cam-2", "snapshot")).await.expect("insert");
    let acked = DeviceCommand {
        status: CommandStatus::Acked,
        ok: Some(false),
        detail: Some("no disk".into()),
        acked_at: Some(now()),
        ..second.clone()
    };
    store.finish_command(&acked).await.expect("ack");
    let history = store.list_commands("cam-1", 10).await.expect("list");
    assert_eq!(history, [acked, timed_out], "newest first, this device only");
    assert_eq!(store.list_commands("cam-1", 1).await.expect("list").len(), 1);
    let unknown = command("cam-1", "snapshot");
    assert!(matches!(store.finish_command(&unknown).await, Err(StoreError::NotFound(_))));
}

async fn device_holds_lapse_unless_renewed_and_move_with_the_socket(store: DynStore) {
    let t0 = now();
    let at = |secs: i64| t0 + chrono::Duration::seconds(secs);
    assert_eq!(store.device_holder("cam-1", t0).await.expect("holder"), None);
    store.hold_device(&device("cam-1"), "a", at(10)).await.expect("hold");
    store.hold_device(&device("cam-2"), "a", at(10)).await.expect("hold");
    assert_eq!(store.device_holder("cam-1", at(5)).await.expect("holder").as_deref(), Some("a"));
    assert_eq!(store.device_holder("cam-1", at(10)).await.expect("holder"), None, "a lapsed hold holds nothing");
    store.renew_device_holds("a", at(20)).await.expect("renew");
    assert_eq!(store.device_holder("cam-2", at(15)).await.expect("holder").as_deref(), Some("a"));
    // The device reconnects to b: b holds it, and a's late release or renewal changes nothing.
    store.hold_device(&device("cam-1"), "b", at(30)).await.expect("hold");
    store.release_device("cam-1", "a").await.expect("release");
    store.renew_device_holds("a", at(40)).await.expect("renew");
    assert_eq!(store.device_holder("cam-1", at(35)).await.expect("holder"), None, "b's hold ran out at 30, a's renewal did not touch it");
    assert_eq!(store.device_holder("cam-1", at(25)).await.expect("holder").as_deref(), Some("b"));
    store.release_device("cam-1", "b").await.expect("release");
    assert_eq!(store.device_holder("cam-1", at(25)).await.expect("holder"), None);
    assert_eq!(store.device_holder("cam-2", at(35)).await.expect("holder").as_deref(), Some("a"));
}

fn device(sensor_id: &str) -> ConnectedDevice {
    ConnectedDevice {
        sensor_id: sensor_id.into(),
        sensor_type: "camera".into(),
        connected_at: now(),
        last_status: None,
        last_status_at: None,
    }
}

async fn held_devices_are_listed_with_their_last_status_while_held(store: DynStore) {
    let t0 = now();
    let at = |secs: i64| t0 + chrono::Duration::seconds(secs);
    store.hold_device(&device("cam-2"), "a", at(10)).await.expect("hold");
    store.hold_device(&device("cam-1"), "b", at(20)).await.expect("hold");
    let mut status = device("cam-2");
    status.last_status = Some(serde_json::json!({"recording": true, "fps": 29.97, "frames": 12}));
    status.last_status_at = Some(at(1));
    store.update_held_device(&status, "a").await.expect("status");
    let mut stale = device("cam-1");
    stale.last_status = Some(serde_json::json!({"from": "a replica that lost it"}));
    store.update_held_device(&stale, "a").await.expect("not the holder: nothing changes");
    let listed = store.list_held_devices(at(5)).await.expect("list");
    assert_eq!(listed.iter().map(|d| d.sensor_id.as_str()).collect::<Vec<_>>(), ["cam-1", "cam-2"]);
    assert_eq!((listed[0].last_status.clone(), listed[1].clone()), (None, status));
    assert_eq!(store.list_held_devices(at(15)).await.expect("list").len(), 1, "a's hold lapsed");
    store.release_device("cam-1", "b").await.expect("release");
    assert!(store.list_held_devices(at(5)).await.expect("list").iter().all(|d| d.sensor_id != "cam-1"));
}

async fn logbook_and_progress(store: DynStore) {
    let experiment = experiment("o");
    store.insert_experiment(&experiment).await.expect("insert");
    for (i, message) in ["electrodes on", "baseline done", "participant sneezed"].iter().enumerate() {
        let entry = LogEntry {
            id: new_id(),
            experiment_id: experiment.id.clone(),
            at: at(&format!("2026-11-23T10:0{i}:00Z")),
            author: "op".into(),
            message: (*message).into(),
            recording_id: None,
        };
        store.append_log(&entry).await.expect("append");
    }
    let messages: Vec<String> = store.list_log(&experiment.id).await.expect("list").into_iter().map(|e| e.message).collect();
    assert_eq!(messages, vec!["electrodes on", "baseline done", "participant sneezed"]);
    assert!(store.list_log("other").await.expect("list").is_empty());

    let mut progress = Progress {
        experiment_id: experiment.id.clone(),
        participant_id: experiment.participants[0].id.clone(),
        task_id: experiment.tasks[0].id.clone(),
        status: ProgressStatus::InProgress,
        note: None,
        updated_at: now(),
        updated_by: "op".into(),
    };
    store.put_progress(&progress).await.expect("put");
    progress.status = ProgressStatus::Done;
    progress.note = Some("all good".into());
    store.put_progress(&progress).await.expect("replace");
    assert_eq!(store.list_progress(&experiment.id).await.expect("list"), vec![progress]);
}

async fn export_records(store: DynStore) {
    let mut first = ExportRecord {
        id: new_id(),
        experiment_id: "e1".into(),
        filter: ExportFilter { participant_ids: vec!["p".into()], from: Some("2026-11-01".into()), to: None, sensor_types: vec![] },
        status: ExportStatus::Queued,
        rows_written: 0,
        rows_total: 10,
        error: None,
        files: vec![],
        attempts: 0,
        created_at: now(),
        finished_at: None,
        covered: vec![],
        owner: None,
        lease_until_ns: None,
    };
    store.insert_export(&first).await.expect("insert");
    let second = ExportRecord { id: new_id(), experiment_id: "e2".into(), ..first.clone() };
    store.insert_export(&second).await.expect("insert");
    first.status = ExportStatus::Done;
    first.files.push(ExportFile { path: "manifest.json".into(), rows: 0, bytes: 10, sha256: "00".repeat(32) });
    first.covered = vec![SampleStat { participant_id: "p".into(), date: "2026-11-01".into(), sensor_type: "ecg".into(), count: 3 }];
    store.update_export(&first).await.expect("update");
    assert_eq!(store.get_export(&first.id).await.expect("get"), Some(first.clone()));
    let all: Vec<String> = store.list_exports(None).await.expect("list").into_iter().map(|e| e.id).collect();
    assert_eq!(all, vec![second.id.clone(), first.id.clone()], "newest first");
    assert_eq!(store.list_exports(Some("e1")).await.expect("list"), vec![first]);
}

async fn start(store: &DynStore, experiment: &Experiment, participant: usize) -> Arc<RecordingStamp> {
    if store.running_recording().await.expect("running").is_some() {
        let running = store.running_recording().await.expect("running").expect("some");
        store.stop_recording(&running.id, now()).await.expect("stop");
    }
    store.set_active_experiment(Some(&experiment.id)).await.expect("activate");
    let recording = recording(experiment, participant);
    store.start_recording(&recording).await.expect("start");
    Arc::new(recording.stamp())
}

async fn samples_are_deduplicated(store: DynStore) {
    let experiment = experiment("o");
    store.insert_experiment(&experiment).await.expect("insert");
    let stamp = start(&store, &experiment, 0).await;
    let base = to_ns(&at("2026-11-23T10:00:00Z"));
    let batch = vec![
        sample(&stamp, "ecg-1", "ecg", base, Some("ecg-1:1")),
        sample(&stamp, "ecg-1", "ecg", base + 1, Some("ecg-1:2")),
        sample(&stamp, "ecg-1", "ecg", base + 2, Some("ecg-1:1")), // same id inside the batch
        sample(&stamp, "door-1", "door", base, None),
        sample(&stamp, "door-1", "door", base, None), // same ts without id inside the batch
        sample(&stamp, "ecg-2", "ecg", base, Some("ecg-1:1")), // same id, other sensor: distinct
    ];
    let outcome = store.insert_samples(batch.clone()).await.expect("insert");
    use SampleFate::{Duplicate, Stored};
    assert_eq!(outcome.fates, vec![Stored, Stored, Duplicate, Stored, Duplicate, Stored]);
    assert_eq!((outcome.stored_count(), outcome.duplicate_count()), (4, 2));

    // A retried request is stored once.
    let retry = store.insert_samples(batch.clone()).await.expect("retry");
    assert_eq!(retry.stored_count(), 0);
    // An id-less sample and an id'd one at the same ts do not collide.
    let mixed = store.insert_samples(vec![sample(&stamp, "ecg-1", "ecg", base, None)]).await.expect("insert");
    assert_eq!(mixed.fates, vec![Stored]);

    let query = SampleQuery { experiment_id: experiment.id.clone(), ..Default::default() };
    assert_eq!(store.count_samples(&query).await.expect("count"), 5);
    assert_eq!(store.count_recording_samples(&stamp.recording_id).await.expect("count"), 5);
    assert_eq!(store.count_recording_samples("nope").await, Err(StoreError::NotFound("recording".into())));
    let mut orphan = (*stamp).clone();
    orphan.recording_id = "nope".into();
    assert!(store.insert_samples(vec![sample(&Arc::new(orphan), "ecg-1", "ecg", base + 99, None)]).await.is_err());
    assert_eq!(store.count_samples(&query).await.expect("count"), 5, "a failed batch stores nothing");
}

/// The same samples sent at once, stamped for two recordings (a re-sent import racing
/// another): no two batches share a recording counter, so only the store's per-sensor
/// guard keeps both from storing a sample the other has not committed yet.
async fn concurrent_copies_of_a_batch_for_two_recordings_store_each_sample_once(store: DynStore) {
    let experiment = experiment("o");
    store.insert_experiment(&experiment).await.expect("insert");
    let first = start(&store, &experiment, 0).await;
    let second = start(&store, &experiment, 1).await;
    let base = to_ns(&at("2026-11-23T10:00:00Z"));
    let batch = |stamp: &Arc<RecordingStamp>| -> Vec<NewSample> {
        let ids: Vec<String> = (0..50).map(|i| format!("imu-left:{i}")).collect();
        let plain = (0..200).map(|i| sample(stamp, "imu-left", "imu", base + i * 1_000_000, None));
        plain.chain(ids.iter().enumerate().map(|(i, id)| sample(stamp, "imu-left", "imu", base + i as i64, Some(id)))).collect()
    };
    let tasks: Vec<_> = [&first, &second, &first, &second]
        .into_iter()
        .map(|stamp| {
            let (store, samples) = (store.clone(), batch(stamp));
            tokio::spawn(async move { store.insert_samples(samples).await.expect("insert").stored_count() })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        stored += task.await.expect("task");
    }
    assert_eq!(stored, 250, "each sample stored by exactly one of the four");
    let query = SampleQuery { experiment_id: experiment.id.clone(), ..Default::default() };
    assert_eq!(store.count_samples(&query).await.expect("count"), 250);
}

/// Batches stored earlier and later, then a retry that overlaps both, out of order, with new
/// samples in between: exactly the new ones are stored, and each sample streams once.
async fn retries_overlapping_stored_batches_store_only_what_is_new(store: DynStore) {
    let experiment = experiment("o");
    store.insert_experiment(&experiment).await.expect("insert");
    let stamp = start(&store, &experiment, 0).await;
    let base = to_ns(&at("2026-11-23T10:00:00Z"));
    let ms = 1_000_000;
    let early: Vec<NewSample> = (0..1_000).map(|i| sample(&stamp, "imu-left", "imu", base + i * ms, None)).collect();
    let late: Vec<NewSample> = (2_000..3_000).map(|i| sample(&stamp, "imu-left", "imu", base + i * ms, None)).collect();
    assert_eq!(store.insert_samples(early).await.expect("early").stored_count(), 1_000);
    assert_eq!(store.insert_samples(late).await.expect("late").stored_count(), 1_000);
    // Every 2 ms from 500 to 2,500, newest first: 250 + 250 stored already, 250 new in the gap.
    let retry: Vec<NewSample> = (250..1_250).rev().map(|i| sample(&stamp, "imu-left", "imu", base + i * 2 * ms, None)).collect();
    let outcome = store.insert_samples(retry).await.expect("retry");
    assert_eq!((outcome.stored_count(), outcome.duplicate_count()), (500, 500));
    // The same times on another sensor, or with a client id, are other samples.
    let other = vec![
        sample(&stamp, "imu-right", "imu", base, None),
        sample(&stamp, "imu-left", "imu", base, Some("imu-left:0")),
        sample(&stamp, "imu-left", "imu", base + 2_000 * ms, None),
    ];
    assert_eq!(
        store.insert_samples(other).await.expect("other").fates,
        vec![SampleFate::Stored, SampleFate::Stored, SampleFate::Duplicate]
    );

    let query = SampleQuery { experiment_id: experiment.id.clone(), ..Default::default() };
    let rows: Vec<StoredSample> = store.stream_samples(query.clone()).try_collect::<Vec<_>>().await.expect("read").concat();
    assert_eq!(rows.len(), 2_502);
    assert_eq!(store.count_samples(&query).await.expect("count"), 2_502);
    assert!(rows.windows(2).all(|w| w[0].ts <= w[1].ts), "time order");
    let mut keys: Vec<(Arc<str>, i64, Option<String>)> = rows.iter().map(|r| (r.sensor_id.clone(), r.ts, r.sample_id.clone())).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 2_502, "each sample once");
}

/// A time range that cuts through stored batches counts exactly the samples it streams.
async fn time_ranges_count_what_they_stream(store: DynStore) {
    let experiment = experiment("o");
    store.insert_experiment(&experiment).await.expect("insert");
    let stamp = start(&store, &experiment, 0).await;
    let base = to_ns(&at("2026-11-23T10:00:00Z"));
    for sensor in ["ecg-1", "ecg-2"] {
        let batch: Vec<NewSample> = (0..3_000).map(|i| sample(&stamp, sensor, "ecg", base + i * 4_000_000, None)).collect();
        for part in batch.chunks(700) {
            store.insert_samples(part.to_vec()).await.expect("insert");
        }
    }
    for (from, to) in [(base + 1, base + 4_000_000 * 1_234), (base - 10, base + 1), (base + 4_000_000 * 2_999, base + 4_000_000 * 3_000)] {
        let query = SampleQuery { experiment_id: experiment.id.clone(), from_ns: Some(from), to_ns: Some(to), ..Default::default() };
        let rows: Vec<StoredSample> = store.stream_samples(query.clone()).try_collect::<Vec<_>>().await.expect("read").concat();
        let expected = 2 * (0..3_000).filter(|i| (from..to).contains(&(base + i * 4_000_000))).count();
        assert_eq!(rows.len(), expected, "rows in [{from}, {to})");
        assert!(rows.iter().all(|r| (from..to).contains(&r.ts)));
        assert_eq!(store.count_samples(&query).await.expect("count"), expected as u64);
    }
}

/// Once an experiment's samples are deleted, a client id they carried may be stored again.
async fn deleted_samples_free_their_client_ids(store: DynStore) {
    let experiment = experiment("o");
    store.insert_experiment(&experiment).await.expect("insert");
    let stamp = start(&store, &experiment, 0).await;
    let base = to_ns(&at("2026-11-23T10:00:00Z"));
    let batch = vec![sample(&stamp, "ecg-1", "ecg", base, Some("ecg-1:1")), sample(&stamp, "ecg-1", "ecg", base + 1, None)];
    assert_eq!(store.insert_samples(batch.clone()).await.expect("insert").stored_count(), 2);
    assert_eq!(store.insert_samples(batch.clone()).await.expect("retry").stored_count(), 0);
    store.stop_recording(&stamp.recording_id, now()).await.expect("stop");
    assert_eq!(store.delete_samples(&experiment.id, Some(2)).await.expect("delete"), 2);
    assert_eq!(store.insert_samples(batch).await.expect("again").stored_count(), 2);
}

async fn samples_stream_in_time_order_with_filters(store: DynStore) {
    let experiment = experiment("o");
    store.insert_experiment(&experiment).await.expect("insert");
    let day1 = to_ns(&at("2026-11-22T23:59:59.999Z"));
    let first = start(&store, &experiment, 0).await;
    // More than two chunks, written newest first so that insertion order is not time order.
    let total = SAMPLE_CHUNK * 2 + 100;
    let mut batch: Vec<NewSample> =
        (0..total as i64).rev().map(|i| sample(&first, "imu-left", "imu", day1 + i * 1_000_000, None)).collect();
    // Equal timestamps on two sensors must both come back.
    batch.push(sample(&first, "door-1", "door", day1, None));
    for chunk in batch.chunks(1_000) {
        store.insert_samples(chunk.to_vec()).await.expect("insert");
    }
    let second = start(&store, &experiment, 1).await;
    store.insert_samples(vec![sample(&second, "ecg-1", "ecg", day1 + 5, Some("x"))]).await.expect("insert");

    let query = SampleQuery { experiment_id: experiment.id.clone(), ..Default::default() };
    let chunks: Vec<Vec<StoredSample>> = store.stream_samples(query.clone()).try_collect().await.expect("stream");
    assert!(chunks.iter().all(|c| c.len() <= SAMPLE_CHUNK));
    let all: Vec<StoredSample> = chunks.into_iter().flatten().collect();
    assert_eq!(all.len(), total + 2);
    assert!(all.windows(2).all(|w| w[0].ts <= w[1].ts), "rows are sorted by ts");
    let ecg = all.iter().find(|s| &*s.sensor_id == "ecg-1").expect("ecg sample");
    assert_eq!(
        (ecg.sample_id.as_deref(), &*ecg.participant_id, &*ecg.recording_id),
        (Some("x"), second.participant_id.as_str(), second.recording_id.as_str())
    );
    assert_eq!(ecg.task_id.as_deref(), second.task_id.as_deref());
    let value: serde_json::Value = serde_json::from_str(&ecg.values.to_json()).expect("values are JSON");
    assert!(value["level"].is_number());

    let only = |q: SampleQuery| {
        let store = store.clone();
        async move {
            let rows: Vec<Vec<StoredSample>> = store.stream_samples(q.clone()).try_collect().await.expect("stream");
            let count = store.count_samples(&q).await.expect("count");
            let rows: Vec<StoredSample> = rows.into_iter().flatten().collect();
            assert_eq!(rows.len() as u64, count, "count agrees with the stream");
            rows
        }
    };
    let doors = only(SampleQuery { sensor_types: vec!["door".into()], ..query.clone() }).await;
    assert_eq!(doors.len(), 1);
    let second_participant = only(SampleQuery { participant_ids: vec![second.participant_id.clone()], ..query.clone() }).await;
    assert_eq!(second_participant.len(), 1);
    let day2 = to_ns(&at("2026-11-23T00:00:00Z"));
    let first_day = only(SampleQuery { to_ns: Some(day2), ..query.clone() }).await;
    assert_eq!(first_day.len(), 3, "the door, the ecg and the first imu sample are before midnight");
    let second_day = only(SampleQuery { from_ns: Some(day2), ..query.clone() }).await;
    assert_eq!(second_day.len(), total - 1);
    assert!(only(SampleQuery { experiment_id: "nope".into(), ..query }).await.is_empty());
}

/// The stream's cursor is (ts, position): rows sharing one `ts` across a chunk boundary come
/// back exactly once each.
async fn samples_sharing_a_timestamp_stream_once_across_chunks(store: DynStore) {
    let experiment = experiment("t");
    store.insert_experiment(&experiment).await.expect("insert");
    let stamp = start(&store, &experiment, 0).await;
    let ts = to_ns(&at("2026-11-22T10:00:00Z"));
    let total = SAMPLE_CHUNK + 500;
    let ids: Vec<String> = (0..total).map(|i| format!("burst-{i}")).collect();
    let mut batch: Vec<NewSample> = ids.iter().map(|id| sample(&stamp, "ecg-1", "ecg", ts, Some(id))).collect();
    batch.push(sample(&stamp, "ecg-1", "ecg", ts - 1, None));
    batch.push(sample(&stamp, "ecg-1", "ecg", ts + 1, None));
    store.insert_samples(batch).await.expect("insert");

    let query = SampleQuery { experiment_id: experiment.id.clone(), ..Default::default() };
    let rows: Vec<StoredSample> =
        store.stream_samples(query).try_collect::<Vec<_>>().await.expect("stream").into_iter().flatten().collect();
    assert_eq!(rows.len(), total + 2);
    assert_eq!((rows[0].ts, rows[total + 1].ts), (ts - 1, ts + 1));
    let mut seen: Vec<&str> = rows[1..=total].iter().map(|s| s.sample_id.as_deref().expect("burst sample")).collect();
    seen.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(seen, expected, "every sample of the burst once");
}

async fn sample_stats_and_deletion(store: DynStore) {
    let (experiment, other) = (experiment("o"), experiment("o"));
    store.insert_experiment(&experiment).await.expect("insert");
    store.insert_experiment(&other).await.expect("insert");
    let late = to_ns(&at("2026-11-22T23:00:00Z"));
    let stamp = start(&store, &experiment, 0).await;
    let batch: Vec<NewSample> = (0..10).map(|i| sample(&stamp, "co2-1", "co2", late + i * 720_000_000_000, None)).collect();
    store.insert_samples(batch.clone()).await.expect("insert");
    let other_stamp = start(&store, &other, 0).await;
    store.insert_samples(vec![sample(&other_stamp, "co2-1", "co2", late - 1, None)]).await.expect("insert");

    let stats = store.sample_stats(&experiment.id).await.expect("stats");
    let participant = stamp.participant_id.clone();
    assert_eq!(
        stats,
        vec![
            SampleStat { participant_id: participant.clone(), date: "2026-11-22".into(), sensor_type: "co2".into(), count: 5 },
            SampleStat { participant_id: participant, date: "2026-11-23".into(), sensor_type: "co2".into(), count: 5 },
        ]
    );
    assert!(matches!(store.delete_samples(&experiment.id, Some(9)).await, Err(StoreError::Conflict(_))), "not what the caller checked");
    assert_eq!(store.delete_samples(&experiment.id, Some(10)).await.expect("delete"), 10);
    assert!(store.sample_stats(&experiment.id).await.expect("stats").is_empty());
    assert_eq!(store.count_recording_samples(&stamp.recording_id).await.expect("count"), 0);
    assert_eq!(
        store.count_samples(&SampleQuery { experiment_id: other.id.clone(), ..Default::default() }).await.expect("count"),
        1,
        "other experiments keep their samples"
    );
    assert_eq!(store.delete_samples("nope", None).await, Err(StoreError::NotFound("experiment".into())));
    // Deleted samples may be stored again (a re-import after a delete).
    assert_eq!(store.insert_samples(batch.clone()).await.expect("insert").stored_count(), 10);
}

fn alert(rule: &str, subject: &str) -> Alert {
    Alert {
        id: new_id(),
        rule: rule.into(),
        subject: subject.into(),
        state: AlertState::Firing,
        fired_at: now(),
        resolved_at: None,
        message: format!("{subject}: {rule}"),
        details: serde_json::json!({"experiment": "Study A"}),
    }
}

fn outbox(channels: &[&str], now_ns: i64) -> Outbox {
    Outbox { channels: channels.iter().map(|c| c.to_string()).collect(), now_ns, deadline_ns: now_ns + 3_600_000_000_000 }
}

async fn one_alert_fires_per_condition_until_it_is_resolved(store: DynStore) {
    let channels = outbox(&["email", "webhook"], to_ns(&now()));
    // Ten replicas judge the same silence at once: one alert.
    let tries: Vec<_> = (0..10)
        .map(|_| {
            let (store, channels) = (store.clone(), channels.clone());
            tokio::spawn(async move { store.open_alert(&alert("sensor_silent", "ecg-1"), &channels).await.expect("open") })
        })
        .collect();
    let mut opened = 0;
    for task in tries {
        opened += usize::from(task.await.expect("task"));
    }
    assert_eq!(opened, 1, "one firing alert per rule and subject");
    assert!(store.open_alert(&alert("sensor_silent", "ecg-2"), &channels).await.expect("open"), "another subject");
    assert!(store.open_alert(&alert("device_disconnected", "ecg-1"), &channels).await.expect("open"), "another rule");

    let firing = store.list_alerts(Some(AlertState::Firing), 10).await.expect("list");
    assert_eq!(firing.len(), 3);
    let (first, deliveries) = firing.iter().find(|(a, _)| a.rule == "sensor_silent" && a.subject == "ecg-1").expect("listed");
    let ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, [format!("{}:fired:email", first.id), format!("{}:fired:webhook", first.id)]);
    assert!(deliveries.iter().all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0));
    assert_eq!(store.get_alert(&first.id).await.expect("get").as_ref(), Some(first));
    assert_eq!(store.get_alert("no-such-alert").await.expect("get"), None);

    let at = now();
    let resolved = store.resolve_alert("sensor_silent", "ecg-1", at, &channels).await.expect("resolve").expect("was firing");
    assert_eq!((resolved.id.as_str(), resolved.state, resolved.resolved_at), (first.id.as_str(), AlertState::Resolved, Some(at)));
    assert_eq!(store.resolve_alert("sensor_silent", "ecg-1", now(), &channels).await.expect("resolve"), None, "resolved once");
    let (listed, deliveries) = store.list_alerts(Some(AlertState::Resolved), 10).await.expect("list").remove(0);
    assert_eq!((listed, deliveries.len()), (resolved.clone(), 4), "fired and resolved, per channel");
    // It goes silent again: a new alert.
    let again = alert("sensor_silent", "ecg-1");
    assert!(store.open_alert(&again, &channels).await.expect("open"));
    let all = store.list_alerts(None, 10).await.expect("list");
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].0.id, again.id, "newest first");
    assert_eq!(store.list_alerts(None, 2).await.expect("list").len(), 2);

    // A notice (an export finished; its id is the event's) is recorded resolved, once however
    // often its event is handled, beside any number of notices of the same rule.
    let notice =
        |id: &str| Alert { id: id.into(), state: AlertState::Resolved, resolved_at: Some(now()), ..alert("export_completed", "x") };
    let (x1, x2) = (new_id(), new_id());
    assert!(store.open_alert(&notice(&x1), &channels).await.expect("open"));
    assert!(!store.open_alert(&notice(&x1), &channels).await.expect("open"), "the same event again");
    assert!(store.open_alert(&notice(&x2), &channels).await.expect("open"));
    assert!(!store.open_alert(&Alert { id: first.id.clone(), ..alert("sensor_silent", "ecg-9") }, &channels).await.expect("open"));
    let (listed, deliveries) = store.list_alerts(None, 1).await.expect("list").remove(0);
    assert_eq!((listed.id.as_str(), listed.state, deliveries.len()), (x2.as_str(), AlertState::Resolved, 2), "fired only");
    assert_eq!(store.resolve_alert("export_completed", "x", now(), &channels).await.expect("resolve"), None);
}

async fn each_delivery_goes_to_one_sender_and_keeps_its_outcome(store: DynStore) {
    let t0 = to_ns(&now());
    let second = 1_000_000_000;
    let fired = alert("disk_low", "data");
    store.open_alert(&fired, &outbox(&["email", "slack", "webhook"], t0)).await.expect("open");
    // Two replicas ask at once: every delivery goes to exactly one of them.
    let (a, b) = tokio::join!(store.claim_deliveries("a", t0, t0 + 30 * second, 10), store.claim_deliveries("b", t0, t0 + 30 * second, 10));
    let (a, b) = (a.expect("claim"), b.expect("claim"));
    let mut ids: Vec<&str> = a.iter().chain(&b).map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids.len(), 3, "each once: {ids:?}");
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert!(store.claim_deliveries("c", t0 + second, t0 + 60 * second, 10).await.expect("claim").is_empty(), "all held");

    let mut claimed: Vec<(String, Delivery)> =
        a.into_iter().map(|d| ("a".to_owned(), d)).chain(b.into_iter().map(|d| ("b".to_owned(), d))).collect();
    claimed.sort_by(|x, y| x.1.id.cmp(&y.1.id));
    // email delivered; slack failed once and waits a minute; webhook's sender dies.
    let (owner, mut email) = claimed[0].clone();
    email.status = DeliveryStatus::Delivered;
    email.attempts = 1;
    store.finish_delivery(&email, &owner).await.expect("delivered");
    let (owner, mut slack) = claimed[1].clone();
    slack.attempts = 1;
    slack.last_error = Some("503 from hooks".into());
    slack.next_attempt_ns = t0 + 60 * second;
    assert!(matches!(store.finish_delivery(&slack, "someone else").await, Err(StoreError::Conflict(_))), "only its holder");
    store.finish_delivery(&slack, &owner).await.expect("retry later");
    let webhook = claimed[2].1.clone();

    // Before the webhook's lease lapses, nothing is due; after it, the webhook is taken over.
    assert!(store.claim_deliveries("c", t0 + 10 * second, t0 + 40 * second, 10).await.expect("claim").is_empty());
    let taken = store.claim_deliveries("c", t0 + 31 * second, t0 + 61 * second, 10).await.expect("claim");
    assert_eq!(taken.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), [webhook.id.as_str()]);
    assert!(
        matches!(store.finish_delivery(&webhook, &claimed[2].0).await, Err(StoreError::Conflict(_))),
        "the dead sender's lease is gone"
    );
    // The retry comes due (after the webhook, due since t0); the delivered one never again.
    let due = store.claim_deliveries("d", t0 + 62 * second, t0 + 90 * second, 10).await.expect("claim");
    assert_eq!(due.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), [webhook.id.as_str(), slack.id.as_str()]);
    assert_eq!((due[1].attempts, due[1].last_error.as_deref()), (1, Some("503 from hooks")));
    let (_, deliveries) = store.list_alerts(None, 1).await.expect("list").remove(0);
    let email_now = deliveries.iter().find(|d| d.id == email.id).expect("email");
    assert_eq!((email_now.status, email_now.attempts, email_now.owner.as_deref()), (DeliveryStatus::Delivered, 1, None));
}
