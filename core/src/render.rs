//! The alert format: one event → one Discord message (embed + buttons), or plain text for the console.
//!
//! Everything taken from the event is untrusted: names go through [`escape_capped`], identifiers into code
//! spans through [`code_capped`]; `allowed_mentions` is empty, so nothing can ping even if it slipped through.

use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use crate::buttons::{activity, ButtonId};
use crate::event::{Event, IdentityKind, Origin, Outcome, NEW_NAME};
use crate::message::{
    ActionRow, AllowedMentions, Button, ButtonStyle, CreateMessage, Embed, EmbedField, EmbedFooter,
    CONTENT_MAX, CUSTOM_ID_MAX, EMBEDS_TOTAL_MAX, FIELD_VALUE_MAX, NONCE_MAX, TITLE_MAX,
};
use crate::severity::Severity;
use crate::text::{code_capped, concat, escape_capped, plain_capped, truncate};
use crate::watch::Action;

/// Colours, by what a responder should feel.
pub mod colour {
    /// The account's root user acted: always the loudest.
    pub const ROOT: u32 = 0xD32F2F;
    /// A failed attempt: someone probing, or a broken automation.
    pub const FAILED: u32 = 0xF59E0B;
    /// A deletion: possibly someone covering tracks.
    pub const DESTRUCTIVE: u32 = 0xE8590C;
    pub const CHANGE: u32 = 0x3B82F6;
    /// Taken by a responder.
    pub const ACKNOWLEDGED: u32 = 0x2E7D32;
}

/// The footer carries the key so a restarted bot can tell which events it already posted.
pub const FOOTER_PREFIX: &str = "eventID ";

/// Where the message goes decides what it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Destination {
    /// The bot: buttons and an idempotency nonce.
    #[default]
    Bot,
    /// A webhook: no interactive buttons (nobody would answer them), no nonce.
    Webhook,
}

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// An IANA zone shown beside the viewer-local Discord timestamp.
    pub timezone: Option<Tz>,
    pub destination: Destination,
    /// Who to ping for severe alerts; `None`: nobody.
    pub mention: Option<Mention>,
    /// Offer Quarantine… and Deactivate key… (`CONTAIN=on`).
    pub contain: bool,
}

/// Alerts at or above `from` mention `role` (`RESPONDER_ROLE_ID`, `MENTION_SEVERITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mention {
    pub role: u64,
    pub from: Severity,
}

/// Mention the responder role at the start of the message when `severity` calls for it, with `allowed_mentions`
/// naming exactly that role (never users, `@everyone` or `@here`).
pub fn add_mention(message: &mut CreateMessage, severity: Severity, mention: Option<Mention>) {
    let Some(m) = mention.filter(|m| severity >= m.from) else {
        return;
    };
    let content = message.content.take().unwrap_or_default();
    message.content = Some(truncate(&format!("<@&{}> {content}", m.role), CONTENT_MAX));
    message.allowed_mentions.roles = vec![m.role.to_string()];
}

/// How an alert looks (its colour, emoji and title prefix), quietest first. How urgent it is, is its
/// [`Severity`], shown as a word beside this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tone {
    Change,
    Destructive,
    Failed,
    Root,
    /// A change to the alert pipeline itself.
    Pipeline,
}

impl Tone {
    pub fn of(event: &Event) -> Tone {
        if event.tamper.is_some() {
            Tone::Pipeline
        } else if event.actor.is_root() {
            Tone::Root
        } else if event.outcome.is_failure() {
            Tone::Failed
        } else if event
            .action
            .is_some_and(super::watch::Action::is_destructive)
        {
            Tone::Destructive
        } else {
            Tone::Change
        }
    }

    pub fn colour(self) -> u32 {
        match self {
            Tone::Root | Tone::Pipeline => colour::ROOT,
            Tone::Failed => colour::FAILED,
            Tone::Destructive => colour::DESTRUCTIVE,
            Tone::Change => colour::CHANGE,
        }
    }

    fn emoji(self) -> &'static str {
        match self {
            Tone::Root => "🚨",
            Tone::Pipeline => "🛑",
            Tone::Failed => "⛔",
            Tone::Destructive => "🗑️",
            Tone::Change => "🔔",
        }
    }
}

