//! The answer for a request no route takes: 405 with `Allow` when the path is an endpoint of the
//! OpenAPI document (another method would have been taken), otherwise 404. The table comes from
//! the merged document, so it always lists exactly the documented methods.

use crate::error::{ApiError, ErrorCode};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

pub struct RouteTable {
    /// Each documented path, split at `/` (`{param}` segments match any one segment), with
    /// its methods, e.g. "GET, PATCH".
    routes: Vec<(Vec<String>, String)>,
}

impl RouteTable {
    pub fn from_document(document: &utoipa::openapi::OpenApi) -> Self {
        let routes = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, present)| present.then_some(method))
                .collect();
                (path.split('/').map(str::to_owned).collect(), methods.join(", "))
            })
            .collect();
        Self { routes }
    }

    /// The methods of the documented path `path` matches, if any.
    fn allowed(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .find(|(pattern, _)| {
                pattern.len() == segments.len()
                    && pattern.iter().zip(&segments).all(|(want, got)| (want.starts_with('{') && !got.is_empty()) || want == got)
            })
            .map(|(_, methods)| methods.as_str())
    }
}

/// The app's default service.
pub async fn unmatched(request: HttpRequest, table: web::Data<RouteTable>) -> HttpResponse {
    match table.allowed(request.path()) {
        Some(methods) => {
            let error = ApiError::new(ErrorCode::MethodNotAllowed, format!("{} is not allowed here; allowed: {methods}", request.method()));
            let mut response = error.error_response();
            if let Ok(value) = header::HeaderValue::from_str(methods) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            response
        }
        None => ApiError::not_found("no such endpoint").error_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_one_segment_per_parameter() {
        let table = RouteTable {
            routes: vec![
                (vec!["".into(), "a".into(), "{id}".into()], "GET, PATCH".into()),
                (vec!["".into(), "a".into(), "{id}".into(), "b".into()], "POST".into()),
            ],
        };
        assert_eq!(table.allowed("/a/42"), Some("GET, PATCH"));
        assert_eq!(table.allowed("/a/42/b"), Some("POST"));
        assert_eq!(table.allowed("/a/"), None);
        assert_eq!(table.allowed("/a/42/c"), None);
        assert_eq!(table.allowed("/b/42"), None);
    }
}
