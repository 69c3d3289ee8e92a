//! Where the store's timestamps come from.
//!
//! The store stamps rows and decides whether a refresh lease has expired with a [`Clock`]. The
//! default is the system clock; tests use a [`ManualClock`] to move time deterministically
//! (for example past a lease's expiry) instead of sleeping.
//!
//! Timestamps are truncated to whole microseconds before they are written, the precision
//! PostgreSQL keeps, so both backends return exactly what was stored.

use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
///
/// ```
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use mtd_store::{Clock, ManualClock};
/// let clock = ManualClock::new(Utc.with_ymd_and_hms(2025, 4, 6, 0, 0, 0).unwrap());
/// clock.advance(TimeDelta::minutes(5));
/// assert_eq!(clock.now(), Utc.with_ymd_and_hms(2025, 4, 6, 0, 5, 0).unwrap());
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward (or back, with a negative delta).
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: DateTime<Utc>) {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Truncates to the microsecond precision both backends store.
pub(crate) fn db_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}