// Caps for single values, well inside Discord's limits so a full embed stays far below 6,000.
const NAME_CAP: usize = 120;
const ID_CAP: usize = 200;
const UA_CAP: usize = 300;
const ERROR_CAP: usize = 500;

/// "IAM user created: bob" / "Failed attempt to create IAM user: bob" (plain, unescaped).
pub fn headline(event: &Event) -> String {
    let target = event
        .target
        .as_ref()
        .map_or("(no user named)", |t| t.user_name.as_str());
    let (name, source) = (event.event_name.as_str(), event.event_source.as_str());
    if let Some(t) = &event.tamper {
        let resource = t.resource.as_deref().unwrap_or("(not named in the record)");
        return match &event.outcome {
            Outcome::Success => format!("{}: {resource}", t.what),
            Outcome::Failure { .. } => format!("Failed attempt to {}: {resource}", t.attempt),
        };
    }
    let roots_own = event.actor.is_root() && event.target.as_ref().is_some_and(|t| t.is_caller);
    let target = if roots_own {
        "the account's root user"
    } else {
        target
    };
    let renamed_to = event.details.iter().find(|d| d.label == NEW_NAME);
    if let (Some(Action::UpdateUser), Outcome::Success, Some(new)) =
        (event.action, &event.outcome, renamed_to)
    {
        return concat(&["IAM user renamed: ", target, " → ", &new.value]);
    }
    match (event.action, &event.outcome) {
        (Some(a), Outcome::Success) => concat(&[a.headline(), ": ", target]),
        (Some(a), Outcome::Failure { .. }) => {
            concat(&["Failed attempt to ", a.attempt(), ": ", target])
        }
        (None, Outcome::Success) => concat(&[name, " (", source, ")"]),
        (None, Outcome::Failure { .. }) => concat(&["Failed ", name, " (", source, ")"]),
    }
}

/// The message to create in the alert channel (or to execute on a webhook).
pub fn render_message(event: &Event, opts: &RenderOptions) -> CreateMessage {
    let tone = Tone::of(event);
    let headline = headline(event);
    let display = event.actor.display();
    let actor = escape_capped(&display, NAME_CAP * 2);
    let url = console_url(event);
    let footer = format!("{FOOTER_PREFIX}{}", plain_capped(event.key.as_str(), 200));
    let mut embed = Embed {
        title: Some(escaped_title(tone, &headline)),
        description: Some(summary(event, &actor)),
        url: url.clone(),
        color: Some(tone.colour()),
        author: None,
        fields: fields(event, &actor, opts),
        footer: Some(EmbedFooter { text: footer }),
        timestamp: event
            .time
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    };
    embed.fit(EMBEDS_TOTAL_MAX);

    let content = format!(
        "{} `{}` **{}** by {}",
        tone.emoji(),
        event.severity,
        escape_capped(&headline, NAME_CAP * 2),
        escape_capped(&display, NAME_CAP)
    );

    let (components, nonce) = match opts.destination {
        Destination::Bot => {
            let containment = opts
                .contain
                .then(|| crate::contain::buttons(event))
                .flatten();
            let rows = std::iter::once(ActionRow::new(buttons(event, url)))
                .chain(containment)
                .collect();
            (rows, Some(nonce_for(event)))
        }
        Destination::Webhook => (
            url.map(|u| vec![ActionRow::new(vec![Button::link("Open in CloudTrail", u)])])
                .unwrap_or_default(),
            None,
        ),
    };
    let mut message = CreateMessage {
        content: Some(truncate(&content, CONTENT_MAX)),
        embeds: vec![embed],
        components,
        allowed_mentions: AllowedMentions::default(),
        enforce_nonce: nonce.is_some(),
        nonce,
        flags: None,
        message_reference: None,
    };
    add_mention(
        &mut message,
        event.severity,
        opts.mention.filter(|_| event.mention),
    );
    message
}

/// "prod (`111122223333`)": the name escaped, the id in a code span (the Recent activity button reads it back).
pub fn account_field(event: &Event) -> String {
    match (&event.account, &event.account_name) {
        (Some(id), Some(name)) => format!(
            "{} ({})",
            escape_capped(name, NAME_CAP),
            code_capped(id, 64)
        ),
        (Some(id), None) => code_capped(id, 64),
        (None, _) => "—".to_owned(),
    }
}

