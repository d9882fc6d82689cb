//! The access check of concurrent requests, batched into one query (Postgres).
//!
//! Every app route costs one access query. Under load, many requests wait for a connection
//! of the access pool at the same moment, each to run the same small query with its own
//! arguments. Here they queue their arguments instead, and whichever request gets a
//! connection first runs the check of **every request queued then** in one statement per
//! shape of request (JWT or API token, app by id or by name: `unnest` of the arguments as
//! arrays, joined as the one-request check joins them) and hands each request its own row.
//! Nothing waits to fill a batch: a request that finds a connection free yields once, so that
//! the requests already runnable on its thread (arrived in the same poll of the sockets) join
//! it, then runs; batches grow while all connections are busy, which is when one statement
//! for many saves the most (Postgres's per-statement work, the socket round trips and the
//! wake-ups on both sides).
//!
//! What a request sees is unchanged: its row is read by a statement that starts after the
//! request arrived, so a revocation, a role change or an expiry committed before it counts,
//! exactly as with a query of its own. Rows are matched to requests by their position in the
//! batch (`with ordinality`), never by content.
//!
//! Failure: when a batch's statement fails, the request that ran it answers with the error,
//! and every other request of the batch runs its own check alone, so each answers with what
//! its own query meets. The same happens when the request running a batch is cancelled.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::access_pool::{AccessPool, Lease};
use super::columns::{access_columns, access_joins};
use super::models::AccessRow;
use super::{AppRef, Credential};

/// One request's access check, as [`super::AppStore::app_access`] asks it.
pub(in crate::store) struct AccessKey<'a> {
    pub credential: &'a Credential,
    pub app: &'a AppRef,
    pub permission: &'static str,
    pub now: DateTime<Utc>,
}

/// A check waiting for a batch: its arguments, and where its row goes.
struct Waiting {
    /// A sequence number, to find it again in the queue.
    id: u64,
    credential: Credential,
    app: AppRef,
    permission: &'static str,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Option<AccessRow>>,
}

impl Waiting {
    fn new(id: u64, key: &AccessKey<'_>, reply: oneshot::Sender<Option<AccessRow>>) -> Waiting {
        Waiting {
            id,
            credential: key.credential.clone(),
            app: key.app.clone(),
            permission: key.permission,
            now: key.now,
            reply,
        }
    }

    /// Which of the [`STATEMENTS`] runs it: by JWT or API token, the app by id or name.
    fn shape(&self) -> usize {
        let by_hash = matches!(self.credential, Credential::ApiToken { .. });
        let by_name = matches!(self.app, AppRef::Name(_));
        usize::from(by_hash) * BY_HASH + usize::from(by_name) * BY_NAME
    }
}

/// The one-request check of `access_sql!` for each request of a batch of one shape: `$1`
/// the credentials (token ids or hashes), `$2` the apps (ids or names), `$3` the
/// permissions, `$4` the times; `slot` is the request's position.
macro_rules! batch_sql {
    ($credentials:literal, $token:literal, $apps:literal, $app:literal) => {
        concat!(
            "select r.n as slot, ",
            access_columns!(),
            " from unnest($1::",
            $credentials,
            ", $2::",
            $apps,
            ", $3::text[], $4::timestamptz[]) with ordinality as r(credential, app, permission, at, n) \
              join api_tokens t on ",
            $token,
            " = r.credential \
              join users u on u.id = t.user_id \
              left join apps a on ",
            $app,
            " = r.app",
            access_joins!(postgres, "r.permission"),
            " where t.revoked_at is null and (t.expires_at is null or t.expires_at > r.at)"
        )
    };
}

/// The bits of a [`Waiting::shape`]: the credential is an API token (its hash), the app is
/// named (not by id).
const BY_HASH: usize = 2;
const BY_NAME: usize = 1;

/// The statements, by [`Waiting::shape`].
const STATEMENTS: [&str; 4] = [
    batch_sql!("uuid[]", "t.id", "uuid[]", "a.id"),
    batch_sql!("uuid[]", "t.id", "text[]", "a.name"),
    batch_sql!("bytea[]", "t.token_hash", "uuid[]", "a.id"),
    batch_sql!("bytea[]", "t.token_hash", "text[]", "a.name"),
];

/// The most checks one batch takes: a statement stays far inside the statement timeout
/// however many requests wait (the rest go in the next batch, first come first served).
const MAX_BATCH: usize = 512;

#[derive(sqlx::FromRow)]
struct SlotRow {
    slot: i64,
    #[sqlx(flatten)]
    row: AccessRow,
}

