//! The Discord create-message payload (`POST /channels/{id}/messages`), and Discord's size limits.
//!
//! Own types rather than serenity's builders: the payload is what the core produces, `iam-alarm render`
//! prints, and the delivery code posts verbatim, so it must be plain data that serialises exactly.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::text::{discord_len, truncate};

pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 4096;
pub const FIELDS_MAX: usize = 25;
pub const FIELD_NAME_MAX: usize = 256;
pub const FIELD_VALUE_MAX: usize = 1024;
pub const FOOTER_MAX: usize = 2048;
pub const AUTHOR_MAX: usize = 256;
pub const EMBEDS_TOTAL_MAX: usize = 6000;
pub const EMBEDS_MAX: usize = 10;
pub const CONTENT_MAX: usize = 2000;
pub const ROWS_MAX: usize = 5;
pub const BUTTONS_PER_ROW_MAX: usize = 5;
pub const CUSTOM_ID_MAX: usize = 100;
pub const BUTTON_LABEL_MAX: usize = 80;
pub const NONCE_MAX: usize = 25;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default)]
    pub embeds: Vec<Embed>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ActionRow>,
    pub allowed_mentions: AllowedMentions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enforce_nonce: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u64>,
    /// Makes the message a reply (an escalation under its alert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_reference: Option<MessageReference>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageReference {
    pub message_id: String,
    /// A deleted alert must not stop its follow-up.
    pub fail_if_not_exists: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Embed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<EmbedAuthor>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<EmbedField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<EmbedFooter>,
    /// ISO-8601; Discord shows it in each viewer's own time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedAuthor {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedField {
    /// Field names are ours, never from an event: mostly constants.
    pub name: Cow<'static, str>,
    pub value: String,
    #[serde(default)]
    pub inline: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedFooter {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRow {
    /// Always 1 (action row).
    #[serde(rename = "type")]
    pub kind: u8,
    pub components: Vec<Button>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    /// Always 2 (button).
    #[serde(rename = "type")]
    pub kind: u8,
    pub style: ButtonStyle,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum ButtonStyle {
    Primary,
    Secondary,
    Success,
    Danger,
    Link,
}

impl From<ButtonStyle> for u8 {
    fn from(s: ButtonStyle) -> u8 {
        match s {
            ButtonStyle::Primary => 1,
            ButtonStyle::Secondary => 2,
            ButtonStyle::Success => 3,
            ButtonStyle::Danger => 4,
            ButtonStyle::Link => 5,
        }
    }
}

impl TryFrom<u8> for ButtonStyle {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        Ok(match v {
            1 => ButtonStyle::Primary,
            2 => ButtonStyle::Secondary,
            3 => ButtonStyle::Success,
            4 => ButtonStyle::Danger,
            5 => ButtonStyle::Link,
            other => return Err(format!("unknown button style {other}")),
        })
    }
}

impl Button {
    pub fn action(style: ButtonStyle, label: &str, custom_id: String) -> Button {
        Button {
            kind: 2,
            style,
            label: truncate(label, BUTTON_LABEL_MAX),
            custom_id: Some(custom_id),
            url: None,
            disabled: false,
        }
    }

    pub fn link(label: &str, url: String) -> Button {
        Button {
            kind: 2,
            style: ButtonStyle::Link,
            label: truncate(label, BUTTON_LABEL_MAX),
            custom_id: None,
            url: Some(url),
            disabled: false,
        }
    }
}

impl ActionRow {
    pub fn new(components: Vec<Button>) -> ActionRow {
        ActionRow {
            kind: 1,
            components,
        }
    }
}

/// `{"parse": []}`: nobody is pinged, whatever the text contains — except the roles listed (the responder role,
/// for a severe alert).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedMentions {
    pub parse: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl Embed {
    /// The characters that count towards the 6,000 total of a message.
    pub fn total_len(&self) -> usize {
        self.measure(discord_len)
    }

    /// The bytes of its texts (never fewer than [`Embed::total_len`] counts).
    pub fn text_bytes(&self) -> usize {
        self.measure(str::len)
    }

    /// The total of the counted texts, each measured by `len`.
    fn measure(&self, len: fn(&str) -> usize) -> usize {
        let opt = |s: &Option<String>| s.as_deref().map_or(0, len);
        opt(&self.title)
            + opt(&self.description)
            + self.author.as_ref().map_or(0, |a| len(&a.name))
            + self.footer.as_ref().map_or(0, |f| len(&f.text))
            + self
                .fields
                .iter()
                .map(|f| len(&f.name) + len(&f.value))
                .sum::<usize>()
    }

    /// Shrink the longest field values until the embed fits `budget` (never below a stub with "…").
    pub fn fit(&mut self, budget: usize) {
        // A UTF-8 byte count is never below the unit count: an embed whose bytes fit needs no counting.
        if self.text_bytes() <= budget {
            return;
        }
        while self.total_len() > budget {
            let excess = self.total_len() - budget;
            let Some(longest) = self
                .fields
                .iter_mut()
                .filter(|f| discord_len(&f.value) > 16)
                .max_by_key(|f| discord_len(&f.value))
            else {
                break;
            };
            let len = discord_len(&longest.value);
            let new_len = len.saturating_sub(excess).max(len / 2).max(16);
            longest.value = truncate(&longest.value, new_len);
        }
        let total = self.total_len();
        if total > budget {
            if let Some(d) = &mut self.description {
                let other = total - discord_len(d);
                *d = truncate(d, budget.saturating_sub(other).max(1));
            }
        }
    }
}

impl CreateMessage {
    // A checklist of Discord's limits, one line each, in the order its documentation gives them. (Longer than
    // 60 lines for that reason.)
    /// Every Discord limit this payload breaks (empty when it would be accepted).
    pub fn limit_violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        let check = |v: &mut Vec<String>, what: &str, len: usize, max: usize| {
            if len > max {
                v.push(format!("{what}: {len} > {max}"));
            }
        };
        if let Some(c) = &self.content {
            check(&mut v, "content", discord_len(c), CONTENT_MAX);
        }
        check(&mut v, "embeds", self.embeds.len(), EMBEDS_MAX);
        check(
            &mut v,
            "embeds total",
            self.embeds.iter().map(Embed::total_len).sum(),
            EMBEDS_TOTAL_MAX,
        );
        for e in &self.embeds {
            for (what, text) in [("title", &e.title), ("description", &e.description)] {
                if text.as_deref().is_some_and(|t| t.trim().is_empty()) {
                    v.push(format!("blank {what}"));
                }
            }
            let opt = |s: &Option<String>| s.as_deref().map_or(0, discord_len);
            check(&mut v, "title", opt(&e.title), TITLE_MAX);
            check(&mut v, "description", opt(&e.description), DESCRIPTION_MAX);
            check(&mut v, "fields", e.fields.len(), FIELDS_MAX);
            if let Some(a) = &e.author {
                check(&mut v, "author name", discord_len(&a.name), AUTHOR_MAX);
            }
            if let Some(f) = &e.footer {
                check(&mut v, "footer", discord_len(&f.text), FOOTER_MAX);
            }
            for f in &e.fields {
                check(&mut v, "field name", discord_len(&f.name), FIELD_NAME_MAX);
                check(
                    &mut v,
                    "field value",
                    discord_len(&f.value),
                    FIELD_VALUE_MAX,
                );
                if f.name.trim().is_empty() || f.value.trim().is_empty() {
                    v.push("empty field name or value".to_owned());
                }
            }
        }
        check(&mut v, "action rows", self.components.len(), ROWS_MAX);
        for row in &self.components {
            check(
                &mut v,
                "buttons in a row",
                row.components.len(),
                BUTTONS_PER_ROW_MAX,
            );
            for b in &row.components {
                if let Some(id) = &b.custom_id {
                    check(&mut v, "custom_id", id.len(), CUSTOM_ID_MAX);
                }
                check(
                    &mut v,
                    "button label",
                    discord_len(&b.label),
                    BUTTON_LABEL_MAX,
                );
            }
        }
        if let Some(n) = &self.nonce {
            check(&mut v, "nonce", n.len(), NONCE_MAX);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(value: &str) -> EmbedField {
        EmbedField {
            name: "Name".into(),
            value: value.to_owned(),
            inline: false,
        }
    }

    #[test]
    fn fit_shrinks_the_longest_values_and_marks_the_cut() {
        let mut embed = Embed {
            title: Some("t".repeat(100)),
            fields: vec![
                field(&"a".repeat(1000)),
                field(&"b".repeat(300)),
                field("short"),
            ],
            ..Embed::default()
        };
        embed.fit(800);
        assert!(embed.total_len() <= 800, "{}", embed.total_len());
        assert!(embed.fields[0].value.ends_with('…'), "the cut shows");
        assert_eq!(
            embed.fields[2].value, "short",
            "short values are left alone"
        );
        assert_eq!(embed.title.as_deref().map(str::len), Some(100));
    }

    #[test]
    fn an_embed_that_fits_is_left_as_it_is() {
        let before = Embed {
            description: Some("fine".into()),
            fields: vec![field("x")],
            ..Embed::default()
        };
        let mut after = before.clone();
        after.fit(EMBEDS_TOTAL_MAX);
        assert_eq!(after, before);
    }

    #[test]
    fn every_limit_is_named_when_broken() {
        let mut m = CreateMessage {
            content: Some("c".repeat(CONTENT_MAX + 1)),
            embeds: vec![Embed {
                title: Some(" ".into()),
                fields: vec![field(&"v".repeat(FIELD_VALUE_MAX + 1))],
                ..Embed::default()
            }],
            components: vec![ActionRow::new(vec![Button::action(
                ButtonStyle::Primary,
                "ok",
                "x".repeat(CUSTOM_ID_MAX + 1),
            )])],
            nonce: Some("n".repeat(NONCE_MAX + 1)),
            ..CreateMessage::default()
        };
        let v = m.limit_violations();
        for what in [
            "content",
            "blank title",
            "field value",
            "custom_id",
            "nonce",
        ] {
            assert!(v.iter().any(|l| l.starts_with(what)), "{what} in {v:?}");
        }
        m = CreateMessage::default();
        assert!(m.limit_violations().is_empty());
    }

    #[test]
    fn the_wire_form_is_discords() {
        let m = CreateMessage {
            components: vec![ActionRow::new(vec![Button::action(
                ButtonStyle::Success,
                "Acknowledge",
                "ack:e-1".into(),
            )])],
            ..CreateMessage::default()
        };
        let wire = serde_json::to_value(&m).unwrap();
        assert_eq!(wire["allowed_mentions"], serde_json::json!({"parse": []}));
        let button = &wire["components"][0]["components"][0];
        assert_eq!(wire["components"][0]["type"], 1);
        assert_eq!(button["type"], 2);
        assert_eq!(button["style"], 3);
        assert!(wire.get("nonce").is_none() && wire.get("enforce_nonce").is_none());
    }
}
