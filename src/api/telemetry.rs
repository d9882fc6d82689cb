//! Recent logs and metrics, as the platform reported them.

use axum::extract::State;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::Items;
use super::extract::{Json, Query};
use crate::authz::middleware::AppContext;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{LogLine, MetricPoint};

/// Most log lines one request returns.
pub const MAX_LINES: u32 = 10_000;
/// The metric kinds.
pub const METRIC_KINDS: [&str; 3] = ["cpu", "memory", "requests"];

/// `?lines=&since=` of the logs route.
#[derive(Deserialize)]
pub struct LogsQuery {
    lines: Option<u32>,
    since: Option<DateTime<Utc>>,
}

/// `GET /v1/apps/{app}/logs`: the most recent lines (100 unless `lines` says, at most
/// 10,000), oldest first.
pub async fn logs(
    State(state): State<AppState>,
    ctx: AppContext,
    Query(q): Query<LogsQuery>,
) -> ApiResult<Json<Items<LogLine>>> {
    let lines = match q.lines {
        None => 100,
        Some(n @ 1..=MAX_LINES) => n,
        Some(_) => return Err(ApiError::invalid("lines", "must be between 1 and 10000")),
    };
    let since = q.since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Ok(Json(Items::all(
        state.store.recent_logs(ctx.app.id, since, lines).await?,
    )))
}

/// `?kind=&since=` of the metrics route.
#[derive(Deserialize)]
pub struct MetricsQuery {
    kind: Option<String>,
    since: Option<DateTime<Utc>>,
}

/// A time series.
#[derive(Serialize)]
pub struct Series {
    kind: String,
    items: Vec<MetricPoint>,
}

/// `GET /v1/apps/{app}/metrics?kind=cpu|memory|requests&since=`: the series since
/// `since` (default: the last hour), oldest first.
pub async fn metrics(
    State(state): State<AppState>,
    ctx: AppContext,
    Query(q): Query<MetricsQuery>,
) -> ApiResult<Json<Series>> {
    let kind = q.kind.unwrap_or_else(|| "cpu".to_owned());
    if !METRIC_KINDS.contains(&kind.as_str()) {
        return Err(ApiError::invalid("kind", "must be cpu, memory or requests"));
    }
    let since = q.since.unwrap_or_else(|| state.clock.now() - TimeDelta::hours(1));
    let items = state.store.metrics(ctx.app.id, &kind, since, MAX_LINES).await?;
    Ok(Json(Series { kind, items }))
}
