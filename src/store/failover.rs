//! Postgres behind a failover: multi-host connection strings the libpq way, sessions that
//! stopped taking writes discarded, and the pool moved to the host that takes them now.
//!
//! `postgres://user@h1:5432,h2:5432/db?target_session_attrs=read-write` names the hosts in
//! the order to try. With `read-write`, a session is kept only when its server is not in
//! recovery and the session is not read-only (checked once, when a connection is made);
//! with `any` (the default, as in libpq) any session the server accepts is kept.
//!
//! sqlx's pool connects to one host ([`PgConnectOptions`]). A watcher task, one per process
//! (the serving threads' stores follow the main store's), keeps one probe session on that
//! host and checks it every second (and at once when a new connection was refused as
//! read-only); when the host stops answering or stops taking writes, it tries the hosts in
//! their order and switches every pool's connect options to the first that fits. The
//! pool's own connect loop re-reads those options on every attempt, so a request waiting for
//! a connection during the switch gets one on the new host within its acquire timeout.
//!
//! Sessions opened before a failover sign (a read-only or shutdown error, a connection lost,
//! a switch of host) are not handed out again: the pool's `before_acquire` hook closes them,
//! so a failover heals on the next connections instead of on each stale one in turn.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};
use tokio::sync::Notify;

/// What a session must be to be kept (libpq's `target_session_attrs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionAttrs {
    /// Any session the server accepts (libpq's default).
    Any,
    /// A session that takes writes: not in recovery, not read-only.
    ReadWrite,
}

/// The hosts of a `DATABASE_URL`, each as the single-host URL sqlx parses.
#[derive(Debug, PartialEq, Eq)]
pub struct HostList {
    /// One URL per host, in the order to try, without `target_session_attrs`.
    pub urls: Vec<String>,
    /// `host:port` of each, for logs (never the password).
    pub labels: Vec<String>,
    /// The session each must give.
    pub attrs: SessionAttrs,
}

/// Splits a Postgres URL into its hosts. `None` when the URL names one host and no
/// `target_session_attrs` (sqlx then parses it as it is). Errors never quote the URL, whose
/// password must not reach a log.
pub fn parse(url: &str) -> Result<Option<HostList>, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("DATABASE_URL is not a URL".into());
    };
    // The authority ends at the path or the query; the user info at its last '@'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let mut attrs = None;
    let mut kept = Vec::new();
    for pair in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("target_session_attrs", value)) => {
                attrs = Some(match value {
                    "any" => SessionAttrs::Any,
                    "read-write" | "primary" => SessionAttrs::ReadWrite,
                    other => {
                        return Err(format!(
                            "DATABASE_URL: target_session_attrs={other} is not supported (rolegate writes: use read-write, primary or any)"
                        ));
                    }
                });
            }
            _ => kept.push(pair),
        }
    }
    if !hosts.contains(',') && attrs.is_none() {
        return Ok(None);
    }
    let query = if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    };
    let mut urls = Vec::new();
    let mut labels = Vec::new();
    for host in hosts.split(',') {
        let (name, port) = split_port(host)?;
        if name.is_empty() {
            return Err("DATABASE_URL: a host of the list is empty".into());
        }
        let port = port.unwrap_or("5432");
        if port.parse::<u16>().is_err() {
            return Err(format!("DATABASE_URL: invalid port number for host {name}"));
        }
        urls.push(format!("{scheme}://{userinfo}{name}:{port}{path}{query}"));
        labels.push(format!("{name}:{port}"));
    }
    Ok(Some(HostList {
        urls,
        labels,
        attrs: attrs.unwrap_or(SessionAttrs::Any),
    }))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_port(host: &str) -> Result<(&str, Option<&str>), String> {
    if host.starts_with('[') {
        let Some(close) = host.find(']') else {
            return Err("DATABASE_URL: an IPv6 host lacks its closing bracket".into());
        };
        let (name, rest) = host.split_at(close + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Ok((name, Some(port))),
            None if rest.is_empty() => Ok((name, None)),
            None => Err(format!("DATABASE_URL: invalid port number for host {name}")),
        };
    }
    Ok(match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    })
}

/// Builds the connect options of every host of `list`, each passed through `configure`.
pub fn options(
    list: &HostList,
    configure: impl Fn(PgConnectOptions) -> PgConnectOptions,
) -> Result<Vec<PgConnectOptions>, String> {
    list.urls
        .iter()
        .zip(&list.labels)
        .map(|(url, label)| {
            PgConnectOptions::from_str(url)
                .map(&configure)
                .map_err(|e| format!("DATABASE_URL: host {label}: {e}"))
        })
        .collect()
}

