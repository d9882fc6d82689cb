//! Persistence: one [`Store`] trait, one implementation per backend.
//!
//! One trait per aggregate (accounts, apps, members, invitations, events, review, variables,
//! deployments, requests, telemetry, add-ons, the outbox), each in its own file with its
//! models in `models/`; [`Store`] is all of them. Both backends run the same SQL, written
//! once per aggregate in `sql/` and compiled as a module of each backend; what differs —
//! pool set-up, migrations, row locks — lives in `postgres.rs` and `sqlite.rs`. The backend
//! is chosen by the scheme of `DATABASE_URL`.

mod access_batch;
mod access_pool;
mod accounts;
mod addons;
mod apps;
mod columns;
mod databases;
mod deployments;
mod events;
pub mod failover;
mod invitations;
mod members;
pub mod models;
mod outbox;
mod records;
// Each backend compiles the shared SQL files of `sql/` as its own modules.
#[allow(clippy::duplicate_mod)]
pub mod postgres;
mod requests;
mod review;
mod security;
mod settings;
#[allow(clippy::duplicate_mod)]
pub mod sqlite;
mod telemetry;
mod tfa;
mod variables;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use accounts::AccountStore;
pub use addons::AddonStore;
pub use apps::AppStore;
pub use databases::DatabaseStore;
pub use deployments::DeploymentStore;
pub use events::EventStore;
pub use invitations::InvitationStore;
pub use members::MemberStore;
pub use models::*;
pub use outbox::{Backlog, OutboxStore};
pub use records::RecordStore;
pub use requests::RequestStore;
pub use review::ReviewStore;
pub use security::SecurityStore;
pub use settings::SettingStore;
pub use telemetry::TelemetryStore;
pub use tfa::TfaStore;
pub use variables::VariableStore;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a state rule refused the change.
    #[error("{0}")]
    Conflict(&'static str),
    /// A quota would be exceeded: `limit` names it, `max` is its value.
    #[error("the {limit} quota ({max}) would be exceeded")]
    Quota {
        /// The quota, such as `apps_per_owner`.
        limit: &'static str,
        /// Its value.
        max: u64,
    },
    /// A rate limit is spent until `retry_after` seconds from now.
    #[error("the {limit} rate limit ({max}) is spent")]
    RateLimited {
        /// The limit, such as `orders_per_minute`.
        limit: &'static str,
        /// Its value.
        max: u64,
        /// Seconds until the oldest counted action leaves the window.
        retry_after: u64,
    },
    /// The database refused a value as out of range (Postgres class 22, data exception).
    #[error("a value is out of the range the database accepts")]
    OutOfRange,
    /// The database is unreachable, saturated or too slow; the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The database answers but takes no writes (a standby, or a read-only session).
    #[error("database is read-only (a standby, or in the middle of a failover)")]
    ReadOnly,
    /// Anything else.
    #[error("database error: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        // A failover sign: the session is read-only (a primary demoted), the server is shutting
        // down, or the connection is gone. The sessions open now are not handed out again.
        let failover_sign = match &err {
            sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("25006" | "57P01" | "57P02" | "57P03")),
            sqlx::Error::Io(_) => true,
            _ => false,
        };
        if failover_sign {
            failover::discard_open_sessions();
        }
        let error = match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict("already exists"),
            // The row referred to went away in a race (an app deleted while a deployment of it
            // was being recorded): the thing is not found, not a server error.
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
            // Postgres: 57014 statement timeout; 53300 too many connections; 57P01..3 shutting
            // down; 25006 a read-only session (a primary demoted to standby by a failover);
            // 40001 serialization failure, 40P01 deadlock, 55P03 lock not available (a retry
            // succeeds). SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED and their extended codes.
            sqlx::Error::Database(db)
                if matches!(
                    db.code().as_deref(),
                    Some(
                        "57014"
                            | "25006"
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
        };
        if let Some(kind) = error.metric_kind() {
            crate::metrics::STORE.error(kind);
        }
        error
    }
}

impl StoreError {
    /// The `kind` of `rolegate_db_errors_total` this error counts under; `None` for the
    /// answers a query gives by design (no row, a foreign key gone, out of range).
    fn metric_kind(&self) -> Option<&'static str> {
        Some(match self {
            StoreError::Unavailable(sqlx::Error::PoolTimedOut) => "pool_timeout",
            StoreError::Unavailable(sqlx::Error::Database(db)) => match db.code().as_deref() {
                Some("57014") => "timeout",
                Some("40001" | "40P01" | "55P03" | "5" | "6" | "261" | "262" | "517" | "773") => "busy",
                _ => "unavailable",
            },
            StoreError::Unavailable(_) | StoreError::ReadOnly => "unavailable",
            StoreError::Conflict(_) => "conflict",
            StoreError::Other(_) => "other",
            StoreError::NotFound
            | StoreError::OutOfRange
            | StoreError::Quota { .. }
            | StoreError::RateLimited { .. } => {
                return None;
            }
        })
    }
}

