//! Typed configuration from environment variables. A bad value stops start-up with a
//! message that names the variable.

pub mod accounts;
pub mod quotas;

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::HeaderValue;
use chrono::TimeDelta;

use crate::store::PoolSettings;

/// Whether anyone may create an account through the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signup {
    /// `POST /v1/users` is open.
    Open,
    /// Accounts are created with `rolegate users create`.
    Closed,
}

/// The service's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// `DATABASE_URL`: `postgres://…` or `sqlite://…` (default `sqlite://rolegate.db`).
    pub database_url: String,
    /// `ROLEGATE_LISTEN` (default `127.0.0.1:8080`, or `0.0.0.0:$PORT`).
    pub listen: SocketAddr,
    /// `ROLEGATE_JWT_SECRET`; `None` means a random secret for this process.
    pub jwt_secret: Option<Vec<u8>>,
    /// `ROLEGATE_JWT_TTL` in seconds (default 3600).
    pub jwt_ttl: TimeDelta,
    /// `ROLEGATE_SIGNUP`: `open` (default) or `closed`.
    pub signup: Signup,
    /// `ROLEGATE_INVITATION_TTL` in seconds (default 7 days).
    pub invitation_ttl: TimeDelta,
    /// `ROLEGATE_PUBLIC_URL`, the base of invitation links (default `http://<listen>`).
    pub public_url: String,
    /// `ROLEGATE_CORS_ORIGINS`: comma-separated origins allowed to call the API from a browser.
    pub cors_origins: Vec<HeaderValue>,
    /// `ROLEGATE_DB_MAX_CONNECTIONS`, `ROLEGATE_DB_ACQUIRE_TIMEOUT_MS`, `ROLEGATE_DB_STATEMENT_TIMEOUT_MS`.
    pub pool: PoolSettings,
    /// `ROLEGATE_SECRETS_KEY`: base64 of the 32-byte key sealing secrets at rest.
    pub secrets_key: Option<[u8; 32]>,
    /// The platform: where orders go and how it calls back.
    pub platform: PlatformConfig,
    /// `ROLEGATE_LOG_RETENTION_LINES` (default 10000): lines kept per app.
    pub log_retention_lines: u32,
    /// `ROLEGATE_SERVE_THREADS` (default: the number of cores): on Postgres, the threads that
    /// serve requests, each with its own single-threaded runtime, listener (`SO_REUSEPORT`)
    /// and share of the pool; `0` serves from one multi-threaded runtime, as on SQLite.
    pub serve_threads: usize,
    /// `ROLEGATE_LOG_RETENTION_SECONDS` (default 7 days): age of the oldest log line and metric sample kept.
    pub log_retention: TimeDelta,
    /// `ROLEGATE_STALE_AFTER_DAYS` (default 90): the access review's window of use.
    pub stale_after: TimeDelta,
    /// Mail, password hashing, client addresses, token lifetimes.
    pub accounts: accounts::AccountsConfig,
    /// `ROLEGATE_MAX_*`: the quotas ([`quotas`]).
    pub limits: crate::store::Limits,
    /// `ROLEGATE_SHUTDOWN_GRACE_SECONDS` (default 30): how long requests in flight may run on
    /// after SIGTERM.
    pub shutdown_grace: Duration,
    /// `ROLEGATE_HEADER_TIMEOUT_MS`, `ROLEGATE_BODY_TIMEOUT_MS`, `ROLEGATE_IDLE_TIMEOUT_MS`:
    /// how long a client may stall ([`crate::connection`]).
    pub timeouts: crate::connection::Timeouts,
    /// `ROLEGATE_METRICS_LISTEN` (unset: none): where Prometheus scrapes `/metrics`, on a
    /// listener of its own so it is never reachable through the API's port.
    pub metrics_listen: Option<SocketAddr>,
}

/// An `ip:port`, `[ipv6]:port` or `localhost:port` (the loopback address; other names are
/// not resolved here).
fn listen_address(name: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    let v = value.trim();
    let literal = match v.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => v.to_owned(),
    };
    literal.parse().map_err(|_| {
        err(
            name,
            format!("expected ip:port, [ipv6]:port or localhost:port, got {v:?}"),
        )
    })
}

