//! What an experiment holds: tasks and operators (its owner or an admin defines them) and
//! participants (anyone running it may register one). Each change is one atomic update of the
//! experiment, so two participants with one code can never both get in.

use super::experiments::{view, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};
use crate::access::{self, Need};
use crate::views::ExperimentView;
use actix_web::{post, put, web, HttpResponse};
use serde::Deserialize;
use srs_common::auth::Caller;
use srs_common::error::{FieldProblem, Problem};
use srs_common::http::{Check, JsonBody};
use srs_common::model::{new_id, Participant, Role, Task};
use srs_common::store::StoreError;
use srs_common::ErrorCode;
use srs_common::{ApiError, AppContext};
use utoipa::ToSchema;

const MAX_CODE_CHARS: usize = 64;
/// Participant attributes are small descriptive data (age group, handedness), not payloads.
const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    #[schema(min_length = 1, max_length = 200, pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]")]
    pub name: String,
    #[schema(max_length = 10000)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParticipant {
    /// Unique within the experiment; the pseudonym the lab uses (never a name).
    #[schema(min_length = 1, max_length = 64, pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]")]
    pub code: String,
    /// Free-form attributes (at most 16 KiB of JSON).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorAssignment {
    pub user_ids: Vec<String>,
}

/// Add a task (owner or admin).
#[utoipa::path(post, path = "/api/v1/experiments/{id}/tasks", tag = "experiments", security(("bearer" = [])), request_body = NewTask, responses(
    (status = 201, body = Task),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/experiments/{id}/tasks")]
pub async fn add_task(
    context: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<NewTask>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner();
    let description = new.description.unwrap_or_default();
    Check::new().text("name", &new.name, MAX_NAME_CHARS).max_len("description", &description, MAX_DESCRIPTION_CHARS).finish()?;
    let experiment = access::experiment(&context, &caller, &id, Need::Manage).await?;
    let task = Task { id: new_id(), name: new.name, description };
    context
        .store
        .update_experiment(&experiment.id, &|e| {
            e.tasks.push(task.clone());
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Created().json(task))
}

/// Register a participant (anyone running the experiment).
#[utoipa::path(post, path = "/api/v1/experiments/{id}/participants", tag = "experiments", security(("bearer" = [])), request_body = NewParticipant, responses(
    (status = 201, body = Participant),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "the code is taken in this experiment", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/experiments/{id}/participants")]
pub async fn add_participant(
    context: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<NewParticipant>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner();
    let attributes_bytes = serde_json::to_vec(&new.attributes).map_or(usize::MAX, |b| b.len());
    Check::new()
        .text("code", &new.code, MAX_CODE_CHARS)
        .rule("attributes", attributes_bytes <= MAX_ATTRIBUTES_BYTES, format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON"))
        .finish()?;
    let experiment = access::experiment(&context, &caller, &id, Need::Run).await?;
    let participant = Participant { id: new_id(), code: new.code, attributes: new.attributes };
    let added = context
        .store
        .update_experiment(&experiment.id, &|e| {
            if e.participants.iter().any(|p| p.code == participant.code) {
                return Err(StoreError::Duplicate("participant code".into()));
            }
            e.participants.push(participant.clone());
            Ok(())
        })
        .await;
    match added {
        Err(StoreError::Duplicate(_)) => {
            Err(ApiError::new(ErrorCode::DuplicateCode, format!("participant code {} is taken in this experiment", participant.code))
                .with_errors(vec![FieldProblem { index: None, field: Some("code".into()), message: "is taken".into() }]))
        }
        other => {
            other?;
            Ok(HttpResponse::Created().json(participant))
        }
    }
}

/// Set the assigned operators (owner or admin); replaces the list.
#[utoipa::path(put, path = "/api/v1/experiments/{id}/operators", tag = "experiments", security(("bearer" = [])), request_body = OperatorAssignment, responses(
    (status = 200, body = ExperimentView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "an id is not a user", body = Problem, content_type = "application/problem+json"),
))]
#[put("/api/v1/experiments/{id}/operators")]
pub async fn set_operators(
    context: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<OperatorAssignment>,
) -> Result<HttpResponse, ApiError> {
    let mut user_ids = body.into_inner().user_ids;
    let experiment = access::experiment(&context, &caller, &id, Need::Manage).await?;
    let mut problems = Vec::new();
    for (index, user_id) in user_ids.iter().enumerate() {
        let problem = match context.store.get_user(user_id).await? {
            None => Some(format!("no user {user_id}")),
            Some(user) if user.role == Role::Admin => Some(format!("{} is an admin and sees every experiment already", user.username)),
            Some(_) => None,
        };
        if let Some(message) = problem {
            problems.push(FieldProblem { index: Some(index), field: Some(format!("user_ids[{index}]")), message });
        }
    }
    if let Some(first) = problems.first() {
        return Err(ApiError::new(ErrorCode::UnknownId, first.message.clone()).with_errors(problems));
    }
    let mut seen = std::collections::HashSet::new();
    user_ids.retain(|id| seen.insert(id.clone()));
    let updated = context
        .store
        .update_experiment(&experiment.id, &|e| {
            e.operators.clone_from(&user_ids);
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(view(&context, updated).await?))
}
