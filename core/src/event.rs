//! The CloudTrail record as a responder needs it: who did what to whom, from where, when, and did it work.
//!
//! Built from the lenient [`Record`] reader: CloudTrail records vary by event version, identity type and source,
//! and a field of an unexpected type must never make an alert disappear. Every field may be absent.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use std::fmt;

pub use crate::actor::{permission_set, Actor, IdentityKind};
pub use crate::details::{Detail, NEW_NAME};
pub use crate::target::Target;
pub use crate::user_agent::UserAgent;

use crate::envelope::{self, MalformedBody};
use crate::fingerprint;
use crate::record::Record;
use crate::severity::{self, Severity, Subject};
use crate::watch::Action;
use serde_json::Value;

/// One CloudTrail record, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// De-duplication key: the `eventID`, or a hash of the whole record when it has none.
    pub key: EventKey,
    pub event_id: Option<String>,
    pub event_name: String,
    pub event_source: String,
    /// The lifecycle action, when this is one of IAM's user-lifecycle calls.
    pub action: Option<Action>,
    /// When it happened; only a time Discord can show (years 1970 to 9999).
    pub time: Option<DateTime<Utc>>,
    /// The record's `eventTime` when it is present but not such a time (shown as text, never as a timestamp).
    pub invalid_time: Option<String>,
    pub actor: Actor,
    pub target: Option<Target>,
    pub outcome: Outcome,
    pub origin: Option<Origin>,
    pub user_agent: Option<UserAgent>,
    pub mfa: Option<bool>,
    pub account: Option<String>,
    /// The account's name (`ACCOUNT_NAMES`, Organizations), set by whoever knows it: "prod (111122223333)".
    pub account_name: Option<String>,
    pub region: Option<String>,
    /// Action-specific facts (policy, group, access key, …), in display order.
    pub details: Vec<Detail>,
    /// How urgent, by the table in `severity` (rules may change it), and why in a few words.
    pub severity: Severity,
    pub severity_reason: &'static str,
    /// Whether a severe alert may mention the responder role (a rule may say no).
    pub mention: bool,
    /// The pipeline call this is (trail stopped, rule disabled, queue purged, …), if it is one.
    pub tamper: Option<crate::tamper::Tamper>,
}

/// The de-duplication key of an event (`eventID`, or `h-` and a hash of the record).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(String);

impl EventKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuild a key read back from a message we posted (footer, custom_id).
    pub fn from_posted(s: &str) -> Option<EventKey> {
        let s = s.trim();
        (!s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control))
            .then(|| EventKey(s.to_owned()))
    }

    /// The `eventID`, or `h-` and the record's fingerprint (SNS and SQS deliver at least once; a record
    /// without an id still needs a stable key for de-duplication).
    fn for_record(record: &Record<'_>) -> EventKey {
        record
            .text("/eventID")
            .and_then(EventKey::from_posted)
            .unwrap_or_else(|| {
                EventKey(format!(
                    "h-{}",
                    hex::encode(fingerprint::of_value(record.value()))
                ))
            })
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    Failure {
        code: String,
        message: Option<String>,
    },
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failure { .. })
    }
}

/// `sourceIPAddress`: an address, or the name of the service that made the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    Address(String),
    Service(String),
}

impl Event {
    /// Name the event's account with `name_of` (it keeps its id either way).
    pub fn name_account(&mut self, name_of: impl FnOnce(&str) -> Option<String>) {
        self.account_name = self.account.as_deref().and_then(name_of);
    }

    /// "prod (111122223333)", the id alone, or `None` when the record names no account.
    pub fn account_label(&self) -> Option<String> {
        let id = self.account.as_deref()?;
        Some(crate::accounts::label(self.account_name.as_deref(), id))
    }

    /// Resolve a record given as JSON text: infallible for any JSON object, since every field may be absent or
    /// of the wrong type.
    pub fn from_json(text: &str) -> Result<Event, MalformedBody> {
        let value =
            serde_json::from_str(text).map_err(|e| MalformedBody::NotJson(e.to_string()))?;
        let record = Value::Object(envelope::as_object(value)?);
        Ok(Event::from_record(
            &Record::new(&record).expect("an object"),
        ))
    }

