//! Snoozes: a rule like those in `ALERT_RULES` (suppress what it matches), made from an alert's **Snooze…**
//! button with an author, a reason and an expiry, and kept as a message the bot pins in the alert channel — so it
//! survives restarts, anyone can read it, and unpinning or deleting it ends it. The message carries the rule as
//! TOML (the very text `iam-alarm rules export` prints to commit into `ALERT_RULES` for good) and its expiry in
//! the footer.
//!
//! A snooze never silences a change to the pipeline itself (the rules never suppress those), and one that names
//! such a call is refused.

use std::sync::RwLock;

use chrono::{DateTime, Utc};

use crate::event::Event;
use crate::message::{AllowedMentions, CreateMessage, Embed, EmbedFooter};
use crate::posted::PostedMessage;
use crate::rules::{Rules, Verdict};
use crate::text::escape_capped;

/// Every snooze message's footer starts so: "snooze · until 1767225600".
pub const FOOTER_PREFIX: &str = "snooze · until ";

/// What a responder asked to snooze, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Event names (`CreateUser`), one or more.
    pub events: Vec<String>,
    /// The actor's ARN, exactly (empty: any actor).
    pub actor_arn: String,
    /// The account id (empty: any account).
    pub account: String,
    pub reason: String,
    /// "1h", "1d", "7d": hours or days.
    pub duration: String,
}

/// A snooze in force: its rule, who made it, until when, and the message that holds it.
#[derive(Debug, Clone)]
pub struct Snooze {
    pub message_id: String,
    pub until: DateTime<Utc>,
    /// The rule as TOML (`[[rule]]` …), as exported.
    pub toml: String,
    pub by: u64,
    pub reason: String,
    /// What it matches, in a few words: "CreateUser by arn:… in 111122223333".
    pub what: String,
    rules: Rules,
}

impl Request {
    /// The snooze's rule as TOML and its expiry, or why it is refused.
    pub fn check(
        &self,
        by: u64,
        now: DateTime<Utc>,
        max_days: u64,
    ) -> Result<(String, DateTime<Utc>), String> {
        let events: Vec<&str> = self
            .events
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .collect();
        if events.is_empty() {
            return Err(
                "name at least one event (CreateUser, …): a snooze of everything is an outage"
                    .to_owned(),
            );
        }
        if let Some(bad) = events
            .iter()
            .find(|e| !e.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(format!("{bad:?} is not an event name"));
        }
        if let Some(tamper) = events
            .iter()
            .find(|e| crate::tamper::calls().any(|(_, call)| call == **e))
        {
            return Err(format!(
                "{tamper} changes the alert pipeline itself: those alerts are never snoozed"
            ));
        }
        let arn = self.actor_arn.trim();
        if !arn.is_empty() && (!arn.starts_with("arn:") || arn.contains(['"', '`', '*', '\\'])) {
            return Err("the actor must be an ARN, exactly (or empty for any actor)".to_owned());
        }
        let account = self.account.trim();
        if !account.is_empty() && !crate::accounts::is_account_id(account) {
            return Err(
                "the account must be a 12-digit account id (or empty for any account)".to_owned(),
            );
        }
        let reason: String = self.reason.trim().replace(['`', '"', '\\'], "'");
        if reason.is_empty() {
            return Err("say why: the reason is required".to_owned());
        }
        let hours = duration_hours(&self.duration).ok_or_else(|| {
            format!(
                "{:?} is not a duration like 1h, 1d or 7d",
                self.duration.trim()
            )
        })?;
        if hours > max_days * 24 {
            return Err(format!(
                "at most {max_days} days (SNOOZE_MAX_DAYS); put a longer one in ALERT_RULES"
            ));
        }
        let until = now + chrono::Duration::hours(i64::try_from(hours).unwrap_or(i64::MAX));
        let mut matcher = format!("event = {events:?}\n");
        if !arn.is_empty() {
            matcher += &format!("actor_arn = {arn:?}\n");
        }
        if !account.is_empty() {
            matcher += &format!("account = [{account:?}]\n");
        }
        let toml = format!(
            "[[rule]]\nname = \"snooze by {by} until {}\"\nreason = {reason:?}\nexpires = \"{}\"\naction = \"suppress\"\n[rule.match]\n{matcher}",
            until.format("%Y-%m-%dT%H:%MZ"),
            until.format("%Y-%m-%d"),
        );
        Rules::parse(&toml).map_err(|e| format!("the rule does not hold: {e}"))?;
        Ok((toml, until))
    }
}

