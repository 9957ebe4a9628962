//! Where alerts go: a Discord channel through the bot's REST API, a Discord webhook, or the console.
//!
//! Delivery reports whether Discord *accepted* the alert; the poller deletes the SQS message only then.

pub mod console;
pub mod discord;
pub mod pacing;

use std::time::Duration;

use iam_alarm_core::message::CreateMessage;

pub use discord::DiscordRest;

/// Why an alert was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: rate limits, server errors, timeouts, an unreachable or misconfigured Discord.
    #[error("{kind}: {detail}")]
    Retry {
        kind: &'static str,
        /// What Discord asked for (`retry_after`), if it did.
        after: Option<Duration>,
        detail: String,
    },
    /// Discord refused this very payload (400): retrying the same bytes cannot help.
    #[error("Discord rejected the message ({status}): {detail}")]
    Rejected { status: u16, detail: String },
}

impl DeliveryError {
    pub fn kind(&self) -> &'static str {
        match self {
            DeliveryError::Retry { kind, .. } => kind,
            DeliveryError::Rejected { .. } => "rejected",
        }
    }
}

/// The configured destination.
pub enum Sink {
    /// The bot posts to the alert channel.
    Channel {
        rest: DiscordRest,
        channel_id: u64,
    },
    /// A webhook posts; no buttons.
    Webhook {
        rest: DiscordRest,
    },
    Console(console::Console),
}

impl Sink {
    /// Post one message; the console prints `text()` (the plain rendering, built only here) instead.
    pub async fn deliver(
        &self,
        message: &CreateMessage,
        text: &(dyn Fn() -> String + Sync),
    ) -> Result<(), DeliveryError> {
        match self {
            Sink::Channel { rest, channel_id } => rest.create_message(*channel_id, message).await,
            Sink::Webhook { rest } => rest.execute_webhook(message).await,
            Sink::Console(console) => {
                console.print(&text());
                Ok(())
            }
        }
    }

    /// How long until the rate limit lets an alert go (zero: now).
    pub fn time_to_room(&self) -> std::time::Duration {
        match self {
            Sink::Channel { rest, .. } | Sink::Webhook { rest } => rest.time_to_room(),
            Sink::Console(_) => std::time::Duration::ZERO,
        }
    }

    /// Whether an alert could go out now without waiting for Discord's rate limit (the console always can).
    pub fn has_room(&self) -> bool {
        match self {
            Sink::Channel { rest, .. } | Sink::Webhook { rest } => rest.has_room(),
            Sink::Console(_) => true,
        }
    }

    pub fn destination(&self) -> iam_alarm_core::render::Destination {
        match self {
            Sink::Webhook { .. } => iam_alarm_core::render::Destination::Webhook,
            _ => iam_alarm_core::render::Destination::Bot,
        }
    }
}
