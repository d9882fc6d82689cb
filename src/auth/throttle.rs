//! Login throttling: failed password checks are counted in the store (so every replica
//! shares them) per client address and email, and per client address alone. Past the limit,
//! a sign-in is refused before its password is even checked, the right one included.

use chrono::TimeDelta;
use uuid::Uuid;

use super::client::ClientAddr;
use crate::error::ApiError;
use crate::kinds::SecurityEventKind;
use crate::state::AppState;
use crate::store::NewSecurityEvent;

/// The window failures are counted over.
pub const WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Failures for one client address and email within the window before sign-ins are refused.
pub const PER_ACCOUNT: i64 = 5;
/// Failures for one client address, all emails, within the window.
pub const PER_CLIENT: i64 = 50;

/// Refuses (429) a sign-in from `client` for `email` once either limit is reached, until the
/// oldest counted failure leaves the window. Unknown emails count exactly like known ones.
pub async fn check(state: &AppState, client: ClientAddr, email: &str) -> Result<(), ApiError> {
    let now = state.clock.now();
    let failures = state
        .store
        .login_failures(&client.to_string(), email, now - WINDOW)
        .await?;
    let until = if failures.pair >= PER_ACCOUNT {
        failures.pair_oldest
    } else if failures.client >= PER_CLIENT {
        failures.client_oldest
    } else {
        None
    };
    match until {
        Some(oldest) => {
            let wait = (oldest + WINDOW - now).num_seconds().max(1);
            Err(ApiError::Throttled(u64::try_from(wait).unwrap_or(1)))
        }
        None => Ok(()),
    }
}

/// Records a failed password check: counted for throttling, logged with the account (when
/// the email has one), the client address and the reason, and on the account's security
/// history.
pub async fn failed(
    state: &AppState,
    client: ClientAddr,
    email: &str,
    user_id: Option<Uuid>,
    reason: &'static str,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    match user_id {
        Some(id) => tracing::warn!(user_id = %id, client = %client, reason, "sign-in failed"),
        None => tracing::warn!(client = %client, reason, "sign-in failed for an unknown email"),
    }
    let event = user_id.map(|user_id| NewSecurityEvent {
        user_id,
        kind: SecurityEventKind::SigninFailed,
        client: Some(client.to_string()),
        data: serde_json::json!({ "reason": reason }),
        now,
    });
    // A refused attempt is history, but is not counted again: the window would never end.
    if reason == "throttled" {
        if let Some(event) = event {
            state.store.record_security_event(event).await?;
        }
        return Ok(());
    }
    state
        .store
        .record_login_failure(&client.to_string(), email, event, now, now - WINDOW)
        .await?;
    Ok(())
}
