//! From an SQS message body to the CloudTrail record inside it (DESIGN §3).
//!
//! Accepted shapes: an SNS `Notification` envelope whose `Message` is the EventBridge event (or a record) as a
//! JSON string; the EventBridge event itself; a bare CloudTrail record. SNS subscription confirmations are
//! recognised and reported as "not an alert". Everything else is a typed error, never a panic: what we don't read
//! is skipped without recursion, and serde_json refuses nesting deeper than 128 levels where it builds values,
//! so hostile input cannot overflow the stack.
//!
//! Each layer is read in one pass that picks out only the keys telling the shapes apart; nothing else is built.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::record::Text;

/// Bodies larger than this are refused before parsing (SQS itself caps messages at 1 MiB).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What a queue message turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Unwrapped<'a> {
    /// A CloudTrail record (the object EventBridge carries in `detail`) as JSON text, and how it was wrapped.
    Record { text: Cow<'a, str>, via: Wrapping },
    /// A message that is valid but carries no CloudTrail record (SNS confirmations, other EventBridge events).
    NotAlert(NotAlertReason),
}

impl Unwrapped<'_> {
    fn into_owned(self) -> Unwrapped<'static> {
        match self {
            Unwrapped::Record { text, via } => Unwrapped::Record {
                text: Cow::Owned(text.into_owned()),
                via,
            },
            Unwrapped::NotAlert(reason) => Unwrapped::NotAlert(reason),
        }
    }
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
pub fn unwrap_body(body: &str) -> Result<Unwrapped<'_>, MalformedBody> {
    if body.len() > MAX_BODY_BYTES {
        return Err(MalformedBody::TooLarge(body.len()));
    }
    let body = body.strip_prefix('\u{FEFF}').unwrap_or(body);
    if body.trim().is_empty() {
        return Err(MalformedBody::Empty);
    }
    let shape = match read_shape(body) {
        Ok(shape) => shape,
        Err(Some(canonical)) => return unwrap_canonical(canonical, unwrap_body),
        Err(None) => return Err(not_an_envelope(body, MalformedBody::NotJson)),
    };
    if let Some(kind) = shape.sns_type.raw() {
        if shape.topic_arn.is_seen() || shape.message_id.is_seen() {
            return unwrap_sns(kind, &shape);
        }
    }
    unwrap_inner(body, &shape, false)
}

fn unwrap_sns(kind: &str, envelope: &Shape<'_>) -> Result<Unwrapped<'static>, MalformedBody> {
    if kind != "Notification" {
        return Ok(Unwrapped::NotAlert(NotAlertReason::SnsControl {
            kind: kind.to_owned(),
            topic: envelope.topic_arn.text().unwrap_or("(unknown)").to_owned(),
        }));
    }
    let message = envelope
        .message
        .raw()
        .ok_or(MalformedBody::SnsWithoutMessage)?;
    let unwrapped = match read_shape(message) {
        Ok(shape) => unwrap_inner(message, &shape, true),
        Err(Some(canonical)) => unwrap_canonical(canonical, |m| {
            let shape = read_shape(m).map_err(|_| MalformedBody::SnsWithoutMessage)?;
            unwrap_inner(m, &shape, true)
        }),
        Err(None) => Err(not_an_envelope(message, MalformedBody::SnsMessageNotJson)),
    };
    unwrapped.map(Unwrapped::into_owned)
}

/// An EventBridge event or a bare record (inside SNS or directly on the queue).
fn unwrap_inner<'a>(
    text: &'a str,
    shape: &Shape<'a>,
    in_sns: bool,
) -> Result<Unwrapped<'a>, MalformedBody> {
    if shape.detail_type.is_seen() || shape.detail.is_seen() {
        let detail_type = shape.detail_type.text().unwrap_or("").to_owned();
        let Some(detail) = shape.detail.object() else {
            return Err(MalformedBody::EventBridgeWithoutDetail);
        };
        if !is_record(detail) {
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
            text: Cow::Borrowed(detail),
            via,
        });
    }
    if shape.event_name.raw().is_some() && shape.event_source.raw().is_some() {
        let via = if in_sns {
            Wrapping::SnsRecord
        } else {
            Wrapping::Bare
        };
        return Ok(Unwrapped::Record {
            text: Cow::Borrowed(text),
            via,
        });
    }
    Err(unknown_shape(text))
}

