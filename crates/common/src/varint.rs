//! LEB128 variable-length integers (zigzag for signed ones): the store's sample blocks and packed
//! values write small numbers — time deltas, lengths — in one or two bytes instead of eight.

pub fn write_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one integer and moves `input` past it; `None` if it is cut off or too long.
pub fn read_u64(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (index, &byte) in input.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte < 0x80 {
            *input = &input[index + 1..];
            return Some(value);
        }
    }
    None
}

pub fn write_i64(out: &mut Vec<u8>, value: i64) {
    write_u64(out, ((value << 1) ^ (value >> 63)) as u64);
}

pub fn read_i64(input: &mut &[u8]) -> Option<i64> {
    let zigzag = read_u64(input)?;
    Some(((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_come_back_and_small_ones_are_short() {
        let values = [0, 1, -1, 63, -64, 64, 1 << 40, -(1 << 40), i64::MAX, i64::MIN];
        let mut out = Vec::new();
        for value in values {
            write_i64(&mut out, value);
        }
        let mut input = out.as_slice();
        for value in values {
            assert_eq!(read_i64(&mut input), Some(value));
        }
        assert!(input.is_empty());
        let mut short = Vec::new();
        write_i64(&mut short, -64);
        assert_eq!(short.len(), 1);
        assert_eq!(read_u64(&mut [0x80u8, 0x80].as_slice()), None, "cut off");
    }
}
