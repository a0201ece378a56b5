//! Tokens that must not get in (every one 401), refresh rotation with family revocation on
//! replay, and login throttling.

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};
use srs_common::model::Role;
use support::{Backend, TestApp, PASSWORD};

fn now() -> i64 {
    srs_common::time::now().timestamp()
}

/// Valid claims for `user`, to be spoiled one way at a time.
fn claims(user_id: &str) -> Value {
    json!({"sub": user_id, "name": "erin", "role": "experimenter", "typ": "access", "jti": "j", "iss": "srs", "aud": "srs",
           "iat": now(), "nbf": now(), "exp": now() + 600})
}

fn signed(app: &TestApp, claims: &Value) -> String {
    let key = EncodingKey::from_ed_pem(app.private_pem.as_bytes()).expect("key");
    jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &key).expect("sign")
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

async fn status_of(app: &TestApp, token: &str) -> StatusCode {
    app.get(token, "/api/v1/auth/me").await.0
}

#[tokio::test]
async fn forged_and_misused_tokens_get_401() {
    let app = TestApp::start(Backend::Sqlite).await;
    let user = app.user("erin", Role::Experimenter).await;
    let good = claims(&user.id);
    assert_eq!(status_of(&app, &signed(&app, &good)).await, StatusCode::OK, "the baseline forged with the real key is valid");

    let segment = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let none = format!("{}.{}.", segment(&json!({"alg": "none", "typ": "JWT"})), segment(&good));
    let hs256 =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &good, &EncodingKey::from_secret(app.public_pem.as_bytes())).expect("hs256");
    let valid = signed(&app, &good);
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], segment(&with(good.clone(), "role", json!("admin"))), parts[2]);
    let cases = [
        ("alg none", none),
        ("HS256 signed with the public key", hs256),
        ("wrong audience", signed(&app, &with(good.clone(), "aud", json!("other")))),
        ("wrong issuer", signed(&app, &with(good.clone(), "iss", json!("evil")))),
        ("expired beyond the leeway", signed(&app, &with(good.clone(), "exp", json!(now() - 120)))),
        ("nbf in the future", signed(&app, &with(good.clone(), "nbf", json!(now() + 600)))),
        (
            "no exp",
            signed(&app, &{
                let mut c = good.clone();
                c.as_object_mut().expect("object").remove("exp");
                c
            }),
        ),
        ("tampered payload", tampered),
        ("a refresh token as access token", user.refresh.clone()),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (what, token) in cases {
        let (status, problem) = app.get(&token, "/api/v1/auth/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {problem}");
        assert_eq!(problem["code"], "unauthorized", "{what}");
    }
    // Within the leeway an expired token still works (clock skew between services).
    assert_eq!(status_of(&app, &signed(&app, &with(good, "exp", json!(now() - 5)))).await, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_revokes_the_family() {
    let app = TestApp::start(Backend::Sqlite).await;
    let user = app.user("erin", Role::Experimenter).await;
    let other_session = app.login("erin", PASSWORD).await;
    let refresh = |token: String| app.call(reqwest::Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": token})));

    let (status, second) = refresh(user.refresh.clone()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(status_of(&app, second["access_token"].as_str().expect("access")).await, StatusCode::OK);
    let (status, third) = refresh(second["refresh_token"].as_str().expect("refresh").to_owned()).await;
    assert_eq!(status, StatusCode::OK);

    // The first token was rotated out: presenting it again is a replay.
    let (status, problem) = refresh(user.refresh.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    // ... and it revoked the whole family, including the current token.
    assert_eq!(refresh(third["refresh_token"].as_str().expect("refresh").to_owned()).await.0, StatusCode::UNAUTHORIZED);
    // Another login of the same user is a different family and still works.
    assert_eq!(refresh(other_session["refresh_token"].as_str().expect("refresh").to_owned()).await.0, StatusCode::OK);
    // An access token is no refresh token.
    assert_eq!(refresh(user.token.clone()).await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn logins_are_throttled_per_account_and_per_address() {
    let limits = [("SRS__AUTH__LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE", "3"), ("SRS__AUTH__LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", "6")];
    let app = TestApp::start_configured(Backend::Sqlite, &limits).await;
    app.add_user("erin", Role::Experimenter).await;
    let attempt = |username: &str, password: &str| {
        app.call(reqwest::Method::POST, "/api/v1/auth/login", None, Some(json!({"username": username, "password": password})))
    };
    for _ in 0..3 {
        assert_eq!(attempt("erin", "wrong password").await.0, StatusCode::UNAUTHORIZED);
    }
    // The account is out of attempts, even with the right password.
    let response = app
        .client
        .post(format!("{}/api/v1/auth/login", app.url))
        .json(&json!({"username": "erin", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers().get("retry-after").expect("Retry-After").to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // Other accounts from the same address until the address is out of attempts too.
    assert_eq!(attempt("nobody", "x").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt("someone", "x").await.0, StatusCode::UNAUTHORIZED);
    let (status, problem) = attempt("third", "x").await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_requests")));
    app.stop().await;
}

/// Three sign-ins a minute per client address.
const THREE_PER_ADDRESS: (&str, &str) = ("SRS__AUTH__LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", "3");

/// Ten sign-ins with a different X-Forwarded-For each, three allowed per address and a fresh
/// account per attempt (so only the address limit can stop them): how many got past the
/// throttle (401, not 429).
async fn logins_let_through_with_rotating_forwarded_for(env: &[(&str, &str)], proxy_appends: Option<&str>) -> usize {
    let mut settings = vec![THREE_PER_ADDRESS];
    settings.extend_from_slice(env);
    let app = TestApp::start_configured(Backend::Sqlite, &settings).await;
    let mut let_through = 0;
    for attempt in 0..10 {
        let written_by_client = format!("198.51.100.{attempt}");
        let forwarded = match proxy_appends {
            Some(seen_by_proxy) => format!("{written_by_client}, {seen_by_proxy}"),
            None => written_by_client,
        };
        let response = app
            .client
            .post(format!("{}/api/v1/auth/login", app.url))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"username": format!("user{attempt}"), "password": "x"}))
            .send()
            .await
            .expect("send");
        if response.status() == StatusCode::UNAUTHORIZED {
            let_through += 1;
        } else {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        }
    }
    app.stop().await;
    let_through
}

#[tokio::test]
async fn a_client_rotating_its_own_forwarded_for_is_still_throttled() {
    // Straight to the service (the peer, loopback, is no trusted proxy here): the header is
    // the client's own and is ignored.
    let direct = [("SRS__SERVER__BEHIND_PROXY", "true"), ("SRS__SERVER__TRUSTED_PROXIES", "10.0.0.0/8")];
    assert_eq!(logins_let_through_with_rotating_forwarded_for(&direct, None).await, 3);
    // Through a trusted proxy (loopback, the default) that appends the address it saw: the
    // client's own entries to the left of it do not count.
    let proxied = [("SRS__SERVER__BEHIND_PROXY", "true")];
    assert_eq!(logins_let_through_with_rotating_forwarded_for(&proxied, Some("203.0.113.7")).await, 3);
    // Without behind_proxy the header is never read.
    assert_eq!(logins_let_through_with_rotating_forwarded_for(&[], Some("203.0.113.7")).await, 3);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_real_client_has_its_own_budget() {
    // The proxy appends a different client each time: no client is over its limit. (This
    // one fails if the header were ignored, so the test above cannot pass vacuously.)
    let app = TestApp::start_configured(Backend::Sqlite, &[("SRS__SERVER__BEHIND_PROXY", "true"), THREE_PER_ADDRESS]).await;
    for attempt in 0..10 {
        let response = app
            .client
            .post(format!("{}/api/v1/auth/login", app.url))
            .header("x-forwarded-for", format!("203.0.113.{attempt}"))
            .json(&json!({"username": format!("user{attempt}"), "password": "x"}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    app.stop().await;
}
