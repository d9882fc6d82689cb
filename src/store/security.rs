//! Account security: single-use links by mail, login throttling, password changes and the
//! account's own security history.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    LinkKind, LoginFailures, NewLink, NewOrder, NewSecurityEvent, PasswordChange, SecurityEvent, StoreResult, UsedLink,
};

/// Account security.
#[async_trait]
pub trait SecurityStore: Send + Sync {
    /// Stores a single-use link for `user_id` and queues its mail, in one transaction.
    async fn issue_link(&self, user_id: Uuid, link: NewLink, now: DateTime<Utc>) -> StoreResult<()>;
    /// When the account was last sent a link of `kind`.
    async fn last_link_at(&self, user_id: Uuid, kind: LinkKind) -> StoreResult<Option<DateTime<Utc>>>;
    /// Whose a link is, if it is unused and unexpired, without using it.
    async fn peek_link(&self, kind: LinkKind, hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<UsedLink>>;
    /// Uses a link: at most one caller ever gets it, and only before it expires.
    async fn use_link(&self, kind: LinkKind, hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<UsedLink>>;
    /// Marks `email` verified if it is still the account's; `false` otherwise or if it already was.
    async fn verify_email(&self, user_id: Uuid, email: &str, event: NewSecurityEvent) -> StoreResult<bool>;
    /// Sets a password, revokes what it says, records its event and queues its mail, in one
    /// transaction.
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

    /// Failed password checks since `since`, for the pair and for the client address.
    async fn login_failures(&self, client: &str, email: &str, since: DateTime<Utc>) -> StoreResult<LoginFailures>;
    /// Records a failed password check at `now` (and its security event, for a known
    /// account) and forgets this client's failures older than `forget_before`.
    async fn record_login_failure(
        &self,
        client: &str,
        email: &str,
        event: Option<NewSecurityEvent>,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Records an entry of an account's security history.
    async fn record_security_event(&self, event: NewSecurityEvent) -> StoreResult<()>;
    /// The account's security history, newest first, before the cursor.
    async fn security_events(&self, user_id: Uuid, before: Option<Uuid>, limit: u32)
    -> StoreResult<Vec<SecurityEvent>>;
}
