//! Accounts: users, API tokens and the credential behind a request.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ApiToken, Caller, Credential, NewToken, NewUser, StoreResult, User, UserLogin};
use crate::domain::Email;

/// Accounts.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates a user; `Conflict` when the email is taken.
    async fn create_user(&self, new: NewUser<'_>) -> StoreResult<User>;

    /// A user and their password hash, by email.
    async fn user_login(&self, email: &Email) -> StoreResult<Option<UserLogin>>;

    /// Stores a new API token (its hash only).
    async fn create_token(&self, new: NewToken<'_>) -> StoreResult<ApiToken>;

    /// The user's tokens that are not revoked, newest first.
    async fn list_tokens(&self, user_id: Uuid) -> StoreResult<Vec<ApiToken>>;

    /// Revokes one of the user's tokens; `NotFound` when it is not theirs or already revoked.
    async fn revoke_token(&self, user_id: Uuid, token_id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;

    /// The display names of these accounts (`None`: no name); accounts that are gone are left
    /// out.
    async fn user_names(&self, ids: &[Uuid]) -> StoreResult<std::collections::HashMap<Uuid, Option<String>>>;

    /// The user behind a live credential.
    async fn authenticate(&self, credential: &Credential, now: DateTime<Utc>) -> StoreResult<Option<Caller>>;

    /// Records that a token was used (callers throttle this to once a minute).
    async fn touch_token(&self, token_id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;
}
