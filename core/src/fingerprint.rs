//! A canonical fingerprint of a JSON value, read in one pass without building it.
//!
//! Equal for equal values whatever their key order, whitespace or escapes, and with a repeated key counted once
//! (its last value, as a full parse reads it). It keys the records that carry no `eventID`, so the same record
//! gets the same key bare, inside an EventBridge event, or inside an SNS notification. A stable 128-bit SipHash is
//! plenty for telling records apart; this is no security boundary.

use std::fmt;
use std::hash::Hasher;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use siphasher::sip128::{Hasher128, SipHasher13};

/// The fingerprint of a whole JSON text; `None` when it is not JSON.
pub fn of_json(text: &str) -> Option<u128> {
    serde_json::from_str::<Fingerprint>(text).ok().map(|f| f.0)
}

/// The fingerprint of the `detail` member of a JSON object (an EventBridge event); `None` when it has none.
pub fn of_detail(text: &str) -> Option<u128> {
    serde_json::from_str::<Detail>(text).ok()?.0
}

// The canonical form: each value as its tag and contents, so `"1"`, `1` and `[1]` differ; strings and objects
// carry their length and arrays an end mark, so no two values have the same form.
const NULL: u8 = 0;
const BOOL: u8 = 1;
const NEGATIVE: u8 = 2;
const UNSIGNED: u8 = 3;
const FLOAT: u8 = 4;
const STRING: u8 = 5;
const ARRAY: u8 = 6;
const OBJECT: u8 = 7;
const END: u8 = 8;

struct Fingerprint(u128);

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // About the size of the text, so it is rarely grown.
        let mut canon = Canon {
            out: Vec::with_capacity(2048),
            members: Vec::with_capacity(32),
        };
        d.deserialize_any(Feed(&mut canon))?;
        let mut h = SipHasher13::new();
        h.write(&canon.out);
        Ok(Fingerprint(h.finish128().as_u128()))
    }
}

/// The canonical form being written, and the members of the objects still open.
struct Canon {
    out: Vec<u8>,
    members: Vec<Member>,
}

/// Where one member (its key, then its value) stands in the canonical form.
#[derive(Clone, Copy)]
struct Member {
    start: usize,
    key_end: usize,
    end: usize,
    /// The key's first eight bytes, big-endian: most keys are told apart by them without a full comparison.
    prefix: u64,
}

impl Member {
    fn key<'o>(&self, out: &'o [u8]) -> &'o [u8] {
        &out[self.start..self.key_end]
    }
}

impl Canon {
    fn bytes(&mut self, tag: u8, bytes: &[u8]) {
        self.out.push(tag);
        self.len(bytes.len());
        self.out.extend_from_slice(bytes);
    }

    fn len(&mut self, n: usize) {
        // JSON text of at most 2 MiB (MAX_BODY_BYTES) can't hold a longer string or object.
        self.out.extend_from_slice(&(n as u32).to_le_bytes());
    }
}

/// Writes the canonical form of one value.
struct Feed<'c>(&'c mut Canon);

impl<'de> DeserializeSeed<'de> for Feed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Feed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.out.push(NULL);
        Ok(())
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.out.extend_from_slice(&[BOOL, u8::from(v)]);
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.bytes(NEGATIVE, &v.to_le_bytes());
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.bytes(UNSIGNED, &v.to_le_bytes());
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.bytes(FLOAT, &v.to_bits().to_le_bytes());
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.bytes(STRING, v.as_bytes());
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.out.push(ARRAY);
        while seq.next_element_seed(Feed(self.0))?.is_some() {}
        self.0.out.push(END);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Members (key, then value) are written as they come, then put in key order in place, so the text's
        // order doesn't matter. A nested object is already in order when its member ends.
        let canon = self.0;
        let start = canon.out.len();
        let open = canon.members.len();
        while map.next_key_seed(Key(canon))?.is_some() {
            let key_end = canon.out.len();
            map.next_value_seed(Feed(canon))?;
            let start = canon.members[open..].last().map_or(start, |m| m.end);
            // The key is its 4-byte length, then its bytes.
            let mut prefix = [0; 8];
            let key = &canon.out[start + 4..key_end];
            let n = key.len().min(8);
            prefix[..n].copy_from_slice(&key[..n]);
            canon.members.push(Member {
                start,
                key_end,
                end: canon.out.len(),
                prefix: u64::from_be_bytes(prefix),
            });
        }
        let Canon { out, members } = canon;
        let object = &mut members[open..];
        // Stable, so a repeated key keeps its values in text order; the last one wins.
        object.sort_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| a.key(out).cmp(b.key(out)))
        });
        let end = out.len();
        out.push(OBJECT);
        out.extend_from_slice(&[0; 4]); // the count, once known
        let mut count = 0u32;
        for (i, m) in object.iter().enumerate() {
            if object
                .get(i + 1)
                .is_some_and(|next| next.prefix == m.prefix && next.key(out) == m.key(out))
            {
                continue;
            }
            out.extend_from_within(m.start..m.end);
            count += 1;
        }
        out[end + 1..end + 5].copy_from_slice(&count.to_le_bytes());
        let written = out.len() - end;
        out.copy_within(end.., start);
        out.truncate(start + written);
        members.truncate(open);
        Ok(())
    }
}

