//! "Was this you?": the question an alert asks the person who acted (`PEOPLE`), and its answer, kept on the alert
//! itself — one embed field whose value says where it stands — so the channel is the audit trail and a restart
//! reads the state back from there.

use crate::event::Event;
use crate::message::{ActionRow, AllowedMentions, Button, ButtonStyle, CreateMessage, Embed};
use crate::posted::PostedMessage;
use crate::text::escape_capped;

/// The alert's field that holds the question and its answer.
pub const FIELD: &str = "Was this you?";

/// The most a reason may say (the modal enforces it; the alert shows it escaped).
pub const REASON_MAX: usize = 200;

/// What a button or modal of the question carries: which alert, whom it asks, and whether the alert is about
/// the pipeline itself (then no answer lowers it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskId {
    pub answer: Answer,
    pub alert: u64,
    pub person: u64,
    pub tamper: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// "Yes, it was me": opens the reason modal.
    Yes,
    /// "No, it wasn't me".
    No,
    /// The reason modal, submitted.
    Reason,
}

impl AskId {
    /// `ask:<y|n|r>:<alert message id>:<person's user id>[:t]`.
    pub fn encode(&self) -> String {
        let answer = match self.answer {
            Answer::Yes => "y",
            Answer::No => "n",
            Answer::Reason => "r",
        };
        let tamper = if self.tamper { ":t" } else { "" };
        format!("ask:{answer}:{}:{}{tamper}", self.alert, self.person)
    }

    pub fn parse(id: &str) -> Option<AskId> {
        let mut parts = id.strip_prefix("ask:")?.split(':');
        let answer = match parts.next()? {
            "y" => Answer::Yes,
            "n" => Answer::No,
            "r" => Answer::Reason,
            _ => return None,
        };
        let alert = parts.next()?.parse().ok()?;
        let person = parts.next()?.parse().ok()?;
        let tamper = match parts.next() {
            None => false,
            Some("t") => true,
            Some(_) => return None,
        };
        parts.next().is_none().then_some(AskId {
            answer,
            alert,
            person,
            tamper,
        })
    }

    pub fn with(self, answer: Answer) -> AskId {
        AskId { answer, ..self }
    }
}

/// Where a question stands, as its field says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Asked at Unix time `since`; no answer yet.
    Waiting { person: u64, since: i64 },
    /// The time ran out: a late answer is still taken.
    NoAnswer { person: u64 },
    /// Answered (yes or no): the answer stands.
    Answered,
    /// The question could not be delivered.
    Undeliverable,
}

impl State {
    /// The state a field value says; `None` for a value this bot did not write.
    pub fn of(value: &str) -> Option<State> {
        let person = || mentioned_user(value);
        if let Some(rest) = value.strip_prefix("❓ Asked ") {
            let since = rest.split("<t:").nth(1)?.split(':').next()?.parse().ok()?;
            return Some(State::Waiting {
                person: person()?,
                since,
            });
        }
        if value.starts_with("⏳ No answer from ") {
            return Some(State::NoAnswer { person: person()? });
        }
        if value.starts_with("✅ Confirmed by ") || value.starts_with("🚨 ") {
            return Some(State::Answered);
        }
        value
            .starts_with("✉️ Could not ask ")
            .then_some(State::Undeliverable)
    }

    /// Whether an answer is still taken.
    pub fn open(&self) -> bool {
        matches!(self, State::Waiting { .. } | State::NoAnswer { .. })
    }
}

/// "❓ Asked <@alice> <t:…:R> — waiting for an answer".
pub fn asked(person: u64, at: i64) -> String {
    format!("❓ Asked <@{person}> <t:{at}:R> — waiting for an answer")
}

/// "✅ Confirmed by <@alice>: <reason> (<t:…:f>)".
pub fn confirmed(person: u64, reason: &str, at: i64) -> String {
    let reason = escape_capped(reason.trim(), REASON_MAX);
    format!("✅ Confirmed by <@{person}>: {reason} (<t:{at}:f>)")
}

/// "🚨 <@alice> says this was NOT them (<t:…:f>)".
pub fn denied(person: u64, at: i64) -> String {
    format!("🚨 <@{person}> says this was NOT them (<t:{at}:f>)")
}

/// "⏳ No answer from <@alice> within 15 min".
pub fn no_answer(person: u64, waited_s: u64) -> String {
    let minutes = (waited_s / 60).max(1);
    format!("⏳ No answer from <@{person}> within {minutes} min")
}

/// "✉️ Could not ask <@alice>: <why>" (never retried: a closed inbox stays closed).
pub fn undeliverable(person: u64, why: &str) -> String {
    format!("✉️ Could not ask <@{person}>: {}", escape_capped(why, 200))
}

