//! The key of a record that carries no `eventID`: a hash of its canonical JSON form.
//!
//! Canonical means: parsed with serde (a repeated key counts once, its last value), every object's keys sorted,
//! printed without whitespace. So the same record gets the same key bare, inside an EventBridge event, or
//! inside an SNS notification, whatever its key order, whitespace or escapes.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The fingerprint of a JSON value.
pub fn of_value(value: &Value) -> [u8; 16] {
    let digest = Sha256::digest(canonical(value).as_bytes());
    digest[..16].try_into().expect("SHA-256 is 32 bytes")
}

/// `value` as JSON with every object's keys sorted (serde_json keeps insertion order when another crate
/// turns on its `preserve_order` feature, so the order is made explicit here).
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(k, _)| *k);
            let members: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), canonical(v)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        scalar => scalar.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of_json(text: &str) -> [u8; 16] {
        of_value(&serde_json::from_str(text).unwrap())
    }

    #[test]
    fn key_order_whitespace_and_escapes_do_not_matter() {
        let a = of_json(r#"{"a":1,"b":{"x":"y","z":[1,2]}}"#);
        let b = of_json("{ \"b\" : { \"z\" : [1, 2], \"x\" : \"\\u0079\" }, \"a\" : 1 }");
        assert_eq!(a, b);
    }

    #[test]
    fn types_and_values_are_told_apart() {
        let prints: Vec<_> = [
            r#"{"a":"1"}"#,
            r#"{"a":1}"#,
            r#"{"a":[1]}"#,
            r#"{"a":null}"#,
            r#"{"a":{}}"#,
            r#"{"a1":""}"#,
            r#"{"a":"1","b":""}"#,
        ]
        .iter()
        .map(|t| of_json(t))
        .collect();
        for (i, p) in prints.iter().enumerate() {
            assert_eq!(prints.iter().filter(|q| *q == p).count(), 1, "{i}");
        }
    }

    #[test]
    fn a_repeated_key_counts_once_its_last_value() {
        assert_eq!(of_json(r#"{"a":1,"a":2}"#), of_json(r#"{"a":2}"#));
    }
}
