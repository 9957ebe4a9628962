//! A CloudTrail record as iam-alarm reads it: the JSON object (serde_json's `Value`) with lenient accessors.
//!
//! CloudTrail records vary by event version, identity type and source, so every field is read leniently: a
//! value of an unexpected type reads as absent instead of failing the record, and an alert never disappears
//! because one field was odd. Fields are named by JSON pointers (`/userIdentity/sessionContext/…`), exactly as
//! the CloudTrail documentation spells them.

use serde_json::Value;

/// The record: the object EventBridge carries in `detail`.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a>(&'a Value);

impl<'a> Record<'a> {
    /// The record, when `value` is a JSON object.
    pub fn new(value: &'a Value) -> Option<Record<'a>> {
        value.is_object().then_some(Record(value))
    }

    /// The whole record.
    pub fn value(&self) -> &'a Value {
        self.0
    }

    /// The string at `pointer`, trimmed, when it is a non-empty string.
    pub fn text(&self, pointer: &str) -> Option<&'a str> {
        self.raw(pointer).map(str::trim).filter(|s| !s.is_empty())
    }

    /// The string at `pointer` exactly as written, when it is a string (even an empty one).
    pub fn raw(&self, pointer: &str) -> Option<&'a str> {
        self.0.pointer(pointer).and_then(Value::as_str)
    }

    /// The boolean at `pointer`.
    pub fn flag(&self, pointer: &str) -> Option<bool> {
        self.0.pointer(pointer).and_then(Value::as_bool)
    }

    /// Whether the record names its event and service, as every CloudTrail record does.
    pub fn names_itself(&self) -> bool {
        self.raw("/eventName").is_some() && self.raw("/eventSource").is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_fields() {
        let v: Value = serde_json::from_str(
            r#"{"eventName":"CreateUser","userIdentity":{"type":"IAMUser","sessionContext":
            {"attributes":{"mfaAuthenticated":"true"}}},"requestParameters":{"userName":"bob",
            "passwordResetRequired":true},"responseElements":{"user":{"userName":"b\u006fb"}}}"#,
        )
        .unwrap();
        let r = Record::new(&v).unwrap();
        assert_eq!(r.text("/eventName"), Some("CreateUser"));
        assert_eq!(r.text("/userIdentity/type"), Some("IAMUser"));
        assert_eq!(
            r.text("/userIdentity/sessionContext/attributes/mfaAuthenticated"),
            Some("true")
        );
        assert_eq!(r.text("/requestParameters/userName"), Some("bob"));
        assert_eq!(
            r.flag("/requestParameters/passwordResetRequired"),
            Some(true)
        );
        assert_eq!(r.text("/responseElements/user/userName"), Some("bob"));
    }

    #[test]
    fn values_of_unexpected_types_read_as_absent() {
        let v: Value = serde_json::from_str(
            r#"{"eventName":5,"eventSource":["a",{"b":1}],"userIdentity":"root",
            "requestParameters":{"userName":{"x":[1,2]},"passwordResetRequired":"yes"},
            "responseElements":null,"eventTime":"  ","unknown":{"deep":[[[{}]]]}}"#,
        )
        .unwrap();
        let r = Record::new(&v).unwrap();
        assert_eq!(r.text("/eventName"), None);
        assert_eq!(r.text("/eventSource"), None);
        assert_eq!(r.text("/userIdentity/type"), None);
        assert_eq!(r.text("/requestParameters/userName"), None);
        assert_eq!(r.flag("/requestParameters/passwordResetRequired"), None);
        assert_eq!(r.text("/responseElements/user/userName"), None);
        assert_eq!(r.text("/eventTime"), None);
        assert_eq!(r.raw("/eventTime"), Some("  "));
        assert!(Record::new(&Value::Null).is_none());
    }
}
