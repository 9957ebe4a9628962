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
    /// `act:k:<account>:<AccessKeyId>` / `act:u:<account>:<user name>` (`-` for an account the record does
    /// not name): the actor's recent CloudTrail activity, read in that account.
    Activity(Activity),
    /// `snz:<account|->:<event name>`: snooze alerts like this one (the modal is prefilled from it).
    Snooze {
        account: Option<String>,
        event_name: String,
    },
}

/// Whose activity, and where: the account travels in the button, never read from displayed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub lookup: ActivityLookup,
    /// The account the event was recorded in; `None`: the bot's own.
    pub account: Option<String>,
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
            ButtonId::Activity(a) => {
                let (prefix, value) = a.lookup.parts();
                concat(&[prefix, a.account.as_deref().unwrap_or("-"), ":", value])
            }
            ButtonId::Snooze {
                account,
                event_name,
            } => concat(&[SNOOZE, account.as_deref().unwrap_or("-"), ":", event_name]),
        }
    }

    pub fn parse(id: &str) -> Option<ButtonId> {
        if let Some(key) = id.strip_prefix(ACK) {
            return Some(ButtonId::Acknowledge(key.to_owned()));
        }
        if let Some(rest) = id.strip_prefix(SNOOZE) {
            let (account, event_name) = rest.split_once(':')?;
            let account = match account {
                "-" => None,
                a if crate::accounts::is_account_id(a) => Some(a.to_owned()),
                _ => return None,
            };
            let valid =
                !event_name.is_empty() && event_name.chars().all(|c| c.is_ascii_alphanumeric());
            return valid.then(|| ButtonId::Snooze {
                account,
                event_name: event_name.to_owned(),
            });
        }
        let rest = id.strip_prefix("act:")?;
        let (kind, rest) = rest.split_once(':')?;
        // The account first; buttons made before it was carried read the bot's own account.
        let (account, value) = match rest.split_once(':') {
            Some((a, v)) if crate::accounts::is_account_id(a) => (Some(a.to_owned()), v),
            Some(("-", v)) => (None, v),
            _ => (None, rest),
        };
        if value.is_empty() {
            return None;
        }
        let lookup = match kind {
            "k" => ActivityLookup::AccessKey(value.to_owned()),
            "u" => ActivityLookup::UserName(value.to_owned()),
            _ => return None,
        };
        Some(ButtonId::Activity(Activity { lookup, account }))
    }
}

const ACK: &str = "ack:";
const SNOOZE: &str = "snz:";

impl ActivityLookup {
    /// The id's prefix and the value after it.
    fn parts(&self) -> (&'static str, &str) {
        match self {
            ActivityLookup::AccessKey(k) => ("act:k:", k),
            ActivityLookup::UserName(u) => ("act:u:", u),
        }
    }
}

/// The Recent activity button's request for an event's actor, in the event's account: its access key when it
/// has one, else its name; none when the encoded id would not fit Discord's 100 characters (the lookup would be
/// wrong if cut).
pub fn activity(event: &Event) -> Option<Activity> {
    let account = event
        .account
        .clone()
        .filter(|a| crate::accounts::is_account_id(a));
    let room = CUSTOM_ID_MAX - account.as_deref().unwrap_or("-").len() - 1;
    let fits = |l: ActivityLookup| {
        let (prefix, value) = l.parts();
        (prefix.len() + value.len() <= room).then_some(l)
    };
    let lookup = event
        .actor
        .access_key_id
        .clone()
        .map(ActivityLookup::AccessKey)
        .and_then(&fits)
        .or_else(|| {
            event
                .actor
                .lookup_name
                .clone()
                .map(ActivityLookup::UserName)
                .and_then(&fits)
        })?;
    Some(Activity { lookup, account })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let activity = |lookup, account: Option<&str>| {
            ButtonId::Activity(Activity {
                lookup,
                account: account.map(str::to_owned),
            })
        };
        for b in [
            ButtonId::Acknowledge("3346344c-5a3e-429e-8405-420f98f75d6e".into()),
            activity(
                ActivityLookup::AccessKey("ASIAEXAMPLE".into()),
                Some("111122223333"),
            ),
            activity(ActivityLookup::UserName("alice@example.com".into()), None),
            ButtonId::Snooze {
                account: Some("111122223333".into()),
                event_name: "CreateUser".into(),
            },
            ButtonId::Snooze {
                account: None,
                event_name: "DeleteUser".into(),
            },
        ] {
            assert_eq!(ButtonId::parse(&b.encode()), Some(b));
        }
        // Buttons posted before the account travelled in them: the bot's own account.
        assert_eq!(
            ButtonId::parse("act:k:ASIAEXAMPLE"),
            Some(activity(
                ActivityLookup::AccessKey("ASIAEXAMPLE".into()),
                None
            ))
        );
        assert_eq!(ButtonId::parse("act:x:1"), None);
        assert_eq!(ButtonId::parse("hello"), None);
        assert_eq!(ButtonId::parse("snz:-:Create User"), None);
    }

    #[test]
    fn long_keys_still_fit() {
        let id = ButtonId::Acknowledge("x".repeat(300)).encode();
        assert!(id.len() <= CUSTOM_ID_MAX);
    }
}
