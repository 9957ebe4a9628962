//! The CloudTrail record as a responder needs it: who did what to whom, from where, when, and did it work.
//!
//! Built from the lenient [`Record`] reader: CloudTrail records vary by event version, identity type and source,
//! and a field of an unexpected type must never make an alert disappear. Every field may be absent.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use std::fmt;

use crate::envelope::{self, MalformedBody};
use crate::fingerprint;
use crate::record::Record;
use crate::severity::Severity;
use crate::text::concat;
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
                EventKey(format!("h-{}", hex(&fingerprint::of_value(record.value()))))
            })
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Who made the call.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub kind: IdentityKind,
    /// The person or tool, as a responder would name it. Never empty.
    pub name: String,
    /// Through what: the role, the IAM Identity Center permission set, the federating user, the identity provider.
    pub via: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub access_key_id: Option<String>,
    /// The AWS service that made the call on the actor's behalf (`userIdentity.invokedBy`).
    pub invoked_by: Option<String>,
    /// The name CloudTrail's `Username` lookup attribute finds this actor by.
    pub lookup_name: Option<String>,
}

impl Actor {
    /// "alice@example.com via AdministratorAccess", "deploy (role ci-runner)", "root".
    pub fn display(&self) -> String {
        match (&self.kind, &self.via) {
            (IdentityKind::IdentityCenter, Some(set)) => concat(&[&self.name, " via ", set]),
            (_, Some(via)) if *via != self.name => concat(&[&self.name, " via ", via]),
            _ => self.name.clone(),
        }
    }

    pub fn is_root(&self) -> bool {
        self.kind == IdentityKind::Root
    }
}

/// `userIdentity.type`, with IAM Identity Center sessions told apart from other assumed roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityKind {
    IamUser,
    AssumedRole,
    /// An `AssumedRole` session of an `AWSReservedSSO_*` role.
    IdentityCenter,
    Root,
    FederatedUser,
    AwsService,
    AwsAccount,
    SamlUser,
    WebIdentityUser,
    IdentityCenterUser,
    Other(String),
    Missing,
}

impl IdentityKind {
    fn parse(s: Option<&str>) -> IdentityKind {
        match s {
            Some("IAMUser") => IdentityKind::IamUser,
            Some("AssumedRole") => IdentityKind::AssumedRole,
            Some("Root") => IdentityKind::Root,
            Some("FederatedUser") => IdentityKind::FederatedUser,
            Some("AWSService") => IdentityKind::AwsService,
            Some("AWSAccount") => IdentityKind::AwsAccount,
            Some("SAMLUser") => IdentityKind::SamlUser,
            Some("WebIdentityUser") => IdentityKind::WebIdentityUser,
            Some("IdentityCenterUser") => IdentityKind::IdentityCenterUser,
            Some(other) if !other.trim().is_empty() => IdentityKind::Other(other.to_owned()),
            _ => IdentityKind::Missing,
        }
    }

    pub fn label(&self) -> &str {
        match self {
            IdentityKind::IamUser => "IAM user",
            IdentityKind::AssumedRole => "Assumed role",
            IdentityKind::IdentityCenter => "IAM Identity Center",
            IdentityKind::Root => "Root user",
            IdentityKind::FederatedUser => "Federated user",
            IdentityKind::AwsService => "AWS service",
            IdentityKind::AwsAccount => "Another AWS account",
            IdentityKind::SamlUser => "SAML user",
            IdentityKind::WebIdentityUser => "Web identity user",
            IdentityKind::IdentityCenterUser => "Identity Center user",
            IdentityKind::Other(s) => s,
            IdentityKind::Missing => "Unknown",
        }
    }
}

/// The IAM user the call was about.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub user_name: String,
    pub arn: Option<String>,
    pub user_id: Option<String>,
    /// The call named no user, so it acted on the caller itself.
    pub is_caller: bool,
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

