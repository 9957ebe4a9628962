//! Containment from Discord (`CONTAIN=on`): what a quarantine or a key's deactivation is, the buttons and modals
//! that ask for one, and the messages that record it — the request awaiting a second responder, and the result
//! with its Undo. Every message carries its facts in its footer (the bot's own words, read back), so approvals
//! and undo work after a restart, and the channel is the record of who asked, who approved, what was done and
//! undone.

use crate::event::{Event, IdentityKind};
use crate::message::{
    ActionRow, AllowedMentions, Button, ButtonStyle, CreateMessage, Embed, EmbedFooter,
    MessageReference, CUSTOM_ID_MAX,
};
use crate::text::{code_capped, escape_capped};
use crate::watch::Action;

/// The AWS managed policy a quarantine attaches: it denies what a stolen key is used for.
pub const QUARANTINE_POLICY: &str = "AWSCompromisedKeyQuarantineV3";

/// The quarantine policy's ARN in a partition.
pub fn quarantine_policy_arn(partition: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/{QUARANTINE_POLICY}")
}

/// What to do, to whom, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub action: Containment,
    /// `None`: the bot's own account.
    pub account: Option<String>,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Containment {
    /// Attach the quarantine policy; deactivate every active access key.
    Quarantine,
    /// Deactivate this one access key.
    DeactivateKey(String),
}

/// A button or modal of containment, by its `custom_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainId {
    /// On an alert: ask (opens the confirmation modal).
    Ask(Plan),
    /// The confirmation modal, submitted.
    Confirm(Plan),
    /// On a request: approve / cancel it (the request's footer says what).
    Approve,
    Cancel,
    /// On a result: undo it (opens the confirmation modal) / the modal, submitted.
    Undo,
    ConfirmUndo,
}

impl ContainId {
    pub fn encode(&self) -> String {
        match self {
            ContainId::Ask(plan) => encode_plan("c", plan),
            ContainId::Confirm(plan) => encode_plan("cm", plan),
            ContainId::Approve => "c-approve".to_owned(),
            ContainId::Cancel => "c-cancel".to_owned(),
            ContainId::Undo => "c-undo".to_owned(),
            ContainId::ConfirmUndo => "c-undo-confirm".to_owned(),
        }
    }

    pub fn parse(id: &str) -> Option<ContainId> {
        match id {
            "c-approve" => return Some(ContainId::Approve),
            "c-cancel" => return Some(ContainId::Cancel),
            "c-undo" => return Some(ContainId::Undo),
            "c-undo-confirm" => return Some(ContainId::ConfirmUndo),
            _ => {}
        }
        let (kind, rest) = id.split_once(':')?;
        let plan = parse_plan(rest)?;
        match kind {
            "c" => Some(ContainId::Ask(plan)),
            "cm" => Some(ContainId::Confirm(plan)),
            _ => None,
        }
    }
}

/// `<q|k>:<account|->:<key|->:<user>` after the kind.
fn encode_plan(kind: &str, plan: &Plan) -> String {
    let (action, key) = match &plan.action {
        Containment::Quarantine => ("q", "-"),
        Containment::DeactivateKey(k) => ("k", k.as_str()),
    };
    let account = plan.account.as_deref().unwrap_or("-");
    format!("{kind}:{action}:{account}:{key}:{}", plan.user)
}

fn parse_plan(text: &str) -> Option<Plan> {
    let mut parts = text.splitn(4, ':');
    let (action, account, key, user) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let account = match account {
        "-" => None,
        a if crate::accounts::is_account_id(a) => Some(a.to_owned()),
        _ => return None,
    };
    let action = match (action, key) {
        ("q", "-") => Containment::Quarantine,
        ("k", k) if is_access_key(k) => Containment::DeactivateKey(k.to_owned()),
        _ => return None,
    };
    is_user_name(user).then(|| Plan {
        action,
        account,
        user: user.to_owned(),
    })
}

/// IAM's user names: 1 to 64 of letters, digits and `+=,.@_-`.
pub fn is_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// An access key id: 16 to 128 upper-case letters and digits.
pub fn is_access_key(key: &str) -> bool {
    (16..=128).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// "AKIA…1234": enough to tell keys apart, not the whole id.
pub fn short_key(key: &str) -> String {
    let head: String = key.chars().take(4).collect();
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}…{tail}")
}