/// The access pool and the checks waiting for one of its connections.
pub struct AccessBatcher {
    pool: AccessPool,
    queue: Mutex<Queue>,
    /// Checks asked, statements run for them, and checks dropped unrun because their request
    /// was gone.
    checks: AtomicU64,
    queries: AtomicU64,
    abandoned: AtomicU64,
}

#[derive(Default)]
struct Queue {
    next_id: u64,
    waiting: Vec<Waiting>,
}

impl AccessBatcher {
    pub fn new(pool: AccessPool) -> AccessBatcher {
        AccessBatcher {
            pool,
            queue: Mutex::default(),
            checks: AtomicU64::new(0),
            queries: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
        }
    }

    /// The access pool (to close it).
    pub fn pool(&self) -> &AccessPool {
        &self.pool
    }

    /// Opens every access connection and prepares the statements on each, so that a serving
    /// thread's first requests wait neither for a connection to open nor for the statements
    /// to be parsed and planned: a replica that has just started answers them at its usual
    /// speed (measured in docs/benchmarks.md).
    pub async fn warm(&self) -> Result<(), sqlx::Error> {
        let mut leases = Vec::with_capacity(self.pool.size() as usize);
        for _ in 0..self.pool.size() {
            leases.push(self.pool.acquire().await?);
        }
        for lease in &mut leases {
            for shape in 0..STATEMENTS.len() {
                batch_query(shape, &[]).fetch_all(lease.conn()).await?;
            }
        }
        for lease in leases {
            lease.release();
        }
        Ok(())
    }

    /// The access pool's connections, idle and lent, and the checks and statements so far.
    pub fn status(&self) -> super::PoolStatus {
        let (idle, in_use) = self.pool.status();
        super::PoolStatus {
            idle,
            in_use,
            access_checks: self.checks.load(Ordering::Relaxed),
            access_queries: self.queries.load(Ordering::Relaxed),
            access_abandoned: self.abandoned.load(Ordering::Relaxed),
        }
    }

