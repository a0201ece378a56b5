//! `Caller`: the user an access token names. Handlers that take a `Caller` are authenticated;
//! a missing, malformed, expired or otherwise invalid token is answered 401 before they run.

use super::jwt::TokenKind;
use crate::error::ApiError;
use crate::model::Role;
use crate::AppContext;
use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use std::future::{ready, Ready};

#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub id: String,
    pub username: String,
    pub role: Role,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("the {} role may not do this", self.role)))
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(request: &HttpRequest) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

fn authenticate(request: &HttpRequest) -> Result<Caller, ApiError> {
    let context = request.app_data::<web::Data<AppContext>>().ok_or_else(|| ApiError::internal("no application context"))?;
    let token =
        bearer_token(request).ok_or_else(|| ApiError::unauthorized("missing bearer token (Authorization: Bearer <access_token>)"))?;
    Caller::from_token(context, token)
}

impl Caller {
    /// The caller an access token names (for sockets, whose token may come another way).
    pub fn from_token(context: &AppContext, token: &str) -> Result<Caller, ApiError> {
        let claims = context.jwt.verify(token, TokenKind::Access).map_err(|e| ApiError::unauthorized(e.to_string()))?;
        Ok(Caller { id: claims.sub.clone(), username: claims.name.clone(), role: claims.role })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request))
    }
}
