//! The OpenAPI document: the operations endpoints here, merged with every mounted service's.

use crate::error::{FieldProblem, Problem};
use actix_web::{get, web, HttpResponse};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "SRS — Sensor Recording System", description = "Records sensor data during experiments, controls devices live, exports Parquet."),
    paths(super::health::healthz, super::health::readyz, super::health::metrics, openapi_json),
    components(schemas(Problem, FieldProblem, super::health::Health, super::health::Readiness)),
    tags((name = "operations", description = "Health, readiness, metrics and this document"))
)]
pub struct OperationsApi;

/// The rendered, merged document served at `/api/v1/openapi.json`.
#[derive(Clone)]
pub struct OpenApiDocument(pub String);

/// The operations document merged with `services`.
pub fn merged(services: impl IntoIterator<Item = utoipa::openapi::OpenApi>) -> utoipa::openapi::OpenApi {
    let mut document = OperationsApi::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document.components.get_or_insert_with(Default::default).add_security_scheme(
        "bearer",
        utoipa::openapi::security::SecurityScheme::Http(
            utoipa::openapi::security::HttpBuilder::new()
                .scheme(utoipa::openapi::security::HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    for service in services {
        document.merge(service);
    }
    document
}

/// Where the human-readable API reference is served.
pub const DOCS_PATH: &str = "/api/v1/docs";

/// The API reference page (Scalar) rendering the merged document. The page's script comes
/// from Scalar's CDN, so reading it needs a browser with internet access; the JSON document at
/// `/api/v1/openapi.json` works everywhere.
pub fn docs_page(document: utoipa::openapi::OpenApi) -> utoipa_scalar::Scalar<utoipa::openapi::OpenApi> {
    use utoipa_scalar::Servable;
    utoipa_scalar::Scalar::with_url(DOCS_PATH, document)
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json")))]
#[get("/api/v1/openapi.json")]
pub async fn openapi_json(document: web::Data<OpenApiDocument>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(document.0.clone())
}
