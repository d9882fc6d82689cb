//! Persistence: one [`Store`] trait, one implementation per backend.
//!
//! Both backends run the same SQL (written once in [`sql`]); the differences — pool set-up,
//! migrations, row locks — live in `postgres.rs` and `sqlite.rs`. The backend is chosen
//! by the scheme of `DATABASE_URL`.

mod access;
mod models;
pub mod postgres;
mod resources;
mod sql;
mod sql_access;
mod sql_resources;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::authz::Permission;
use crate::domain::{AppName, BranchName, Email};

pub use access::{
    AccessStore, Actor, Applied, EventFilter, PermissionUse, Rejected, ReviewAction, ReviewMember, UserMembership,
};
pub use models::*;
pub use resources::{Operation, Queued, ResourceStore, merge_formation};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a state rule refused the change.
    #[error("{0}")]
    Conflict(&'static str),
    /// The database refused a value as out of range (Postgres class 22, data exception).
    #[error("a value is out of the range the database accepts")]
    OutOfRange,
    /// The database is unreachable, saturated or too slow; the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else.
    #[error("database error: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict("already exists"),
            // The row referred to went away in a race (an app deleted while a deployment of it
            // was being recorded): the thing is not found, not a server error.
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
            // Postgres: 57014 statement timeout; 53300 too many connections; 57P01..3 shutting
            // down; 40001 serialization failure, 40P01 deadlock, 55P03 lock not available (a
            // retry succeeds). SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED and their extended codes.
            sqlx::Error::Database(db)
                if matches!(
                    db.code().as_deref(),
                    Some(
                        "57014"
                            | "53300"
                            | "57P01"
                            | "57P02"
                            | "57P03"
                            | "40001"
                            | "40P01"
                            | "55P03"
                            | "5"
                            | "6"
                            | "261"
                            | "262"
                            | "517"
                            | "773"
                    )
                ) =>
            {
                StoreError::Unavailable(err)
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22")) => StoreError::OutOfRange,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => StoreError::Unavailable(err),
            _ => StoreError::Other(Box::new(err)),
        }
    }
}

/// The most build output kept per deployment, in characters: older output is dropped.
pub const MAX_BUILD_OUTPUT: i32 = 1 << 20;

/// How long an `Idempotency-Key` names its first deployment.
pub const IDEMPOTENCY_KEY_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// How long to wait for a connection and for one statement.
#[derive(Clone, Copy, Debug)]
pub struct PoolSettings {
    /// Largest number of connections (Postgres) or readers (SQLite).
    pub max_connections: u32,
    /// Longest wait for a free connection before answering 503.
    pub acquire_timeout: Duration,
    /// Longest a statement may run (Postgres `statement_timeout`, SQLite busy timeout).
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens the store named by `url` (`postgres://…` or `sqlite://…`) and applies migrations.
pub async fn connect(url: &str, settings: PoolSettings) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url, settings).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url, settings).await?))
    } else {
        Err(StoreError::Other(
            "DATABASE_URL must start with postgres://, postgresql:// or sqlite:".into(),
        ))
    }
}

/// A change to a membership: `None` leaves a field as it is; `Some(None)` clears the end
/// of access.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemberChange {
    /// The new role.
    pub role: Option<crate::authz::Role>,
    /// The new end of access.
    pub access_expires_at: Option<Option<DateTime<Utc>>>,
}

