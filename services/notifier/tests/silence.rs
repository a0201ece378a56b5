//! `sensor_silent` end to end, as the distributed deployment runs it: ingest and experiments
//! in one process, `srs-notifier` in another, over the real RabbitMQ and one SQLite store, the
//! alerts arriving at a real webhook receiver. A sensor that goes silent during a recording
//! raises one alert and one `resolved` when it speaks again, and a second alert only when it
//! goes silent again; nothing fires outside recordings; all sensors stopping at once raise one
//! alert each; a notifier restarted mid-silence sends nothing new, and one restarted after the
//! sensor recovered sends the `resolved` exactly once.

mod support;

use serde_json::Value;
use srs_common::model::Role;
use srs_testkit::harness::{amqp_settings, TestServer};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const SILENCE_SECS: u64 = 3;

fn fired() -> (String, String) {
    ("sensor_silent".into(), "fired".into())
}

fn resolved() -> (String, String) {
    ("sensor_silent".into(), "resolved".into())
}

/// Posts a sample for every sensor in `speaking` every 300 ms, until the test ends.
fn keep_posting(server: Arc<TestServer>, speaking: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        loop {
            let sensors = speaking.lock().expect("lock").clone();
            if !sensors.is_empty() {
                post_samples(&server, &sensors).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_sensor_alerts_once_resolves_once_and_restarts_change_nothing() {
    let run = srs_common::model::new_id()[24..].to_owned();
    let receiver = Receiver::start(0).await;
    let files = tempfile::tempdir().expect("tempdir");
    let (sensors_file, ids) = sensors_file(files.path(), &run, 2);
    let sensors = ("SRS__SENSORS__FILE".to_owned(), sensors_file);
    let mut lab_settings = amqp_settings();
    lab_settings.push(sensors.clone());
    let lab = Arc::new(TestServer::start_with(&[&srs_experiments::SERVICE, &srs_ingest::SERVICE], lab_settings).await);
    let queue = srs_testkit::unique_queue("notifier");
    let mut settings = notifier_settings(&receiver, &queue);
    settings.push(sensors);
    settings.push(("SRS__NOTIFIER__SILENCE_SECS".into(), SILENCE_SECS.to_string()));
    settings.push(("SRS__NOTIFIER__STARTUP_GRACE_SECS".into(), SILENCE_SECS.to_string()));
    let (mut notifier, _) = notifier_process(&lab.dir, &settings);
    let (_, admin) = lab.user("root", Role::Admin).await;
    let (experiment, participant) = active_experiment(&lab, &admin, "Silence").await;
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let wait = Duration::from_secs(SILENCE_SECS * 3);
    let settle = Duration::from_secs(SILENCE_SECS + 1);

    // Outside a recording nobody is judged, however long the sensors say nothing.
    tokio::time::sleep(Duration::from_secs(SILENCE_SECS * 2 + 1)).await;
    assert!(receiver.notices(&a).is_empty() && receiver.notices(&b).is_empty(), "{:?}", receiver.all());

    let recording = start_recording(&lab, &admin, &experiment, &participant).await;
    let speaking = Arc::new(Mutex::new(vec![a.clone(), b.clone()]));
    keep_posting(lab.clone(), speaking.clone());
    tokio::time::sleep(settle).await;
    assert!(receiver.notices(&a).is_empty(), "both speak: {:?}", receiver.notices(&a));

    // a goes silent: one alert, however long it lasts — and across a restart of the notifier.
    *speaking.lock().expect("lock") = vec![b.clone()];
    assert!(eventually(wait, || async { !receiver.notices(&a).is_empty() }).await, "sensor_silent fires");
    let alert = receiver.messages(|m| m["alert"]["subject"] == a.as_str()).remove(0);
    assert_eq!(alert["alert"]["details"]["experiment"], "Silence");
    assert_eq!(alert["alert"]["details"]["participant"], "P01");
    assert_eq!(alert["link"], format!("/console/recordings/{recording}"));
    srs_testkit::terminate(notifier);
    notifier = notifier_process(&lab.dir, &settings).0;
    tokio::time::sleep(settle * 2).await;
    assert_eq!(receiver.notices(&a), [fired()], "one alert per silence, restart or not");

    // It speaks: resolved once. Silent again: a new alert.
    *speaking.lock().expect("lock") = vec![a.clone(), b.clone()];
    assert!(eventually(wait, || async { receiver.notices(&a).len() >= 2 }).await, "resolved");
    *speaking.lock().expect("lock") = vec![b.clone()];
    assert!(eventually(wait, || async { receiver.notices(&a).len() >= 3 }).await, "fires again");
    assert_eq!(receiver.notices(&a), [fired(), resolved(), fired()]);
    let ids: Vec<Value> = receiver.messages(|m| m["alert"]["subject"] == a.as_str()).iter().map(|m| m["alert"]["id"].clone()).collect();
    assert!(ids[0] == ids[1] && ids[1] != ids[2], "the second silence is a new alert: {ids:?}");

    // It recovers while the notifier is away: the restarted notifier resolves it exactly once.
    srs_testkit::terminate(notifier);
    *speaking.lock().expect("lock") = vec![a.clone(), b.clone()];
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (restarted, url) = notifier_process(&lab.dir, &settings);
    notifier = restarted;
    assert!(eventually(wait, || async { receiver.notices(&a).len() >= 4 }).await, "resolved after the restart");
    tokio::time::sleep(settle).await;
    assert_eq!(receiver.notices(&a), [fired(), resolved(), fired(), resolved()]);
    assert!(receiver.notices(&b).is_empty(), "b spoke all along");

    // Everything stops at once: one alert per sensor.
    *speaking.lock().expect("lock") = Vec::new();
    assert!(eventually(wait, || async { receiver.notices(&a).len() >= 5 && !receiver.notices(&b).is_empty() }).await);
    tokio::time::sleep(settle).await;
    assert_eq!((receiver.notices(&a).len(), receiver.notices(&b)), (5, vec![fired()]));

    // The store agrees, as the notifier's own endpoint shows it.
    let alerts = get_json(&url, &admin, "/api/v1/notifications?state=firing").await;
    let alerts = alerts.as_array().expect("alerts");
    let mut firing: Vec<&str> = alerts.iter().filter(|a| a["rule"] == "sensor_silent").filter_map(|a| a["subject"].as_str()).collect();
    firing.sort_unstable();
    assert_eq!(firing, [a.as_str(), b.as_str()], "{alerts:?}");
    for alert in alerts {
        assert_eq!(alert["deliveries"][0]["status"], "delivered", "{alert}");
        assert_eq!(alert["deliveries"][0]["attempts"], 1, "{alert}");
    }
    srs_testkit::terminate(notifier);
    srs_testkit::delete_queues(&[&queue]).await;
}
