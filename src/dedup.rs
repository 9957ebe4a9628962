//! De-duplication by event key (CloudTrail `eventID`): SNS and SQS deliver at least once, and a bot killed
//! between posting and deleting sees its message again. Bounded in memory; seeded at start-up from what was
//! already posted (the channel's recent footers, or a journal file in webhook mode).

use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use iam_alarm_core::digest::{short_key, short_keys_from_footer};
use iam_alarm_core::posted::PostedMessage;
use iam_alarm_core::render::key_from_footer;
use iam_alarm_core::EventKey;

/// The key under which a digest's short key is remembered.
fn digested(short: &str) -> EventKey {
    EventKey::from_posted(&format!("digest:{short}")).expect("a short key is a valid key")
}

/// Keys remembered: far more than any burst between two restarts.
pub const DEFAULT_CAPACITY: usize = 10_000;

pub struct Dedup {
    order: VecDeque<EventKey>,
    seen: HashSet<EventKey>,
    capacity: usize,
    journal: Option<Journal>,
}

struct Journal {
    path: PathBuf,
    file: File,
    lines: usize,
}

impl Dedup {
    pub fn new(capacity: usize) -> Dedup {
        Dedup {
            order: VecDeque::with_capacity(capacity.min(1024)),
            seen: HashSet::new(),
            capacity: capacity.max(1),
            journal: None,
        }
    }

    /// Remember keys in `dir/posted-event-ids`, and load the ones already there.
    pub fn with_journal(capacity: usize, dir: &Path) -> std::io::Result<Dedup> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("posted-event-ids");
        let mut dedup = Dedup::new(capacity);
        let mut lines = 0;
        if let Ok(file) = File::open(&path) {
            for line in BufReader::new(file).lines() {
                if let Some(key) = EventKey::from_posted(&line?) {
                    dedup.remember(key);
                    lines += 1;
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        dedup.journal = Some(Journal { path, file, lines });
        Ok(dedup)
    }

    /// Whether the event was posted: as an alert (its key), or named in a digest (its short key).
    pub fn contains(&self, key: &EventKey) -> bool {
        self.seen.contains(key) || self.seen.contains(&digested(&short_key(key)))
    }

    /// Record a posted event (and journal it, when there is a journal).
    pub fn insert(&mut self, key: EventKey) -> std::io::Result<()> {
        if self.seen.contains(&key) {
            return Ok(());
        }
        if let Some(j) = &mut self.journal {
            writeln!(j.file, "{key}")?;
            j.lines += 1;
        }
        self.remember(key);
        self.compact_journal()
    }

    /// Seed from a channel's recent messages (Discord message objects): our footers name the event.
    pub fn seed_from_messages(&mut self, messages: &[PostedMessage]) -> usize {
        let mut n = 0;
        for m in messages {
            for footer in m.footers() {
                let key = key_from_footer(footer).and_then(EventKey::from_posted);
                let named = short_keys_from_footer(footer).into_iter().map(digested);
                for key in key.into_iter().chain(named) {
                    self.remember(key);
                    n += 1;
                }
            }
        }
        n
    }

    fn remember(&mut self, key: EventKey) {
        // Capacity counts digest short keys too: a burst's worth fits many times over.
        if !self.seen.insert(key.clone()) {
            return;
        }
        self.order.push_back(key);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
    }

    /// Keep the journal from growing without bound: rewrite it with what memory holds.
    fn compact_journal(&mut self) -> std::io::Result<()> {
        let Some(j) = &mut self.journal else {
            return Ok(());
        };
        if j.lines <= self.capacity * 2 {
            return Ok(());
        }
        let tmp = j.path.with_extension("tmp");
        let mut out = File::create(&tmp)?;
        for key in &self.order {
            writeln!(out, "{key}")?;
        }
        out.sync_all()?;
        std::fs::rename(&tmp, &j.path)?;
        j.file = OpenOptions::new().append(true).open(&j.path)?;
        j.lines = self.order.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> EventKey {
        EventKey::from_posted(s).unwrap()
    }

    #[test]
    fn bounded_and_forgets_the_oldest() {
        let mut d = Dedup::new(2);
        for k in ["a", "b", "c"] {
            d.insert(key(k)).unwrap();
        }
        assert!(!d.contains(&key("a")));
        assert!(d.contains(&key("b")) && d.contains(&key("c")));
    }

    #[test]
    fn seeds_from_our_footers_only() {
        let mut d = Dedup::new(10);
        let msgs = serde_json::json!([
            {"embeds": [{"footer": {"text": "eventID abc-1"}}]},
            {"embeds": [{"footer": {"text": "something else"}}]},
            {"content": "hi"}
        ]);
        assert_eq!(d.seed_from_messages(&PostedMessage::from_listing(msgs)), 1);
        assert!(d.contains(&key("abc-1")));
    }

    #[test]
    fn seeds_from_digest_footers_the_events_they_named() {
        let mut d = Dedup::new(10);
        let footer = format!(
            "digest · keys {}{}",
            short_key(&key("e-1")),
            short_key(&key("e-2"))
        );
        let msgs = serde_json::json!([{"embeds": [{"footer": {"text": footer}}]}]);
        assert_eq!(d.seed_from_messages(&PostedMessage::from_listing(msgs)), 2);
        assert!(d.contains(&key("e-1")) && d.contains(&key("e-2")));
        assert!(!d.contains(&key("e-3")));
    }

    #[test]
    fn journal_survives_a_restart_and_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Dedup::with_journal(3, dir.path()).unwrap();
        for i in 0..20 {
            d.insert(key(&format!("k{i}"))).unwrap();
        }
        drop(d);
        let d = Dedup::with_journal(3, dir.path()).unwrap();
        assert!(d.contains(&key("k19")) && !d.contains(&key("k0")));
        let lines = std::fs::read_to_string(dir.path().join("posted-event-ids"))
            .unwrap()
            .lines()
            .count();
        assert!(lines <= 7, "{lines}");
    }
}
