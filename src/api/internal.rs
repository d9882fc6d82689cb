//! The platform's API under `/internal/v1`: it reports deployment progress, logs, metrics
//! and provisioned add-ons, and may read the queued orders. Only the platform token opens
//! it; user credentials never do, and the platform token never opens `/v1`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::addons::{Credentials, context};
use super::extract::{Json, JsonWithNul, Path, Query};
use super::openapi::{AppPath, IdPath};
use super::{IdParam, Items};
use crate::domain::DeploymentStatus;
use crate::error::{ApiError, ApiResult, Fields, Problem, ResultExt};
use crate::kinds::Channel;
use crate::state::AppState;
use crate::store::{Addon, AppRef, Deployment, LogLine, MetricSample, Order};

/// Largest request body on the routes that carry logs and metrics.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
const MAX_LINES: usize = 1000;
const MAX_MESSAGE: usize = 16 * 1024;

/// `?limit=` of the orders route.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// How many orders, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// `GET /internal/v1/orders`: orders not yet delivered, oldest first (for a platform that
/// polls instead of receiving webhooks, and to see what is queued).
#[utoipa::path(get, path = "/internal/v1/orders", params(OrdersQuery), responses(
    (status = 200, description = "Orders not yet delivered, oldest first; never paginated (no `next_cursor`).",
        body = Items<Order>),
    (status = 404, description = "The platform API is off: no platform token is configured.", body = Problem,
        content_type = "application/problem+json"),
    (status = 422, description = "`limit` is not between 1 and 1000.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn orders(State(state): State<AppState>, Query(q): Query<OrdersQuery>) -> ApiResult<Json<Items<Order>>> {
    let limit = super::page_limit(q.limit, 100, 1000)?;
    Ok(Json(Items::all(
        state.store.pending_orders(Channel::Platform, limit).await?,
    )))
}

/// `POST /internal/v1/orders/{id}/ack`: a polling platform marks an order done, so it is
/// neither listed nor delivered again. Acknowledging twice is fine.
#[utoipa::path(post, path = "/internal/v1/orders/{id}/ack", params(IdPath), responses(
    (status = 204, description = "The order is marked delivered (again is fine)."),
    (status = 404, description = "No such order, or the platform API is off (no platform token is configured).",
        body = Problem, content_type = "application/problem+json"),
))]
pub async fn ack_order(State(state): State<AppState>, Path(IdParam { id }): Path<IdParam>) -> ApiResult<StatusCode> {
    if state
        .store
        .order_delivered(Channel::Platform, id, state.clock.now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("order not found"))
    }
}

/// Body of the deployment status route.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusReport {
    /// The deployment's new status.
    #[schema(schema_with = deployment_status_schema)]
    status: String,
    /// Build output to append to what the deployment has (absent or `null`: nothing).
    output: Option<String>,
}

/// `StatusReport::status`: one of [`DeploymentStatus::ALL`].
fn deployment_status_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        DeploymentStatus::ALL.map(DeploymentStatus::as_str),
        "The deployment's new status. `success`, `crashed-error`, `timeout-error`, `build-error` and `aborted` \
             are final: the deployment gets its `finished_at` and takes no further report.",
    )
}

