//! Prometheus metrics, served on their own listener (`ROLEGATE_METRICS_LISTEN`) at `/metrics`.
//!
//! Each server has its own [`Metrics`] (its registry, in [`AppState`]); what the store
//! observes below the API (database errors, pool acquire times) is process-wide, in
//! [`STORE`], and registered into every registry. Labels are bounded by construction: route
//! templates from the route table, permission names, methods, statuses and fixed outcome
//! words; never a raw path, an id, an app's name or an email. docs/operations.md describes
//! each metric and the alerts worth having.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::authz::Permission;
use crate::authz::routes;
use crate::kinds::Channel;
use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    permission: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    kind: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

/// What the authorization middleware decided about a request on an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Let through.
    Allowed,
    /// A member whose role lacks the permission (403).
    MissingPermission,
    /// A token whose scope lacks the permission or the app (403, or the app's 404).
    OutOfScope,
    /// Not a member, or no such app (404).
    NotMember,
    /// A member whose time-bound access has ended (403).
    Expired,
    /// A member without 2FA on an app that requires it (403).
    TfaRequired,
}

impl Outcome {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::MissingPermission => "missing_permission",
            Outcome::OutOfScope => "out_of_scope",
            Outcome::NotMember => "not_member",
            Outcome::Expired => "expired",
            Outcome::TfaRequired => "tfa_required",
        }
    }
}

/// How a sign-in with a password ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Login {
    /// A token was made.
    Ok,
    /// Unknown address or wrong password.
    WrongPassword,
    /// Refused before checking: too many failures.
    Throttled,
    /// The password was right; the second factor is missing.
    OtpRequired,
    /// The password was right; the second factor is wrong or used.
    OtpInvalid,
}

impl Login {
    const fn as_str(self) -> &'static str {
        match self {
            Login::Ok => "ok",
            Login::WrongPassword => "wrong_password",
            Login::Throttled => "throttled",
            Login::OtpRequired => "otp_required",
            Login::OtpInvalid => "otp_invalid",
        }
    }
}

/// What the store observes, for the whole process (see the module's docs).
pub struct StoreMetrics {
    errors: Family<KindLabels, Counter>,
    acquire: Histogram,
}

/// The store's process-wide metrics.
pub static STORE: LazyLock<StoreMetrics> = LazyLock::new(|| StoreMetrics {
    errors: Family::default(),
    acquire: Histogram::new(exponential_buckets(0.000_5, 2.0, 14)),
});

impl StoreMetrics {
    /// A database error of `kind` (`unavailable`, `timeout`, `conflict`, `busy`, `other`).
    pub fn error(&self, kind: &'static str) {
        self.errors.get_or_create(&KindLabels { kind }).inc();
    }

    /// How long getting a pooled connection took.
    pub fn acquired(&self, waited: Duration) {
        self.acquire.observe(waited.as_secs_f64());
    }
}

