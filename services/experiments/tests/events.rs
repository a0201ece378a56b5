//! Lifecycle events arrive on the real RabbitMQ with the payloads consumers rely on.

mod support;

use serde_json::{json, Value};
use srs_common::bus::{Bus, Event, Subscription};
use srs_common::model::Role;
use std::time::Duration;
use support::{Backend, TestApp};

/// The next event of this test's experiment(s), skipping other tests' traffic on the shared broker.
async fn next(subscription: &mut Subscription, experiments: &[&str]) -> Event {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), subscription.recv())
            .await
            .expect("event within 10 s")
            .expect("subscription open");
        let payload = &event.payload;
        let ours = experiments.iter().any(|id| payload["experiment_id"] == *id || payload["sensor_config_id"] == *id);
        if ours {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_events_arrive_on_rabbitmq() {
    let listener = srs_testkit::amqp_bus().await;
    let mut events = listener.subscribe(&["experiment.*", "recording.*", "sensor_config.*"]).await.expect("subscribe");
    let app = TestApp::start_with(Backend::Sqlite, srs_testkit::harness::amqp_settings()).await;
    let owner = app.user("erin", Role::Experimenter).await;
    let first = app.experiment(&owner, "first").await;
    let second = app.experiment(&owner, "second").await;
    let ids = [first.id.as_str(), second.id.as_str(), first.config_id.as_str()];
    let t = owner.token.as_str();

    let (status, _) =
        app.put(t, &format!("/api/v1/sensor-configs/{}", first.config_id), json!({"sensors": [{"id": "ecg-2", "enabled": false}]})).await;
    assert_eq!(status, 200);
    let changed = next(&mut events, &ids).await;
    assert_eq!(changed.kind, "sensor_config.changed");
    let enabled: Vec<&str> = changed.payload["enabled_sensors"].as_array().expect("enabled").iter().filter_map(Value::as_str).collect();
    assert!(enabled.contains(&"ecg-1") && !enabled.contains(&"ecg-2"), "{enabled:?}");
    assert_eq!(changed.payload["sensors"].as_array().map(Vec::len), Some(app.context.sensors.file().sensors.len()));

    app.post(t, &format!("/api/v1/experiments/{}/activate", first.id), json!({})).await;
    let activated = next(&mut events, &ids).await;
    assert_eq!((activated.kind.as_str(), activated.payload["experiment_id"].as_str()), ("experiment.activated", Some(first.id.as_str())));
    assert_eq!(activated.payload["name"], "first");
    assert_eq!(activated.payload["sensor_config_id"], first.config_id.as_str());
    assert!(!activated.payload["enabled_sensors"].as_array().expect("enabled").contains(&json!("ecg-2")));

    let recording = app
        .created(
            t,
            "/api/v1/recordings",
            json!({"experiment_id": first.id, "participant_id": first.participant_id, "task_id": first.task_id}),
        )
        .await;
    let started = next(&mut events, &ids).await;
    assert_eq!(started.kind, "recording.started");
    let p = &started.payload;
    assert_eq!(
        (p["recording_id"].as_str(), p["participant_id"].as_str(), p["task_id"].as_str()),
        (recording["id"].as_str(), Some(first.participant_id.as_str()), Some(first.task_id.as_str()))
    );
    assert_eq!((p["participant_code"].as_str(), p["task_name"].as_str()), (Some("P01"), Some("rest")));
    assert!(p["started_at"].is_string() && p["enabled_sensors"].is_array());

    app.post(t, &format!("/api/v1/recordings/{}/stop", recording["id"].as_str().expect("id")), json!({})).await;
    let stopped = next(&mut events, &ids).await;
    assert_eq!(stopped.kind, "recording.stopped");
    assert_eq!((stopped.payload["recording_id"].as_str(), stopped.payload["sample_count"].as_u64()), (recording["id"].as_str(), Some(0)));
    assert!(stopped.payload["stopped_at"].is_string());

    // Activating another one deactivates the first.
    app.post(t, &format!("/api/v1/experiments/{}/activate", second.id), json!({})).await;
    let deactivated = next(&mut events, &ids).await;
    assert_eq!(
        (deactivated.kind.as_str(), deactivated.payload["experiment_id"].as_str()),
        ("experiment.deactivated", Some(first.id.as_str()))
    );
    let activated = next(&mut events, &ids).await;
    assert_eq!(
        (activated.kind.as_str(), activated.payload["previous_experiment_id"].as_str()),
        ("experiment.activated", Some(first.id.as_str()))
    );
    app.post(t, &format!("/api/v1/experiments/{}/deactivate", second.id), json!({})).await;
    let deactivated = next(&mut events, &ids).await;
    assert_eq!(
        (deactivated.kind.as_str(), deactivated.payload["experiment_id"].as_str()),
        ("experiment.deactivated", Some(second.id.as_str()))
    );
    app.stop().await;
    listener.close().await;
}