/// `POST /internal/v1/deployments/{id}/status`: moves the deployment on and appends to its
/// build output; 409 once it has finished.
#[utoipa::path(post, path = "/internal/v1/deployments/{id}/status", params(IdPath), request_body = StatusReport,
    responses(
        (status = 200, description = "The deployment as it is now.", body = Deployment),
        (status = 404, description = "No such deployment, or the platform API is off (no platform token is \
            configured).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The deployment has already finished (its status is final).", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn deployment_status(
    State(state): State<AppState>,
    Path(IdParam { id }): Path<IdParam>,
    Json(body): Json<StatusReport>,
) -> ApiResult<Json<Deployment>> {
    let status = DeploymentStatus::parse(&body.status).ok_or_else(|| {
        ApiError::invalid("status", "must be queued, building, pushing, starting, success, crashed-error, timeout-error, build-error or aborted")
    })?;
    let deployment = state
        .store
        .set_deployment_status(id, status.as_str(), body.output.as_deref(), state.clock.now())
        .await
        .on_not_found("deployment not found")?;
    Ok(Json(deployment))
}

async fn app_id(state: &AppState, app: &str) -> ApiResult<uuid::Uuid> {
    let app = state
        .store
        .app_by_ref(&AppRef::parse(app))
        .await?
        .ok_or(ApiError::NotFound("app not found"))?;
    Ok(app.id)
}

/// `{app}` of the platform's app routes (documented as [`AppPath`]).
#[derive(Deserialize)]
pub struct AppParam {
    /// The app's name or id.
    app: String,
}

/// One reported log line.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportedLine {
    /// When it was written (absent or `null`: when it is received).
    #[serde(default, deserialize_with = "crate::domain::timestamp::option")]
    timestamp: Option<DateTime<Utc>>,
    /// Where it came from, such as `web-1`, `router` or `build`: 1 to 64 bytes.
    #[schema(min_length = 1, max_length = 64)]
    source: String,
    /// The text: at most 16384 bytes.
    #[schema(max_length = 16384)]
    message: String,
}

/// Body of the logs route.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    /// At most 1000 lines, oldest first.
    #[schema(max_items = 1000)]
    lines: Vec<ReportedLine>,
}

/// `POST /internal/v1/apps/{app}/logs`: up to 1,000 lines; the app keeps a bounded window.
/// A NUL character in a line is kept as the text `\u0000` rather than refusing the batch.
#[utoipa::path(post, path = "/internal/v1/apps/{app}/logs", params(AppPath), request_body = Logs, responses(
    (status = 204, description = "Appended; older lines beyond the app's window are dropped."),
    (status = 404, description = "No such app, or the platform API is off (no platform token is configured).",
        body = Problem, content_type = "application/problem+json"),
    (status = 413, description = "The body is larger than 2 MiB.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn logs(
    State(state): State<AppState>,
    Path(AppParam { app }): Path<AppParam>,
    JsonWithNul(body): JsonWithNul<Logs>,
) -> ApiResult<StatusCode> {
    let lines = checked_lines(body, state.clock.now())?;
    let app_id = app_id(&state, &app).await?;
    let now = state.clock.now();
    let config = &state.config;
    state
        .store
        .append_logs(app_id, &lines, config.log_retention_lines, now - config.log_retention)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The lines of a logs body, checked (a 422 names each bad one), stamped with `now` when
/// they carry no time, NUL characters escaped.
pub(crate) fn checked_lines(body: Logs, now: DateTime<Utc>) -> ApiResult<Vec<LogLine>> {
    let mut fields = Fields::default();
    if body.lines.len() > MAX_LINES {
        fields.push("lines", "must hold at most 1000 lines");
    }
    for (i, line) in body.lines.iter().enumerate() {
        if line.source.is_empty() || line.source.len() > 64 {
            fields.push(&format!("lines[{i}].source"), "must be 1 to 64 characters");
        }
        if line.message.len() > MAX_MESSAGE {
            fields.push(&format!("lines[{i}].message"), "must be at most 16384 bytes");
        }
    }
    fields.finish()?;
    Ok(body
        .lines
        .into_iter()
        .map(|l| LogLine {
            timestamp: l.timestamp.unwrap_or(now),
            source: escape_nul(l.source),
            message: escape_nul(l.message),
        })
        .collect())
}

/// The samples of a metrics body, checked against the metric `kinds` of their route.
pub(crate) fn checked_samples<'a>(
    samples: impl ExactSizeIterator<Item = (&'a str, DateTime<Utc>, f64)>,
    kinds: &[&'static str],
) -> ApiResult<Vec<MetricSample>> {
    let mut fields = Fields::default();
    if samples.len() > MAX_LINES {
        fields.push("samples", "must hold at most 1000 samples");
    }
    let mut out = Vec::with_capacity(samples.len());
    for (i, (kind, time, value)) in samples.enumerate() {
        match kinds.iter().find(|k| **k == kind) {
            Some(kind) if value.is_finite() => out.push(MetricSample { kind, time, value }),
            Some(_) => fields.push(&format!("samples[{i}].value"), "must be a finite number"),
            None => fields.push(
                &format!("samples[{i}].kind"),
                &format!("must be one of: {}", kinds.join(", ")),
            ),
        }
    }
    fields.finish()?;
    Ok(out)
}

/// A program's output may hold NUL bytes, which Postgres cannot store in text: each becomes
/// the six characters `\u0000`, so the line is kept (on both backends alike) and shows where
/// it was.
fn escape_nul(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\\u0000")
    } else {
        text
    }
}

/// One reported sample.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportedSample {
    /// The metric: `cpu`, `memory` or `requests`.
    #[schema(schema_with = super::telemetry::metric_kind_schema)]
    kind: String,
    /// When it was taken.
    #[serde(deserialize_with = "crate::domain::timestamp::required")]
    time: DateTime<Utc>,
    /// The value (a finite number).
    value: f64,
}

