//! The `custom_id`s of the alert's buttons. They carry what their handlers need, so a button keeps working
//! after a restart: the handler reads the id, not an in-memory collector (see docs/architecture.md, "State kept
//! in Discord messages").

use sha2::{Digest, Sha256};

use crate::event::Event;
use crate::message::CUSTOM_ID_MAX;
use crate::text::concat;

/// What a button press asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ButtonId {
    /// `ack:<eventID>`: take the alert.
    Acknowledge(String),
    /// `act:k:<AccessKeyId>` / `act:u:<user name>`: the actor's recent CloudTrail activity.
    Activity(ActivityLookup),
}

/// How to find the actor in CloudTrail's event history (one lookup attribute per call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityLookup {
    /// Exactly one session's calls.
    AccessKey(String),
    /// All calls by a user name (for an assumed role: the session name).
    UserName(String),
}

impl ButtonId {
    pub fn encode(&self) -> String {
        match self {
            ButtonId::Acknowledge(key) if ACK.len() + key.len() <= CUSTOM_ID_MAX => {
                concat(&[ACK, key])
            }
            // Only unusually long keys: the handler reads the key from the message footer anyway.
            ButtonId::Acknowledge(key) => concat(&[
                ACK,
                "h-",
                &hex::encode(&Sha256::digest(key.as_bytes())[..16]),
            ]),
            ButtonId::Activity(lookup) => {
                let (prefix, value) = lookup.parts();
                concat(&[prefix, value])
            }
        }
    }

    pub fn parse(id: &str) -> Option<ButtonId> {
        if let Some(key) = id.strip_prefix(ACK) {
            return Some(ButtonId::Acknowledge(key.to_owned()));
        }
        let rest = id.strip_prefix("act:")?;
        let (kind, value) = rest.split_once(':')?;
        if value.is_empty() {
            return None;
        }
        match kind {
            "k" => Some(ButtonId::Activity(ActivityLookup::AccessKey(
                value.to_owned(),
            ))),
            "u" => Some(ButtonId::Activity(ActivityLookup::UserName(
                value.to_owned(),
            ))),
            _ => None,
        }
    }
}

const ACK: &str = "ack:";

impl ActivityLookup {
    /// The id's prefix and the value after it.
    fn parts(&self) -> (&'static str, &str) {
        match self {
            ActivityLookup::AccessKey(k) => ("act:k:", k),
            ActivityLookup::UserName(u) => ("act:u:", u),
        }
    }
}

/// The lookup for an event's actor: its access key when it has one, else its name; none when the encoded id
/// would not fit Discord's 100 characters (the lookup would be wrong if cut).
pub fn activity_lookup(event: &Event) -> Option<ActivityLookup> {
    let fits = |l: ActivityLookup| {
        let (prefix, value) = l.parts();
        (prefix.len() + value.len() <= CUSTOM_ID_MAX).then_some(l)
    };
    event
        .actor
        .access_key_id
        .clone()
        .map(ActivityLookup::AccessKey)
        .and_then(fits)
        .or_else(|| {
            event
                .actor
                .lookup_name
                .clone()
                .map(ActivityLookup::UserName)
                .and_then(fits)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for b in [
            ButtonId::Acknowledge("3346344c-5a3e-429e-8405-420f98f75d6e".into()),
            ButtonId::Activity(ActivityLookup::AccessKey("ASIAEXAMPLE".into())),
            ButtonId::Activity(ActivityLookup::UserName("alice@example.com".into())),
        ] {
            assert_eq!(ButtonId::parse(&b.encode()), Some(b));
        }
        assert_eq!(ButtonId::parse("act:x:1"), None);
        assert_eq!(ButtonId::parse("hello"), None);
    }

    #[test]
    fn long_keys_still_fit() {
        let id = ButtonId::Acknowledge("x".repeat(300)).encode();
        assert!(id.len() <= CUSTOM_ID_MAX);
    }
}
