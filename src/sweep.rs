//! The sweep that removes memberships whose time-bound access has ended. Refusal does not
//! wait for it: the middleware refuses an expired member on their very next request.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::state::AppState;

/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(60);

/// Starts the sweep.
pub fn spawn(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match state.store.expire_due(state.clock.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "time-bound memberships removed"),
                Err(err) => tracing::warn!(error = %err, "the expiry sweep failed; it will run again"),
            }
            tokio::time::sleep(EVERY).await;
        }
    })
}
