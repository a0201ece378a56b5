//! JWT access and refresh tokens, signed with the Ed25519 key pair (EdDSA). The algorithm is
//! pinned, `exp`/`nbf`/`iss`/`aud`/`sub` are required, and the leeway is 30 s, so a token signed
//! any other way, for another audience or out of its time window is refused.

use crate::model::Role;
use crate::settings::Settings;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// Clock skew tolerated between the services that sign and verify tokens.
pub const LEEWAY_SECS: u64 = 30;

/// How many verified access tokens are remembered (about 1 KB each).
const VERIFIED_CAPACITY: usize = 10_000;

/// What a token is for; an access token cannot refresh and a refresh token cannot authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub name: String,
    pub role: Role,
    pub typ: TokenKind,
    /// Unique token id; for refresh tokens, the key of its row in the store.
    pub jti: String,
    /// Refresh tokens only: the family every rotation of one login belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("JWT keys: {0}")]
    Keys(String),
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("this service holds no JWT signing key")]
    CannotSign,
}

/// The keys and rules every service uses to check tokens, and the signing key where present.
pub struct JwtKeys {
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    /// Access tokens that verified recently, keyed by the whole token (signature included), so
    /// a client's every request does not pay for an Ed25519 verification again; only a token
    /// that verified can hit, and its expiry is checked on every hit.
    verified: quick_cache::sync::Cache<String, Arc<Claims>>,
}

impl JwtKeys {
    /// Loads the configured key files. In the embedded default (keys in the data directory) a
    /// missing pair is generated; explicitly configured keys must exist. Services that only
    /// verify tokens need just the public key.
    pub fn load(settings: &Settings) -> Result<Self, JwtError> {
        let (private, public) = settings.jwt_key_paths();
        let embedded = settings.auth.jwt_private_key.as_os_str().is_empty() && settings.auth.jwt_public_key.as_os_str().is_empty();
        if embedded && super::keys::ensure_pair(&private, &public).map_err(|e| JwtError::Keys(e.to_string()))? {
            tracing::info!(key = %public.display(), "generated JWT signing keys");
        }
        let public_pem = read(&public)?;
        let private_pem = if private.exists() { Some(read(&private)?) } else { None };
        Self::from_pem(private_pem.as_deref(), &public_pem, &settings.auth.issuer, &settings.auth.audience)
    }

    /// A fresh in-memory pair (tests, benchmarks, one-off tools).
    pub fn ephemeral(issuer: &str, audience: &str) -> Result<Self, JwtError> {
        let (private, public) = super::keys::generate_pem().map_err(|e| JwtError::Keys(e.to_string()))?;
        Self::from_pem(Some(private.as_bytes()), public.as_bytes(), issuer, audience)
    }

    pub fn from_pem(private_pem: Option<&[u8]>, public_pem: &[u8], issuer: &str, audience: &str) -> Result<Self, JwtError> {
        let encoding = private_pem.map(EncodingKey::from_ed_pem).transpose().map_err(|e| JwtError::Keys(format!("private key: {e}")))?;
        let decoding = DecodingKey::from_ed_pem(public_pem).map_err(|e| JwtError::Keys(format!("public key: {e}")))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let verified = quick_cache::sync::Cache::new(VERIFIED_CAPACITY);
        Ok(Self { encoding, decoding, validation, issuer: issuer.to_owned(), audience: audience.to_owned(), verified })
    }

    /// Signs a token of `kind` for the user, valid for `ttl_secs` from now.
    pub fn sign(
        &self,
        kind: TokenKind,
        user: (&str, &str, Role),
        jti: &str,
        family: Option<&str>,
        ttl_secs: u64,
    ) -> Result<String, JwtError> {
        let encoding = self.encoding.as_ref().ok_or(JwtError::CannotSign)?;
        let now = crate::time::now().timestamp();
        let (sub, name, role) = user;
        let claims = Claims {
            sub: sub.to_owned(),
            name: name.to_owned(),
            role,
            typ: kind,
            jti: jti.to_owned(),
            fam: family.map(str::to_owned),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, encoding).map_err(|e| JwtError::Invalid(e.to_string()))
    }

    /// The claims of a valid token of the expected kind.
    pub fn verify(&self, token: &str, expected: TokenKind) -> Result<Arc<Claims>, JwtError> {
        if let Some(claims) = self.verified.get(token) {
            let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(0);
            if claims.typ == expected && claims.exp + leeway >= crate::time::now().timestamp() {
                return Ok(claims);
            }
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| JwtError::Invalid(e.to_string()))?;
        if data.claims.typ != expected {
            let kind = if expected == TokenKind::Access { "access" } else { "refresh" };
            return Err(JwtError::Invalid(format!("expected an {kind} token")));
        }
        let claims = Arc::new(data.claims);
        if expected == TokenKind::Access {
            self.verified.insert(token.to_owned(), claims.clone());
        }
        Ok(claims)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, JwtError> {
    std::fs::read(path).map_err(|e| JwtError::Keys(format!("cannot read {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_keys() -> JwtKeys {
        let (private, public) = super::super::keys::generate_pem().expect("pair");
        JwtKeys::from_pem(Some(private.as_bytes()), public.as_bytes(), "srs", "srs").expect("keys")
    }

    #[test]
    fn signs_and_verifies_by_kind() {
        let keys = fresh_keys();
        let token = keys.sign(TokenKind::Access, ("u1", "ada", Role::Admin), "j1", None, 60).expect("sign");
        let claims = keys.verify(&token, TokenKind::Access).expect("valid");
        assert_eq!((claims.sub.as_str(), claims.role, claims.typ), ("u1", Role::Admin, TokenKind::Access));
        assert!(keys.verify(&token, TokenKind::Refresh).is_err());
        assert!(fresh_keys().verify(&token, TokenKind::Access).is_err(), "another key pair must not verify it");
        // A second check is served from the cache and gives the same answer.
        assert_eq!(keys.verify(&token, TokenKind::Access).expect("cached"), claims);
        assert!(keys.verify(&token, TokenKind::Refresh).is_err(), "the cache keeps the kind check");
        let expired = keys.sign(TokenKind::Access, ("u1", "ada", Role::Admin), "j2", None, 0).expect("sign");
        let mut parts: Vec<&str> = expired.split('.').collect();
        parts[2] = "AAAA";
        assert!(keys.verify(&parts.join("."), TokenKind::Access).is_err(), "a forged signature never hits the cache");
    }

    #[test]
    fn verify_only_keys_cannot_sign() {
        let (_, public) = super::super::keys::generate_pem().expect("pair");
        let keys = JwtKeys::from_pem(None, public.as_bytes(), "srs", "srs").expect("keys");
        assert!(matches!(keys.sign(TokenKind::Access, ("u", "n", Role::Operator), "j", None, 60), Err(JwtError::CannotSign)));
    }
}
