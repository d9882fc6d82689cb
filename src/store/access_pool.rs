//! The Postgres connections of the access query, the one query on every request.
//!
//! sqlx's pool hands a connection back from a task it spawns on drop, after a `Sync` round
//! trip to the server (its liveness test on release). On the hot path that is a second round
//! trip to Postgres, a task and a wake-up per request, for a connection whose query has just
//! succeeded. These connections are handed back in place instead: a connection whose query
//! succeeded goes back to the idle list at once; one whose query failed, or whose request was
//! cancelled mid-query, is dropped with its socket.
//!
//! Connections are made on demand from the main pool's current connect options (so they
//! follow a failover switch), checked like the main pool's (`target_session_attrs`), tried
//! again within the acquire timeout when the host refuses them, and never reused once a
//! failover sign has marked them stale ([`super::failover`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgPool};
use tokio::sync::{Notify, Semaphore, SemaphorePermit};

use super::failover::{self, SessionAttrs};

/// At most `size` connections, made on demand.
pub struct AccessPool {
    idle: Mutex<Vec<Idle>>,
    permits: Semaphore,
    size: u32,
    /// Where the connect options come from (the main pool, whose options follow a failover).
    source: PgPool,
    attrs: SessionAttrs,
    acquire_timeout: Duration,
    /// Wakes the failover watcher when a new session does not fit.
    wake: Option<Arc<Notify>>,
}

struct Idle {
    conn: PgConnection,
    opened: Instant,
}

/// A connection lent for one query. [`Lease::release`] hands it back; dropped without that
/// after a query started on it (an error, a cancelled request), the connection is closed, and
/// dropped before any query, it goes back idle.
pub struct Lease<'a> {
    pool: &'a AccessPool,
    conn: Option<PgConnection>,
    opened: Instant,
    /// No query has started on it yet ([`Lease::conn`] not called).
    unused: bool,
    _permit: SemaphorePermit<'a>,
}

impl AccessPool {
    /// A pool of up to `size` connections to where `source` connects.
    pub fn new(
        source: PgPool,
        size: u32,
        attrs: SessionAttrs,
        acquire_timeout: Duration,
        wake: Option<Arc<Notify>>,
    ) -> AccessPool {
        AccessPool {
            idle: Mutex::new(Vec::with_capacity(size as usize)),
            permits: Semaphore::new(size as usize),
            size,
            source,
            attrs,
            acquire_timeout,
            wake,
        }
    }

    /// A connection, idle or new, within the acquire timeout.
    pub async fn acquire(&self) -> Result<Lease<'_>, sqlx::Error> {
        let deadline = Instant::now() + self.acquire_timeout;
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let Some(idle) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                break;
            };
            if !failover::is_stale(idle.opened.elapsed()) {
                return Ok(Lease {
                    pool: self,
                    conn: Some(idle.conn),
                    opened: idle.opened,
                    unused: true,
                    _permit: permit,
                });
            }
        }
        // A new connection. As sqlx's pool does, a host that refuses connections or a session
        // that does not fit is tried again (re-reading the connect options, which a failover
        // switch changes) until the deadline, and only then answered as unavailable.
        let mut backoff = Duration::from_millis(10);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let opened = Instant::now();
            match tokio::time::timeout(remaining, self.connect()).await {
                Ok(Ok(Some(conn))) => {
                    return Ok(Lease {
                        pool: self,
                        conn: Some(conn),
                        opened,
                        unused: true,
                        _permit: permit,
                    });
                }
                Ok(Ok(None)) => {
                    // The session is read-only: the watcher finds the host that takes writes.
                    if let Some(wake) = &self.wake {
                        wake.notify_one();
                    }
                }
                Ok(Err(err)) if retried(&err) => {}
                Ok(Err(err)) => return Err(err),
                Err(_) => return Err(sqlx::Error::PoolTimedOut),
            }
            if Instant::now() + backoff >= deadline {
                return Err(sqlx::Error::PoolTimedOut);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
    }

    /// A connection to the current host, `None` when its session does not fit.
    async fn connect(&self) -> Result<Option<PgConnection>, sqlx::Error> {
        // The access statement (`access_batch.rs`) takes its arguments as arrays, whose length
        // Postgres cannot know when it plans: it would plan it anew for every execution (about
        // 0.6 ms, against 0.1 ms to run it). Its plan, nested loops over unique indexes, does
        // not depend on the values, so it is planned once per session (and again whenever
        // `ANALYZE` changes the statistics).
        let options = (*self.source.connect_options())
            .clone()
            .options([("plan_cache_mode", "force_generic_plan")]);
        let mut conn = PgConnection::connect_with(&options).await?;
        if failover::fits(&mut conn, self.attrs).await? {
            Ok(Some(conn))
        } else {
            let _ = conn.close().await;
            Ok(None)
        }
    }

    /// The most connections it holds.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Connections idle, and lent.
    pub fn status(&self) -> (u32, u32) {
        let idle = self.idle.lock().map_or(0, |idle| idle.len()) as u32;
        let lent = self.size - self.permits.available_permits() as u32;
        (idle, lent)
    }

    /// Refuses new leases and closes the idle connections.
    pub async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for idle in idle {
            let _ = idle.conn.close().await;
        }
    }
}

/// Whether a failure to connect is worth another try within the deadline: the host refused or
/// dropped the connection, or is starting up, shutting down or full.
fn retried(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03" | "53300")),
        _ => false,
    }
}

impl Lease<'_> {
    /// The connection lent, for a query.
    pub fn conn(&mut self) -> &mut PgConnection {
        self.unused = false;
        self.conn.as_mut().expect("a lease holds its connection until released")
    }

    /// Hands the connection back for the next query: call it only after a query succeeded.
    pub fn release(mut self) {
        self.give_back();
    }

    fn give_back(&mut self) {
        if let Some(conn) = self.conn.take()
            && !failover::is_stale(self.opened.elapsed())
        {
            self.pool.idle.lock().unwrap_or_else(|e| e.into_inner()).push(Idle {
                conn,
                opened: self.opened,
            });
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // A connection no query started on is as clean as an idle one (a request cancelled
        // between acquiring it and its query). Otherwise `conn` drops with its socket.
        if self.unused {
            self.give_back();
        }
    }
}
