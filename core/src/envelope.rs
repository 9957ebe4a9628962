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
use serde_json::{Map, Value};

use crate::flat_json;
use crate::record::{IfObject, Record, Text};

/// Bodies larger than this are refused before parsing (SQS itself caps messages at 1 MiB).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What a queue message turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Unwrapped<T> {
    /// A CloudTrail record, as the reader given to [`unwrap_body`] made it, and how it was wrapped.
    Record { value: T, via: Wrapping },
    /// A message that is valid but carries no CloudTrail record (SNS confirmations, other EventBridge events).
    NotAlert(NotAlertReason),
}

/// The JSON text a record was read from, for what needs it again (the key of a record without an eventID).
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The record's own text.
    Record(&'a str),
    /// An EventBridge event's text, whose `detail` is the record.
    Detail(&'a str),
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
    #[error(
        "the record has no eventID and no fingerprint can be computed from it (too deeply nested?)"
    )]
    Unkeyable,
}

/// Unwrap one SQS body, handing the record to `read` (it borrows from the body, so it is read in place). A
/// leading UTF-8 byte-order mark is tolerated (some tools write one).
pub fn unwrap_body<T>(
    body: &str,
    read: impl FnOnce(&Record<'_>, Source<'_>) -> T,
) -> Result<Unwrapped<T>, MalformedBody> {
    if body.len() > MAX_BODY_BYTES {
        return Err(MalformedBody::TooLarge(body.len()));
    }
    let body = body.strip_prefix('\u{FEFF}').unwrap_or(body);
    if body.trim().is_empty() {
        return Err(MalformedBody::Empty);
    }
    if let Some(sns) = flat_sns(body) {
        return unwrap_sns(sns, read);
    }
    let shape = match read_shape(body) {
        Ok(shape) => shape,
        Err(Some(canonical)) => return unwrap_body(&canonical, read),
        Err(None) => return Err(not_an_envelope(body, MalformedBody::NotJson)),
    };
    if let Some(kind) = shape.sns_type.raw() {
        if shape.topic_arn.is_seen() || shape.message_id.is_seen() {
            let sns = Sns {
                kind: kind.into(),
                topic: shape.topic_arn.text().map(Into::into),
                message: shape.message.raw().map(Into::into),
            };
            return unwrap_sns(sns, read);
        }
    }
    unwrap_inner(body, shape, false, read)
}

/// What an SNS notification envelope says.
struct Sns<'a> {
    kind: Cow<'a, str>,
    topic: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
}

/// An SNS notification as AWS writes it — its own keys only, every value a string — read by the fast path;
/// `None` for anything else (the first other key ends it early), which the general reader then reads.
fn flat_sns(body: &str) -> Option<Sns<'_>> {
    let (mut kind, mut topic, mut message, mut message_id) = (None, None, None, false);
    // A repeated key's last value wins, as in the general reader.
    flat_json::for_each_member(body, |key, value| {
        match &*key {
            "Type" => kind = Some(value),
            "TopicArn" => topic = Some(value),
            "Message" => message = Some(value),
            "MessageId" => message_id = true,
            "Subject" | "Timestamp" | "SignatureVersion" | "Signature" | "SigningCertURL"
            | "SigningCertUrl" | "UnsubscribeURL" | "UnsubscribeUrl" => {}
            _ => return None,
        }
        Some(())
    })?;
    (topic.is_some() || message_id).then_some(Sns {
        kind: kind?,
        topic,
        message,
    })
}

fn unwrap_sns<T>(
    envelope: Sns<'_>,
    read: impl FnOnce(&Record<'_>, Source<'_>) -> T,
) -> Result<Unwrapped<T>, MalformedBody> {
    if envelope.kind != "Notification" {
        return Ok(Unwrapped::NotAlert(NotAlertReason::SnsControl {
            kind: envelope.kind.into_owned(),
            topic: envelope.topic.as_deref().unwrap_or("(unknown)").to_owned(),
        }));
    }
    let message = envelope.message.ok_or(MalformedBody::SnsWithoutMessage)?;
    let message = &*message;
    match read_shape(message) {
        Ok(shape) => unwrap_inner(message, shape, true, read),
        Err(Some(canonical)) => {
            let shape = read_shape(&canonical).map_err(|_| MalformedBody::SnsWithoutMessage)?;
            unwrap_inner(&canonical, shape, true, read)
        }
        Err(None) => Err(not_an_envelope(message, MalformedBody::SnsMessageNotJson)),
    }
}

