//! The watchdog's words and memory: the messages that announce a pipeline problem ("Alert pipeline degraded:
//! …", "… warning: …") and its end ("… recovered: …"), and which problems are announced, read back from the
//! channel — so a restart neither repeats a problem it announced nor misses a new one.
//!
//! A problem is known by a stable key ("rule:eventbridge-iam-user-change"), not by its text, which may carry
//! figures that change (how many messages wait in the dead-letter queue).

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::buttons::ButtonId;
use crate::check::{Check, CheckStatus};
use crate::message::{
    ActionRow, AllowedMentions, Button, ButtonStyle, CreateMessage, Embed, EmbedFooter,
    CONTENT_MAX, NONCE_MAX,
};
use crate::posted::PostedMessage;
use crate::render::{add_mention, colour, Mention};
use crate::severity::Severity;
use crate::text::{escape_capped, plain_capped, truncate};

/// Every watchdog message's footer starts so: "watchdog · degraded · rule:…".
pub const FOOTER_PREFIX: &str = "watchdog · ";

/// The key of the heartbeat check: its failure reads "Alert pipeline silent: …".
pub const HEARTBEAT_KEY: &str = "heartbeat";

/// The key of the canary check: its failure reads "Alert pipeline silent: no CloudTrail event has reached …".
pub const CANARY_KEY: &str = "canary";

/// The key of the watchdog's own blindness: "🛑 Watchdog blind: cannot check …".
pub const BLIND_KEY: &str = "watchdog-blind";

/// Looks in a row that could not check something, per check: the watchdog is blind to what it cannot see, and
/// says so once `after` looks in a row could not (`WATCHDOG_BLIND_AFTER`), in one message naming everything it
/// cannot see. What changed while it was blind is announced once it can look again, like any other change.
#[derive(Debug, Clone)]
pub struct Blindness {
    after: u32,
    /// Per check key: looks in a row that could not check it, and the latest "cannot check …: why".
    misses: BTreeMap<String, (u32, String)>,
}

impl Blindness {
    pub fn new(after: u32) -> Blindness {
        Blindness {
            after: after.max(1),
            misses: BTreeMap::new(),
        }
    }

    /// From one look's checks, the blindness check: failing while something could not be checked `after` looks
    /// in a row, passing otherwise.
    pub fn look(&mut self, found: &[Check]) -> Check {
        for c in found {
            let Some(key) = &c.key else { continue };
            if c.status == CheckStatus::Unknown {
                let why = c.hint.as_deref().unwrap_or("no answer");
                let entry = self.misses.entry(key.clone()).or_insert((0, String::new()));
                entry.0 += 1;
                entry.1 = format!("{} ({why})", c.what);
            } else {
                self.misses.remove(key);
            }
        }
        let blind: Vec<&str> = self
            .misses
            .values()
            .filter(|(n, _)| *n >= self.after)
            .map(|(_, what)| what.as_str())
            .collect();
        if blind.is_empty() {
            return Check::ok("the watchdog can look at the whole pipeline again").about(BLIND_KEY);
        }
        Check::fail(
            format!("Watchdog blind: {}", blind.join("; ")),
            "the bot's role may have been changed (compare it with deploy/bot-policy.json); until the watchdog can look, a part switched off there goes unannounced",
        )
        .about(BLIND_KEY)
    }
}

/// The key of the check that nobody but SNS writes to the queue: its failure reads as what it is, "Someone is
/// writing to the alert queue directly: …".
pub const FORGERY_KEY: &str = "queue-writers";

/// A change worth a message, about a keyed check.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// A problem that was not announced (a warning or a failure).
    Began(Check),
    /// An announced problem whose check passes again.
    Ended(Check),
}

/// The keys of the problems announced and not yet recovered, from the channel's recent messages (Discord message
/// objects, any order): the newest watchdog message of each key says whether it is open.
pub fn announced(messages: &[PostedMessage], bot_user: &str) -> BTreeSet<String> {
    let mut ours: Vec<(u64, &str)> = messages
        .iter()
        .filter(|m| m.is_by(bot_user))
        .filter_map(|m| {
            let id = m.id.parse::<u64>().ok()?;
            Some((id, m.footer()?.strip_prefix(FOOTER_PREFIX)?))
        })
        .collect();
    ours.sort_unstable();
    let mut open = BTreeSet::new();
    for (_, footer) in ours {
        let Some((state, key)) = footer.split_once(" · ") else {
            continue;
        };
        match state {
            "recovered" => open.remove(key),
            _ => open.insert(key.to_owned()),
        };
    }
    open
}

