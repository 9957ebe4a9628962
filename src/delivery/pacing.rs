//! Keeping to Discord's rate limits on our own, instead of discovering them through 429s: the route's bucket
//! as Discord last described it (`x-ratelimit-remaining`, `x-ratelimit-reset-after`), and the global limit of
//! 50 requests per second.
//!
//! The global limit is a steady rate (`governor`'s GCRA: a burst of 50, then one request every 20 ms), so a busy
//! second never stalls the next request for the rest of a window.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;

/// Discord's global limit, per second.
const GLOBAL_PER_SECOND: NonZeroU32 = NonZeroU32::new(50).expect("not zero");
/// The room assumed before Discord described the bucket: its usual size for creating messages in a channel.
const UNKNOWN_BUCKET_ROOM: u32 = 5;

#[derive(Debug)]
pub struct Pacer {
    /// Requests left in the route's bucket, and when the bucket refills. `None`: not known yet.
    bucket: Mutex<Option<(u32, Instant)>>,
    global: DefaultDirectRateLimiter,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            bucket: Mutex::new(None),
            global: RateLimiter::direct(Quota::per_second(GLOBAL_PER_SECOND)),
        }
    }
}

impl Pacer {
    fn bucket(&self) -> std::sync::MutexGuard<'_, Option<(u32, Instant)>> {
        self.bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a request could go now without waiting for the route's bucket.
    pub fn has_room(&self) -> bool {
        match *self.bucket() {
            Some((0, reset)) => Instant::now() >= reset,
            _ => true,
        }
    }

    /// How many requests the route's bucket still takes now (Discord's usual 5 while it is not known yet).
    pub fn room(&self) -> u32 {
        match *self.bucket() {
            Some((remaining, reset)) if Instant::now() < reset => remaining,
            _ => UNKNOWN_BUCKET_ROOM,
        }
    }

    /// How long until the route's bucket lets a request go (zero: now, and the slot is taken).
    fn reserve(&self) -> Duration {
        let now = Instant::now();
        let mut bucket = self.bucket();
        match &mut *bucket {
            Some((0, reset)) if now < *reset => *reset - now,
            Some((_, reset)) if now >= *reset => {
                *bucket = None;
                Duration::ZERO
            }
            Some((remaining, _)) => {
                *remaining -= 1;
                Duration::ZERO
            }
            None => Duration::ZERO,
        }
    }

    /// Wait for a slot in the route's bucket, then for the global rate.
    pub async fn acquire(&self) {
        loop {
            let wait = self.reserve();
            if wait.is_zero() {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        self.global.until_ready().await;
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
            *self.bucket() = Some((remaining, reset));
        }
    }

    /// A 429 said when to come back: no request before then.
    pub fn block_for(&self, after: Duration) {
        *self.bucket() = Some((0, Instant::now() + after));
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
        assert_eq!(p.room(), 3);
    }

    #[test]
    fn the_global_limit_lets_a_burst_through_then_one_request_every_20_ms() {
        let p = Pacer::default();
        for _ in 0..GLOBAL_PER_SECOND.get() {
            assert!(p.global.check().is_ok());
        }
        // Spent: the next one is refused now, but due within 20 ms — not at the end of the second.
        let refused = p.global.check().unwrap_err();
        let wait = refused.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        assert!(wait <= Duration::from_millis(20), "{wait:?}");
    }
}
