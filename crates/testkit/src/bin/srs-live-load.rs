//! Load for `scripts/bench-live.sh`: sensors that post at realistic rates and, unless
//! `--clients 0`, live sockets that watch them. Prints what the clients measured.
//!
//! `srs-live-load --url URL --token TOKEN --secs S [--clients N] [--value-clients M]
//!  [--server-pid PID] [--ready-file PATH]`
//!
//! The sensors post for 3 s, the clients connect (the server's RSS before and after gives the
//! memory per connection), the clients measure for S s under the lab's load alone, then the
//! ready file is written (the caller starts its wrk run of S s) and they measure S + 2 s more.
//!
//! Sensors: `bench-ecg-0..9` (three fields, 250 Hz, a batch of 25 every 100 ms) and
//! `bench-env-0..189` (two fields, 5 Hz, one sample per post) — the sensors file must have them
//! (bench-live.sh writes it). Clients: all take the activity feed; the first M subscribe to the
//! ten ECG sensors at 50 Hz. Latency comes from the frames' own stamps (same machine, same
//! clock): a values frame's `at` is when ingest published its data; its last bucket's end is
//! when the newest sample in it was taken (samples are posted in real time).

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const ECG: usize = 10;
const ENV: usize = 190;
const MS: i64 = 1_000_000;

struct Options {
    url: String,
    token: String,
    secs: u64,
    clients: usize,
    value_clients: usize,
    server_pid: Option<u32>,
    ready_file: Option<String>,
}

fn options() -> Options {
    let mut options =
        Options { url: String::new(), token: String::new(), secs: 10, clients: 0, value_clients: 0, server_pid: None, ready_file: None };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| fail(&format!("{flag} needs a value")));
        let number = || value.parse::<u64>().unwrap_or_else(|_| fail(&format!("{flag} needs a number")));
        match flag.as_str() {
            "--url" => options.url = value.trim_end_matches('/').to_owned(),
            "--token" => options.token = value.clone(),
            "--secs" => options.secs = number(),
            "--clients" => options.clients = number() as usize,
            "--value-clients" => options.value_clients = number() as usize,
            "--server-pid" => options.server_pid = Some(number() as u32),
            "--ready-file" => options.ready_file = Some(value.clone()),
            other => fail(&format!("unknown option {other}")),
        }
    }
    if options.url.is_empty() || options.token.is_empty() {
        fail("--url and --token are required");
    }
    options
}

fn fail(message: &str) -> ! {
    eprintln!("srs-live-load: {message}");
    std::process::exit(2);
}

/// What every client adds to.
#[derive(Default)]
struct Measured {
    activity_frames: AtomicU64,
    values_frames: AtomicU64,
    other_frames: AtomicU64,
    dropped: AtomicU64,
    /// Microseconds: ingest publish -> client, newest sample -> client, activity frame -> client.
    publish_to_client: Mutex<Vec<u64>>,
    sample_to_client: Mutex<Vec<u64>>,
    activity_to_client: Mutex<Vec<u64>>,
    counting: AtomicBool,
}

