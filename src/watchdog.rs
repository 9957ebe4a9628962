//! The watchdog loop: every `WATCHDOG_INTERVAL_S` it runs the `/health` probes, and every few seconds it looks
//! at the heartbeat's age; a problem that begins or ends is posted once (the words and the memory are
//! `iam_alarm_core::watchdog`). What it announced is read back from the channel at start, so a restart neither
//! repeats an announced problem nor misses a new one.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_alarm_core::check::{Check, PipelineProbe};
use iam_alarm_core::metrics::now_unix;
use iam_alarm_core::render::Mention;
use iam_alarm_core::text::human_duration;
use iam_alarm_core::watchdog::{
    announced, transitions, Blindness, Transition, CANARY_KEY, FORGERY_KEY, HEARTBEAT_KEY,
};
use tracing::{info, warn};

use crate::config::WatchdogConfig;
use crate::delivery::BotRest;
use crate::health::Metrics;
use tokio_util::sync::CancellationToken;

pub struct Watchdog {
    /// Shared with the poller's sink: one rate-limit bucket for the channel.
    pub rest: Arc<BotRest>,
    pub channel: u64,
    pub probe: Arc<dyn PipelineProbe>,
    pub metrics: Arc<Metrics>,
    pub config: WatchdogConfig,
    pub mention: Option<Mention>,
    /// Whether SNS signatures are checked, so forged messages can be seen (and must be announced).
    pub verifying: bool,
}

/// How often the checks that read only the process's own memory (heartbeat, forged messages) run.
const LOCAL_TICK: Duration = Duration::from_secs(5);
/// Messages in a row whose signature could not be checked before the watchdog says so.
const UNVERIFIABLE_AFTER: u64 = 3;
/// The key of that check.
const SIGNATURE_KEY: &str = "signature-check";
/// A run of forged messages is over after this long without one.
const FORGERY_QUIET: Duration = Duration::from_secs(3600);

impl Watchdog {
    /// How often it looks; `None` when there is nothing to watch (no probes, no heartbeat expected, no
    /// signatures checked).
    pub fn tick(&self) -> Option<Duration> {
        // Heartbeats are looked at often enough that silence is announced at most a quarter late.
        let heartbeat = self
            .config
            .heartbeat_max_age
            .map(|age| (age / 4).clamp(Duration::from_secs(1), Duration::from_secs(60)));
        let canary = self
            .config
            .canary_max_age
            .map(|age| (age / 4).clamp(Duration::from_secs(1), Duration::from_secs(60)));
        let forgery = self.verifying.then_some(LOCAL_TICK);
        [self.config.interval, heartbeat, canary, forgery]
            .into_iter()
            .flatten()
            .min()
    }