/// One server's metrics.
pub struct Metrics {
    /// Whether anything is recorded: only when a metrics listener is configured, so that
    /// without one the hot path pays nothing.
    enabled: bool,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    decisions: Family<DecisionLabels, Counter>,
    pool: Family<StateLabels, Gauge>,
    pending: Family<KindLabels, Gauge>,
    oldest: Family<KindLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    deliveries: Family<DeliveryLabels, Counter>,
    logins: Family<ResultLabels, Counter>,
    hashing: Gauge,
    /// Totals read off the stores at scrape time (see [`crate::store::PoolStatus`]).
    access_checks: Counter,
    access_queries: Counter,
    access_abandoned: Counter,
    /// The stores of the serving threads, whose pools the pool gauge adds up (see
    /// `crate::server`); the state's own store is counted too.
    lane_stores: std::sync::Mutex<Vec<Arc<dyn crate::store::Store>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A registry with every metric, at zero; `enabled` says whether anything is recorded.
    pub fn new(enabled: bool) -> Self {
        let mut root = Registry::default();
        // Process metrics are named as every Prometheus client library names them.
        root.register_collector(Box::new(Process::new()));
        let registry = root.sub_registry_with_prefix("rolegate");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by route template and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(duration_histogram as fn() -> Histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's head to its answer's head, by route template",
            durations.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "authz_decisions",
            "Authorization decisions on app routes, by permission and outcome",
            decisions.clone(),
        );
        let pool = Family::<StateLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections, idle or in use",
            pool.clone(),
        );
        registry.register(
            "db_pool_acquire_seconds",
            "Time to get a pooled connection for the authorization query (process-wide)",
            STORE.acquire.clone(),
        );
        let access_checks = Counter::default();
        registry.register(
            "db_access_checks",
            "Access checks of requests on app routes (Postgres)",
            access_checks.clone(),
        );
        let access_queries = Counter::default();
        registry.register(
            "db_access_queries",
            "Queries that ran the access checks: fewer when concurrent checks were batched (Postgres)",
            access_queries.clone(),
        );
        let access_abandoned = Counter::default();
        registry.register(
            "db_access_checks_abandoned",
            "Access checks dropped unrun because their request was gone (Postgres)",
            access_abandoned.clone(),
        );
        registry.register(
            "db_errors",
            "Database errors by kind: unavailable, timeout, busy, conflict, other (process-wide)",
            STORE.errors.clone(),
        );
        let pending = Family::<KindLabels, Gauge>::default();
        registry.register("outbox_pending", "Orders and mails not yet delivered", pending.clone());
        let oldest = Family::<KindLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "outbox_oldest_pending_seconds",
            "Age of the oldest order or mail not yet delivered (0 when none)",
            oldest.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "outbox_deliveries",
            "Delivery attempts of this server's dispatchers, by kind and result (ok, failed)",
            deliveries.clone(),
        );
        let logins = Family::<ResultLabels, Counter>::default();
        registry.register(
            "login_attempts",
            "Sign-ins with a password (POST /v1/tokens), by result",
            logins.clone(),
        );
        let hashing = Gauge::default();
        registry.register(
            "password_hashing_in_flight",
            "Password hashes being computed now",
            hashing.clone(),
        );
        let build = Family::<VersionLabels, Gauge>::default();
        build
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "The running version (always 1)", build);
        Metrics {
            enabled,
            registry: root,
            requests,
            durations,
            decisions,
            pool,
            pending,
            oldest,
            deliveries,
            logins,
            hashing,
            access_checks,
            access_queries,
            access_abandoned,
            lane_stores: std::sync::Mutex::default(),
        }
    }

    /// Counts the pool of a serving thread's store in `rolegate_db_pool_connections`.
    pub fn add_lane_store(&self, store: Arc<dyn crate::store::Store>) {
        if let Ok(mut stores) = self.lane_stores.lock() {
            stores.push(store);
        }
    }
}

fn duration_histogram() -> Histogram {
    // 0.5 ms to about 4 s, doubling; and `+Inf`.
    Histogram::new(exponential_buckets(0.000_5, 2.0, 14))
}

