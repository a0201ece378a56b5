//! `JsonBody<T>`: a JSON request body whose errors name the field. Unlike `web::Json`, a wrong
//! type deep inside the body is reported with its path (`sensors[2].enabled`), which is what a
//! person fixing a request needs.

use super::extractors::JSON_LIMIT;
use crate::error::ErrorCode;
use crate::error::{ApiError, FieldProblem};
use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = request.content_type().to_ascii_lowercase();
        let is_json = content_type == "application/json" || (content_type.starts_with("application/") && content_type.ends_with("+json"));
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "expected Content-Type: application/json"));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ApiError::new(ErrorCode::InvalidBody, format!("cannot read the body: {e}")))?;
                if body.len() + chunk.len() > JSON_LIMIT {
                    return Err(ApiError::new(ErrorCode::BodyTooLarge, format!("the body is over the limit of {JSON_LIMIT} bytes")));
                }
                body.extend_from_slice(&chunk);
            }
            // serde would read a struct from an array of its fields in order; the API's bodies
            // are objects, and `[null, null]` must not pass for `{}`.
            if body.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&first| first != b'{') {
                let not_json = std::str::from_utf8(&body).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()).is_none();
                let code = if not_json { ErrorCode::MalformedJson } else { ErrorCode::InvalidBody };
                return Err(ApiError::new(code, "the body must be a JSON object"));
            }
            parse(&body).map(JsonBody)
        })
    }
}

/// Why a JSON text is not a `T`.
#[derive(Debug)]
pub enum JsonError {
    /// Not JSON at all (or trailing characters).
    Syntax(String),
    /// JSON of the wrong shape; the problem names the field (`items[1].enabled`) where it can.
    Shape(FieldProblem),
}

/// Deserializes `text` as `T` (borrowing from it where `T` does), naming the failing field.
pub fn from_str_named<'de, T: serde::Deserialize<'de>>(text: &'de str) -> Result<T, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => value,
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if !inner.is_data() {
                return Err(JsonError::Syntax(inner.to_string()));
            }
            let message = inner.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
            let field = if path == "." { named_in(&message) } else { Some(path) };
            return Err(JsonError::Shape(FieldProblem { index: None, field, message }));
        }
    };
    deserializer.end().map_err(|e| JsonError::Syntax(e.to_string()))?;
    Ok(value)
}

/// Parses `bytes` as `T`: 400 `malformed_json` for bad syntax, 422 `invalid_field` naming the
/// field for well-formed JSON of the wrong shape.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ApiError::new(ErrorCode::MalformedJson, format!("the body is not UTF-8: {e}")))?;
    match from_str_named(text) {
        Ok(value) => Ok(value),
        Err(JsonError::Syntax(message)) => Err(ApiError::new(ErrorCode::MalformedJson, format!("malformed JSON: {message}"))),
        Err(JsonError::Shape(problem)) => {
            let detail = match &problem.field {
                Some(field) if !problem.message.contains('`') => format!("{field}: {}", problem.message),
                _ => problem.message.clone(),
            };
            Err(ApiError::new(ErrorCode::InvalidField, detail).with_errors(vec![problem]))
        }
    }
}

/// serde names a missing or unknown top-level field only in its message: "missing field `name`".
fn named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        enabled: bool,
    }

    fn field_of(body: &str) -> (String, Option<String>) {
        let error = parse::<Body>(body.as_bytes()).expect_err("invalid");
        (error.code().as_str().to_owned(), error.errors().first().and_then(|e| e.field.clone()))
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"items": []}"#), ("invalid_field".into(), Some("name".into())));
        assert_eq!(field_of(r#"{"name": "a", "items": [], "extra": 1}"#), ("invalid_field".into(), Some("extra".into())));
        assert_eq!(field_of(r#"{"name": 5, "items": []}"#), ("invalid_field".into(), Some("name".into())));
        assert_eq!(field_of(r#"{"name": "a", "items": [{"enabled": true}, {"enabled": "yes"}]}"#).1, Some("items[1].enabled".into()));
        assert_eq!(field_of(r#"{"name": "a""#).0, "malformed_json");
        assert_eq!(field_of(r#"{"name": "a", "items": []} trailing"#).0, "malformed_json");
    }
}
