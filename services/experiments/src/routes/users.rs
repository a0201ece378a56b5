//! User administration (admins only). Answers never carry password hashes.

use crate::views::UserView;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use srs_common::auth::{password, Caller};
use srs_common::error::Problem;
use srs_common::http::{Check, JsonBody};
use srs_common::model::{new_id, Role, User};
use srs_common::store::{DynStore, StoreError};
use srs_common::ErrorCode;
use srs_common::{ApiError, AppContext};
use utoipa::ToSchema;

pub const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 1024;
const MAX_USERNAME_CHARS: usize = 64;
const MAX_EMAIL_CHARS: usize = 254;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._@-]+$")]
    pub username: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    pub role: Role,
    #[schema(max_length = 254, pattern = "^$|@")]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._@-]+$")]
    pub username: Option<String>,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    pub role: Option<Role>,
    /// An empty string removes the address.
    #[schema(max_length = 254, pattern = "^$|@")]
    pub email: Option<String>,
}

fn check_username(check: &mut Check, username: &str) {
    check.text("username", username, MAX_USERNAME_CHARS).rule(
        "username",
        username.chars().all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c)),
        "may hold only letters, digits and . _ - @",
    );
}

fn check_password(check: &mut Check, password: &str) {
    let chars = password.chars().count();
    check.rule(
        "password",
        (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars),
        format!("must be at least {MIN_PASSWORD_CHARS} characters (and at most {MAX_PASSWORD_CHARS})"),
    );
}

fn check_email(check: &mut Check, email: &str) {
    check.max_len("email", email, MAX_EMAIL_CHARS).rule("email", email.is_empty() || email.contains('@'), "must be an email address");
}

fn duplicate_username(username: &str) -> ApiError {
    ApiError::new(ErrorCode::DuplicateUsername, format!("a user named {username} already exists"))
        .with_errors(vec![srs_common::error::FieldProblem { index: None, field: Some("username".into()), message: "is taken".into() }])
}

/// Validates and stores a new user (the API and `srs user add` share it).
pub async fn create_user(store: &DynStore, new: NewUser) -> Result<User, ApiError> {
    let mut check = Check::new();
    check_username(&mut check, &new.username);
    check_password(&mut check, &new.password);
    if let Some(email) = &new.email {
        check_email(&mut check, email);
    }
    check.finish()?;
    let password_hash = password::hash(new.password).await.map_err(|e| ApiError::internal(e.to_string()))?;
    let user = User {
        id: new_id(),
        username: new.username,
        role: new.role,
        email: new.email.filter(|e| !e.is_empty()),
        password_hash,
        created_at: srs_common::time::now(),
    };
    match store.insert_user(&user).await {
        Err(StoreError::Duplicate(_)) => Err(duplicate_username(&user.username)),
        other => other.map(|()| user).map_err(ApiError::from),
    }
}

async fn user_or_404(context: &AppContext, id: &str) -> Result<User, ApiError> {
    context.store.get_user(id).await?.ok_or_else(|| ApiError::not_found(format!("no user {id}")))
}

/// Create a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = NewUser, responses(
    (status = 201, body = UserView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "duplicate username", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/users")]
pub async fn create(context: web::Data<AppContext>, caller: Caller, body: JsonBody<NewUser>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let user = create_user(&context.store, body.into_inner()).await?;
    tracing::info!(user.id = %user.id, user.role = %user.role, by = %caller.id, "user created");
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

/// Every user.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), responses((status = 200, body = Vec<UserView>)))]
#[get("/api/v1/users")]
pub async fn list(context: web::Data<AppContext>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let users: Vec<UserView> = context.store.list_users().await?.into_iter().map(UserView::from).collect();
    Ok(HttpResponse::Ok().json(users))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), responses(
    (status = 200, body = UserView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/users/{id}")]
pub async fn get(context: web::Data<AppContext>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    Ok(HttpResponse::Ok().json(UserView::from(user_or_404(&context, &id).await?)))
}

/// Change a user's name, password, role or email. A new password or role ends the user's
/// sessions (their refresh tokens are revoked).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), request_body = UserChange, responses(
    (status = 200, body = UserView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "duplicate username", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/api/v1/users/{id}")]
pub async fn update(
    context: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<UserChange>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let change = body.into_inner();
    let mut check = Check::new();
    if let Some(username) = &change.username {
        check_username(&mut check, username);
    }
    if let Some(password) = &change.password {
        check_password(&mut check, password);
    }
    if let Some(email) = &change.email {
        check_email(&mut check, email);
    }
    check.finish()?;
    let mut user = user_or_404(&context, &id).await?;
    let ends_sessions = change.password.is_some() || change.role.is_some_and(|role| role != user.role);
    if let Some(password) = change.password {
        user.password_hash = password::hash(password).await.map_err(|e| ApiError::internal(e.to_string()))?;
    }
    user.username = change.username.unwrap_or(user.username);
    user.role = change.role.unwrap_or(user.role);
    if let Some(email) = change.email {
        user.email = Some(email).filter(|e| !e.is_empty());
    }
    match context.store.update_user(&user).await {
        Err(StoreError::Duplicate(_)) => return Err(duplicate_username(&user.username)),
        other => other?,
    }
    if ends_sessions {
        context.store.revoke_user_refresh_tokens(&user.id, srs_common::time::now()).await?;
    }
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// Delete a user: refused for yourself and for the owner of experiments; the user is removed
/// from the operators of every experiment and their sessions end.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), responses(
    (status = 204, description = "deleted"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "the user is you, or owns experiments", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/api/v1/users/{id}")]
pub async fn remove(context: web::Data<AppContext>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let user = user_or_404(&context, &id).await?;
    if user.id == caller.id {
        return Err(ApiError::new(ErrorCode::CannotDeleteSelf, "you cannot delete your own account"));
    }
    let experiments = context.store.list_experiments().await?;
    if let Some(owned) = experiments.iter().find(|e| e.owner_id == user.id) {
        return Err(ApiError::new(
            ErrorCode::UserOwnsExperiments,
            format!("{} owns experiment {}; give it another owner first", user.username, owned.id),
        ));
    }
    for experiment in experiments.iter().filter(|e| e.operators.contains(&user.id)) {
        context
            .store
            .update_experiment(&experiment.id, &|e| {
                e.operators.retain(|operator| operator != &user.id);
                Ok(())
            })
            .await?;
    }
    context.store.revoke_user_refresh_tokens(&user.id, srs_common::time::now()).await?;
    context.store.delete_user(&user.id).await?;
    tracing::info!(user.id = %user.id, by = %caller.id, "user deleted");
    Ok(HttpResponse::NoContent().finish())
}
