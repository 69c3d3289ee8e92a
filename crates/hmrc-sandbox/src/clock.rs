//! Time as the sandbox sees it: every expiry (access tokens, refresh grants, authorisation
//! codes), every tax-year rule and the calculation delay are measured on a [`Clock`], so tests
//! can move time instead of waiting for it.

use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

use crate::sync::lock;

/// Why a clock refused to move.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    /// The clock follows the operating system and cannot be moved.
    #[error(
        "the system clock cannot be moved; start the sandbox with an OffsetClock or a ManualClock to control time"
    )]
    Fixed,
}

/// A source of "now" for the sandbox.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Moves the clock forward (or backward, with a negative delta).
    fn advance(&self, by: TimeDelta) -> Result<(), ClockError>;

    /// Moves the clock to an exact instant.
    fn set(&self, to: DateTime<Utc>) -> Result<(), ClockError>;
}

/// The operating system's clock; it cannot be moved.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn advance(&self, _by: TimeDelta) -> Result<(), ClockError> {
        Err(ClockError::Fixed)
    }

    fn set(&self, _to: DateTime<Utc>) -> Result<(), ClockError> {
        Err(ClockError::Fixed)
    }
}

/// Real time plus an adjustable offset: time keeps flowing, and tests can jump ahead.
///
/// This is the sandbox's default clock.
///
/// ```
/// use hmrc_sandbox::{Clock, OffsetClock};
/// use chrono::TimeDelta;
///
/// let clock = OffsetClock::default();
/// let before = clock.now();
/// clock.advance(TimeDelta::hours(4)).expect("an offset clock can move");
/// assert!(clock.now() - before >= TimeDelta::hours(4));
/// ```
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset: Mutex<TimeDelta>,
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + *lock(&self.offset)
    }

    fn advance(&self, by: TimeDelta) -> Result<(), ClockError> {
        let mut offset = lock(&self.offset);
        *offset += by;
        Ok(())
    }

    fn set(&self, to: DateTime<Utc>) -> Result<(), ClockError> {
        *lock(&self.offset) = to - Utc::now();
        Ok(())
    }
}

/// A frozen clock that only moves when told to: fully deterministic tests.
///
/// ```
/// use hmrc_sandbox::{Clock, ManualClock};
/// use chrono::{TimeDelta, TimeZone, Utc};
///
/// let start = Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap();
/// let clock = ManualClock::new(start);
/// clock.advance(TimeDelta::minutes(11)).unwrap();
/// assert_eq!(clock.now(), start + TimeDelta::minutes(11));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock frozen at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }

    fn advance(&self, by: TimeDelta) -> Result<(), ClockError> {
        let mut now = lock(&self.now);
        *now += by;
        Ok(())
    }

    fn set(&self, to: DateTime<Utc>) -> Result<(), ClockError> {
        *lock(&self.now) = to;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn system_clock_refuses_to_move() {
        assert_eq!(
            SystemClock.advance(TimeDelta::seconds(1)),
            Err(ClockError::Fixed)
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc.with_ymd_and_hms(2025, 4, 6, 0, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.set(start + TimeDelta::days(3)).unwrap();
        assert_eq!(clock.now(), start + TimeDelta::days(3));
    }

    #[test]
    fn offset_clock_set_lands_near_the_target() {
        let clock = OffsetClock::default();
        let target = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        clock.set(target).unwrap();
        let drift = clock.now() - target;
        assert!(drift >= TimeDelta::zero() && drift < TimeDelta::seconds(5));
    }
}