/// Whether the session takes writes: its server is not in recovery (a standby) and the session
/// is not read-only. What `target_session_attrs=read-write` asks, and what `/readyz` checks.
pub const TAKES_WRITES: &str = "select not pg_is_in_recovery() and current_setting('transaction_read_only') = 'off'";

/// Whether a session on `conn` fits `attrs`.
pub async fn fits(conn: &mut PgConnection, attrs: SessionAttrs) -> Result<bool, sqlx::Error> {
    match attrs {
        SessionAttrs::Any => Ok(true),
        SessionAttrs::ReadWrite => sqlx::query_scalar(TAKES_WRITES).fetch_one(conn).await,
    }
}

/// Sessions opened before this instant (nanoseconds after [`EPOCH`]) are closed instead of
/// handed out; 0 is "none yet".
static STALE_BEFORE: AtomicU64 = AtomicU64::new(0);
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Marks every Postgres session open now as stale: each is closed at its next acquire, so the
/// next queries run on new sessions (on the host that takes writes now). Called on a failover
/// sign: a read-only session, a server shutting down, a connection lost, a switch of host.
pub fn discard_open_sessions() {
    let now = EPOCH.elapsed().as_nanos() as u64;
    STALE_BEFORE.fetch_max(now.max(1), Ordering::Relaxed);
}

/// Whether a session opened `age` ago was opened before the last failover sign.
pub fn is_stale(age: Duration) -> bool {
    let stale_before = STALE_BEFORE.load(Ordering::Relaxed);
    if stale_before == 0 {
        return false;
    }
    let opened = EPOCH.elapsed().saturating_sub(age).as_nanos() as u64;
    opened < stale_before
}

/// The hosts a multi-host store moves between, shared by the stores of every serving thread:
/// one watcher and one probe session per process, however many pools follow it.
pub struct Failover {
    hosts: Vec<PgConnectOptions>,
    labels: Vec<String>,
    attrs: SessionAttrs,
    /// The host the pools connect to.
    current: AtomicUsize,
    /// The pools moved to the next host (the main store's and each serving thread's); the
    /// lock also orders a switch against a pool that starts following it.
    pools: Mutex<Vec<PgPool>>,
    /// Cuts the watcher's wait short (a new connection was refused as read-only).
    wake: Arc<Notify>,
}

/// `application_name` of the watcher's probe session, as `pg_stat_activity` shows it.
pub const PROBE_APPLICATION_NAME: &str = "rolegate failover watch";

/// How long the probe waits for a host to accept a connection and answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Between two checks of a healthy host.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Between two rounds over the hosts while none fits.
const RETRY_EVERY: Duration = Duration::from_millis(200);

impl Failover {
    /// The first host of `hosts` (in order) that gives a fitting session, probed now; the
    /// first host when none does (the pool then fails as a single host would).
    pub async fn start(hosts: Vec<PgConnectOptions>, labels: Vec<String>, attrs: SessionAttrs) -> Arc<Failover> {
        let failover = Arc::new(Failover {
            hosts,
            labels,
            attrs,
            current: AtomicUsize::new(0),
            pools: Mutex::new(Vec::new()),
            wake: Arc::new(Notify::new()),
        });
        if let Some((index, conn)) = failover.find().await {
            failover.current.store(index, Ordering::Relaxed);
            let _ = conn.close().await;
        }
        failover
    }

    /// The session attributes asked for.
    pub fn attrs(&self) -> SessionAttrs {
        self.attrs
    }

    /// The options of the host to connect to now.
    pub fn current_options(&self) -> PgConnectOptions {
        self.hosts[self.current.load(Ordering::Relaxed)].clone()
    }

    /// What wakes the watcher at once (a session found read-only).
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Moves `pool` with the watcher's switches from now on, starting on the current host.
    pub fn follow(&self, pool: PgPool) {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        pools.retain(|p| !p.is_closed());
        pool.set_connect_options(self.current_options());
        pools.push(pool);
    }

    /// The first host, in order, whose session fits, with that session.
    async fn find(&self) -> Option<(usize, PgConnection)> {
        for (index, host) in self.hosts.iter().enumerate() {
            if let Some(conn) = self.probe(host).await {
                return Some((index, conn));
            }
        }
        None
    }

    /// A fitting session on `host`, if it gives one within [`PROBE_TIMEOUT`].
    async fn probe(&self, host: &PgConnectOptions) -> Option<PgConnection> {
        let attempt = async {
            let options = host.clone().application_name(PROBE_APPLICATION_NAME);
            let mut conn = PgConnection::connect_with(&options).await.ok()?;
            match fits(&mut conn, self.attrs).await {
                Ok(true) => Some(conn),
                _ => {
                    let _ = conn.close().await;
                    None
                }
            }
        };
        tokio::time::timeout(PROBE_TIMEOUT, attempt).await.ok().flatten()
    }

