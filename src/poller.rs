//! The SQS loop: long-poll → unwrap → alert → post → delete, losing nothing.
//!
//! A message is deleted only after Discord accepted its alert. While Discord fails, the message is retried with
//! capped exponential backoff and jitter, its visibility extended so no other consumer takes it. What can never
//! become an alert goes to the dead-letter queue with the reason; what is valid but not an alert is deleted.
//!
//! Alerts are posted one by one while the channel's rate-limit bucket has room. A burst beyond it waits in a
//! backlog (its messages kept hidden) until the bucket refills, and is then posted as digests grouped by actor
//! and action that name every affected user (see `iam_alarm_core::digest`).

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_alarm_core::digest::render_digests;
use iam_alarm_core::message::CreateMessage;
use iam_alarm_core::render::{render_message, render_text, RenderOptions};
use iam_alarm_core::{classify, Event, EventKey, Rejection, WatchedEvents};
use tracing::{error, info, warn};

use crate::aws::sqs::{Queue, Received};
use crate::config::PollConfig;
use crate::dedup::Dedup;
use crate::delivery::{DeliveryError, Sink};
use crate::health::{now_unix, Metrics};
use crate::shutdown::Shutdown;

pub struct Poller {
    pub queue: Queue,
    /// Explicit dead-lettering target; without one, SQS's redrive moves what we leave behind.
    pub dead_letter: Option<Queue>,
    pub sink: Sink,
    pub dedup: Dedup,
    pub watched: WatchedEvents,
    pub render: RenderOptions,
    pub poll: PollConfig,
    pub metrics: Arc<Metrics>,
    /// Received messages not yet handled (the rest of the current batch), kept hidden while we wait.
    pub waiting: Vec<Received>,
    /// Alerts beyond the rate limit, waiting to go out as digests.
    pub backlog: Vec<Pending>,
}

/// An alert in the backlog.
pub struct Pending {
    message: Received,
    event: Event,
    /// When it joined the backlog.
    since: Instant,
}

/// The longest an event waits for its digest while more of its burst keeps arriving.
const MAX_HOLD: Duration = Duration::from_secs(10);

/// How handling ended.
enum Handled {
    Done,
    /// Shutdown came while waiting on Discord: handed back to the queue.
    Released,
}

/// The result of posting: accepted, refused for good (400), or interrupted by shutdown.
enum Posted {
    Accepted,
    Refused(DeliveryError),
    Interrupted,
}

