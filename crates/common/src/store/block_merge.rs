//! The time-ordered read of sample blocks, shared by both backends: an experiment's blocks,
//! fetched in `min_ts` order a page at a time by the backend, merged by `ts` (ties by block,
//! then row). A block is decoded only once the merge reaches its first `ts`, so memory holds
//! the blocks that overlap in time — about one per sensor — plus a page of compressed ones,
//! whatever the experiment's size.

use super::blocks::{self, Rows};
use super::StoreResult;
use crate::model::StoredSample;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Arc;

/// What every row of a block shares (resolved once per block, shared by reference per row).
pub(crate) struct BlockMeta {
    pub sensor_id: Arc<str>,
    pub sensor_type: Arc<str>,
    pub recording_id: Arc<str>,
    pub participant_id: Arc<str>,
    pub task_id: Option<Arc<str>>,
}

/// A block fetched but not decoded yet. `key` is the backend's block id: unique, and the
/// tie-break of the fetch order (`min_ts`, `key`).
pub(crate) struct Fetched<K> {
    pub key: K,
    pub min_ts: i64,
    pub meta: Arc<BlockMeta>,
    pub data: Vec<u8>,
}

/// Rows of `block` with `ts` in [from, to), as a range of its indexes (rows are in `ts` order).
pub(crate) fn rows_in(block: &Rows, from: i64, to: i64) -> std::ops::Range<usize> {
    block.ts.partition_point(|ts| *ts < from)..block.ts.partition_point(|ts| *ts < to)
}

/// A decoded block being merged: its rows from `next` up to `end`.
struct Open {
    meta: Arc<BlockMeta>,
    rows: Rows,
    next: usize,
    end: usize,
}

/// The merge's state between chunks. The backend drives it: [`BlockMerge::fill`] merges rows
/// into a chunk until the chunk is full or the merge needs the next page of blocks, which the
/// backend fetches (after the cursor `fill` names) and hands over with [`BlockMerge::add_page`].
pub(crate) struct BlockMerge<K> {
    from: i64,
    to: i64,
    /// The (min_ts, key) of the last block fetched: the next page starts after it.
    after: Option<(i64, K)>,
    fetched_all: bool,
    fetched: VecDeque<Fetched<K>>,
    open: HashMap<K, Open>,
    /// (next row's ts, block key) of every open block.
    heads: BinaryHeap<Reverse<(i64, K)>>,
    /// The vectors of blocks merged to the end, and the decompression buffer, for the next
    /// blocks to decode into: without them, each block allocates and frees a few buffers of
    /// hundreds of KiB, which the allocator keeps committed for a while after they are freed
    /// (it made an export's peak RSS twice what the rows in flight need).
    spare: Vec<Rows>,
    scratch: Vec<u8>,
}

impl<K: Copy + Ord + Hash> BlockMerge<K> {
    /// A merge of the rows with `ts` in [from, to).
    pub(crate) fn new(from: i64, to: i64) -> Self {
        Self {
            from,
            to,
            after: None,
            fetched_all: false,
            fetched: VecDeque::new(),
            open: HashMap::new(),
            heads: BinaryHeap::new(),
            spare: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Merges the next rows in time order into `chunk`, up to `limit` rows in it. Returns
    /// `Some(after)` when it needs the page of blocks following the cursor `after` (`None`
    /// inside: from the first) before it can go on, and `None` once the chunk is full or every
    /// row was read.
    pub(crate) fn fill(&mut self, chunk: &mut Vec<StoredSample>, limit: usize) -> StoreResult<Option<Option<(i64, K)>>> {
        while chunk.len() < limit {
            if self.fetched.is_empty() && !self.fetched_all {
                return Ok(Some(self.after));
            }
            let next_block = self.fetched.front().map(|block| block.min_ts);
            match (self.heads.peek(), next_block) {
                (None, None) => break,
                (Some(Reverse((ts, _))), Some(min_ts)) if *ts < min_ts => chunk.extend(self.take_head()),
                (Some(_), None) => chunk.extend(self.take_head()),
                (_, Some(_)) => self.open_next()?,
            }
        }
        Ok(None)
    }

    /// Hands over the page `fill` asked for; a page shorter than `page_size` is the last.
    pub(crate) fn add_page(&mut self, page: Vec<Fetched<K>>, page_size: usize) {
        self.fetched_all = page.len() < page_size;
        if let Some(last) = page.last() {
            self.after = Some((last.min_ts, last.key));
        }
        self.fetched.extend(page);
    }

    fn open_next(&mut self) -> StoreResult<()> {
        let Some(block) = self.fetched.pop_front() else { return Ok(()) };
        let mut rows = self.spare.pop().unwrap_or_default();
        blocks::decode_into(&block.data, &mut rows, &mut self.scratch)?;
        let range = rows_in(&rows, self.from, self.to);
        if range.is_empty() {
            self.spare.push(rows);
        } else {
            self.heads.push(Reverse((rows.ts[range.start], block.key)));
            self.open.insert(block.key, Open { meta: block.meta, rows, next: range.start, end: range.end });
        }
        Ok(())
    }

    /// Takes the earliest row of the open blocks.
    fn take_head(&mut self) -> Option<StoredSample> {
        let Reverse((_, key)) = self.heads.pop()?;
        let block = self.open.get_mut(&key)?;
        let index = block.next;
        block.next += 1;
        let meta = &block.meta;
        let sample = StoredSample {
            sensor_id: meta.sensor_id.clone(),
            sensor_type: meta.sensor_type.clone(),
            ts: block.rows.ts[index],
            received_at: block.rows.received_at[index],
            sample_id: block.rows.sample_ids[index].take(),
            values: std::mem::take(&mut block.rows.values[index]),
            recording_id: meta.recording_id.clone(),
            participant_id: meta.participant_id.clone(),
            task_id: meta.task_id.clone(),
        };
        if block.next < block.end {
            self.heads.push(Reverse((block.rows.ts[block.next], key)));
        } else if let Some(done) = self.open.remove(&key) {
            // About one open block per sensor: as many spares as that covers the next ones.
            if self.spare.len() < 16 {
                self.spare.push(done.rows);
            }
        }
        Some(sample)
    }

    /// How many blocks are decoded and how many wait compressed (for the memory tests).
    #[cfg(test)]
    pub(crate) fn held(&self) -> (usize, usize) {
        (self.open.len(), self.fetched.len())
    }
}