/// "1h", "12h", "1d", "7d" in hours.
fn duration_hours(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let (n, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = n.trim().parse().ok().filter(|n| *n > 0)?;
    match unit {
        "h" => Some(n),
        "d" => n.checked_mul(24),
        _ => None,
    }
}

/// The message that holds a snooze (the bot pins it).
pub fn message(toml: &str, until: DateTime<Utc>, by: u64, reason: &str) -> CreateMessage {
    let at = until.timestamp();
    let description = format!(
        "Snoozed by <@{by}> until <t:{at}:f> (<t:{at}:R>): {}\nMatching alerts are not posted (counted in `iam_alarm_suppressed_total`). `/snoozes` lists and ends snoozes; unpinning or deleting this message ends it too.\n```toml\n{toml}```",
        escape_capped(reason, 300)
    );
    CreateMessage {
        content: Some("🔕 **Snooze**".to_owned()),
        embeds: vec![Embed {
            title: Some("🔕 Snooze".to_owned()),
            description: Some(description),
            footer: Some(EmbedFooter {
                text: format!("{FOOTER_PREFIX}{at}"),
            }),
            ..Embed::default()
        }],
        allowed_mentions: AllowedMentions::default(),
        ..CreateMessage::default()
    }
}

impl Snooze {
    /// A snooze read back from its message; `None` for any other message.
    pub fn from_message(m: &PostedMessage) -> Option<Snooze> {
        let at: i64 = m
            .footer()?
            .strip_prefix(FOOTER_PREFIX)?
            .trim()
            .parse()
            .ok()?;
        let until = DateTime::from_timestamp(at, 0)?;
        let description = m.description()?;
        let toml = description.split("```toml\n").nth(1)?.split("```").next()?;
        let rules = Rules::parse(toml).ok()?;
        let rule = rules.iter().next()?;
        let by = rule
            .name
            .strip_prefix("snooze by ")?
            .split(' ')
            .next()?
            .parse()
            .ok()?;
        let table: toml::Table = toml.parse().ok()?;
        let matcher = &table["rule"].as_array()?.first()?["match"];
        let field = |k: &str| {
            matcher.get(k).map(|v| match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Array(a) => a
                    .iter()
                    .filter_map(toml::Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            })
        };
        let mut what = field("event").unwrap_or_default();
        if let Some(arn) = field("actor_arn") {
            what += &format!(" by {arn}");
        }
        if let Some(account) = field("account") {
            what += &format!(" in {account}");
        }
        Some(Snooze {
            message_id: m.id.clone(),
            until,
            toml: toml.to_owned(),
            by,
            reason: rule.reason.clone(),
            what,
            rules,
        })
    }

    /// When it was made (its message's creation time).
    fn since(&self) -> Option<DateTime<Utc>> {
        let ms = crate::escalation::created_ms(&self.message_id)?;
        DateTime::from_timestamp_millis(i64::try_from(ms).ok()?)
    }

    fn covers(&self, event: &mut Event, at: DateTime<Utc>) -> bool {
        let in_force = at < self.until && self.since().is_none_or(|s| s <= at);
        in_force
            && matches!(
                self.rules.apply(event, at.date_naive()),
                Verdict::Suppressed { .. }
            )
    }

    /// The label of `iam_alarm_suppressed_total`, and what `/recent-changes` says.
    pub fn name(&self) -> String {
        format!("snooze {}", self.message_id)
    }
}

/// The snoozes in force, shared by the poller (what to suppress) and the commands (list, end).
#[derive(Debug, Default)]
pub struct Snoozes {
    all: RwLock<Vec<Snooze>>,
}

impl Snoozes {
    /// The snoozes as the pinned messages say now.
    pub fn replace(&self, snoozes: Vec<Snooze>) {
        *self.all.write().expect("not poisoned") = snoozes;
    }

    pub fn add(&self, snooze: Snooze) {
        let mut all = self.all.write().expect("not poisoned");
        all.retain(|s| s.message_id != snooze.message_id);
        all.push(snooze);
    }

    pub fn remove(&self, message_id: &str) -> Option<Snooze> {
        let mut all = self.all.write().expect("not poisoned");
        let at = all.iter().position(|s| s.message_id == message_id)?;
        Some(all.remove(at))
    }

    /// The snooze that suppresses `event` at `at`, if one does (never a change to the pipeline itself).
    pub fn suppressing(&self, event: &mut Event, at: DateTime<Utc>) -> Option<String> {
        if event.tamper.is_some() {
            return None;
        }
        let all = self.all.read().expect("not poisoned");
        all.iter().find(|s| s.covers(event, at)).map(Snooze::name)
    }

    /// The snoozes in force at `now`, soonest to end first.
    pub fn active(&self, now: DateTime<Utc>) -> Vec<Snooze> {
        let all = self.all.read().expect("not poisoned");
        let mut active: Vec<Snooze> = all.iter().filter(|s| s.until > now).cloned().collect();
        active.sort_by_key(|s| s.until);
        active
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(events: &[&str], duration: &str) -> Request {
        Request {
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            actor_arn: "arn:aws:sts::111122223333:assumed-role/ci-deployer/terraform-run-42"
                .to_owned(),
            account: "111122223333".to_owned(),
            reason: "migration \"week\"".to_owned(),
            duration: duration.to_owned(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_request_becomes_a_rule_or_is_refused_with_the_reason() {
        let (toml, until) = request(&["CreateUser"], "1d").check(42, now(), 7).unwrap();
        assert_eq!(until, now() + chrono::Duration::days(1));
        assert!(toml.contains("action = \"suppress\""), "{toml}");
        assert!(toml.contains("reason = \"migration 'week'\""), "{toml}");
        assert_eq!(Rules::parse(&toml).unwrap().len(), 1);
        let refused = |r: Request| r.check(42, now(), 7).unwrap_err();
        assert!(refused(request(&["StopLogging"], "1h")).contains("never snoozed"));
        assert!(refused(request(&[], "1h")).contains("at least one event"));
        assert!(refused(request(&["CreateUser"], "8d")).contains("at most 7 days"));
        assert!(refused(request(&["CreateUser"], "soon")).contains("not a duration"));
        let mut no_reason = request(&["CreateUser"], "1h");
        no_reason.reason = " ".to_owned();
        assert!(refused(no_reason).contains("reason is required"));
        let mut wild = request(&["CreateUser"], "1h");
        wild.actor_arn = "arn:aws:iam::*:user/*".to_owned();
        assert!(refused(wild).contains("exactly"));
    }

    #[test]
    fn a_snooze_reads_back_from_its_message_and_ends_by_itself() {
        let (toml, until) = request(&["CreateUser"], "1h").check(42, now(), 7).unwrap();
        let created = message(&toml, until, 42, "migration");
        let mut listing = serde_json::to_value(&created).unwrap();
        // A message id made a minute before `now`.
        let ms = (now().timestamp_millis() - 60_000) as u64;
        listing["id"] = json!(((ms - 1_420_070_400_000) << 22).to_string());
        let posted = PostedMessage::from_listing(json!([listing]));
        let snooze = Snooze::from_message(&posted[0]).unwrap();
        assert_eq!((snooze.by, snooze.until), (42, until));
        assert!(
            snooze.what.starts_with("CreateUser by arn:aws:sts::"),
            "{}",
            snooze.what
        );
        let snoozes = Snoozes::default();
        snoozes.add(snooze);
        let record =
            include_str!("../../tests/fixtures/records/CreateUser-AssumedRole-session.json")
                .replace("123456789012", "111122223333");
        let mut event = crate::event::Event::from_json(&record).unwrap();
        assert!(snoozes.suppressing(&mut event, now()).is_some());
        assert!(
            snoozes.suppressing(&mut event, until).is_none(),
            "ended by itself"
        );
        assert!(
            snoozes
                .suppressing(&mut event, now() - chrono::Duration::hours(1))
                .is_none(),
            "not before it was made"
        );
        assert_eq!(snoozes.active(now()).len(), 1);
        assert!(snoozes.active(until).is_empty());
    }
}
