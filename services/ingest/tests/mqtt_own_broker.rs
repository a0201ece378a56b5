//! Ingest against a Mosquitto of the test's own:
//! - over TLS, with a certificate of a CA made for the test (openssl): trusting that CA
//!   (`mqtt.ca_certificate`) ingest connects over `mqtts://` and stores what a sensor publishes;
//!   trusting only the system's roots, it refuses the certificate and stays not ready;
//! - the broker stopped and started again (without its sessions): ingest is not ready meanwhile,
//!   reconnects by itself, subscribes again and stores what is published afterwards.

mod support;

use serde_json::json;
use srs_testkit::mqtt::{unique_root, TestClient};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;
use support::Lab;

fn run(program: &str, args: &[&str], dir: &Path) {
    let status = Command::new(program).args(args).current_dir(dir).status().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

/// A CA and a certificate for 127.0.0.1 signed by it, in `dir`.
fn make_certificates(dir: &Path) {
    let subject = |name: &str| format!("/CN={name}");
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            &subject("SRS test CA"),
        ],
        dir,
    );
    run(
        "openssl",
        &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", &subject("127.0.0.1")],
        dir,
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").expect("san");
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "server.pem",
            "-extfile",
            "san.ext",
        ],
        dir,
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port()
}

struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Mosquitto with a plain listener on `plain_port` and, given `tls_port`, a TLS one with the
/// certificates of `make_certificates`.
fn start_broker(dir: &Path, tls_port: Option<u16>, plain_port: u16) -> Broker {
    let user = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout).expect("utf-8");
    let mut config = format!("per_listener_settings false\nallow_anonymous true\nuser {}\nlistener {plain_port} 127.0.0.1\n", user.trim());
    if let Some(tls_port) = tls_port {
        config += &format!(
            "listener {tls_port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n",
            ca = dir.join("ca.pem").display(),
            cert = dir.join("server.pem").display(),
            key = dir.join("server.key").display(),
        );
    }
    std::fs::write(dir.join("mosquitto.conf"), config).expect("config");
    let binary = ["mosquitto", "/usr/sbin/mosquitto"]
        .into_iter()
        .find(|b| Command::new(b).arg("-h").output().is_ok())
        .expect("Mosquitto must be installed (scripts/test.sh installs it)");
    // Dropped (killed and waited for) on every path, the panic below included.
    let broker = Broker(Command::new(binary).arg("-c").arg(dir.join("mosquitto.conf")).spawn().expect("start mosquitto"));
    let listening = |port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    for _ in 0..100 {
        if tls_port.is_none_or(listening) && listening(plain_port) {
            return broker;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the test's Mosquitto did not start");
}

/// `/readyz`'s status once it is `status`, or after `secs` seconds.
async fn readyz_within(lab: &Lab, status: u16, secs: u64) -> u16 {
    srs_testkit::wait_readyz(&lab.client, &lab.url, status, Duration::from_secs(secs)).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ingest_connects_over_tls_to_a_broker_of_a_trusted_ca_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certificates(dir.path());
    let (tls_port, plain_port) = (free_port(), free_port());
    let _broker = start_broker(dir.path(), Some(tls_port), plain_port);
    let root = unique_root("tls");
    let ca = dir.path().join("ca.pem").display().to_string();
    let url = format!("mqtts://127.0.0.1:{tls_port}");
    let settings = |ca: &str| {
        vec![
            ("SRS__MQTT__URL".to_owned(), url.clone()),
            ("SRS__MQTT__CA_CERTIFICATE".to_owned(), ca.to_owned()),
            ("SRS__MQTT__TOPIC_ROOT".to_owned(), root.clone()),
            ("SRS__MQTT__CLIENT_ID".to_owned(), format!("{root}-{}", if ca.is_empty() { "untrusting" } else { "trusting" })),
        ]
    };

    // Without the lab's CA the certificate is not trusted: never connected, not ready.
    let untrusting = Lab::start_with(settings("")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(readyz_within(&untrusting, 503, 0).await, 503);
    untrusting.stop().await;

    let lab = Lab::start_with(settings(&ca)).await;
    assert_eq!(readyz_within(&lab, 200, 5).await, 200, "connected over TLS");
    lab.start_recording().await;
    let mut sensor = TestClient::connect_to(&format!("mqtt://127.0.0.1:{plain_port}"), &format!("{root}-sensor"), |_| {}).await;
    sensor.publish_acked(&format!("{root}/samples/door-1"), json!({"id": "tls:1", "values": {"open": true}}).to_string()).await;
    assert_eq!(lab.wait_stored(1).await, 1, "the sample came to ingest over TLS and was stored");
    sensor.disconnect().await;
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ingest_reconnects_and_subscribes_again_when_the_broker_comes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let broker = start_broker(dir.path(), None, port);
    let root = unique_root("reconnect");
    let url = format!("mqtt://127.0.0.1:{port}");
    let lab = Lab::start_with(vec![
        ("SRS__MQTT__URL".to_owned(), url.clone()),
        ("SRS__MQTT__TOPIC_ROOT".to_owned(), root.clone()),
        ("SRS__MQTT__CLIENT_ID".to_owned(), format!("{root}-ingest")),
    ])
    .await;
    assert_eq!(readyz_within(&lab, 200, 10).await, 200);
    drop(broker);
    assert_eq!(readyz_within(&lab, 503, 20).await, 503, "not ready without its broker");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A new broker on the same port, which knows nothing of the old session.
    let _broker = start_broker(dir.path(), None, port);
    assert_eq!(readyz_within(&lab, 200, 45).await, 200, "reconnected and subscribed by itself");
    let reconnects = srs_testkit::metric(&lab.client, &lab.url, "srs_ingest_mqtt_reconnects_total{broker=\"mqtt\"}").await;
    assert!(reconnects >= 1.0, "reconnects are counted: {reconnects}");
    lab.start_recording().await;
    let mut sensor = TestClient::connect_to(&url, &format!("{root}-sensor"), |_| {}).await;
    sensor.publish_acked(&format!("{root}/samples/door-1"), json!({"id": "back:1", "values": {"open": true}}).to_string()).await;
    assert_eq!(lab.wait_stored(1).await, 1, "the new subscription delivers");
    sensor.disconnect().await;
    lab.stop().await;
}