    /// Resolve a record: infallible, since every field may be absent or of the wrong type.
    pub fn from_record(record: &Record<'_>) -> Event {
        let owned = |pointer: &str| record.text(pointer).map(str::to_owned);
        let event_name = owned("/eventName").unwrap_or_default();
        let event_source = owned("/eventSource").unwrap_or_default();
        let action = Action::of_record(&event_source, &event_name);
        let actor = crate::actor::resolve(record);
        let target = crate::target::resolve(record, &actor, action);
        let outcome = resolve_outcome(record);
        let user_agent = record.text("/userAgent").and_then(UserAgent::parse);
        let account = owned("/recipientAccountId").or_else(|| owned("/userIdentity/accountId"));
        let tamper = crate::tamper::of(record);
        // Assessed from the resolved parts, before the event is put together: the table reads no event.
        let (severity, severity_reason) = severity::assess(&Subject {
            record,
            action,
            actor: &actor,
            target: target.as_ref(),
            failed: outcome.is_failure(),
            account: account.as_deref(),
            user_agent: user_agent.as_ref(),
            tamper: tamper.is_some(),
        });
        let event_time = record.text("/eventTime");
        Event {
            key: EventKey::for_record(record),
            event_id: owned("/eventID"),
            time: event_time.and_then(parse_time),
            invalid_time: event_time
                .filter(|t| parse_time(t).is_none())
                .map(str::to_owned),
            outcome,
            origin: record.text("/sourceIPAddress").and_then(Origin::parse),
            user_agent,
            mfa: resolve_mfa(record),
            account,
            account_name: None,
            region: owned("/awsRegion"),
            details: crate::details::resolve(record, action),
            event_name,
            event_source,
            action,
            actor,
            target,
            severity,
            severity_reason,
            mention: true,
            tamper,
        }
    }
}

/// A time Discord can show: years 1970 to 9999 (Discord refuses other embed timestamps, and `<t:…>` of a
/// negative or huge number renders as nonsense).
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            // Tolerate the space-separated form some log pipelines normalise to.
            ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                .map(|t| t.and_utc())
        })?;
    (1970..=9999).contains(&parsed.year()).then_some(parsed)
}

fn resolve_outcome(record: &Record<'_>) -> Outcome {
    let message = || record.text("/errorMessage").map(str::to_owned);
    if let Some(code) = record.text("/errorCode") {
        return Outcome::Failure {
            code: code.to_owned(),
            message: message(),
        };
    }
    // Console sign-in reports failure in the response instead of an errorCode.
    if record.text("/responseElements/ConsoleLogin") == Some("Failure") {
        return Outcome::Failure {
            code: "Failure".to_owned(),
            message: message(),
        };
    }
    Outcome::Success
}

fn resolve_mfa(record: &Record<'_>) -> Option<bool> {
    let attr = record
        .text("/userIdentity/sessionContext/attributes/mfaAuthenticated")
        .or_else(|| record.text("/additionalEventData/MFAUsed"))?;
    match attr.to_ascii_lowercase().as_str() {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => None,
    }
}