impl Plan {
    /// "Quarantine of `backdoor`" / "Deactivation of key `AKIA…1234` of `backdoor`".
    pub fn title(&self) -> String {
        let user = code_capped(&self.user, 70);
        match &self.action {
            Containment::Quarantine => format!("Quarantine of {user}"),
            Containment::DeactivateKey(k) => {
                format!(
                    "Deactivation of key {} of {user}",
                    code_capped(&short_key(k), 20)
                )
            }
        }
    }
}

/// The containment buttons an alert offers (a row of its own), when containment is on: **Quarantine…** for the
/// IAM user it is about — the target of a user change (not a deletion), else an IAM user actor — and
/// **Deactivate key** for the key a `CreateAccessKey` made. Never on a failed attempt with nothing to contain.
pub fn buttons(event: &Event) -> Option<ActionRow> {
    let account = event
        .account
        .clone()
        .filter(|a| crate::accounts::is_account_id(a));
    let target = event
        .target
        .as_ref()
        .filter(|_| event.action != Some(Action::DeleteUser) && !event.outcome.is_failure())
        .map(|t| t.user_name.clone())
        .filter(|t| !t.is_empty());
    let actor = (event.actor.kind == IdentityKind::IamUser).then(|| event.actor.name.clone());
    let user = target.or(actor).filter(|u| is_user_name(u))?;
    let plan = |action| Plan {
        action,
        account: account.clone(),
        user: user.clone(),
    };
    let mut row = Vec::new();
    let quarantine = ContainId::Ask(plan(Containment::Quarantine)).encode();
    if quarantine.len() <= CUSTOM_ID_MAX {
        row.push(Button::action(
            ButtonStyle::Danger,
            "Quarantine…",
            quarantine,
        ));
    }
    let new_key = event
        .details
        .iter()
        .find(|d| d.label == "New access key")
        .map(|d| d.value.clone())
        .filter(|k| is_access_key(k) && event.action == Some(Action::CreateAccessKey));
    if let Some(key) = new_key {
        let id = ContainId::Ask(plan(Containment::DeactivateKey(key))).encode();
        if id.len() <= CUSTOM_ID_MAX {
            row.push(Button::action(ButtonStyle::Danger, "Deactivate key…", id));
        }
    }
    (!row.is_empty()).then(|| ActionRow::new(row))
}

/// The footer of a request awaiting approval: "containment request · <plan> · by <requester>".
pub fn request_footer(plan: &Plan, requester: u64) -> String {
    format!(
        "{REQUEST_PREFIX}{} · by {requester}",
        encode_plan("c", plan)
    )
}

const REQUEST_PREFIX: &str = "containment request · ";
const RESULT_PREFIX: &str = "containment · ";

/// A request's plan and requester, from its footer.
pub fn parse_request(footer: &str) -> Option<(Plan, u64)> {
    let rest = footer.strip_prefix(REQUEST_PREFIX)?;
    let (plan, by) = rest.rsplit_once(" · by ")?;
    let plan = parse_plan(plan.strip_prefix("c:")?)?;
    Some((plan, by.parse().ok()?))
}

/// What a containment did, to be undone exactly: whether the policy was attached by it, and the keys it
/// deactivated (no others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub plan: Plan,
    pub attached: bool,
    pub deactivated: Vec<String>,
}

impl Done {
    /// "containment · c:q:…:backdoor · attached · keys AKIA1,AKIA2".
    pub fn footer(&self) -> String {
        let keys = if self.deactivated.is_empty() {
            "-".to_owned()
        } else {
            self.deactivated.join(",")
        };
        let attached = if self.attached { "attached" } else { "-" };
        format!(
            "{RESULT_PREFIX}{} · {attached} · keys {keys}",
            encode_plan("c", &self.plan)
        )
    }

    pub fn parse(footer: &str) -> Option<Done> {
        let rest = footer.strip_prefix(RESULT_PREFIX)?;
        let mut parts = rest.split(" · ");
        let plan = parse_plan(parts.next()?.strip_prefix("c:")?)?;
        let attached = parts.next()? == "attached";
        let keys = parts.next()?.strip_prefix("keys ")?;
        let deactivated = match keys {
            "-" => Vec::new(),
            k => k.split(',').map(str::to_owned).collect(),
        };
        deactivated
            .iter()
            .all(|k| is_access_key(k))
            .then_some(Done {
                plan,
                attached,
                deactivated,
            })
    }
}

