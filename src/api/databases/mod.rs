//! Add-on dashboards and database operations (issue 13).
//!
//! A database is an add-on whose provider is one of [`DATABASE_PROVIDERS`]; its routes live
//! under `/v1/apps/{app}/addons/{id}/database/…` and answer 404 for any other add-on of the
//! app. Dashboards and backup downloads are single-use five-minute links ([`super::links`])
//! the platform verifies with `POST /internal/v1/dashboard-links/verify`. Backups and database
//! users are app records named after their add-on (`unique_key` `<addon_id>/…`); the backup
//! schedule, internet access, configuration and maintenance window are settings of the add-on
//! ([`super::settings`]); restores and upgrades are platform requests, at most one at a time
//! per database (the store checks it under the add-on's row lock).
//!
//! One module per part of a database: [`dashboards`] (and the single-use links), [`backups`]
//! (and restores), [`upgrades`], [`settings`], [`config`], [`telemetry`] (logs and metrics) and
//! [`users`]. The handlers are re-exported here for the route table.

mod backups;
mod config;
mod dashboards;
mod settings;
mod telemetry;
mod upgrades;
mod users;

use axum::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

pub use backups::*;
pub use config::*;
pub use dashboards::*;
pub use settings::*;
pub use telemetry::*;
pub use upgrades::*;
pub use users::*;

use super::extract::Json;
use super::requests::QueuedView;
use crate::authz::middleware::AppContext;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{Addon, NewRequest};

/// The providers whose add-ons are databases.
pub const DATABASE_PROVIDERS: [&str; 7] = [
    "postgresql",
    "mysql",
    "mongodb",
    "redis",
    "elasticsearch",
    "influxdb",
    "opensearch",
];

/// Whether an add-on of `provider` is a database.
pub fn is_database(provider: &str) -> bool {
    DATABASE_PROVIDERS.contains(&provider)
}

const NOT_A_DATABASE: &str = "database not found";

/// The requests that exclude each other on one database: a restore or an upgrade under way.
const BUSY: [&str; 4] = [
    OrderKind::DatabaseRestore.as_str(),
    OrderKind::DatabaseRestorePitr.as_str(),
    OrderKind::DatabaseUpgradeMinor.as_str(),
    OrderKind::DatabaseUpgradeMajor.as_str(),
];

/// The app's database `{id}`: 404 for a missing add-on and for one that is not a database.
async fn database(state: &AppState, ctx: &AppContext, id: Uuid) -> ApiResult<Addon> {
    state
        .store
        .addon(ctx.app.id, id)
        .await?
        .filter(|a| is_database(&a.provider))
        .ok_or(ApiError::NotFound(NOT_A_DATABASE))
}

/// Records a request on a database that excludes restores and upgrades under way (409).
async fn exclusive(
    state: &AppState,
    ctx: &AppContext,
    addon: &Addon,
    order: OrderKind,
    event: EventKind,
    mut data: Value,
) -> ApiResult<(StatusCode, Json<QueuedView>)> {
    data["addon_id"] = json!(addon.id);
    data["provider"] = json!(addon.provider);
    let request = NewRequest {
        order,
        event,
        target: Some(addon.id),
        data,
        app_status: None,
    };
    let recorded = state
        .store
        .record_exclusive_request(
            &ctx.app,
            addon.id,
            request,
            &BUSY,
            &ctx.caller.user.to_ref(),
            state.clock.now(),
        )
        .await
        .on_not_found(NOT_A_DATABASE)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(QueuedView {
            order_id: recorded.order_id,
            status: "queued",
            formation: None,
        }),
    ))
}

/// The database `{id}` of any app, for the platform's routes.
async fn platform_database(state: &AppState, id: Uuid) -> ApiResult<Addon> {
    let app_id = state
        .store
        .addon_app(id)
        .await?
        .ok_or(ApiError::NotFound(NOT_A_DATABASE))?;
    state
        .store
        .addon(app_id, id)
        .await?
        .filter(|a| is_database(&a.provider))
        .ok_or(ApiError::NotFound(NOT_A_DATABASE))
}

/// The operations of databases with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    dashboards::addon_dashboard,
    dashboards::database_dashboard,
    dashboards::verify_link,
    backups::list_backups,
    backups::create_backup,
    backups::download_backup,
    backups::restore_backup,
    backups::restore_pitr,
    backups::report_backup,
    upgrades::upgrade_minor,
    upgrades::upgrade_major,
    config::read_config,
    config::patch_config,
    telemetry::logs,
    telemetry::metrics,
    telemetry::report_logs,
    telemetry::report_metrics,
    users::list_users,
    users::create_user,
    users::delete_user,
    users::platform_users
))]
pub struct Doc;
