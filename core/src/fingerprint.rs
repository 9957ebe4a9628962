//! The key of a record that carries no `eventID`: a hash of its canonical JSON form.
//!
//! Canonical means: parsed with serde (a repeated key counts once, its last value), every object's keys sorted,
//! printed without whitespace. So the same record gets the same key bare, inside an EventBridge event, or
//! inside an SNS notification, whatever its key order, whitespace or escapes.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The fingerprint of a whole JSON text; `None` when it is not JSON (or nests deeper than serde reads).
pub fn of_json(text: &str) -> Option<[u8; 16]> {
    let value: Value = serde_json::from_str(text).ok()?;
    Some(of_value(&value))
}

/// The fingerprint of the `detail` member of a JSON object (an EventBridge event); `None` when it has none.
pub fn of_detail(text: &str) -> Option<[u8; 16]> {
    let value: Value = serde_json::from_str(text).ok()?;
    value.get("detail").filter(|d| d.is_object()).map(of_value)
}

fn of_value(value: &Value) -> [u8; 16] {
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

    #[test]
    fn key_order_whitespace_and_escapes_do_not_matter() {
        let a = of_json(r#"{"a":1,"b":{"x":"y","z":[1,2]}}"#);
        let b = of_json("{ \"b\" : { \"z\" : [1, 2], \"x\" : \"\\u0079\" }, \"a\" : 1 }");
        assert!(a.is_some());
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
        .map(|t| of_json(t).unwrap())
        .collect();
        for (i, p) in prints.iter().enumerate() {
            assert_eq!(prints.iter().filter(|q| *q == p).count(), 1, "{i}");
        }
    }

    #[test]
    fn a_repeated_key_counts_once_its_last_value() {
        assert_eq!(of_json(r#"{"a":1,"a":2}"#), of_json(r#"{"a":2}"#));
    }

    #[test]
    fn a_detail_keys_like_the_bare_record() {
        let record = r#"{"eventName":"CreateUser","x":[1]}"#;
        let event = format!(r#"{{"detail-type":"AWS API Call via CloudTrail","detail":{record}}}"#);
        assert_eq!(of_detail(&event), of_json(record));
        assert_eq!(of_detail(r#"{"detail":"text"}"#), None);
        assert_eq!(of_json("not json"), None);
    }
}
