//! Where alerts go: a Discord channel through the bot's REST API, a Discord webhook, or the console.
//!
//! Delivery reports whether Discord *accepted* the alert; the poller deletes the SQS message only then.

pub mod console;
pub mod discord;
pub mod pacing;

use std::time::Duration;

use iam_alarm_core::message::CreateMessage;

pub use discord::{BotRest, Webhook};

/// Why a request reached no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Timeout,
    Connect,
    Network,
}

/// Why an alert was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// 429: Discord says when to come back.
    #[error("rate limited for {after:?}: {detail}")]
    RateLimited { after: Duration, detail: String },
    /// 5xx: Discord's trouble.
    #[error("Discord server error: {detail}")]
    ServerError { detail: String },
    /// 401/403/404: a wrong token, missing channel permissions, a deleted channel. Retried: nothing is lost
    /// while an operator fixes it.
    #[error("no access (check the token and the channel's permissions): {detail}")]
    Access { detail: String },
    /// No answer.
    #[error("cannot reach Discord ({kind:?}): {detail}")]
    Transport { kind: Transport, detail: String },
    /// An answer we could not read.
    #[error("unreadable answer from Discord: {detail}")]
    BadResponse { detail: String },
    /// Discord refused this very payload (400): retrying the same bytes cannot help.
    #[error("Discord rejected the message ({status}): {detail}")]
    Rejected { status: u16, detail: String },
}

impl DeliveryError {
    /// The label of `iam_alarm_discord_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            DeliveryError::RateLimited { .. } => "rate_limited",
            DeliveryError::ServerError { .. } => "server_error",
            DeliveryError::Access { .. } => "access",
            DeliveryError::Transport {
                kind: Transport::Timeout,
                ..
            } => "timeout",
            DeliveryError::Transport {
                kind: Transport::Connect,
                ..
            } => "connect",
            DeliveryError::Transport { .. } => "network",
            DeliveryError::BadResponse { .. } => "bad_response",
            DeliveryError::Rejected { .. } => "rejected",
        }
    }

    /// Whether sending the same message again may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, DeliveryError::Rejected { .. })
    }

    /// The wait Discord asked for, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::RateLimited { after, .. } => Some(*after),
            _ => None,
        }
    }
}

/// The configured destination.
pub enum Sink {
    /// The bot posts to the alert channel.
    Channel {
        rest: std::sync::Arc<BotRest>,
        channel_id: u64,
    },
    /// A webhook posts; no buttons.
    Webhook(Webhook),
    Console(console::Console),
}

impl Sink {
    /// Wait until the rate limit lets one message go, and take that slot. Nothing is sent yet, so this wait
    /// may be abandoned (at shutdown) without leaving a message half-posted.
    pub async fn wait_for_room(&self) {
        if let Some(pacer) = self.pacer() {
            pacer.acquire().await;
        }
    }

    /// Post one message; the console prints `text()` (the plain rendering, built only here) instead. The
    /// message's id, when it is one the bot can edit later (in the alert channel).
    pub async fn deliver(
        &self,
        message: &CreateMessage,
        text: &(dyn Fn() -> String + Sync),
    ) -> Result<Option<u64>, DeliveryError> {
        match self {
            Sink::Channel { rest, channel_id } => rest.create_message(*channel_id, message).await,
            Sink::Webhook(webhook) => webhook.execute(message).await.map(|()| None),
            Sink::Console(console) => {
                console.print(&text());
                Ok(None)
            }
        }
    }

    /// Whether an alert could go out now without waiting for Discord's rate limit (the console always can).
    pub fn has_room(&self) -> bool {
        self.pacer().is_none_or(pacing::Pacer::has_room)
    }

    /// How many alerts could go out now without waiting.
    pub fn room(&self) -> usize {
        self.pacer().map_or(usize::MAX, |p| p.room() as usize)
    }

    fn pacer(&self) -> Option<&pacing::Pacer> {
        match self {
            Sink::Channel { rest, .. } => Some(rest.pacer()),
            Sink::Webhook(webhook) => Some(webhook.pacer()),
            Sink::Console(_) => None,
        }
    }

    pub fn destination(&self) -> iam_alarm_core::render::Destination {
        match self {
            Sink::Webhook(_) => iam_alarm_core::render::Destination::Webhook,
            _ => iam_alarm_core::render::Destination::Bot,
        }
    }
}
