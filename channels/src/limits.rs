//! Per-channel limits: a rate (messages per second with a burst) and a concurrency cap.
//!
//! ```
//! # async fn f() {
//! use jalin_channels::limits::{Limited, LimitsConfig};
//! use jalin_channels::{Channel, stub::Stub, sms::Sms};
//! let limited = Limited::new(Stub::<Sms>::default(), &LimitsConfig { rate_per_second: Some(100.0), burst: 10, concurrency: 4 });
//! # }
//! ```

use crate::{Channel, ChannelError, Outcome};
use futures::future::BoxFuture;
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// `[channels.NAME.limits]` in `jalin.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// The most messages per second (none: as fast as the channel goes).
    #[serde(default)]
    pub rate_per_second: Option<f64>,
    /// How many messages may go at once above the rate after a quiet spell.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// The most sends in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

fn default_burst() -> u32 {
    10
}
fn default_concurrency() -> usize {
    16
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            rate_per_second: None,
            burst: default_burst(),
            concurrency: default_concurrency(),
        }
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A limiter allowing `rate` per second with bursts of `burst`.
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            rate: rate.max(0.001),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Waits until a message may go.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.burst);
                s.1 = now;
                if s.0 >= 1.0 {
                    s.0 -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - s.0) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// A channel with a rate and a concurrency limit in front.
#[derive(Debug)]
pub struct Limited<C> {
    inner: C,
    rate: Option<RateLimiter>,
    slots: Arc<Semaphore>,
}

impl<C> Limited<C> {
    /// Wraps `inner` with `limits`.
    pub fn new(inner: C, limits: &LimitsConfig) -> Self {
        Limited {
            inner,
            rate: limits
                .rate_per_second
                .map(|r| RateLimiter::new(r, limits.burst)),
            slots: Arc::new(Semaphore::new(limits.concurrency.max(1))),
        }
    }
}

impl<M: Sync, C: Channel<M>> Channel<M> for Limited<C> {
    fn send<'a>(&'a self, message: &'a M) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let Ok(_slot) = self.slots.acquire().await else {
                return Outcome::transient("the channel is shutting down");
            };
            if let Some(r) = &self.rate {
                r.acquire().await;
            }
            self.inner.send(message).await
        })
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), ChannelError>> {
        self.inner.health_check()
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_is_respected_after_the_burst() {
        let limiter = RateLimiter::new(10.0, 5);
        let started = tokio::time::Instant::now();
        for _ in 0..25 {
            limiter.acquire().await;
        }
        // 5 go at once, the other 20 at 10 a second.
        let took = started.elapsed().as_secs_f64();
        assert!((1.9..2.2).contains(&took), "{took}");
    }
}
