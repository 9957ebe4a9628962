//! From an SQS message body to the CloudTrail record inside it.
//!
//! Accepted shapes: an SNS `Notification` envelope whose `Message` is the EventBridge event (or a record) as a
//! JSON string; the EventBridge event itself; a bare CloudTrail record. SNS subscription confirmations are
//! recognised and reported as "not an alert". Everything else is a typed error, never a panic: serde_json
//! refuses nesting deeper than 128 levels, so hostile input cannot overflow the stack.

use serde_json::{Map, Value};

/// Bodies larger than this are refused before parsing (SQS itself caps messages at 1 MiB).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What a queue message turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Unwrapped {
    /// A CloudTrail record (a JSON object).
    Record(Value),
    /// A message that is valid but carries no CloudTrail record (SNS confirmations, other EventBridge events).
    NotAlert(NotAlertReason),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAlertReason {
    #[error("SNS {kind} for topic {topic} (not an alert; confirm e-mail subscriptions in the AWS console)")]
    SnsControl { kind: String, topic: String },
    #[error("EventBridge event of detail-type {0:?} is not a CloudTrail API call")]
    OtherEventBridge(String),
    /// The scheduled event of the `iam-alarm-heartbeat` rule: proof that EventBridge → SNS → SQS still carries
    /// events. `at` is its Unix time (0 when it has none).
    #[error("heartbeat")]
    Heartbeat { at: i64 },
}

/// The name of the scheduled rule whose events are heartbeats (`deploy/terraform` creates it).
pub const HEARTBEAT_RULE: &str = "iam-alarm-heartbeat";

/// Why a body can never become an alert. These messages belong in the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedBody {
    #[error("empty body")]
    Empty,
    #[error("body of {0} bytes exceeds the {MAX_BODY_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("not valid JSON: {0}")]
    NotJson(String),
    #[error("JSON {0} is not an object")]
    NotAnObject(&'static str),
    #[error("SNS notification has no string Message")]
    SnsWithoutMessage,
    #[error("SNS Message is not valid JSON: {0}")]
    SnsMessageNotJson(String),
    #[error("EventBridge event has no detail object")]
    EventBridgeWithoutDetail,
    #[error("not an SNS envelope, EventBridge event or CloudTrail record (keys: {0})")]
    UnknownShape(String),
}

/// Unwrap one SQS body. A leading UTF-8 byte-order mark is tolerated (some tools write one).
pub fn unwrap_body(body: &str) -> Result<Unwrapped, MalformedBody> {
    if body.len() > MAX_BODY_BYTES {
        return Err(MalformedBody::TooLarge(body.len()));
    }
    let body = body.strip_prefix('\u{FEFF}').unwrap_or(body);
    if body.trim().is_empty() {
        return Err(MalformedBody::Empty);
    }
    let value: Value =
        serde_json::from_str(body).map_err(|e| MalformedBody::NotJson(e.to_string()))?;
    let object = as_object(value)?;
    if is_sns(&object) {
        return unwrap_sns(object);
    }
    unwrap_inner(object)
}

/// An SNS envelope has a string `Type` and a `TopicArn` or `MessageId`.
fn is_sns(object: &Map<String, Value>) -> bool {
    object.get("Type").is_some_and(Value::is_string)
        && (object.contains_key("TopicArn") || object.contains_key("MessageId"))
}

fn unwrap_sns(envelope: Map<String, Value>) -> Result<Unwrapped, MalformedBody> {
    let text = |key: &str| envelope.get(key).and_then(Value::as_str);
    let kind = text("Type").unwrap_or_default();
    if kind != "Notification" {
        return Ok(Unwrapped::NotAlert(NotAlertReason::SnsControl {
            // Logged and kept as a dead-letter reason: one line, whatever the body says.
            kind: crate::text::plain_capped(kind, 100),
            topic: crate::text::plain_capped(text("TopicArn").unwrap_or("(unknown)"), 300),
        }));
    }
    let message = text("Message").ok_or(MalformedBody::SnsWithoutMessage)?;
    let value: Value = serde_json::from_str(message)
        .map_err(|e| MalformedBody::SnsMessageNotJson(e.to_string()))?;
    unwrap_inner(as_object(value)?)
}

