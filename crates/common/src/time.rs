//! Time helpers. Sample timestamps are integer nanoseconds since the Unix epoch (UTC) everywhere
//! inside SRS; metadata uses `chrono::DateTime<Utc>`.

use chrono::{DateTime, TimeZone, Utc};

pub type Timestamp = DateTime<Utc>;

pub fn now() -> Timestamp {
    Utc::now()
}

pub fn now_ns() -> i64 {
    to_ns(&Utc::now())
}

/// Nanoseconds since the epoch; saturates outside the years 1677..2262, which validation rejects.
pub fn to_ns(at: &Timestamp) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

pub fn from_ns(ns: i64) -> Timestamp {
    Utc.timestamp_nanos(ns)
}

/// The UTC day number (days since 1970-01-01) of a nanosecond timestamp.
pub fn day_of_ns(ns: i64) -> i64 {
    ns.div_euclid(86_400_000_000_000)
}

/// `YYYY-MM-DD` of a UTC day number.
pub fn day_to_date(day: i64) -> String {
    from_ns(day.saturating_mul(86_400_000_000_000)).format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanoseconds_round_trip_and_days() {
        let at: Timestamp = "2026-11-23T10:00:00.123456789Z".parse().expect("valid");
        let ns = to_ns(&at);
        assert_eq!(from_ns(ns), at);
        assert_eq!(day_to_date(day_of_ns(ns)), "2026-11-23");
        assert_eq!(day_to_date(day_of_ns(-1)), "1969-12-31");
    }
}
