//! Timestamps as the API reads them: RFC 3339, in the years 0001 to 9999. Every backend
//! stores that range alike (SQLite keeps text, Postgres a `timestamptz`), so a date outside
//! it is a 422 naming the field on both rather than a different answer on each. Request
//! fields say `#[serde(deserialize_with = "crate::domain::timestamp::...")]`.

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// What a 422 says of a timestamp that is not one, or is out of range.
pub const RULE: &str = "must be an RFC 3339 timestamp such as 2030-01-31T09:00:00Z, in the years 0001 to 9999";

/// Reads a timestamp: RFC 3339 with an offset (`Z` or `+02:00`), years 0001 to 9999.
pub fn parse(raw: &str) -> Result<DateTime<Utc>, &'static str> {
    let at = raw.trim().parse::<DateTime<FixedOffset>>().map_err(|_| RULE)?;
    let utc = at.with_timezone(&Utc);
    let in_range = |year: i32| (1..=9999).contains(&year);
    if in_range(at.year()) && in_range(utc.year()) {
        Ok(utc)
    } else {
        Err(RULE)
    }
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 timestamp such as 2030-01-31T09:00:00Z")
    }

    fn visit_str<E: de::Error>(self, raw: &str) -> Result<Self::Value, E> {
        parse(raw).map_err(E::custom)
    }
}

/// One timestamp, for `Option` wrappers below.
struct Timestamp(DateTime<Utc>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TimestampVisitor).map(Timestamp)
    }
}

/// A required timestamp.
pub fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    Timestamp::deserialize(deserializer).map(|t| t.0)
}

/// An optional timestamp (absent or `null`: `None`); pair it with `#[serde(default)]`.
pub fn option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<Timestamp>::deserialize(deserializer).map(|t| t.map(|t| t.0))
}

/// A timestamp that may be cleared: absent is `None` (with `#[serde(default)]`), `null` is
/// `Some(None)`.
pub fn double_option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<DateTime<Utc>>>, D::Error> {
    option(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_and_shape() {
        for good in [
            "2030-01-31T09:00:00Z",
            "2030-01-31T09:00:00.5+02:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert!(parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "tomorrow",
            "2030-01-31",
            "0000-01-01T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "+275760-09-13T00:00:00Z",
            "-000001-01-01T00:00:00Z",
            "9999-12-31T23:59:59-01:00",
        ] {
            assert_eq!(parse(bad), Err(RULE), "{bad}");
        }
    }
}
