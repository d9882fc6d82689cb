//! Account security: single-use links by mail, login throttling, password changes and the
//! account's own security history.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    AccountFailure, LinkKind, LinkRedemption, LoginFailures, NewLink, NewOrder, NewSecurityEvent, PasswordChange,
    PeekedLink, SecurityEvent, StoreResult, UsedLink,
};

/// Account security.
#[async_trait]
pub trait SecurityStore: Send + Sync {
    /// Stores a single-use link for `user_id` and queues its mail, in one transaction.
    async fn issue_link(&self, user_id: Uuid, link: NewLink, now: DateTime<Utc>) -> StoreResult<()>;
    /// When the account was last sent a link of `kind`.
    async fn last_link_at(&self, user_id: Uuid, kind: LinkKind) -> StoreResult<Option<DateTime<Utc>>>;
    /// Whose a link is, if it is unused and unexpired, without using it (no proof of anything).
    async fn peek_link(&self, kind: LinkKind, hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<PeekedLink>>;
    /// Uses a verification link and verifies the address it was mailed to (if it is still the
    /// account's), voiding the account's reset and claim links, in one transaction. `None`:
    /// unknown, used or expired.
    async fn redeem_verification(
        &self,
        hash: &[u8],
        client: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UsedLink>>;
    /// Uses a reset or claim link with the password it sets, in one transaction: the address
    /// becomes verified, every token and JWT is revoked, the other reset and claim links die
    /// (a claim also turns 2FA off, voids the recovery codes and every other link), the
    /// failed sign-ins are forgotten. `None`: unknown, used or expired.
    async fn redeem_link(&self, redemption: LinkRedemption) -> StoreResult<Option<UsedLink>>;
    /// Sets a password, revokes what it says, voids the reset and claim links, records its
    /// event and queues its mail, in one transaction.
    async fn set_password(&self, change: PasswordChange) -> StoreResult<()>;
    /// Revokes every API token of the account (and so every JWT); how many were live.
    async fn revoke_all_tokens(
        &self,
        user_id: Uuid,
        event: NewSecurityEvent,
        mail: Option<NewOrder>,
    ) -> StoreResult<u64>;
    /// Queues a mail on its own.
    async fn queue_mail(&self, mail: NewOrder, now: DateTime<Utc>) -> StoreResult<()>;

    /// Failed password checks since `since`, for the pair and for the client address, and the
    /// account's own consecutive failures (whatever the client).
    async fn login_failures(&self, client: &str, email: &str, since: DateTime<Utc>) -> StoreResult<LoginFailures>;
    /// Records a failed password check at `now` (and its security event, for a known
    /// account), counts it against the account (locking it at the limit), and forgets this
    /// client's failures older than `forget_before`.
    async fn record_login_failure(
        &self,
        client: &str,
        email: &str,
        event: Option<NewSecurityEvent>,
        account: Option<AccountFailure>,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Forgets the account's consecutive failures after a success (a lock stays).
    async fn clear_account_failures(&self, user_id: Uuid) -> StoreResult<()>;
    /// Records an entry of an account's security history.
    async fn record_security_event(&self, event: NewSecurityEvent) -> StoreResult<()>;
    /// The account's security history, newest first, before the cursor.
    async fn security_events(&self, user_id: Uuid, before: Option<Uuid>, limit: u32)
    -> StoreResult<Vec<SecurityEvent>>;
}