fn escaped_title(tone: Tone, headline: &str) -> String {
    let prefix = match tone {
        Tone::Root => "🚨 ROOT · ",
        Tone::Pipeline => "🛑 PIPELINE · ",
        Tone::Failed => "⛔ ",
        Tone::Destructive => "🗑️ ",
        Tone::Change => "",
    };
    let budget = TITLE_MAX - crate::text::discord_len(prefix);
    format!("{prefix}{}", escape_capped(headline, budget))
}

/// "**alice** (IAM user) created IAM user **bob**." plus the failure, if any.
fn summary(event: &Event, actor: &str) -> String {
    let target = match &event.target {
        Some(t) if t.is_caller => {
            format!("**{}** (themselves)", escape_capped(&t.user_name, NAME_CAP))
        }
        Some(t) => format!("**{}**", escape_capped(&t.user_name, NAME_CAP)),
        None => "an unnamed user".to_owned(),
    };
    let what = match (event.action, &event.outcome) {
        (Some(a), Outcome::Success) => {
            let (before, after) = a.sentence();
            format!("{before}{target}{after}.")
        }
        (Some(a), Outcome::Failure { .. }) => {
            format!("tried to {} {target}, and failed.", a.attempt())
        }
        (None, _) => format!("called {}.", escape_capped(&event.event_name, NAME_CAP)),
    };
    let mut s = format!("**{actor}** ({}) {what}", kind_label(event));
    if let Some(invoker) = &event.actor.invoked_by {
        s += &format!("\nCalled through {}.", escape_capped(invoker, NAME_CAP));
    }
    if event.actor.is_root() {
        s.push_str("\n**The account's root user acted.** Root should almost never be used.");
    }
    if let Some(t) = &event.tamper {
        let on = t.resource.as_deref().map_or_else(
            || "a resource the record does not name".to_owned(),
            |r| {
                format!(
                    "`{}`",
                    crate::text::plain_capped(&r.replace('`', "'"), ID_CAP)
                )
            },
        );
        s += &format!(
            "\n**The alert pipeline itself was changed** ({on}): alerts may stop arriving. Check `/health`."
        );
    }
    s
}

// The alert's fields in display order: one list, so the next person changes the format in one place. (Longer
// than 60 lines for that reason.)
fn fields(event: &Event, actor: &str, opts: &RenderOptions) -> Vec<EmbedField> {
    let mut f = Vec::with_capacity(16);
    let mut push = |name: &'static str, value: String, inline: bool| {
        f.push(EmbedField {
            name: name.into(),
            value: truncate(&value, FIELD_VALUE_MAX),
            inline,
        });
    };
    push(
        "Severity",
        format!("**{}** — {}", event.severity, event.severity_reason),
        false,
    );
    push("Actor", actor.to_owned(), true);
    push("Identity type", identity_field(event), true);
    push(
        "Target user",
        event
            .target
            .as_ref()
            .map(|t| escape_capped(&t.user_name, NAME_CAP))
            .unwrap_or_else(|| "—".to_owned()),
        true,
    );
    push(
        "Result",
        result(&event.outcome),
        event.outcome == Outcome::Success,
    );
    push(
        "Source",
        match &event.origin {
            Some(Origin::Address(a)) => code_capped(a, 64),
            Some(Origin::Service(s)) => escape_capped(s, NAME_CAP),
            None => "not recorded".to_owned(),
        },
        true,
    );
    push(
        "MFA",
        match event.mfa {
            Some(true) => "yes",
            Some(false) => "no",
            None => "not reported",
        }
        .to_owned(),
        true,
    );
    push(
        "Client",
        match &event.user_agent {
            Some(ua) => format!("{}\n{}", ua.label, code_capped(&ua.raw, UA_CAP)),
            None => "not recorded".to_owned(),
        },
        false,
    );
    push("Account", account_field(event), true);
    push(
        "Region",
        event
            .region
            .as_deref()
            .map_or_else(|| "—".to_owned(), |r| code_capped(r, 64)),
        true,
    );
    push("When", when(event, opts.timezone), true);
    for d in &event.details {
        let value = if d.code {
            code_capped(&d.value, ID_CAP)
        } else {
            escape_capped(&d.value, ID_CAP)
        };
        push(d.label, value, d.code);
    }
    if let Some(t) = event.target.as_ref().filter(|t| t.user_id.is_some()) {
        push(
            "New user id",
            code_capped(t.user_id.as_deref().unwrap_or_default(), 64),
            true,
        );
    }
    if let Some(arn) = &event.actor.arn {
        push("Actor ARN", code_capped(arn, ID_CAP), false);
    }
    if let Some(key) = &event.actor.access_key_id {
        push("Actor access key", code_capped(key, 64), true);
    }
    f
}

