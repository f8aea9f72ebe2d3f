//! Single-use tokens for streaming requests, as the kubelet's streaming
//! server keeps them: random, valid for a minute, consumed by the first
//! use, at most [`MAX_IN_FLIGHT`] waiting at once. Pure: the caller passes
//! the time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a token waits for its client.
pub const TOKEN_TTL: Duration = Duration::from_secs(60);
/// Most tokens waiting at once.
pub const MAX_IN_FLIGHT: usize = 1000;

/// Tokens to requests.
pub struct TokenCache<T> {
    entries: HashMap<String, (Instant, T)>,
    ttl: Duration,
}

impl<T> Default for TokenCache<T> {
    fn default() -> Self {
        Self::new(TOKEN_TTL)
    }
}

impl<T> TokenCache<T> {
    pub fn new(ttl: Duration) -> Self {
        TokenCache {
            entries: HashMap::new(),
            ttl,
        }
    }

    /// Keep `value` under `token` (from the caller's randomness) until
    /// `now + ttl`; `Err` when too many wait.
    pub fn insert(&mut self, token: String, value: T, now: Instant) -> Result<String, &'static str> {
        let ttl = self.ttl;
        self.entries
            .retain(|_, (at, _)| now.saturating_duration_since(*at) < ttl);
        if self.entries.len() >= MAX_IN_FLIGHT {
            return Err("too many streaming requests in flight");
        }
        self.entries.insert(token.clone(), (now, value));
        Ok(token)
    }

    /// Take the request of `token`, if it is there and not expired.
    pub fn consume(&mut self, token: &str, now: Instant) -> Option<T> {
        let (at, value) = self.entries.remove(token)?;
        (now.saturating_duration_since(at) < self.ttl).then_some(value)
    }
}

/// A new token: 16 random bytes, URL-safe base64.
pub fn new_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_single_use_and_expire() {
        let t0 = Instant::now();
        let mut c = TokenCache::new(Duration::from_secs(60));
        let a = c.insert(new_token(), 1, t0).expect("insert");
        let b = c.insert(new_token(), 2, t0).expect("insert");
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
        assert_eq!(c.consume(&a, t0 + Duration::from_secs(59)), Some(1));
        assert_eq!(c.consume(&a, t0 + Duration::from_secs(59)), None, "used");
        assert_eq!(c.consume(&b, t0 + Duration::from_secs(60)), None, "expired");
        assert_eq!(c.consume("nope", t0), None);
    }

    #[test]
    fn in_flight_is_bounded_and_expired_ones_make_room() {
        let t0 = Instant::now();
        let mut c = TokenCache::new(Duration::from_secs(60));
        for i in 0..MAX_IN_FLIGHT {
            c.insert(format!("t{i}"), i, t0).expect("insert");
        }
        assert!(c.insert("x".into(), 0, t0).is_err());
        assert!(c.insert("x".into(), 0, t0 + Duration::from_secs(61)).is_ok());
    }
}