/// How many connections the pools hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open and waiting to be used.
    pub idle: u32,
    /// Handed out to a query or a transaction.
    pub in_use: u32,
    /// Access checks of requests so far (Postgres; 0 on SQLite).
    pub access_checks: u64,
    /// Queries that ran them: fewer than the checks when concurrent ones were batched
    /// (Postgres; 0 on SQLite).
    pub access_queries: u64,
    /// Checks dropped unrun from a batch because their request was gone (its client hung up
    /// while it waited; Postgres; 0 on SQLite).
    pub access_abandoned: u64,
}

/// Gets a connection from `pool`, timing the wait (`rolegate_db_pool_acquire_seconds`).
pub(crate) async fn acquire<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
) -> Result<sqlx::pool::PoolConnection<DB>, sqlx::Error> {
    let started = std::time::Instant::now();
    let conn = pool.acquire().await;
    crate::metrics::STORE.acquired(started.elapsed());
    conn
}

/// The most build output kept per deployment, in characters: older output is dropped.
pub const MAX_BUILD_OUTPUT: i32 = 1 << 20;

/// How long an `Idempotency-Key` names its first deployment.
pub const IDEMPOTENCY_KEY_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// The quotas the store enforces in the transaction of the change they bound (a count under a
/// row lock, so concurrent requests cannot pass one together). `0` means no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Apps one user may own.
    pub apps_per_owner: u64,
    /// Variables per app.
    pub variables_per_app: u64,
    /// Bytes of variable values per app.
    pub variable_bytes_per_app: u64,
    /// Members and pending invitations per app.
    pub members_per_app: u64,
    /// Orders (deployments, restarts, scales, requests of any kind) one member may cause on
    /// one app in any 60 seconds.
    pub orders_per_minute: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            apps_per_owner: 200,
            variables_per_app: 1000,
            variable_bytes_per_app: 4 * 1024 * 1024,
            members_per_app: 1000,
            orders_per_minute: 30,
        }
    }
}

/// How long to wait for a connection and for one statement.
#[derive(Clone, Copy, Debug)]
pub struct PoolSettings {
    /// Largest number of connections (Postgres) or readers (SQLite).
    pub max_connections: u32,
    /// Postgres (`ROLEGATE_DB_ACCESS_CONNECTIONS`): connections of the access checks, beside
    /// the pool. Concurrent checks are batched onto them, so one per core keeps each core's
    /// checks flowing; 0, the default, is one per core (a serving thread's store gets one).
    pub access_connections: u32,
    /// Longest wait for a free connection before answering 503.
    pub acquire_timeout: Duration,
    /// Longest a statement may run (Postgres `statement_timeout`, SQLite busy timeout).
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            access_connections: 0,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// The cores this process may run on.
pub fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}

/// Opens the store named by `url` (`postgres://…` or `sqlite://…`) and applies migrations.
pub async fn connect(url: &str, settings: PoolSettings, limits: Limits) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut store = postgres::PgStore::connect(url, settings).await?;
        store.limits = limits;
        Ok(Arc::new(store))
    } else if url.starts_with("sqlite:") {
        let mut store = sqlite::SqliteStore::connect(url, settings).await?;
        store.limits = limits;
        Ok(Arc::new(store))
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

/// Everything the service keeps, one trait per aggregate. Every multi-step change is one
/// transaction, and every change made on behalf of a user writes its event in that same
/// transaction.
#[async_trait]
pub trait Store:
    AccountStore
    + AppStore
    + MemberStore
    + InvitationStore
    + EventStore
    + ReviewStore
    + VariableStore
    + DeploymentStore
    + RequestStore
    + TelemetryStore
    + AddonStore
    + SecurityStore
    + SettingStore
    + RecordStore
    + DatabaseStore
    + OutboxStore
    + TfaStore
    + Send
    + Sync
    + 'static
{
    /// Which backend this is (`postgres` or `sqlite`).
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// How many connections the pools hold, idle and in use.
    fn pool_status(&self) -> PoolStatus;

    /// Another store on the same database for a serving thread: Postgres gives it pools of
    /// its own, sized by `settings`, moved by this store's one failover watcher, without
    /// running the migrations again; SQLite shares its pools (it has one writer).
    async fn lane(&self, settings: PoolSettings) -> StoreResult<Arc<dyn Store>>;

    /// Opens what a serving thread's first requests would otherwise wait for: on Postgres, the
    /// access connections, their statements prepared. Best effort: a failure is logged, and
    /// the first request that needs a connection opens it, as it would have.
    async fn warm(&self);

    /// Closes the pools at shutdown. On SQLite it first checkpoints the write-ahead log into
    /// the main file (`PRAGMA wal_checkpoint(TRUNCATE)`), so `rolegate.db` alone holds everything.
    async fn close(&self);
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
