//! The bot's own messages, read back from the alert channel (`GET /channels/{id}/messages`). The channel is the
//! bot's memory — what was posted (de-duplication), acknowledged and escalated, which pipeline problems are
//! open — so this is the one place that reads Discord's message objects; everything else asks it.

use serde::Deserialize;

/// One message as Discord returns it: only the parts the bot's memory is made of. Anything else Discord adds
/// is ignored, and a part that is missing reads as empty.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PostedMessage {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    author: Author,
    #[serde(default, deserialize_with = "null_as_default")]
    pub content: String,
    #[serde(default, deserialize_with = "null_as_default")]
    embeds: Vec<Embed>,
    #[serde(default, deserialize_with = "null_as_default")]
    components: Vec<Row>,
    #[serde(default)]
    message_reference: Option<Reference>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct Author {
    #[serde(default)]
    id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct Embed {
    #[serde(default, deserialize_with = "null_as_default")]
    description: String,
    #[serde(default)]
    footer: Option<Footer>,
    #[serde(default, deserialize_with = "null_as_default")]
    fields: Vec<Field>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct Footer {
    #[serde(default)]
    text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct Field {
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct Row {
    #[serde(default, deserialize_with = "null_as_default")]
    components: Vec<Component>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct Component {
    #[serde(default)]
    custom_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct Reference {
    #[serde(default)]
    message_id: Option<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl PostedMessage {
    /// The messages of a channel listing; one that is not a message object is left out, not fatal.
    pub fn from_listing(listing: serde_json::Value) -> Vec<PostedMessage> {
        match listing {
            serde_json::Value::Array(items) => items
                .into_iter()
                .filter_map(|m| serde_json::from_value(m).ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Posted by this user (the bot itself).
    pub fn is_by(&self, user: &str) -> bool {
        self.author.id == user
    }

    /// The message this one replies to.
    pub fn replies_to(&self) -> Option<&str> {
        self.message_reference.as_ref()?.message_id.as_deref()
    }

    /// The footer of each embed that has one.
    pub fn footers(&self) -> impl Iterator<Item = &str> {
        self.embeds
            .iter()
            .filter_map(|e| e.footer.as_ref().map(|f| f.text.as_str()))
    }

    /// The first embed's footer.
    pub fn footer(&self) -> Option<&str> {
        self.embeds
            .first()?
            .footer
            .as_ref()
            .map(|f| f.text.as_str())
    }

    /// The first embed's description.
    pub fn description(&self) -> Option<&str> {
        Some(self.embeds.first()?.description.as_str()).filter(|d| !d.is_empty())
    }

    /// Whether any embed has a field so named.
    pub fn has_field(&self, name: &str) -> bool {
        self.embeds
            .iter()
            .flat_map(|e| &e.fields)
            .any(|f| f.name == name)
    }

    /// The value of the first field so named.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.embeds
            .iter()
            .flat_map(|e| &e.fields)
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    /// The `custom_id` of every button.
    pub fn custom_ids(&self) -> impl Iterator<Item = &str> {
        self.components
            .iter()
            .flat_map(|r| &r.components)
            .filter_map(|c| c.custom_id.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_what_discord_returns_and_ignores_the_rest() {
        let listing = json!([
            {
                "id": "20", "type": 19, "content": "`high` **IAM user created**", "pinned": false,
                "author": {"id": "900", "username": "iam-alarm", "bot": true},
                "embeds": [{"type": "rich", "footer": {"text": "eventID e-1", "icon_url": null},
                            "fields": [{"name": "Acknowledged", "value": "by <@1>", "inline": false}]}],
                "components": [{"type": 1, "components": [
                    {"type": 2, "style": 3, "label": "Acknowledge", "custom_id": "ack:e-1"},
                    {"type": 2, "style": 5, "label": "Console", "url": "https://console.aws.amazon.com"}
                ]}],
                "message_reference": {"message_id": "10", "channel_id": "1"}
            },
            {"id": "21", "content": null, "embeds": null, "author": {"id": "5"}},
            "not a message"
        ]);
        let messages = PostedMessage::from_listing(listing);
        assert_eq!(messages.len(), 2);
        let m = &messages[0];
        assert!(m.is_by("900") && !m.is_by("5"));
        assert_eq!(m.replies_to(), Some("10"));
        assert_eq!(m.footer(), Some("eventID e-1"));
        assert!(m.has_field("Acknowledged") && !m.has_field("Severity"));
        assert_eq!(m.custom_ids().collect::<Vec<_>>(), ["ack:e-1"]);
        let empty = &messages[1];
        assert_eq!(empty.content, "");
        assert_eq!(empty.footers().count(), 0);
        assert_eq!(empty.replies_to(), None);
    }
}
