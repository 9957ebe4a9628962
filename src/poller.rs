//! The SQS loop: long-poll → unwrap → alert → post → delete, losing nothing.
//!
//! A message is deleted only after Discord accepted its alert. While Discord fails, the message is retried with
//! capped exponential backoff and jitter, its visibility extended so no other consumer takes it. What can never
//! become an alert goes to the dead-letter queue with the reason; what is valid but not an alert is deleted.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use iam_alarm_core::render::{render_message, RenderOptions};
use iam_alarm_core::{classify, Event, Rejection, WatchedEvents};
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
    /// The rest of the current batch, while one message is being handled.
    pub waiting: Vec<Received>,
}

/// How one message ended.
enum Handled {
    Done,
    /// Shutdown came while it was being retried: handed back to the queue.
    Released,
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
            for (i, message) in batch.iter().enumerate() {
                // The rest of the batch waits behind this message: kept ours while Discord is retried.
                self.waiting = batch[i + 1..].to_vec();
                if let Handled::Released = self.handle(message, &mut shutdown).await {
                    // Hand back everything not yet processed, so another consumer (or our restart) gets it now.
                    for rest in &batch[i..] {
                        self.release(rest).await;
                    }
                    break;
                }
            }
            self.waiting.clear();
        }
        info!("poller stopped");
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
        if self.dedup.contains(&event.key) {
            info!(message_id = id, event_id = %event.key, "already posted; deleting duplicate");
            self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
            self.delete(message).await;
            return Handled::Done;
        }
        match self.deliver(message, &event, shutdown).await {
            Ok(()) => {
                info!(message_id = id, event_id = %event.key, event = %event.event_name, "alert posted");
                self.metrics.posted.fetch_add(1, Ordering::Relaxed);
                self.metrics.last_alert.store(now_unix(), Ordering::Relaxed);
                if let Err(e) = self.dedup.insert(event.key.clone()) {
                    warn!(error = %e, "cannot journal the posted event id");
                }
                self.delete(message).await;
                Handled::Done
            }
            Err(Some(rejected)) => {
                self.dead_letter(message, &rejected.to_string()).await;
                Handled::Done
            }
            Err(None) => Handled::Released,
        }
    }

    /// Post until Discord accepts. `Err(None)`: shutdown came first; `Err(Some)`: Discord refused the payload.
    async fn deliver(
        &self,
        message: &Received,
        event: &Event,
        shutdown: &mut Shutdown,
    ) -> Result<(), Option<DeliveryError>> {
        let rendered = render_message(
            event,
            &RenderOptions {
                destination: self.sink.destination(),
                ..self.render.clone()
            },
        );
        let mut attempt = 0u32;
        loop {
            let err = match self.sink.deliver(event, &rendered).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            self.metrics.count_discord_error(err.kind());
            let DeliveryError::Retry { after, .. } = &err else {
                error!(message_id = %message.message_id, event_id = %event.key, error = %err, "Discord refused the alert");
                return Err(Some(err));
            };
            attempt += 1;
            let delay = after.map_or_else(|| backoff(&self.poll, attempt), |a| a + jitter(a / 10));
            warn!(
                message_id = %message.message_id, event_id = %event.key, attempt, error = %err,
                retry_in = ?delay, "Discord did not accept the alert; retrying"
            );
            // Keep the message, and the rest of its batch, ours for the wait and the next attempt.
            for m in std::iter::once(message).chain(&self.waiting) {
                let hidden = delay + self.poll.visibility;
                if let Err(e) = self.queue.set_visibility(&m.receipt, hidden).await {
                    warn!(message_id = %m.message_id, error = %e, "cannot extend visibility");
                }
            }
            self.metrics.beat();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.triggered() => return Err(None),
            }
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