#[derive(Debug, Clone, PartialEq)]
pub struct UserAgent {
    /// A short label: "AWS console", "AWS CLI", "Terraform", "Python SDK (boto3)", …
    pub label: &'static str,
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub label: &'static str,
    pub value: String,
    /// Shown as code (identifiers, ARNs) rather than as prose.
    pub code: bool,
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
        let actor = resolve_actor(record);
        let target = resolve_target(record, &actor, action);
        let event_time = record.text("/eventTime");
        let mut event = Event {
            key: EventKey::for_record(record),
            event_id: owned("/eventID"),
            time: event_time.and_then(parse_time),
            invalid_time: event_time
                .filter(|t| parse_time(t).is_none())
                .map(str::to_owned),
            outcome: resolve_outcome(record),
            origin: record.text("/sourceIPAddress").and_then(Origin::parse),
            user_agent: record.text("/userAgent").and_then(UserAgent::parse),
            mfa: resolve_mfa(record),
            account: owned("/recipientAccountId").or_else(|| owned("/userIdentity/accountId")),
            account_name: None,
            region: owned("/awsRegion"),
            details: resolve_details(record, action),
            event_name,
            event_source,
            action,
            actor,
            target,
            severity: Severity::Medium,
            severity_reason: "",
            mention: true,
            tamper: crate::tamper::of(record),
        };
        (event.severity, event.severity_reason) = crate::severity::assess(&event, record);
        event
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

// One match arm per CloudTrail identity type, read top to bottom like the documentation's table; split up, the
// per-type rules would scatter. (Longer than 60 lines for that reason.)
fn resolve_actor(record: &Record<'_>) -> Actor {
    let owned = |field: &str| {
        let pointer = format!("/userIdentity/{field}");
        record.text(&pointer).map(str::to_owned)
    };
    let kind = IdentityKind::parse(record.text("/userIdentity/type"));
    let arn = owned("arn");
    let principal = owned("principalId");
    let issuer = owned("sessionContext/sessionIssuer/userName");
    let user_name = owned("userName");
    let mut actor = Actor {
        kind: kind.clone(),
        name: String::new(),
        via: None,
        arn: arn.clone(),
        account_id: owned("accountId"),
        access_key_id: owned("accessKeyId"),
        invoked_by: owned("invokedBy"),
        lookup_name: None,
    };
    let arn_resource = arn.as_deref().and_then(arn_resource);

    match kind {
        IdentityKind::IamUser => {
            actor.name = user_name
                .clone()
                .or_else(|| {
                    arn_resource
                        .and_then(|r| r.strip_prefix("user/"))
                        .map(last_segment)
                })
                .unwrap_or_default();
            actor.lookup_name = Some(actor.name.clone()).filter(|n| !n.is_empty());
        }
        IdentityKind::AssumedRole => {
            // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
            let mut parts = arn_resource
                .and_then(|r| r.strip_prefix("assumed-role/"))
                .map(|r| r.splitn(2, '/'))
                .into_iter()
                .flatten();
            let arn_role = parts.next().map(str::to_owned);
            let session = parts
                .next()
                .map(str::to_owned)
                .or_else(|| {
                    principal
                        .as_deref()
                        .and_then(|p| p.split_once(':'))
                        .map(|(_, s)| s.to_owned())
                })
                .filter(|s| !s.is_empty());
            let role = issuer.or(arn_role);
            if let Some(set) = role.as_deref().and_then(permission_set) {
                actor.kind = IdentityKind::IdentityCenter;
                actor.via = Some(set);
            } else {
                actor.via = role.clone();
            }
            actor.lookup_name = session.clone();
            actor.name = session.or(role).unwrap_or_default();
        }
        IdentityKind::Root => {
            actor.name = "root".to_owned();
            actor.lookup_name = Some("root".to_owned());
        }
        IdentityKind::FederatedUser => {
            actor.name = arn_resource
                .and_then(|r| r.strip_prefix("federated-user/"))
                .map(str::to_owned)
                .or_else(|| {
                    principal
                        .as_deref()
                        .and_then(|p| p.split_once(':'))
                        .map(|(_, n)| n.to_owned())
                })
                .unwrap_or_default();
            actor.via = issuer;
            actor.lookup_name = Some(actor.name.clone()).filter(|n| !n.is_empty());
        }
        IdentityKind::AwsService => {
            actor.name = actor.invoked_by.clone().unwrap_or_default();
        }
        IdentityKind::AwsAccount => {
            actor.name = actor
                .account_id
                .as_ref()
                .map(|a| format!("account {a}"))
                .unwrap_or_default();
        }
        IdentityKind::SamlUser => {
            // The SAML identityProvider is an opaque hash: not worth showing.
            actor.name = user_name.clone().unwrap_or_default();
        }
        IdentityKind::WebIdentityUser => {
            actor.name = user_name.clone().unwrap_or_default();
            actor.via = owned("identityProvider");
        }
        IdentityKind::IdentityCenterUser => {
            actor.name = user_name
                .clone()
                .or_else(|| owned("onBehalfOf/userId"))
                .unwrap_or_default();
        }
        IdentityKind::IdentityCenter | IdentityKind::Other(_) | IdentityKind::Missing => {}
    }
    if actor.name.is_empty() {
        // Best available identifier, for unknown types and sparse records alike.
        actor.name = user_name
            .or_else(|| arn_resource.map(last_segment))
            .or(principal)
            .or_else(|| actor.invoked_by.clone())
            .or_else(|| actor.access_key_id.clone())
            .or_else(|| actor.account_id.clone().map(|a| format!("account {a}")))
            .unwrap_or_else(|| "unknown identity".to_owned());
    }
    actor
}

/// The resource part of an ARN: `arn:aws:iam::123:user/path/alice` → `user/path/alice`.
fn arn_resource(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next()? == "arn").then_some(())?;
    parts.nth(4).filter(|r| !r.is_empty())
}

