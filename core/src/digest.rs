//! Digests: when a burst outruns Discord's rate limit (about 5 messages per 5 seconds in a channel), the events
//! beyond it are grouped by actor and action into few messages that still name every affected user — up to 10
//! embeds and 6,000 characters per message, overflow continuing in the next message, never truncated away.

use sha2::{Digest as _, Sha256};

use crate::buttons::ButtonId;
use crate::event::{hex, Event, Outcome};
use crate::message::{
    ActionRow, AllowedMentions, Button, ButtonStyle, CreateMessage, Embed, EmbedField, EmbedFooter,
    EMBEDS_MAX, EMBEDS_TOTAL_MAX, NONCE_MAX,
};
use crate::render::{colour, Severity};
use crate::text::{code_capped, discord_len, escape_capped};

/// Room kept free in each message for the title, fields and footer of the last embed.
const DESCRIPTION_BUDGET: usize = 3_800;
const NAME_CAP: usize = 128;

/// Events grouped for one digest embed: same actor, same call, same outcome.
struct Group<'a> {
    events: Vec<&'a Event>,
}

impl Group<'_> {
    fn key(e: &Event) -> (String, String, bool) {
        (
            e.actor.display(),
            e.event_name.clone(),
            e.outcome.is_failure(),
        )
    }
}

/// One digest message, and the events it names (delete their queue messages once it is posted).
pub struct DigestMessage<'a> {
    pub message: CreateMessage,
    pub events: Vec<&'a Event>,
}