/// Body of the metrics route.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// At most 1000 samples.
    #[schema(max_items = 1000)]
    samples: Vec<ReportedSample>,
}

/// `POST /internal/v1/apps/{app}/metrics`.
#[utoipa::path(post, path = "/internal/v1/apps/{app}/metrics", params(AppPath), request_body = Metrics, responses(
    (status = 204, description = "Appended; samples older than the retention period are dropped."),
    (status = 404, description = "No such app, or the platform API is off (no platform token is configured).",
        body = Problem, content_type = "application/problem+json"),
    (status = 413, description = "The body is larger than 2 MiB.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn metrics(
    State(state): State<AppState>,
    Path(AppParam { app }): Path<AppParam>,
    Json(body): Json<Metrics>,
) -> ApiResult<StatusCode> {
    let samples = checked_samples(
        body.samples.iter().map(|s| (s.kind.as_str(), s.time, s.value)),
        &super::telemetry::METRIC_KINDS,
    )?;
    let app_id = app_id(&state, &app).await?;
    let now = state.clock.now();
    state
        .store
        .append_metrics(app_id, &samples, now - state.config.log_retention)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of the provisioned route.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Provisioned {
    /// How to connect to the add-on; stored sealed, shown to members who may read credentials.
    credentials: Credentials,
}

/// `POST /internal/v1/addons/{id}/provisioned`: the add-on runs; its credentials are sealed.
#[utoipa::path(post, path = "/internal/v1/addons/{id}/provisioned", params(IdPath), request_body = Provisioned,
    responses(
        (status = 200, description = "The add-on, now `running`.", body = Addon),
        (status = 404, description = "No such add-on, or the platform API is off (no platform token is \
            configured).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn addon_provisioned(
    State(state): State<AppState>,
    Path(IdParam { id }): Path<IdParam>,
    Json(body): Json<Provisioned>,
) -> ApiResult<Json<Addon>> {
    let app_id = state
        .store
        .addon_app(id)
        .await?
        .ok_or(ApiError::NotFound("add-on not found"))?;
    let plain = serde_json::to_vec(&body.credentials).map_err(ApiError::internal)?;
    let sealed = state
        .secrets
        .seal(&plain, &context(app_id, id))
        .map_err(ApiError::internal)?;
    let addon = state
        .store
        .addon_provisioned(id, &sealed, state.clock.now())
        .await
        .on_not_found("add-on not found")?;
    Ok(Json(addon))
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(orders, ack_order, deployment_status, logs, metrics, addon_provisioned))]
pub struct Doc;
