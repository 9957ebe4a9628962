//! Digests: when a burst outruns Discord's rate limit (about 5 messages per 5 seconds in a channel), the events
//! beyond it are grouped by actor and action into few messages that still name every affected user — up to 10
//! embeds and 6,000 characters per message, overflow continuing in the next message, never truncated away.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::buttons::ButtonId;
use crate::event::{Event, EventKey, Outcome};
use crate::message::{
    ActionRow, AllowedMentions, Button, ButtonStyle, CreateMessage, Embed, EmbedField, EmbedFooter,
    EMBEDS_MAX, EMBEDS_TOTAL_MAX, NONCE_MAX,
};
use crate::render::Tone;
use crate::severity::Severity;
use crate::text::{code_capped, discord_len, escape_capped};

/// The most of an embed's description the names may take (Discord allows 4,096).
const DESCRIPTION_BUDGET: usize = 4_000;
/// Room kept in a message for the title, fields and footer prefix of its embeds.
const EMBED_OVERHEAD: usize = 400;
const NAME_CAP: usize = 128;
/// Room kept free in each message for the field an acknowledgement adds ("Acknowledged: by <@id> <t:…:R>").
pub const ACK_ROOM: usize = 100;
/// Most events one embed lists: their short keys must fit its footer (2,048 characters).
const EVENTS_PER_EMBED: usize = 240;
/// The length of a short key.
const SHORT_KEY_LEN: usize = 8;
/// What starts the footer of a digest embed; the short keys of the events it names follow.
pub const KEYS_PREFIX: &str = "digest · keys ";

/// The short key of an event in a digest footer: 48 bits of its key's SHA-256 in 8 URL-safe base64 characters,
/// so a burst's events are told apart (two of 10,000 share one with odds of about 1 in 5 million) while the keys
/// of every event named fit beside the names. A restart reads them back so that no event of a digest is named
/// again after a crash between Discord creating the digest and us learning so.
pub fn short_key(key: &EventKey) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(key.as_str().as_bytes())[..6])
}

/// The short keys in a digest footer we wrote, written back to back (empty for any other footer).
pub fn short_keys_from_footer(footer: &str) -> Vec<&str> {
    let Some(keys) = footer.strip_prefix(KEYS_PREFIX) else {
        return Vec::new();
    };
    let ascii = keys.is_ascii() && keys.len() % SHORT_KEY_LEN == 0;
    let chunks = keys.as_bytes().chunks(SHORT_KEY_LEN);
    let keys = chunks.filter_map(|c| std::str::from_utf8(c).ok());
    if ascii {
        keys.collect()
    } else {
        Vec::new()
    }
}

/// How much of a digest message an event takes: its name and a space in the list, its short key in the footer.
pub fn listing_len(e: &Event) -> usize {
    discord_len(&target(e)) + " ".len() + SHORT_KEY_LEN
}

/// How many characters of listing (names and keys) fill one digest message.
pub const MESSAGE_LISTING_BUDGET: usize = EMBEDS_TOTAL_MAX - ACK_ROOM - EMBED_OVERHEAD;

/// Events grouped for one digest embed: same account, same actor, same call, same outcome.
type GroupKey = (Option<String>, String, String, bool);

fn group_key(e: &Event) -> GroupKey {
    (
        e.account.clone(),
        e.actor.display(),
        e.event_name.clone(),
        e.outcome.is_failure(),
    )
}

/// One digest message, and the events it names (delete their queue messages once it is posted).
pub struct DigestMessage<'a> {
    pub message: CreateMessage,
    pub events: Vec<&'a Event>,
}