/// The least an alert can say, for when Discord refused the full one (or it broke a limit): headline, actor,
/// target, outcome and eventID, each tightly capped, in one small embed with the usual buttons — within every
/// limit whatever the event holds, so the alert is never lost to a 400.
pub fn render_fallback(event: &Event, opts: &RenderOptions) -> CreateMessage {
    let tone = Tone::of(event);
    let target = event
        .target
        .as_ref()
        .map_or_else(|| "—".to_owned(), |t| escape_capped(&t.user_name, 100));
    let outcome = match &event.outcome {
        Outcome::Success => "succeeded".to_owned(),
        Outcome::Failure { code, .. } => format!("failed: {}", code_capped(code, 100)),
    };
    let description = format!(
        "**Actor:** {}\n**Target user:** {target}\n**Result:** {outcome}\n\
         *Discord refused the full alert; this is its short form. `iam-alarm render` shows the full one.*",
        escape_capped(&event.actor.display(), 200),
    );
    let embed = Embed {
        title: Some(escaped_title(tone, &truncate(&headline(event), 200))),
        description: Some(description),
        color: Some(tone.colour()),
        footer: Some(EmbedFooter {
            text: format!("{FOOTER_PREFIX}{}", plain_capped(event.key.as_str(), 200)),
        }),
        ..Embed::default()
    };
    let mut message = render_message(event, opts);
    message.content = Some(format!(
        "{} `{}` **{}**",
        tone.emoji(),
        event.severity,
        escape_capped(&headline(event), 200)
    ));
    message.allowed_mentions = AllowedMentions::default();
    add_mention(
        &mut message,
        event.severity,
        opts.mention.filter(|_| event.mention),
    );
    message.embeds = vec![embed];
    message
}

/// The identity type; unknown types are shown as CloudTrail named them, so they are untrusted text too.
fn kind_label(event: &Event) -> String {
    escape_capped(event.actor.kind.label(), 64)
}

/// The identity type, with the role or permission set spelled out for sessions.
fn identity_field(event: &Event) -> String {
    let (what, name) = match (&event.actor.kind, &event.actor.via) {
        (IdentityKind::AssumedRole, Some(role)) => ("role", role),
        (IdentityKind::IdentityCenter, Some(set)) => ("permission set", set),
        (IdentityKind::FederatedUser, Some(user)) => ("federated by", user),
        _ => return kind_label(event),
    };
    format!(
        "{}\n{what} {}",
        kind_label(event),
        escape_capped(name, NAME_CAP)
    )
}

fn result(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Success => "✅ Succeeded".to_owned(),
        Outcome::Failure { code, message } => {
            let mut s = format!("❌ Failed: {}", code_capped(code, 100));
            if let Some(m) = message {
                s += &format!("\n{}", escape_capped(m, ERROR_CAP));
            }
            s
        }
    }
}

