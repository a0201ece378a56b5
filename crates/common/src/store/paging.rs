//! Keyset-paginated streaming (the MongoDB store's sample reads): fetch a chunk after a cursor,
//! yield it, continue from its last row. Only one chunk is in memory at a time.

use super::{StoreResult, SAMPLE_CHUNK};
use crate::model::StoredSample;
use futures_util::stream::{self, BoxStream, StreamExt};
use std::future::Future;

/// Streams chunks from `fetch(after)`, which returns up to [`SAMPLE_CHUNK`] rows following the
/// cursor `after` (none: from the start) and the cursor of its last row.
pub(crate) fn keyset_stream<C, F, Fut>(fetch: F) -> BoxStream<'static, StoreResult<Vec<StoredSample>>>
where
    C: Send + 'static,
    F: Fn(Option<C>) -> Fut + Send + 'static,
    Fut: Future<Output = StoreResult<(Vec<StoredSample>, Option<C>)>> + Send + 'static,
{
    // State: `None` when finished, else the cursor to continue after.
    stream::unfold((fetch, Some(None)), |(fetch, state)| async move {
        let after = state?;
        match fetch(after).await {
            Ok((rows, _)) if rows.is_empty() => None,
            Ok((rows, last)) => {
                let next = if rows.len() < SAMPLE_CHUNK { None } else { last.map(Some) };
                Some((Ok(rows), (fetch, next)))
            }
            Err(error) => Some((Err(error), (fetch, None))),
        }
    })
    .boxed()
}
