//! The outbox against a real HTTP receiver: a webhook that answers 500 twice and then 200 gets
//! the alert exactly once in the end, every attempt with the same `X-SRS-Delivery` and a
//! signature that verifies over the raw body; Slack gets its blocks, with the facts, once.

mod support;

use srs_common::model::{Alert, AlertState, DeliveryStatus, Outbox as Channels};
use srs_common::Settings;
use srs_notifier::channels::configured;
use srs_notifier::outbox::Outbox;
use srs_notifier::settings::{NotifierSettings, SECTION};
use srs_testkit::harness::TestServer;
use std::time::Duration;
use support::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_fails_twice_gets_the_alert_once_in_the_end() {
    let receiver = Receiver::start(2).await;
    let server = TestServer::start(&[], &[]).await;
    let vars = [
        ("SRS__NOTIFIER__WEBHOOK__URL", format!("{}/hook", receiver.url)),
        ("SRS__NOTIFIER__WEBHOOK__SECRET", "s3cret".to_owned()),
        ("SRS__NOTIFIER__SLACK__WEBHOOK_URL", format!("{}/slack", receiver.url)),
        ("SRS__NOTIFIER__CONSOLE_URL", "https://srs.lab.example".to_owned()),
    ];
    let settings =
        Settings::load_from(&server.dir, None, vars.iter().map(|(k, v)| (k.to_string(), v.clone())), &[&SECTION]).expect("settings");
    let settings = NotifierSettings::from_settings(&settings).expect("notifier settings");
    let channels = configured(&settings, &reqwest::Client::new());
    let outbox = Outbox::new(server.context.clone(), settings, &channels);

    let alert = Alert {
        id: srs_common::model::new_id(),
        rule: "sensor_silent".into(),
        subject: "ecg-1".into(),
        state: AlertState::Firing,
        fired_at: srs_common::time::now(),
        resolved_at: None,
        message: "ecg-1 sent nothing for 10 s".into(),
        details: serde_json::json!({"experiment": "Sleep study", "path": "/console/recordings/r1"}),
    };
    let now = srs_common::time::now_ns();
    let targets = Channels { channels: vec!["webhook".into(), "slack".into()], now_ns: now, deadline_ns: now + 3_600_000_000_000 };
    assert!(server.context.store.open_alert(&alert, &targets).await.expect("open"));

    // Rounds as the background task runs them, until the webhook took it (1 s, then 2 s backoff).
    let hook = |receiver: &Receiver| receiver.all().into_iter().filter(|r| r.path == "/hook").collect::<Vec<_>>();
    for _ in 0..100 {
        outbox.send_due().await;
        if hook(&receiver).len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..20 {
        outbox.send_due().await;
    }
    let attempts = hook(&receiver);
    assert_eq!(attempts.iter().map(|r| r.taken).collect::<Vec<_>>(), [false, false, true], "two refusals, then taken once");
    let key = format!("{}:fired:webhook", alert.id);
    for attempt in &attempts {
        assert_eq!(attempt.delivery.as_deref(), Some(key.as_str()), "the same idempotency key on every attempt");
        assert_eq!(attempt.signature.as_deref(), Some(srs_notifier::channels::sign("s3cret", &attempt.body).as_str()));
        let message = attempt.json();
        assert_eq!(
            (message["alert"]["subject"].as_str(), message["link"].as_str()),
            (Some("ecg-1"), Some("https://srs.lab.example/console/recordings/r1"))
        );
    }
    let slack: Vec<_> = receiver.all().into_iter().filter(|r| r.path == "/slack").map(|r| r.json()).collect();
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0]["text"], "[SRS] ecg-1 sent nothing for 10 s");
    assert!(slack[0]["blocks"].to_string().contains("Sleep study"), "the facts are in the blocks: {}", slack[0]);
    let (_, deliveries) = server.context.store.list_alerts(None, 1).await.expect("list").remove(0);
    let outcome: Vec<(&str, DeliveryStatus, u32)> = deliveries.iter().map(|d| (d.channel.as_str(), d.status, d.attempts)).collect();
    assert_eq!(outcome, [("slack", DeliveryStatus::Delivered, 1), ("webhook", DeliveryStatus::Delivered, 3)]);
    assert_eq!(deliveries[1].last_error, None);
}
