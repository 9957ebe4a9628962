//! The snoozes' keeper: the pinned snooze messages are the truth (see `iam_alarm_core::snooze`). It reads them
//! at start and every half minute — so one unpinned or deleted by hand ends — and unpins the expired (their
//! message stays, saying until when it ran).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use iam_alarm_core::snooze::{Snooze, Snoozes};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::delivery::BotRest;

const EVERY: Duration = Duration::from_secs(30);

pub struct SnoozeKeeper {
    pub rest: Arc<BotRest>,
    pub channel: u64,
    pub snoozes: Arc<Snoozes>,
    /// The bot's own user id, asked once: only its pins are snoozes.
    pub bot: tokio::sync::OnceCell<String>,
}

impl SnoozeKeeper {
    /// Run until shutdown.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(EVERY) => self.refresh().await,
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Read the pins; keep the snoozes in force, unpin the expired. A failure keeps what it had.
    pub async fn refresh(&self) {
        let bot = match self
            .bot
            .get_or_try_init(|| self.rest.current_user_id())
            .await
        {
            Ok(b) => b,
            Err(e) => return warn!(error = %e, "cannot read the snoozes"),
        };
        let pins = match self.rest.pins(self.channel).await {
            Ok(p) => p,
            Err(e) => {
                return warn!(error = %e, "cannot read the alert channel's pins (snoozes); keeping those known")
            }
        };
        let now = chrono::Utc::now();
        let (in_force, expired): (Vec<Snooze>, Vec<Snooze>) = pins
            .iter()
            .filter(|m| m.is_by(bot))
            .filter_map(Snooze::from_message)
            .partition(|s| s.until > now);
        for snooze in expired {
            info!(what = %snooze.what, "snooze expired");
            if let Err(e) = self.rest.unpin(self.channel, &snooze.message_id).await {
                warn!(error = %e, "cannot unpin an expired snooze");
            }
        }
        self.snoozes.replace(in_force);
    }
}

/// `iam-alarm rules export`: the snoozes in force, as rules for `ALERT_RULES` (each with its author, reason and
/// expiry date), on stdout. Exit 1 when the pins cannot be read.
pub async fn export(rest: &BotRest, channel: u64) -> ExitCode {
    let (bot, pins) = match (rest.current_user_id().await, rest.pins(channel).await) {
        (Ok(bot), Ok(pins)) => (bot, pins),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("cannot read the alert channel's pinned snoozes: {e}");
            return ExitCode::FAILURE;
        }
    };
    let now = chrono::Utc::now();
    let snoozes: Vec<Snooze> = pins
        .iter()
        .filter(|m| m.is_by(&bot))
        .filter_map(Snooze::from_message)
        .filter(|s| s.until > now)
        .collect();
    println!(
        "# {} snooze(s) in force in the alert channel, {}: commit them to ALERT_RULES to keep them.",
        snoozes.len(),
        now.format("%Y-%m-%d %H:%M UTC")
    );
    for s in &snoozes {
        println!(
            "\n# {} — snoozed by Discord user {} until {}",
            s.what,
            s.by,
            s.until.format("%Y-%m-%d %H:%M UTC")
        );
        print!("{}", s.toml);
    }
    ExitCode::SUCCESS
}