#[tokio::main]
async fn main() {
    let options = options();
    let stop = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::new();
    let posters: Vec<_> = (0..ECG + ENV).map(|i| tokio::spawn(post_sensor(http.clone(), options.url.clone(), i, stop.clone()))).collect();
    // The sensors run a while first, so the memory measured below is the clients' alone.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let measured = Arc::new(Measured::default());
    let rss_before = options.server_pid.and_then(rss_kib);
    let mut clients = Vec::with_capacity(options.clients);
    for index in 0..options.clients {
        let socket = connect(&options).await;
        let watch_values = index < options.value_clients;
        clients.push(tokio::spawn(client(socket, watch_values, measured.clone(), stop.clone())));
    }
    if options.clients > 0 {
        // Let subscriptions settle and the first frames flow before measuring memory.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rss_after = options.server_pid.and_then(rss_kib);
        println!("live clients: {} ({} watching 10 ECG sensors at 50 Hz), 200 sensors posting", options.clients, options.value_clients);
        if let (Some(before), Some(after)) = (rss_before, rss_after) {
            let per = after.saturating_sub(before) as f64 / options.clients as f64;
            println!("  server RSS {before} KiB -> {after} KiB with the clients: {per:.1} KiB per connection");
        }
        let figures = measure(&measured, options.secs, options.server_pid).await;
        report("the lab's load (sensors and clients only)", &figures);
    } else {
        let figures = measure(&measured, options.secs, options.server_pid).await;
        println!("  the sensors alone, {:.0} s: the server used {:.0}% of a core", figures.secs, figures.server_cpu_percent);
    }
    // Then under ingest at full speed (the caller's wrk starts now).
    if let Some(path) = &options.ready_file {
        std::fs::write(path, "ready").unwrap_or_else(|e| fail(&format!("ready file: {e}")));
    }
    let figures = measure(&measured, options.secs + 2, options.server_pid).await;
    if options.clients > 0 {
        report("with wrk posting at full speed beside them", &figures);
    }
    stop.store(true, Ordering::Relaxed);
    for task in posters.into_iter().chain(clients) {
        let _ = task.await;
    }
}