/// What to announce, given what is announced and what the checks found. Only keyed checks count; a key the
/// checks did not report (they could not look) changes nothing.
pub fn transitions(open: &BTreeSet<String>, found: &[Check]) -> Vec<Transition> {
    found
        .iter()
        .filter_map(|c| match (c.status, open.contains(c.key.as_deref()?)) {
            (CheckStatus::Ok, true) => Some(Transition::Ended(c.clone())),
            (CheckStatus::Warn | CheckStatus::Fail, false) => Some(Transition::Began(c.clone())),
            // Could not look: no change (the blind checks say so after enough of them).
            _ => None,
        })
        .collect()
}

impl Transition {
    pub fn key(&self) -> &str {
        // `transitions` makes them from keyed checks only.
        self.check().key.as_deref().unwrap_or_default()
    }

    pub fn check(&self) -> &Check {
        match self {
            Transition::Began(c) | Transition::Ended(c) => c,
        }
    }

    /// "Alert pipeline degraded: rule … is disabled" — plain, for the log.
    pub fn headline(&self) -> String {
        let (label, o) = self.label();
        headline(self, label, &o.what)
    }

    fn label(&self) -> (&'static str, &Check) {
        match self {
            Transition::Began(o)
                if o.status == CheckStatus::Fail
                    && (self.key() == HEARTBEAT_KEY || self.key() == CANARY_KEY) =>
            {
                ("silent", o)
            }
            Transition::Began(o) if o.status == CheckStatus::Fail => ("degraded", o),
            Transition::Began(o) => ("warning", o),
            Transition::Ended(o) => ("recovered", o),
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Transition::Began(o) if o.status == CheckStatus::Fail => Severity::Critical,
            Transition::Began(_) => Severity::Medium,
            Transition::Ended(_) => Severity::Low,
        }
    }

    /// The message: a failure is critical, mentions the responder role and can be acknowledged (and so is
    /// escalated like any severe alert); a warning is medium; a recovery is quiet. `at` (Unix seconds) keeps
    /// the nonce of a retried post equal, and of a later announcement of the same key different.
    pub fn message(&self, mention: Option<Mention>, at: i64) -> CreateMessage {
        let (label, o) = self.label();
        let (emoji, colour) = match label {
            "degraded" | "silent" => ("🛑", colour::ROOT),
            "warning" => ("⚠️", colour::FAILED),
            _ => ("✅", colour::ACKNOWLEDGED),
        };
        // Room for a blind watchdog naming several things it cannot see.
        let what = escape_capped(&o.what, 600);
        let hint = o.hint.as_deref().map(|h| escape_capped(h, 1000));
        let headline = headline(self, label, &what);
        let content = match &hint {
            Some(h) => format!("{emoji} `{}` **{headline}** — {h}", self.severity()),
            None => format!("{emoji} `{}` **{headline}**", self.severity()),
        };
        let key = plain_capped(self.key(), 150);
        let nonce = hex::encode(Sha256::digest(format!("watchdog:{label}:{key}:{at}")));
        let components = match self {
            Transition::Began(_) => {
                let ack = ButtonId::Acknowledge(format!("watchdog:{}", truncate(&key, 80)));
                vec![ActionRow::new(vec![Button::action(
                    ButtonStyle::Success,
                    "Acknowledge",
                    ack.encode(),
                )])]
            }
            Transition::Ended(_) => Vec::new(),
        };
        let mut message = CreateMessage {
            content: Some(truncate(&content, CONTENT_MAX)),
            embeds: vec![Embed {
                title: Some(truncate(&format!("{emoji} {headline}"), 256)),
                description: hint,
                color: Some(colour),
                footer: Some(EmbedFooter {
                    text: format!("{FOOTER_PREFIX}{label} · {key}"),
                }),
                timestamp: chrono::DateTime::from_timestamp(at, 0)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                ..Embed::default()
            }],
            components,
            allowed_mentions: AllowedMentions::default(),
            nonce: Some(nonce[..NONCE_MAX].to_owned()),
            enforce_nonce: true,
            ..CreateMessage::default()
        };
        add_mention(&mut message, self.severity(), mention);
        message
    }
}

