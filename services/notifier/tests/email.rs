//! The email channel against a real SMTP server (aiosmtpd from the test tools, started here):
//! an alert's mail arrives with a meaningful subject and body, and a link to the console.

use srs_common::model::{Alert, AlertState, DeliveryStatus, Outbox as Channels};
use srs_common::Settings;
use srs_notifier::channels::configured;
use srs_notifier::outbox::Outbox;
use srs_notifier::settings::{NotifierSettings, SECTION};
use srs_testkit::harness::TestServer;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// An SMTP server that appends every mail it takes to `inbox`; killed when dropped.
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
class Inbox:
    async def handle_DATA(self, server, session, envelope):
        with open(sys.argv[2], "ab") as inbox:
            inbox.write(envelope.content + b"\n--- end of mail ---\n")
        return "250 OK"
controller = Controller(Inbox(), hostname="127.0.0.1", port=int(sys.argv[1]))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_arrives_by_mail_with_what_happened_and_a_link() {
    let server = TestServer::start(&[], &[]).await;
    let inbox = server.dir.join("inbox.eml");
    let (_smtp, port) = smtp_server(&inbox);
    let vars = [
        ("SRS__NOTIFIER__EMAIL__SMTP_URL", format!("smtp://127.0.0.1:{port}")),
        ("SRS__NOTIFIER__EMAIL__FROM", "SRS <srs@lab.example>".to_owned()),
        ("SRS__NOTIFIER__EMAIL__TO", "ada@lab.example,bo@lab.example".to_owned()),
        ("SRS__NOTIFIER__CONSOLE_URL", "https://srs.lab.example".to_owned()),
    ];
    let settings =
        Settings::load_from(&server.dir, None, vars.iter().map(|(k, v)| (k.to_string(), v.clone())), &[&SECTION]).expect("settings");
    let settings = NotifierSettings::from_settings(&settings).expect("notifier settings");
    let outbox = Outbox::new(server.context.clone(), settings.clone(), &configured(&settings, &reqwest::Client::new()));

    let alert = Alert {
        id: srs_common::model::new_id(),
        rule: "export_completed".into(),
        subject: "export-7".into(),
        state: AlertState::Firing,
        fired_at: srs_common::time::now(),
        resolved_at: None,
        message: "the export of \"Sleep study\" is ready".into(),
        details: serde_json::json!({"experiment": "Sleep study", "rows": 604000, "path": "/experiments/e1/exports/export-7"}),
    };
    let now = srs_common::time::now_ns();
    let targets = Channels { channels: vec!["email".into()], now_ns: now, deadline_ns: now + 3_600_000_000_000 };
    assert!(server.context.store.open_alert(&alert, &targets).await.expect("open"));
    outbox.send_due().await;

    let (_, deliveries) = server.context.store.list_alerts(None, 1).await.expect("list").remove(0);
    assert_eq!((deliveries[0].status, deliveries[0].attempts), (DeliveryStatus::Delivered, 1), "{:?}", deliveries[0].last_error);
    let mut mail = String::new();
    for _ in 0..50 {
        mail = std::fs::read_to_string(&inbox).unwrap_or_default();
        if mail.contains("--- end of mail ---") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(mail.contains("Subject: [SRS] the export of \"Sleep study\" is ready"), "{mail}");
    assert!(mail.contains("From: SRS <srs@lab.example>") && mail.contains("ada@lab.example") && mail.contains("bo@lab.example"), "{mail}");
    assert!(mail.contains(&format!("Message-ID: <{}:fired:email@srs>", alert.id)), "{mail}");
    assert!(mail.contains("experiment: Sleep study") && mail.contains("rows: 604000"), "{mail}");
    assert!(mail.contains("https://srs.lab.example/experiments/e1/exports/export-7"), "{mail}");
}
