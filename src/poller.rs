//! The SQS loop: long-poll → unwrap → alert → post → delete, losing nothing.
//!
//! A message is deleted only after Discord accepted its alert (or the digest naming it). While Discord fails,
//! the message is retried with capped exponential backoff and jitter. Every message the poller holds — the
//! current batch and the whole backlog — is kept hidden from other consumers by extending its visibility on
//! elapsed time, at every turn of every loop. What can never become an alert goes to the dead-letter queue
//! with the reason; what is valid but not an alert is deleted.
//!
//! Alerts are posted one by one while everything waiting fits the channel's rate-limit bucket. A burst beyond
//! it waits in the (bounded) backlog and goes out as digests grouped by actor and action that name every
//! affected user (see `iam_alarm_core::digest` and `crate::backlog`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_alarm_commands::ask::Question;
use iam_alarm_core::digest::render_digests;
use iam_alarm_core::message::CreateMessage;
use iam_alarm_core::metrics::Count;
use iam_alarm_core::render::{
    add_mention, render_fallback, render_message, render_text, RenderOptions,
};
use iam_alarm_core::rules::{Rules, Verdict};
use iam_alarm_core::snooze::Snoozes;
use iam_alarm_core::{
    classify_with, Canary, Event, EventKey, NotAlert, NotAlertReason, Rejection, WatchedEvents,
};
use tracing::{debug, error, info, warn};

use crate::aws::sqs::{Queue, Received};
use crate::backlog::{Backlog, Pending};
use crate::config::PollConfig;
use crate::dedup::Dedup;
use crate::delivery::{DeliveryError, Sink};
use crate::health::Metrics;
use crate::verify::{Trust, Verifier};
use iam_alarm_core::text::plain_capped;
use tokio_util::sync::CancellationToken;

/// The longest an event waits for its digest while more of its burst keeps arriving.
const MAX_HOLD: Duration = Duration::from_secs(10);
/// While a backlog waits, polls are short: a second without messages means the burst has settled.
const GATHER_WAIT: Duration = Duration::from_secs(1);
/// The longest the poller sleeps without proving it is alive (`/healthz`).
const BEAT_EVERY: Duration = Duration::from_secs(5);
/// A message whose signing certificate could not be fetched is tried again after this long.
const UNVERIFIABLE_RETRY: Duration = Duration::from_secs(30);

/// What decides whether and how an event is shown.
pub struct Settings {
    /// Names the accounts of alerts and digests.
    pub accounts: Arc<crate::aws::accounts::Accounts>,
    pub watched: WatchedEvents,
    pub render: RenderOptions,
    pub poll: PollConfig,
    /// Most events held for digests (`BACKLOG_MAX`).
    pub backlog_max: usize,
    /// Suppress / severity / mention rules (`ALERT_RULES`).
    pub rules: Rules,
    /// Whose messages are believed (`SNS_SIGNATURES`, `TOPIC_ARN`).
    pub verifier: Verifier,
    /// Whose `TagUser` call is the canary.
    pub canary: Canary,
    /// The containment roles' names (`CONTAIN_ROLE_ARN`'s, `CONTAIN_ROLE_NAME`): their Undo is not a tamper alert.
    pub contain_roles: Vec<String>,
    /// The snoozes in force (made from the channel; empty without the bot).
    pub snoozes: Arc<Snoozes>,
    /// Where alerts posted alone go to ask their actor "was this you?" (`PEOPLE`); `None`: nobody is asked.
    pub questions: Option<tokio::sync::mpsc::Sender<Question>>,
}

/// The queue the poller consumes, and where what can never alert goes.
pub struct Queues {
    pub main: Queue,
    /// Explicit dead-lettering target; without one, SQS's redrive moves what we leave behind.
    pub dead_letter: Option<Queue>,
}

pub struct Poller {
    queues: Queues,
    sink: Sink,
    dedup: Dedup,
    settings: Settings,
    metrics: Arc<Metrics>,
    /// The current batch's messages not yet handled (the one being handled first).
    in_hand: Vec<Received>,
    backlog: Backlog,
}

/// How handling ended.
enum Handled {
    Done,
    /// Shutdown came while waiting on Discord: everything held was handed back to the queue.
    Released,
}