    /// Run until shutdown.
    pub async fn run(self, shutdown: CancellationToken) {
        let WatchdogConfig {
            interval,
            heartbeat_max_age,
            canary_max_age,
            blind_after,
        } = self.config;
        let Some(tick) = self.tick() else {
            return shutdown.cancelled().await;
        };
        info!(
            ?interval,
            ?heartbeat_max_age,
            ?canary_max_age,
            verifying = self.verifying,
            "watchdog running"
        );
        let mut open = None;
        let mut next_probe = Instant::now();
        let mut blindness = Blindness::new(blind_after);
        loop {
            if open.is_none() {
                open = self.read_back().await;
            }
            if let Some(open) = &mut open {
                let mut found = Vec::new();
                if let Some(every) = interval.filter(|_| Instant::now() >= next_probe) {
                    let started = Instant::now();
                    let checks = self.probe.check_pipeline().await;
                    self.metrics.watchdog_looked(started.elapsed());
                    found.push(blindness.look(&checks));
                    found.extend(checks);
                    next_probe = Instant::now() + every;
                }
                found.extend(self.heartbeat());
                found.extend(self.canary());
                found.extend(self.forgery());
                found.extend(self.signature_check());
                self.announce(open, &found).await;
                self.metrics.watchdog_ran(open.len());
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// The problems announced and not recovered, from the channel; `None` when it cannot be read (tried again).
    async fn read_back(&self) -> Option<BTreeSet<String>> {
        let read = async {
            let bot = self.rest.current_user_id().await?;
            let messages = self.rest.recent_messages(self.channel, 100).await?;
            Ok::<_, crate::delivery::DeliveryError>(announced(&messages, &bot))
        };
        match read.await {
            Ok(open) => {
                info!(open = ?open, "watchdog: announced problems read back from the channel");
                Some(open)
            }
            Err(e) => {
                warn!(error = %e, "watchdog: cannot read the alert channel back; trying again");
                None
            }
        }
    }

    /// Silence: no heartbeat for longer than `HEARTBEAT_MAX_AGE_S` (counted from start until the first).
    fn heartbeat(&self) -> Option<Check> {
        let max_age = self.config.heartbeat_max_age?.as_secs() as i64;
        let m = self.metrics.snapshot();
        let now = now_unix();
        let (age, seen) = match m.last_heartbeat {
            0 => (now - m.started, false),
            last => (now - last, true),
        };
        if age > max_age {
            Some(Check::fail(
                format!("nothing has come through EventBridge → SNS → SQS for {}", human_duration(age)),
                "check the iam-alarm-heartbeat rule, the topic's subscription and /health; the watchdog's other alerts name what broke",
            ).about(HEARTBEAT_KEY))
        } else if seen {
            Some(
                Check::ok(format!(
                    "heartbeats arrive again (last {} ago)",
                    human_duration(age)
                ))
                .about(HEARTBEAT_KEY),
            )
        } else {
            // Too early to tell: not "recovered" from a silence a previous run announced.
            None
        }
    }

    /// Silence of the canary: no CloudTrail event for longer than `CANARY_MAX_AGE_S` (counted from start until the
    /// first). Where the path broke follows from the heartbeat: still arriving, the break is before EventBridge.
    fn canary(&self) -> Option<Check> {
        let max_age = self.config.canary_max_age?.as_secs() as i64;
        let m = self.metrics.snapshot();
        let now = now_unix();
        let (age, seen) = match m.last_canary {
            0 => (now - m.started, false),
            last => (now - last, true),
        };
        if age <= max_age {
            // Too early to tell, or fine: "recovered" only from a canary that came.
            return seen.then(|| {
                Check::ok(format!(
                    "the canary reaches the bot again through CloudTrail (last {} ago)",
                    human_duration(age)
                ))
                .about(CANARY_KEY)
            });
        }
        let heartbeat_fresh = m.last_heartbeat > 0
            && self
                .config
                .heartbeat_max_age
                .is_none_or(|h| now - m.last_heartbeat <= h.as_secs() as i64);
        let (hop, hint) = if heartbeat_fresh {
            (
                "CloudTrail → EventBridge is broken (heartbeats still arrive)",
                "look at the trail (logging? event selectors include management write events?), the organization trail, and the iam-alarm-canary schedule and rule",
            )
        } else {
            (
                "heartbeats have stopped too, so EventBridge → SNS → SQS is broken",
                "look at the rules' targets, the topic, its subscription and the queue (/health)",
            )
        };
        Some(
            Check::fail(
                format!(
                    "no CloudTrail event has reached the bot for {}: {hop}",
                    human_duration(age)
                ),
                hint,
            )
            .about(CANARY_KEY),
        )
    }

    /// Signatures that cannot be checked (the signing certificate cannot be fetched): nothing is believed
    /// unverified, so alerts wait — said once, not per message.
    fn signature_check(&self) -> Option<Check> {
        if !self.verifying {
            return None;
        }
        let (waiting, why) = self.metrics.signatures_unverifiable();
        Some(if waiting >= UNVERIFIABLE_AFTER {
            Check::fail(
                format!("Cannot check SNS signatures: {why} — {waiting} message(s) wait, retried every 30 s"),
                "the bot must reach SNS's signing certificate (https://sns.<region>.amazonaws.com/: proxy, firewall, DNS); nothing is believed unverified meanwhile",
            )
            .about(SIGNATURE_KEY)
        } else {
            Check::ok("SNS signatures can be checked again").about(SIGNATURE_KEY)
        })
    }

    /// Messages written to the queue by anyone but SNS: one announcement per run, naming the latest sender.
    fn forgery(&self) -> Option<Check> {
        if !self.verifying {
            return None;
        }
        let Some(f) = self.metrics.forgery(FORGERY_QUIET) else {
            // Over only once a quiet hour has passed since start too: a restart forgets the run it was in.
            let since_start = now_unix() - self.metrics.snapshot().started;
            return (since_start > FORGERY_QUIET.as_secs() as i64).then(|| {
                Check::ok("nobody but SNS has written to the alert queue for an hour")
                    .about(FORGERY_KEY)
            });
        };
        let messages = if f.count == 1 { "message" } else { "messages" };
        Some(
            Check::fail(
                format!(
                    "Someone is writing to the alert queue directly: {} {messages} rejected ({}) — sender {}",
                    f.count, f.reason, f.sender
                ),
                "only SNS may send to the queue: find who holds sqs:SendMessage on it (the sender is their access key or role session), remove it, and keep the queue policy's Deny; check that real alerts still arrive (/health)",
            )
            .about(FORGERY_KEY),
        )
    }

    async fn announce(&self, open: &mut BTreeSet<String>, found: &[Check]) {
        for transition in transitions(open, found) {
            let message = transition.message(self.mention, now_unix());
            self.rest.pacer().acquire().await;
            match self.rest.create_message(self.channel, &message).await {
                Ok(_) => {
                    info!(key = transition.key(), "{}", transition.headline());
                    match &transition {
                        Transition::Began(_) => open.insert(transition.key().to_owned()),
                        Transition::Ended(_) => open.remove(transition.key()),
                    };
                }
                // Still a transition at the next look: posted then.
                Err(e) => warn!(key = transition.key(), error = %e, "watchdog: cannot post"),
            }
        }
    }
}
