//! Answers the shared HTTP layer gives on any operation, added to every operation of the
//! merged OpenAPI document so that each one lists every status it can answer: a JSON body can be
//! malformed (400), too large (413), of another content type (415) or have bad fields (422); a
//! query can be wrong (400); a bearer can be missing (401); the store can be down or full (503)
//! and something can fail (500). Routes document their own meaning of a status; these only
//! fill in what a route did not say.

use crate::error::PROBLEM_JSON;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

/// The operations endpoints answer from memory (no store, no body), so they get none of these.
const OPERATIONS_TAG: &str = "operations";

pub fn add(document: &mut OpenApi) {
    for item in document.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten();
        for operation in operations {
            if !is_operations_endpoint(operation) {
                add_to(operation);
            }
        }
    }
}

fn is_operations_endpoint(operation: &Operation) -> bool {
    operation.tags.as_ref().is_some_and(|tags| tags.iter().any(|tag| tag == OPERATIONS_TAG))
}

fn add_to(operation: &mut Operation) {
    let has_query = operation.parameters.iter().flatten().any(|p| matches!(p.parameter_in, ParameterIn::Query));
    let has_body = operation.request_body.is_some();
    let signed_in = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut shared: Vec<(&str, &str)> = Vec::new();
    if has_body {
        shared.extend([
            ("400", "the body is not valid JSON or not of the expected shape"),
            ("413", "the body is over the size limit"),
            ("415", "the Content-Type is not one this endpoint accepts"),
            ("422", "a field is missing or not allowed; `errors` names each"),
        ]);
    }
    if has_query {
        shared.push(("400", "a query parameter is missing or not of the expected type"));
    }
    if signed_in {
        shared.push(("401", "no valid bearer token"));
    }
    shared.push(("500", "an internal error; it has been logged"));
    for (status, description) in shared {
        operation.responses.responses.entry(status.to_owned()).or_insert_with(|| problem(description, false));
    }
    operation
        .responses
        .responses
        .entry("503".to_owned())
        .or_insert_with(|| problem("the store is unavailable or its disk is full; retry after Retry-After seconds", true));
}

fn problem(description: &str, retry_after: bool) -> RefOr<Response> {
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build());
    if retry_after {
        let seconds = utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::Integer).minimum(Some(0));
        response = response.header("Retry-After", HeaderBuilder::new().schema(seconds).description(Some("seconds to wait")).build());
    }
    RefOr::T(response.build())
}