/// The keys that tell the shapes apart, read in one pass: the rest is skipped unbuilt, `detail` kept as text.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Shape<'a> {
    #[serde(rename = "Type", borrow)]
    sns_type: Text<'a>,
    #[serde(rename = "TopicArn", borrow)]
    topic_arn: Seen<Text<'a>>,
    #[serde(rename = "MessageId")]
    message_id: Seen<IgnoredAny>,
    #[serde(rename = "Message", borrow)]
    message: Text<'a>,
    #[serde(rename = "detail-type", borrow)]
    detail_type: Seen<Text<'a>>,
    #[serde(borrow)]
    detail: Seen<&'a RawValue>,
    #[serde(rename = "eventName", borrow)]
    event_name: Text<'a>,
    #[serde(rename = "eventSource", borrow)]
    event_source: Text<'a>,
}

/// A key that was present, whatever its value.
#[derive(Debug)]
struct Seen<T>(Option<T>);

impl<T> Default for Seen<T> {
    fn default() -> Self {
        Seen(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Seen<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(|value| Seen(Some(value)))
    }
}

impl<T> Seen<T> {
    fn is_seen(&self) -> bool {
        self.0.is_some()
    }
}

impl Seen<Text<'_>> {
    fn text(&self) -> Option<&str> {
        self.0.as_ref().and_then(Text::raw)
    }
}

impl<'a> Seen<&'a RawValue> {
    /// The value's JSON text, when it is an object.
    fn object(&self) -> Option<&'a str> {
        self.0.map(RawValue::get).filter(|t| t.starts_with('{'))
    }
}

/// Read the shape of a JSON object. `Err(None)`: not a JSON object (or not JSON); `Err(Some(text))`: a valid
/// object the one-pass reader refused (a repeated key), re-written canonically (the last value of a key wins).
fn read_shape(text: &str) -> Result<Shape<'_>, Option<String>> {
    if !text.trim_start().starts_with('{') {
        return Err(None);
    }
    serde_json::from_str(text).map_err(|_| match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => serde_json::to_string(&map).ok(),
        _ => None,
    })
}

/// Unwrap the canonical form of an object with repeated keys, owning the result.
fn unwrap_canonical(
    canonical: String,
    unwrap: impl for<'t> FnOnce(&'t str) -> Result<Unwrapped<'t>, MalformedBody>,
) -> Result<Unwrapped<'static>, MalformedBody> {
    unwrap(&canonical).map(Unwrapped::into_owned)
}

/// Why `text` is no envelope: not JSON (`not_json` wraps the parser's message), or JSON of another type.
fn not_an_envelope(text: &str, not_json: fn(String) -> MalformedBody) -> MalformedBody {
    match serde_json::from_str::<Value>(text) {
        Err(e) => not_json(e.to_string()),
        Ok(Value::Null) => MalformedBody::NotAnObject("null"),
        Ok(Value::Bool(_)) => MalformedBody::NotAnObject("boolean"),
        Ok(Value::Number(_)) => MalformedBody::NotAnObject("number"),
        Ok(Value::String(_)) => MalformedBody::NotAnObject("string"),
        Ok(Value::Array(_)) => MalformedBody::NotAnObject("array"),
        Ok(Value::Object(_)) => MalformedBody::UnknownShape(String::new()),
    }
}

/// A JSON object of no known shape, named by a few of its keys.
fn unknown_shape(text: &str) -> MalformedBody {
    let object: Map<String, Value> = match serde_json::from_str(text) {
        Ok(object) => object,
        Err(e) => return MalformedBody::NotJson(e.to_string()),
    };
    let mut keys: Vec<&str> = object.keys().map(String::as_str).take(8).collect();
    keys.sort_unstable();
    let keys = crate::text::truncate(&keys.join(","), 200);
    MalformedBody::UnknownShape(keys)
}

/// A CloudTrail record names its event and service.
fn is_record(object: &str) -> bool {
    #[derive(Deserialize)]
    struct Names<'a> {
        #[serde(rename = "eventName", borrow, default)]
        event_name: Text<'a>,
        #[serde(rename = "eventSource", borrow, default)]
        event_source: Text<'a>,
    }
    match serde_json::from_str::<Names>(object) {
        Ok(n) => n.event_name.raw().is_some() && n.event_source.raw().is_some(),
        // A repeated key: judge by its last value, as reading the whole record does.
        Err(_) => serde_json::from_str::<Value>(object)
            .is_ok_and(|v| v["eventName"].is_string() && v["eventSource"].is_string()),
    }
}