impl Poller {
    /// Run until shutdown. Returns when in-flight work is finished or released.
    pub async fn run(mut self, mut shutdown: Shutdown) {
        info!(queue = %self.queue.url(), watched = %self.watched, "poller started");
        let mut receive_failures = 0u32;
        while !shutdown.is_triggered() {
            self.metrics.beat();
            let batch = tokio::select! {
                r = self.queue.receive(10, self.poll.wait, self.poll.visibility) => r,
                _ = shutdown.triggered() => break,
            };
            let batch = match batch {
                Ok(b) => {
                    receive_failures = 0;
                    b
                }
                Err(e) => {
                    receive_failures += 1;
                    let delay = backoff(&self.poll, receive_failures);
                    error!(error = %e, retry_in = ?delay, "cannot receive from SQS");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => continue,
                        _ = shutdown.triggered() => break,
                    }
                }
            };
            if let Handled::Released = self.handle_batch(batch, &mut shutdown).await {
                break;
            }
            if !self.backlog.is_empty() {
                if let Handled::Released = self.drain_backlog(&mut shutdown).await {
                    break;
                }
            }
        }
        info!("poller stopped");
    }

    async fn handle_batch(&mut self, batch: Vec<Received>, shutdown: &mut Shutdown) -> Handled {
        for (i, message) in batch.iter().enumerate() {
            // The rest of the batch waits behind this message: kept ours while Discord is retried.
            self.waiting = batch[i + 1..].to_vec();
            if let Handled::Released = self.handle(message, shutdown).await {
                // Hand back everything not yet done, so another consumer (or our restart) gets it now.
                for rest in &batch[i..] {
                    self.release(rest).await;
                }
                self.release_backlog().await;
                self.waiting.clear();
                return Handled::Released;
            }
        }
        self.waiting.clear();
        Handled::Done
    }

    async fn handle(&mut self, message: &Received, shutdown: &mut Shutdown) -> Handled {
        self.metrics.received.fetch_add(1, Ordering::Relaxed);
        if shutdown.is_triggered() {
            return Handled::Released;
        }
        let id = message.message_id.as_str();
        let event = match classify(&message.body, &self.watched) {
            Ok(event) => event,
            Err(Rejection::NotAlert(reason)) => {
                info!(message_id = id, %reason, "not an alert; deleting");
                self.metrics.not_alerts.fetch_add(1, Ordering::Relaxed);
                self.delete(message).await;
                return Handled::Done;
            }
            Err(Rejection::Malformed(reason)) => {
                self.dead_letter(message, &format!("malformed: {reason}"))
                    .await;
                return Handled::Done;
            }
        };
        if self.dedup.contains(&event.key) || self.backlog.iter().any(|p| p.event.key == event.key)
        {
            info!(message_id = id, event_id = %event.key, "already posted; deleting duplicate");
            self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
            self.delete(message).await;
            return Handled::Done;
        }
        // A lone event goes out at once; what the rate limit can't take now joins the burst's backlog.
        if !self.backlog.is_empty() || !self.sink.has_room() {
            self.backlog.push(Pending {
                message: message.clone(),
                event,
                since: Instant::now(),
            });
            return Handled::Done;
        }
        let rendered = self.render_one(&event);
        let text = || render_text(&event, &self.render);
        match self.post(&rendered, &text, &[message], shutdown).await {
            Posted::Accepted => {
                info!(message_id = id, event_id = %event.key, event = %event.event_name, "alert posted");
                self.accepted(&[(message, &event)]).await;
                Handled::Done
            }
            Posted::Refused(err) => {
                self.dead_letter(message, &err.to_string()).await;
                Handled::Done
            }
            Posted::Interrupted => Handled::Released,
        }
    }

    fn render_one(&self, event: &Event) -> CreateMessage {
        render_message(
            event,
            &RenderOptions {
                destination: self.sink.destination(),
                ..self.render.clone()
            },
        )
    }

    /// Post the backlog as digests. A digest goes when the rate limit has room and the burst has settled: the
    /// queue ran dry, a full message's worth is waiting, or the oldest waiting event has waited `MAX_HOLD`
    /// (measured per event, so a slow trickle yields one digest per hold, not one per refill). Meanwhile the
    /// rest of the burst is gathered and the backlog's messages are kept hidden.
    async fn drain_backlog(&mut self, shutdown: &mut Shutdown) -> Handled {
        let mut last_extension = Instant::now();
        let mut queue_dry = false;
        while !self.backlog.is_empty() {
            if shutdown.is_triggered() {
                self.release_backlog().await;
                return Handled::Released;
            }
            let room = self.sink.has_room();
            if room
                && (queue_dry || self.oldest_wait() >= MAX_HOLD || self.backlog_fills_a_message())
            {
                if let Handled::Released = self.post_next_digest(shutdown).await {
                    return Handled::Released;
                }
                continue;
            }
            // Gather more of the burst while the bucket refills. A long poll returns at once when messages are
            // there, so this never spins on an empty queue; a second without any means the burst has settled.
            let batch = tokio::select! {
                r = self.queue.receive(10, Duration::from_secs(1), self.poll.visibility) => r.unwrap_or_default(),
                _ = shutdown.triggered() => Vec::new(),
            };
            queue_dry = batch.is_empty();
            if let Handled::Released = self.handle_batch(batch, shutdown).await {
                return Handled::Released;
            }
            if last_extension.elapsed() > self.poll.visibility / 3 {
                self.extend(
                    self.backlog.iter().map(|p| &p.message),
                    self.poll.visibility,
                )
                .await;
                last_extension = Instant::now();
            }
            self.metrics.beat();
        }
        Handled::Done
    }

    /// How long the longest-waiting event of the backlog has waited (the backlog keeps arrival order).
    fn oldest_wait(&self) -> Duration {
        self.backlog
            .first()
            .map_or(Duration::ZERO, |p| p.since.elapsed())
    }

    /// Whether the backlog already needs more than one digest message.
    fn backlog_fills_a_message(&self) -> bool {
        let events: Vec<&Event> = self.backlog.iter().map(|p| &p.event).collect();
        events.len() > 1 && render_digests(&events).len() > 1
    }

    /// Post the first digest message of the backlog (or the single alert, when only one waits).
    async fn post_next_digest(&mut self, shutdown: &mut Shutdown) -> Handled {
        let backlog = std::mem::take(&mut self.backlog);
        let events: Vec<&Event> = backlog.iter().map(|p| &p.event).collect();
        let (message, covered) = if events.len() == 1 {
            (self.render_one(events[0]), HashSet::from([&events[0].key]))
        } else {
            let first = render_digests(&events)
                .into_iter()
                .next()
                .expect("a non-empty backlog");
            let covered = first.events.iter().map(|e| &e.key).collect();
            (first.message, covered)
        };
        let covered: HashSet<EventKey> = covered.into_iter().cloned().collect();
        let (done, rest): (Vec<_>, Vec<_>) = backlog
            .into_iter()
            .partition(|p| covered.contains(&p.event.key));
        self.backlog = rest;
        let received: Vec<&Received> = done.iter().map(|p| &p.message).collect();
        // Only the console needs the plain text.
        let text = || match done.as_slice() {
            [one] => render_text(&one.event, &self.render),
            many => many
                .iter()
                .map(|p| iam_alarm_core::render::headline(&p.event))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        match self.post(&message, &text, &received, shutdown).await {
            Posted::Accepted => {
                info!(
                    events = done.len(),
                    waiting = self.backlog.len(),
                    "digest posted"
                );
                let pairs: Vec<(&Received, &Event)> =
                    done.iter().map(|p| (&p.message, &p.event)).collect();
                self.accepted(&pairs).await;
                Handled::Done
            }
            Posted::Refused(err) => {
                for p in &done {
                    self.dead_letter(&p.message, &err.to_string()).await;
                }
                Handled::Done
            }
            Posted::Interrupted => {
                for p in &done {
                    self.release(&p.message).await;
                }
                self.release_backlog().await;
                Handled::Released
            }
        }
    }

    /// Discord accepted these alerts: remember them, count them, delete their messages.
    async fn accepted(&mut self, alerts: &[(&Received, &Event)]) {
        self.metrics
            .posted
            .fetch_add(alerts.len() as u64, Ordering::Relaxed);
        self.metrics.last_alert.store(now_unix(), Ordering::Relaxed);
        for (_, event) in alerts {
            if let Err(e) = self.dedup.insert(event.key.clone()) {
                warn!(error = %e, "cannot journal the posted event id");
            }
        }
        match alerts {
            [(message, _)] => self.delete(message).await,
            many => {
                let receipts: Vec<&str> = many.iter().map(|(m, _)| m.receipt.as_str()).collect();
                for failed in self.queue.delete_many(&receipts).await {
                    // Not fatal: the message comes back and de-duplication skips it.
                    warn!(message_id = %many[failed.index].0.message_id, error = %failed.error, "cannot delete message");
                }
            }
        }
    }

    /// Post until Discord accepts, keeping `messages`, the rest of the batch and the backlog hidden meanwhile.
    async fn post(
        &self,
        rendered: &CreateMessage,
        text: &(dyn Fn() -> String + Sync),
        messages: &[&Received],
        shutdown: &mut Shutdown,
    ) -> Posted {
        let mut attempt = 0u32;
        loop {
            let err = match self.sink.deliver(rendered, text).await {
                Ok(()) => return Posted::Accepted,
                Err(e) => e,
            };
            self.metrics.count_discord_error(err.kind());
            let DeliveryError::Retry { after, .. } = &err else {
                error!(messages = messages.len(), error = %err, "Discord refused the alert");
                return Posted::Refused(err);
            };
            attempt += 1;
            let delay = after.map_or_else(|| backoff(&self.poll, attempt), |a| a + jitter(a / 10));
            warn!(attempt, error = %err, retry_in = ?delay, "Discord did not accept the alert; retrying");
            let held = messages
                .iter()
                .copied()
                .chain(&self.waiting)
                .chain(self.backlog.iter().map(|p| &p.message));
            self.extend(held, delay + self.poll.visibility).await;
            self.metrics.beat();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.triggered() => return Posted::Interrupted,
            }
        }
    }

    async fn extend<'a>(&self, messages: impl Iterator<Item = &'a Received>, hidden: Duration) {
        let messages: Vec<&Received> = messages.collect();
        let receipts: Vec<&str> = messages.iter().map(|m| m.receipt.as_str()).collect();
        for failed in self.queue.set_visibility_many(&receipts, hidden).await {
            warn!(message_id = %messages[failed.index].message_id, error = %failed.error, "cannot extend visibility");
        }
    }

    /// Hand the backlog back to the queue at once, so another consumer (or our restart) gets it now.
    async fn release_backlog(&mut self) {
        let backlog = std::mem::take(&mut self.backlog);
        let receipts: Vec<&str> = backlog.iter().map(|p| p.message.receipt.as_str()).collect();
        for failed in self
            .queue
            .set_visibility_many(&receipts, Duration::ZERO)
            .await
        {
            warn!(message_id = %backlog[failed.index].message.message_id, error = %failed.error,
                "cannot release message; it returns after its visibility timeout");
        }
    }

    async fn delete(&self, message: &Received) {
        if let Err(e) = self.queue.delete(&message.receipt).await {
            // Not fatal: the message comes back and de-duplication skips it.
            warn!(message_id = %message.message_id, error = %e, "cannot delete message");
        }
    }

    async fn release(&self, message: &Received) {
        if let Err(e) = self
            .queue
            .set_visibility(&message.receipt, Duration::ZERO)
            .await
        {
            warn!(message_id = %message.message_id, error = %e, "cannot release message; it returns after its visibility timeout");
        }
    }

    /// Move a message that can never become an alert out of the way, saying why.
    async fn dead_letter(&self, message: &Received, reason: &str) {
        let id = message.message_id.as_str();
        self.metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
        match &self.dead_letter {
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

/// Capped exponential backoff with full jitter on the upper half.
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
            ..PollConfig::default()
        };
        for attempt in 1..40 {
            let d = backoff(&poll, attempt);
            assert!(d <= Duration::from_secs(2), "{attempt}: {d:?}");
        }
        assert!(backoff(&poll, 1) <= Duration::from_millis(100));
        assert!(backoff(&poll, 10) >= Duration::from_secs(1));
    }
}