    /// Watches the current host while a store lives (`failover` upgrades) and one of its
    /// pools is open, switching every following pool to another host when the current one
    /// stops fitting.
    pub async fn watch(failover: Weak<Failover>) {
        let Some(wake) = failover.upgrade().map(|f| f.wake()) else {
            return;
        };
        let mut probe: Option<PgConnection> = None;
        while let Some(this) = failover.upgrade() {
            if !this.followed() {
                break;
            }
            let healthy = match probe.as_mut() {
                Some(conn) => matches!(
                    tokio::time::timeout(PROBE_TIMEOUT, fits(conn, this.attrs)).await,
                    Ok(Ok(true))
                ),
                None => false,
            };
            let wait = if healthy {
                CHECK_EVERY
            } else {
                probe = None;
                match this.find().await {
                    Some((index, conn)) => {
                        probe = Some(conn);
                        this.switch_to(index);
                        CHECK_EVERY
                    }
                    None => {
                        tracing::warn!("database: no host of DATABASE_URL gives a fitting session; retrying");
                        RETRY_EVERY
                    }
                }
            };
            drop(this);
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        if let Some(conn) = probe {
            let _ = conn.close().await;
        }
    }

    /// Whether an open pool still follows this watcher (the closed ones are let go).
    fn followed(&self) -> bool {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        pools.retain(|p| !p.is_closed());
        !pools.is_empty()
    }

    /// Makes host `index` the current one, moving every pool there.
    fn switch_to(&self, index: usize) {
        let pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = self.current.swap(index, Ordering::Relaxed);
        if previous == index {
            return;
        }
        for pool in pools.iter() {
            pool.set_connect_options(self.hosts[index].clone());
        }
        drop(pools);
        discard_open_sessions();
        tracing::warn!(
            from = %self.labels[previous],
            to = %self.labels[index],
            "database: moved to the next host that fits target_session_attrs"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_host_without_attributes_is_left_to_sqlx() {
        assert_eq!(parse("postgres://u:p@db:5432/rolegate?sslmode=disable"), Ok(None));
        assert_eq!(parse("postgresql://db/rolegate"), Ok(None));
    }

    #[test]
    fn hosts_are_split_in_order_with_the_rest_of_the_url() {
        let list =
            parse("postgres://u:p%40ss@h1:5433,h2,[::1]:6000/app?sslmode=disable&target_session_attrs=read-write")
                .unwrap()
                .unwrap();
        assert_eq!(
            list.urls,
            [
                "postgres://u:p%40ss@h1:5433/app?sslmode=disable",
                "postgres://u:p%40ss@h2:5432/app?sslmode=disable",
                "postgres://u:p%40ss@[::1]:6000/app?sslmode=disable",
            ]
        );
        assert_eq!(list.labels, ["h1:5433", "h2:5432", "[::1]:6000"]);
        assert_eq!(list.attrs, SessionAttrs::ReadWrite);
        assert!(options(&list, |o| o).is_ok());
    }

    #[test]
    fn attributes_alone_make_a_list_of_one() {
        let list = parse("postgres://db:5432/x?target_session_attrs=any").unwrap().unwrap();
        assert_eq!(list.urls, ["postgres://db:5432/x"]);
        assert_eq!(list.attrs, SessionAttrs::Any);
        let list = parse("postgres://a,b/x").unwrap().unwrap();
        assert_eq!(list.attrs, SessionAttrs::Any);
        assert_eq!(list.labels, ["a:5432", "b:5432"]);
    }

    #[test]
    fn bad_lists_are_refused_without_quoting_the_password() {
        for url in [
            "postgres://u:secret@h1:x,h2/db",
            "postgres://u:secret@h1,,h2/db",
            "postgres://u:secret@h1,[::1/db",
            "postgres://u:secret@h1,h2/db?target_session_attrs=standby",
        ] {
            let err = parse(url).unwrap_err();
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn sessions_opened_before_a_failover_sign_are_stale() {
        LazyLock::force(&EPOCH);
        std::thread::sleep(Duration::from_millis(2));
        discard_open_sessions();
        // Opened an hour ago, before the mark: stale. Opened after it: kept.
        assert!(is_stale(Duration::from_secs(3600)));
        std::thread::sleep(Duration::from_millis(2));
        assert!(!is_stale(Duration::ZERO));
    }
}
