//! The production backend: one pool on a Postgres server that several replicas share.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::{PoolSettings, StoreError, StoreResult};

/// [`Store`](super::Store) on Postgres.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The quotas enforced in write transactions.
    pub(crate) limits: super::Limits,
}

impl PgStore {
    /// Connects with bounded waits and applies `migrations/postgres`.
    pub async fn connect(url: &str, settings: PoolSettings) -> StoreResult<PgStore> {
        let statement_timeout = settings.statement_timeout.as_millis().to_string();
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("DATABASE_URL is not a valid Postgres URL: {e}").into()))?
            .application_name("rolegate")
            .options([("statement_timeout", statement_timeout.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // No ping before each query: it would double the round trips on the hot path. A
            // connection that died is found out by its next query, which fails (503) and
            // drops it from the pool.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(PgStore {
            pool,
            limits: super::Limits::default(),
        })
    }

    /// Postgres runs readers and writers on the same pool.
    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction for a change; row locks (`for update`) serialise what must be.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

// The SQL under `store/sql/` is written once and compiled here and in the other backend's
// module: each file names the backend as `super::Backend` and `super::Db`, and its
// backend-specific clauses through the two macros below (sqlx binds `$1` on both).
type Backend = PgStore;
type Db = sqlx::Postgres;
const NAME: &str = "postgres";

/// The row-lock clause appended to a select whose rows a transaction is about to change.
macro_rules! lock {
    () => {
        " for update"
    };
}

/// The clause that lets several dispatchers lease rows without waiting on each other.
macro_rules! skip_locked {
    () => {
        " for update skip locked"
    };
}

#[path = "sql/accounts.rs"]
mod accounts;
#[path = "sql/addons.rs"]
mod addons;
#[path = "sql/apps.rs"]
mod apps;
#[path = "sql/databases.rs"]
mod databases;
#[path = "sql/deployments.rs"]
mod deployments;
#[path = "sql/events.rs"]
mod events;
#[path = "sql/invitations.rs"]
mod invitations;
#[path = "sql/members.rs"]
mod members;
#[path = "sql/outbox.rs"]
mod outbox;
#[path = "sql/records.rs"]
mod records;
#[path = "sql/requests.rs"]
mod requests;
#[path = "sql/review.rs"]
mod review;
#[path = "sql/security.rs"]
mod security;
#[path = "sql/settings.rs"]
mod settings;
#[path = "sql/shared.rs"]
mod shared;
#[path = "sql/telemetry.rs"]
mod telemetry;
#[path = "sql/tfa.rs"]
mod tfa;
#[path = "sql/variables.rs"]
mod variables;