/// One step of a containment or its undo, as the channel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Attached,
    AlreadyAttached,
    Deactivated(String),
    AlreadyInactive(String),
    Detached,
    Reactivated(String),
    /// A step that failed: what, and why (AWS's words).
    Failed {
        what: String,
        why: String,
    },
}

impl Step {
    pub fn line(&self) -> String {
        let key = |k: &str| code_capped(&short_key(k), 20);
        match self {
            Step::Attached => format!("✅ {QUARANTINE_POLICY} attached"),
            Step::AlreadyAttached => format!("➖ {QUARANTINE_POLICY} was already attached"),
            Step::Deactivated(k) => format!("✅ key {} deactivated", key(k)),
            Step::AlreadyInactive(k) => {
                format!("➖ key {} was already inactive: left as it was", key(k))
            }
            Step::Detached => format!("✅ {QUARANTINE_POLICY} detached"),
            Step::Reactivated(k) => format!("✅ key {} active again", key(k)),
            Step::Failed { what, why } => format!(
                "❌ {}: {}",
                escape_capped(what, 100),
                escape_capped(why, 300)
            ),
        }
    }

    pub fn failed(&self) -> bool {
        matches!(self, Step::Failed { .. })
    }
}

/// Whether a lifted quarantine (a tamper event) is the bot's own Undo: made by a session of one of the
/// containment roles (`role_names`) that the bot named `iam-alarm-<responder>`. Only the bot's role may assume
/// those roles, so nobody else can make such a session.
pub fn is_own_undo(event: &Event, role_names: &[String]) -> bool {
    let lifted = event.tamper.is_some() && event.event_name == "DetachUserPolicy";
    let session = event
        .actor
        .arn
        .as_deref()
        .and_then(|arn| arn.split_once(":assumed-role/"))
        .map(|(_, rest)| rest);
    lifted
        && session.is_some_and(|s| {
            role_names
                .iter()
                .any(|role| s.starts_with(&format!("{role}/iam-alarm-")))
        })
}

/// The request under the alert: who asks, why, until when another responder may approve it.
pub fn request_message(
    plan: &Plan,
    account: &str,
    requester: u64,
    reason: &str,
    until: i64,
    alert: &str,
) -> CreateMessage {
    let description = format!(
        "Requested by <@{requester}>: {}\nAnother responder must **Approve** it, by <t:{until}:t> (<t:{until}:R>).",
        escape_capped(reason, 200)
    );
    let buttons = vec![
        Button::action(ButtonStyle::Danger, "Approve", ContainId::Approve.encode()),
        Button::action(ButtonStyle::Secondary, "Cancel", ContainId::Cancel.encode()),
    ];
    under(
        alert,
        format!(
            "🔒 {} in {} requested",
            plan.title(),
            escape_capped(account, 80)
        ),
        description,
        request_footer(plan, requester),
        Some(ActionRow::new(buttons)),
    )
}

/// What a containment did, under the alert: who asked (and approved), why, each step, and Undo when there is
/// something to undo.
pub struct Outcome<'a> {
    pub plan: &'a Plan,
    pub account: &'a str,
    pub requester: u64,
    pub approver: Option<u64>,
    /// Why, as Markdown already escaped (as the request showed it, or as typed and escaped once).
    pub reason: &'a str,
    pub steps: &'a [Step],
    pub done: &'a Done,
    pub already: bool,
}

pub fn result_message(outcome: &Outcome<'_>, alert: &str) -> CreateMessage {
    let who = match outcome.approver {
        Some(a) => format!("Requested by <@{}>, approved by <@{a}>", outcome.requester),
        None => format!("By <@{}>", outcome.requester),
    };
    let mut lines = vec![format!(
        "{who}: {}",
        crate::text::truncate(outcome.reason, 300)
    )];
    lines.extend(outcome.steps.iter().map(Step::line));
    if outcome.already {
        lines.push("Already in place: nothing repeated.".to_owned());
    }
    if outcome.steps.iter().any(Step::failed) {
        lines.push("Stopped at the failed step; what is listed above it was done.".to_owned());
    }
    let something_done = outcome.done.attached || !outcome.done.deactivated.is_empty();
    let undo = ActionRow::new(vec![Button::action(
        ButtonStyle::Secondary,
        "Undo…",
        ContainId::Undo.encode(),
    )]);
    under(
        alert,
        format!(
            "🔒 {} in {}",
            outcome.plan.title(),
            escape_capped(outcome.account, 80)
        ),
        lines.join("\n"),
        outcome.done.footer(),
        something_done.then_some(undo),
    )
}