/// A forgery begins as what it is; everything else as the pipeline's state.
fn headline(t: &Transition, label: &str, what: &str) -> String {
    match t {
        Transition::Began(_) if t.key() == FORGERY_KEY || t.key() == BLIND_KEY => what.to_owned(),
        _ => format!("Alert pipeline {label}: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const BOT: &str = "900000000000000002";

    fn found(key: &str, status: CheckStatus) -> Check {
        Check {
            status,
            what: format!("{key} is {status:?}"),
            hint: Some("fix it".into()),
            key: Some(key.into()),
        }
    }

    fn posted(id: u64, author: &str, t: &Transition) -> Value {
        let m = serde_json::to_value(t.message(None, 1_700_000_000)).unwrap();
        json!({"id": id.to_string(), "author": {"id": author}, "embeds": m["embeds"], "content": m["content"]})
    }

    fn read_back(messages: Vec<Value>) -> Vec<PostedMessage> {
        PostedMessage::from_listing(Value::Array(messages))
    }

    #[test]
    fn a_problem_is_announced_once_and_its_end_once() {
        let mut open = BTreeSet::new();
        let failing = [
            found("rule:r", CheckStatus::Fail),
            found("dlq", CheckStatus::Ok),
        ];
        let t = transitions(&open, &failing);
        assert_eq!(t, vec![Transition::Began(failing[0].clone())]);
        open.insert("rule:r".to_owned());
        assert!(
            transitions(&open, &failing).is_empty(),
            "not every interval"
        );
        let back = [found("rule:r", CheckStatus::Ok)];
        assert_eq!(
            transitions(&open, &back),
            vec![Transition::Ended(back[0].clone())]
        );
        assert!(
            transitions(&open, &[]).is_empty(),
            "unknown is not recovered"
        );
        let figure = Check::fail("3 messages in the dead-letter queue", "replay them");
        assert!(
            transitions(&BTreeSet::new(), &[figure]).is_empty(),
            "a line without a key is /health's only"
        );
    }

    #[test]
    fn blind_after_so_many_looks_in_a_row_and_seeing_again_ends_it() {
        let mut blindness = Blindness::new(3);
        let cannot =
            |key: &str| Check::unknown(format!("cannot check {key}"), "AccessDenied").about(key);
        let look = [cannot("rule:r"), cannot("trail:t")];
        assert_eq!(blindness.look(&look).status, CheckStatus::Ok);
        assert_eq!(blindness.look(&look).status, CheckStatus::Ok);
        let third = blindness.look(&look);
        assert_eq!(third.status, CheckStatus::Fail);
        assert_eq!(third.key.as_deref(), Some(BLIND_KEY));
        assert_eq!(
            third.what,
            "Watchdog blind: cannot check rule:r (AccessDenied); cannot check trail:t (AccessDenied)",
            "one message naming everything it cannot see"
        );
        let t = transitions(&BTreeSet::new(), std::slice::from_ref(&third));
        assert_eq!(t[0].headline(), third.what, "it reads as what it is");
        let seen = [
            found("rule:r", CheckStatus::Fail),
            found("trail:t", CheckStatus::Ok),
        ];
        assert_eq!(blindness.look(&seen).status, CheckStatus::Ok);
        // A miss after seeing starts counting again.
        assert_eq!(blindness.look(&[cannot("rule:r")]).status, CheckStatus::Ok);
    }

    #[test]
    fn the_channel_tells_what_is_open_newest_last_whatever_the_order() {
        let began = Transition::Began(found("rule:r", CheckStatus::Fail));
        let ended = Transition::Ended(found("rule:r", CheckStatus::Ok));
        let dlq = Transition::Began(found("dlq", CheckStatus::Warn));
        let messages = vec![
            posted(30, BOT, &dlq),
            posted(20, BOT, &ended),
            posted(10, BOT, &began),
            posted(40, "someone-else", &began),
            json!({"id": "50", "author": {"id": BOT}, "content": "an alert", "embeds": [{"footer": {"text": "eventID x"}}]}),
        ];
        assert_eq!(
            announced(&read_back(messages), BOT),
            BTreeSet::from(["dlq".to_owned()])
        );
    }

    #[test]
    fn failures_are_critical_and_mention_only_the_role() {
        let role = Mention {
            role: 42,
            from: Severity::High,
        };
        let began = Transition::Began(found("trail:t", CheckStatus::Fail));
        let m = began.message(Some(role), 1_700_000_000);
        let content = m.content.as_deref().unwrap();
        assert!(content
            .starts_with("<@&42> 🛑 `critical` **Alert pipeline degraded: trail:t is Fail**"));
        assert!(content.ends_with("— fix it"));
        assert_eq!(m.allowed_mentions.roles, vec!["42".to_owned()]);
        assert!(m.allowed_mentions.parse.is_empty());
        assert!(m.limit_violations().is_empty());
        let ended = Transition::Ended(found("trail:t", CheckStatus::Ok));
        let m = ended.message(Some(role), 1_700_000_000);
        assert!(
            m.allowed_mentions.roles.is_empty(),
            "a recovery pings nobody"
        );
        assert!(m.components.is_empty());
    }

    #[test]
    fn text_from_aws_cannot_ping_or_format() {
        let mut o = found("trail:t", CheckStatus::Fail);
        o.what = "trail @everyone **x** <@&1>".into();
        let m = Transition::Began(o).message(None, 0);
        let content = m.content.unwrap();
        assert!(!content.contains("@everyone **"), "{content}");
        assert!(m.allowed_mentions.roles.is_empty());
    }
}
