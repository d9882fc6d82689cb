//! A database's logs and metrics: read by members, reported by the platform.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{database, platform_database};
use crate::api::Items;
use crate::api::extract::{Json, Path, Query};
use crate::api::internal::{Logs, checked_lines, checked_samples};
use crate::api::openapi::{AppIdPath, IdPath};
use crate::api::{IdParam, telemetry};
use crate::authz::middleware::AppContext;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// The metrics of a database.
pub const DATABASE_METRIC_KINDS: [&str; 4] = ["cpu", "memory", "disk", "connections"];

/// `GET /v1/apps/{app}/addons/{id}/database/logs`: the database's most recent lines (100
/// unless `lines` says, at most 10,000), oldest first.
#[utoipa::path(get, path = "/v1/apps/{app}/addons/{id}/database/logs", params(AppIdPath, telemetry::LogsQuery),
    responses(
        (status = 200, description = "The most recent lines, oldest first; never paginated (no `next_cursor`).",
            body = Items<crate::store::LogLine>),
    )
)]
pub async fn logs(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
    Query(q): Query<telemetry::LogsQuery>,
) -> ApiResult<Json<Items<crate::store::LogLine>>> {
    let (lines, since) = q.checked()?;
    let addon = database(&state, &ctx, id).await?;
    Ok(Json(Items::all(
        state.store.database_logs(addon.id, since, lines).await?,
    )))
}

fn database_metric_kind_schema() -> utoipa::openapi::Object {
    crate::api::openapi::string_enum(
        DATABASE_METRIC_KINDS,
        "The metric: `cpu`, `memory`, `disk` or `connections`.",
    )
}

/// `?kind=&since=` of a database's metrics.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DatabaseMetricsQuery {
    /// The metric: `cpu` (default), `memory`, `disk` or `connections`.
    #[param(schema_with = database_metric_kind_schema)]
    kind: Option<String>,
    /// Only samples taken at or after this time (RFC 3339; default: an hour ago).
    #[serde(default, deserialize_with = "crate::domain::timestamp::option")]
    since: Option<DateTime<Utc>>,
}

/// A database's time series.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DatabaseSeries {
    /// The metric.
    #[schema(schema_with = database_metric_kind_schema)]
    kind: String,
    /// The samples, oldest first (at most 10000).
    #[schema(max_items = 10000)]
    items: Vec<crate::store::MetricPoint>,
}

/// `GET /v1/apps/{app}/addons/{id}/database/metrics?kind=&since=`: the series since `since`
/// (default: the last hour), oldest first.
#[utoipa::path(get, path = "/v1/apps/{app}/addons/{id}/database/metrics",
    params(AppIdPath, DatabaseMetricsQuery), responses(
        (status = 200, description = "The series, oldest first.", body = DatabaseSeries),
    )
)]
pub async fn metrics(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
    Query(q): Query<DatabaseMetricsQuery>,
) -> ApiResult<Json<DatabaseSeries>> {
    let (kind, since) = telemetry::checked_series(q.kind, q.since, &DATABASE_METRIC_KINDS, state.clock.now())?;
    let addon = database(&state, &ctx, id).await?;
    let items = state
        .store
        .database_metrics(addon.id, &kind, since, telemetry::MAX_LINES)
        .await?;
    Ok(Json(DatabaseSeries { kind, items }))
}

/// `POST /internal/v1/addons/{id}/database/logs`: up to 1,000 lines of the database's log;
/// it keeps a bounded window, like an app's.
#[utoipa::path(post, path = "/internal/v1/addons/{id}/database/logs", params(IdPath), request_body = Logs, responses(
    (status = 204, description = "Appended; older lines beyond the window are dropped."),
    (status = 404, description = "No such database, or the platform API is off.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn report_logs(
    State(state): State<AppState>,
    Path(IdParam { id }): Path<IdParam>,
    Json(body): Json<Logs>,
) -> ApiResult<StatusCode> {
    let now = state.clock.now();
    let lines = checked_lines(body, now)?;
    let addon = platform_database(&state, id).await?;
    let config = &state.config;
    state
        .store
        .append_database_logs(addon.id, &lines, config.log_retention_lines, now - config.log_retention)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One reported sample of a database.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSample {
    /// The metric: `cpu`, `memory`, `disk` or `connections`.
    #[schema(schema_with = database_metric_kind_schema)]
    kind: String,
    /// When it was taken.
    #[serde(deserialize_with = "crate::domain::timestamp::required")]
    time: DateTime<Utc>,
    /// The value (a finite number).
    value: f64,
}

/// Body of the database metrics route.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseMetrics {
    /// At most 1000 samples.
    #[schema(max_items = 1000)]
    samples: Vec<DatabaseSample>,
}

/// `POST /internal/v1/addons/{id}/database/metrics`: samples of the database.
#[utoipa::path(post, path = "/internal/v1/addons/{id}/database/metrics", params(IdPath),
    request_body = DatabaseMetrics, responses(
        (status = 204, description = "Appended; samples older than the retention period are dropped."),
        (status = 404, description = "No such database, or the platform API is off.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn report_metrics(
    State(state): State<AppState>,
    Path(IdParam { id }): Path<IdParam>,
    Json(body): Json<DatabaseMetrics>,
) -> ApiResult<StatusCode> {
    let samples = checked_samples(
        body.samples.iter().map(|s| (s.kind.as_str(), s.time, s.value)),
        &DATABASE_METRIC_KINDS,
    )?;
    let addon = platform_database(&state, id).await?;
    let now = state.clock.now();
    state
        .store
        .append_database_metrics(addon.id, &samples, now - state.config.log_retention)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