/// Writes an object key (keys are always strings in JSON) as its length and bytes.
struct Key<'c>(&'c mut Canon);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Key<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.len(v.len());
        self.0.out.extend_from_slice(v.as_bytes());
        Ok(())
    }
}

/// The fingerprint of an object's `detail` member, the rest skipped unread.
struct Detail(Option<u128>);

impl<'de> Deserialize<'de> for Detail {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DetailVisitor;
        impl<'de> Visitor<'de> for DetailVisitor {
            type Value = Detail;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Detail, A::Error> {
                let mut found = None;
                while let Some(IsDetail(is_detail)) = map.next_key()? {
                    if is_detail {
                        found = Some(map.next_value::<Fingerprint>()?.0);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Detail(found))
            }
        }
        d.deserialize_map(DetailVisitor)
    }
}

/// Whether an object key is `detail`.
struct IsDetail(bool);

impl<'de> Deserialize<'de> for IsDetail {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = IsDetail;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<IsDetail, E> {
                Ok(IsDetail(v == "detail"))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_whitespace_and_escapes_do_not_matter() {
        let a = of_json(r#"{"a":1,"b":[true,null,"x"],"c":{"d":-2,"e":1.5}}"#);
        let b = of_json(
            "{ \"c\" : {\"e\":1.5, \"d\":-2},\n \"b\":[true, null, \"\\u0078\"], \"\\u0061\":1 }",
        );
        assert!(a.is_some());
        assert_eq!(a, b);
    }

    #[test]
    fn values_and_types_are_told_apart() {
        let all = [
            r#"{"a":1}"#,
            r#"{"a":2}"#,
            r#"{"a":-1}"#,
            r#"{"a":1.0}"#,
            r#"{"a":"1"}"#,
            r#"{"a":[1]}"#,
            r#"{"a":{"1":1}}"#,
            r#"{"b":1}"#,
            r#"{"a":1,"b":1}"#,
            r#"{"a":null}"#,
            r#"{"a":true}"#,
            r#"{"a":false}"#,
            r#"{"a":[1,2]}"#,
            r#"{"a":[2,1]}"#,
            r#"{}"#,
            r#"[]"#,
        ];
        let prints: std::collections::HashSet<_> =
            all.iter().map(|t| of_json(t).unwrap()).collect();
        assert_eq!(prints.len(), all.len());
    }

    #[test]
    fn a_repeated_key_counts_once_with_its_last_value() {
        assert_eq!(
            of_json(r#"{"a":1,"b":2,"a":3}"#),
            of_json(r#"{"b":2,"a":3}"#)
        );
        assert_ne!(
            of_json(r#"{"a":1,"b":2,"a":3}"#),
            of_json(r#"{"b":2,"a":1}"#)
        );
        assert_eq!(
            of_json(r#"{"a":{"x":1,"y":{"q":[1,{"r":2,"s":3}]},"x":3},"b":[{"k":1,"j":2}]}"#),
            of_json(r#"{"b":[{"j":2,"k":1}],"a":{"y":{"q":[1,{"s":3,"r":2}]},"x":3}}"#)
        );
    }

    #[test]
    fn a_detail_prints_like_the_record_alone() {
        let record = r#"{"eventName":"CreateUser","x":[1]}"#;
        let event = format!(r#"{{"detail-type":"d","detail":{record},"source":"aws.iam"}}"#);
        assert_eq!(of_detail(&event), of_json(record));
        assert_eq!(of_detail(r#"{"source":"aws.iam"}"#), None);
        assert_eq!(of_json("not json"), None);
    }
}