/// The result of posting: accepted (with the message's id, when it can be edited later), refused for good
/// (400), or interrupted by shutdown.
enum Posted {
    Accepted(Option<u64>),
    Refused(DeliveryError),
    Interrupted,
}

impl Poller {
    pub fn new(
        queues: Queues,
        sink: Sink,
        dedup: Dedup,
        settings: Settings,
        metrics: Arc<Metrics>,
    ) -> Poller {
        Poller {
            backlog: Backlog::new(settings.backlog_max),
            queues,
            sink,
            dedup,
            settings,
            metrics,
            in_hand: Vec::new(),
        }
    }

    /// Run until shutdown. Returns when in-flight work is finished or handed back.
    pub async fn run(mut self, shutdown: CancellationToken) {
        info!(queue = %self.queues.main.url(), watched = %self.settings.watched, "poller started");
        let mut receive_failures = 0u32;
        let mut queue_dry = false;
        while !shutdown.is_cancelled() {
            self.metrics.beat();
            self.keep_hidden().await;
            if self.digest_is_due(queue_dry) {
                if let Handled::Released = self.post_next_digest(&shutdown).await {
                    return;
                }
                continue;
            }
            let Some(batch) = self.receive(&mut receive_failures, &shutdown).await else {
                continue;
            };
            queue_dry = batch.is_empty();
            if let Handled::Released = self.handle_batch(batch, &shutdown).await {
                return;
            }
        }
        self.release_all().await;
        info!("poller stopped");
    }

    /// A digest goes when the rate limit has room and the burst has settled: the queue ran dry, a full
    /// message's worth is waiting, or the longest-waiting event has waited `MAX_HOLD` (per event, so a slow
    /// trickle yields one digest per hold, not one per refill).
    fn digest_is_due(&self, queue_dry: bool) -> bool {
        !self.backlog.is_empty()
            && self.sink.has_room()
            && (queue_dry
                || self.backlog.fills_a_message()
                || self.backlog.oldest_wait() >= MAX_HOLD)
    }

