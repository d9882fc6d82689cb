//! The embedded default: a SQLite file in WAL mode.
//!
//! SQLite allows one writer at a time and reports `SQLITE_BUSY`, not a wait, when a read
//! transaction tries to become a write transaction. So writes go through a pool of one
//! connection (writers queue in the pool, never in SQLite) and reads through a pool of
//! several, which WAL lets run beside the writer.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::{PoolSettings, StoreError, StoreResult};

/// [`Store`](super::Store) on SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    /// The quotas enforced in write transactions.
    pub(crate) limits: super::Limits,
}

/// Creates the database file readable by its owner only (mode 0600, like `rolegate.key`)
/// before SQLite opens it; SQLite gives its `-wal` and `-shm` files the same mode. An existing
/// file keeps its mode.
fn create_private(path: &std::path::Path) -> StoreResult<()> {
    if path.as_os_str().is_empty() || path.to_str().is_some_and(|p| p == ":memory:") {
        return Ok(());
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    match open.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Other(
            format!("cannot create the SQLite file {}: {e}", path.display()).into(),
        )),
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the file and applies `migrations/sqlite`.
    pub async fn connect(url: &str, settings: PoolSettings) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("DATABASE_URL is not a valid SQLite URL: {e}").into()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(settings.statement_timeout);
        create_private(options.get_filename())?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.clamp(1, 8))
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore {
            reader,
            writer,
            limits: super::Limits::default(),
        })
    }

    /// The row of one request's access check, on a reader (SQLite runs in process: there is
    /// no round trip to save by batching).
    async fn fetch_access(
        &self,
        key: super::access_batch::AccessKey<'_>,
    ) -> Result<Option<super::models::AccessRow>, sqlx::Error> {
        use super::columns::access_sql;
        use super::{AppRef, Credential};
        let sql = match (key.credential, key.app) {
            (Credential::Jwt { .. }, AppRef::Id(_)) => access_sql!("t.id = $1", "a.id = $3"),
            (Credential::Jwt { .. }, AppRef::Name(_)) => access_sql!("t.id = $1", "a.name = $3"),
            (Credential::ApiToken { .. }, AppRef::Id(_)) => access_sql!("t.token_hash = $1", "a.id = $3"),
            (Credential::ApiToken { .. }, AppRef::Name(_)) => access_sql!("t.token_hash = $1", "a.name = $3"),
        };
        let query = sqlx::query_as(sql);
        let query = match key.credential {
            Credential::Jwt { token_id, .. } => query.bind(*token_id),
            Credential::ApiToken { hash } => query.bind(hash.to_vec()),
        }
        .bind(key.now);
        let query = match key.app {
            AppRef::Id(id) => query.bind(*id),
            AppRef::Name(name) => query.bind(name.as_str()),
        }
        .bind(key.permission);
        let mut conn = super::acquire(self.reader()).await?;
        query.fetch_optional(&mut *conn).await
    }

    /// SQLite has no access pool: the readers serve the access query.
    fn access_pool_status(&self) -> super::PoolStatus {
        super::PoolStatus::default()
    }

    /// SQLite has no access pool.
    async fn warm_access_pool(&self) {}

    /// SQLite has no access pool.
    async fn close_access_pool(&self) {}

    /// SQLite serves from one runtime; another store on it shares its pools (its one writer).
    async fn open_lane(&self, _settings: super::PoolSettings) -> super::StoreResult<SqliteStore> {
        Ok(self.clone())
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// A transaction for a change, holding the write lock from its first statement: a
    /// deferred one that reads first could find its snapshot stale when it comes to write
    /// (another process on the same file wrote meanwhile) and fail at once with
    /// `SQLITE_BUSY` instead of waiting its turn.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }
}

// The SQL under `store/sql/` is written once and compiled here and in the other backend's
// module: each file names the backend as `super::Backend` and `super::Db`, and its
// backend-specific clauses through the two macros below (sqlx binds `$1` on both).
type Backend = SqliteStore;
type Db = sqlx::Sqlite;
const NAME: &str = "sqlite";

/// The row-lock clause appended to a select whose rows a transaction is about to change:
/// none on SQLite, whose single writer connection already serialises writers.
macro_rules! lock {
    () => {
        ""
    };
}

/// The clause that lets several dispatchers lease rows without waiting on each other.
macro_rules! skip_locked {
    () => {
        ""
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
