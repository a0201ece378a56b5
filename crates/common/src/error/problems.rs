//! The problems page: every error code with its status, title and meaning, one anchor per code
//! (`/api/v1/docs/problems#not_found`), so the `type` link of every problem leads somewhere.

use super::codes::ErrorCode;
use actix_web::{get, HttpResponse};
use std::fmt::Write;

/// Every error code the API answers, as an HTML page.
#[utoipa::path(get, path = "/api/v1/docs/problems", tag = "operations", responses((status = 200, description = "HTML page listing every error code", content_type = "text/html")))]
#[get("/api/v1/docs/problems")]
pub async fn problems_page() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(render())
}

fn render() -> String {
    let mut page = String::from(concat!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>SRS error codes</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}",
        "td,th{text-align:left;vertical-align:top;padding:.4rem .6rem;border-bottom:1px solid #ddd}",
        ":target{background:#fff6cc}</style></head><body>\n<h1>SRS error codes</h1>\n",
        "<p>Every error is <code>application/problem+json</code> with a stable <code>code</code>; ",
        "its <code>type</code> links to the code's row here. See also the <a href=\"/api/v1/docs\">API reference</a>.</p>\n",
        "<table><thead><tr><th>code</th><th>status</th><th>title</th><th>meaning</th></tr></thead><tbody>\n",
    ));
    for code in ErrorCode::ALL {
        let _ = writeln!(
            page,
            "<tr id=\"{code}\"><td><code>{code}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            code.status().as_u16(),
            escape(code.title()),
            with_code_spans(&escape(code.meaning())),
        );
    }
    page.push_str("</tbody></table>\n</body></html>\n");
    page
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `a` -> <code>a</code>, as the meanings are written.
fn with_code_spans(text: &str) -> String {
    text.split('`').enumerate().map(|(i, part)| if i % 2 == 1 { format!("<code>{part}</code>") } else { part.to_owned() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_anchor() {
        let page = render();
        for code in ErrorCode::ALL {
            assert!(page.contains(&format!("<tr id=\"{code}\">")), "{code}");
        }
        assert!(page.contains("<code>Retry-After</code>"));
    }
}
