//! The API document of `srs serve` (every service merged) is a true contract: each path
//! parameter declared, operation ids unique, no two services' schemas sharing a name, every
//! `$ref` resolving; undeclared methods answer 405 with `Allow`; problem `type` links lead to
//! the problems page; the reference page and its assets come from the binary.

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target);
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

/// The services `srs serve` runs (its `ALL`; `srs` is a binary, so the list is repeated here).
const SERVICES: &[&srs_common::service::Service] = &[
    &srs_ingest::SERVICE,
    &srs_experiments::SERVICE,
    &srs_exporter::SERVICE,
    &srs_control::SERVICE,
    &srs_notifier::SERVICE,
    &srs_console::SERVICE,
];

#[test]
fn every_service_section_is_known_to_every_binary() {
    let sections: Vec<&str> = srs_common::service::sections(SERVICES).iter().map(|section| section.name).collect();
    assert_eq!(sections, srs_common::settings::SERVICE_SECTIONS);
}

#[test]
fn services_do_not_share_schema_names_with_different_shapes() {
    let mut documents: Vec<_> = SERVICES.iter().map(|service| (service.name, (service.openapi)())).collect();
    documents.push(("operations", srs_common::http::openapi::merged([])));
    let mut seen: BTreeMap<String, (&str, Value)> = BTreeMap::new();
    for (service, document) in &documents {
        let document = serde_json::to_value(document).expect("json");
        for (name, schema) in document["components"]["schemas"].as_object().into_iter().flatten() {
            match seen.get(name) {
                Some((other, same)) => assert_eq!(same, schema, "schema {name} of {service} differs from {other}'s"),
                None => {
                    seen.insert(name.clone(), (service, schema.clone()));
                }
            }
        }
    }
}

#[tokio::test]
async fn the_served_document_declares_every_parameter_and_resolves_every_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, base) = support::serve(dir.path(), &[]);
    let client = reqwest::Client::new();
    let document: Value = client.get(format!("{base}/api/v1/openapi.json")).send().await.expect("get").json().await.expect("json");
    assert_eq!(document["openapi"], "3.1.0");
    let mut operation_ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        let template: BTreeSet<&str> =
            path.split('/').filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        for (method, operation) in item.as_object().expect("path item") {
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().expect("name"))
                .collect();
            assert_eq!(declared, template, "{method} {path}: path parameters");
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has an operationId"));
            assert!(operation_ids.insert(id.to_owned()), "operationId {id} twice");
            assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} responses");
        }
    }
    let mut found = Vec::new();
    refs(&document, &mut found);
    for target in found {
        let name = target.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {target}"));
        assert!(document["components"]["schemas"][name].is_object(), "$ref {target} resolves");
    }
    // Query parameters are in the query.
    let delete = &document["paths"]["/api/v1/experiments/{id}/samples"]["delete"]["parameters"];
    assert!(delete.as_array().expect("params").iter().any(|p| p["name"] == "force" && p["in"] == "query"), "{delete}");
    // The export's progress is its own object, not the participants' progress table.
    let progress = &document["components"]["schemas"]["ExportView"]["properties"]["progress"]["$ref"];
    assert_eq!(progress, "#/components/schemas/ExportRowsProgress");
    support::terminate(child);
    the_snapshot_is(&document);
}

/// `docs/openapi.json` — which the console's API types are generated from, so that its build
/// needs no running server — is the document `srs serve` serves. `SRS_UPDATE_OPENAPI=1`
/// writes it anew after an API change (then the console's type check says what broke).
fn the_snapshot_is(document: &Value) {
    let path = srs_testkit::workspace().join("docs/openapi.json");
    let served = format!("{}\n", serde_json::to_string_pretty(document).expect("json"));
    if std::env::var_os("SRS_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &served).expect("write the snapshot");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "docs/openapi.json is not the served document: run `SRS_UPDATE_OPENAPI=1 cargo nextest run -p srs --test api_document`, \
         then rebuild the console (npm run check in services/console/web)"
    );
}

#[tokio::test]
async fn undeclared_methods_answer_405_and_problems_link_to_their_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, base) = support::serve(dir.path(), &[]);
    let client = reqwest::Client::new();
    let response = client.delete(format!("{base}/api/v1/experiments")).send().await.expect("send");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST");
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "method_not_allowed");
    // A path no route has is 404, and its problem links to the code's entry.
    let response = client.get(format!("{base}/api/v1/no-such-thing")).send().await.expect("send");
    assert_eq!(response.status(), 404);
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["type"], "/api/v1/docs/problems#not_found");
    assert_eq!(problem["title"], "Not found");
    let page = client.get(format!("{base}{}", problem["type"].as_str().expect("type"))).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    for code in srs_common::ErrorCode::ALL {
        assert!(html.contains(&format!("id=\"{code}\"")), "the problems page lists {code}");
    }
    support::terminate(child);
}

#[tokio::test]
async fn the_reference_page_is_served_from_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, base) = support::serve(dir.path(), &[]);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = client.get(format!("{base}/api/v1/docs")).send().await.expect("docs");
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/api/v1/docs/");
    let html = client.get(format!("{base}/api/v1/docs/")).send().await.expect("page").text().await.expect("html");
    // Every script and style the page loads is a file of the page's own directory.
    for asset in ["swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-initializer.js", "swagger-ui.css"] {
        assert!(html.contains(&format!("./{asset}")), "the page loads ./{asset}");
        let response = client.get(format!("{base}/api/v1/docs/{asset}")).send().await.expect("asset");
        assert_eq!(response.status(), 200, "{asset}");
        let body = response.text().await.expect("asset body");
        assert!(body.len() > 100, "{asset} has content");
        if asset == "swagger-initializer.js" {
            assert!(body.contains("\"/api/v1/openapi.json\""), "the page reads this server's document");
        }
    }
    assert!(!html.contains("https://"), "no asset from elsewhere: {html}");
    support::terminate(child);
}