    /// The row of `key`'s check, run alone or in a batch with the checks queued beside it.
    pub(in crate::store) async fn fetch(&self, key: AccessKey<'_>) -> Result<Option<AccessRow>, sqlx::Error> {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let (reply, mut answer) = oneshot::channel();
        let id = {
            let mut queue = self.lock();
            queue.next_id += 1;
            let id = queue.next_id;
            queue.waiting.push(Waiting::new(id, &key, reply));
            id
        };
        loop {
            let started = std::time::Instant::now();
            let acquired = tokio::select! {
                biased;
                // A batch (another request's, or this one's) ran this check.
                row = &mut answer => return self.answered(row, &key).await,
                lease = self.pool.acquire() => lease,
            };
            match acquired {
                // Nobody took the check: it fails with the pool.
                Err(err) if self.withdraw(id) => return Err(err),
                // A batch took it meanwhile: its answer comes.
                Err(_) => break,
                Ok(lease) => {
                    crate::metrics::STORE.acquired(started.elapsed());
                    // Before taking the queue, let every request already runnable on this
                    // thread queue its check: tokio polls a yielded task again after the
                    // others and after a poll of the sockets (its behaviour since 1.23, not a
                    // promise: nothing depends on it but the size of batches), so requests
                    // that arrived with this one share its statement. No timer, no waiting
                    // for a batch to fill: alone, a check goes round once. At 10,000 req/s
                    // open loop this turned 2 checks per statement into 6 and p99 from 27-33
                    // ms into 4-5.5 ms (docs/benchmarks.md). Cancelled meanwhile, the lease
                    // goes back unused.
                    tokio::task::yield_now().await;
                    let (taken, batch) = {
                        let mut queue = self.lock();
                        let taken = queue.waiting.len().min(MAX_BATCH);
                        // A check whose request is gone (its client hung up, say) is dropped
                        // here rather than run for nobody.
                        let batch: Vec<Waiting> =
                            queue.waiting.drain(..taken).filter(|w| !w.reply.is_closed()).collect();
                        (taken, batch)
                    };
                    if taken > batch.len() {
                        self.abandoned
                            .fetch_add((taken - batch.len()) as u64, Ordering::Relaxed);
                    }
                    if taken == 0 {
                        // Another request's batch took this check while the connection came.
                        lease.release();
                        break;
                    }
                    if batch.is_empty() {
                        // Only abandoned checks were ahead of this one: round again.
                        lease.release();
                        continue;
                    }
                    // This check was in the batch (answered at the top of the loop), or is
                    // still queued behind a full one: then round again.
                    self.run(lease, batch).await?;
                }
            }
        }
        let row = answer.await;
        self.answered(row, &key).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the check queued as `id` out again; false when a batch already took it.
    fn withdraw(&self, id: u64) -> bool {
        let mut queue = self.lock();
        let found = queue.waiting.iter().position(|w| w.id == id);
        found.map(|i| queue.waiting.remove(i)).is_some()
    }

    /// The row a batch sent, or, when that batch failed or was cancelled, the check run alone.
    async fn answered(
        &self,
        row: Result<Option<AccessRow>, oneshot::error::RecvError>,
        key: &AccessKey<'_>,
    ) -> Result<Option<AccessRow>, sqlx::Error> {
        match row {
            Ok(row) => Ok(row),
            Err(_) => {
                let (reply, answer) = oneshot::channel();
                let alone = vec![Waiting::new(0, key, reply)];
                self.run(self.pool.acquire().await?, alone).await?;
                Ok(answer.await.unwrap_or(None))
            }
        }
    }

    /// Runs the checks of `batch` on `lease`, one statement per shape, and sends each request
    /// its row (none when its credential is not live). On an error the requests not yet
    /// answered lose their sender, and each runs its check alone.
    async fn run(&self, mut lease: Lease<'_>, batch: Vec<Waiting>) -> Result<(), sqlx::Error> {
        let mut shapes: [Vec<Waiting>; 4] = Default::default();
        for waiting in batch {
            shapes[waiting.shape()].push(waiting);
        }
        for (shape, group) in shapes.into_iter().enumerate() {
            if group.is_empty() {
                continue;
            }
            self.queries.fetch_add(1, Ordering::Relaxed);
            let rows = batch_query(shape, &group).fetch_all(lease.conn()).await?;
            let mut replies: Vec<Option<oneshot::Sender<Option<AccessRow>>>> =
                group.into_iter().map(|w| Some(w.reply)).collect();
            for SlotRow { slot, row } in rows {
                // The first row of a request is its answer, as `fetch_optional` takes for one.
                let reply = usize::try_from(slot - 1)
                    .ok()
                    .and_then(|i| replies.get_mut(i))
                    .and_then(Option::take);
                if let Some(reply) = reply {
                    let _ = reply.send(Some(row));
                }
            }
            for reply in replies.into_iter().flatten() {
                let _ = reply.send(None);
            }
        }
        lease.release();
        Ok(())
    }
}

/// The statement of `shape` over the checks of `group`, all of that shape. With no checks it
/// finds nothing, and preparing it so is what [`AccessBatcher::warm`] does: the parameters'
/// types are the same either way, so the statement it prepares is the one `run` finds cached.
fn batch_query(shape: usize, group: &[Waiting]) -> QueryAs<'_, Postgres, SlotRow, PgArguments> {
    let query = sqlx::query_as::<Postgres, SlotRow>(STATEMENTS[shape]);
    let query = if shape & BY_HASH == 0 {
        query.bind(group.iter().map(|w| jwt_id(&w.credential)).collect::<Vec<Uuid>>())
    } else {
        query.bind(
            group
                .iter()
                .map(|w| token_hash(&w.credential))
                .collect::<Vec<Vec<u8>>>(),
        )
    };
    let query = if shape & BY_NAME == 0 {
        query.bind(group.iter().map(|w| app_id(&w.app)).collect::<Vec<Uuid>>())
    } else {
        query.bind(group.iter().map(|w| app_name(&w.app)).collect::<Vec<&str>>())
    };
    query
        .bind(group.iter().map(|w| w.permission).collect::<Vec<&str>>())
        .bind(group.iter().map(|w| w.now).collect::<Vec<DateTime<Utc>>>())
}

// Within one shape, every check has the same kinds of credential and app: the other arm is
// unreachable, and answers a value that finds nothing rather than panic.

fn jwt_id(credential: &Credential) -> Uuid {
    match credential {
        Credential::Jwt { token_id, .. } => *token_id,
        Credential::ApiToken { .. } => Uuid::nil(),
    }
}

fn token_hash(credential: &Credential) -> Vec<u8> {
    match credential {
        Credential::ApiToken { hash } => hash.to_vec(),
        Credential::Jwt { .. } => Vec::new(),
    }
}

fn app_id(app: &AppRef) -> Uuid {
    match app {
        AppRef::Id(id) => *id,
        AppRef::Name(_) => Uuid::nil(),
    }
}

