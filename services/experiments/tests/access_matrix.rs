//! Who may do what: every role against its own and someone else's experiment, on every
//! endpoint, through the real HTTP stack. Unseen experiments are 404, seen but not owned 403.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use srs_common::model::Role;
use support::{Backend, TestApp, User};

const OK: u16 = 200;
const CREATED: u16 = 201;
const NO_CONTENT: u16 = 204;
const FORBIDDEN: u16 = 403;
const NOT_FOUND: u16 = 404;

/// What a row needs before each call.
#[derive(Clone, Copy, PartialEq)]
enum Setup {
    None,
    /// The experiment is active and nothing records.
    Active,
    /// A recording runs; `{rec}` is its id.
    Recording,
}

struct Row {
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
    setup: Setup,
    /// admin, owner, another experimenter, assigned operator, unassigned operator.
    expect: [u16; 5],
}

fn row(method: Method, path: &'static str, body: Option<&'static str>, setup: Setup, expect: [u16; 5]) -> Row {
    Row { method, path, body, setup, expect }
}

on_every_store!(every_role_on_own_and_foreign_experiments, global_endpoints_by_role);

struct Lab {
    app: TestApp,
    actors: Vec<(&'static str, User)>,
    admin_token: String,
    experiment: support::Experiment,
    operator_id: String,
}

async fn lab(backend: Backend) -> Lab {
    let app = TestApp::start(backend).await;
    let admin = app.user("admin", Role::Admin).await;
    let owner = app.user("owner", Role::Experimenter).await;
    let other = app.user("other", Role::Experimenter).await;
    let assigned = app.user("assigned", Role::Operator).await;
    let unassigned = app.user("unassigned", Role::Operator).await;
    let experiment = app.experiment(&owner, "owned").await;
    let (status, _) =
        app.put(&owner.token, &format!("/api/v1/experiments/{}/operators", experiment.id), json!({"user_ids": [assigned.id]})).await;
    assert_eq!(status, StatusCode::OK);
    let (admin_token, operator_id) = (admin.token.clone(), assigned.id.clone());
    let actors = vec![
        ("admin", admin),
        ("owner", owner),
        ("other experimenter", other),
        ("assigned operator", assigned),
        ("unassigned operator", unassigned),
    ];
    Lab { app, actors, admin_token, experiment, operator_id }
}

impl Lab {
    async fn prepare(&self, setup: Setup) -> String {
        let (app, admin, id) = (&self.app, &self.admin_token, &self.experiment.id);
        if let Some(running) = app.context.store.running_recording().await.expect("running") {
            app.post(admin, &format!("/api/v1/recordings/{}/stop", running.id), json!({})).await;
        }
        if setup == Setup::None {
            return String::new();
        }
        let (status, _) = app.post(admin, &format!("/api/v1/experiments/{id}/activate"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        if setup == Setup::Active {
            return String::new();
        }
        let recording =
            app.created(admin, "/api/v1/recordings", json!({"experiment_id": id, "participant_id": self.experiment.participant_id})).await;
        recording["id"].as_str().expect("id").to_owned()
    }

    fn fill(&self, template: &str, recording: &str, n: usize) -> String {
        template
            .replace("{id}", &self.experiment.id)
            .replace("{p}", &self.experiment.participant_id)
            .replace("{t}", &self.experiment.task_id)
            .replace("{rec}", recording)
            .replace("{op}", &self.operator_id)
            .replace("{n}", &n.to_string())
    }
}

async fn every_role_on_own_and_foreign_experiments(backend: Backend) {
    use Method as M;
    let rows = [
        row(M::GET, "/api/v1/experiments/{id}", None, Setup::None, [OK, OK, NOT_FOUND, OK, NOT_FOUND]),
        row(
            M::PATCH,
            "/api/v1/experiments/{id}",
            Some(r#"{"description": "v{n}"}"#),
            Setup::None,
            [OK, OK, NOT_FOUND, FORBIDDEN, NOT_FOUND],
        ),
        row(
            M::POST,
            "/api/v1/experiments/{id}/tasks",
            Some(r#"{"name": "task {n}"}"#),
            Setup::None,
            [CREATED, CREATED, NOT_FOUND, FORBIDDEN, NOT_FOUND],
        ),
        row(
            M::POST,
            "/api/v1/experiments/{id}/participants",
            Some(r#"{"code": "X{n}"}"#),
            Setup::None,
            [CREATED, CREATED, NOT_FOUND, CREATED, NOT_FOUND],
        ),
        row(
            M::PUT,
            "/api/v1/experiments/{id}/operators",
            Some(r#"{"user_ids": ["{op}"]}"#),
            Setup::None,
            [OK, OK, NOT_FOUND, FORBIDDEN, NOT_FOUND],
        ),
        row(M::POST, "/api/v1/experiments/{id}/activate", None, Setup::None, [OK, OK, NOT_FOUND, FORBIDDEN, NOT_FOUND]),
        row(M::POST, "/api/v1/experiments/{id}/deactivate", None, Setup::Active, [OK, OK, NOT_FOUND, FORBIDDEN, NOT_FOUND]),
        row(
            M::POST,
            "/api/v1/recordings",
            Some(r#"{"experiment_id": "{id}", "participant_id": "{p}", "task_id": "{t}"}"#),
            Setup::Active,
            [CREATED, CREATED, NOT_FOUND, CREATED, NOT_FOUND],
        ),
        row(M::POST, "/api/v1/recordings/{rec}/stop", None, Setup::Recording, [OK, OK, NOT_FOUND, OK, NOT_FOUND]),
        row(M::GET, "/api/v1/recordings?experiment_id={id}", None, Setup::None, [OK, OK, NOT_FOUND, OK, NOT_FOUND]),
        row(
            M::POST,
            "/api/v1/experiments/{id}/logbook",
            Some(r#"{"message": "note {n}"}"#),
            Setup::None,
            [CREATED, CREATED, NOT_FOUND, CREATED, NOT_FOUND],
        ),
        row(M::GET, "/api/v1/experiments/{id}/logbook", None, Setup::None, [OK, OK, NOT_FOUND, OK, NOT_FOUND]),
        row(
            M::PUT,
            "/api/v1/experiments/{id}/participants/{p}/progress/{t}",
            Some(r#"{"status": "in_progress"}"#),
            Setup::None,
            [OK, OK, NOT_FOUND, OK, NOT_FOUND],
        ),
        row(M::GET, "/api/v1/experiments/{id}/progress", None, Setup::None, [OK, OK, NOT_FOUND, OK, NOT_FOUND]),
        row(M::GET, "/api/v1/experiments/{id}/samples/stats", None, Setup::None, [OK, OK, NOT_FOUND, OK, NOT_FOUND]),
        row(M::DELETE, "/api/v1/experiments/{id}/samples?force=true", None, Setup::None, [OK, FORBIDDEN, NOT_FOUND, FORBIDDEN, NOT_FOUND]),
    ];
    let lab = lab(backend).await;
    let mut n = 0;
    let mut failures = Vec::new();
    for row in &rows {
        for ((who, actor), expected) in lab.actors.iter().zip(row.expect) {
            n += 1;
            let recording = lab.prepare(row.setup).await;
            let path = lab.fill(row.path, &recording, n);
            let body = row.body.map(|b| serde_json::from_str::<Value>(&lab.fill(b, &recording, n)).expect("row body"));
            let (status, answer) = lab.app.call(row.method.clone(), &path, Some(&actor.token), body).await;
            if status.as_u16() != expected {
                failures.push(format!("{} {} as {who}: expected {expected}, got {status} {answer}", row.method, row.path));
            }
            // Nobody is ever told without a token.
            if who == &"admin" {
                let (status, _) = lab.app.call(row.method.clone(), &path, None, None).await;
                if status != StatusCode::UNAUTHORIZED {
                    failures.push(format!("{} {} without a token: got {status}", row.method, row.path));
                }
            }
        }
    }
    assert!(failures.is_empty(), "access matrix:\n{}", failures.join("\n"));

    // Lists show only what the caller may see.
    for ((who, actor), sees) in lab.actors.iter().zip([true, true, false, true, false]) {
        let (_, list) = lab.app.get(&actor.token, "/api/v1/experiments").await;
        let ids: Vec<&str> = list.as_array().expect("list").iter().filter_map(|e| e["id"].as_str()).collect();
        assert_eq!(ids.contains(&lab.experiment.id.as_str()), sees, "{who} sees {ids:?}");
    }
    lab.app.stop().await;
}

async fn global_endpoints_by_role(backend: Backend) {
    use Method as M;
    let lab = lab(backend).await;
    let config = lab.experiment.config_id.clone();
    let token_id = {
        let issued = lab.app.created(&lab.admin_token, "/api/v1/sensors/door-1/tokens", json!({})).await;
        issued["id"].as_str().expect("id").to_owned()
    };
    let victim = lab.app.user("victim", Role::Operator).await.id;
    // admin, experimenter, operator
    let rows: Vec<(Method, String, Option<Value>, [u16; 3])> = vec![
        (M::GET, "/api/v1/auth/me".into(), None, [OK, OK, OK]),
        (M::GET, "/api/v1/sensor-types".into(), None, [OK, OK, OK]),
        (M::GET, "/api/v1/sensor-configs".into(), None, [OK, OK, OK]),
        (M::GET, format!("/api/v1/sensor-configs/{config}"), None, [OK, OK, OK]),
        (M::POST, "/api/v1/sensor-configs".into(), Some(json!({"name": "c"})), [CREATED, CREATED, FORBIDDEN]),
        (M::PUT, format!("/api/v1/sensor-configs/{config}"), Some(json!({"name": "renamed"})), [OK, OK, FORBIDDEN]),
        (M::POST, "/api/v1/experiments".into(), Some(json!({"name": "e", "sensor_config_id": config})), [CREATED, CREATED, FORBIDDEN]),
        (M::GET, "/api/v1/experiments".into(), None, [OK, OK, OK]),
        (M::GET, "/api/v1/users".into(), None, [OK, FORBIDDEN, FORBIDDEN]),
        (M::GET, format!("/api/v1/users/{victim}"), None, [OK, FORBIDDEN, FORBIDDEN]),
        (M::PATCH, format!("/api/v1/users/{victim}"), Some(json!({"email": "v@lab.example"})), [OK, FORBIDDEN, FORBIDDEN]),
        (M::POST, "/api/v1/sensors/ecg-1/tokens".into(), None, [CREATED, FORBIDDEN, FORBIDDEN]),
        (M::DELETE, format!("/api/v1/sensors/door-1/tokens/{token_id}"), None, [NO_CONTENT, FORBIDDEN, FORBIDDEN]),
        (M::DELETE, format!("/api/v1/users/{victim}"), None, [NO_CONTENT, FORBIDDEN, FORBIDDEN]),
    ];
    let callers = [&lab.actors[0], &lab.actors[1], &lab.actors[3]];
    let mut failures = Vec::new();
    for (method, path, body, expect) in &rows {
        // Admin last, so that a destructive call has been tried by everyone else first.
        for index in [1, 2, 0] {
            let (who, actor) = callers[index];
            let (status, answer) = lab.app.call(method.clone(), path, Some(&actor.token), body.clone()).await;
            if status.as_u16() != expect[index] {
                failures.push(format!("{method} {path} as {who}: expected {}, got {status} {answer}", expect[index]));
            }
        }
        if path != "/api/v1/experiments/active" {
            let (status, _) = lab.app.call(method.clone(), path, None, body.clone()).await;
            if status != StatusCode::UNAUTHORIZED {
                failures.push(format!("{method} {path} without a token: got {status}"));
            }
        }
    }
    let (status, _) = lab
        .app
        .call(
            M::POST,
            "/api/v1/users",
            Some(&lab.actors[1].1.token),
            Some(json!({"username": "x", "password": "long enough", "role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an experimenter cannot create an admin");
    assert!(failures.is_empty(), "access matrix:\n{}", failures.join("\n"));
    // The public endpoint answers without a token.
    assert_eq!(lab.app.call(M::GET, "/api/v1/experiments/active", None, None).await.0, StatusCode::OK);
    lab.app.stop().await;
}
