//! Multi-document transactions: snapshot reads, majority writes, and the retries the driver
//! specification asks for — the whole transaction again on a transient error (a write conflict
//! with a concurrent one), the commit again while its outcome is unknown.

use super::map_error;
use crate::store::StoreError;
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::ClientSession;

/// How often a transaction is tried again when it conflicts with another (two batches writing
/// the same key, a recording stopping while samples commit).
pub(super) const ATTEMPTS: u64 = 8;

/// Why one transaction attempt ended without a result.
pub(super) enum Attempt {
    /// A MongoDB error; retried when it is transient, or a duplicate key (another transaction
    /// committed the key after this one read the existing keys: the next attempt sees it).
    Mongo(mongodb::error::Error),
    /// A final answer (an unknown recording, a conflict with the current state).
    Store(StoreError),
}

impl From<mongodb::error::Error> for Attempt {
    fn from(error: mongodb::error::Error) -> Self {
        Attempt::Mongo(error)
    }
}

impl From<StoreError> for Attempt {
    fn from(error: StoreError) -> Self {
        Attempt::Store(error)
    }
}

pub(super) fn retryable(error: &mongodb::error::Error) -> bool {
    error.contains_label(TRANSIENT_TRANSACTION_ERROR) || super::is_duplicate_key(error)
}

/// Commits, retrying the commit itself while its outcome is unknown.
pub(super) async fn commit(session: &mut ClientSession) -> Result<(), mongodb::error::Error> {
    loop {
        match session.commit_transaction().await {
            Err(error) if error.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => continue,
            other => return other,
        }
    }
}

pub(super) fn final_error(error: Attempt) -> StoreError {
    match error {
        Attempt::Store(error) => error,
        Attempt::Mongo(error) => map_error(error),
    }
}

/// Runs `$body` (an expression giving a future of `Result<T, Attempt>` that uses `$session`)
/// in a transaction on `$session` until it commits or fails for good; evaluates to
/// `StoreResult<T>`. A macro because the body borrows the session anew on every attempt.
macro_rules! in_transaction {
    ($session:ident, $body:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = $session
                .start_transaction()
                .read_concern(mongodb::options::ReadConcern::snapshot())
                .write_concern($crate::store::mongo::write_concern())
                .await;
            if let Err(error) = started {
                break Err($crate::store::mongo::map_error(error));
            }
            let result = match $body.await {
                Ok(value) => $crate::store::mongo::transaction::commit(&mut $session)
                    .await
                    .map(|()| value)
                    .map_err($crate::store::mongo::transaction::Attempt::Mongo),
                Err(error) => {
                    let _ = $session.abort_transaction().await;
                    Err(error)
                }
            };
            match result {
                Ok(value) => break Ok(value),
                Err($crate::store::mongo::transaction::Attempt::Mongo(error))
                    if attempt < $crate::store::mongo::transaction::ATTEMPTS && $crate::store::mongo::transaction::retryable(&error) =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(5 * attempt)).await;
                }
                Err(error) => break Err($crate::store::mongo::transaction::final_error(error)),
            }
        }
    }};
}
