//! The question loop ("was this you?", see `iam_alarm_commands::ask`): ask about each alert the poller hands
//! over, and, every tick, read the alert channel back for questions that waited their time — so a question asked
//! before a restart still ends in "no answer" after it.

use std::sync::Arc;
use std::time::Duration;

use iam_alarm_commands::ask::{Asker, Question};
use iam_alarm_core::metrics::now_unix;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::delivery::BotRest;

pub struct Questions {
    pub asker: Asker,
    pub incoming: mpsc::Receiver<Question>,
    /// Reads the channel back (shared with the poller: one rate-limit bucket).
    pub rest: Arc<BotRest>,
    pub channel: u64,
}

impl Questions {
    /// Run until shutdown.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let timeout = self.asker.timeout();
        // A quarter of the time a question waits, so "no answer" is at most a quarter late; 1 s to a minute.
        let tick = (timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        let mut sweeps = tokio::time::interval(tick);
        sweeps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut bot_user = None;
        loop {
            tokio::select! {
                Some(question) = self.incoming.recv() => self.asker.ask(&question).await,
                _ = sweeps.tick() => {
                    if bot_user.is_none() {
                        bot_user = self.rest.current_user_id().await.ok();
                    }
                    if let Some(bot) = &bot_user {
                        self.sweep(bot, timeout).await;
                    }
                }
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Mark the questions that waited their time, however long the bot was down (a day back, and the wait).
    async fn sweep(&self, bot: &str, timeout: Duration) {
        let now = now_unix();
        let horizon = timeout + Duration::from_secs(24 * 3600);
        let messages = match self.rest.messages_within(self.channel, horizon).await {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "cannot read the alert channel for unanswered questions");
                return;
            }
        };
        for (alert, person) in
            iam_alarm_core::ask::timed_out(&messages, bot, now, timeout.as_secs())
        {
            let Ok(alert) = alert.parse::<u64>() else {
                continue;
            };
            self.asker.no_answer(alert, person).await;
        }
    }
}
