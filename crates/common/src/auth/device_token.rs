//! Device tokens: 256 random bits a sensor sends as its bearer token. Only the SHA-256 of a
//! token is stored, so a leaked database does not leak working tokens; a lookup hashes the
//! presented token and finds it by that hash.

use sha2::{Digest, Sha256};

/// Recognisable prefix, so secret scanners and people can tell what a leaked string is.
pub const PREFIX: &str = "srs_dt_";

/// A new token as (the token to show once, the hash to store).
pub fn generate() -> (String, String) {
    let token = format!("{PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
    let hash = hash(&token);
    (token, hash)
}

/// The stored form of a token: lower-case hex SHA-256.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, hash_a) = generate();
        let (b, _) = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), PREFIX.len() + 64);
        assert_eq!(hash(&a), hash_a);
        assert_eq!(hash_a.len(), 64);
        assert!(!hash_a.contains(&a[PREFIX.len()..]));
    }
}
