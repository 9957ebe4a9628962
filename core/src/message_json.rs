//! The create-message payload as the JSON body Discord receives, written directly.
//!
//! Byte for byte what `serde_json::to_vec` writes for these types (tests hold the two equal for every field,
//! any text, and every alert, digest and webhook message the fixtures render), with fewer steps per token: the
//! body is written for every post. A field added to a payload type must be added here too; the test that
//! sets every field fails to compile until it sets the new one, and then fails until it is written here.

use crate::message::{
    ActionRow, AllowedMentions, Button, CreateMessage, Embed, EmbedField, EmbedFooter,
};

impl CreateMessage {
    /// The JSON body to post.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.json_size());
        self.write(&mut out);
        out
    }

    /// Enough bytes for the body in all but unusual cases (escapes add a little).
    fn json_size(&self) -> usize {
        let embeds: usize = self
            .embeds
            .iter()
            .map(|e| e.text_bytes() + 48 * e.fields.len() + 192)
            .sum();
        384 + self.content.as_ref().map_or(0, String::len) + embeds + 320 * self.components.len()
    }

    fn write(&self, out: &mut Vec<u8>) {
        let mut o = Object::begin(out);
        if let Some(content) = &self.content {
            string(o.key("content"), content);
        }
        array(o.key("embeds"), &self.embeds, Embed::write);
        if !self.components.is_empty() {
            array(o.key("components"), &self.components, ActionRow::write);
        }
        self.allowed_mentions.write(o.key("allowed_mentions"));
        if let Some(nonce) = &self.nonce {
            string(o.key("nonce"), nonce);
        }
        if self.enforce_nonce {
            o.key("enforce_nonce").extend_from_slice(b"true");
        }
        if let Some(flags) = self.flags {
            number(o.key("flags"), flags);
        }
        o.end();
    }
}

impl Embed {
    fn write(&self, out: &mut Vec<u8>) {
        let mut o = Object::begin(out);
        if let Some(title) = &self.title {
            string(o.key("title"), title);
        }
        if let Some(description) = &self.description {
            string(o.key("description"), description);
        }
        if let Some(url) = &self.url {
            string(o.key("url"), url);
        }
        if let Some(color) = self.color {
            number(o.key("color"), u64::from(color));
        }
        if let Some(author) = &self.author {
            let mut a = Object::begin(o.key("author"));
            string(a.key("name"), &author.name);
            a.end();
        }
        if !self.fields.is_empty() {
            array(o.key("fields"), &self.fields, EmbedField::write);
        }
        if let Some(footer) = &self.footer {
            footer.write(o.key("footer"));
        }
        if let Some(timestamp) = &self.timestamp {
            string(o.key("timestamp"), timestamp);
        }
        o.end();
    }
}

impl EmbedField {
    fn write(&self, out: &mut Vec<u8>) {
        let mut o = Object::begin(out);
        string(o.key("name"), &self.name);
        string(o.key("value"), &self.value);
        o.key("inline")
            .extend_from_slice(if self.inline { b"true" } else { b"false" });
        o.end();
    }
}

impl EmbedFooter {
    fn write(&self, out: &mut Vec<u8>) {
        let mut o = Object::begin(out);
        string(o.key("text"), &self.text);
        o.end();
    }
}

impl ActionRow {
    fn write(&self, out: &mut Vec<u8>) {
        let mut o = Object::begin(out);
        number(o.key("type"), u64::from(self.kind));
        array(o.key("components"), &self.components, Button::write);
        o.end();
    }
}

impl Button {
    fn write(&self, out: &mut Vec<u8>) {
        let mut o = Object::begin(out);
        number(o.key("type"), u64::from(self.kind));
        number(o.key("style"), u64::from(u8::from(self.style)));
        string(o.key("label"), &self.label);
        if let Some(id) = &self.custom_id {
            string(o.key("custom_id"), id);
        }
        if let Some(url) = &self.url {
            string(o.key("url"), url);
        }
        if self.disabled {
            o.key("disabled").extend_from_slice(b"true");
        }
        o.end();
    }
}

impl AllowedMentions {
    fn write(&self, out: &mut Vec<u8>) {
        let mut o = Object::begin(out);
        array(o.key("parse"), &self.parse, |s, out| string(out, s));
        o.end();
    }
}

/// An object being written: commas between members, the braces around them.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Object<'o> {
    fn begin(out: &'o mut Vec<u8>) -> Object<'o> {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Write a member's key (one of ours: nothing to escape) and hand back the place for its value.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

fn array<T>(out: &mut Vec<u8>, items: &[T], write: impl Fn(&T, &mut Vec<u8>)) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(item, out);
    }
    out.push(b']');
}

fn number(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A string literal, escaped as serde_json escapes it: quote, backslash and control characters only.
fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most values need no escape: a scan without an early exit tells that fastest, then one copy.
    let plain = !bytes.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0A => b'n',
            0x0C => b'f',
            0x0D => b'r',
            0x00..=0x1F => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        if short == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xF)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', short]);
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ButtonStyle, EmbedAuthor};
    use proptest::prelude::*;

    fn full(text: &str) -> CreateMessage {
        CreateMessage {
            content: Some(text.to_owned()),
            embeds: vec![
                Embed {
                    title: Some(text.to_owned()),
                    description: Some(text.to_owned()),
                    url: Some(text.to_owned()),
                    color: Some(0xD32F2F),
                    author: Some(EmbedAuthor {
                        name: text.to_owned(),
                    }),
                    fields: vec![
                        EmbedField {
                            name: text.to_owned().into(),
                            value: text.to_owned(),
                            inline: true,
                        },
                        EmbedField {
                            name: "static".into(),
                            value: String::new(),
                            inline: false,
                        },
                    ],
                    footer: Some(EmbedFooter {
                        text: text.to_owned(),
                    }),
                    timestamp: Some(text.to_owned()),
                },
                Embed::default(),
            ],
            components: vec![ActionRow::new(vec![
                Button::action(ButtonStyle::Success, text, text.to_owned()),
                Button {
                    kind: 2,
                    style: ButtonStyle::Link,
                    label: text.to_owned(),
                    custom_id: Some(text.to_owned()),
                    url: Some(text.to_owned()),
                    disabled: true,
                },
            ])],
            allowed_mentions: AllowedMentions {
                parse: vec![text.to_owned(), String::new()],
            },
            nonce: Some(text.to_owned()),
            enforce_nonce: true,
            flags: Some(u64::MAX),
        }
    }

    #[test]
    fn writes_what_serde_json_writes_for_every_field_set_and_unset() {
        for message in [
            full("a \"quoted\" \\ value\n\t\u{1}\u{1f}\u{7f} é 😀"),
            CreateMessage::default(),
        ] {
            assert_eq!(
                String::from_utf8(message.to_json()).unwrap(),
                serde_json::to_string(&message).unwrap()
            );
            let back: CreateMessage = serde_json::from_slice(&message.to_json()).unwrap();
            assert_eq!(back, message);
        }
    }

    #[test]
    fn numbers_are_written_in_full() {
        for n in [0, 7, 10, 99, 16_096_779, u64::MAX] {
            let mut out = Vec::new();
            number(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    proptest! {
        #[test]
        fn any_text_is_escaped_as_serde_json_escapes_it(text in any::<String>()) {
            let message = full(&text);
            prop_assert_eq!(
                String::from_utf8(message.to_json()).unwrap(),
                serde_json::to_string(&message).unwrap()
            );
        }
    }
}
