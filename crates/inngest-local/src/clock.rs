//! Engine time: one clock trait used for every delay the engine schedules (retry backoff,
//! sleeps, wait and invoke timeouts, cron ticks) and every timestamp in the run history.
//!
//! - [`SystemClock`]: real time.
//! - [`ScaledClock`]: engine time runs `scale` times faster than wall time, so a run with five
//!   attempts and Inngest's real backoff table (minutes of delays) finishes in well under a second
//!   of wall time at `scale = 1000`.
//! - [`ManualClock`]: time moves only when told, or (with auto-advance) jumps straight to the next
//!   scheduled item whenever the engine has nothing in flight: the in-process test engine uses it.
//!
//! Signatures are always stamped with real wall time (SDKs check freshness against their own clock).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use futures::future::BoxFuture;
use tokio::sync::watch;

/// A source of engine time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current engine time.
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once engine time has reached `deadline`.
    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()>;

    /// Called by the scheduler when nothing is in flight and the next item is due at `next`.
    /// A clock that may jump (a manual clock with auto-advance) moves to `next` and returns
    /// `true`; real clocks return `false` and the scheduler sleeps.
    fn advance_when_idle(&self, next: DateTime<Utc>) -> bool {
        let _ = next;
        false
    }
}

/// Real wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            loop {
                let left = deadline - Utc::now();
                if left <= Duration::zero() {
                    return;
                }
                tokio::time::sleep(left.to_std().unwrap_or_default()).await;
            }
        })
    }
}

/// Engine time that runs `scale` times faster than wall time, starting from the wall time at
/// creation.
///
/// ```
/// use inngest_local::clock::{Clock, ScaledClock};
/// let clock = ScaledClock::new(1000.0);
/// let start = clock.now();
/// std::thread::sleep(std::time::Duration::from_millis(20));
/// // 20 ms of wall time is at least 20 s of engine time.
/// assert!(clock.now() - start >= chrono::Duration::seconds(20));
/// ```
#[derive(Debug, Clone)]
pub struct ScaledClock {
    origin_real: Instant,
    origin: DateTime<Utc>,
    scale: f64,
}

impl ScaledClock {
    /// A clock running `scale` times faster than real time (`scale` must be positive; values
    /// that are not are treated as 1).
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Self {
            origin_real: Instant::now(),
            origin: Utc::now(),
            scale,
        }
    }

    /// The speed-up factor.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let real = self.origin_real.elapsed().as_secs_f64();
        let engine_micros = (real * self.scale * 1e6) as i64;
        self.origin + Duration::microseconds(engine_micros)
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let clock = self.clone();
        Box::pin(async move {
            loop {
                let left = deadline - clock.now();
                if left <= Duration::zero() {
                    return;
                }
                let real_secs =
                    left.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6 / clock.scale;
                let real = std::time::Duration::from_secs_f64(real_secs.clamp(0.0, 86_400.0))
                    .max(std::time::Duration::from_micros(100));
                tokio::time::sleep(real).await;
            }
        })
    }
}

/// A clock that only moves when told to.
///
/// With auto-advance on, the scheduler jumps it to the next scheduled item whenever nothing is
/// in flight, so sleeps, backoff and timeouts of any length pass instantly and in order.
///
/// ```
/// use inngest_local::clock::{Clock, ManualClock};
/// let clock = ManualClock::new(chrono::Utc::now());
/// let t0 = clock.now();
/// clock.advance(chrono::Duration::hours(2));
/// assert_eq!(clock.now() - t0, chrono::Duration::hours(2));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

struct ManualInner {
    now: Mutex<DateTime<Utc>>,
    tick: watch::Sender<DateTime<Utc>>,
    auto_advance: bool,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .field("auto_advance", &self.inner.auto_advance)
            .finish()
    }
}

impl ManualClock {
    /// A manual clock at `start` that moves only through [`ManualClock::advance`] / [`ManualClock::set`].
    pub fn new(start: DateTime<Utc>) -> Self {
        Self::build(start, false)
    }

    /// A manual clock that also jumps to the next scheduled item when the engine is idle.
    pub fn auto_advancing(start: DateTime<Utc>) -> Self {
        Self::build(start, true)
    }

    fn build(start: DateTime<Utc>, auto_advance: bool) -> Self {
        let (tick, _) = watch::channel(start);
        Self {
            inner: Arc::new(ManualInner {
                now: Mutex::new(start),
                tick,
                auto_advance,
            }),
        }
    }

    /// Moves time forward by `by` (negative durations are ignored).
    pub fn advance(&self, by: Duration) {
        if by > Duration::zero() {
            let target = self.now() + by;
            self.set(target);
        }
    }

    /// Moves time to `to` if that is later than now.
    pub fn set(&self, to: DateTime<Utc>) {
        let mut now = self.inner.now.lock().unwrap_or_else(|p| p.into_inner());
        if to > *now {
            *now = to;
            self.inner.tick.send_replace(to);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.inner.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let mut rx = self.inner.tick.subscribe();
        let clock = self.clone();
        Box::pin(async move {
            while clock.now() < deadline {
                if rx.changed().await.is_err() {
                    // The clock is gone: nothing can move time any more.
                    futures::future::pending::<()>().await;
                }
            }
        })
    }

    fn advance_when_idle(&self, next: DateTime<Utc>) -> bool {
        if self.inner.auto_advance {
            self.set(next);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_when_advanced_past_deadline() {
        let clock = ManualClock::new(Utc::now());
        let deadline = clock.now() + Duration::minutes(5);
        let sleeper = tokio::spawn(clock.sleep_until(deadline));
        clock.advance(Duration::minutes(4));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::minutes(1));
        sleeper.await.unwrap();
        assert!(clock.now() >= deadline);
    }

    #[tokio::test]
    async fn scaled_clock_compresses_a_minute_into_milliseconds() {
        let clock = ScaledClock::new(10_000.0);
        let deadline = clock.now() + Duration::minutes(1);
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            clock.sleep_until(deadline),
        )
        .await
        .expect("60 s of engine time at 10000x is 6 ms of wall time");
        assert!(clock.now() >= deadline);
    }

    #[test]
    fn only_auto_advancing_clock_jumps_when_idle() {
        let start = Utc::now();
        let manual = ManualClock::new(start);
        assert!(!manual.advance_when_idle(start + Duration::hours(1)));
        assert_eq!(manual.now(), start);
        let auto = ManualClock::auto_advancing(start);
        assert!(auto.advance_when_idle(start + Duration::hours(1)));
        assert_eq!(auto.now(), start + Duration::hours(1));
        assert!(!SystemClock.advance_when_idle(start));
    }
}