impl Metrics {
    /// An authorization decision on an app route.
    pub fn decision(&self, permission: Permission, outcome: Outcome) {
        if !self.enabled {
            return;
        }
        self.decisions
            .get_or_create(&DecisionLabels {
                permission: permission.as_str(),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// A sign-in with a password.
    pub fn login(&self, result: Login) {
        if !self.enabled {
            return;
        }
        self.logins
            .get_or_create(&ResultLabels {
                result: result.as_str(),
            })
            .inc();
    }

    /// A delivery attempt of one of this server's dispatchers.
    pub fn delivery(&self, channel: Channel, delivered: bool) {
        if !self.enabled {
            return;
        }
        self.deliveries
            .get_or_create(&DeliveryLabels {
                kind: outbox_kind(channel),
                result: if delivered { "ok" } else { "failed" },
            })
            .inc();
    }

    fn answered(&self, method: &'static str, route: &'static str, status: StatusCode, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status: status.as_u16(),
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { method, route })
            .observe(took.as_secs_f64());
    }

    /// The exposition, after reading what is read at scrape time (the pool, the outbox's
    /// backlog, the hashes in flight).
    async fn render(&self, state: &AppState) -> Result<String, std::fmt::Error> {
        let lanes = self.lane_stores.lock().map(|s| s.clone()).unwrap_or_default();
        let pool = lanes
            .iter()
            .map(|store| store.pool_status())
            .fold(state.store.pool_status(), |all, lane| crate::store::PoolStatus {
                idle: all.idle + lane.idle,
                in_use: all.in_use + lane.in_use,
                access_checks: all.access_checks + lane.access_checks,
                access_queries: all.access_queries + lane.access_queries,
                access_abandoned: all.access_abandoned + lane.access_abandoned,
            });
        // The stores count; the counters catch up with them.
        for (counter, total) in [
            (&self.access_checks, pool.access_checks),
            (&self.access_queries, pool.access_queries),
            (&self.access_abandoned, pool.access_abandoned),
        ] {
            counter.inner().fetch_max(total, std::sync::atomic::Ordering::Relaxed);
        }
        self.pool
            .get_or_create(&StateLabels { state: "idle" })
            .set(i64::from(pool.idle));
        self.pool
            .get_or_create(&StateLabels { state: "in_use" })
            .set(i64::from(pool.in_use));
        let now = state.clock.now();
        // The backlog of each kind, zero when nothing waits; an unreachable store leaves
        // the last values (and counts in `db_errors`).
        if let Ok(backlog) = state.store.outbox_backlog().await {
            for channel in [Channel::Platform, Channel::Mail] {
                let kind = KindLabels {
                    kind: outbox_kind(channel),
                };
                let waiting = backlog.iter().find(|b| b.channel == channel);
                self.pending.get_or_create(&kind).set(waiting.map_or(0, |b| b.pending));
                let age = waiting
                    .and_then(|b| b.oldest)
                    .map_or(0.0, |oldest| (now - oldest).num_milliseconds().max(0) as f64 / 1000.0);
                self.oldest.get_or_create(&kind).set(age);
            }
        }
        let idle_permits = state.hashing.available_permits();
        let in_flight = state.config.accounts.hash_concurrency.saturating_sub(idle_permits);
        self.hashing.set(i64::try_from(in_flight).unwrap_or(i64::MAX));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// `order` for the platform's channel, `mail` for mail.
const fn outbox_kind(channel: Channel) -> &'static str {
    match channel {
        Channel::Platform => "order",
        Channel::Mail => "mail",
    }
}

impl Metrics {
    /// Whether this server records metrics (a metrics listener is configured).
    pub fn enabled(&self) -> bool {
        self.enabled
    }
}

/// The middleware counting and timing every answer of the API, by route template
/// (installed only when metrics are enabled).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|matched| routes::lookup(request.method(), matched.as_str()))
        .map_or("unmatched", |spec| spec.path);
    let response = next.run(request).await;
    state
        .metrics
        .answered(method, route, response.status(), started.elapsed());
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The metrics listener's router: `GET /metrics` and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new().route("/metrics", get(exposition)).with_state(state)
}

async fn exposition(State(state): State<AppState>) -> Response {
    match state.metrics.render(&state).await {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            response
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The process's CPU time, resident memory, open files and start time, read from `/proc`
/// at each scrape (Linux; elsewhere only the start time).
#[derive(Debug)]
struct Process {
    started: f64,
}

impl Process {
    fn new() -> Self {
        Process {
            started: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        }
    }
}

/// `utime + stime` of `/proc/self/stat`, in seconds (the kernel counts in USER_HZ, 100 per
/// second on Linux whatever the kernel's own tick).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn open_fds() -> Option<i64> {
    Some(i64::try_from(std::fs::read_dir("/proc/self/fd").ok()?.count()).unwrap_or(i64::MAX))
}

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(cpu) = cpu_seconds() {
            let counter = ConstCounter::new(cpu);
            counter.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time spent",
                None,
                counter.metric_type(),
            )?)?;
        }
        if let Some(rss) = resident_bytes() {
            let gauge = ConstGauge::new(rss);
            gauge.encode(encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory size",
                None,
                gauge.metric_type(),
            )?)?;
        }
        if let Some(fds) = open_fds() {
            let gauge = ConstGauge::new(fds);
            gauge.encode(encoder.encode_descriptor(
                "process_open_fds",
                "Open file descriptors",
                None,
                gauge.metric_type(),
            )?)?;
        }
        let gauge = ConstGauge::new(self.started);
        gauge.encode(encoder.encode_descriptor(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch",
            None,
            gauge.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_metrics_are_read_from_proc() {
        assert!(cpu_seconds().is_some_and(|s| s >= 0.0));
        assert!(resident_bytes().is_some_and(|b| b > 0));
        assert!(open_fds().is_some_and(|n| n > 0));
    }

    #[test]
    fn disabled_metrics_record_nothing() {
        let metrics = Metrics::new(false);
        metrics.decision(Permission::AppRead, Outcome::Allowed);
        metrics.login(Login::Ok);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &metrics.registry).unwrap();
        assert!(!text.contains("rolegate_authz_decisions_total{"), "{text}");
        assert!(!text.contains("rolegate_login_attempts_total{"), "{text}");
    }

    #[test]
    fn every_metric_is_named_as_documented() {
        let metrics = Metrics::new(true);
        metrics.decision(Permission::AppRead, Outcome::Allowed);
        metrics.login(Login::WrongPassword);
        metrics.delivery(Channel::Mail, true);
        metrics.answered("GET", "/v1/apps/{app}", StatusCode::OK, Duration::from_millis(2));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &metrics.registry).unwrap();
        for name in [
            "rolegate_http_requests_total",
            "rolegate_http_request_duration_seconds_bucket{le=\"0.002\",method=\"GET\",route=\"/v1/apps/{app}\"} 1",
            "rolegate_authz_decisions_total{permission=\"app.read\",outcome=\"allowed\"} 1",
            "rolegate_db_pool_acquire_seconds",
            "rolegate_db_access_checks_total",
            "rolegate_db_access_queries_total",
            "rolegate_db_access_checks_abandoned_total",
            "rolegate_outbox_deliveries_total",
            "rolegate_login_attempts_total{result=\"wrong_password\"} 1",
            "rolegate_password_hashing_in_flight",
            "rolegate_build_info{version=\"",
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
