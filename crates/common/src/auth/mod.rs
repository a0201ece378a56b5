//! Authentication building blocks: password hashing and JWT signing keys.

pub mod keys;
pub mod password;
