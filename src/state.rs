//! The state every handler shares: cheap to clone.

use std::sync::Arc;

use crate::auth::jwt::JwtKeys;
use crate::authz::middleware::DenialLimiter;
use crate::clock::Clock;
use crate::config::Config;
use crate::secrets::SecretBox;
use crate::store::Store;

/// Shared state, passed with `with_state`.
#[derive(Clone)]
pub struct AppState {
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
    /// Rate limit of `access.denied` events.
    pub denials: Arc<DenialLimiter>,
    /// Password hashes computed at once (`ROLEGATE_HASH_CONCURRENCY`): argon2 takes 19 MiB
    /// and a core's worth of time each, so an unbounded number would exhaust the machine.
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// This server's Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
}