/// The reply under an alert whose actor says it was not them: the responders, at once.
pub fn not_me_call(person: u64, role: Option<u64>) -> String {
    let mention = role.map(|r| format!("<@&{r}> ")).unwrap_or_default();
    format!("{mention}🚨 <@{person}> says they did **not** do this: treat it as a compromise until shown otherwise.")
}

/// The direct message that asks: what happened, where, when, a link to the alert, and the two answers.
pub fn question(event: &Event, id: AskId, alert_link: &str) -> CreateMessage {
    let when = event.time.map_or_else(
        || "unknown".to_owned(),
        |t| format!("<t:{}:f>", t.timestamp()),
    );
    let account = event
        .account_name
        .as_deref()
        .or(event.account.as_deref())
        .unwrap_or("unknown");
    let description = format!(
        "An IAM alert names you as the one who acted:\n**{}**\nAccount: {}\nWhen: {when}\n[Open the alert]({alert_link})\n\nYour answer is written on the alert for the responders.",
        escape_capped(&crate::render::headline(event), 300),
        escape_capped(account, 120),
    );
    let buttons = vec![
        Button::action(
            ButtonStyle::Success,
            "Yes, it was me",
            id.with(Answer::Yes).encode(),
        ),
        Button::action(
            ButtonStyle::Danger,
            "No, it wasn't me",
            id.with(Answer::No).encode(),
        ),
    ];
    CreateMessage {
        embeds: vec![Embed {
            title: Some(FIELD.to_owned()),
            description: Some(description),
            color: Some(crate::render::colour::CHANGE),
            ..Embed::default()
        }],
        components: vec![ActionRow::new(buttons)],
        allowed_mentions: AllowedMentions::default(),
        ..CreateMessage::default()
    }
}

/// The questions that waited `timeout_s` or more without an answer, on alerts of ours: (alert id, person).
pub fn timed_out(
    messages: &[PostedMessage],
    bot_user: &str,
    now: i64,
    timeout_s: u64,
) -> Vec<(String, u64)> {
    let timeout = i64::try_from(timeout_s).unwrap_or(i64::MAX);
    messages
        .iter()
        .filter(|m| m.is_by(bot_user))
        .filter_map(|m| match State::of(m.field(FIELD)?) {
            Some(State::Waiting { person, since }) if now.saturating_sub(since) >= timeout => {
                Some((m.id.clone(), person))
            }
            _ => None,
        })
        .collect()
}

/// The user a field value mentions first (`<@123>`).
fn mentioned_user(value: &str) -> Option<u64> {
    let rest = value.split("<@").nth(1)?;
    rest.split('>').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_round_trip_and_strangers_are_refused() {
        let id = AskId {
            answer: Answer::Yes,
            alert: 1_300_000_000_000_000_001,
            person: 500_000_000_000_000_001,
            tamper: true,
        };
        assert_eq!(AskId::parse(&id.encode()), Some(id));
        assert!(id.encode().len() <= crate::message::CUSTOM_ID_MAX);
        let reason = id.with(Answer::Reason);
        assert_eq!(AskId::parse(&reason.encode()), Some(reason));
        for bad in [
            "ask:x:1:2",
            "ask:y:1",
            "ask:y:a:2",
            "ask:y:1:2:q",
            "ack:y:1:2",
            "ask:y:1:2:t:3",
        ] {
            assert_eq!(AskId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_field_says_where_the_question_stands() {
        assert_eq!(
            State::of(&asked(5, 1_800_000_000)),
            Some(State::Waiting {
                person: 5,
                since: 1_800_000_000
            })
        );
        assert_eq!(
            State::of(&no_answer(5, 900)),
            Some(State::NoAnswer { person: 5 })
        );
        assert_eq!(
            State::of(&confirmed(5, "new hire *bob*", 1)),
            Some(State::Answered)
        );
        assert_eq!(State::of(&denied(5, 1)), Some(State::Answered));
        assert_eq!(
            State::of(&undeliverable(5, "DMs closed")),
            Some(State::Undeliverable)
        );
        assert_eq!(State::of("someone else's words"), None);
        assert!(confirmed(5, "new hire *bob* @everyone", 1).contains("new hire \\*bob\\*"));
        assert!(no_answer(5, 900).ends_with("within 15 min"));
    }

    #[test]
    fn only_waiting_questions_of_ours_time_out() {
        let alert = |id: &str, author: &str, value: String| {
            json!({"id": id, "author": {"id": author},
                   "embeds": [{"fields": [{"name": FIELD, "value": value}]}]})
        };
        let listing = json!([
            alert("1", "9", asked(5, 1000)),
            alert("2", "9", asked(6, 1500)),
            alert("3", "9", confirmed(5, "ok", 1000)),
            alert("4", "7", asked(5, 1000)),
        ]);
        let messages = PostedMessage::from_listing(listing);
        assert_eq!(timed_out(&messages, "9", 1900, 900), [("1".to_owned(), 5)]);
        assert_eq!(timed_out(&messages, "9", 2400, 900).len(), 2);
    }
}
