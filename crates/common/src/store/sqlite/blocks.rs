//! The sample block codec: the rows of one sensor, recording and UTC day, sorted by `ts`,
//! stored as one compressed blob of columns.
//!
//! Layout before compression: the row count, then each column in turn — `ts` as zigzag deltas
//! from the row before, `received_at` as its zigzag distance from `ts`, the sample ids (length
//! plus one, 0 for none), then each row's packed values (length, bytes). Columns of similar
//! numbers side by side make deltas tiny and compress well. The blob is the format byte, the
//! raw length and a zstd frame (or, for a few rows, the format byte and the raw columns).

use super::docs::map_error;
use crate::model::SampleValues;
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

fn decompress(frame: &[u8], raw_len: usize) -> std::io::Result<Vec<u8>> {
    DECOMPRESSOR.with_borrow_mut(|slot| {
        let decompressor = match slot {
            Some(decompressor) => decompressor,
            None => slot.insert(zstd::bulk::Decompressor::new()?),
        };
        decompressor.decompress(frame, raw_len)
    })
}
/// The most rows in one block (bigger groups are split): bounds what a read decodes at once.
pub(super) const MAX_BLOCK_ROWS: usize = 8_192;

/// One row on its way into a block.
pub(super) struct RowRef<'a> {
    pub ts: i64,
    pub received_at: i64,
    pub sample_id: Option<&'a str>,
    pub values: &'a [u8],
}

/// A block's rows, decoded, in `ts` order.
#[derive(Debug, Default)]
pub(super) struct Rows {
    pub ts: Vec<i64>,
    pub received_at: Vec<i64>,
    pub sample_ids: Vec<Option<String>>,
    pub values: Vec<SampleValues>,
}

#[derive(Debug, thiserror::Error)]
#[error("damaged sample block: {0}")]
struct Damaged(&'static str);

/// Encodes rows already sorted by `ts`.
pub(super) fn encode(rows: &[RowRef<'_>]) -> std::io::Result<Vec<u8>> {
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
pub(super) fn decode(blob: &[u8]) -> StoreResult<Rows> {
    decode_rows(blob).map_err(|e| StoreError::Internal(e.to_string()))
}

fn decode_rows(blob: &[u8]) -> Result<Rows, Damaged> {
    let (&format, mut rest) = blob.split_first().ok_or(Damaged("empty"))?;
    let decompressed;
    let (mut input, raw_len) = match format {
        FORMAT_RAW => (rest, rest.len()),
        FORMAT_ZSTD => {
            let raw_len = varint::read_u64(&mut rest).ok_or(Damaged("length"))? as usize;
            decompressed = decompress(rest, raw_len).map_err(|_| Damaged("compression"))?;
            (decompressed.as_slice(), raw_len)
        }
        _ => return Err(Damaged("unknown format")),
    };
    let count = varint::read_u64(&mut input).ok_or(Damaged("row count"))? as usize;
    // Every row takes at least a byte in each column: a larger count is damage, and must not
    // size the allocations below.
    if count > raw_len {
        return Err(Damaged("row count"));
    }
    let mut rows = Rows {
        ts: Vec::with_capacity(count),
        received_at: Vec::with_capacity(count),
        sample_ids: Vec::with_capacity(count),
        values: Vec::with_capacity(count),
    };
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
        rows.values.push(SampleValues::from_bytes(take(&mut input, len)?.to_vec()));
    }
    Ok(rows)
}

/// Decodes the block in column `index` of a result row.
pub(super) fn decode_column(row: &rusqlite::Row<'_>, index: usize) -> StoreResult<Rows> {
    let blob = row.get_ref(index).map_err(map_error)?.as_blob().map_err(|e| StoreError::Internal(format!("sample block: {e}")))?;
    decode(blob)
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
