//! Minor and major upgrades of a database: platform requests, excluding restores and other
//! upgrades under way.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use super::{database, exclusive};
use crate::api::extract::{Json, Path};
use crate::api::openapi::AppIdPath;
use crate::api::requests::QueuedView;
use crate::authz::middleware::AppContext;
use crate::error::{ApiResult, Problem};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;

/// Records the upgrade `order` of the app's database `id`.
async fn upgrade(
    state: &AppState,
    ctx: &AppContext,
    id: Uuid,
    order: OrderKind,
) -> ApiResult<(StatusCode, Json<QueuedView>)> {
    let addon = database(state, ctx, id).await?;
    exclusive(
        state,
        ctx,
        &addon,
        order,
        EventKind::DatabaseUpgradeRequested,
        json!({}),
    )
    .await
}

/// `POST /v1/apps/{app}/addons/{id}/database/upgrades/minor`: 409 while an upgrade or a
/// restore of the database is under way.
#[utoipa::path(post, path = "/v1/apps/{app}/addons/{id}/database/upgrades/minor", params(AppIdPath), responses(
    (status = 202, description = "Queued for the platform.", body = QueuedView),
    (status = 409, description = "An upgrade or a restore of the database is under way.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn upgrade_minor(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<(StatusCode, Json<QueuedView>)> {
    upgrade(&state, &ctx, id, OrderKind::DatabaseUpgradeMinor).await
}

/// `POST /v1/apps/{app}/addons/{id}/database/upgrades/major`: 409 while an upgrade or a
/// restore of the database is under way.
#[utoipa::path(post, path = "/v1/apps/{app}/addons/{id}/database/upgrades/major", params(AppIdPath), responses(
    (status = 202, description = "Queued for the platform.", body = QueuedView),
    (status = 409, description = "An upgrade or a restore of the database is under way.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn upgrade_major(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<(StatusCode, Json<QueuedView>)> {
    upgrade(&state, &ctx, id, OrderKind::DatabaseUpgradeMajor).await
}
