//! The OpenAPI document: the operations endpoints here, merged with every mounted service's.

use crate::error::{ErrorCode, FieldProblem, Problem};
use actix_web::{get, web, HttpResponse};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "SRS — Sensor Recording System", description = "Records sensor data during experiments, controls devices live, exports Parquet."),
    paths(super::health::healthz, super::health::readyz, super::health::metrics, openapi_json, crate::error::problems::problems_page),
    components(schemas(Problem, FieldProblem, ErrorCode, super::health::Health, super::health::Readiness)),
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
    super::shared_responses::add(&mut document);
    name_operations(&mut document);
    document
}

/// utoipa names an operation after its handler (`list`, `get`, ...), which several services
/// share; operation ids must be unique, so each is prefixed with its tag: `experiments_list`.
fn name_operations(document: &mut utoipa::openapi::OpenApi) {
    for item in document.paths.paths.values_mut() {
        for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten() {
            let tag = operation.tags.as_ref().and_then(|tags| tags.first()).map(|tag| tag.replace(' ', "_"));
            if let (Some(tag), Some(id)) = (tag, operation.operation_id.as_mut()) {
                *id = format!("{tag}_{id}");
            }
        }
    }
}

/// Where the human-readable API reference is served.
pub const DOCS_PATH: &str = "/api/v1/docs";

/// The API reference page (Swagger UI) for `/api/v1/openapi.json`. Its scripts and styles are
/// built into the binary, so the page works on a lab network without internet access.
pub fn docs_page() -> utoipa_swagger_ui::SwaggerUi {
    utoipa_swagger_ui::SwaggerUi::new(format!("{DOCS_PATH}/{{_:.*}}"))
        .config(utoipa_swagger_ui::Config::new(["/api/v1/openapi.json"]).try_it_out_enabled(true).persist_authorization(true))
}

/// `/api/v1/docs` -> `/api/v1/docs/`: the page's assets are relative to the directory.
#[get("/api/v1/docs")]
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((actix_web::http::header::LOCATION, format!("{DOCS_PATH}/"))).finish()
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json")))]
#[get("/api/v1/openapi.json")]
pub async fn openapi_json(document: web::Data<OpenApiDocument>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(document.0.clone())
}
