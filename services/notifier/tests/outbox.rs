//! The outbox against a real HTTP receiver: a webhook that answers 500 twice and then 200 gets
//! the alert exactly once in the end, every attempt with the same `X-SRS-Delivery` and a
//! signature that verifies over the raw body; Slack gets its blocks once.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use srs_common::model::{Alert, AlertState, DeliveryStatus, Outbox as Channels};
use srs_common::Settings;
use srs_notifier::channels::configured;
use srs_notifier::outbox::Outbox;
use srs_notifier::settings::{NotifierSettings, SECTION};
use srs_testkit::harness::TestServer;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Received {
    webhook: Vec<(Option<String>, Option<String>, Vec<u8>)>,
    slack: Vec<serde_json::Value>,
}

async fn receiver(received: Arc<Mutex<Received>>) -> String {
    let server = HttpServer::new(move || {
        let received = received.clone();
        App::new()
            .app_data(web::Data::new(received))
            .route(
                "/hook",
                web::post().to(|request: HttpRequest, body: web::Bytes, received: web::Data<Arc<Mutex<Received>>>| async move {
                    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let mut received = received.lock().expect("lock");
                    received.webhook.push((header("x-srs-delivery"), header("x-srs-signature"), body.to_vec()));
                    if received.webhook.len() <= 2 {
                        HttpResponse::InternalServerError().body("not now")
                    } else {
                        HttpResponse::Ok().finish()
                    }
                }),
            )
            .route(
                "/slack",
                web::post().to(|body: web::Json<serde_json::Value>, received: web::Data<Arc<Mutex<Received>>>| async move {
                    received.lock().expect("lock").slack.push(body.into_inner());
                    HttpResponse::Ok().body("ok")
                }),
            )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind");
    let url = format!("http://{}", server.addrs()[0]);
    tokio::spawn(server.run());
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_fails_twice_gets_the_alert_once_in_the_end() {
    let received = Arc::new(Mutex::new(Received::default()));
    let url = receiver(received.clone()).await;
    let server = TestServer::start(&[], &[]).await;
    let vars = [
        ("SRS__NOTIFIER__WEBHOOK__URL", format!("{url}/hook")),
        ("SRS__NOTIFIER__WEBHOOK__SECRET", "s3cret".to_owned()),
        ("SRS__NOTIFIER__SLACK__WEBHOOK_URL", format!("{url}/slack")),
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
        details: serde_json::json!({"path": "/experiments/e1"}),
    };
    let now = srs_common::time::now_ns();
    let targets = Channels { channels: vec!["webhook".into(), "slack".into()], now_ns: now, deadline_ns: now + 3_600_000_000_000 };
    assert!(server.context.store.open_alert(&alert, &targets).await.expect("open"));

    // Rounds as the background task runs them, until the webhook took it (1 s, then 2 s backoff).
    for _ in 0..100 {
        outbox.send_due().await;
        if received.lock().expect("lock").webhook.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..20 {
        outbox.send_due().await;
    }
    let received = std::mem::take(&mut *received.lock().expect("lock"));
    assert_eq!(received.webhook.len(), 3, "two refusals, then taken once");
    let key = format!("{}:fired:webhook", alert.id);
    for (delivery, signature, body) in &received.webhook {
        assert_eq!(delivery.as_deref(), Some(key.as_str()), "the same idempotency key on every attempt");
        assert_eq!(signature.as_deref(), Some(srs_notifier::channels::sign("s3cret", body).as_str()));
        let message: serde_json::Value = serde_json::from_slice(body).expect("json");
        assert_eq!(
            (message["alert"]["subject"].as_str(), message["link"].as_str()),
            (Some("ecg-1"), Some("https://srs.lab.example/experiments/e1"))
        );
    }
    assert_eq!(received.slack.len(), 1);
    assert_eq!(received.slack[0]["text"], "[SRS] ecg-1 sent nothing for 10 s");
    let (_, deliveries) = server.context.store.list_alerts(None, 1).await.expect("list").remove(0);
    let outcome: Vec<(&str, DeliveryStatus, u32)> = deliveries.iter().map(|d| (d.channel.as_str(), d.status, d.attempts)).collect();
    assert_eq!(outcome, [("slack", DeliveryStatus::Delivered, 1), ("webhook", DeliveryStatus::Delivered, 3)]);
    assert_eq!(deliveries[1].last_error, None);
}
