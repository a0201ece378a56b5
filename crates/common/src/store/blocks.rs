//! The sample block codec, shared by both backends: the rows of one sensor, recording and
//! 10-minute window, sorted by `ts`, stored as one compressed blob of columns.
//!
//! Layout before compression: the row count, then each column in turn — `ts` as zigzag deltas
//! from the row before, `received_at` as its zigzag distance from `ts`, the sample ids (length
//! plus one, 0 for none), then each row's packed values (length, bytes). Columns of similar
//! numbers side by side make deltas tiny and compress well. The blob is the format byte, the
//! raw length and a zstd frame (or, for a few rows, the format byte and the raw columns).

use crate::model::{NewSample, SampleValues};
use crate::store::{StoreError, StoreResult};
use crate::varint;
use std::cell::RefCell;

/// The raw columns follow as they are: a block this small gains nothing from compression.
const FORMAT_RAW: u8 = 0;
/// A zstd frame of the raw columns follows.
const FORMAT_ZSTD: u8 = 1;
const COMPRESS_FROM_BYTES: usize = 128;
/// zstd's fastest level: blocks are written on the ingest hot path.
const LEVEL: i32 = 1;

thread_local! {
    // A zstd context costs more to set up than a small block costs to compress: keep one per
    // thread (writes and reads both run on tokio's blocking pool).
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

fn compress(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with_borrow_mut(|slot| {
        let compressor = match slot {
            Some(compressor) => compressor,
            None => slot.insert(zstd::bulk::Compressor::new(LEVEL)?),
        };
        compressor.compress(raw)
    })
}

/// Decompresses `frame` into `into`, which it clears first and grows only when it is too small.
fn decompress_into(frame: &[u8], raw_len: usize, into: &mut Vec<u8>) -> std::io::Result<()> {
    into.clear();
    into.reserve(raw_len);
    DECOMPRESSOR.with_borrow_mut(|slot| {
        let decompressor = match slot {
            Some(decompressor) => decompressor,
            None => slot.insert(zstd::bulk::Decompressor::new()?),
        };
        decompressor.decompress_to_buffer(frame, into)?;
        Ok(())
    })
}

/// The most rows in one block (bigger groups are split): bounds what a read decodes at once.
pub(crate) const MAX_BLOCK_ROWS: usize = 8_192;

/// The most bytes of values in one block, past its first row: keeps a block of very large
/// values well under MongoDB's 16 MiB document limit (and a read's memory bounded).
pub(crate) const MAX_BLOCK_VALUE_BYTES: usize = 4 << 20;

/// Cuts `rows` (in order) into the runs that make one block each: at most [`MAX_BLOCK_ROWS`]
/// rows and [`MAX_BLOCK_VALUE_BYTES`] of values, as `value_len` measures them, and at least one row.
pub(crate) fn block_runs<T>(rows: &[T], value_len: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut runs = Vec::with_capacity(rows.len().div_ceil(MAX_BLOCK_ROWS));
    let (mut start, mut bytes) = (0, 0);
    for (index, row) in rows.iter().enumerate() {
        let len = value_len(row);
        if index > start && (index - start == MAX_BLOCK_ROWS || bytes + len > MAX_BLOCK_VALUE_BYTES) {
            runs.push(&rows[start..index]);
            (start, bytes) = (index, 0);
        }
        bytes += len;
    }
    if start < rows.len() {
        runs.push(&rows[start..]);
    }
    runs
}

pub(crate) const NS_PER_DAY: i64 = 86_400_000_000_000;
/// A block holds samples of one 10-minute window (aligned to the epoch, so windows nest in UTC
/// days). The bound on a block's span is what lets the duplicate check and time-range reads
/// seek: a block overlapping [lo, hi] ends before hi + one window, and starts after lo minus one.
pub(crate) const BLOCK_WINDOW_NS: i64 = 600_000_000_000;

/// The window a `ts` falls in: samples of one sensor and recording share a block only if they
/// share it.
pub(crate) fn window_of(ts: i64) -> i64 {
    ts.div_euclid(BLOCK_WINDOW_NS)
}

/// Sorted times cut into spans wherever a whole window passes without one. The duplicate check
/// reads the blocks overlapping each span: one batch may carry samples of one sensor from far
/// apart (two devices' clocks, a buffered upload beside live data), and the blocks between
/// them are no business of the check.
pub(crate) fn spans(sorted_times: &[i64]) -> impl Iterator<Item = (i64, i64)> + '_ {
    sorted_times.chunk_by(|a, b| b - a <= BLOCK_WINDOW_NS).map(|span| (span[0], span[span.len() - 1]))
}

/// One row on its way into a block.
pub(crate) struct RowRef<'a> {
    pub ts: i64,
    pub received_at: i64,
    pub sample_id: Option<&'a str>,
    pub values: &'a [u8],
}

/// A block's rows, decoded, in `ts` order.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub ts: Vec<i64>,
    pub received_at: Vec<i64>,
    pub sample_ids: Vec<Option<String>>,
    pub values: Vec<SampleValues>,
}

