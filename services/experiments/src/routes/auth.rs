//! Sign-in: login with username and password, refresh (rotating the refresh token; a replayed
//! one revokes its whole family), and who am I.

use crate::login::LoginState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use srs_common::auth::jwt::TokenKind;
use srs_common::auth::{password, Caller};
use srs_common::error::Problem;
use srs_common::http::{client_address, JsonBody};
use srs_common::model::{new_id, RefreshRotation, RefreshToken, Role, User};
use srs_common::ErrorCode;
use srs_common::{ApiError, AppContext};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always "Bearer".
    pub token_type: &'static str,
    /// Seconds the access token is valid.
    pub expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub username: String,
    pub role: Role,
}

fn bad_credentials() -> ApiError {
    ApiError::new(ErrorCode::InvalidCredentials, "wrong username or password")
}

/// Signs an access token and the refresh token `refresh` for `user`.
fn token_pair(context: &AppContext, user: &User, session: &RefreshToken) -> Result<TokenPair, ApiError> {
    let auth = &context.settings.auth;
    let who = (user.id.as_str(), user.username.as_str(), user.role);
    let sign = |kind, jti: &str, family, ttl| context.jwt.sign(kind, who, jti, family, ttl).map_err(|e| ApiError::internal(e.to_string()));
    Ok(TokenPair {
        access_token: sign(TokenKind::Access, &new_id(), None, auth.access_token_ttl_secs)?,
        refresh_token: sign(TokenKind::Refresh, &session.id, Some(&session.family_id), auth.refresh_token_ttl_secs)?,
        token_type: "Bearer",
        expires_in: auth.access_token_ttl_secs,
    })
}

fn new_refresh(context: &AppContext, user_id: &str, family_id: String) -> RefreshToken {
    let ttl = chrono::Duration::seconds(i64::try_from(context.settings.auth.refresh_token_ttl_secs).unwrap_or(i64::MAX / 4_000));
    RefreshToken {
        id: new_id(),
        family_id,
        user_id: user_id.to_owned(),
        expires_at: srs_common::time::now() + ttl,
        used_at: None,
        revoked_at: None,
    }
}

/// Sign in.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenPair),
    (status = 401, description = "wrong username or password", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "too many attempts; see Retry-After", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/auth/login")]
pub async fn login(
    context: web::Data<AppContext>,
    state: web::Data<LoginState>,
    request: HttpRequest,
    body: JsonBody<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { username, password } = body.into_inner();
    state.attempt(&username, &client_address(&request, context.settings.server.forwarding_proxies()))?;
    let user = context.store.find_user_by_username(&username).await?;
    let hash = match &user {
        Some(user) => user.password_hash.clone(),
        None => state.dummy_hash().await?,
    };
    let matches = password::verify(password, hash).await;
    let user = user.filter(|_| matches).ok_or_else(bad_credentials)?;
    let session = new_refresh(&context, &user.id, new_id());
    context.store.insert_refresh_token(&session).await?;
    // Sign-in is rare and per user, so it is where the user's expired refresh tokens go.
    context.store.prune_refresh_tokens(&user.id, srs_common::time::now()).await?;
    tracing::info!(user.id = %user.id, "signed in");
    Ok(HttpResponse::Ok().json(token_pair(&context, &user, &session)?))
}

/// Exchange a refresh token for a new pair; the presented one stops working.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TokenPair),
    (status = 401, description = "invalid, expired, revoked or replayed refresh token", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/auth/refresh")]
pub async fn refresh(context: web::Data<AppContext>, body: JsonBody<RefreshRequest>) -> Result<HttpResponse, ApiError> {
    let claims = context.jwt.verify(&body.0.refresh_token, TokenKind::Refresh).map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let family = claims.fam.clone().ok_or_else(|| ApiError::unauthorized("refresh token without a family"))?;
    let user = context.store.get_user(&claims.sub).await?.ok_or_else(|| ApiError::unauthorized("the user no longer exists"))?;
    let next = new_refresh(&context, &user.id, family);
    match context.store.rotate_refresh_token(&claims.jti, &next, srs_common::time::now()).await {
        Ok(RefreshRotation::Rotated) => Ok(HttpResponse::Ok().json(token_pair(&context, &user, &next)?)),
        Ok(RefreshRotation::Reused) => {
            tracing::warn!(user.id = %user.id, "refresh token replayed; revoked every token of that login");
            Err(ApiError::unauthorized(
                "this refresh token was already used or revoked; every token of this login is now revoked, sign in again",
            ))
        }
        Err(srs_common::store::StoreError::NotFound(_)) => Err(ApiError::unauthorized("unknown refresh token")),
        Err(error) => Err(error.into()),
    }
}

/// Who the access token belongs to.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = Me),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/auth/me")]
pub async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(Me { id: caller.id, username: caller.username, role: caller.role })
}
