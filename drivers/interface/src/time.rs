//! Time as every backend reports it: microseconds since the drill started.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use futures::future::{Either, select};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::caps::Clock;

/// A point in drill time: microseconds since the drill started.
///
/// The simulator's virtual clock and the lab's monotonic clock both count
/// from the start of the drill, so timestamps of both backends compare.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The start of the drill.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp `secs` seconds after the start, rounded to the microsecond.
    pub fn from_secs_f64(secs: f64) -> Timestamp {
        assert!(
            secs >= 0.0 && secs.is_finite(),
            "timestamp must be finite and >= 0"
        );
        Timestamp((secs * 1e6).round() as u64)
    }

    /// Microseconds since the start.
    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// Seconds since the start.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Seconds since the start rounded to the millisecond, as reports print them.
    pub fn secs_ms(self) -> f64 {
        (self.0 as f64 / 1e3).round() / 1e3
    }

    /// `self + d`, saturating.
    pub fn after(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }

    /// The duration from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.as_secs_f64())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.secs_ms())
    }
}

/// The latest time a serialised timestamp may carry, in seconds: far
/// beyond any drill (a horizon is at most 10^7 s) and exact in an `f64`
/// to the microsecond.
pub const READ_SECS_MAX: f64 = 1e9;

impl<'de> Deserialize<'de> for Timestamp {
    /// Reads what [`Serialize`] wrote: seconds, at most [`READ_SECS_MAX`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let secs = f64::deserialize(d)?;
        if !(0.0..=READ_SECS_MAX).contains(&secs) {
            return Err(serde::de::Error::custom(format!(
                "time {secs} s is outside 0..={READ_SECS_MAX} s"
            )));
        }
        Ok(Timestamp::from_secs_f64(secs))
    }
}

/// Runs `fut` for at most `limit` of `clock` time. `Err(())` when the limit
/// elapsed first. Biased: when both are ready at once, the operation wins,
/// so results do not depend on poll order.
pub async fn timeout<C: Clock + ?Sized, F: Future>(
    clock: &C,
    limit: Duration,
    fut: F,
) -> Result<F::Output, ()> {
    let fut = std::pin::pin!(fut);
    let sleep = std::pin::pin!(clock.sleep(limit));
    match select(fut, sleep).await {
        Either::Left((out, _)) => Ok(out),
        Either::Right(((), _)) => Err(()),
    }
}

/// A duration given in (possibly fractional) seconds, as scenario files write them.
pub fn secs(s: f64) -> Duration {
    assert!(
        s >= 0.0 && s.is_finite(),
        "duration must be finite and >= 0"
    );
    Duration::from_secs_f64(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_microseconds_and_prints_milliseconds() {
        let t = Timestamp::from_secs_f64(1.2345678);
        assert_eq!(t.as_micros(), 1_234_568);
        assert_eq!(t.secs_ms(), 1.235);
        assert_eq!(t.to_string(), "1.235s");
    }

    #[test]
    fn since_saturates() {
        let a = Timestamp(10);
        let b = Timestamp(30);
        assert_eq!(b.since(a), Duration::from_micros(20));
        assert_eq!(a.since(b), Duration::ZERO);
    }
}
