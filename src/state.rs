//! The state every handler shares: cheap to clone.

use std::sync::Arc;

use crate::auth::jwt::JwtKeys;
use crate::authz::throttle::Throttles;
use crate::clock::Clock;
use crate::config::Config;
use crate::secrets::SecretBox;
use crate::store::Store;

/// Shared state, passed with `with_state`: one `Arc`, so the clones the router and the
/// middleware make per request cost one reference count, and each serving thread has its own
/// (two threads bumping the counts of the same `Arc`s per request made the cache line move
/// between cores on every request: 4% of the server's time in the profile).
#[derive(Clone)]
pub struct AppState(Arc<StateFields>);

/// What [`AppState`] holds.
#[derive(Clone)]
pub struct StateFields {
    /// The store.
    pub store: Arc<dyn Store>,
    /// JWT keys.
    pub jwt: Arc<JwtKeys>,
    /// Settings.
    pub config: Arc<Config>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Seals and opens secrets at rest.
    pub secrets: Arc<SecretBox>,
    /// The side writes of requests (use, refusals, expiries), at most once a minute each.
    pub throttles: Arc<Throttles>,
    /// Password hashes computed at once (`ROLEGATE_HASH_CONCURRENCY`): argon2 takes 19 MiB
    /// and a core's worth of time each, so an unbounded number would exhaust the machine.
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// One sign-in (one password hash) in flight per client address, so a flood from one
    /// address cannot take the hashing slots of everyone else.
    pub signin_turns: Arc<crate::auth::throttle::Turns<std::net::IpAddr>>,
    /// One sign-in in flight per account (by the address typed), so its limits see every
    /// failure before the next attempt.
    pub account_turns: Arc<crate::auth::throttle::Turns<String>>,
    /// This server's Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    pub fn new(fields: StateFields) -> AppState {
        AppState(Arc::new(fields))
    }

    /// The same state over another store (a serving thread's own).
    pub fn with_store(&self, store: Arc<dyn Store>) -> AppState {
        AppState::new(StateFields {
            store,
            ..StateFields::clone(&self.0)
        })
    }
}

impl std::ops::Deref for AppState {
    type Target = StateFields;

    fn deref(&self) -> &StateFields {
        &self.0
    }
}
