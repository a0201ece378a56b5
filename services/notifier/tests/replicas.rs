//! Two `srs-notifier` processes on one store and the real RabbitMQ, as the distributed
//! deployment scales them: the lifecycle events in their shared queue are each handled by one
//! replica (a failed export's notice says why), both judge the same low disk, and every alert reaches the webhook exactly once —
//! also when one replica stops mid-way and the other carries on.

mod support;

use srs_common::bus::Bus;
use srs_common::events::{self, ExportCompleted, ExportFailed};
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_alert_once() {
    let receiver = Receiver::start(0).await;
    let data = tempfile::tempdir().expect("tempdir");
    let lab = srs_testkit::lab::Lab::on(srs_testkit::lab::sqlite(data.path()).await, tempfile::tempdir().expect("tempdir"), "owner").await;
    let queue = srs_testkit::unique_queue("notifier");
    let mut settings = notifier_settings(&receiver, &queue);
    // Both replicas judge the same (too small) disk.
    settings.push(("SRS__NOTIFIER__DISK_FREE_MIN_MB".into(), "1099511627776".into()));
    let (first, _) = notifier_process(data.path(), &settings);
    let (second, _) = notifier_process(data.path(), &settings);

    let bus = srs_testkit::amqp_bus().await;
    let completed = |id: &String| {
        let export = ExportCompleted { export_id: id.clone(), experiment_id: lab.experiment.id.clone(), rows: 10, files: 1, bytes: 100 };
        events::event(events::EXPORT_COMPLETED, &export)
    };
    // The queue is new: events reach it once a replica has bound it. A first export proves that.
    let mut exports: Vec<String> = Vec::new();
    let bound = eventually(Duration::from_secs(20), || {
        exports.push(srs_common::model::new_id());
        let (probe, bus, receiver) = (completed(exports.last().expect("probe")), bus.clone(), receiver.clone());
        async move {
            bus.publish(&[probe]).await.expect("publish");
            tokio::time::sleep(Duration::from_millis(400)).await;
            !receiver.all().is_empty()
        }
    })
    .await;
    assert!(bound, "a replica consumes the queue");
    exports.retain(|id| !receiver.notices(id).is_empty());
    let probes = exports.len();
    exports.extend((0..40).map(|_| srs_common::model::new_id()));
    let batch: Vec<_> = exports[probes..probes + 20].iter().map(completed).collect();
    bus.publish(&batch).await.expect("publish");
    // One replica stops mid-way (handing back what it had not recorded); the other carries on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    srs_testkit::terminate(first);
    let mut batch: Vec<_> = exports[probes + 20..].iter().map(completed).collect();
    let failed_export = srs_common::model::new_id();
    let failed = ExportFailed {
        export_id: failed_export.clone(),
        experiment_id: lab.experiment.id.clone(),
        error: "failed 3 times; last error: disk full".into(),
        attempts: 3,
    };
    batch.push(events::event(events::EXPORT_FAILED, &failed));
    bus.publish(&batch).await.expect("publish");

    let all_arrived = || async { exports.iter().all(|id| !receiver.notices(id).is_empty()) };
    assert!(eventually(Duration::from_secs(30), all_arrived).await, "every export's notice arrives");
    tokio::time::sleep(Duration::from_secs(3)).await;
    for id in &exports {
        assert_eq!(receiver.notices(id), [("export_completed".to_owned(), "fired".to_owned())], "export {id}");
    }
    let message = receiver.messages(|m| m["alert"]["subject"] == exports[0].as_str()).remove(0);
    assert!(message["alert"]["message"].as_str().is_some_and(|m| m.contains(&lab.experiment.name)), "{message}");
    assert!(eventually(Duration::from_secs(10), || async { !receiver.notices(&failed_export).is_empty() }).await);
    let message = receiver.messages(|m| m["alert"]["subject"] == failed_export.as_str()).remove(0);
    assert_eq!(message["alert"]["rule"], "export_failed");
    assert_eq!(message["alert"]["message"], format!("Export of {} failed: failed 3 times; last error: disk full", lab.experiment.name));
    assert_eq!(message["alert"]["details"]["attempts"], 3);
    let disk = data.path().display().to_string();
    assert_eq!(receiver.notices(&disk).len(), 1, "both replicas judged the disk: one alert");
    let deliveries: std::collections::HashSet<String> = receiver.all().iter().filter_map(|r| r.delivery.clone()).collect();
    assert_eq!(deliveries.len(), receiver.all().len(), "no delivery was sent twice");
    srs_testkit::terminate(second);
    bus.close().await;
    srs_testkit::delete_queues(&[&queue]).await;
}
