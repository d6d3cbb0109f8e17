//! Rate limits: a token bucket, used per connection (every request) and per group (every
//! `sendMessage` to it). Pure: the caller passes the time in, so it is testable without
//! waiting.

use std::time::{Duration, Instant};

/// `per_sec` tokens a second, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_sec: u32,
    pub burst: u32,
}

impl Rate {
    pub const fn new(per_sec: u32, burst: u32) -> Self {
        Self { per_sec, burst }
    }
}

/// A token bucket that starts full.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: Rate, now: Instant) -> Self {
        let burst = f64::from(rate.burst.max(1));
        Self {
            per_sec: f64::from(rate.per_sec.max(1)),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Take one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until the next token (zero when one is there).
    pub fn wait(&self) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec)
        }
    }
}

/// One token bucket per user (for what a user may do from all its connections together).
/// Buckets that refilled are dropped when the map grows, so memory follows the users
/// active in the last seconds.
#[derive(Debug)]
pub struct UserRates {
    rate: Rate,
    buckets: std::sync::Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    map: std::collections::HashMap<String, TokenBucket>,
    /// The size at which the next sweep runs (doubling what a sweep left, so sweeps cost
    /// O(1) per insert on average).
    sweep_at: usize,
}

impl UserRates {
    /// Past this many users the full buckets are swept out.
    const SWEEP_AT: usize = 4096;

    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Default::default(),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Take one token of `user`'s; `Err` with the wait until the next one.
    pub fn take(&self, user: &str, now: Instant) -> Result<(), Duration> {
        let mut guard = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let buckets = &mut *guard;
        if buckets.map.len() >= buckets.sweep_at.max(Self::SWEEP_AT)
            && !buckets.map.contains_key(user)
        {
            buckets.map.retain(|_, b| !b.is_full(now));
            buckets.sweep_at = (buckets.map.len() * 2).max(Self::SWEEP_AT);
        }
        let bucket = buckets
            .map
            .entry(user.to_string())
            .or_insert_with(|| TokenBucket::new(self.rate, now));
        if bucket.try_take(now) {
            Ok(())
        } else {
            Err(bucket.wait())
        }
    }
}

impl TokenBucket {
    /// Would the bucket be full at `now` (nothing spent that has not come back)?
    fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.per_sec >= self.burst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_rates_are_per_user_and_swept() {
        let t0 = Instant::now();
        let rates = UserRates::new(Rate::new(10, 2));
        assert!(rates.take("a", t0).is_ok());
        assert!(rates.take("a", t0).is_ok());
        let wait = rates.take("a", t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100));
        assert!(
            rates.take("b", t0).is_ok(),
            "another user has its own bucket"
        );
        assert!(rates.take("a", t0 + Duration::from_millis(100)).is_ok());
        for i in 0..UserRates::SWEEP_AT - 2 {
            let _ = rates.take(&format!("u{i}"), t0);
        }
        // Seconds later every bucket is full again: the next new user sweeps them out.
        let _ = rates.take("late", t0 + Duration::from_secs(5));
        let n = rates.buckets.lock().unwrap().map.len();
        assert_eq!(n, 1, "refilled buckets were swept");
    }

    #[test]
    fn a_burst_then_the_steady_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Rate::new(10, 3), t0);
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0), "the burst is spent");
        assert_eq!(b.wait(), Duration::from_millis(100));
        // 100 ms later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(100);
        assert!(b.try_take(t1));
        assert!(!b.try_take(t1));
        // A long pause refills to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(b.try_take(t2));
        }
        assert!(!b.try_take(t2));
    }

    #[test]
    fn time_going_backwards_adds_nothing() {
        let t0 = Instant::now() + Duration::from_secs(5);
        let mut b = TokenBucket::new(Rate::new(1, 1), t0);
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0 - Duration::from_secs(5)));
        assert!(!b.try_take(t0));
    }
}
