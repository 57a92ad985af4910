//! Time is injected: schedules, quiet hours, caps and attribution windows read a [`Clock`],
//! so tests can pin or advance it.
//!
//! ```
//! use jalin_engine::clock::{Clock, FixedClock};
//! let clock = FixedClock::at_timestamp(1_700_000_000);
//! clock.advance(chrono::Duration::days(1));
//! assert_eq!(clock.now().timestamp(), 1_700_086_400);
//! ```

use chrono::{DateTime, Duration, Utc};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// The current instant in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    /// A clock pinned at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        FixedClock(Mutex::new(at))
    }

    /// A clock pinned at a Unix timestamp (seconds).
    pub fn at_timestamp(secs: i64) -> Self {
        FixedClock::new(DateTime::from_timestamp(secs, 0).unwrap_or_default())
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }

    /// Sets the clock.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
