//! Sign-in throttling. Failed password and second-factor checks are counted in the store (so
//! every replica shares them) three ways:
//! - per client address and email, and per client address alone, over a 15-minute window:
//!   past either limit a sign-in from that client is refused before its password is checked;
//! - per account, whatever the client, until a success: from the 10th consecutive failure
//!   every attempt waits, doubling from 1 second to 15 minutes, and the 100th locks password
//!   and code sign-ins until a mailed reset link is used (NIST SP 800-63B §5.2.2).
//!
//! And at most one sign-in (so one password hash) is in flight per client address, and per
//! account, at a time on a replica ([`Turns`]): a flood from one address queues behind itself,
//! meets its own throttle after its first failures, and never takes more than one hashing slot
//! from other clients; a flood on one account from many addresses meets the account's limit
//! after its first failures instead of hashing hundreds of guesses at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use super::client::ClientAddr;
use crate::error::ApiError;
use crate::kinds::SecurityEventKind;
use crate::state::AppState;
use crate::store::{AccountFailure, LoginFailures, NewSecurityEvent};

/// The window failures are counted over.
pub const WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Failures for one client address and email within the window before sign-ins are refused.
pub const PER_ACCOUNT: i64 = 5;
/// Failures for one client address, all emails, within the window.
pub const PER_CLIENT: i64 = 50;
/// Consecutive failures of an account, from any client, from which every attempt waits.
pub const ACCOUNT_BACKOFF_FROM: i32 = 10;
/// The longest wait between two attempts on an account: 15 minutes.
pub const ACCOUNT_BACKOFF_MAX_SECONDS: i64 = 900;
/// Consecutive failures of an account that lock its password and code sign-ins.
pub const ACCOUNT_LOCK_AT: i32 = 100;
/// Longest wait for the client's turn before answering 429.
const TURN_WAIT: Duration = Duration::from_secs(10);

/// What a passed check knows of the account, so a success can clear its failures.
#[derive(Clone, Copy, Debug, Default)]
pub struct Checked {
    account_failures: i32,
}

/// How long an account with `failures` consecutive failures makes the next attempt wait
/// after the last one (none below [`ACCOUNT_BACKOFF_FROM`]).
pub fn account_backoff(failures: i32) -> TimeDelta {
    if failures < ACCOUNT_BACKOFF_FROM {
        return TimeDelta::zero();
    }
    let doublings = u32::try_from(failures - ACCOUNT_BACKOFF_FROM).unwrap_or(0).min(20);
    TimeDelta::seconds((1i64 << doublings).min(ACCOUNT_BACKOFF_MAX_SECONDS))
}

/// Refuses (429) an attempt from `client` for `email` once a limit of the client or of the
/// account is reached, before any password is checked, the right one included. Unknown
/// emails count exactly like known ones for the client's limits.
pub async fn check(state: &AppState, client: ClientAddr, email: &str) -> Result<Checked, ApiError> {
    let now = state.clock.now();
    let failures = state
        .store
        .login_failures(&client.to_string(), email, now - WINDOW)
        .await?;
    if failures.account_locked_at.is_some() {
        return Err(ApiError::AccountLocked);
    }
    let account_failures = failures.account.unwrap_or(0);
    if let Some(last) = failures.account_last {
        let wait = last + account_backoff(account_failures) - now;
        if wait > TimeDelta::zero() {
            // Whole seconds, rounded up: a wait of 0.4 s is `Retry-After: 1`, not 0.
            let seconds = (wait.num_milliseconds() + 999) / 1000;
            return Err(ApiError::Throttled(u64::try_from(seconds.max(1)).unwrap_or(1)));
        }
    }
    client_limits(failures, now)?;
    Ok(Checked { account_failures })
}

/// The client's limits alone: for a reset link's second factor, where the link (mailed to the
/// address) is what unlocks a locked account.
pub async fn check_client(state: &AppState, client: ClientAddr, email: &str) -> Result<(), ApiError> {
    let now = state.clock.now();
    let failures = state
        .store
        .login_failures(&client.to_string(), email, now - WINDOW)
        .await?;
    client_limits(failures, now)
}

fn client_limits(failures: LoginFailures, now: chrono::DateTime<chrono::Utc>) -> Result<(), ApiError> {
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

/// A password and second factor that passed: the account's consecutive failures end.
pub async fn succeeded(state: &AppState, user_id: Uuid, checked: Checked) -> Result<(), ApiError> {
    if checked.account_failures > 0 {
        state.store.clear_account_failures(user_id).await?;
    }
    Ok(())
}

/// Records a failed password or second-factor check: counted for the client's limits and
/// against the account (when the email has one), logged with the account, the client
/// address and the reason, and on the account's security history. The failure that reaches
/// [`ACCOUNT_LOCK_AT`] locks the account, records `account.locked` and mails the address.
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
    let account = match user_id {
        Some(user_id) => Some(AccountFailure {
            user_id,
            lock_at: ACCOUNT_LOCK_AT,
            lock_event: NewSecurityEvent {
                user_id,
                kind: SecurityEventKind::AccountLocked,
                client: Some(client.to_string()),
                data: serde_json::json!({ "failures": ACCOUNT_LOCK_AT }),
                now,
            },
            lock_mail: super::links::sealed(state, crate::mail::account_locked(email))?,
        }),
        None => None,
    };
    state
        .store
        .record_login_failure(&client.to_string(), email, event, account, now, now - WINDOW)
        .await?;
    Ok(())
}

