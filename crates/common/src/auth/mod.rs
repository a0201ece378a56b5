//! Authentication building blocks: password hashing, JWT keys and tokens, the authenticated
//! caller of a request, and device tokens.

pub mod caller;
pub mod device_token;
pub mod device_tokens;
pub mod jwt;
pub mod keys;
pub mod password;

pub use caller::Caller;