    /// One receive: a long poll when nothing waits, a short one while a backlog gathers; none while the
    /// backlog is full (the rest of the burst stays on SQS until there is room). `None`: nothing to handle.
    async fn receive(
        &mut self,
        failures: &mut u32,
        shutdown: &CancellationToken,
    ) -> Option<Vec<Received>> {
        let room = self.backlog.room();
        if room == 0 {
            // Full: wait for the bucket to let the next digest go.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = shutdown.cancelled() => {}
            }
            return None;
        }
        let wait = if self.backlog.is_empty() {
            self.settings.poll.wait
        } else {
            GATHER_WAIT
        };
        let visibility = self.settings.poll.visibility;
        let received = tokio::select! {
            r = self.queues.main.receive(room.min(10) as i32, wait, visibility) => r,
            _ = shutdown.cancelled() => return None,
        };
        match received {
            Ok(batch) => {
                *failures = 0;
                Some(batch)
            }
            Err(e) => {
                *failures += 1;
                let delay = backoff(&self.settings.poll, *failures);
                error!(error = %e, retry_in = ?delay, "cannot receive from SQS");
                self.pause(delay, shutdown).await;
                None
            }
        }
    }

    async fn handle_batch(
        &mut self,
        batch: Vec<Received>,
        shutdown: &CancellationToken,
    ) -> Handled {
        self.in_hand = batch;
        while !self.in_hand.is_empty() {
            if let Handled::Released = self.handle_first(shutdown).await {
                self.release_all().await;
                return Handled::Released;
            }
            self.keep_hidden().await;
        }
        Handled::Done
    }

    /// Handle the first message in hand; it leaves the hand once it is deleted, dead-lettered or in the
    /// backlog. On shutdown it stays, to be handed back with the rest.
    async fn handle_first(&mut self, shutdown: &CancellationToken) -> Handled {
        if shutdown.is_cancelled() {
            return Handled::Released;
        }
        self.metrics.count(Count::Received);
        let message = self.in_hand[0].clone();
        let id = message.message_id.as_str();
        match self.settings.verifier.check(&message.body).await {
            Trust::Believed => {
                if !self.settings.verifier.is_off() {
                    self.metrics.signature_checked();
                }
            }
            Trust::Rejected(why) => {
                let sender = message.sender_id.as_deref().unwrap_or("unknown");
                let sender = plain_capped(sender, 200);
                warn!(message_id = id, %sender, reason = %why, "rejected: not a signed SNS notification from our topic; deleting (the watchdog announces it)");
                self.metrics.rejected(why.label(), &sender);
                self.delete(&message).await;
                self.in_hand.remove(0);
                return Handled::Done;
            }
            Trust::Unverifiable(why) => {
                warn!(message_id = id, error = %why, "cannot check the signature now; the message waits for a retry");
                self.metrics.signature_unverifiable(&why);
                self.hide(&message, UNVERIFIABLE_RETRY).await;
                self.in_hand.remove(0);
                return Handled::Done;
            }
        }
        let classified =
            classify_with(&message.body, &self.settings.watched, &self.settings.canary);
        let mut event = match classified {
            Ok(event) => {
                if let Some(made) = event.time {
                    self.metrics.detected(made.timestamp());
                }
                event
            }
            Err(Rejection::NotAlert(NotAlert::Canary { at })) => {
                debug!(message_id = id, at, "canary; deleting");
                self.metrics.canary(at);
                if at > 0 {
                    self.metrics.detected(at);
                }
                self.delete(&message).await;
                self.in_hand.remove(0);
                return Handled::Done;
            }
            Err(Rejection::NotAlert(NotAlert::Control(NotAlertReason::Heartbeat { at }))) => {
                debug!(message_id = id, at, "heartbeat; deleting");
                self.metrics.heartbeat(at);
                self.delete(&message).await;
                self.in_hand.remove(0);
                return Handled::Done;
            }
            Err(Rejection::NotAlert(reason)) => {
                info!(message_id = id, %reason, "not an alert; deleting");
                self.metrics.count(Count::NotAlert);
                self.delete(&message).await;
                self.in_hand.remove(0);
                return Handled::Done;
            }
            Err(Rejection::Malformed(reason)) => {
                self.dead_letter(&message, &format!("malformed: {reason}"))
                    .await;
                self.in_hand.remove(0);
                return Handled::Done;
            }
        };
        event.name_account(|id| self.settings.accounts.name(id));
        if iam_alarm_core::contain::is_own_undo(&event, &self.settings.contain_roles) {
            // Already in the channel, under the alert, by whoever confirmed it.
            info!(message_id = id, event_id = %event.key, "the bot's own Undo of a quarantine; deleting");
            self.metrics.suppressed("containment undo");
            self.delete(&message).await;
            self.in_hand.remove(0);
            return Handled::Done;
        }
        let today = chrono::Utc::now().date_naive();
        let suppressed = match self.settings.rules.apply(&mut event, today) {
            Verdict::Suppressed { rule } => Some(rule),
            _ => self
                .settings
                .snoozes
                .suppressing(&mut event, chrono::Utc::now()),
        };
        if let Some(rule) = suppressed {
            info!(message_id = id, event_id = %event.key, rule, "suppressed by a rule or snooze; deleting");
            self.metrics.suppressed(&rule);
            self.delete(&message).await;
            self.in_hand.remove(0);
            return Handled::Done;
        }
        if self.dedup.contains(&event.key) {
            info!(message_id = id, event_id = %event.key, "already posted; deleting duplicate");
            self.metrics.count(Count::Duplicate);
            self.delete(&message).await;
            self.in_hand.remove(0);
            return Handled::Done;
        }
        if self.backlog.contains(&event.key) || self.burst_waits() {
            self.in_hand.remove(0);
            if let Err(event) = self.backlog.add(event, message.clone()) {
                // Full (only when a batch brought more than the room): back to SQS until there is room.
                info!(event_id = %event.key, "backlog full; leaving the message on the queue");
                self.release(&message).await;
            }
            return Handled::Done;
        }
        self.post_alert(message, event, shutdown).await
    }

    /// Whether alerts are waiting beyond what the rate limit lets go now: then they are grouped.
    fn burst_waits(&self) -> bool {
        !self.backlog.is_empty() || self.in_hand.len() > self.sink.room()
    }

    /// Post one alert (or its short form, when Discord refuses the full one); delete its message once accepted.
    async fn post_alert(
        &mut self,
        message: Received,
        event: Event,
        shutdown: &CancellationToken,
    ) -> Handled {
        let text = render_text(&event, &self.settings.render);
        let text = move || text.clone();
        let full = self.render_one(&event);
        let mut posted = match full.limit_violations().as_slice() {
            [] => self.post(&full, &text, shutdown).await,
            broken => Posted::Refused(DeliveryError::Rejected {
                status: 0,
                detail: format!("breaks Discord's limits: {}", broken.join(", ")),
            }),
        };
        if let Posted::Refused(err) = &posted {
            warn!(event_id = %event.key, error = %err, "the full alert was refused; posting its short form");
            let opts = self.render_options();
            posted = self
                .post(&render_fallback(&event, &opts), &text, shutdown)
                .await;
        }
        let result = match posted {
            Posted::Accepted(alert) => {
                info!(message_id = %message.message_id, event_id = %event.key, event = %plain_capped(&event.event_name, 100), "alert posted");
                if let Some(alert) = alert {
                    self.ask_the_actor(&event, alert);
                }
                self.accepted(vec![(event, vec![message])]).await;
                Handled::Done
            }
            Posted::Refused(err) => {
                self.dead_letter(&message, &err.to_string()).await;
                Handled::Done
            }
            Posted::Interrupted => return Handled::Released,
        };
        self.in_hand.remove(0);
        result
    }

    fn render_options(&self) -> RenderOptions {
        RenderOptions {
            destination: self.sink.destination(),
            ..self.settings.render.clone()
        }
    }

    fn render_one(&self, event: &Event) -> CreateMessage {
        render_message(event, &self.render_options())
    }

    /// Post the first digest message of the backlog (or the single alert, when only one waits).
    async fn post_next_digest(&mut self, shutdown: &CancellationToken) -> Handled {
        let (message, keys, text) = {
            let events = self.backlog.events();
            let (message, named) = match events.as_slice() {
                [one] => (self.render_one(one), vec![*one]),
                many => {
                    let first = render_digests(many).into_iter().next();
                    let mut first = first.expect("a non-empty backlog makes a digest");
                    // The digest mentions when one of its events would (a rule may have said no for some).
                    let mentionable = first.events.iter().filter(|e| e.mention);
                    if let Some(worst) = mentionable.map(|e| e.severity).max() {
                        add_mention(&mut first.message, worst, self.settings.render.mention);
                    }
                    (first.message, first.events)
                }
            };
            let keys: Vec<EventKey> = named.iter().map(|e| e.key.clone()).collect();
            let text: Vec<String> = named
                .iter()
                .map(|e| iam_alarm_core::render::headline(e))
                .collect();
            (message, keys, text.join("\n"))
        };
        let text = move || text.clone();
        match self.post(&message, &text, shutdown).await {
            Posted::Accepted(_) => {
                let done = self.backlog.take(&keys);
                info!(
                    events = done.len(),
                    waiting = self.backlog.len(),
                    "digest posted"
                );
                let done = done.into_iter().map(|p| (p.event, p.messages)).collect();
                self.accepted(done).await;
                Handled::Done
            }
            Posted::Refused(err) => {
                // The backlog kept no bodies: the messages go back to the queue, to be posted one by one (each
                // alone is dead-lettered with its body if Discord refuses that too, or redriven by SQS).
                let refused = self.backlog.take(&keys);
                warn!(events = refused.len(), error = %err, "Discord refused a digest; its messages return to the queue to be posted one by one");
                for pending in refused {
                    for m in &pending.messages {
                        self.release(m).await;
                    }
                }
                Handled::Done
            }
            Posted::Interrupted => {
                self.release_all().await;
                Handled::Released
            }
        }
    }

    /// Hand a posted alert to the question task ("was this you?"), never waiting: a full hand-over is logged and
    /// the alert stays as it is.
    fn ask_the_actor(&self, event: &Event, alert: u64) {
        let Some(questions) = &self.settings.questions else {
            return;
        };
        let question = Question {
            event: event.clone(),
            alert,
        };
        if let Err(e) = questions.try_send(question) {
            warn!(event_id = %event.key, error = %e, "cannot hand the alert to the question task; its actor is not asked");
        }
    }

    /// Discord accepted these alerts: remember them, count them, delete their messages.
    async fn accepted(&mut self, alerts: Vec<(Event, Vec<Received>)>) {
        self.metrics.posted(alerts.len() as u64);
        for (event, _) in &alerts {
            if let Err(e) = self.dedup.insert(event.key.clone()) {
                warn!(error = %e, "cannot journal the posted event id");
            }
        }
        let messages: Vec<&Received> = alerts.iter().flat_map(|(_, m)| m).collect();
        let receipts: Vec<&str> = messages.iter().map(|m| m.receipt.as_str()).collect();
        for failed in self.queues.main.delete_many(&receipts).await {
            // Not fatal: the message comes back and de-duplication skips it.
            warn!(message_id = %messages[failed.index].message_id, error = %failed.error, "cannot delete message");
        }
    }

    /// Post until Discord accepts or refuses for good, keeping everything held hidden meanwhile.
    async fn post(
        &mut self,
        message: &CreateMessage,
        text: &(dyn Fn() -> String + Sync),
        shutdown: &CancellationToken,
    ) -> Posted {
        let mut attempt = 0u32;
        loop {
            if !self.wait_for_room(shutdown).await {
                return Posted::Interrupted;
            }
            // The request itself is not abandoned at shutdown: the drain outlasts its timeout (see `app`).
            let err = match self.sink.deliver(message, text).await {
                Ok(alert) => {
                    self.metrics.delivery_ok();
                    return Posted::Accepted(alert);
                }
                Err(e) => e,
            };
            self.metrics.delivery_failed(err.kind());
            if !err.is_retryable() {
                error!(error = %err, "Discord refused the message");
                return Posted::Refused(err);
            }
            attempt += 1;
            let delay = err.retry_after().map_or_else(
                || backoff(&self.settings.poll, attempt),
                |after| after + jitter(after / 10),
            );
            warn!(attempt, error = %err, retry_in = ?delay, "Discord did not accept the message; retrying");
            if !self.pause(delay, shutdown).await {
                return Posted::Interrupted;
            }
        }
    }

    /// Wait for the rate limit to let a message go, keeping everything held hidden and the heartbeat fresh.
    /// `false`: shutdown came first (nothing was sent).
    async fn wait_for_room(&mut self, shutdown: &CancellationToken) -> bool {
        loop {
            self.keep_hidden().await;
            self.metrics.beat();
            let tick = (self.settings.poll.visibility / 3).min(BEAT_EVERY);
            tokio::select! {
                _ = self.sink.wait_for_room() => return true,
                _ = tokio::time::sleep(tick) => {}
                _ = shutdown.cancelled() => return false,
            }
        }
    }

    /// Sleep `delay` with everything held hidden for that long, the heartbeat fresh. `false`: shutdown came.
    async fn pause(&mut self, delay: Duration, shutdown: &CancellationToken) -> bool {
        let until = Instant::now() + delay;
        let hidden = delay + self.settings.poll.visibility;
        self.extend_held(hidden, |_| true).await;
        loop {
            self.metrics.beat();
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            tokio::select! {
                _ = tokio::time::sleep(left.min(BEAT_EVERY)) => {}
                _ = shutdown.cancelled() => return false,
            }
        }
    }

    /// Extend the visibility of each held message once a third of it has passed, so SQS never hands a held
    /// message to anyone else (nor back to us, to be mistaken for a duplicate). Only those messages: a backlog
    /// that drains in time is never extended, and a large one is extended in step with its arrival, not all at
    /// once (2,000 messages are 200 SQS calls).
    async fn keep_hidden(&mut self) {
        let visibility = self.settings.poll.visibility;
        let due = Instant::now() + visibility * 2 / 3;
        self.extend_held(visibility, |m| m.hidden_until < due).await;
    }

    /// Keep the held messages that `due` picks hidden for `hidden` from now.
    async fn extend_held(&mut self, hidden: Duration, due: impl Fn(&Received) -> bool) {
        let until = Instant::now() + hidden;
        let held: Vec<&mut Received> = self
            .in_hand
            .iter_mut()
            .chain(self.backlog.messages_mut())
            .filter(|m| due(m))
            .collect();
        if held.is_empty() {
            return;
        }
        let receipts: Vec<String> = held.iter().map(|m| m.receipt.clone()).collect();
        let ids: Vec<String> = held.iter().map(|m| m.message_id.clone()).collect();
        for m in held {
            m.hidden_until = until;
        }
        let receipts: Vec<&str> = receipts.iter().map(String::as_str).collect();
        for failed in self
            .queues
            .main
            .set_visibility_many(&receipts, hidden)
            .await
        {
            warn!(message_id = %ids[failed.index], error = %failed.error, "cannot extend visibility");
        }
    }

    /// Hand everything held back to the queue at once, so another consumer (or our restart) gets it now.
    async fn release_all(&mut self) {
        let backlog: Vec<Pending> = self.backlog.take_all();
        let mut held: Vec<Received> = std::mem::take(&mut self.in_hand);
        held.extend(backlog.into_iter().flat_map(|p| p.messages));
        let receipts: Vec<&str> = held.iter().map(|m| m.receipt.as_str()).collect();
        for failed in self
            .queues
            .main
            .set_visibility_many(&receipts, Duration::ZERO)
            .await
        {
            warn!(message_id = %held[failed.index].message_id, error = %failed.error,
                "cannot release message; it returns after its visibility timeout");
        }
    }

    async fn delete(&self, message: &Received) {
        if let Err(e) = self.queues.main.delete(&message.receipt).await {
            // Not fatal: the message comes back and de-duplication skips it.
            warn!(message_id = %message.message_id, error = %e, "cannot delete message");
        }
    }

    async fn release(&self, message: &Received) {
        self.hide(message, Duration::ZERO).await;
    }

    /// Hand a message back to SQS, visible again after `delay`.
    async fn hide(&self, message: &Received, delay: Duration) {
        if let Err(e) = self
            .queues
            .main
            .set_visibility(&message.receipt, delay)
            .await
        {
            warn!(message_id = %message.message_id, error = %e, "cannot release message; it returns after its visibility timeout");
        }
    }

    /// Move a message that can never become an alert out of the way, saying why.
    async fn dead_letter(&self, message: &Received, reason: &str) {
        let id = message.message_id.as_str();
        self.metrics.count(Count::DeadLettered);
        match &self.queues.dead_letter {
            Some(dlq) => match dlq.send(&message.body, Some((id, reason))).await {
                Ok(()) => {
                    error!(message_id = id, reason, dlq = %dlq.url(), "moved to the dead-letter queue");
                    self.delete(message).await;
                }
                Err(e) => {
                    error!(message_id = id, reason, error = %e, "cannot send to the dead-letter queue; leaving it for redrive");
                    self.release(message).await;
                }
            },
            None => {
                error!(message_id = id, reason, receive_count = message.receive_count,
                    "cannot become an alert; left for the queue's redrive policy (no dead-letter queue found)");
            }
        }
    }
}

/// Capped exponential backoff with full jitter on the upper half: the one backoff for SQS and Discord.
pub fn backoff(poll: &PollConfig, attempt: u32) -> Duration {
    let exp = poll
        .retry_base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)));
    let capped = exp.min(poll.retry_max);
    capped / 2 + jitter(capped / 2)
}

fn jitter(max: Duration) -> Duration {
    let ms = max.as_millis() as u64;
    Duration::from_millis(if ms == 0 { 0 } else { fastrand::u64(0..=ms) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let poll = PollConfig {
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_secs(2),
            wait: Duration::from_secs(20),
            visibility: Duration::from_secs(60),
        };
        for attempt in 1..40 {
            let d = backoff(&poll, attempt);
            assert!(d <= Duration::from_secs(2), "{attempt}: {d:?}");
        }
        assert!(backoff(&poll, 1) <= Duration::from_millis(100));
        assert!(backoff(&poll, 10) >= Duration::from_secs(1));
    }
}
