//! Keeping to Discord's rate limits on our own, instead of discovering them through 429s: the route's bucket
//! as Discord last described it (`x-ratelimit-remaining`, `x-ratelimit-reset-after`), and the global limit of
//! 50 requests per second.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// Discord's global limit.
const GLOBAL_PER_SECOND: usize = 50;
/// The room assumed before Discord described the bucket: its usual size for creating messages in a channel.
const UNKNOWN_BUCKET_ROOM: u32 = 5;

#[derive(Debug, Default)]
pub struct Pacer {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Requests left in the route's bucket, and when the bucket refills. `None`: not known yet.
    bucket: Option<(u32, Instant)>,
    /// Send times within the last second, for the global limit.
    recent: VecDeque<Instant>,
}

impl Pacer {
    /// Whether a request could go now without waiting.
    pub fn has_room(&self) -> bool {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.bucket {
            Some((0, reset)) => Instant::now() >= reset,
            _ => true,
        }
    }

    /// How many requests the route's bucket still takes now (Discord's usual 5 while it is not known yet).
    pub fn room(&self) -> u32 {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.bucket {
            Some((remaining, reset)) if Instant::now() < reset => remaining,
            _ => UNKNOWN_BUCKET_ROOM,
        }
    }

    /// How long until a request may go (zero: now). Reserves the slot when it returns zero.
    pub fn reserve(&self) -> Duration {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while s
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            s.recent.pop_front();
        }
        if let Some((remaining, reset)) = s.bucket {
            if remaining == 0 && now < reset {
                return reset - now;
            }
            if now >= reset {
                s.bucket = None;
            }
        }
        if s.recent.len() >= GLOBAL_PER_SECOND {
            let oldest = *s.recent.front().expect("non-empty");
            return Duration::from_secs(1).saturating_sub(now.duration_since(oldest));
        }
        s.recent.push_back(now);
        if let Some((remaining, _)) = &mut s.bucket {
            *remaining = remaining.saturating_sub(1);
        }
        Duration::ZERO
    }

    /// Wait for a slot.
    pub async fn acquire(&self) {
        loop {
            let wait = self.reserve();
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Learn the bucket from a response's headers.
    pub fn update(&self, headers: &HeaderMap) {
        let get = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
        let remaining = get("x-ratelimit-remaining").and_then(|v| v.parse::<u32>().ok());
        let reset_after = get("x-ratelimit-reset-after")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0);
        if let (Some(remaining), Some(after)) = (remaining, reset_after) {
            let reset = Instant::now() + Duration::from_secs_f64(after.min(3600.0));
            self.state.lock().unwrap_or_else(|p| p.into_inner()).bucket = Some((remaining, reset));
        }
    }

    /// A 429 said when to come back: no request before then.
    pub fn block_for(&self, after: Duration) {
        let reset = Instant::now() + after;
        self.state.lock().unwrap_or_else(|p| p.into_inner()).bucket = Some((0, reset));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(remaining: &str, after: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", remaining.parse().unwrap());
        h.insert("x-ratelimit-reset-after", after.parse().unwrap());
        h
    }

    #[test]
    fn an_empty_bucket_waits_for_its_reset() {
        let p = Pacer::default();
        assert!(p.has_room());
        assert_eq!(p.reserve(), Duration::ZERO);
        p.update(&headers("0", "2.5"));
        assert!(!p.has_room());
        let wait = p.reserve();
        assert!(
            wait > Duration::from_secs(2) && wait <= Duration::from_millis(2500),
            "{wait:?}"
        );
        p.update(&headers("3", "5"));
        assert!(p.has_room());
    }

    #[test]
    fn the_global_limit_spreads_a_burst() {
        let p = Pacer::default();
        for _ in 0..GLOBAL_PER_SECOND {
            assert_eq!(p.reserve(), Duration::ZERO);
        }
        assert!(p.reserve() > Duration::ZERO);
    }
}
