//! The escalation loop: every tick, read the alert channel back and post the follow-ups that are due (see
//! `iam_alarm_core::escalation`). Its state is the channel itself, so a restart picks up where it left off.

use std::sync::Arc;
use std::time::Duration;

use iam_alarm_core::escalation::{due, Policy};
use iam_alarm_core::metrics::now_unix;
use tracing::{info, warn};

use crate::delivery::BotRest;
use tokio_util::sync::CancellationToken;

pub struct Escalator {
    /// Shared with the poller's sink: one rate-limit bucket for the channel.
    rest: Arc<BotRest>,
    channel: u64,
    policy: Policy,
}

impl Escalator {
    pub fn new(rest: Arc<BotRest>, channel: u64, policy: Policy) -> Escalator {
        Escalator {
            rest,
            channel,
            policy,
        }
    }

    /// Run until shutdown.
    pub async fn run(self, shutdown: CancellationToken) {
        // A third of the interval, so a follow-up is at most a third late; at least 1 s, at most a minute.
        let tick = (self.policy.after / 3).clamp(Duration::from_secs(1), Duration::from_secs(60));
        let mut bot_user = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = shutdown.cancelled() => return,
            }
            if bot_user.is_none() {
                bot_user = self.rest.current_user_id().await.ok();
            }
            if let Some(bot) = &bot_user {
                self.escalate_due(bot).await;
            }
        }
    }

    async fn escalate_due(&self, bot: &str) {
        // Every alert that can still be due, however much the channel moved since: those younger than the last
        // follow-up's time, and a margin.
        let now_ms = u64::try_from(now_unix()).unwrap_or(0) * 1000;
        let horizon = self.policy.after * (self.policy.max + 1) + Duration::from_secs(3600);
        let messages = match self.rest.messages_within(self.channel, horizon).await {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "cannot read the alert channel to escalate");
                return;
            }
        };
        for followup in due(&messages, bot, now_ms, &self.policy) {
            self.rest.pacer().acquire().await;
            // The nonce makes a retry after a lost answer harmless; a failure is retried at the next tick.
            match self
                .rest
                .create_message(self.channel, &followup.message)
                .await
            {
                Ok(_) => {
                    info!(alert = %followup.alert_id, number = followup.number, "alert escalated");
                }
                Err(e) => warn!(alert = %followup.alert_id, error = %e, "cannot escalate"),
            }
        }
    }
}
