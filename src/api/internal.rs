//! The platform's API under `/internal/v1`: it reports deployment progress, logs, metrics
//! and provisioned add-ons, and may read the queued orders. Only the platform token opens
//! it; user credentials never do, and the platform token never opens `/v1`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::addons::{Credentials, context};
use super::extract::{Json, Path, Query};
use super::{IdParam, Items};
use crate::domain::DeploymentStatus;
use crate::error::{ApiError, ApiResult, Fields, ResultExt};
use crate::state::AppState;
use crate::store::{Addon, AppRef, Deployment, LogLine, MetricSample, Order};

/// Largest request body on the routes that carry logs and metrics.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
const MAX_LINES: usize = 1000;
const MAX_MESSAGE: usize = 16 * 1024;

/// `?limit=` of the orders route.
#[derive(Deserialize)]
pub struct OrdersQuery {
    limit: Option<u32>,
}

/// `GET /internal/v1/orders`: orders not yet delivered, oldest first (for a platform that
/// polls instead of receiving webhooks, and to see what is queued).
pub async fn orders(State(state): State<AppState>, Query(q): Query<OrdersQuery>) -> ApiResult<Json<Items<Order>>> {
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=1000) => n,
        Some(_) => return Err(ApiError::invalid("limit", "must be between 1 and 1000")),
    };
    Ok(Json(Items::all(state.store.pending_orders(limit).await?)))
}

/// `POST /internal/v1/orders/{id}/ack`: a polling platform marks an order done, so it is
/// neither listed nor delivered again. Acknowledging twice is fine.
pub async fn ack_order(State(state): State<AppState>, Path(IdParam { id }): Path<IdParam>) -> ApiResult<StatusCode> {
    if state.store.order_delivered(id, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("order not found"))
    }
}

/// Body of the deployment status route.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusReport {
    status: String,
    output: Option<String>,
}

/// `POST /internal/v1/deployments/{id}/status`: moves the deployment on and appends to its
/// build output; 409 once it has finished.
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

/// `{app}` of the platform's app routes.
#[derive(Deserialize)]
pub struct AppParam {
    app: String,
}

/// One reported log line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedLine {
    timestamp: Option<DateTime<Utc>>,
    source: String,
    message: String,
}

/// Body of the logs route.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    lines: Vec<ReportedLine>,
}

/// `POST /internal/v1/apps/{app}/logs`: up to 1,000 lines; the app keeps a bounded window.
pub async fn logs(
    State(state): State<AppState>,
    Path(AppParam { app }): Path<AppParam>,
    Json(body): Json<Logs>,
) -> ApiResult<StatusCode> {
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
    let app_id = app_id(&state, &app).await?;
    let now = state.clock.now();
    let lines: Vec<LogLine> = body
        .lines
        .into_iter()
        .map(|l| LogLine {
            timestamp: l.timestamp.unwrap_or(now),
            source: l.source,
            message: l.message,
        })
        .collect();
    let config = &state.config;
    state
        .store
        .append_logs(app_id, &lines, config.log_retention_lines, now - config.log_retention)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One reported sample.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedSample {
    kind: String,
    time: DateTime<Utc>,
    value: f64,
}

/// Body of the metrics route.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    samples: Vec<ReportedSample>,
}

/// `POST /internal/v1/apps/{app}/metrics`.
pub async fn metrics(
    State(state): State<AppState>,
    Path(AppParam { app }): Path<AppParam>,
    Json(body): Json<Metrics>,
) -> ApiResult<StatusCode> {
    let mut fields = Fields::default();
    if body.samples.len() > MAX_LINES {
        fields.push("samples", "must hold at most 1000 samples");
    }
    let mut samples = Vec::with_capacity(body.samples.len());
    for (i, s) in body.samples.iter().enumerate() {
        let kind = super::telemetry::METRIC_KINDS.into_iter().find(|k| *k == s.kind);
        match kind {
            Some(kind) if s.value.is_finite() => samples.push(MetricSample {
                kind,
                time: s.time,
                value: s.value,
            }),
            Some(_) => fields.push(&format!("samples[{i}].value"), "must be a finite number"),
            None => fields.push(&format!("samples[{i}].kind"), "must be cpu, memory or requests"),
        }
    }
    fields.finish()?;
    let app_id = app_id(&state, &app).await?;
    let now = state.clock.now();
    state
        .store
        .append_metrics(app_id, &samples, now - state.config.log_retention)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of the provisioned route.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioned {
    credentials: Credentials,
}

/// `POST /internal/v1/addons/{id}/provisioned`: the add-on runs; its credentials are sealed.
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
