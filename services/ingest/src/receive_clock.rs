//! Receive times. A sample without `ts` is stored at the time it was received, and two samples
//! of one sensor at the same time are one sample twice (the dedup key). So every sample without
//! `ts` gets a nanosecond of its own: each request reserves a block of consecutive nanoseconds,
//! starting at the clock's reading or just after the last block handed out, whichever is later —
//! even when requests arrive within the same nanosecond, or a batch of 10,000 spans more time
//! than the next request's arrival.

use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Default)]
pub struct ReceiveClock {
    /// The last nanosecond handed out.
    last: AtomicI64,
}

impl ReceiveClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves `count` (at least one) consecutive nanoseconds at or after `now`; returns the first.
    pub fn reserve(&self, now: i64, count: usize) -> i64 {
        let count = count.max(1) as i64;
        let mut start = now;
        let _ = self.last.fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
            start = now.max(last + 1);
            Some(start + count - 1)
        });
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_never_overlap_even_for_one_clock_reading() {
        let clock = ReceiveClock::new();
        assert_eq!(clock.reserve(1_000, 5), 1_000);
        assert_eq!(clock.reserve(1_000, 1), 1_005, "same reading: after the last block");
        assert_eq!(clock.reserve(1_002, 3), 1_006, "a reading inside the last block");
        assert_eq!(clock.reserve(5_000, 0), 5_000, "a later reading starts there; empty asks count one");
    }

    #[test]
    fn concurrent_reservations_are_disjoint() {
        let clock = std::sync::Arc::new(ReceiveClock::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let clock = clock.clone();
                std::thread::spawn(move || (0..1_000).map(|_| clock.reserve(7, 3)).collect::<Vec<_>>())
            })
            .collect();
        let mut starts: Vec<i64> = threads.into_iter().flat_map(|t| t.join().expect("thread")).collect();
        starts.sort_unstable();
        assert!(starts.windows(2).all(|w| w[1] - w[0] >= 3), "every block has its 3 nanoseconds alone");
    }
}