/// One turn per key (a client address, an account): while a sign-in holding a key's turn is in
/// flight, the next waits (at most [`TURN_WAIT`], then 429). Entries live only while someone
/// holds or waits for one.
pub struct Turns<K> {
    turns: Mutex<HashMap<K, Arc<Semaphore>>>,
    limit: &'static str,
    detail: &'static str,
}

/// A key's turn; the next one starts when it is dropped.
pub struct Turn<'a, K: Eq + Hash> {
    owner: &'a Turns<K>,
    key: K,
    permit: Option<OwnedSemaphorePermit>,
}

impl<K: Eq + Hash + Clone> Turns<K> {
    /// Turns per client address: one sign-in (one password hash) in flight per address.
    pub fn per_client() -> Turns<K> {
        Turns {
            turns: Mutex::default(),
            limit: "signins_in_flight_per_client",
            detail: "another sign-in from this address is still being checked; retry in 1 seconds",
        }
    }

    /// Turns per account: its attempts are checked one after another, so its throttle sees each
    /// failure before the next attempt (a burst from many addresses cannot slip past it).
    pub fn per_account() -> Turns<K> {
        Turns {
            turns: Mutex::default(),
            limit: "signins_in_flight_per_account",
            detail: "another sign-in to this account is still being checked; retry in 1 seconds",
        }
    }

    /// Waits for `key`'s turn.
    pub async fn take(&self, key: K) -> Result<Turn<'_, K>, ApiError> {
        let gate = {
            let mut turns = self.turns.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            turns
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(1)))
                .clone()
        };
        // The turn is declared before the wait, so whatever ends the wait (a permit, the
        // timeout, the client going away) drops the wait's reference to the gate first, and the
        // turn's drop then removes the entry if nobody else holds or waits for it.
        let mut turn = Turn {
            owner: self,
            key,
            permit: None,
        };
        let wait = tokio::time::timeout(TURN_WAIT, gate.acquire_owned());
        match wait.await {
            Ok(Ok(permit)) => {
                turn.permit = Some(permit);
                Ok(turn)
            }
            Ok(Err(_)) | Err(_) => Err(ApiError::RateLimited {
                limit: self.limit,
                max: 1,
                retry_after: 1,
                detail: self.detail.into(),
            }),
        }
    }

    /// How many keys are held or waited for.
    pub fn len(&self) -> usize {
        self.turns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no key is held or waited for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Eq + Hash> Drop for Turn<'_, K> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut turns = self
            .owner
            .turns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Every holder and waiter keeps a reference to the gate: the map's alone means
        // nobody else holds or waits.
        if turns.get(&self.key).is_some_and(|gate| Arc::strong_count(gate) == 1) {
            turns.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    #[test]
    fn the_account_backoff_doubles_from_the_tenth_failure_to_fifteen_minutes() {
        assert_eq!(account_backoff(0), TimeDelta::zero());
        assert_eq!(account_backoff(9), TimeDelta::zero());
        assert_eq!(account_backoff(10), TimeDelta::seconds(1));
        assert_eq!(account_backoff(11), TimeDelta::seconds(2));
        assert_eq!(account_backoff(15), TimeDelta::seconds(32));
        assert_eq!(account_backoff(19), TimeDelta::seconds(512));
        assert_eq!(account_backoff(20), TimeDelta::seconds(900));
        assert_eq!(account_backoff(99), TimeDelta::seconds(900));
        assert_eq!(account_backoff(i32::MAX), TimeDelta::seconds(900));
    }

    #[tokio::test]
    async fn one_turn_per_client_and_none_left_behind() {
        let turns = Turns::<IpAddr>::per_client();
        let ada: IpAddr = "10.0.0.1".parse().unwrap();
        let bob: IpAddr = "10.0.0.2".parse().unwrap();
        let first = turns.take(ada).await.unwrap();
        // Another client is not held up.
        let other = turns.take(bob).await.unwrap();
        assert_eq!(turns.len(), 2);
        drop(other);
        assert_eq!(turns.len(), 1);
        // The same client waits for the first turn to end.
        let waiting = async {
            let started = std::time::Instant::now();
            let turn = turns.take(ada).await.map(|_| ());
            (turn.is_ok(), started.elapsed())
        };
        let release = async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(first);
        };
        let ((ok, waited), ()) = tokio::join!(waiting, release);
        assert!(ok);
        assert!(waited >= Duration::from_millis(90), "{waited:?}");
        assert!(turns.is_empty());
    }
}