impl Origin {
    fn parse(s: &str) -> Option<Origin> {
        // Anonymised logs carry addresses like "075.050.255.67" that std's parser rejects: judge by alphabet.
        let looks_like_address = s.parse::<std::net::IpAddr>().is_ok()
            || (s.contains('.') && s.chars().all(|c| c.is_ascii_digit() || c == '.'))
            || (s.contains(':')
                && s.chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.'));
        Some(if looks_like_address {
            Origin::Address(s.to_owned())
        } else {
            Origin::Service(s.to_owned())
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Origin::Address(s) | Origin::Service(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn a_record_without_event_id_that_cannot_be_fingerprinted_is_malformed_never_a_shared_key() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let record = format!(
            r#"{{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","x":{deep},"requestParameters":{{"userName":"a"}}}}"#
        );
        match crate::classify(&record, &crate::WatchedEvents::all()) {
            Err(crate::Rejection::Malformed(_)) => {}
            other => panic!("expected malformed, got {other:?}"),
        }
        let key = |user: &str| {
            let r = json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
                           "requestParameters": {"userName": user}});
            event(r).key
        };
        assert_ne!(key("a"), key("b"));
        assert!(key("a").as_str().starts_with("h-"));
        assert_ne!(key("a").as_str(), format!("h-{}", "0".repeat(32)));
    }

    #[test]
    fn a_roots_own_access_key_targets_the_root_user_and_says_so() {
        let e = event(
            json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "eventID": "k",
            "userIdentity": {"type": "Root", "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"},
            "responseElements": {"accessKey": {"accessKeyId": "AKIAROOT", "status": "Active"}}}),
        );
        let t = e.target.as_ref().unwrap();
        assert!(t.is_caller);
        assert_eq!(
            crate::render::headline(&e),
            format!(
                "{}: the account's root user",
                Action::CreateAccessKey.headline()
            )
        );
    }

    #[test]
    fn a_denied_call_names_its_target_from_the_error_message() {
        for (message, user) in [
            ("User: arn:aws:iam::1:user/x is not authorized to perform: iam:CreateUser on resource: user ceo because no identity-based policy allows it", "ceo"),
            ("… on resource: arn:aws:iam::123456789012:user/ops/backup-admin because …", "backup-admin"),
        ] {
            let e = event(json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventID": "d",
                "userIdentity": {"type": "IAMUser", "userName": "x"}, "errorCode": "AccessDenied",
                "errorMessage": message, "requestParameters": null}));
            assert_eq!(e.target.map(|t| t.user_name).as_deref(), Some(user), "{message}");
        }
    }

    fn event(v: Value) -> Event {
        Event::from_json(&v.to_string()).unwrap()
    }

    #[test]
    fn identity_center_session_reads_as_person_via_permission_set() {
        let e = event(json!({"userIdentity": {"type": "AssumedRole",
            "arn": "arn:aws:sts::1:assumed-role/AWSReservedSSO_AdministratorAccess_0123abcd/alice@example.com",
            "sessionContext": {"sessionIssuer": {"userName": "AWSReservedSSO_AdministratorAccess_0123abcd"}}}}));
        assert_eq!(e.actor.kind, IdentityKind::IdentityCenter);
        assert_eq!(
            e.actor.display(),
            "alice@example.com via AdministratorAccess"
        );
        assert_eq!(e.actor.lookup_name.as_deref(), Some("alice@example.com"));
    }

    #[test]
    fn unknown_identity_types_fall_back_to_best_id() {
        let e = event(json!({"userIdentity": {"type": "Quantum", "principalId": "AIDAX"}}));
        assert_eq!(e.actor.name, "AIDAX");
        assert_eq!(e.actor.kind.label(), "Quantum");
        let e = event(json!({}));
        assert_eq!(e.actor.name, "unknown identity");
        let e = event(json!({"userIdentity": "not an object", "eventTime": 5}));
        assert_eq!(e.actor.name, "unknown identity");
        assert!(e.time.is_none());
    }

    #[test]
    fn times_with_and_without_millis() {
        let t = parse_time("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(t.timestamp(), 1704164645);
        assert_eq!(
            parse_time("2024-01-02T03:04:05.123Z").unwrap().timestamp(),
            1704164645
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn only_json_objects_are_records() {
        assert!(Event::from_json("[]").is_err());
        assert!(Event::from_json("not json").is_err());
        assert!(Event::from_json("{}").is_ok());
    }

    #[test]
    fn hash_key_is_stable_and_distinct() {
        let a = event(json!({"eventName": "CreateUser", "x": 1}));
        let b = event(json!({"x": 1, "eventName": "CreateUser"}));
        let c = event(json!({"eventName": "CreateUser", "x": 2}));
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
        assert!(a.key.as_str().starts_with("h-"));
    }
}
