//! Deadline arithmetic that cannot panic.

use std::time::{Duration, Instant};

/// `now + delay`, or a point far enough ahead to never come when that overflows `Instant`.
pub(crate) fn saturating_add(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}