/// An EventBridge event (its `detail` already read) or a bare record (inside SNS or directly on the queue).
fn unwrap_inner<T>(
    text: &str,
    shape: Shape<'_>,
    in_sns: bool,
    read: impl FnOnce(&Record<'_>, Source<'_>) -> T,
) -> Result<Unwrapped<T>, MalformedBody> {
    if shape.detail_type.is_seen() || shape.detail.is_seen() {
        let Some(IfObject(Some(record))) = &shape.detail.0 else {
            return Err(MalformedBody::EventBridgeWithoutDetail);
        };
        if !names_itself(record) {
            let detail_type = shape.detail_type.text().unwrap_or("").to_owned();
            return Ok(Unwrapped::NotAlert(NotAlertReason::OtherEventBridge(
                detail_type,
            )));
        }
        let via = if in_sns {
            Wrapping::SnsEventBridge
        } else {
            Wrapping::EventBridge
        };
        let value = read(record, Source::Detail(text));
        return Ok(Unwrapped::Record { value, via });
    }
    if shape.event_name.raw().is_some() && shape.event_source.raw().is_some() {
        let via = if in_sns {
            Wrapping::SnsRecord
        } else {
            Wrapping::Bare
        };
        // The shape pass skipped the record's fields; read them now.
        let value = read_record(text, read).ok_or_else(|| unknown_shape(text))?;
        return Ok(Unwrapped::Record { value, via });
    }
    Err(unknown_shape(text))
}

/// A CloudTrail record names its event and service.
fn names_itself(record: &Record<'_>) -> bool {
    record.event_name.raw().is_some() && record.event_source.raw().is_some()
}

/// The keys that tell the shapes apart, read in one pass; an EventBridge `detail` is read as the record in the
/// same pass, and everything else is skipped unbuilt.
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
    /// An EventBridge `detail`: an object is read as the record; anything else is no detail.
    #[serde(borrow)]
    detail: Seen<IfObject<Box<Record<'a>>>>,
    #[serde(rename = "eventName", borrow)]
    event_name: Text<'a>,
    #[serde(rename = "eventSource", borrow)]
    event_source: Text<'a>,
}

/// A key that was present, whatever its value.
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

/// Read the shape of a JSON object. `Err(None)`: not a JSON object (or not JSON); `Err(Some(text))`: a valid
/// object the one-pass reader refused (a repeated key), re-written canonically (the last value of a key wins).
fn read_shape(text: &str) -> Result<Shape<'_>, Option<String>> {
    if !text.trim_start().starts_with('{') {
        return Err(None);
    }
    serde_json::from_str(text).map_err(|_| canonical(text))
}

/// Read a record from its JSON text, handing it to `read`; `None` when the text is no JSON object.
pub(crate) fn read_record<T>(
    text: &str,
    read: impl FnOnce(&Record<'_>, Source<'_>) -> T,
) -> Option<T> {
    // The record type takes any value for any field, but a struct would also take an array: refuse that first.
    if !text.trim_start().starts_with('{') {
        return None;
    }
    match serde_json::from_str::<Record>(text) {
        Ok(record) => Some(read(&record, Source::Record(text))),
        // Valid JSON the one-pass reader refuses has a repeated key: read its canonical form.
        Err(_) => {
            let canonical = canonical(text)?;
            let record = serde_json::from_str::<Record>(&canonical).ok()?;
            Some(read(&record, Source::Record(&canonical)))
        }
    }
}

/// A JSON object re-written with each key once (its last value), as a full parse reads it.
fn canonical(text: &str) -> Option<String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => serde_json::to_string(&map).ok(),
        _ => None,
    }
}

/// Why `text` is no envelope: not JSON (`not_json` wraps the parser's message), or JSON of another type.
pub(crate) fn not_an_envelope(text: &str, not_json: fn(String) -> MalformedBody) -> MalformedBody {
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
