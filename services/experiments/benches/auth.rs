//! Experiments service benchmark (scripts/bench-experiments.sh), figures and ratios in one run:
//!   1. logins/s through the real HTTP stack against raw argon2id verifications/s on the same
//!      blocking pool (logins are meant to be argon2-bound);
//!   2. authenticated `GET /api/v1/experiments/{id}` requests/s (JWT check, access check, store
//!      read) against a bare actix-web endpoint answering the same JSON, same load generator;
//!      `GET /api/v1/auth/me` (JWT check only) in between shows what the store read costs.
//!
//! SRS_BENCH_SECS sets each phase's duration (default 5), SRS_BENCH_CONNECTIONS the concurrent
//! clients of the GET phases (default 64).

use actix_web::{web, App, HttpResponse, HttpServer};
use srs_common::model::{new_id, Experiment, Role};
use srs_experiments::NewUser;
use srs_testkit::harness::TestServer;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `connections` clients sending `request` until `duration` passes; successful requests/s.
async fn drive<F, Fut>(connections: u64, duration: Duration, request: F) -> f64
where
    F: Fn(reqwest::Client) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (done, request) = (done.clone(), request.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                while started.elapsed() < duration {
                    if request(client.clone()).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("client task");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let (secs, connections) = (env_number("SRS_BENCH_SECS", 5), env_number("SRS_BENCH_CONNECTIONS", 64));
    let duration = Duration::from_secs(secs);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let unlimited = u32::MAX.to_string();
    let limits = [
        ("SRS__AUTH__LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE", unlimited.as_str()),
        ("SRS__AUTH__LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", unlimited.as_str()),
    ];
    let server = TestServer::start(&[&srs_experiments::SERVICE], &limits).await;
    let (base, context, store) = (server.url.clone(), server.context.clone(), server.context.store.clone());
    let user = srs_experiments::create_user(
        &store,
        NewUser { username: "erin".into(), password: PASSWORD.into(), role: Role::Experimenter, email: None },
    )
    .await
    .expect("user");
    let experiment = Experiment {
        id: new_id(),
        name: "Stress 2026".into(),
        description: "Trier social stress test, 40 participants".into(),
        owner_id: user.id.clone(),
        sensor_config_id: new_id(),
        tasks: Vec::new(),
        operators: Vec::new(),
        participants: Vec::new(),
        created_at: srs_common::time::now(),
        version: 0,
        samples_deleted_at: None,
    };
    store.insert_experiment(&experiment).await.expect("experiment");
    println!("experiments service benchmark: {cores} cores, {secs} s per phase");

    // 1. Logins against raw argon2id verifications.
    let hash = user.password_hash.clone();
    let verified = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let verifiers: Vec<_> = (0..cores * 2)
        .map(|_| {
            let (hash, verified) = (hash.clone(), verified.clone());
            tokio::spawn(async move {
                while started.elapsed() < duration {
                    assert!(srs_common::auth::password::verify(PASSWORD.into(), hash.clone()).await);
                    verified.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for verifier in verifiers {
        verifier.await.expect("verifier");
    }
    let argon2_rate = verified.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let login_url = format!("{base}/api/v1/auth/login");
    let logins = drive(cores * 2, duration, move |client: reqwest::Client| {
        let url = login_url.clone();
        async move {
            let body = serde_json::json!({"username": "erin", "password": PASSWORD});
            client.post(url).json(&body).send().await.is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    println!("argon2id verifications (baseline): {argon2_rate:>9.1} /s");
    println!("logins over HTTP:                  {logins:>9.1} /s   ratio {:.2}x", logins / argon2_rate);

    // 2. Authenticated reads against a bare endpoint with the same answer.
    let token = context
        .jwt
        .sign(srs_common::auth::jwt::TokenKind::Access, (&user.id, &user.username, user.role), &new_id(), None, 3600)
        .expect("token");
    let answer = Arc::new(
        reqwest::Client::new()
            .get(format!("{base}/api/v1/experiments/{}", experiment.id))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body"),
    );
    assert!(answer.contains("Stress 2026"), "{answer}");
    let bare_answer = answer.clone();
    let bare = HttpServer::new(move || {
        let answer = bare_answer.clone();
        App::new().route(
            "/bare",
            web::get().to(move || {
                let answer = answer.clone();
                async move { HttpResponse::Ok().content_type("application/json").body(answer.as_str().to_owned()) }
            }),
        )
    })
    .bind("127.0.0.1:0")
    .expect("bind bare");
    let bare_url = format!("http://{}/bare", bare.addrs()[0]);
    let bare = bare.disable_signals().run();
    let bare_handle = bare.handle();
    tokio::spawn(bare);
    let bare_rate = drive(connections, duration, move |client: reqwest::Client| {
        let url = bare_url.clone();
        async move { client.get(url).send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    let me_url = format!("{base}/api/v1/auth/me");
    let me_token = token.clone();
    let me = drive(connections, duration, move |client: reqwest::Client| {
        let (url, token) = (me_url.clone(), me_token.clone());
        async move { client.get(url).bearer_auth(token).send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    let get_url = format!("{base}/api/v1/experiments/{}", experiment.id);
    let ours = drive(connections, duration, move |client: reqwest::Client| {
        let (url, token) = (get_url.clone(), token.clone());
        async move { client.get(url).bearer_auth(token).send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    println!("bare actix GET (baseline, {connections} clients):  {bare_rate:>9.0} req/s");
    println!("authenticated GET /auth/me (no store):   {me:>9.0} req/s   ratio {:.2}x", me / bare_rate);
    println!("authenticated GET /experiments/{{id}}:      {ours:>9.0} req/s   ratio {:.2}x", ours / bare_rate);
    bare_handle.stop(true).await;
    server.stop().await;
}
