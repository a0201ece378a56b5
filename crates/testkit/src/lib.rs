//! What the SRS test suites share for running a service binary the way an admin does: start it
//! on a free port, learn its address from its first line, stop it with SIGTERM; connect to the
//! test RabbitMQ; check an export with pyarrow; a lab with recorded samples (`lab`).

pub mod harness;
pub mod lab;
pub mod mqtt;
pub mod small_disk;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A service binary run the way an admin runs it, in `dir`: no settings from the caller's
/// environment (`SRS_ENV`, `SRS_CONFIG_DIR`), warnings only, listening on a free port.
pub fn service_command(binary: &str, dir: &std::path::Path) -> Command {
    let mut command = Command::new(binary);
    command
        .current_dir(dir)
        .env_remove("SRS_ENV")
        .env_remove("SRS_CONFIG_DIR")
        .env("RUST_LOG", "warn")
        .env("SRS__SERVER__LISTEN", "127.0.0.1:0");
    command
}

/// An access token of `role` signed with the key pair in `keys` (`private.pem`, `public.pem`),
/// as the experiments service of that deployment would issue it.
pub fn signed_access_token(keys: &std::path::Path, role: srs_common::model::Role) -> String {
    let signer = srs_common::auth::jwt::JwtKeys::from_pem(
        Some(std::fs::read(keys.join("private.pem")).expect("private key").as_slice()),
        &std::fs::read(keys.join("public.pem")).expect("public key"),
        "srs",
        "srs",
    )
    .expect("key pair");
    signer.sign(srs_common::auth::jwt::TokenKind::Access, ("test-user", "tester", role), "test-jti", None, 600).expect("token")
}

/// Starts `command` (which must listen on port 0 and print `{name} listening on http://ADDR`
/// first) and returns the child with its base URL.
pub fn spawn_listening(mut command: Command, name: &str) -> (Child, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("{name} has no stdout"));
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap_or_else(|e| panic!("cannot read {name}'s first line: {e}"));
    let prefix = format!("{name} listening on ");
    let base = line.trim().strip_prefix(&prefix).unwrap_or_else(|| panic!("unexpected first line of {name}: {line:?}")).to_owned();
    (child, base)
}

/// Sends SIGTERM and waits up to 10 s for the process to exit.
pub fn terminate(mut child: Child) -> ExitStatus {
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap_or_else(|e| panic!("cannot run kill: {e}"));
    assert!(sent.success(), "kill -TERM failed");
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("cannot wait for the child: {e}")) {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("the process did not stop within 10 s of SIGTERM");
}

/// The Python that has pyarrow: `SRS_TEST_PYTHON`, else the workspace's `.venv` (made by
/// scripts/test.sh), else `python3`.
pub fn python() -> std::path::PathBuf {
    if let Some(python) = std::env::var_os("SRS_TEST_PYTHON") {
        return python.into();
    }
    let venv = workspace().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// The workspace root.
pub fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Checks an export directory with pyarrow (scripts/check_export.py) and returns its JSON
/// report; panics naming the problem when the export is not what the contract says.
pub fn check_export(dir: &std::path::Path) -> String {
    let script = workspace().join("scripts/check_export.py");
    let output = Command::new(python()).arg(script).arg(dir).output().unwrap_or_else(|e| panic!("cannot run python: {e}"));
    assert!(
        output.status.success(),
        "pyarrow check failed (scripts/test.sh installs pyarrow into .venv): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The broker the tests use: `SRS_TEST_AMQP_URL`, else the local RabbitMQ that
/// scripts/test.sh makes sure answers.
pub fn amqp_url() -> String {
    std::env::var("SRS_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A connected RabbitMQ bus (short heartbeat); fails loudly when no broker answers.
pub async fn amqp_bus() -> std::sync::Arc<srs_common::bus::amqp::AmqpBus> {
    use srs_common::bus::amqp::{AmqpBus, AmqpOptions};
    let url = amqp_url();
    let bus = AmqpBus::start(AmqpOptions {
        url: url.clone(),
        heartbeat_secs: 2,
        publish_timeout: Duration::from_secs(10),
        job_delivery_limit: 3,
    });
    bus.wait_ready(Duration::from_secs(15))
        .await
        .unwrap_or_else(|e| panic!("RabbitMQ must answer at {url} (scripts/test.sh starts it): {e}"));
    std::sync::Arc::new(bus)
}

/// A queue name no other test uses.
pub fn unique_queue(name: &str) -> String {
    format!("test.{name}.{}", srs_common::model::new_id())
}

/// Deletes test work queues (and their dead-letter queues) from the test broker.
pub async fn delete_queues(queues: &[&str]) {
    srs_common::bus::amqp::delete_work_queues(&amqp_url(), queues).await;
}

/// A metric's value on `base`/metrics: the line of `name` (labels included, as /metrics prints
/// them, e.g. `srs_ingest_mqtt_messages_total{broker="mqtt"}`); 0 when it has none yet.
pub async fn metric(client: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = client.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
}

/// Polls `base`/readyz until it answers `status` or `within` has passed; the last answer.
pub async fn wait_readyz(client: &reqwest::Client, base: &str, status: u16, within: Duration) -> (u16, serde_json::Value) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let response = client.get(format!("{base}/readyz")).send().await.expect("readyz");
        let now = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        if now == status || std::time::Instant::now() > deadline {
            return (now, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
