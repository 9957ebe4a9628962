//! How urgent an event is: `low`, `medium`, `high`, `critical`, decided by one documented table (the README's
//! "Severity" section mirrors it), and shown as a word in every alert and digest.

use std::fmt;

use serde_json::Value;

use crate::actor::{Actor, IdentityKind};
use crate::record::Record;
use crate::target::Target;
use crate::user_agent::UserAgent;
use crate::watch::Action;

/// Lowest to highest; the order is the ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Only by a rule: something a team decided is routine.
    Low,
    /// Every other watched change.
    Medium,
    /// A credential for someone else, administrator rights, a console-created user, an outsider's attempt.
    High,
    /// The root user acts, or the alert pipeline itself is changed.
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn word(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Not one of `low`, `medium`, `high`, `critical`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a severity (low, medium, high, critical)")]
pub struct UnknownSeverity(pub String);

impl std::str::FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.word() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| UnknownSeverity(s.to_owned()))
    }
}

/// AWS managed policies that make a user an administrator.
const ADMIN_POLICIES: [&str; 2] = [":policy/AdministratorAccess", ":policy/IAMFullAccess"];

/// What the table looks at: the resolved parts of one record.
pub struct Subject<'a> {
    pub record: &'a Record<'a>,
    pub action: Option<Action>,
    pub actor: &'a Actor,
    pub target: Option<&'a Target>,
    pub failed: bool,
    /// The account that recorded the event.
    pub account: Option<&'a str>,
    pub user_agent: Option<&'a UserAgent>,
    /// A call that can switch the alarm off.
    pub tamper: bool,
}

/// The table: the first line that holds decides. Returns the level and why, in words a responder reads.
pub fn assess(event: &Subject<'_>) -> (Severity, &'static str) {
    let record = event.record;
    if event.tamper {
        return (Severity::Critical, "a change to the alert pipeline itself");
    }
    if event.actor.is_root() {
        return (Severity::Critical, "the account's root user acted");
    }
    if event.failed {
        return if from_outside(event) {
            (
                Severity::High,
                "a failed attempt by a principal outside the account",
            )
        } else {
            (Severity::Medium, "a failed attempt")
        };
    }
    let for_someone_else = event
        .target
        .is_some_and(|t| !t.is_caller && t.user_name != event.actor.name);
    match event.action {
        Some(
            Action::CreateAccessKey
            | Action::UpdateAccessKey
            | Action::CreateLoginProfile
            | Action::UpdateLoginProfile
            | Action::CreateServiceSpecificCredential
            | Action::UploadSSHPublicKey
            | Action::UploadSigningCertificate,
        ) if for_someone_else => (
            Severity::High,
            "a credential created or changed for another user",
        ),
        Some(Action::AttachUserPolicy) if admin_policy(record) => {
            (Severity::High, "an administrator policy attached")
        }
        Some(Action::PutUserPolicy) if allows_everything(record) => {
            (Severity::High, "an inline policy allowing every action")
        }
        Some(
            Action::DeactivateMFADevice
            | Action::DeleteVirtualMFADevice
            | Action::DeleteUserPermissionsBoundary,
        ) => (
            Severity::High,
            "a safeguard removed (MFA or a permissions boundary)",
        ),
        Some(Action::CreateUser) if from_console(event) => {
            (Severity::High, "a user created from a console session")
        }
        _ => (Severity::Medium, "a watched change"),
    }
}

/// The caller's account is not the one that recorded the event.
fn from_outside(event: &Subject<'_>) -> bool {
    let caller = event.actor.account_id.as_deref();
    let recorded = event.account;
    matches!((caller, recorded), (Some(a), Some(b)) if a != b)
        || event.actor.kind == IdentityKind::AwsAccount
}

fn admin_policy(record: &Record<'_>) -> bool {
    record
        .text("/requestParameters/policyArn")
        .is_some_and(|arn| ADMIN_POLICIES.iter().any(|p| arn.ends_with(p)))
}

fn from_console(event: &Subject<'_>) -> bool {
    event.user_agent.is_some_and(|ua| ua.label == "AWS console")
}

/// An inline policy document (a JSON string in the record) with an `Allow` statement for `"Action": "*"`.
fn allows_everything(record: &Record<'_>) -> bool {
    let Some(text) = record.text("/requestParameters/policyDocument") else {
        return false;
    };
    let Ok(document) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let statements = match &document["Statement"] {
        Value::Array(list) => list.iter().collect(),
        one => vec![one],
    };
    statements.iter().any(|s| {
        let allows = s["Effect"].as_str() == Some("Allow");
        let star = |v: &Value| v.as_str() == Some("*");
        let every_action =
            star(&s["Action"]) || s["Action"].as_array().is_some_and(|a| a.iter().any(star));
        allows && every_action
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{classify, WatchedEvents};
    use serde_json::json;

    fn level(record: Value) -> Severity {
        classify(&record.to_string(), &WatchedEvents::all())
            .unwrap()
            .severity
    }

    fn record(name: &str, identity: Value, request: Value) -> Value {
        json!({"eventSource": "iam.amazonaws.com", "eventName": name, "eventID": "e",
               "recipientAccountId": "111122223333", "userIdentity": identity, "requestParameters": request})
    }

    fn alice() -> Value {
        json!({"type": "IAMUser", "userName": "alice", "accountId": "111122223333"})
    }

    #[test]
    fn the_table() {
        let root = json!({"type": "Root", "accountId": "111122223333"});
        assert_eq!(
            level(record("CreateUser", root, json!({"userName": "x"}))),
            Severity::Critical
        );
        assert_eq!(
            level(record("CreateUser", alice(), json!({"userName": "x"}))),
            Severity::Medium
        );
        let key_for_bob = record("CreateAccessKey", alice(), json!({"userName": "bob"}));
        assert_eq!(level(key_for_bob), Severity::High);
        let own_key = record("CreateAccessKey", alice(), json!({"userName": "alice"}));
        assert_eq!(level(own_key), Severity::Medium);
        let admin =
            json!({"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"});
        assert_eq!(
            level(record("AttachUserPolicy", alice(), admin)),
            Severity::High
        );
        let readonly =
            json!({"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"});
        assert_eq!(
            level(record("AttachUserPolicy", alice(), readonly)),
            Severity::Medium
        );
        let star = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        let inline =
            json!({"userName": "bob", "policyName": "p", "policyDocument": star.to_string()});
        assert_eq!(
            level(record("PutUserPolicy", alice(), inline)),
            Severity::High
        );
        let mut console = record("CreateUser", alice(), json!({"userName": "x"}));
        console["userAgent"] = json!("console.amazonaws.com");
        assert_eq!(level(console), Severity::High);
        let outsider = json!({"type": "AssumedRole", "accountId": "999999999999",
                              "arn": "arn:aws:sts::999999999999:assumed-role/r/s"});
        let mut probe = record("CreateUser", outsider, json!({"userName": "x"}));
        probe["errorCode"] = json!("AccessDenied");
        assert_eq!(level(probe), Severity::High);
        let mut failed = record("CreateUser", alice(), json!({"userName": "x"}));
        failed["errorCode"] = json!("AccessDenied");
        assert_eq!(level(failed), Severity::Medium);
    }

    #[test]
    fn words_round_trip() {
        for s in Severity::ALL {
            assert_eq!(s.word().parse::<Severity>(), Ok(s));
        }
        assert!("urgent".parse::<Severity>().is_err());
        assert!(Severity::Low < Severity::Critical);
    }
}