/// Everything the service keeps. Every multi-step change is one transaction, and every
/// change made on behalf of a user writes its event in that same transaction.
#[async_trait]
pub trait Store: ResourceStore + AccessStore + Send + Sync + 'static {
    /// Which backend this is (`postgres` or `sqlite`).
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers.
    async fn ping(&self) -> StoreResult<()>;

    // --- accounts and tokens ---

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
    /// The user behind a live credential.
    async fn authenticate(&self, credential: &Credential, now: DateTime<Utc>) -> StoreResult<Option<Caller>>;
    /// Records that a token was used (callers throttle this to once a minute).
    async fn touch_token(&self, token_id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;

    // --- the access check: one query per request ---

    /// The user behind a live credential, and the app with their membership if the app
    /// exists. `None` when the credential is not live.
    async fn app_access(
        &self,
        credential: &Credential,
        app: &AppRef,
        permission: Permission,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Caller, Option<AppAccess>)>>;

    // --- apps ---

    /// Creates an app owned by `owner`; `Conflict` when the name is taken.
    async fn create_app(
        &self,
        owner: &UserRef,
        name: &AppName,
        branch: &BranchName,
        now: DateTime<Utc>,
    ) -> StoreResult<App>;
    /// Apps where the user has a role, by name, after the cursor.
    async fn list_apps(&self, user_id: Uuid, after: Option<&str>, limit: u32) -> StoreResult<Vec<AppWithRole>>;
    /// Changes the default branch.
    async fn update_app(&self, app: &App, branch: &BranchName, actor: &UserRef, now: DateTime<Utc>)
    -> StoreResult<App>;
    /// Renames; `Conflict` when the name is taken.
    async fn rename_app(&self, app: &App, name: &AppName, actor: &UserRef, now: DateTime<Utc>) -> StoreResult<App>;
    /// Deletes the app with its memberships and invitations.
    async fn delete_app(&self, app: &App, actor: &UserRef, now: DateTime<Utc>) -> StoreResult<()>;
    /// Makes `to` (a member) the owner and the current owner `actor` a collaborator, atomically.
    async fn transfer_app(&self, app: &App, actor: &UserRef, to: Uuid, now: DateTime<Utc>) -> StoreResult<App>;

    // --- members ---

    /// Every member, owner first.
    async fn list_collaborators(&self, app_id: Uuid) -> StoreResult<Vec<Collaborator>>;
    /// One member by membership id.
    async fn collaborator(&self, app_id: Uuid, id: Uuid) -> StoreResult<Option<Collaborator>>;
    /// Changes a member's role and/or the end of their access (never the owner's: `Conflict`).
    async fn update_collaborator(
        &self,
        app: &App,
        id: Uuid,
        change: MemberChange,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Collaborator>;
    /// Removes a member (never the owner: `Conflict`). `left` records it as leaving.
    async fn remove_collaborator(
        &self,
        app: &App,
        id: Uuid,
        actor: &UserRef,
        left: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    // --- invitations ---

    /// Creates a pending invitation; `Conflict` when the email is a member or already invited.
    async fn create_invitation(&self, new: NewInvitation<'_>) -> StoreResult<Invitation>;
    /// Every invitation of the app, newest first.
    async fn list_invitations(&self, app_id: Uuid) -> StoreResult<Vec<Invitation>>;
    /// Revokes a pending invitation; `NotFound` when there is no pending one with that id.
    async fn revoke_invitation(&self, app: &App, id: Uuid, actor: &UserRef, now: DateTime<Utc>) -> StoreResult<()>;
    /// An invitation by the hash of its token.
    async fn invitation_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Invitation>>;
    /// An invitation by id.
    async fn invitation_by_id(&self, id: Uuid) -> StoreResult<Option<Invitation>>;
    /// Pending, unexpired invitations addressed to an email.
    async fn invitations_for(&self, email: &str, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>>;
    /// Accepts a pending invitation for `user`: at most one caller ever succeeds.
    async fn accept_invitation(&self, id: Uuid, user: &UserRef, now: DateTime<Utc>) -> StoreResult<Accepted>;
    /// Declines a pending invitation.
    async fn decline_invitation(&self, id: Uuid, user: &UserRef, now: DateTime<Utc>) -> StoreResult<bool>;

    // --- events ---

    /// The app's events (of one type, if given), newest first, before the cursor.
    async fn list_events(
        &self,
        app_id: Uuid,
        kind: Option<&str>,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::StoreError;

    /// A row whose parent went away in a race is "not found", not a server error.
    #[tokio::test]
    async fn a_missing_parent_row_is_not_found() {
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        for sql in [
            "PRAGMA foreign_keys = ON",
            "CREATE TABLE apps (id INTEGER PRIMARY KEY)",
            "CREATE TABLE deployments (id INTEGER PRIMARY KEY, app_id INTEGER NOT NULL REFERENCES apps (id))",
        ] {
            sqlx::query(sql).execute(&mut db).await.unwrap();
        }
        let err = sqlx::query("INSERT INTO deployments (app_id) VALUES (1)")
            .execute(&mut db)
            .await
            .unwrap_err();
        assert!(matches!(StoreError::from(err), StoreError::NotFound));
    }
}