/// An EventBridge event or a bare record (inside SNS or directly on the queue).
fn unwrap_inner(mut object: Map<String, Value>) -> Result<Unwrapped, MalformedBody> {
    if let Some(at) = heartbeat_time(&object) {
        return Ok(Unwrapped::NotAlert(NotAlertReason::Heartbeat { at }));
    }
    if object.contains_key("detail-type") || object.contains_key("detail") {
        let detail_type = object.get("detail-type").and_then(Value::as_str);
        let detail_type = detail_type.unwrap_or_default().to_owned();
        let Some(record @ Value::Object(_)) = object.remove("detail") else {
            return Err(MalformedBody::EventBridgeWithoutDetail);
        };
        if !names_itself(&record) {
            let other =
                NotAlertReason::OtherEventBridge(crate::text::plain_capped(&detail_type, 100));
            return Ok(Unwrapped::NotAlert(other));
        }
        return Ok(Unwrapped::Record(record));
    }
    let record = Value::Object(object);
    if names_itself(&record) {
        return Ok(Unwrapped::Record(record));
    }
    Err(unknown_shape(&record))
}

/// A scheduled event from the heartbeat rule (by its ARN in `resources`): its time, or 0 when it has none.
fn heartbeat_time(event: &Map<String, Value>) -> Option<i64> {
    let text = |key: &str| event.get(key).and_then(Value::as_str);
    if text("source") != Some("aws.events") || text("detail-type") != Some("Scheduled Event") {
        return None;
    }
    let from_rule = |arn: &Value| {
        arn.as_str()
            .and_then(|a| a.rsplit_once(":rule/"))
            .is_some_and(|(_, name)| name == HEARTBEAT_RULE)
    };
    let resources = event.get("resources").and_then(Value::as_array)?;
    if !resources.iter().any(from_rule) {
        return None;
    }
    let at = text("time")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(0, |t| t.timestamp());
    Some(at)
}

/// A CloudTrail record names its event and service.
fn names_itself(record: &Value) -> bool {
    crate::record::Record::new(record).is_some_and(|r| r.names_itself())
}

pub(crate) fn as_object(value: Value) -> Result<Map<String, Value>, MalformedBody> {
    match value {
        Value::Object(object) => Ok(object),
        Value::Null => Err(MalformedBody::NotAnObject("null")),
        Value::Bool(_) => Err(MalformedBody::NotAnObject("boolean")),
        Value::Number(_) => Err(MalformedBody::NotAnObject("number")),
        Value::String(_) => Err(MalformedBody::NotAnObject("string")),
        Value::Array(_) => Err(MalformedBody::NotAnObject("array")),
    }
}

/// A JSON object of no known shape, named by a few of its keys.
fn unknown_shape(object: &Value) -> MalformedBody {
    let mut keys: Vec<&str> = object
        .as_object()
        .map(|o| o.keys().map(String::as_str).take(8).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    MalformedBody::UnknownShape(crate::text::truncate(&keys.join(","), 200))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_body_says_about_itself_is_logged_on_one_line() {
        let body = serde_json::json!({"Type": "Subscription\nConfirmation forged=1", "TopicArn": "arn:x\r\nlevel=ERROR",
                                      "MessageId": "m"});
        let Ok(Unwrapped::NotAlert(reason)) = unwrap_body(&body.to_string()) else {
            panic!("an SNS control message");
        };
        let said = reason.to_string();
        assert!(!said.contains('\n') && !said.contains('\r'), "{said}");
        let event = serde_json::json!({"detail-type": "Scheduled\nEvent", "source": "x", "detail": {"a": 1}});
        let Ok(Unwrapped::NotAlert(reason)) = unwrap_body(&event.to_string()) else {
            panic!("another EventBridge event");
        };
        assert!(!reason.to_string().contains('\n'));
    }
}
