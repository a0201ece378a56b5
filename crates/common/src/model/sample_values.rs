//! A stored sample's `values` in a compact binary form: what the store keeps and the export
//! reads, so neither parses JSON per row.
//!
//! Each field is `name length (varint), name, tag, payload`, in the order the client sent them.
//! Tags: null, false, true, integer (zigzag varint), float (8 bytes, little endian), string
//! (varint length, UTF-8). Names repeat in every row; the store compresses whole blocks of rows,
//! which takes them away again, and rows stay readable without a schema.

use crate::varint;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use smallvec::SmallVec;
use std::fmt;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INTEGER: u8 = 3;
const FLOAT: u8 = 4;
const STRING: u8 = 5;

/// One field's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    Null,
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(&'a str),
}

/// Packed values up to this many bytes are kept inline, without an allocation of their own:
/// most sensors' samples (a few numbers) fit, and a read of millions of rows then allocates
/// and frees nothing per row for them.
const INLINE_BYTES: usize = 96;

/// A sample's values, packed. Built only from JSON objects of scalars (what ingest validated) or
/// from bytes this type wrote, so reading it back cannot fail on well-formed input; damaged
/// bytes end the iteration early rather than panic.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SampleValues(SmallVec<[u8; INLINE_BYTES]>);

impl SampleValues {
    /// Packs a JSON object of scalar values. Nested arrays or objects are refused: sensor types
    /// declare scalar fields only, and ingest rejects anything else before it reaches here.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let mut packed = Vec::with_capacity(json.len());
        let mut deserializer = serde_json::Deserializer::from_str(json);
        deserializer.deserialize_map(PackVisitor { out: &mut packed }).map_err(|e| e.to_string())?;
        deserializer.end().map_err(|e| e.to_string())?;
        Ok(Self::from_bytes(&packed))
    }

    /// Takes bytes written by [`as_bytes`](Self::as_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(SmallVec::from_slice(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The fields in the order they were sent.
    pub fn iter(&self) -> Fields<'_> {
        Fields { rest: &self.0 }
    }

    /// The values as a JSON object.
    pub fn to_json(&self) -> String {
        let mut object = serde_json::Map::new();
        for (name, value) in self.iter() {
            let value = match value {
                FieldValue::Null => serde_json::Value::Null,
                FieldValue::Bool(b) => b.into(),
                FieldValue::I64(i) => i.into(),
                FieldValue::F64(f) => serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number),
                FieldValue::Str(s) => s.into(),
            };
            object.insert(name.to_owned(), value);
        }
        serde_json::Value::Object(object).to_string()
    }
}

impl fmt::Debug for SampleValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

/// Iterates the packed fields.
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, FieldValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut rest = self.rest;
        let name = take_str(&mut rest)?;
        let (&tag, after) = rest.split_first()?;
        rest = after;
        let value = match tag {
            NULL => FieldValue::Null,
            FALSE => FieldValue::Bool(false),
            TRUE => FieldValue::Bool(true),
            INTEGER => FieldValue::I64(varint::read_i64(&mut rest)?),
            FLOAT => {
                let (bytes, after) = rest.split_first_chunk::<8>()?;
                rest = after;
                FieldValue::F64(f64::from_le_bytes(*bytes))
            }
            STRING => FieldValue::Str(take_str(&mut rest)?),
            _ => return None,
        };
        self.rest = rest;
        Some((name, value))
    }
}

fn take_str<'a>(rest: &mut &'a [u8]) -> Option<&'a str> {
    let len = usize::try_from(varint::read_u64(rest)?).ok()?;
    if rest.len() < len {
        return None;
    }
    let (text, after) = rest.split_at(len);
    *rest = after;
    std::str::from_utf8(text).ok()
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    varint::write_u64(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

struct PackVisitor<'o> {
    out: &'o mut Vec<u8>,
}

impl<'de> Visitor<'de> for PackVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of scalar values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(crate::sensors::FieldName(name)) = map.next_key()? {
            put_str(self.out, &name);
            map.next_value_seed(ScalarSeed { out: self.out })?;
        }
        Ok(())
    }
}

/// Writes one scalar's tag and payload.
struct ScalarSeed<'o> {
    out: &'o mut Vec<u8>,
}

impl<'de> de::DeserializeSeed<'de> for ScalarSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.push(NULL);
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.out.push(if v { TRUE } else { FALSE });
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.out.push(INTEGER);
        varint::write_i64(self.out, v);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            // Only a float field takes an integer beyond i64 (ingest checked that).
            Err(_) => self.visit_f64(v as f64),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.out.push(FLOAT);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.out.push(STRING);
        put_str(self.out, v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_value_comes_back_as_sent() {
        let json = r#"{"open":true,"shut":false,"n":-42,"big":18446744073709551615,"x":0.1,"y":-1e-300,"s":"tür \"7\"","gone":null}"#;
        let packed = SampleValues::from_json(json).expect("pack");
        let fields: Vec<_> = packed.iter().collect();
        assert_eq!(
            fields,
            vec![
                ("open", FieldValue::Bool(true)),
                ("shut", FieldValue::Bool(false)),
                ("n", FieldValue::I64(-42)),
                ("big", FieldValue::F64(18446744073709551615.0)),
                ("x", FieldValue::F64(0.1)),
                ("y", FieldValue::F64(-1e-300)),
                ("s", FieldValue::Str("tür \"7\"")),
                ("gone", FieldValue::Null),
            ]
        );
        let back: serde_json::Value = serde_json::from_str(&packed.to_json()).expect("json");
        assert_eq!(back["x"], serde_json::json!(0.1));
        assert_eq!(back["s"], serde_json::json!("tür \"7\""));
        assert_eq!(SampleValues::from_bytes(packed.as_bytes()), packed);
    }

    #[test]
    fn nested_values_and_trailing_text_are_refused() {
        assert!(SampleValues::from_json(r#"{"a":[1]}"#).is_err());
        assert!(SampleValues::from_json(r#"{"a":{"b":1}}"#).is_err());
        assert!(SampleValues::from_json(r#"{"a":1} x"#).is_err());
        assert!(SampleValues::from_json("[1]").is_err());
    }

    #[test]
    fn damaged_bytes_end_the_fields_without_a_panic() {
        let packed = SampleValues::from_json(r#"{"a":1.5,"b":"text"}"#).expect("pack");
        for cut in 0..packed.as_bytes().len() {
            let damaged = SampleValues::from_bytes(&packed.as_bytes()[..cut]);
            assert!(damaged.iter().count() < 2);
        }
    }
}