/// What the clients received in one window.
struct Figures {
    secs: f64,
    server_cpu_percent: f64,
    activity: u64,
    values: u64,
    other: u64,
    dropped: u64,
    latencies: [(&'static str, Vec<u64>); 3],
}

/// Counts for `secs`, then hands back (and resets) what was counted.
async fn measure(measured: &Measured, secs: u64, server_pid: Option<u32>) -> Figures {
    let cpu_before = server_pid.and_then(cpu_ticks);
    measured.counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    measured.counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_before.zip(server_pid.and_then(cpu_ticks)).map_or(f64::NAN, |(before, after)| (after - before) as f64);
    let take = |samples: &Mutex<Vec<u64>>| samples.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
    Figures {
        secs: elapsed,
        // Clock ticks are hundredths of a second on Linux.
        server_cpu_percent: cpu / elapsed,
        activity: measured.activity_frames.swap(0, Ordering::Relaxed),
        values: measured.values_frames.swap(0, Ordering::Relaxed),
        other: measured.other_frames.swap(0, Ordering::Relaxed),
        dropped: measured.dropped.swap(0, Ordering::Relaxed),
        latencies: [
            ("values: ingest publish -> client", take(&measured.publish_to_client)),
            ("values: newest sample  -> client", take(&measured.sample_to_client)),
            ("activity: frame sent   -> client", take(&measured.activity_to_client)),
        ],
    }
}

fn report(what: &str, figures: &Figures) {
    let per_second = |n: u64| n as f64 / figures.secs;
    let total = per_second(figures.activity + figures.values + figures.other);
    println!("  {what}, {:.0} s: the server used {:.0}% of a core", figures.secs, figures.server_cpu_percent);
    println!(
        "    delivered frames            {total:>8.0} /s  (activity {:.0}, values {:.0}, other {:.0}); dropped {}",
        per_second(figures.activity),
        per_second(figures.values),
        per_second(figures.other),
        figures.dropped
    );
    for (name, samples) in &figures.latencies {
        let mut samples = samples.clone();
        samples.sort_unstable();
        let at = |q: f64| samples.get(((samples.len() as f64 - 1.0) * q).round() as usize).map_or(f64::NAN, |us| *us as f64 / 1000.0);
        println!("    {name}  p50 {:>7.1} ms  p99 {:>7.1} ms  ({} frames)", at(0.5), at(0.99), samples.len());
    }
}

/// The server's user and system CPU time so far, in clock ticks, from /proc.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (in parentheses, which may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The server's resident memory, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(options: &Options) -> Socket {
    let url = format!("{}/api/v1/ws/live?access_token={}", options.url.replacen("http://", "ws://", 1), options.token);
    for _ in 0..20 {
        match tokio_tungstenite::connect_async(&url).await {
            Ok((socket, _)) => return socket,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    fail("cannot open a live socket")
}

async fn client(mut socket: Socket, watch_values: bool, measured: Arc<Measured>, stop: Arc<AtomicBool>) {
    if watch_values {
        let sensors: Vec<String> = (0..ECG).map(|i| format!("bench-ecg-{i}")).collect();
        let subscribe = json!({"type": "subscribe", "sensors": sensors, "max_hz": 50});
        if socket.send(Message::text(subscribe.to_string())).await.is_err() {
            return;
        }
    }
    while !stop.load(Ordering::Relaxed) {
        let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_millis(200), socket.next()).await else { continue };
        let Message::Text(text) = message else { continue };
        let received = srs_common::time::now_ns();
        if !measured.counting.load(Ordering::Relaxed) {
            continue;
        }
        // Only the stamps are read; the rest is skipped, so the clients cost the machine little.
        let Ok(frame) = serde_json::from_str::<Stamps<'_>>(&text) else { continue };
        measured.dropped.fetch_add(frame.dropped.unwrap_or(0), Ordering::Relaxed);
        let at = frame.at.and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok()).and_then(|at| at.timestamp_nanos_opt());
        let micros = |since: i64| u64::try_from((received - since) / 1_000).unwrap_or(0);
        match frame.kind {
            "values" => {
                measured.values_frames.fetch_add(1, Ordering::Relaxed);
                if let Some(at) = at {
                    push(&measured.publish_to_client, micros(at));
                }
                // The last point is its bucket's middle; the bucket (40 ms) ends 20 ms later.
                if let Some(last) = frame.ts.and_then(|ts| ts.last().copied()) {
                    push(&measured.sample_to_client, micros(last + 20 * MS));
                }
            }
            "activity" => {
                measured.activity_frames.fetch_add(1, Ordering::Relaxed);
                if let Some(at) = at {
                    push(&measured.activity_to_client, micros(at));
                }
            }
            _ => {
                measured.other_frames.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let _ = socket.close(None).await;
}

/// The parts of a live frame the clients measure with.
#[derive(serde::Deserialize)]
struct Stamps<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    at: Option<&'a str>,
    dropped: Option<u64>,
    ts: Option<Vec<i64>>,
}

fn push(samples: &Mutex<Vec<u64>>, micros: u64) {
    if let Ok(mut samples) = samples.lock() {
        samples.push(micros);
    }
}

/// One sensor posting in real time until `stop`: ECG sensors a batch of 25 samples every
/// 100 ms (250 Hz), the others one sample every 200 ms (5 Hz).
async fn post_sensor(http: reqwest::Client, url: String, index: usize, stop: Arc<AtomicBool>) {
    let (sensor, period, per_post) =
        if index < ECG { (format!("bench-ecg-{index}"), 100, 25) } else { (format!("bench-env-{}", index - ECG), 200, 1) };
    let spacing = period * MS / per_post;
    let target = format!("{url}/api/v1/sensors/{sensor}/samples");
    // Spread the sensors over the period so their posts do not all come at once.
    tokio::time::sleep(Duration::from_millis((index as u64 * 7) % period as u64)).await;
    let mut ticks = tokio::time::interval(Duration::from_millis(period as u64));
    let mut next_ts = srs_common::time::now_ns() - period * MS;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        let now = srs_common::time::now_ns();
        let mut body = Vec::with_capacity(per_post as usize);
        while next_ts <= now && body.len() < per_post as usize * 4 {
            n += 1;
            let phase = n as f64 / 25.0;
            let values = if index < ECG {
                json!({"lead_i": phase.sin(), "lead_ii": phase.cos(), "heart_rate": 60.0 + (n % 20) as f64})
            } else {
                json!({"temperature_c": 21.0 + phase.sin(), "humidity_pct": 40.0 + phase.cos()})
            };
            body.push(json!({"ts": next_ts, "values": values}));
            next_ts += spacing;
        }
        if body.is_empty() {
            continue;
        }
        match http.post(&target).json(&body).send().await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => eprintln!("srs-live-load: {sensor}: {}", response.status()),
            Err(error) => eprintln!("srs-live-load: {sensor}: {error}"),
        }
    }
}
