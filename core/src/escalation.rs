//! Escalation: a severe alert nobody acknowledged gets a follow-up — a reply under it that mentions the responder
//! role again and says how long it has waited — every `after`, at most `max` times. Which alerts wait, and how
//! often they were escalated, is read back from the channel (the alerts, their "Acknowledged" field, the bot's
//! replies), so it survives restarts; nothing is kept in memory.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::message::{AllowedMentions, CreateMessage, MessageReference, NONCE_MAX};
use crate::posted::PostedMessage;
use crate::severity::Severity;

/// What starts every follow-up: how the bot recognises its own escalations when it reads the channel back.
pub const MARK: &str = "⏰ Still unacknowledged";

/// Discord's epoch (2015-01-01) in Unix milliseconds: a message id holds its creation time.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// When and how often to escalate (`ESCALATE_SEVERITY`, `ESCALATE_AFTER_S`, `ESCALATE_MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub from: Severity,
    pub after: Duration,
    pub max: u32,
    /// The role to mention (`RESPONDER_ROLE_ID`); without it the follow-up mentions nobody.
    pub role: Option<u64>,
}

/// A follow-up that is due.
#[derive(Debug, Clone, PartialEq)]
pub struct Followup {
    pub alert_id: String,
    /// 1 for the first follow-up.
    pub number: u32,
    pub message: CreateMessage,
}

/// The Unix time (ms) a Discord id was created.
pub fn created_ms(id: &str) -> Option<u64> {
    id.parse::<u64>()
        .ok()
        .map(|id| (id >> 22) + DISCORD_EPOCH_MS)
}

/// The follow-ups due now, from the channel's recent messages (Discord message objects, any order).
pub fn due(
    messages: &[PostedMessage],
    bot_user: &str,
    now_ms: u64,
    policy: &Policy,
) -> Vec<Followup> {
    let ours: Vec<&PostedMessage> = messages.iter().filter(|m| m.is_by(bot_user)).collect();
    let escalations_of = |alert: &str| {
        ours.iter()
            .filter(|m| m.replies_to() == Some(alert) && m.content.contains(MARK))
            .count() as u32
    };
    let mut out = Vec::new();
    for alert in &ours {
        let id = alert.id.as_str();
        if !is_waiting_alert(alert, policy.from) {
            continue;
        }
        let done = escalations_of(id);
        let waited = Duration::from_millis(now_ms.saturating_sub(created_ms(id).unwrap_or(now_ms)));
        if done >= policy.max || waited < policy.after * (done + 1) {
            continue;
        }
        out.push(Followup {
            alert_id: id.to_owned(),
            number: done + 1,
            message: followup(id, done + 1, waited, policy),
        });
    }
    out
}

/// An alert (or digest) of ours at or above `from`, with its Acknowledge button and no acknowledgement yet.
fn is_waiting_alert(message: &PostedMessage, from: Severity) -> bool {
    let severity = message
        .content
        .split('`')
        .nth(1)
        .and_then(|word| word.parse::<Severity>().ok());
    let acknowledged = message.has_field("Acknowledged");
    let has_ack_button = message.custom_ids().any(|id| id.starts_with("ack:"));
    severity.is_some_and(|s| s >= from) && !acknowledged && has_ack_button
}

/// The follow-up message for an alert that has waited `waited`.
pub fn followup(alert_id: &str, number: u32, waited: Duration, policy: &Policy) -> CreateMessage {
    let minutes = waited.as_secs() / 60;
    let waited = if minutes > 0 {
        format!("{minutes} min")
    } else {
        format!("{} s", waited.as_secs())
    };
    let mention = policy.role.map(|r| format!("<@&{r}> ")).unwrap_or_default();
    let nonce = hex::encode(Sha256::digest(
        format!("escalation:{alert_id}:{number}").as_bytes(),
    ));
    CreateMessage {
        content: Some(format!(
            "{mention}{MARK} after {waited} (follow-up {number} of {}). Press **Acknowledge** on the alert above to take it.",
            policy.max
        )),
        allowed_mentions: AllowedMentions {
            parse: Vec::new(),
            roles: policy.role.map(|r| vec![r.to_string()]).unwrap_or_default(),
        },
        nonce: Some(nonce[..NONCE_MAX].to_owned()),
        enforce_nonce: true,
        message_reference: Some(MessageReference {
            message_id: alert_id.to_owned(),
            fail_if_not_exists: false,
        }),
        ..CreateMessage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const BOT: &str = "900000000000000002";

    fn id_at(ms: u64) -> String {
        ((ms - DISCORD_EPOCH_MS) << 22).to_string()
    }

    fn posted(m: Value) -> PostedMessage {
        serde_json::from_value(m).unwrap()
    }

    fn alert(id: &str, severity: &str, acknowledged: bool) -> Value {
        let fields = if acknowledged {
            json!([{"name": "Acknowledged", "value": "by <@1>"}])
        } else {
            json!([])
        };
        json!({"id": id, "author": {"id": BOT}, "content": format!("🚨 `{severity}` **IAM user created: x**"),
               "embeds": [{"fields": fields}], "components": [{"components": [{"custom_id": "ack:e1"}]}]})
    }

    fn reply(to: &str, id: &str) -> Value {
        json!({"id": id, "author": {"id": BOT}, "content": format!("<@&7> {MARK} after 15 min"),
               "message_reference": {"message_id": to}})
    }

    const POLICY: Policy = Policy {
        from: Severity::High,
        after: Duration::from_secs(900),
        max: 2,
        role: Some(7),
    };

    #[test]
    fn a_waiting_severe_alert_is_escalated_at_each_interval_up_to_the_maximum() {
        let t0 = 1_800_000_000_000;
        let a = id_at(t0);
        let messages = vec![posted(alert(&a, "critical", false))];
        assert!(
            due(&messages, BOT, t0 + 899_000, &POLICY).is_empty(),
            "not yet"
        );
        let first = due(&messages, BOT, t0 + 900_000, &POLICY);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].number, 1);
        let m = &first[0].message;
        assert!(m.content.as_ref().unwrap().starts_with("<@&7> ⏰"));
        assert_eq!(m.allowed_mentions.roles, ["7"]);
        assert_eq!(m.message_reference.as_ref().unwrap().message_id, a);
        // One follow-up made: the next is due at twice the interval, and none after the maximum.
        let mut messages = messages;
        messages.push(posted(reply(&a, &id_at(t0 + 900_500))));
        assert!(due(&messages, BOT, t0 + 1_000_000, &POLICY).is_empty());
        assert_eq!(due(&messages, BOT, t0 + 1_800_000, &POLICY)[0].number, 2);
        messages.push(posted(reply(&a, &id_at(t0 + 1_800_500))));
        assert!(due(&messages, BOT, t0 + 9_000_000, &POLICY).is_empty());
    }

    #[test]
    fn acknowledged_routine_and_foreign_messages_are_left_alone() {
        let t0 = 1_800_000_000_000;
        let later = t0 + 10_000_000;
        let mut foreign = alert(&id_at(t0), "critical", false);
        foreign["author"]["id"] = json!("123");
        for m in [
            alert(&id_at(t0), "critical", true),
            alert(&id_at(t0), "medium", false),
            foreign,
        ] {
            assert!(due(&[posted(m)], BOT, later, &POLICY).is_empty());
        }
    }
}
