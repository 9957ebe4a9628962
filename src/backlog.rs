//! The backlog: alerts a burst brought beyond Discord's rate limit, waiting to go out as digests.
//!
//! Bounded (`BACKLOG_MAX`): when full, the poller stops receiving, and the rest of the burst stays on SQS.
//! Keyed by event, in arrival order: a message SQS hands out again while its event waits here takes over the
//! new receipt handle (the old one no longer works), and a second copy of the same event (SNS delivers at
//! least once) joins it, so both are deleted once the digest naming the event is accepted. How much digest
//! the backlog holds is kept as a running sum, so deciding "does a message's worth wait?" costs nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use iam_alarm_core::digest::{listing_len, MESSAGE_LISTING_BUDGET};
use iam_alarm_core::{Event, EventKey};

use crate::aws::sqs::Received;

/// One waiting event and the queue messages that carry it. The messages' bodies are dropped on the way in: the
/// event holds all a digest needs, so memory is bounded by `BACKLOG_MAX` events however large the bodies were.
pub struct Pending {
    pub event: Event,
    /// Receipts and visibility only (`body` empty).
    pub messages: Vec<Received>,
    /// When it joined the backlog.
    pub since: Instant,
}

pub struct Backlog {
    /// Waiting events by arrival number: the oldest first.
    by_arrival: BTreeMap<u64, Pending>,
    arrival_of: HashMap<EventKey, u64>,
    next: u64,
    /// The sum of the events' [`listing_len`].
    listing: usize,
    max: usize,
}

impl Backlog {
    pub fn new(max: usize) -> Backlog {
        Backlog {
            by_arrival: BTreeMap::new(),
            arrival_of: HashMap::new(),
            next: 0,
            listing: 0,
            max: max.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.by_arrival.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_arrival.is_empty()
    }

    /// How many more events fit.
    pub fn room(&self) -> usize {
        self.max.saturating_sub(self.len())
    }

    pub fn contains(&self, key: &EventKey) -> bool {
        self.arrival_of.contains_key(key)
    }

    /// Add an event carried by `message`. Returns the event back when the backlog is full and it is new.
    pub fn add(&mut self, event: Event, mut message: Received) -> Result<(), Box<Event>> {
        message.body = String::new();
        if let Some(n) = self.arrival_of.get(&event.key) {
            let pending = self.by_arrival.get_mut(n).expect("indexed");
            match pending
                .messages
                .iter_mut()
                .find(|m| m.message_id == message.message_id)
            {
                Some(same) => *same = message,
                None => pending.messages.push(message),
            }
            return Ok(());
        }
        if self.room() == 0 {
            return Err(Box::new(event));
        }
        self.listing += listing_len(&event);
        self.arrival_of.insert(event.key.clone(), self.next);
        let since = Instant::now();
        let messages = vec![message];
        self.by_arrival.insert(
            self.next,
            Pending {
                event,
                messages,
                since,
            },
        );
        self.next += 1;
        Ok(())
    }

    /// How long the longest-waiting event has waited.
    pub fn oldest_wait(&self) -> Duration {
        self.by_arrival
            .first_key_value()
            .map_or(Duration::ZERO, |(_, p)| p.since.elapsed())
    }

    /// Whether the backlog holds at least a full digest message's worth (or is full).
    pub fn fills_a_message(&self) -> bool {
        self.len() > 1 && (self.listing >= MESSAGE_LISTING_BUDGET || self.room() == 0)
    }

    /// The waiting events, oldest first.
    pub fn events(&self) -> Vec<&Event> {
        self.by_arrival.values().map(|p| &p.event).collect()
    }

    /// Every queue message the backlog holds (to keep them hidden).
    pub fn messages(&self) -> impl Iterator<Item = &Received> {
        self.by_arrival.values().flat_map(|p| &p.messages)
    }

    pub fn messages_mut(&mut self) -> impl Iterator<Item = &mut Received> {
        self.by_arrival.values_mut().flat_map(|p| &mut p.messages)
    }

    /// Take the events with these keys out (their digest was accepted, or they are handed back).
    pub fn take(&mut self, keys: &[EventKey]) -> Vec<Pending> {
        let mut taken = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(n) = self.arrival_of.remove(key) {
                let pending = self.by_arrival.remove(&n).expect("indexed");
                self.listing -= listing_len(&pending.event);
                taken.push(pending);
            }
        }
        taken
    }

    /// Empty the backlog.
    pub fn take_all(&mut self) -> Vec<Pending> {
        self.arrival_of.clear();
        self.listing = 0;
        std::mem::take(&mut self.by_arrival).into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iam_alarm_core::{classify, WatchedEvents};

    fn event(i: usize) -> Event {
        let record = serde_json::json!({
            "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventID": format!("id-{i}"),
            "userIdentity": {"type": "IAMUser", "userName": "ci"},
            "requestParameters": {"userName": format!("user-{i}")}
        });
        classify(&record.to_string(), &WatchedEvents::all()).unwrap()
    }

    fn message(id: &str, receipt: &str) -> Received {
        Received {
            message_id: id.to_owned(),
            receipt: receipt.to_owned(),
            body: String::new(),
            receive_count: 1,
            reason: None,
            sender_id: None,
            hidden_until: Instant::now(),
        }
    }

    #[test]
    fn a_message_received_again_takes_over_the_new_receipt_and_a_copy_joins_its_event() {
        let mut b = Backlog::new(10);
        b.add(event(1), message("m1", "r1")).unwrap();
        b.add(event(1), message("m1", "r2")).unwrap();
        b.add(event(1), message("m1-copy", "r3")).unwrap();
        assert_eq!(b.len(), 1);
        let receipts: Vec<&str> = b.messages().map(|m| m.receipt.as_str()).collect();
        assert_eq!(receipts, ["r2", "r3"]);
    }

    #[test]
    fn bounded_oldest_first_and_the_listing_is_a_running_sum() {
        let mut b = Backlog::new(3);
        for i in 0..3 {
            b.add(event(i), message(&format!("m{i}"), "r")).unwrap();
        }
        assert!(b.add(event(9), message("m9", "r")).is_err(), "full");
        assert!(b.fills_a_message(), "a full backlog is worth a message");
        let first = b.events()[0].key.clone();
        assert_eq!(first.as_str(), "id-0");
        let taken = b.take(&[first]);
        assert_eq!(taken.len(), 1);
        assert_eq!(b.room(), 1);
        assert_eq!(b.events()[0].key.as_str(), "id-1");
        let listing: usize = b.events().iter().map(|e| listing_len(e)).sum();
        assert_eq!(b.listing, listing);
        assert_eq!(b.take_all().len(), 2);
        assert!(b.is_empty() && b.listing == 0);
    }
}