fn last_segment(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).to_owned()
}

/// `AWSReservedSSO_<PermissionSet>_<hash>` → `<PermissionSet>` (permission-set names may contain `_`).
pub fn permission_set(role: &str) -> Option<String> {
    let rest = role.strip_prefix("AWSReservedSSO_")?;
    let set = match rest.rsplit_once('_') {
        Some((set, hash)) if !set.is_empty() && !hash.is_empty() => set,
        _ => rest,
    };
    (!set.is_empty()).then(|| set.to_owned())
}

/// How CloudTrail names the root user in a request the root user makes about itself (e.g. `EnableMFADevice`).
const ROOT_USER_NAME: &str = "AWS ROOT USER";

fn resolve_target(record: &Record<'_>, actor: &Actor, action: Option<Action>) -> Option<Target> {
    let requested = record.text("/requestParameters/userName");
    if actor.is_root() && requested == Some(ROOT_USER_NAME) {
        return Some(Target {
            user_name: actor.name.clone(),
            arn: actor.arn.clone(),
            user_id: None,
            is_caller: true,
        });
    }
    let named = requested
        .or_else(|| record.text("/responseElements/user/userName"))
        .or_else(|| record.text("/responseElements/accessKey/userName"))
        .or_else(|| record.text("/responseElements/loginProfile/userName"));
    let arn = record.text("/responseElements/user/arn").map(str::to_owned);
    let user_id = record
        .text("/responseElements/user/userId")
        .map(str::to_owned);
    if let Some(name) = named {
        // Named only in the response, and that is the caller: a self-service call.
        let is_caller =
            requested.is_none() && actor.kind == IdentityKind::IamUser && actor.name == name;
        return Some(Target {
            user_name: name.to_owned(),
            arn,
            user_id,
            is_caller,
        });
    }
    // Self-service calls (a user managing their own keys or password) name no user: the target is the caller.
    let self_service = matches!(
        action,
        Some(
            Action::CreateAccessKey
                | Action::DeleteAccessKey
                | Action::UpdateAccessKey
                | Action::CreateLoginProfile
                | Action::UpdateLoginProfile
                | Action::DeleteLoginProfile
                | Action::EnableMFADevice
                | Action::DeactivateMFADevice
                | Action::UploadSSHPublicKey
                | Action::UploadSigningCertificate
        )
    );
    let caller_is_a_user = actor.kind == IdentityKind::IamUser || actor.is_root();
    if self_service && caller_is_a_user {
        // The root user's own access key is the most dangerous credential an account can get: named as such.
        return Some(Target {
            user_name: actor.name.clone(),
            arn: actor.arn.clone(),
            user_id: None,
            is_caller: true,
        });
    }
    // A denied call without request parameters still says whom it aimed at in its error message.
    record
        .text("/errorMessage")
        .and_then(user_in_error_message)
        .map(|name| Target {
            user_name: name,
            arn: None,
            user_id: None,
            is_caller: false,
        })
}