impl Rows {
    fn clear(&mut self) {
        self.ts.clear();
        self.received_at.clear();
        self.sample_ids.clear();
        self.values.clear();
    }

    fn reserve(&mut self, count: usize) {
        self.ts.reserve(count);
        self.received_at.reserve(count);
        self.sample_ids.reserve(count);
        self.values.reserve(count);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("damaged sample block: {0}")]
struct Damaged(&'static str);

/// A block ready to store: its blob and the metadata its backend indexes.
pub(crate) struct EncodedBlock {
    pub min_ts: i64,
    pub max_ts: i64,
    pub rows: usize,
    /// How many rows carry a client id.
    pub with_ids: usize,
    /// The UTC day (days since the epoch) of its window.
    pub day: i64,
    pub data: Vec<u8>,
}

impl EncodedBlock {
    /// Encodes rows already sorted by `ts`, at most [`MAX_BLOCK_ROWS`], all of one window.
    pub(crate) fn new(rows: &[RowRef<'_>]) -> std::io::Result<Option<Self>> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(None) };
        Ok(Some(Self {
            min_ts: first.ts,
            max_ts: last.ts,
            rows: rows.len(),
            with_ids: rows.iter().filter(|row| row.sample_id.is_some()).count(),
            day: first.ts.div_euclid(NS_PER_DAY),
            data: encode(rows)?,
        }))
    }
}

/// The samples at `members` (indexes into `samples`, all of one block key) as blocks of at
/// most [`MAX_BLOCK_ROWS`] (see [`block_runs`]), in `ts` order (the order they came in for equal times).
pub(crate) fn encode_members(samples: &[NewSample], mut members: Vec<usize>) -> StoreResult<Vec<EncodedBlock>> {
    members.sort_by_key(|&index| samples[index].ts);
    let values = members
        .iter()
        .map(|&index| SampleValues::from_json(&samples[index].values).map_err(|e| StoreError::Internal(format!("sample values: {e}"))))
        .collect::<StoreResult<Vec<_>>>()?;
    let rows: Vec<RowRef<'_>> = members
        .iter()
        .zip(&values)
        .map(|(&index, values)| {
            let sample = &samples[index];
            RowRef { ts: sample.ts, received_at: sample.received_at, sample_id: sample.sample_id.as_deref(), values: values.as_bytes() }
        })
        .collect();
    // Cut by the packed size, which is what the block holds (it can exceed the JSON's).
    block_runs(&rows, |row| row.values.len())
        .into_iter()
        .filter_map(|run| EncodedBlock::new(run).map_err(|e| StoreError::Internal(format!("sample block: {e}"))).transpose())
        .collect()
}

/// Encodes rows already sorted by `ts`.
pub(crate) fn encode(rows: &[RowRef<'_>]) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::with_capacity(rows.len() * 24);
    varint::write_u64(&mut raw, rows.len() as u64);
    let mut previous = 0i64;
    for row in rows {
        varint::write_i64(&mut raw, row.ts.wrapping_sub(previous));
        previous = row.ts;
    }
    for row in rows {
        varint::write_i64(&mut raw, row.received_at.wrapping_sub(row.ts));
    }
    for row in rows {
        match row.sample_id {
            Some(id) => {
                varint::write_u64(&mut raw, id.len() as u64 + 1);
                raw.extend_from_slice(id.as_bytes());
            }
            None => raw.push(0),
        }
    }
    for row in rows {
        varint::write_u64(&mut raw, row.values.len() as u64);
        raw.extend_from_slice(row.values);
    }
    if raw.len() < COMPRESS_FROM_BYTES {
        raw.insert(0, FORMAT_RAW);
        return Ok(raw);
    }
    let mut blob = vec![FORMAT_ZSTD];
    varint::write_u64(&mut blob, raw.len() as u64);
    blob.extend_from_slice(&compress(&raw)?);
    Ok(blob)
}

/// Decodes a block written by [`encode`]; a damaged one is an internal store error.
pub(crate) fn decode(blob: &[u8]) -> StoreResult<Rows> {
    let mut rows = Rows::default();
    decode_into(blob, &mut rows, &mut Vec::new())?;
    Ok(rows)
}

/// [`decode`] into the vectors of `rows` and `scratch` (for the decompressed columns), which
/// keep their capacity: a reader decoding block after block reuses them instead of allocating
/// and freeing a few large buffers per block.
pub(crate) fn decode_into(blob: &[u8], rows: &mut Rows, scratch: &mut Vec<u8>) -> StoreResult<()> {
    decode_rows(blob, rows, scratch).map_err(|e| StoreError::Internal(e.to_string()))
}

fn decode_rows(blob: &[u8], rows: &mut Rows, scratch: &mut Vec<u8>) -> Result<(), Damaged> {
    let (&format, mut rest) = blob.split_first().ok_or(Damaged("empty"))?;
    let (mut input, raw_len) = match format {
        FORMAT_RAW => (rest, rest.len()),
        FORMAT_ZSTD => {
            let raw_len = varint::read_u64(&mut rest).ok_or(Damaged("length"))? as usize;
            decompress_into(rest, raw_len, scratch).map_err(|_| Damaged("compression"))?;
            (scratch.as_slice(), raw_len)
        }
        _ => return Err(Damaged("unknown format")),
    };
    let count = varint::read_u64(&mut input).ok_or(Damaged("row count"))? as usize;
    // Every row takes at least a byte in each column: a larger count is damage, and must not
    // size the allocations below.
    if count > raw_len {
        return Err(Damaged("row count"));
    }
    rows.clear();
    rows.reserve(count);
    let mut ts = 0i64;
    for _ in 0..count {
        ts = ts.wrapping_add(varint::read_i64(&mut input).ok_or(Damaged("ts"))?);
        rows.ts.push(ts);
    }
    for index in 0..count {
        let distance = varint::read_i64(&mut input).ok_or(Damaged("received_at"))?;
        rows.received_at.push(rows.ts[index].wrapping_add(distance));
    }
    for _ in 0..count {
        let len = varint::read_u64(&mut input).ok_or(Damaged("sample id"))? as usize;
        rows.sample_ids.push(match len {
            0 => None,
            len => Some(String::from_utf8(take(&mut input, len - 1)?.to_vec()).map_err(|_| Damaged("sample id"))?),
        });
    }
    for _ in 0..count {
        let len = varint::read_u64(&mut input).ok_or(Damaged("values"))? as usize;
        rows.values.push(SampleValues::from_bytes(take(&mut input, len)?));
    }
    Ok(())
}

fn take<'a>(input: &mut &'a [u8], len: usize) -> Result<&'a [u8], Damaged> {
    if input.len() < len {
        return Err(Damaged("cut off"));
    }
    let (taken, rest) = input.split_at(len);
    *input = rest;
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_nest_in_days() {
        assert_eq!(NS_PER_DAY % BLOCK_WINDOW_NS, 0);
    }

    #[test]
    fn blocks_are_cut_by_rows_and_by_value_bytes() {
        let lens = |runs: Vec<&[usize]>| runs.iter().map(|run| run.len()).collect::<Vec<_>>();
        assert_eq!(lens(block_runs(&vec![10; MAX_BLOCK_ROWS + 5], |n| *n)), vec![MAX_BLOCK_ROWS, 5]);
        let half = MAX_BLOCK_VALUE_BYTES / 2;
        assert_eq!(lens(block_runs(&[half, half, 1, half, 3 * half], |n| *n)), vec![2, 2, 1]);
        assert!(block_runs(&[] as &[usize], |n| *n).is_empty());
    }

    #[test]
    fn spans_are_cut_where_a_window_passes_empty() {
        let w = BLOCK_WINDOW_NS;
        let times = [0, 5, w, 2 * w + 1, 10 * w, 10 * w + 3];
        assert_eq!(spans(&times).collect::<Vec<_>>(), vec![(0, w), (2 * w + 1, 2 * w + 1), (10 * w, 10 * w + 3)]);
    }

    #[test]
    fn rows_come_back_as_written() {
        let values: Vec<SampleValues> = (0..300)
            .map(|i| SampleValues::from_json(&format!(r#"{{"lead_i":{},"ok":true}}"#, f64::from(i) * 0.25)).expect("pack"))
            .collect();
        let ids: Vec<String> = (0..300).map(|i| format!("ecg-1:{i}")).collect();
        let rows: Vec<RowRef<'_>> = (0..300)
            .map(|i| RowRef {
                ts: 1_795_420_800_000_000_000 + i as i64 * 4_000_000,
                received_at: 1_795_420_800_040_000_000 + i as i64 * 4_000_000 - (i as i64 % 7),
                sample_id: (i % 3 == 0).then(|| ids[i].as_str()),
                values: values[i].as_bytes(),
            })
            .collect();
        let blob = encode(&rows).expect("encode");
        let decoded = decode(&blob).expect("decode");
        assert_eq!(decoded.ts.len(), 300);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(decoded.ts[i], row.ts);
            assert_eq!(decoded.received_at[i], row.received_at);
            assert_eq!(decoded.sample_ids[i].as_deref(), row.sample_id);
            assert_eq!(decoded.values[i], values[i]);
        }
        assert_eq!(blob[0], FORMAT_ZSTD);
        assert!(blob.len() < 300 * 12, "300 rows took {} bytes", blob.len());
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let values = SampleValues::from_json(r#"{"a":1}"#).expect("pack");
        let blob = encode(&[RowRef { ts: 5, received_at: 6, sample_id: None, values: values.as_bytes() }]).expect("encode");
        assert!(decode(&[]).is_err());
        assert!(decode(&[9]).is_err());
        assert_eq!(blob[0], FORMAT_RAW, "one row is not worth compressing");
        for cut in 1..blob.len() {
            assert!(decode(&blob[..cut]).is_err());
        }
    }
}