/// Group `events` into digest messages. Every target user of every event is named.
pub fn render_digests<'a>(events: &[&'a Event]) -> Vec<DigestMessage<'a>> {
    // Groups in order of their first event; a map finds an event's group (linear in the events).
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    let mut groups: Vec<Vec<&'a Event>> = Vec::new();
    for e in events {
        let i = *index.entry(group_key(e)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(e);
    }
    let embeds: Vec<(Embed, Vec<&'a Event>)> =
        groups.iter().flat_map(|g| group_embeds(g)).collect();
    // Pack embeds into messages: at most 10 embeds, and 6,000 characters less room for an acknowledgement.
    let mut out: Vec<DigestMessage<'a>> = Vec::new();
    let mut current: Vec<(Embed, Vec<&'a Event>)> = Vec::new();
    let mut total = 0;
    for (embed, evs) in embeds {
        let len = embed.total_len();
        let full = current.len() == EMBEDS_MAX || total + len > EMBEDS_TOTAL_MAX - ACK_ROOM;
        if !current.is_empty() && full {
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

/// One group's embeds: as many as its names need, each with the events it lists.
fn group_embeds<'a>(group: &[&'a Event]) -> Vec<(Embed, Vec<&'a Event>)> {
    // An embed takes events while its names fit the description, its keys the footer, and both a message.
    let mut embeds = Vec::new();
    let mut part: Vec<&'a Event> = Vec::new();
    let (mut names, mut listing) = (0, 0);
    for e in group {
        let name = discord_len(&target(e)) + 1;
        let full = names + name > DESCRIPTION_BUDGET
            || listing + listing_len(e) > MESSAGE_LISTING_BUDGET
            || part.len() == EVENTS_PER_EMBED;
        if !part.is_empty() && full {
            embeds.push((group_embed(&part, group.len()), std::mem::take(&mut part)));
            (names, listing) = (0, 0);
        }
        names += name;
        listing += listing_len(e);
        part.push(e);
    }
    if !part.is_empty() {
        embeds.push((group_embed(&part, group.len()), part));
    }
    embeds
}

fn target(e: &Event) -> String {
    match &e.target {
        Some(t) => code_capped(&t.user_name, NAME_CAP),
        None => "(no user named)".to_owned(),
    }
}

fn group_embed(part: &[&Event], group_size: usize) -> Embed {
    let first = part[0];
    let names: Vec<String> = part.iter().map(|e| target(e)).collect();
    let keys: Vec<String> = part.iter().map(|e| short_key(&e.key)).collect();
    // A group looks as loud, and is as severe, as its loudest and most severe event.
    let tone = part
        .iter()
        .map(|e| Tone::of(e))
        .max()
        .unwrap_or(Tone::Change);
    let severity = worst(part);
    let what = match (first.action, &first.outcome) {
        (Some(a), Outcome::Success) => a.headline().to_owned(),
        (Some(a), Outcome::Failure { .. }) => format!("Failed attempts to {}", a.attempt()),
        (None, _) => first.event_name.clone(),
    };
    let when = time_range(part);
    let mut fields = vec![
        EmbedField {
            name: "Severity".into(),
            value: format!("**{severity}**"),
            inline: true,
        },
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
    if first.account.is_some() {
        fields.push(EmbedField {
            name: "Account".into(),
            value: crate::render::account_field(first),
            inline: true,
        });
    }
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
        description: Some(names.join(" ")),
        color: Some(tone.colour()),
        fields,
        footer: Some(EmbedFooter {
            text: format!("{KEYS_PREFIX}{}", keys.concat()),
        }),
        ..Embed::default()
    }
}

/// A digest is as severe as its most severe event.
fn worst(events: &[&Event]) -> Severity {
    events
        .iter()
        .map(|e| e.severity)
        .max()
        .unwrap_or(Severity::Medium)
}

/// When the events happened: one time, or the first and the last.
fn time_range(events: &[&Event]) -> String {
    let times: Vec<i64> = events
        .iter()
        .filter_map(|e| e.time.map(|t| t.timestamp()))
        .collect();
    match (times.iter().min(), times.iter().max()) {
        (Some(a), Some(b)) if a != b => format!("<t:{a}:f> – <t:{b}:T>"),
        (Some(a), _) => format!("<t:{a}:f>"),
        _ => "not recorded".to_owned(),
    }
}

fn finish<'a>(parts: Vec<(Embed, Vec<&'a Event>)>) -> DigestMessage<'a> {
    let events: Vec<&'a Event> = parts.iter().flat_map(|p| p.1.iter().copied()).collect();
    let embeds: Vec<Embed> = parts.into_iter().map(|p| p.0).collect();
    let digest = Sha256::digest(
        events
            .iter()
            .map(|e| e.key.as_str())
            .collect::<Vec<_>>()
            .join("\n")
            .as_bytes(),
    );
    let id = hex::encode(&digest[..12]);
    let ack = ButtonId::Acknowledge(format!("digest-{id}")).encode();
    DigestMessage {
        message: CreateMessage {
            content: Some(format!(
                "🔔 `{}` **{} IAM user changes** in a burst, grouped by actor and action",
                worst(&events),
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
                hex::encode(Sha256::digest(format!("digest:{id}").as_bytes()))[..NONCE_MAX]
                    .to_owned(),
            ),
            enforce_nonce: true,
            flags: None,
            message_reference: None,
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
            let total: usize = d.message.embeds.iter().map(Embed::total_len).sum();
            assert!(
                total + ACK_ROOM <= EMBEDS_TOTAL_MAX,
                "room for the acknowledgement"
            );
            for embed in &d.message.embeds {
                let footer = &embed.footer.as_ref().unwrap().text;
                assert_eq!(
                    short_keys_from_footer(footer).len(),
                    embed.description.as_ref().unwrap().split("` `").count()
                );
            }
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

    #[test]
    fn every_digest_still_fits_once_an_acknowledgement_is_added() {
        let ack = EmbedField {
            name: "Acknowledged".into(),
            value: "by <@123456789012345678> <t:1800000000:R>".to_owned(),
            inline: false,
        };
        // Bursts of groups of many sizes, with user names of many lengths: some messages come within a few
        // characters of 6,000.
        for seed in 0..120usize {
            let mut events = Vec::new();
            for group in 0..6 {
                let size = (seed * 7 + group * 13) % 37 + 1;
                for _ in 0..size {
                    let i = events.len();
                    let user = format!("{i:05}-{}", "x".repeat((seed + i * 5) % 58));
                    events.push(event(&format!("actor-{group}"), "CreateUser", &user, i));
                }
            }
            let refs: Vec<&Event> = events.iter().collect();
            for d in render_digests(&refs) {
                let mut acknowledged = d.message.clone();
                acknowledged.embeds[0].fields.push(ack.clone());
                assert_eq!(
                    acknowledged.limit_violations(),
                    Vec::<String>::new(),
                    "{seed}"
                );
            }
        }
    }
}
