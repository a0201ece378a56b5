//! JWT signing keys: an Ed25519 pair as PKCS#8 / SPKI PEM files.

use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::SigningKey;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("JWT keys: {0}")]
pub struct KeyError(String);

/// A fresh key pair as (private PEM, public PEM).
pub fn generate_pem() -> Result<(String, String), KeyError> {
    let signing = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let private = signing.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError(e.to_string()))?;
    let public = signing.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|e| KeyError(e.to_string()))?;
    Ok((private.to_string(), public))
}

/// Writes a new pair to `private` (owner-only permissions) and `public`.
pub fn write_pair(private: &Path, public: &Path) -> Result<(), KeyError> {
    let (private_pem, public_pem) = generate_pem()?;
    for path in [private, public] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| KeyError(format!("create {}: {e}", dir.display())))?;
        }
    }
    write_private(private, &private_pem)?;
    std::fs::write(public, public_pem).map_err(|e| KeyError(format!("write {}: {e}", public.display())))
}

#[cfg(unix)]
fn write_private(path: &Path, pem: &str) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| KeyError(format!("write {}: {e}", path.display())))?;
    file.write_all(pem.as_bytes()).map_err(|e| KeyError(format!("write {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn write_private(path: &Path, pem: &str) -> Result<(), KeyError> {
    std::fs::write(path, pem).map_err(|e| KeyError(format!("write {}: {e}", path.display())))
}

/// Generates the pair unless both files exist; returns whether it generated.
pub fn ensure_pair(private: &Path, public: &Path) -> Result<bool, KeyError> {
    if private.exists() && public.exists() {
        return Ok(false);
    }
    write_pair(private, public)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pem_pair_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (private, public) = (dir.path().join("jwt/private.pem"), dir.path().join("jwt/public.pem"));
        assert!(ensure_pair(&private, &public).expect("generate"));
        let private_pem = std::fs::read_to_string(&private).expect("private");
        assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(std::fs::read_to_string(&public).expect("public").starts_with("-----BEGIN PUBLIC KEY-----"));
        assert!(!ensure_pair(&private, &public).expect("kept"));
        assert_eq!(std::fs::read_to_string(&private).expect("private"), private_pem);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&private).expect("meta").permissions().mode() & 0o777, 0o600);
        }
    }
}
