//! The production backend: one pool on a Postgres server that several replicas share.

use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::access_batch::{AccessBatcher, AccessKey};
use super::access_pool::AccessPool;
use super::failover::{self, Failover, SessionAttrs};
use super::{PoolSettings, StoreError, StoreResult};

/// [`Store`](super::Store) on Postgres.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The hosts of a multi-host `DATABASE_URL`, shared with the serving threads' stores;
    /// its watcher stops when the last of them is dropped.
    failover: Option<Arc<Failover>>,
    /// The access query's connections, handed back in place (see [`AccessPool`]), and the
    /// checks of concurrent requests batched onto them (see [`AccessBatcher`]).
    access: Arc<AccessBatcher>,
    /// The quotas enforced in write transactions.
    pub(crate) limits: super::Limits,
}

impl PgStore {
    /// Connects with bounded waits and applies `migrations/postgres`. A URL with several
    /// hosts or `target_session_attrs` gets a [`Failover`] watcher (see [`super::failover`]).
    pub async fn connect(url: &str, settings: PoolSettings) -> StoreResult<PgStore> {
        let statement_timeout = settings.statement_timeout.as_millis().to_string();
        let configure = |options: PgConnectOptions| {
            options
                .application_name("rolegate")
                .options([("statement_timeout", statement_timeout.as_str())])
        };
        let hosts = failover::parse(url).map_err(|e| StoreError::Other(e.into()))?;
        let (options, failover) = match hosts {
            None => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Other(format!("DATABASE_URL is not a valid Postgres URL: {e}").into()))?;
                (configure(options), None)
            }
            Some(list) => {
                let hosts = failover::options(&list, configure).map_err(|e| StoreError::Other(e.into()))?;
                let failover = Failover::start(hosts, list.labels, list.attrs).await;
                (failover.current_options(), Some(failover))
            }
        };
        let store = PgStore::open(options, failover, settings).await?;
        if let Some(failover) = &store.failover {
            tokio::spawn(Failover::watch(Arc::downgrade(failover)));
        }
        sqlx::migrate!("./migrations/postgres")
            .run(&store.pool)
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(store)
    }

    /// The pool and the access pool on `options`, following `failover` when there is one.
    async fn open(
        options: PgConnectOptions,
        failover: Option<Arc<Failover>>,
        settings: PoolSettings,
    ) -> StoreResult<PgStore> {
        let wake = failover.as_ref().map(|f| f.wake());
        let mut pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // No ping before each query: it would double the round trips on the hot path. A
            // connection that died is found out by its next query, which fails (503) and
            // marks the sessions open then as stale: they are closed here, not reused.
            .test_before_acquire(false)
            .before_acquire(|_conn, meta| Box::pin(async move { Ok(!failover::is_stale(meta.age)) }));
        if let Some(failover) = &failover
            && failover.attrs() == SessionAttrs::ReadWrite
        {
            let wake = failover.wake();
            pool = pool.after_connect(move |conn, _meta| {
                let wake = wake.clone();
                Box::pin(async move {
                    if failover::fits(conn, SessionAttrs::ReadWrite).await? {
                        Ok(())
                    } else {
                        // The watcher finds the host that takes writes; the pool's next
                        // attempt connects there.
                        wake.notify_one();
                        Err(sqlx::Error::Protocol(
                            "the session is read-only (target_session_attrs=read-write)".into(),
                        ))
                    }
                })
            });
        }
        let pool = pool.connect_with(options).await?;
        if let Some(failover) = &failover {
            failover.follow(pool.clone());
        }
        let attrs = failover.as_ref().map_or(SessionAttrs::Any, |f| f.attrs());
        let access = Arc::new(AccessBatcher::new(AccessPool::new(
            pool.clone(),
            match settings.access_connections {
                0 => super::cores(),
                n => n,
            },
            attrs,
            settings.acquire_timeout,
            wake,
        )));
        Ok(PgStore {
            pool,
            failover,
            access,
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

    /// The row of one request's access check, batched with the checks of concurrent requests
    /// on a connection of the access pool (see [`AccessBatcher`]).
    async fn fetch_access(&self, key: AccessKey<'_>) -> Result<Option<crate::store::models::AccessRow>, sqlx::Error> {
        self.access.fetch(key).await
    }

    /// The access pool's connections, idle and lent, and the checks and queries run so far.
    fn access_pool_status(&self) -> super::PoolStatus {
        self.access.status()
    }

    /// Opens the access connections ahead of the first requests.
    async fn warm_access_pool(&self) {
        if let Err(err) = self.access.warm().await {
            tracing::warn!(error = %err, "cannot open the access connections ahead of the first requests; they open on demand");
        }
    }

    /// Closes the access pool's connections.
    async fn close_access_pool(&self) {
        self.access.pool().close().await;
    }

    /// Another store on the same database, for a serving thread: pools of its own sized by
    /// `settings`, on the host this store's failover watcher chose and moved by that one
    /// watcher (no second watcher, no second probe session, no migrations run again).
    async fn open_lane(&self, settings: PoolSettings) -> StoreResult<PgStore> {
        let options = match &self.failover {
            Some(failover) => failover.current_options(),
            None => (*self.pool.connect_options()).clone(),
        };
        let mut store = PgStore::open(options, self.failover.clone(), settings).await?;
        store.limits = self.limits;
        Ok(store)
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
