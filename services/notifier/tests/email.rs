//! The email channel against a real SMTP server (aiosmtpd from the test tools, started here),
//! with the experiments, exporter and notifier services as `srs serve` runs them: a finished
//! export's mail arrives with a meaningful subject and body and a link to the console; an
//! admin's test message arrives, a channel that is off answers 409, an unreachable relay 502;
//! the channels endpoint says what is configured and usable, never a password.

use reqwest::StatusCode;
use serde_json::json;
use srs_common::model::Role;
use srs_testkit::harness::TestServer;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// An SMTP server that takes any login (so the relay's credentials are used and must stay
/// hidden) and appends every mail it takes to `inbox`; killed when dropped.
struct SmtpServer(Child);

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const SMTP_SERVER: &str = r#"
import sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
def accept_anyone(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True)
class Inbox:
    async def handle_DATA(self, server, session, envelope):
        with open(sys.argv[2], "ab") as inbox:
            inbox.write(envelope.content + b"\n--- end of mail ---\n")
        return "250 OK"
controller = Controller(Inbox(), hostname="127.0.0.1", port=int(sys.argv[1]), authenticator=accept_anyone, auth_require_tls=False)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(1)
"#;

fn smtp_server(inbox: &std::path::Path) -> (SmtpServer, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut child = Command::new(srs_testkit::python())
        .args(["-c", SMTP_SERVER, &port.to_string(), &inbox.display().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with aiosmtpd (scripts/test.sh installs it into .venv)");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut ready).expect("read");
    assert_eq!(ready.trim(), "ready", "aiosmtpd must start (scripts/test.sh installs it into .venv)");
    (SmtpServer(child), port)
}

/// The inbox's mails once one contains `wanted` (waits up to 10 s).
async fn mail_with(inbox: &std::path::Path, wanted: &str) -> String {
    for _ in 0..100 {
        let mails = std::fs::read_to_string(inbox).unwrap_or_default();
        if let Some(mail) = mails.split("--- end of mail ---").find(|mail| mail.contains(wanted)) {
            return mail.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no mail with {wanted:?} in {}", std::fs::read_to_string(inbox).unwrap_or_default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_export_and_a_test_message_arrive_by_mail() {
    let mail_dir = tempfile::tempdir().expect("tempdir");
    let inbox = mail_dir.path().join("inbox.eml");
    let (smtp, port) = smtp_server(&inbox);
    let settings = [
        ("SRS__NOTIFIER__EMAIL__SMTP_URL", format!("smtp://relay-user:hunter2@127.0.0.1:{port}")),
        ("SRS__NOTIFIER__EMAIL__FROM", "SRS <srs@lab.example>".to_owned()),
        ("SRS__NOTIFIER__EMAIL__TO", "ada@lab.example,bo@lab.example".to_owned()),
        ("SRS__NOTIFIER__CONSOLE_URL", "https://srs.lab.example".to_owned()),
    ];
    let settings = settings.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let services = [&srs_experiments::SERVICE, &srs_exporter::SERVICE, &srs_notifier::SERVICE];
    let server = TestServer::start_with(&services, settings).await;
    let (_, admin) = server.user("root", Role::Admin).await;
    let config = server.created(&admin, "/api/v1/sensor-configs", json!({"name": "all"})).await;
    let experiment = server.created(&admin, "/api/v1/experiments", json!({"name": "Sleep study", "sensor_config_id": config["id"]})).await;
    let (status, export) = server.post(&admin, "/api/v1/exports", json!({"experiment_id": experiment["id"]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{export}");
    let export_id = export["id"].as_str().expect("id");

    let mail = mail_with(&inbox, "Export of Sleep study").await;
    assert!(mail.contains("Subject: [SRS] Export of Sleep study is ready: 0 rows in"), "{mail}");
    assert!(mail.contains("From: SRS <srs@lab.example>") && mail.contains("ada@lab.example") && mail.contains("bo@lab.example"), "{mail}");
    assert!(mail.contains("Message-ID: <") && mail.contains(":fired:email@srs>"), "{mail}");
    assert!(mail.contains("experiment: Sleep study") && mail.contains(&format!("export id: {export_id}")), "{mail}");
    assert!(mail.contains(&format!("https://srs.lab.example/console/exports/{export_id}")), "{mail}");

    let (status, answer) = server.post(&admin, "/api/v1/notifications/test", json!({"channel": "email"})).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({"delivered": true})));
    let mail = mail_with(&inbox, "Test message from SRS").await;
    assert!(mail.contains("Subject: [SRS] Test message from SRS through the email channel"), "{mail}");
    assert!(mail.contains("sent by: root") && mail.contains("https://srs.lab.example/console/admin/notifications"), "{mail}");
    let (status, problem) = server.post(&admin, "/api/v1/notifications/test", json!({"channel": "slack"})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("channel_off")), "{problem}");
    let (_, operator) = server.user("olga", Role::Operator).await;
    let (status, _) = server.post(&operator, "/api/v1/notifications/test", json!({"channel": "email"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins only");

    let (status, channels) = server.get(&admin, "/api/v1/notifications/channels").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!channels.to_string().contains("hunter2") && !channels.to_string().contains("relay-user"), "{channels}");
    assert_eq!(
        channels,
        json!([
            {"channel": "email", "configured": true, "usable": true,
             "target": format!("smtp://127.0.0.1:{port} to ada@lab.example, bo@lab.example"), "last_error": null},
            {"channel": "slack", "configured": false, "usable": false, "target": null, "last_error": null},
            {"channel": "webhook", "configured": false, "usable": false, "target": null, "last_error": null},
        ])
    );
    let (_, alerts) = server.get(&admin, "/api/v1/notifications?state=resolved").await;
    let notice = &alerts.as_array().expect("alerts")[0];
    assert_eq!((notice["rule"].as_str(), notice["subject"].as_str()), (Some("export_completed"), Some(export_id)), "{notice}");
    assert_eq!(
        notice["deliveries"],
        json!([{"channel": "email", "notice": "fired", "status": "delivered", "attempts": 1, "last_error": null}])
    );

    // The relay goes away: the test says so, with the cause.
    drop(smtp);
    let (status, problem) = server.post(&admin, "/api/v1/notifications/test", json!({"channel": "email"})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::BAD_GATEWAY, Some("delivery_failed")), "{problem}");
    assert!(
        problem["detail"].as_str().is_some_and(|d| d.starts_with("the email channel did not deliver") && !d.contains("hunter2")),
        "{problem}"
    );
    server.stop().await;
}
