//! The app's files and the headers they go out with.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{get, web, HttpResponse};
use srs_common::ApiError;

#[derive(rust_embed::Embed)]
#[folder = "web/dist/"]
#[allow_missing = true]
struct Built;

/// Only the app's own files and its own origin; no inline script, no frames, no plugins.
/// `style-src 'unsafe-inline'` is for the `style` attributes uPlot sets on its elements.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; \
     form-action 'self'; frame-ancestors 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub fn built() -> bool {
    Built::get("index.html").is_some()
}

pub fn configure(config: &mut web::ServiceConfig) {
    config.service(root).service(console_root).service(console_file);
}

#[get("/")]
async fn root() -> HttpResponse {
    redirect("/console/")
}

#[get("/console")]
async fn console_root() -> HttpResponse {
    redirect("/console/")
}

#[get("/console/{path:.*}")]
async fn console_file(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let path = path.into_inner();
    if let Some(file) = (!path.is_empty() && path != "index.html").then(|| Built::get(&path)).flatten() {
        let cache = if path.starts_with("assets/") { IMMUTABLE } else { REVALIDATE };
        return Ok(answer(file, &path, cache));
    }
    // A missing hashed asset is an error, not the app: a stale page must not get HTML as script.
    if path.starts_with("assets/") {
        return Err(ApiError::not_found(format!("no console file {path}")));
    }
    match Built::get("index.html") {
        Some(index) => Ok(answer(index, "index.html", REVALIDATE)),
        None => Err(ApiError::not_found(
            "the console is not built into this server: run scripts/serve.sh, or npm ci && npm run build in services/console/web",
        )),
    }
}

fn answer(file: rust_embed::EmbeddedFile, path: &str, cache: &'static str) -> HttpResponse {
    let content_type = mime_guess::from_path(path).first_or_octet_stream();
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CONTENT_TYPE, content_type.essence_str())).insert_header((header::CACHE_CONTROL, cache));
    secure(&mut response);
    response.body(file.data.into_owned())
}

fn redirect(to: &'static str) -> HttpResponse {
    let mut response = HttpResponse::PermanentRedirect();
    response.insert_header((header::LOCATION, to));
    secure(&mut response);
    response.finish()
}

/// The Content-Security-Policy; the server adds nosniff, no framing and the referrer policy to
/// every answer (srs_common::http::server).
fn secure(response: &mut actix_web::HttpResponseBuilder) {
    response.insert_header((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)));
}