/// A reply under the alert: one embed, its facts in the footer, pinging nobody.
fn under(
    alert: &str,
    title: String,
    description: String,
    footer: String,
    buttons: Option<ActionRow>,
) -> CreateMessage {
    CreateMessage {
        embeds: vec![Embed {
            title: Some(title),
            description: Some(crate::text::truncate(&description, 4000)),
            color: Some(crate::render::colour::DESTRUCTIVE),
            footer: Some(EmbedFooter { text: footer }),
            ..Embed::default()
        }],
        components: buttons.into_iter().collect(),
        allowed_mentions: AllowedMentions::default(),
        message_reference: Some(MessageReference {
            message_id: alert.to_owned(),
            fail_if_not_exists: false,
        }),
        ..CreateMessage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(action: Containment) -> Plan {
        Plan {
            action,
            account: Some("111122223333".into()),
            user: "backdoor".into(),
        }
    }

    #[test]
    fn ids_and_footers_round_trip() {
        for id in [
            ContainId::Ask(plan(Containment::Quarantine)),
            ContainId::Confirm(plan(Containment::DeactivateKey(
                "AKIAEXAMPLEKEY000001".into(),
            ))),
            ContainId::Approve,
            ContainId::Cancel,
            ContainId::Undo,
            ContainId::ConfirmUndo,
        ] {
            assert_eq!(ContainId::parse(&id.encode()), Some(id));
        }
        assert_eq!(ContainId::parse("c:q:-:-:back door"), None);
        assert_eq!(ContainId::parse("c:k:-:akia:bob"), None);
        let p = plan(Containment::Quarantine);
        assert_eq!(
            parse_request(&request_footer(&p, 42)),
            Some((p.clone(), 42))
        );
        let done = Done {
            plan: p,
            attached: true,
            deactivated: vec!["AKIAEXAMPLEKEY000001".into(), "AKIAEXAMPLEKEY000002".into()],
        };
        assert_eq!(Done::parse(&done.footer()), Some(done));
    }

    #[test]
    fn only_the_containment_role_s_own_sessions_lift_a_quarantine_quietly() {
        let lifted = |arn: &str| {
            let record = serde_json::json!({
                "eventSource": "iam.amazonaws.com", "eventName": "DetachUserPolicy", "eventID": "e-1",
                "userIdentity": {"type": "AssumedRole", "arn": arn},
                "requestParameters": {"userName": "backdoor",
                                      "policyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"}
            });
            Event::from_json(&record.to_string()).unwrap()
        };
        let roles = ["iam-alarm-contain".to_owned()];
        let undo = lifted(
            "arn:aws:sts::111122223333:assumed-role/iam-alarm-contain/iam-alarm-500000000000000002",
        );
        assert!(
            undo.tamper.is_some(),
            "lifting a quarantine is a change to the pipeline"
        );
        assert!(is_own_undo(&undo, &roles));
        let admin = lifted("arn:aws:sts::111122223333:assumed-role/Admin/iam-alarm-mallory");
        assert!(
            !is_own_undo(&admin, &roles),
            "any other role is a tamper alert"
        );
        let other_session =
            lifted("arn:aws:sts::111122223333:assumed-role/iam-alarm-contain/console");
        assert!(!is_own_undo(&other_session, &roles));
    }

    #[test]
    fn steps_read_as_the_channel_shows_them() {
        assert_eq!(short_key("AKIAEXAMPLEKEY001234"), "AKIA…1234");
        assert_eq!(
            Step::Deactivated("AKIAEXAMPLEKEY001234".into()).line(),
            "✅ key `AKIA…1234` deactivated"
        );
        assert!(Step::Failed {
            what: "deactivate key".into(),
            why: "AccessDenied".into()
        }
        .failed());
    }
}