/// How rolegate talks with the platform that runs the apps.
#[derive(Clone, Debug)]
pub struct PlatformConfig {
    /// `ROLEGATE_PLATFORM_WEBHOOK_URL`: where orders are POSTed; unset, they stay queued.
    pub webhook_url: Option<String>,
    /// `ROLEGATE_PLATFORM_SECRET`: the HMAC-SHA256 key of `Rolegate-Signature`.
    pub secret: Option<String>,
    /// `ROLEGATE_PLATFORM_TOKEN`: the bearer of `/internal/v1`; unset, that API answers 404.
    pub token: Option<String>,
    /// `ROLEGATE_LOG_DRAIN_ALLOW_PRIVATE=1`: log drains may name internal destinations
    /// (loopback, private, link-local), for platforms whose drains are internal.
    pub log_drain_allow_private: bool,
    /// `ROLEGATE_DISPATCH_INTERVAL_MS` (default 1000): how often the outbox is polled.
    pub dispatch_interval: Duration,
    /// `ROLEGATE_DISPATCH_BACKOFF_MS` (default 1000): first retry delay, doubled each attempt up to an hour.
    pub dispatch_backoff: Duration,
}

/// A variable with a bad value.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// What is wrong.
    pub message: String,
}

/// A secret someone could guess is refused: at least 32 bytes, of at least 12 different
/// characters (`aaaa…` or `0000…` are not secrets).
fn strong_secret(var: &'static str, value: &str) -> Result<(), ConfigError> {
    let distinct = value.chars().collect::<std::collections::HashSet<_>>().len();
    if value.len() < 32 || distinct < 12 {
        return Err(err(
            var,
            format!(
                "must be at least 32 bytes of at least 12 different characters (this one has {} bytes, {distinct} \
                 different); make one with `openssl rand -base64 48`",
                value.len()
            ),
        ));
    }
    Ok(())
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

/// An integer variable within `range` (inclusive), `default` when unset; `unit` ends the
/// message of a bad value (`" days"`, or empty).
pub(crate) fn number<T>(
    name: &'static str,
    value: Option<String>,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match value {
        None => Ok(default),
        Some(v) => v.trim().parse::<T>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            err(
                name,
                format!("expected {} to {}{unit}, got {v:?}", range.start(), range.end()),
            )
        }),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let var = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());
        let seconds = |name: &'static str, default: i64| -> Result<TimeDelta, ConfigError> {
            match var(name) {
                None => Ok(TimeDelta::seconds(default)),
                Some(v) => match v.trim().parse::<i64>() {
                    Ok(n) if (1..=10 * 365 * 86_400).contains(&n) => Ok(TimeDelta::seconds(n)),
                    _ => Err(err(
                        name,
                        format!("expected a number of seconds between 1 and 315360000, got {v:?}"),
                    )),
                },
            }
        };
        let millis = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match var(name) {
                None => Ok(Duration::from_millis(default)),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if (1..=600_000).contains(&n) => Ok(Duration::from_millis(n)),
                    _ => Err(err(
                        name,
                        format!("expected milliseconds between 1 and 600000, got {v:?}"),
                    )),
                },
            }
        };

        let listen = match (var("ROLEGATE_LISTEN"), var("PORT")) {
            (Some(v), _) => listen_address("ROLEGATE_LISTEN", &v)?,
            (None, Some(port)) => {
                let port: u16 = port
                    .trim()
                    .parse()
                    .map_err(|_| err("PORT", format!("expected a port number, got {port:?}")))?;
                SocketAddr::from(([0, 0, 0, 0], port))
            }
            (None, None) => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };

        let jwt_secret = var("ROLEGATE_JWT_SECRET");
        if let Some(secret) = &jwt_secret {
            strong_secret("ROLEGATE_JWT_SECRET", secret)?;
        }
        let jwt_secret = jwt_secret.map(String::into_bytes);

        let signup = match var("ROLEGATE_SIGNUP").as_deref().map(str::trim) {
            None | Some("open") => Signup::Open,
            Some("closed") => Signup::Closed,
            Some(other) => {
                return Err(err(
                    "ROLEGATE_SIGNUP",
                    format!("expected `open` or `closed`, got {other:?}"),
                ));
            }
        };

        let public_url = match var("ROLEGATE_PUBLIC_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => {
                return Err(err(
                    "ROLEGATE_PUBLIC_URL",
                    format!("expected an http(s) URL, got {url:?}"),
                ));
            }
            None => format!("http://{listen}"),
        };

        let cors_origins = var("ROLEGATE_CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(|o| {
                        let valid = (o.starts_with("http://") || o.starts_with("https://")) && !o.ends_with('/');
                        let value = HeaderValue::from_str(o).ok().filter(|_| valid);
                        value.ok_or_else(|| {
                            err(
                                "ROLEGATE_CORS_ORIGINS",
                                format!("{o:?} is not an origin such as https://dashboard.example.com"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();

        let max_connections = number(
            "ROLEGATE_DB_MAX_CONNECTIONS",
            var("ROLEGATE_DB_MAX_CONNECTIONS"),
            1..=1000,
            "",
            PoolSettings::default().max_connections,
        )?;
        // Per serving thread; 0 (the default) means one per thread, or one per core when one
        // runtime serves every core (see `PoolSettings::access_connections`).
        let access_connections = number(
            "ROLEGATE_DB_ACCESS_CONNECTIONS",
            var("ROLEGATE_DB_ACCESS_CONNECTIONS"),
            0..=64,
            "",
            0,
        )?;

        let secrets_key = var("ROLEGATE_SECRETS_KEY")
            .map(|v| crate::secrets::decode_key(&v).map_err(|m| err("ROLEGATE_SECRETS_KEY", m)))
            .transpose()?;
        if secrets_key.is_some_and(|key| key.iter().all(|&b| b == key[0])) {
            return Err(err(
                "ROLEGATE_SECRETS_KEY",
                "is one byte repeated 32 times, which anyone could guess; make a key with `openssl rand -base64 32`",
            ));
        }
        let webhook_url = match var("ROLEGATE_PLATFORM_WEBHOOK_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => Some(url),
            Some(url) => {
                return Err(err(
                    "ROLEGATE_PLATFORM_WEBHOOK_URL",
                    format!("expected an http(s) URL, got {url:?}"),
                ));
            }
            None => None,
        };
        let platform_secret = var("ROLEGATE_PLATFORM_SECRET");
        match &platform_secret {
            Some(secret) => strong_secret("ROLEGATE_PLATFORM_SECRET", secret)?,
            None if webhook_url.is_some() => {
                return Err(err(
                    "ROLEGATE_PLATFORM_SECRET",
                    "must be set when ROLEGATE_PLATFORM_WEBHOOK_URL is; make one with `openssl rand -base64 48`",
                ));
            }
            None => {}
        }
        let platform_token = var("ROLEGATE_PLATFORM_TOKEN");
        if let Some(token) = &platform_token {
            strong_secret("ROLEGATE_PLATFORM_TOKEN", token)?;
        }
        let log_drain_allow_private = match var("ROLEGATE_LOG_DRAIN_ALLOW_PRIVATE").as_deref().map(str::trim) {
            None | Some("" | "0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(err(
                    "ROLEGATE_LOG_DRAIN_ALLOW_PRIVATE",
                    format!("expected 1 (allow) or 0, got {other:?}"),
                ));
            }
        };
        let cores = crate::store::cores() as usize;
        let serve_threads = number(
            "ROLEGATE_SERVE_THREADS",
            var("ROLEGATE_SERVE_THREADS"),
            0..=256,
            "",
            cores,
        )?;
        let log_retention_lines = number(
            "ROLEGATE_LOG_RETENTION_LINES",
            var("ROLEGATE_LOG_RETENTION_LINES"),
            1..=1_000_000,
            "",
            10_000,
        )?;

        let stale_after = TimeDelta::days(number(
            "ROLEGATE_STALE_AFTER_DAYS",
            var("ROLEGATE_STALE_AFTER_DAYS"),
            1..=3650,
            " days",
            90,
        )?);

        let database_url = var("DATABASE_URL").unwrap_or_else(|| "sqlite://rolegate.db".to_owned());
        if !["postgres://", "postgresql://", "sqlite:"]
            .iter()
            .any(|scheme| database_url.starts_with(scheme))
        {
            return Err(err(
                "DATABASE_URL",
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        }

        let shutdown_grace = seconds("ROLEGATE_SHUTDOWN_GRACE_SECONDS", 30)?
            .to_std()
            .unwrap_or(Duration::from_secs(30));

        let accounts = accounts::AccountsConfig::from_lookup(var)?;
        let limits = quotas::from_lookup(var)?;

        let metrics_listen = var("ROLEGATE_METRICS_LISTEN")
            .filter(|v| !v.trim().is_empty())
            .map(|v| listen_address("ROLEGATE_METRICS_LISTEN", &v))
            .transpose()?;
        let timeouts = crate::connection::Timeouts {
            header: millis("ROLEGATE_HEADER_TIMEOUT_MS", 10_000)?,
            body: millis("ROLEGATE_BODY_TIMEOUT_MS", 30_000)?,
            idle: millis("ROLEGATE_IDLE_TIMEOUT_MS", 60_000)?,
        };

        Ok(Config {
            timeouts,
            metrics_listen,
            accounts,
            limits,
            shutdown_grace,
            stale_after,
            secrets_key,
            platform: PlatformConfig {
                webhook_url,
                secret: platform_secret,
                token: platform_token,
                log_drain_allow_private,
                dispatch_interval: millis("ROLEGATE_DISPATCH_INTERVAL_MS", 1_000)?,
                dispatch_backoff: millis("ROLEGATE_DISPATCH_BACKOFF_MS", 1_000)?,
            },
            log_retention_lines,
            serve_threads,
            log_retention: seconds("ROLEGATE_LOG_RETENTION_SECONDS", 7 * 86_400)?,
            database_url,
            listen,
            jwt_secret,
            jwt_ttl: seconds("ROLEGATE_JWT_TTL", 3600)?,
            signup,
            invitation_ttl: seconds("ROLEGATE_INVITATION_TTL", 7 * 86_400)?,
            public_url,
            cors_origins,
            pool: PoolSettings {
                max_connections,
                access_connections,
                acquire_timeout: millis("ROLEGATE_DB_ACQUIRE_TIMEOUT_MS", 2_000)?,
                statement_timeout: millis("ROLEGATE_DB_STATEMENT_TIMEOUT_MS", 5_000)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://rolegate.db");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.jwt_ttl, TimeDelta::seconds(3600));
        assert_eq!(c.signup, Signup::Open);
        assert_eq!(c.invitation_ttl, TimeDelta::days(7));
        assert_eq!(c.pool.acquire_timeout, Duration::from_secs(2));
    }

    #[test]
    fn listen_takes_localhost_and_ipv6() {
        let listen = |v: &str| config(&[("ROLEGATE_LISTEN", v)]).map(|c| c.listen.to_string());
        assert_eq!(listen("localhost:9000").unwrap(), "127.0.0.1:9000");
        assert_eq!(listen("[::1]:9000").unwrap(), "[::1]:9000");
        assert_eq!(listen("0.0.0.0:80").unwrap(), "0.0.0.0:80");
        assert!(listen("localhost").is_err() && listen("example.com:80").is_err());
    }

    #[test]
    fn port_is_used_when_listen_is_unset() {
        assert_eq!(config(&[("PORT", "9000")]).unwrap().listen.to_string(), "0.0.0.0:9000");
        assert_eq!(
            config(&[("PORT", "9000"), ("ROLEGATE_LISTEN", "127.0.0.1:1")])
                .unwrap()
                .listen
                .to_string(),
            "127.0.0.1:1"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("ROLEGATE_LISTEN", "nope"),
            ("ROLEGATE_JWT_TTL", "-1"),
            ("ROLEGATE_SIGNUP", "maybe"),
            ("ROLEGATE_JWT_SECRET", "short"),
            ("ROLEGATE_PUBLIC_URL", "ftp://x"),
            ("ROLEGATE_CORS_ORIGINS", "not an origin"),
            ("PORT", "http"),
            ("ROLEGATE_SECRETS_KEY", "short"),
            ("ROLEGATE_PLATFORM_WEBHOOK_URL", "gopher://x"),
            ("ROLEGATE_PLATFORM_TOKEN", "short"),
            ("ROLEGATE_JWT_SECRET", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ("ROLEGATE_PLATFORM_TOKEN", "00000000000000000000000000000000"),
            ("ROLEGATE_PLATFORM_SECRET", "abcabcabcabcabcabcabcabcabcabcabcabc"),
            ("ROLEGATE_SECRETS_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            ("ROLEGATE_LOG_DRAIN_ALLOW_PRIVATE", "yes"),
            ("ROLEGATE_LOG_RETENTION_LINES", "0"),
            ("DATABASE_URL", "mysql://localhost/x"),
            ("ROLEGATE_STALE_AFTER_DAYS", "0"),
            ("ROLEGATE_MAX_APPS_PER_OWNER", "-1"),
            ("ROLEGATE_MAX_ORDERS_PER_MINUTE", "many"),
        ] {
            let e = config(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.to_string().starts_with(var));
        }
    }

    #[test]
    fn guessable_secrets_are_refused_with_how_to_make_one() {
        for (var, value) in [
            ("ROLEGATE_JWT_SECRET", "a".repeat(32)),
            ("ROLEGATE_JWT_SECRET", "abcdefghijk".repeat(4)),
            ("ROLEGATE_PLATFORM_TOKEN", "0".repeat(32)),
            ("ROLEGATE_PLATFORM_SECRET", "webhook-secret-for-tests".to_owned()),
            (
                "ROLEGATE_SECRETS_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
            ),
        ] {
            let e = config(&[(var, &value)]).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.message.contains("openssl rand -base64"), "{e}");
        }
        let good = "q8Zs1-Xb4LkP0mWc7RtYv2NfHj5Ug9Ed3Ao6Ii";
        let c = config(&[
            ("ROLEGATE_JWT_SECRET", good),
            ("ROLEGATE_PLATFORM_TOKEN", good),
            ("ROLEGATE_PLATFORM_SECRET", good),
            ("ROLEGATE_LOG_DRAIN_ALLOW_PRIVATE", "1"),
        ])
        .unwrap();
        assert!(c.platform.log_drain_allow_private);
    }
}
