//! The writes a request makes on the side (use recorded, a refusal put on the timeline, an
//! expired membership removed), at most once a minute per key and per replica.
//!
//! The access row tells a request whether a write is due (`last_used_at` older than a
//! minute), but every request in flight when it falls due reads the same old value: at a few
//! thousand requests a second, dozens of them spawned the same `update` of one row, which
//! queued on its row lock, each waiting for the one before to commit (32 updates of one token
//! within a second in the benchmark, up to 162 ms each) and holding a pool connection
//! meanwhile. A throttle lets the first of them through and no other for a minute. The stored
//! time is looked at first, so the lock below is taken only by requests that find a write due.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::Permission;

/// How often a side write is made: at most once a minute per key.
pub const EVERY: TimeDelta = TimeDelta::seconds(60);

/// The keys let through in the last minute.
pub struct Throttle<K> {
    last: Mutex<HashMap<K, DateTime<Utc>>>,
}

impl<K> Default for Throttle<K> {
    fn default() -> Self {
        Throttle {
            last: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq> Throttle<K> {
    /// Whether a write of `key`, last written at `written` as the store says, is due now and
    /// is this replica's first in the minute.
    pub fn due(&self, key: K, written: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        written.is_none_or(|at| now - at >= EVERY) && self.admit(key, now)
    }

    /// Whether `key` may be written now; if so, it is not again for [`EVERY`].
    pub fn admit(&self, key: K, now: DateTime<Utc>) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: past this size the keys older than a minute go (they would be admitted).
        if last.len() > 100_000 {
            last.retain(|_, at| now - *at < EVERY);
        }
        match last.get(&key) {
            Some(at) if now - *at < EVERY => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }
}

/// One throttle per kind of side write, shared by a replica's serving threads.
#[derive(Default)]
pub struct Throttles {
    /// `access.denied` events, per membership: a loop of refused calls cannot flood the
    /// timeline.
    pub denials: Throttle<Uuid>,
    /// A token's (and so its user's) last use, per token.
    pub tokens: Throttle<Uuid>,
    /// A membership's last use, per membership.
    pub memberships: Throttle<Uuid>,
    /// A permission's last use, per membership and permission.
    pub permissions: Throttle<(Uuid, Permission)>,
    /// The removal of a membership found past its end, per membership.
    pub expiries: Throttle<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_admitted_once_a_minute_and_keys_are_independent() {
        let throttle = Throttle::default();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert!(throttle.admit(a, t0));
        assert!(!throttle.admit(a, t0), "the same key at once");
        assert!(!throttle.admit(a, t0 + EVERY - TimeDelta::milliseconds(1)));
        assert!(throttle.admit(b, t0), "another key is not held back");
        assert!(throttle.admit(a, t0 + EVERY), "a minute later");
        assert!(!throttle.admit(a, t0 + EVERY));
    }

    #[test]
    fn a_write_is_due_when_the_stored_time_is_a_minute_old_and_none_was_let_through() {
        let throttle = Throttle::default();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let a = Uuid::from_u128(1);
        let recent = Some(t0 - EVERY + TimeDelta::seconds(1));
        assert!(!throttle.due(a, recent, t0), "written less than a minute ago");
        assert!(throttle.due(a, Some(t0 - EVERY), t0));
        assert!(!throttle.due(a, Some(t0 - EVERY), t0), "another request in flight");
        assert!(throttle.due(Uuid::from_u128(2), None, t0), "never written");
    }

    #[test]
    fn the_map_is_bounded_by_forgetting_keys_older_than_a_minute() {
        let throttle = Throttle::default();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        for n in 0..=100_000u128 {
            throttle.admit(Uuid::from_u128(n), t0);
        }
        let later = t0 + EVERY;
        assert!(throttle.admit(Uuid::from_u128(u128::MAX), later));
        assert_eq!(throttle.last.lock().unwrap().len(), 1, "the old keys were dropped");
        assert!(!throttle.admit(Uuid::from_u128(u128::MAX), later));
    }
}
