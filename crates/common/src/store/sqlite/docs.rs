//! Metadata documents stored as JSON text, and the mapping of SQLite errors onto `StoreError`.

use crate::store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Params};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Decodes the sample block in column `index` of a result row.
pub(super) fn decode_block_column(row: &rusqlite::Row<'_>, index: usize) -> StoreResult<crate::store::blocks::Rows> {
    let blob = row.get_ref(index).map_err(map_error)?.as_blob().map_err(|e| StoreError::Internal(format!("sample block: {e}")))?;
    crate::store::blocks::decode(blob)
}

pub(super) fn to_doc<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(format!("encode document: {e}")))
}

pub(super) fn from_doc<T: DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(|e| StoreError::Internal(format!("decode document: {e}")))
}

/// The one document `sql` selects (its first column is the JSON), if any.
pub(super) fn query_doc<T: DeserializeOwned>(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<Option<T>> {
    let doc: Option<String> =
        conn.prepare_cached(sql).and_then(|mut stmt| stmt.query_row(params, |row| row.get(0)).optional()).map_err(map_error)?;
    doc.as_deref().map(from_doc).transpose()
}

/// Every document `sql` selects, in its order.
pub(super) fn query_docs<T: DeserializeOwned>(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_error)?;
    let docs = stmt.query_map(params, |row| row.get::<_, String>(0)).map_err(map_error)?;
    docs.map(|doc| from_doc(&doc.map_err(map_error)?)).collect()
}

/// Unique-key violations become `Duplicate`, a locked database `Unavailable`, a full disk `Full`.
pub(super) fn map_error(error: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match &error {
        rusqlite::Error::SqliteFailure(failure, message) => match failure.code {
            ErrorCode::ConstraintViolation => StoreError::Duplicate(message.clone().unwrap_or_else(|| "row".into())),
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::SystemIoFailure => StoreError::Unavailable(error.to_string()),
            ErrorCode::DiskFull => StoreError::Full(error.to_string()),
            _ => StoreError::Internal(error.to_string()),
        },
        _ => StoreError::Internal(error.to_string()),
    }
}

/// Maps a unique-key violation to `Duplicate(what)`, anything else as usual.
pub(super) fn duplicate_as(what: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |error| match map_error(error) {
        StoreError::Duplicate(_) => StoreError::Duplicate(what.to_string()),
        other => other,
    }
}
