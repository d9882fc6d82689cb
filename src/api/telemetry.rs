//! Recent logs and metrics, as the platform reported them.

use axum::extract::State;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::Items;
use super::extract::{Json, Query};
use super::openapi::AppPath;
use crate::authz::middleware::AppContext;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::store::{LogLine, MetricPoint};

/// Most log lines one request returns.
pub const MAX_LINES: u32 = 10_000;
/// The metric kinds.
pub const METRIC_KINDS: [&str; 3] = ["cpu", "memory", "requests"];

/// One of [`METRIC_KINDS`], for the OpenAPI document.
pub(crate) fn metric_kind_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(METRIC_KINDS, "The metric: `cpu`, `memory` or `requests`.")
}

/// `?lines=&since=` of the logs route.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// How many of the most recent lines, 1 to 10000 (default 100).
    #[param(minimum = 1, maximum = 10000)]
    lines: Option<i64>,
    /// Only lines written at or after this time (RFC 3339; default: no limit).
    #[serde(default, deserialize_with = "crate::domain::timestamp::option")]
    since: Option<DateTime<Utc>>,
}

impl LogsQuery {
    /// The number of lines asked for (100 unless `lines` says) and the earliest time.
    pub(crate) fn checked(&self) -> Result<(u32, DateTime<Utc>), ApiError> {
        let lines = self
            .lines
            .map_or(Some(100), |n| {
                u32::try_from(n).ok().filter(|n| (1..=MAX_LINES).contains(n))
            })
            .ok_or_else(|| ApiError::invalid("lines", "must be between 1 and 10000"))?;
        Ok((lines, self.since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH)))
    }
}

/// The series asked for: `kind`, one of `kinds` (`cpu` when absent), and the start (an hour
/// before `now` when absent).
pub(crate) fn checked_series(
    kind: Option<String>,
    since: Option<DateTime<Utc>>,
    kinds: &[&str],
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let kind = kind.unwrap_or_else(|| "cpu".to_owned());
    if !kinds.contains(&kind.as_str()) {
        let message = match kinds.split_last() {
            Some((last, first @ [_, ..])) => format!("must be {} or {last}", first.join(", ")),
            _ => format!("must be {}", kinds.join("")),
        };
        return Err(ApiError::invalid("kind", message));
    }
    Ok((kind, since.unwrap_or_else(|| now - TimeDelta::hours(1))))
}

/// `GET /v1/apps/{app}/logs`: the most recent lines (100 unless `lines` says, at most
/// 10,000), oldest first.
#[utoipa::path(get, path = "/v1/apps/{app}/logs", params(AppPath, LogsQuery), responses(
    (status = 200, description = "The most recent lines, oldest first; never paginated (no `next_cursor`).",
        body = Items<LogLine>),
    (status = 422, description = "`lines` is not between 1 and 10000.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn logs(
    State(state): State<AppState>,
    ctx: AppContext,
    Query(q): Query<LogsQuery>,
) -> ApiResult<Json<Items<LogLine>>> {
    let (lines, since) = q.checked()?;
    Ok(Json(Items::all(
        state.store.recent_logs(ctx.app.id, since, lines).await?,
    )))
}

/// `?kind=&since=` of the metrics route.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MetricsQuery {
    /// The metric: `cpu` (default), `memory` or `requests`.
    #[param(schema_with = metric_kind_schema)]
    kind: Option<String>,
    /// Only samples taken at or after this time (RFC 3339; default: an hour ago).
    #[serde(default, deserialize_with = "crate::domain::timestamp::option")]
    since: Option<DateTime<Utc>>,
}

/// A time series.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Series {
    /// The metric: `cpu`, `memory` or `requests`.
    #[schema(schema_with = metric_kind_schema)]
    kind: String,
    /// The samples, oldest first (at most 10000).
    #[schema(max_items = 10000)]
    items: Vec<MetricPoint>,
}

/// `GET /v1/apps/{app}/metrics?kind=cpu|memory|requests&since=`: the series since
/// `since` (default: the last hour), oldest first.
#[utoipa::path(get, path = "/v1/apps/{app}/metrics", params(AppPath, MetricsQuery), responses(
    (status = 200, description = "The series, oldest first.", body = Series),
    (status = 422, description = "`kind` is not `cpu`, `memory` or `requests`.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn metrics(
    State(state): State<AppState>,
    ctx: AppContext,
    Query(q): Query<MetricsQuery>,
) -> ApiResult<Json<Series>> {
    let (kind, since) = checked_series(q.kind, q.since, &METRIC_KINDS, state.clock.now())?;
    let items = state.store.metrics(ctx.app.id, &kind, since, MAX_LINES).await?;
    Ok(Json(Series { kind, items }))
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(logs, metrics))]
pub struct Doc;
