/// What can go wrong in a store call, in the terms services act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    /// A unique key is taken (a username, a participant code, ...).
    #[error("{0} already exists")]
    Duplicate(String),
    /// The operation contradicts the current state (a recording already runs, ...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached; the caller may retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The disk under the database is full: nothing was written; retry once space returns.
    #[error("store full: {0}")]
    Full(String),
    #[error("store error: {0}")]
    Internal(String),
}
