//! The console's files as a browser gets them from `srs serve`: `/` leads to the app, every app
//! path gets `index.html` (never cached), hashed assets are cached for a year, a missing asset
//! is a 404 problem (not HTML), and every answer carries the Content-Security-Policy that keeps
//! the app on its own origin. Needs the console built (scripts/console.sh build; scripts/test.sh
//! does it first).

use srs_testkit::harness::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_and_its_assets_are_served_with_their_headers() {
    let server = TestServer::start(&[&srs_console::SERVICE], &[]).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    for root in ["/", "/console"] {
        let response = client.get(format!("{}{root}", server.url)).send().await.expect("get");
        assert_eq!((response.status().as_u16(), response.headers()["location"].to_str().ok()), (308, Some("/console/")), "{root}");
    }

    let mut index = String::new();
    for page in ["/console/", "/console/dashboard", "/console/experiments/e1", "/console/admin/notifications"] {
        let response = client.get(format!("{}{page}", server.url)).send().await.expect("get");
        assert_eq!(response.status(), 200, "{page}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "text/html", "{page}");
        assert_eq!(headers["cache-control"], "no-cache", "{page}: a new release shows on the next load");
        assert_eq!(headers["content-security-policy"], srs_console::CONTENT_SECURITY_POLICY, "{page}");
        assert_eq!(
            (&headers["x-content-type-options"], &headers["x-frame-options"]),
            (&"nosniff".parse().expect("v"), &"DENY".parse().expect("v"))
        );
        index = response.text().await.expect("html");
        assert!(index.contains("<div id=\"app\">"), "{page}: {index}");
    }
    assert!(!index.contains("http://") && !index.contains("https://"), "nothing from elsewhere: {index}");

    let assets: Vec<&str> = index.split('"').filter(|part| part.starts_with("/console/assets/")).collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")), "{index}");
    for asset in assets {
        let response = client.get(format!("{}{asset}", server.url)).send().await.expect("asset");
        assert_eq!(response.status(), 200, "{asset}");
        let cache = response.headers()["cache-control"].to_str().expect("cache").to_owned();
        assert_eq!(cache, "public, max-age=31536000, immutable", "{asset}");
        let kind = response.headers()["content-type"].to_str().expect("type").to_owned();
        assert!(kind == "text/javascript" || kind == "text/css", "{asset}: {kind}");
    }

    let missing = client.get(format!("{}/console/assets/index-gone.js", server.url)).send().await.expect("get");
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    server.stop().await;
}