fn app_name(app: &AppRef) -> &str {
    match app {
        AppRef::Name(name) => name,
        AppRef::Id(_) => "",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use sqlx::{Connection, PgConnection};

    use super::STATEMENTS;

    /// Every node of an `EXPLAIN (FORMAT JSON)` plan.
    fn nodes<'a>(plan: &'a Value, out: &mut Vec<&'a Value>) {
        out.push(plan);
        for child in plan["Plans"].as_array().into_iter().flatten() {
            nodes(child, out);
        }
    }

    /// A caller who is a member of many apps: each statement finds the membership with one
    /// probe of `(user_id, app_id)`, as `access_joins!` promises, rather than reading every
    /// membership of the caller and filtering on the app (what Postgres 15 did with a plain
    /// join: `Rows Removed by Join Filter` grew with the caller's apps). Needs Postgres
    /// (`ROLEGATE_TEST_POSTGRES_URL`).
    #[tokio::test]
    async fn the_membership_is_one_probe_of_user_and_app() {
        let Ok(admin) = std::env::var("ROLEGATE_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var_os("ROLEGATE_TEST_REQUIRE_POSTGRES").is_none(),
                "ROLEGATE_TEST_REQUIRE_POSTGRES is set without ROLEGATE_TEST_POSTGRES_URL"
            );
            return;
        };
        let name = format!("rolegate_plan_{}", uuid::Uuid::new_v4().simple());
        let mut server = PgConnection::connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&mut server)
            .await
            .unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        let store = crate::store::connect(&url, Default::default(), Default::default())
            .await
            .unwrap();
        drop(store);
        // The database goes whatever the checks find.
        let checked = tokio::spawn(check_plans(url)).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("drop database {name} with (force)")))
            .execute(&mut server)
            .await
            .unwrap();
        if let Err(failed) = checked {
            std::panic::resume_unwind(failed.into_panic());
        }
    }

    async fn check_plans(url: String) {
        let mut conn = PgConnection::connect(&url).await.unwrap();
        // 40 users, each a member of each of 150 apps (the first owns them); a token of the
        // second user. Statistics as a real database of that size would have them.
        for seed in [
            "insert into users (id, email, created_at, updated_at) \
             select ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'u' || i || '@example.com', \
                    now(), now() from generate_series(1, 40) i",
            "insert into apps (id, name, default_branch, created_at, updated_at) \
             select ('10000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'app-' || i, 'main', now(), now() \
             from generate_series(1, 150) i",
            "insert into collaborators (id, app_id, user_id, role, created_at, updated_at) \
             select gen_random_uuid(), a.id, u.id, \
                    case when u.email = 'u1@example.com' then 'owner' else 'limited_collaborator' end, now(), now() \
             from apps a cross join users u",
            "insert into api_tokens (id, user_id, name, token_hash, created_at) \
             select '20000000-0000-0000-0000-000000000001', id, 'ci', '\\x01', now() from users \
             where email = 'u2@example.com'",
            "analyze",
            "set plan_cache_mode = force_generic_plan",
        ] {
            sqlx::query(seed).execute(&mut conn).await.unwrap();
        }
        let token: uuid::Uuid = "20000000-0000-0000-0000-000000000001".parse().unwrap();
        let app: uuid::Uuid = "10000000-0000-0000-0000-000000000075".parse().unwrap();
        let now = chrono::Utc::now();
        for (shape, sql) in STATEMENTS.iter().enumerate() {
            let explain = format!("explain (analyze, format json) {sql}");
            let query = sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(explain));
            let query = if shape < 2 {
                query.bind(vec![token])
            } else {
                query.bind(vec![vec![1u8]])
            };
            let query = if shape % 2 == 0 {
                query.bind(vec![app])
            } else {
                query.bind(vec!["app-75"])
            };
            let plan = query
                .bind(vec!["app.read"])
                .bind(vec![now])
                .fetch_one(&mut conn)
                .await
                .unwrap();
            let mut all = Vec::new();
            nodes(&plan[0]["Plan"], &mut all);
            let membership: Vec<&Value> = all
                .into_iter()
                .filter(|n| n["Relation Name"] == "collaborators")
                .filter(|n| n["Index Cond"].as_str().is_some_and(|c| c.contains("user_id")))
                .collect();
            assert_eq!(membership.len(), 1, "statement {shape}: {plan:#}");
            let probe = membership[0];
            let cond = probe["Index Cond"].as_str().unwrap();
            assert!(
                cond.contains("app_id"),
                "statement {shape} probes by the user alone: {cond}"
            );
            assert_eq!(probe["Actual Rows"], 1, "statement {shape}: {probe:#}");
            assert!(probe.get("Rows Removed by Filter").is_none_or(|r| r == 0), "{probe:#}");
        }
    }
}
