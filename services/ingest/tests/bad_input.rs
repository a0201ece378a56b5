//! Every bad input is answered as the contract says and stores nothing.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::{ecg, Lab};

/// What is sent (name, content type, body) and the expected status, code and (index, field) list.
type Case<'a> = (&'a str, &'a str, String, u16, &'a str, Vec<(usize, &'a str)>);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_and_stores_nothing() {
    // The default limits: 4 MiB bodies, 10,000 samples per request.
    let lab = Lab::start(&[]).await;
    lab.start_recording().await;
    let door = |values: serde_json::Value| json!({"sensor_id": "door-1", "values": values});
    let now_ns = srs_common::time::now_ns();
    let cases: Vec<Case<'_>> = vec![
        ("malformed JSON", "application/json", r#"{"sensor_id": "door-1", "values": {"open": tru"#.into(), 400, "malformed_json", vec![]),
        ("empty body", "application/json", String::new(), 400, "malformed_json", vec![]),
        ("not a sample", "application/json", "42".into(), 400, "malformed_json", vec![]),
        ("NaN literal", "application/json", r#"{"sensor_id": "ecg-1", "values": {"lead_i": NaN}}"#.into(), 400, "malformed_json", vec![]),
        (
            "number out of range",
            "application/json",
            r#"{"sensor_id": "ecg-1", "values": {"lead_i": 1e999}}"#.into(),
            422,
            "invalid_samples",
            vec![(0, "values")],
        ),
        ("too deep", "application/json", format!("{}{}", "[".repeat(200), "]".repeat(200)), 400, "too_deep", vec![]),
        (
            "deep inside values",
            "application/json",
            format!(r#"{{"sensor_id": "ecg-1", "values": {{"lead_i": {}1{}}}}}"#, "[".repeat(20), "]".repeat(20)),
            400,
            "too_deep",
            vec![],
        ),
        ("wrong content type", "text/plain", door(json!({"open": true})).to_string(), 415, "unsupported_media_type", vec![]),
        (
            "unknown sensor",
            "application/json",
            json!({"sensor_id": "nope", "values": {}}).to_string(),
            422,
            "invalid_samples",
            vec![(0, "sensor_id")],
        ),
        (
            "missing sensor",
            "application/json",
            json!({"values": {"open": true}}).to_string(),
            422,
            "invalid_samples",
            vec![(0, "sensor_id")],
        ),
        (
            "unknown field",
            "application/json",
            door(json!({"open": true, "ajar": 1})).to_string(),
            422,
            "invalid_samples",
            vec![(0, "values.ajar")],
        ),
        (
            "unknown top-level field",
            "application/json",
            json!({"sensor_id": "door-1", "values": {"open": true}, "extra": 1}).to_string(),
            422,
            "invalid_samples",
            vec![(0, "extra")],
        ),
        ("wrong type", "application/json", door(json!({"open": "yes"})).to_string(), 422, "invalid_samples", vec![(0, "values.open")]),
        ("missing required field", "application/json", door(json!({})).to_string(), 422, "invalid_samples", vec![(0, "values.open")]),
        (
            "values not an object",
            "application/json",
            json!({"sensor_id": "door-1", "values": [true]}).to_string(),
            422,
            "invalid_samples",
            vec![(0, "values")],
        ),
        (
            "NaN as a string",
            "application/json",
            json!({"sensor_id": "ecg-1", "values": {"lead_i": "NaN"}}).to_string(),
            422,
            "invalid_samples",
            vec![(0, "values.lead_i")],
        ),
        (
            "ts too old",
            "application/json",
            json!({"sensor_id": "door-1", "ts": "1999-12-31T23:59:59Z", "values": {"open": true}}).to_string(),
            422,
            "invalid_samples",
            vec![(0, "ts")],
        ),
        (
            "ts in the future",
            "application/json",
            json!({"sensor_id": "door-1", "ts": now_ns + 2 * 86_400_000_000_000, "values": {"open": true}}).to_string(),
            422,
            "invalid_samples",
            vec![(0, "ts")],
        ),
        (
            "ts unparseable",
            "application/json",
            json!({"sensor_id": "door-1", "ts": "Tuesday", "values": {"open": true}}).to_string(),
            422,
            "invalid_samples",
            vec![(0, "ts")],
        ),
        (
            "ts a float",
            "application/json",
            json!({"sensor_id": "door-1", "ts": 1.5, "values": {"open": true}}).to_string(),
            422,
            "invalid_samples",
            vec![(0, "ts")],
        ),
        (
            "id too long",
            "application/json",
            json!({"sensor_id": "door-1", "id": "x".repeat(129), "values": {"open": true}}).to_string(),
            422,
            "invalid_samples",
            vec![(0, "id")],
        ),
        ("body over the limit", "application/json", ecg("big", 50_000).to_string(), 413, "body_too_large", vec![]),
        (
            "too many samples",
            "application/json",
            json!(vec![json!({"sensor_id": "door-1", "values": {"open": true}}); 10_001]).to_string(),
            413,
            "too_many_samples",
            vec![],
        ),
        (
            "malformed NDJSON",
            "application/x-ndjson",
            format!("{}\n{}\n{{\"sensor_id\": \n", door(json!({"open": true})), door(json!({"open": false}))),
            400,
            "malformed_ndjson",
            vec![],
        ),
        (
            "one bad sample rejects the batch",
            "application/json",
            json!([
                door(json!({"open": true})),
                door(json!({"open": 1})),
                door(json!({"open": false})),
                json!({"sensor_id": "x", "values": {}})
            ])
            .to_string(),
            422,
            "invalid_samples",
            vec![(1, "values.open"), (3, "sensor_id")],
        ),
    ];
    for (what, content_type, body, status, code, errors) in cases {
        let (got, problem) = lab.post("/api/v1/samples", content_type, body, None).await;
        assert_eq!((got.as_u16(), problem["code"].as_str()), (status, Some(code)), "{what}: {problem}");
        let listed: Vec<(usize, &str)> = problem["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(|p| Some((p["index"].as_u64()? as usize, p["field"].as_str()?))).collect())
            .unwrap_or_default();
        assert_eq!(listed, errors, "{what}: {problem}");
    }
    let (_, problem) =
        lab.post("/api/v1/samples", "application/x-ndjson", format!("{}\n\n{{oops}}\n", door(json!({"open": true}))), None).await;
    assert!(problem["detail"].as_str().is_some_and(|d| d.starts_with("line 3:")), "{problem}");
    let (status, _) = lab.post("/api/v1/sensors/nope/samples", "application/json", door(json!({"open": true})).to_string(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem) =
        lab.post("/api/v1/sensors/door-1/samples", "application/json", json!({"sensor_id": "ecg-1", "values": {}}).to_string(), None).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("sensor_id")));
    assert_eq!(lab.stored().await, 0, "nothing was stored");
    let metrics = lab.client.get(format!("{}/metrics", lab.url)).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("srs_ingest_requests_rejected_total{reason=\"invalid_samples\"}"), "rejections are counted by reason");
    lab.stop().await;
}
