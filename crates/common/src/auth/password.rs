//! Argon2id password hashing (m = 19456 KiB, t = 2, p = 1). Hashing is deliberately slow, so it
//! runs on the blocking pool behind a semaphore: a burst of logins cannot starve other work.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::LazyLock;
use tokio::sync::Semaphore;

const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// At most this many hashes are computed at once (each takes ~19 MiB).
static HASHING_SLOTS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

fn argon2() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(|e| PasswordError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string of `password` with a fresh random salt (synchronous; prefer [`hash`]).
pub fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| PasswordError(e.to_string()))?;
    Ok(argon2()?.hash_password(password.as_bytes(), &salt).map_err(|e| PasswordError(e.to_string()))?.to_string())
}

/// Whether `password` matches the PHC string `hash` (synchronous; prefer [`verify`]).
pub fn verify_blocking(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    argon2().is_ok_and(|a| a.verify_password(password.as_bytes(), &parsed).is_ok())
}

pub async fn hash(password: String) -> Result<String, PasswordError> {
    let _slot = HASHING_SLOTS.acquire().await.map_err(|e| PasswordError(e.to_string()))?;
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await.map_err(|e| PasswordError(e.to_string()))?
}

pub async fn verify(password: String, hash: String) -> bool {
    let Ok(_slot) = HASHING_SLOTS.acquire().await else { return false };
    tokio::task::spawn_blocking(move || verify_blocking(&password, &hash)).await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let hashed = hash("correct horse".into()).await.expect("hash");
        assert!(hashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hashed}");
        assert!(verify("correct horse".into(), hashed.clone()).await);
        assert!(!verify("wrong".into(), hashed).await);
        assert!(!verify("x".into(), "not a hash".into()).await);
    }
}
