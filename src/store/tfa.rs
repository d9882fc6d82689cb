//! Two-factor authentication: a user's TOTP secret, the last time step used, recovery codes,
//! and apps that require a second factor of every member.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{App, NewSecurityEvent, SecurityChanged, Spend, StoreResult, TfaNotice, TfaSecret, UserRef};

/// Two-factor authentication.
#[async_trait]
pub trait TfaStore: Send + Sync {
    /// The user's sealed secret, if enrolment started.
    async fn tfa_secret(&self, user_id: Uuid) -> StoreResult<Option<TfaSecret>>;

    /// Stores a new pending secret (replacing a pending one) with its event; `false` when 2FA
    /// is already on.
    async fn start_tfa(&self, user_id: Uuid, sealed: &[u8], event: NewSecurityEvent) -> StoreResult<bool>;

    /// Turns 2FA on if `sealed` is still the pending secret, records `step` as used and stores
    /// the recovery codes' hashes, with the notice, in one transaction; `false` otherwise.
    async fn confirm_tfa(&self, sealed: &[u8], step: i64, codes: &[[u8; 32]], notice: TfaNotice) -> StoreResult<bool>;

    /// Spends a second factor of a user with 2FA on; `false` when it cannot be (a step not
    /// later than the last one used, a recovery code used or not theirs). A recovery code's
    /// spending writes `on_recovery` too, its event's data given `remaining`.
    async fn spend_second_factor(&self, spend: Spend, on_recovery: TfaNotice) -> StoreResult<bool>;

    /// Spends a second factor, then turns 2FA off (secret and recovery codes gone), with the
    /// notice; `false` when the factor cannot be spent.
    async fn disable_tfa(&self, spend: Spend, notice: TfaNotice) -> StoreResult<bool>;

    /// Spends a second factor, then replaces every recovery code, with the notice; `false`
    /// when the factor cannot be spent.
    async fn replace_recovery_codes(&self, spend: Spend, codes: &[[u8; 32]], notice: TfaNotice) -> StoreResult<bool>;

    /// Sets whether the app requires 2FA of every member, with its event when it changes.
    /// `None` when turning it on and `actor` has 2FA off (tested in the statement).
    async fn set_require_tfa(
        &self,
        app: &App,
        require: bool,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SecurityChanged>>;
}
