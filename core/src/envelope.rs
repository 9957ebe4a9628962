//! From an SQS message body to the CloudTrail record inside it (DESIGN §3).
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
    /// A CloudTrail record (the object EventBridge carries in `detail`), and how it was wrapped.
    Record {
        record: Map<String, Value>,
        via: Wrapping,
    },
    /// A message that is valid but carries no CloudTrail record (SNS confirmations, other EventBridge events).
    NotAlert(NotAlertReason),
}

/// How the record was wrapped on the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    SnsEventBridge,
    SnsRecord,
    EventBridge,
    Bare,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAlertReason {
    #[error("SNS {kind} for topic {topic} (not an alert; confirm e-mail subscriptions in the AWS console)")]
    SnsControl { kind: String, topic: String },
    #[error("EventBridge event of detail-type {0:?} is not a CloudTrail API call")]
    OtherEventBridge(String),
}

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
    let object = into_object(value)?;

    if let Some(kind) = object
        .get("Type")
        .and_then(Value::as_str)
        .map(str::to_owned)
    {
        if object.contains_key("TopicArn") || object.contains_key("MessageId") {
            return unwrap_sns(&kind, object);
        }
    }
    unwrap_inner(object, false)
}

fn unwrap_sns(kind: &str, object: Map<String, Value>) -> Result<Unwrapped, MalformedBody> {
    match kind {
        "Notification" => {
            let message = object
                .get("Message")
                .and_then(Value::as_str)
                .ok_or(MalformedBody::SnsWithoutMessage)?;
            let inner: Value = serde_json::from_str(message)
                .map_err(|e| MalformedBody::SnsMessageNotJson(e.to_string()))?;
            unwrap_inner(into_object(inner)?, true)
        }
        other => Ok(Unwrapped::NotAlert(NotAlertReason::SnsControl {
            kind: other.to_owned(),
            topic: object
                .get("TopicArn")
                .and_then(Value::as_str)
                .unwrap_or("(unknown)")
                .to_owned(),
        })),
    }
}

/// An EventBridge event or a bare record (inside SNS or directly on the queue).
fn unwrap_inner(mut object: Map<String, Value>, in_sns: bool) -> Result<Unwrapped, MalformedBody> {
    if object.contains_key("detail-type") || object.contains_key("detail") {
        let detail_type = object
            .get("detail-type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let Some(Value::Object(detail)) = object.remove("detail") else {
            return Err(MalformedBody::EventBridgeWithoutDetail);
        };
        if !is_record(&detail) {
            return Ok(Unwrapped::NotAlert(NotAlertReason::OtherEventBridge(
                detail_type,
            )));
        }
        let via = if in_sns {
            Wrapping::SnsEventBridge
        } else {
            Wrapping::EventBridge
        };
        return Ok(Unwrapped::Record {
            record: detail,
            via,
        });
    }
    if is_record(&object) {
        let via = if in_sns {
            Wrapping::SnsRecord
        } else {
            Wrapping::Bare
        };
        return Ok(Unwrapped::Record {
            record: object,
            via,
        });
    }
    let mut keys: Vec<&str> = object.keys().map(String::as_str).take(8).collect();
    keys.sort_unstable();
    let keys = crate::text::truncate(&keys.join(","), 200);
    Err(MalformedBody::UnknownShape(keys))
}

/// A CloudTrail record names its event and service.
fn is_record(object: &Map<String, Value>) -> bool {
    object.get("eventName").is_some_and(Value::is_string)
        && object.get("eventSource").is_some_and(Value::is_string)
}

fn into_object(value: Value) -> Result<Map<String, Value>, MalformedBody> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Err(MalformedBody::NotAnObject("null")),
        Value::Bool(_) => Err(MalformedBody::NotAnObject("boolean")),
        Value::Number(_) => Err(MalformedBody::NotAnObject("number")),
        Value::String(_) => Err(MalformedBody::NotAnObject("string")),
        Value::Array(_) => Err(MalformedBody::NotAnObject("array")),
    }
}