/// The user an `AccessDenied` message names: "… on resource: user ceo …" or "… on resource: arn:…:user/path/ceo …".
fn user_in_error_message(message: &str) -> Option<String> {
    let resource = message.split("on resource: ").nth(1)?;
    let resource = resource.split(" because").next()?.split_whitespace();
    let words: Vec<&str> = resource.collect();
    let name = match words.as_slice() {
        ["user", name, ..] => *name,
        [arn, ..] => arn.rsplit_once(":user/")?.1.rsplit('/').next()?,
        [] => return None,
    };
    let name = name.trim_end_matches(['.', ',']);
    (!name.is_empty()).then(|| name.to_owned())
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

/// The label of an `UpdateUser`'s new name: the headline reads "old → new" from it.
pub const NEW_NAME: &str = "New name";

fn resolve_details(record: &Record<'_>, action: Option<Action>) -> Vec<Detail> {
    let mut out = Vec::new();
    let mut add = |label: &'static str, pointer: &str, code: bool| {
        if let Some(v) = record.text(pointer) {
            out.push(Detail {
                label,
                value: v.to_owned(),
                code,
            });
        }
    };
    match action {
        Some(Action::AttachUserPolicy | Action::DetachUserPolicy) => {
            add("Policy", "/requestParameters/policyArn", true)
        }
        Some(Action::PutUserPolicy | Action::DeleteUserPolicy) => {
            add("Inline policy", "/requestParameters/policyName", true)
        }
        Some(Action::AddUserToGroup | Action::RemoveUserFromGroup) => {
            add("Group", "/requestParameters/groupName", true)
        }
        Some(Action::CreateAccessKey) => add(
            "New access key",
            "/responseElements/accessKey/accessKeyId",
            true,
        ),
        Some(Action::DeleteAccessKey | Action::UpdateAccessKey) => {
            add("Access key", "/requestParameters/accessKeyId", true);
            add("New status", "/requestParameters/status", false);
        }
        Some(Action::CreateUser) => {
            add("User ARN", "/responseElements/user/arn", true);
            add("Path", "/requestParameters/path", true);
        }
        Some(Action::UpdateUser) => {
            add(NEW_NAME, "/requestParameters/newUserName", true);
            add("New path", "/requestParameters/newPath", true);
        }
        Some(
            Action::EnableMFADevice | Action::DeactivateMFADevice | Action::DeleteVirtualMFADevice,
        ) => add("MFA device", "/requestParameters/serialNumber", true),
        Some(Action::CreateServiceSpecificCredential) => {
            add("Service", "/requestParameters/serviceName", true);
            add(
                "Credential id",
                "/responseElements/serviceSpecificCredential/serviceSpecificCredentialId",
                true,
            );
        }
        Some(Action::UploadSSHPublicKey) => add(
            "SSH key id",
            "/responseElements/sSHPublicKey/sSHPublicKeyId",
            true,
        ),
        Some(Action::UploadSigningCertificate) => add(
            "Certificate id",
            "/responseElements/certificate/certificateId",
            true,
        ),
        Some(Action::PutUserPermissionsBoundary) => {
            add("Boundary", "/requestParameters/permissionsBoundary", true)
        }
        _ => {}
    }
    if let Some(reset) = record.flag("/requestParameters/passwordResetRequired") {
        out.push(Detail {
            label: "Password reset required",
            value: if reset { "yes" } else { "no" }.to_owned(),
            code: false,
        });
    }
    out
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

impl UserAgent {
    fn parse(raw: &str) -> Option<UserAgent> {
        Some(UserAgent {
            label: user_agent_label(raw),
            raw: raw.to_owned(),
        })
    }
}

/// Recognise the tool behind a user agent. Order matters: Terraform and the CLI embed SDK tokens.
fn user_agent_label(raw: &str) -> &'static str {
    let ua = raw.to_ascii_lowercase();
    let has = |needle: &str| ua.contains(needle);
    if ua == "aws internal" || ua.starts_with("aws-internal") {
        "AWS internal"
    } else if has("terraform") || has("hashicorp") {
        "Terraform"
    } else if has("pulumi") {
        "Pulumi"
    } else if has("aws-cdk") {
        "AWS CDK"
    } else if has("cloudformation.amazonaws.com") {
        "CloudFormation"
    } else if has("aws-cli/") {
        "AWS CLI"
    } else if has("console.amazonaws.com")
        || has("signin.amazonaws.com")
        || has("awsconsole")
        || has("console.aws.amazon.com")
    {
        "AWS console"
    } else if has("awspowershell") || has("aws-tools-for-powershell") {
        "AWS Tools for PowerShell"
    } else if has("boto3") || has("botocore") {
        "Python SDK (boto3)"
    } else if has("aws-sdk-go") {
        "Go SDK"
    } else if has("aws-sdk-java") {
        "Java SDK"
    } else if has("aws-sdk-js") || has("aws-sdk-nodejs") {
        "JavaScript SDK"
    } else if has("aws-sdk-rust") {
        "Rust SDK"
    } else if has("aws-sdk-dotnet") {
        ".NET SDK"
    } else if has("aws-sdk-ruby") {
        "Ruby SDK"
    } else if has("aws-sdk-php") {
        "PHP SDK"
    } else if ua.starts_with("mozilla/") {
        "Web browser"
    } else if ua.ends_with(".amazonaws.com") {
        "AWS service"
    } else {
        "Other"
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
    fn permission_sets_keep_underscores() {
        assert_eq!(
            permission_set("AWSReservedSSO_developer_admin_asdf").as_deref(),
            Some("developer_admin")
        );
        assert_eq!(
            permission_set("AWSReservedSSO_Admin").as_deref(),
            Some("Admin")
        );
        assert_eq!(permission_set("ci-runner"), None);
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
    fn user_agents_get_short_labels() {
        for (ua, label) in [
            ("aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64", "AWS CLI"),
            ("APN/1.0 HashiCorp/1.0 Terraform/1.7.0 (+https://www.terraform.io) terraform-provider-aws/5.31.0 aws-sdk-go-v2/1.24.0", "Terraform"),
            ("Boto3/1.34.0 md/Botocore#1.34.0 Python/3.12", "Python SDK (boto3)"),
            ("console.amazonaws.com", "AWS console"),
            ("AWS Internal", "AWS internal"),
            ("aws-sdk-go-v2/1.14.0 os/macos", "Go SDK"),
            ("curl/8", "Other"),
        ] {
            assert_eq!(user_agent_label(ua), label, "{ua}");
        }
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