/// Group `events` into digest messages. Every target user of every event is named.
pub fn render_digests<'a>(events: &[&'a Event]) -> Vec<DigestMessage<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    for e in events {
        match groups
            .iter_mut()
            .find(|g| Group::key(g.events[0]) == Group::key(e))
        {
            Some(g) => g.events.push(e),
            None => groups.push(Group { events: vec![e] }),
        }
    }
    // Each group becomes one or more embeds, each with the events it lists.
    let mut embeds: Vec<(Embed, Vec<&'a Event>)> = Vec::new();
    for g in &groups {
        let mut part: Vec<&'a Event> = Vec::new();
        let mut names = String::new();
        for e in &g.events {
            let name = target(e);
            if !part.is_empty() && discord_len(&names) + discord_len(&name) + 2 > DESCRIPTION_BUDGET
            {
                embeds.push((
                    group_embed(&part, &names, g.events.len()),
                    std::mem::take(&mut part),
                ));
                names.clear();
            }
            if !names.is_empty() {
                names.push_str(", ");
            }
            names.push_str(&name);
            part.push(e);
        }
        if !part.is_empty() {
            embeds.push((group_embed(&part, &names, g.events.len()), part));
        }
    }
    // Pack embeds into messages: at most 10 embeds and 6,000 characters each.
    let mut out: Vec<DigestMessage<'a>> = Vec::new();
    let mut current: Vec<(Embed, Vec<&'a Event>)> = Vec::new();
    let mut total = 0;
    for (embed, evs) in embeds {
        let len = embed.total_len();
        if !current.is_empty() && (current.len() == EMBEDS_MAX || total + len > EMBEDS_TOTAL_MAX) {
            out.push(finish(std::mem::take(&mut current)));
            total = 0;
        }
        total += len;
        current.push((embed, evs));
    }
    if !current.is_empty() {
        out.push(finish(current));
    }
    out
}

fn target(e: &Event) -> String {
    match &e.target {
        Some(t) => code_capped(&t.user_name, NAME_CAP),
        None => "(no user named)".to_owned(),
    }
}

fn group_embed(part: &[&Event], names: &str, group_size: usize) -> Embed {
    let first = part[0];
    let severity = part
        .iter()
        .map(|e| Severity::of(e))
        .fold(Severity::Change, |worst, s| {
            if s.colour() == colour::ROOT || worst.colour() == colour::ROOT {
                Severity::Root
            } else if s == Severity::Failed || worst == Severity::Failed {
                Severity::Failed
            } else if s == Severity::Destructive || worst == Severity::Destructive {
                Severity::Destructive
            } else {
                Severity::Change
            }
        });
    let what = match (first.action, &first.outcome) {
        (Some(a), Outcome::Success) => a.headline().to_owned(),
        (Some(a), Outcome::Failure { .. }) => format!("Failed attempts to {}", a.attempt()),
        (None, _) => first.event_name.clone(),
    };
    let times: Vec<i64> = part
        .iter()
        .filter_map(|e| e.time.map(|t| t.timestamp()))
        .collect();
    let when = match (times.iter().min(), times.iter().max()) {
        (Some(a), Some(b)) if a != b => format!("<t:{a}:f> – <t:{b}:T>"),
        (Some(a), _) => format!("<t:{a}:f>"),
        _ => "not recorded".to_owned(),
    };
    let mut fields = vec![
        EmbedField {
            name: "Actor".into(),
            value: escape_capped(&first.actor.display(), 240),
            inline: true,
        },
        EmbedField {
            name: "Identity type".into(),
            value: escape_capped(first.actor.kind.label(), 64),
            inline: true,
        },
        EmbedField {
            name: "When".into(),
            value: when,
            inline: true,
        },
    ];
    if let Outcome::Failure { code, .. } = &first.outcome {
        fields.push(EmbedField {
            name: "Result".into(),
            value: format!("❌ Failed: {}", code_capped(code, 100)),
            inline: true,
        });
    }
    let count = if part.len() == group_size {
        format!("{}", part.len())
    } else {
        format!("{} of {group_size}", part.len())
    };
    Embed {
        title: Some(escape_capped(&format!("{count} × {what}"), 200)),
        description: Some(names.to_owned()),
        color: Some(severity.colour()),
        fields,
        ..Embed::default()
    }
}

fn finish<'a>(parts: Vec<(Embed, Vec<&'a Event>)>) -> DigestMessage<'a> {
    let events: Vec<&'a Event> = parts.iter().flat_map(|p| p.1.iter().copied()).collect();
    let mut embeds: Vec<Embed> = parts.into_iter().map(|p| p.0).collect();
    let digest = Sha256::digest(
        events
            .iter()
            .map(|e| e.key.as_str())
            .collect::<Vec<_>>()
            .join("\n")
            .as_bytes(),
    );
    let id = hex(&digest[..12]);
    if let Some(last) = embeds.last_mut() {
        last.footer = Some(EmbedFooter {
            text: format!(
                "digest of {} events · burst beyond Discord's rate limit",
                events.len()
            ),
        });
    }
    let ack = ButtonId::Acknowledge(format!("digest-{id}")).encode();
    DigestMessage {
        message: CreateMessage {
            content: Some(format!(
                "🔔 **{} IAM user changes** in a burst, grouped by actor and action",
                events.len()
            )),
            embeds,
            components: vec![ActionRow::new(vec![Button::action(
                ButtonStyle::Success,
                "Acknowledge",
                ack,
            )])],
            allowed_mentions: AllowedMentions::default(),
            nonce: Some(
                hex(&Sha256::digest(format!("digest:{id}").as_bytes()))[..NONCE_MAX].to_owned(),
            ),
            enforce_nonce: true,
            flags: None,
        },
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{classify, WatchedEvents};

    fn event(actor: &str, action: &str, user: &str, i: usize) -> Event {
        let record = serde_json::json!({
            "eventSource": "iam.amazonaws.com", "eventName": action, "eventID": format!("id-{i}"),
            "eventTime": "2026-11-20T09:00:00Z",
            "userIdentity": {"type": "IAMUser", "userName": actor},
            "requestParameters": {"userName": user}
        });
        classify(&record.to_string(), &WatchedEvents::all()).unwrap()
    }

    #[test]
    fn a_burst_names_every_user_within_limits() {
        let events: Vec<Event> = (0..1000)
            .map(|i| {
                event(
                    if i % 3 == 0 { "alice" } else { "terraform" },
                    if i % 2 == 0 {
                        "CreateUser"
                    } else {
                        "DeleteUser"
                    },
                    &format!("burst-user-{i:04}-{}", "x".repeat(i % 40)),
                    i,
                )
            })
            .collect();
        let refs: Vec<&Event> = events.iter().collect();
        let digests = render_digests(&refs);
        let mut named = 0;
        for d in &digests {
            assert_eq!(d.message.limit_violations(), Vec::<String>::new());
            let text = serde_json::to_string(&d.message).unwrap();
            assert_eq!(d.message.to_json(), text.as_bytes(), "the body we post");
            for e in &d.events {
                assert!(
                    text.contains(&e.target.as_ref().unwrap().user_name),
                    "{}",
                    e.key
                );
                named += 1;
            }
        }
        assert_eq!(named, 1000);
        assert!(digests.len() <= 12, "{} messages", digests.len());
        // Four groups: actor × action.
        let titles: usize = digests.iter().map(|d| d.message.embeds.len()).sum();
        assert!(titles >= 4);
    }
}