/// Discord renders `<t:…>` in each viewer's own zone; the configured zone is for shared references.
fn when(event: &Event, tz: Option<Tz>) -> String {
    let Some(t) = event.time else {
        return match &event.invalid_time {
            Some(raw) => format!("invalid time: {}", code_capped(raw, 64)),
            None => "not recorded".to_owned(),
        };
    };
    let unix = t.timestamp();
    let mut s = format!("<t:{unix}:f> (<t:{unix}:R>)");
    if let Some(tz) = tz {
        s += &format!("\n{}", t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z"));
    }
    s
}

/// The event in the CloudTrail console (event history of the region that recorded it).
pub fn console_url(event: &Event) -> Option<String> {
    let id = event.event_id.as_deref()?;
    let region = event.region.as_deref().unwrap_or("us-east-1");
    let safe = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    (safe(id) && safe(region)).then(|| {
        concat(&[
            "https://",
            region,
            ".console.aws.amazon.com/cloudtrailv2/home?region=",
            region,
            "#/events/",
            id,
        ])
    })
}

fn buttons(event: &Event, console_url: Option<String>) -> Vec<Button> {
    let mut row = vec![Button::action(
        ButtonStyle::Success,
        "Acknowledge",
        ButtonId::Acknowledge(event.key.as_str().to_owned()).encode(),
    )];
    if let Some(request) = activity(event) {
        row.push(Button::action(
            ButtonStyle::Secondary,
            "Recent activity",
            ButtonId::Activity(request).encode(),
        ));
    }
    // A change to the pipeline itself is never snoozed: no button offers it.
    if event.tamper.is_none() && event.event_name.chars().all(|c| c.is_ascii_alphanumeric()) {
        let snooze = ButtonId::Snooze {
            account: event
                .account
                .clone()
                .filter(|a| crate::accounts::is_account_id(a)),
            event_name: event.event_name.clone(),
        };
        let id = snooze.encode();
        if id.len() <= CUSTOM_ID_MAX {
            row.push(Button::action(ButtonStyle::Secondary, "Snooze…", id));
        }
    }
    if let Some(url) = console_url {
        row.push(Button::link("Open in CloudTrail", url));
    }
    row
}

/// Discord's idempotency nonce for this event: the same event always yields the same nonce.
pub fn nonce_for(event: &Event) -> String {
    let digest = Sha256::digest(format!("iam-alarm:{}", event.key).as_bytes());
    hex::encode(digest)[..NONCE_MAX].to_owned()
}

/// The event key in a footer we wrote, if this footer is ours.
pub fn key_from_footer(footer: &str) -> Option<&str> {
    footer
        .strip_prefix(FOOTER_PREFIX)
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

// The console's lines in display order, like `fields`. (Longer than 60 lines for that reason.)
/// A readable plain-text alert for the console (no Markdown, control characters flattened).
pub fn render_text(event: &Event, opts: &RenderOptions) -> String {
    let p = |s: &str| plain_capped(s, UA_CAP);
    let tone = Tone::of(event);
    let mut out = format!(
        "{} [{}] {}\n",
        tone.emoji(),
        event.severity,
        p(&headline(event))
    );
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<14} {v}\n"));
    line(
        "actor",
        format!(
            "{} ({})",
            p(&event.actor.display()),
            p(event.actor.kind.label())
        ),
    );
    if let Some(t) = &event.target {
        line("target", p(&t.user_name));
    }
    line(
        "result",
        match &event.outcome {
            Outcome::Success => "succeeded".to_owned(),
            Outcome::Failure { code, message } => format!(
                "FAILED {}{}",
                p(code),
                message
                    .as_deref()
                    .map(|m| format!(": {}", p(m)))
                    .unwrap_or_default()
            ),
        },
    );
    if let Some(o) = &event.origin {
        line("source", p(o.as_str()));
    }
    if let Some(ua) = &event.user_agent {
        line("client", format!("{} ({})", ua.label, p(&ua.raw)));
    }
    if let Some(by) = &event.actor.invoked_by {
        line("invoked by", p(by));
    }
    line(
        "mfa",
        event
            .mfa
            .map_or("not reported", |m| if m { "yes" } else { "no" })
            .to_owned(),
    );
    line(
        "account/region",
        format!(
            "{} / {}",
            p(&event.account_label().unwrap_or_else(|| "-".to_owned())),
            p(event.region.as_deref().unwrap_or("-"))
        ),
    );
    if let Some(t) = event.time {
        let mut s = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if let Some(tz) = opts.timezone {
            s.push_str(&format!(
                " ({})",
                t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z")
            ));
        }
        line("time", s);
    }
    for d in &event.details {
        line(&d.label.to_ascii_lowercase(), p(&d.value));
    }
    if let Some(arn) = &event.actor.arn {
        line("actor arn", p(arn));
    }
    line("event", p(event.key.as_str()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(record: serde_json::Value) -> Event {
        Event::from_json(&record.to_string()).unwrap()
    }

    fn create_user(actor: &str, user: &str) -> Event {
        event(json!({
            "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventID": "e-1",
            "eventTime": "2026-11-20T09:00:00Z", "awsRegion": "us-east-1",
            "recipientAccountId": "123456789012",
            "userIdentity": {"type": "IAMUser", "userName": actor, "accountId": "123456789012"},
            "requestParameters": {"userName": user},
            "responseElements": {"user": {"userName": user, "arn": format!("arn:aws:iam::123456789012:user/{user}")}}
        }))
    }

    #[test]
    fn an_alert_says_who_did_what_to_whom_with_its_buttons_and_key() {
        let m = render_message(&create_user("alice", "bob"), &RenderOptions::default());
        let content = m.content.as_deref().unwrap();
        assert!(
            content.contains("`medium`") && content.contains("by alice"),
            "{content}"
        );
        let embed = &m.embeds[0];
        assert_eq!(embed.footer.as_ref().unwrap().text, "eventID e-1");
        assert_eq!(
            key_from_footer(&embed.footer.as_ref().unwrap().text),
            Some("e-1")
        );
        assert_eq!(embed.timestamp.as_deref(), Some("2026-11-20T09:00:00Z"));
        let ids: Vec<_> = m.components[0]
            .components
            .iter()
            .filter_map(|b| b.custom_id.as_deref())
            .collect();
        assert!(ids.iter().any(|id| id.starts_with("ack:")), "{ids:?}");
        assert_eq!(
            m.nonce.as_deref(),
            Some(nonce_for(&create_user("x", "y")).as_str())
        );
        assert!(m.enforce_nonce);
        assert!(
            m.limit_violations().is_empty(),
            "{:?}",
            m.limit_violations()
        );
    }

    #[test]
    fn each_way_to_silence_the_pipeline_renders_as_a_critical_alert_naming_what() {
        use crate::WatchedEvents;
        let cases = [
            (
                "iam",
                "PutRolePermissionsBoundary",
                json!({"roleName": "iam-alarm-task"}),
                "iam-alarm-task",
            ),
            (
                "iam",
                "UpdateAssumeRolePolicy",
                json!({"roleName": "iam-alarm-canary"}),
                "iam-alarm-canary",
            ),
            (
                "events",
                "PutPermission",
                json!({"eventBusName": "iam-alarm"}),
                "iam-alarm",
            ),
            (
                "events",
                "RemovePermission",
                json!({"eventBusName": "iam-alarm", "statementId": "org"}),
                "iam-alarm",
            ),
            (
                "events",
                "UpdateEventBus",
                json!({"name": "iam-alarm"}),
                "iam-alarm",
            ),
            (
                "events",
                "DeleteEventBus",
                json!({"name": "iam-alarm"}),
                "iam-alarm",
            ),
            (
                "sns",
                "PutDataProtectionPolicy",
                json!({"resourceArn": "arn:aws:sns:us-east-1:1:sns-iam-user-alarm"}),
                "sns-iam-user-alarm",
            ),
            (
                "monitoring",
                "DisableAlarmActions",
                json!({"alarmNames": ["iam-alarm-bot-down"]}),
                "iam-alarm-bot-down",
            ),
            (
                "monitoring",
                "DeleteAlarms",
                json!({"alarmNames": ["iam-alarm-bot-down", "iam-alarm-dead-letters"]}),
                "iam-alarm-dead-letters",
            ),
            (
                "monitoring",
                "PutMetricAlarm",
                json!({"alarmName": "iam-alarm-bot-down"}),
                "iam-alarm-bot-down",
            ),
            (
                "ecs",
                "UpdateService",
                json!({"service": "iam-alarm", "desiredCount": 0}),
                "iam-alarm",
            ),
            (
                "ecs",
                "DeleteService",
                json!({"service": "iam-alarm"}),
                "iam-alarm",
            ),
            (
                "organizations",
                "LeaveOrganization",
                json!(null),
                "Organization",
            ),
            (
                "organizations",
                "RemoveAccountFromOrganization",
                json!({"accountId": "444455556666"}),
                "444455556666",
            ),
            (
                "account",
                "PutAccountName",
                json!({"accountName": "not-prod"}),
                "not-prod",
            ),
        ];
        for (service, name, parameters, named) in cases {
            let record = json!({
                "eventSource": format!("{service}.amazonaws.com"), "eventName": name, "eventID": format!("t-{name}"),
                "eventTime": "2026-11-20T09:00:00Z", "recipientAccountId": "123456789012",
                "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": "123456789012"},
                "requestParameters": parameters
            });
            // Not a watched call: it alerts because it can switch the alarm off.
            let event = crate::classify(&record.to_string(), &WatchedEvents::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(event.severity, Severity::Critical, "{name}");
            let m = render_message(&event, &RenderOptions::default());
            let shown = format!(
                "{} {}",
                m.content.as_deref().unwrap(),
                m.embeds[0].title.as_deref().unwrap()
            )
            .replace('\\', "");
            assert!(shown.contains(named), "{name}: {shown}");
            assert!(m.limit_violations().is_empty(), "{name}");
        }
    }

    #[test]
    fn recent_activity_carries_the_events_account_not_its_shown_name() {
        let mut e = create_user("alice", "bob");
        e.account = Some("444455556666".to_owned());
        // A name that reads like another account id must not steer where Recent activity looks.
        e.name_account(|_| Some("prod (111122223333)".to_owned()));
        let m = render_message(&e, &RenderOptions::default());
        let ids: Vec<&str> = m.components[0]
            .components
            .iter()
            .filter_map(|b| b.custom_id.as_deref())
            .collect();
        let activity = ids.iter().find(|id| id.starts_with("act:")).unwrap();
        assert_eq!(*activity, "act:u:444455556666:alice");
        match ButtonId::parse(activity) {
            Some(ButtonId::Activity(a)) => assert_eq!(a.account.as_deref(), Some("444455556666")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_from_the_event_cannot_ping_or_format() {
        let m = render_message(
            &create_user("@everyone", "**bold**_<@&1>"),
            &RenderOptions::default(),
        );
        // Outside code spans (the ARN), every value is escaped.
        let embed = &m.embeds[0];
        for text in [
            m.content.as_deref(),
            embed.title.as_deref(),
            embed.description.as_deref(),
        ] {
            let text = text.unwrap();
            let unescaped_mention = text.replace("\\<@", "").contains("<@&1>");
            assert!(!text.contains("**bold**") && !unescaped_mention, "{text}");
        }
        assert!(m.allowed_mentions.parse.is_empty() && m.allowed_mentions.roles.is_empty());
    }

    #[test]
    fn a_webhook_gets_no_interactive_buttons_and_no_nonce() {
        let opts = RenderOptions {
            destination: Destination::Webhook,
            ..RenderOptions::default()
        };
        let m = render_message(&create_user("alice", "bob"), &opts);
        assert!(m.nonce.is_none() && !m.enforce_nonce);
        let interactive = m
            .components
            .iter()
            .flat_map(|r| &r.components)
            .any(|b| b.custom_id.is_some());
        assert!(!interactive);
    }

    #[test]
    fn severe_alerts_mention_only_the_responder_role() {
        let mention = Some(Mention {
            role: 42,
            from: Severity::Medium,
        });
        let opts = RenderOptions {
            mention,
            ..RenderOptions::default()
        };
        let m = render_message(&create_user("alice", "bob"), &opts);
        assert!(m.content.as_deref().unwrap().starts_with("<@&42> "));
        assert_eq!(m.allowed_mentions.roles, ["42"]);
        let quiet = RenderOptions {
            mention: Some(Mention {
                role: 42,
                from: Severity::Critical,
            }),
            ..RenderOptions::default()
        };
        let m = render_message(&create_user("alice", "bob"), &quiet);
        assert!(m.allowed_mentions.roles.is_empty());
    }

    #[test]
    fn the_fallback_fits_whatever_the_event_holds() {
        let huge = "x".repeat(20_000);
        let e = create_user(&huge, &huge);
        let m = render_fallback(&e, &RenderOptions::default());
        assert!(
            m.limit_violations().is_empty(),
            "{:?}",
            m.limit_violations()
        );
        assert_eq!(
            m.embeds[0].footer.as_ref().unwrap().text,
            "eventID e-1",
            "the key survives, for de-duplication"
        );
    }

    #[test]
    fn the_console_text_is_plain() {
        let text = render_text(
            &create_user("alice", "bob\u{1b}[31m"),
            &RenderOptions::default(),
        );
        assert!(text.contains("alice") && text.contains("medium"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text:?}");
    }
}
