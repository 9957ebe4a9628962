//! A canonical fingerprint of a JSON value, read in one pass without building it.
//!
//! Equal for equal values whatever their key order, whitespace or escapes, and with a repeated key counted once
//! (its last value, as a full parse reads it). It keys the records that carry no `eventID`, so the same record
//! gets the same key bare, inside an EventBridge event, or inside an SNS notification. A stable 128-bit SipHash is
//! plenty for telling records apart; this is no security boundary.

use std::borrow::Cow;
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

// Each value is written to the hasher as its tag and contents, so `"1"`, `1` and `[1]` differ; strings and
// objects carry their length and arrays an end mark, so no two values write the same bytes.
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
        let mut h = SipHasher13::new();
        d.deserialize_any(Feed(&mut h))?;
        Ok(Fingerprint(h.finish128().as_u128()))
    }
}

/// Writes the canonical form of one value into a hasher.
struct Feed<'h>(&'h mut SipHasher13);

impl Feed<'_> {
    fn bytes(self, tag: u8, bytes: &[u8]) {
        self.0.write(&[tag]);
        self.0.write(&(bytes.len() as u64).to_le_bytes());
        self.0.write(bytes);
    }
}

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
        self.0.write(&[NULL]);
        Ok(())
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.write(&[BOOL, u8::from(v)]);
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.bytes(NEGATIVE, &v.to_le_bytes());
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.bytes(UNSIGNED, &v.to_le_bytes());
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.bytes(FLOAT, &v.to_bits().to_le_bytes());
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.bytes(STRING, v.as_bytes());
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.write(&[ARRAY]);
        while seq.next_element_seed(Feed(self.0))?.is_some() {}
        self.0.write(&[END]);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Each member (key and value) hashes on its own, and the members go in key order: the text's order
        // doesn't matter. Keys are borrowed from the text unless they hold an escape.
        let mut members: Vec<(Cow<'de, str>, u64)> = Vec::with_capacity(16);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let mut h = SipHasher13::new();
            h.write(&(key.len() as u64).to_le_bytes());
            h.write(key.as_bytes());
            map.next_value_seed(Feed(&mut h))?;
            members.push((key, h.finish()));
        }
        members.sort_by(|a, b| a.0.cmp(&b.0)); // stable: a repeated key keeps its values in text order
        members.reverse(); // now a repeated key's last value comes first, and it wins
        members.dedup_by(|next, kept| next.0 == kept.0);
        self.0.write(&[OBJECT]);
        self.0.write(&(members.len() as u64).to_le_bytes());
        for (_, member) in &members {
            self.0.write(&member.to_le_bytes());
        }
        Ok(())
    }
}

/// An object key, borrowed from the text when it holds no escape.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Cow<'de, str>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Borrowed(v))
            }

            fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
        }
        d.deserialize_str(KeyVisitor)
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
