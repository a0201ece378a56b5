//! The recording context follows the real RabbitMQ's lifecycle events, and falls back on the
//! store: a recording whose event never reached ingest is still picked up by the periodic
//! re-read, so samples are never stamped with a stale context for long.

mod support;

use serde_json::json;
use srs_common::model::{new_id, Recording};
use std::time::{Duration, Instant};
use support::{ecg, Lab};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn follows_recordings_through_rabbitmq() {
    let bus = srs_testkit::amqp_bus().await;
    let lab = Lab::start_on(bus, &[]).await;
    // Started through the API: the recording.started event travels through RabbitMQ.
    let recording = lab.start_recording().await;
    let (_, answer) = lab.post_json(ecg("amqp", 10)).await;
    assert_eq!((answer["stored"].as_u64(), answer["recording_id"].as_str()), (Some(10), Some(recording.as_str())));
    lab.stop_recording(&recording).await;
    let (_, answer) = lab.post_json(ecg("after", 10)).await;
    assert_eq!(answer["stored"], 0);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recording_whose_event_was_lost_is_picked_up_from_the_store() {
    let lab = Lab::start(&[]).await;
    lab.wait_for_recording(None).await;
    // Written straight into the store: no event is published (as if the bus had been down).
    let recording = Recording {
        id: new_id(),
        experiment_id: lab.experiment_id.clone(),
        participant_id: lab.participant_id.clone(),
        task_id: None,
        started_at: srs_common::time::now(),
        stopped_at: None,
    };
    lab.context.store.start_recording(&recording).await.expect("start in the store");
    let started = Instant::now();
    lab.wait_for_recording(Some(&recording.id)).await;
    assert!(started.elapsed() < Duration::from_secs(7), "picked up by the 5 s re-read, took {:?}", started.elapsed());
    let (_, answer) = lab.post_json(json!([{"sensor_id": "door-1", "values": {"open": true}}])).await;
    assert_eq!(answer["stored"], 1);
    lab.stop().await;
}
