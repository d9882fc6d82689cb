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

use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Items;
use super::extract::{Json, NoQuery, Path, Query};
use super::internal::{Logs, checked_lines, checked_samples};
use super::links::SingleUse;
use super::openapi::{AppIdPath, IdPath};
use super::records::{open_secret, secret_context};
use super::requests::QueuedView;
use super::settings::AppSetting;
use super::{IdParam, telemetry};
use crate::auth::token::{self, LINK_TOKEN_PREFIX};
use crate::authz::middleware::AppContext;
use crate::error::{ApiError, ApiResult, Fields, Problem, ResultExt};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{Addon, AppRef, NewOrder, NewRequest, NewSetting, RecordRemoval, RecordWrite, StoredRecord};

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

/// The metrics of a database.
pub const DATABASE_METRIC_KINDS: [&str; 4] = ["cpu", "memory", "disk", "connections"];

/// Whether an add-on of `provider` is a database.
pub fn is_database(provider: &str) -> bool {
    DATABASE_PROVIDERS.contains(&provider)
}

const NOT_A_DATABASE: &str = "database not found";
const BACKUP_KIND: &str = "database_backup";
const USER_KIND: &str = "database_user";

/// The requests that exclude each other on one database: a restore or an upgrade under way.
const BUSY: [&str; 4] = [
    OrderKind::DatabaseRestore.as_str(),
    OrderKind::DatabaseRestorePitr.as_str(),
    OrderKind::DatabaseUpgradeMinor.as_str(),
    OrderKind::DatabaseUpgradeMajor.as_str(),
];

/// Dashboard links and backup downloads.
const LINK: SingleUse = SingleUse {
    kind: "platform_link",
    prefix: LINK_TOKEN_PREFIX,
    not_found: "no such link, or it was used already",
    expired: "the link expired",
};

/// The app's database `{id}`: 404 for a missing add-on and for one that is not a database.
async fn database(state: &AppState, ctx: &AppContext, id: Uuid) -> ApiResult<Addon> {
    state
        .store
        .addon(ctx.app.id, id)
        .await?
        .filter(|a| is_database(&a.provider))
        .ok_or(ApiError::NotFound(NOT_A_DATABASE))
}

// ---------------------------------------------------------------------------------------
// Dashboards and single-use links

/// A single-use link, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SingleUseLink {
    /// The link: it carries a single-use credential (`token=rgl_…`) that the platform verifies
    /// with `POST /internal/v1/dashboard-links/verify`. Shown once.
    pub url: String,
    /// When it stops working if unused: five minutes from now.
    pub expires_at: DateTime<Utc>,
}

async fn issue_link(
    state: &AppState,
    ctx: &AppContext,
    path: String,
    grant: Value,
    event: EventKind,
    event_data: Value,
) -> ApiResult<(StatusCode, Json<SingleUseLink>)> {
    let issued = LINK.issue(state, ctx, grant, event, event_data).await?;
    let url = format!("{}{path}#token={}", state.config.public_url, issued.secret);
    Ok((
        StatusCode::CREATED,
        Json(SingleUseLink {
            url,
            expires_at: issued.expires_at,
        }),
    ))
}

/// `POST /v1/apps/{app}/addons/{id}/dashboard`: a single-use, five-minute link to the
/// add-on's dashboard. The timeline records who was given one, never the link.
#[utoipa::path(post, path = "/v1/apps/{app}/addons/{id}/dashboard", params(AppIdPath), responses(
    (status = 201, description = "A link, shown once.", body = SingleUseLink),
))]
pub async fn addon_dashboard(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<(StatusCode, Json<SingleUseLink>)> {
    let addon = state
        .store
        .addon(ctx.app.id, id)
        .await?
        .ok_or(ApiError::NotFound("add-on not found"))?;
    let data = json!({ "addon_id": id, "provider": addon.provider });
    let mut grant = data.clone();
    grant["purpose"] = json!("addon_dashboard");
    issue_link(
        &state,
        &ctx,
        format!("/addons/{id}/dashboard"),
        grant,
        EventKind::AddonDashboardOpened,
        data,
    )
    .await
}

/// `POST /v1/apps/{app}/addons/{id}/database/dashboard`: a single-use, five-minute link to
/// the database's dashboard.
#[utoipa::path(post, path = "/v1/apps/{app}/addons/{id}/database/dashboard", params(AppIdPath), responses(
    (status = 201, description = "A link, shown once.", body = SingleUseLink),
))]
pub async fn database_dashboard(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<(StatusCode, Json<SingleUseLink>)> {
    let addon = database(&state, &ctx, id).await?;
    let data = json!({ "addon_id": id, "provider": addon.provider });
    let mut grant = data.clone();
    grant["purpose"] = json!("database_dashboard");
    issue_link(
        &state,
        &ctx,
        format!("/addons/{id}/database/dashboard"),
        grant,
        EventKind::DatabaseDashboardOpened,
        data,
    )
    .await
}

/// Body of `POST /internal/v1/dashboard-links/verify`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyLink {
    /// The credential of the link (`rgl_…`).
    token: String,
}

fn purpose_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        ["addon_dashboard", "database_dashboard", "backup_download"],
        "What the link opens.",
    )
}

/// What the platform learns from a link that holds.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkGrant {
    /// What the link opens: `addon_dashboard`, `database_dashboard` or `backup_download`.
    #[schema(schema_with = purpose_schema)]
    purpose: String,
    /// The app.
    app_id: Uuid,
    /// The add-on.
    addon_id: Uuid,
    /// The add-on's provider.
    provider: String,
    /// With `backup_download`: the backup to hand out.
    #[schema(required = true)]
    backup_id: Option<Uuid>,
    /// Who was given the link.
    #[schema(required = true)]
    user_id: Option<Uuid>,
}

/// `POST /internal/v1/dashboard-links/verify`: whether a dashboard or backup-download link
/// holds. It holds once: verifying uses it up; one past its five minutes is refused (410), one
/// never issued or already used is 404, and so is one whose add-on has been removed.
#[utoipa::path(post, path = "/internal/v1/dashboard-links/verify", request_body = VerifyLink, responses(
    (status = 200, description = "The link held, and is now used up.", body = LinkGrant),
    (status = 404, description = "No such link, or it was used already.", body = Problem,
        content_type = "application/problem+json"),
    (status = 410, description = "The link expired.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn verify_link(State(state): State<AppState>, Json(body): Json<VerifyLink>) -> ApiResult<Json<LinkGrant>> {
    let taken = LINK.redeem(&state, &body.token).await?;
    let d = &taken.data.0;
    let addon_id: Uuid = serde_json::from_value(d["addon_id"].clone()).map_err(ApiError::internal)?;
    if state.store.addon(taken.app_id, addon_id).await?.is_none() {
        return Err(ApiError::NotFound("the add-on of this link is gone"));
    }
    Ok(Json(LinkGrant {
        purpose: d["purpose"].as_str().unwrap_or_default().to_owned(),
        app_id: taken.app_id,
        addon_id,
        provider: d["provider"].as_str().unwrap_or_default().to_owned(),
        backup_id: d["backup_id"].as_str().and_then(|s| s.parse().ok()),
        user_id: taken.created_by,
    }))
}

// ---------------------------------------------------------------------------------------
// Backups

fn backup_status_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        ["pending", "running", "done", "error"],
        "`pending` until the platform starts it, `running`, then `done` or `error` (final).",
    )
}

/// A backup of a database.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Backup {
    /// Id.
    pub id: Uuid,
    /// Where it stands.
    #[schema(schema_with = backup_status_schema)]
    pub status: String,
    /// Whether a member asked for it (`false`: a scheduled backup the platform took).
    pub manual: bool,
    /// Its size once known, else `null`.
    #[schema(required = true)]
    pub size_bytes: Option<i64>,
    /// When the platform started it, else `null`.
    #[schema(required = true)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished, else `null`.
    #[schema(required = true)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Who asked for it (`null` for a scheduled one, or once that account is gone).
    #[schema(required = true)]
    pub requested_by: Option<Uuid>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

fn time_of(value: &Value) -> Option<DateTime<Utc>> {
    serde_json::from_value(value.clone()).ok()
}

fn backup_view(record: &StoredRecord) -> Backup {
    let d = &record.data.0;
    Backup {
        id: record.id,
        status: d["status"].as_str().unwrap_or("pending").to_owned(),
        manual: d["manual"].as_bool().unwrap_or(false),
        size_bytes: d["size_bytes"].as_i64(),
        started_at: time_of(&d["started_at"]),
        finished_at: time_of(&d["finished_at"]),
        requested_by: record.created_by,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

/// The database's backups, oldest first.
async fn backups_of(state: &AppState, addon: &Addon) -> ApiResult<Vec<StoredRecord>> {
    let prefix = format!("{}/", addon.id);
    Ok(state
        .store
        .list_records(addon.app_id, BACKUP_KIND)
        .await?
        .into_iter()
        .filter(|r| r.unique_key.as_deref().is_some_and(|k| k.starts_with(&prefix)))
        .collect())
}

/// One backup of the database: 404 for another database's or another app's.
async fn backup_of(state: &AppState, addon: &Addon, backup_id: Uuid) -> ApiResult<StoredRecord> {
    state
        .store
        .record(addon.app_id, BACKUP_KIND, backup_id)
        .await?
        .filter(|r| r.data.0["addon_id"] == json!(addon.id))
        .ok_or(ApiError::NotFound("backup not found"))
}

/// `{app}`, `{id}` and `{backup_id}` in a path.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BackupPath {
    /// The app's name or id.
    pub app: String,
    /// The database (an add-on's id).
    pub id: Uuid,
    /// The backup's id.
    pub backup_id: Uuid,
}

/// `GET /v1/apps/{app}/addons/{id}/database/backups`: the database's backups, oldest first.
#[utoipa::path(get, path = "/v1/apps/{app}/addons/{id}/database/backups", params(AppIdPath), responses(
    (status = 200, description = "Every backup of the database, oldest first (one page, no `next_cursor`).",
        body = Items<Backup>),
))]
pub async fn list_backups(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
    _: NoQuery,
) -> ApiResult<Json<Items<Backup>>> {
    let addon = database(&state, &ctx, id).await?;
    let backups = backups_of(&state, &addon).await?;
    Ok(Json(Items::all(backups.iter().map(backup_view).collect())))
}

/// `POST /v1/apps/{app}/addons/{id}/database/backups`: a manual backup, `pending` until the
/// platform reports on it.
#[utoipa::path(post, path = "/v1/apps/{app}/addons/{id}/database/backups", params(AppIdPath), responses(
    (status = 202, description = "Recorded, and its order queued for the platform.", body = Backup),
))]
pub async fn create_backup(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<(StatusCode, Json<Backup>)> {
    let addon = database(&state, &ctx, id).await?;
    let backup_id = Uuid::now_v7();
    let described = json!({ "addon_id": id, "provider": addon.provider, "backup_id": backup_id });
    let write = RecordWrite {
        id: backup_id,
        create: true,
        kind: BACKUP_KIND,
        unique_key: Some(format!("{id}/{backup_id}")),
        data: json!({
            "addon_id": id, "status": "pending", "manual": true, "size_bytes": null,
            "started_at": null, "finished_at": null,
        }),
        secret: None,
        event: EventKind::DatabaseBackupRequested,
        event_data: described.clone(),
        order: Some(NewOrder {
            kind: OrderKind::DatabaseBackup,
            data: described,
        }),
    };
    let stored = state
        .store
        .save_record(&ctx.app, write, Some(&ctx.caller.user.to_ref()), state.clock.now())
        .await
        .on_not_found(NOT_A_DATABASE)?;
    Ok((StatusCode::ACCEPTED, Json(backup_view(&stored))))
}

/// `POST /v1/apps/{app}/addons/{id}/database/backups/{backup_id}/download`: a single-use,
/// five-minute link to download a `done` backup (409 before).
#[utoipa::path(post, path = "/v1/apps/{app}/addons/{id}/database/backups/{backup_id}/download",
    params(BackupPath), responses(
        (status = 201, description = "A link, shown once.", body = SingleUseLink),
        (status = 409, description = "The backup is not `done`.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn download_backup(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(BackupPath { id, backup_id, .. }): Path<BackupPath>,
) -> ApiResult<(StatusCode, Json<SingleUseLink>)> {
    let addon = database(&state, &ctx, id).await?;
    let backup = backup_of(&state, &addon, backup_id).await?;
    if backup.data.0["status"] != "done" {
        return Err(ApiError::Conflict("the backup is not done".into()));
    }
    let data = json!({ "addon_id": id, "backup_id": backup_id });
    let grant = json!({
        "purpose": "backup_download", "addon_id": id, "provider": addon.provider, "backup_id": backup_id,
    });
    issue_link(
        &state,
        &ctx,
        format!("/addons/{id}/database/backups/{backup_id}/download"),
        grant,
        EventKind::DatabaseBackupDownloadGranted,
        data,
    )
    .await
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

/// `POST /v1/apps/{app}/addons/{id}/database/backups/{backup_id}/restore`: restore a `done`
/// backup over the database. 409 while an upgrade or a restore of it is under way.
#[utoipa::path(post, path = "/v1/apps/{app}/addons/{id}/database/backups/{backup_id}/restore",
    params(BackupPath), responses(
        (status = 202, description = "Queued for the platform.", body = QueuedView),
        (status = 409, description = "The backup is not `done`, or an upgrade or a restore of the database is \
            under way.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn restore_backup(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(BackupPath { id, backup_id, .. }): Path<BackupPath>,
) -> ApiResult<(StatusCode, Json<QueuedView>)> {
    let addon = database(&state, &ctx, id).await?;
    let backup = backup_of(&state, &addon, backup_id).await?;
    if backup.data.0["status"] != "done" {
        return Err(ApiError::Conflict("the backup is not done".into()));
    }
    exclusive(
        &state,
        &ctx,
        &addon,
        OrderKind::DatabaseRestore,
        EventKind::DatabaseRestoreRequested,
        json!({ "backup_id": backup_id }),
    )
    .await
}

/// Body of `POST /v1/apps/{app}/addons/{id}/database/pitr-restore`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PitrRestore {
    /// The time to restore to (RFC 3339): not in the future, not before the oldest `done`
    /// backup.
    #[serde(deserialize_with = "crate::domain::timestamp::required")]
    to: DateTime<Utc>,
}

/// `POST /v1/apps/{app}/addons/{id}/database/pitr-restore`: restore the database as it was at
/// `to`. 422 for a time in the future or before the oldest backup the platform reported done;
/// 409 while an upgrade or a restore of it is under way.
#[utoipa::path(post, path = "/v1/apps/{app}/addons/{id}/database/pitr-restore", params(AppIdPath),
    request_body = PitrRestore, responses(
        (status = 202, description = "Queued for the platform.", body = QueuedView),
        (status = 409, description = "An upgrade or a restore of the database is under way.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn restore_pitr(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
    Json(body): Json<PitrRestore>,
) -> ApiResult<(StatusCode, Json<QueuedView>)> {
    let addon = database(&state, &ctx, id).await?;
    if body.to > state.clock.now() {
        return Err(ApiError::invalid("to", "must not be in the future"));
    }
    let oldest = backups_of(&state, &addon)
        .await?
        .iter()
        .filter(|r| r.data.0["status"] == "done")
        .filter_map(|r| time_of(&r.data.0["started_at"]).or(time_of(&r.data.0["finished_at"])))
        .min();
    match oldest {
        None => return Err(ApiError::invalid("to", "the database has no backup to restore from")),
        Some(oldest) if body.to < oldest => {
            return Err(ApiError::invalid(
                "to",
                format!("must not be before the oldest backup ({})", oldest.to_rfc3339()),
            ));
        }
        Some(_) => {}
    }
    exclusive(
        &state,
        &ctx,
        &addon,
        OrderKind::DatabaseRestorePitr,
        EventKind::DatabasePitrRestoreRequested,
        json!({ "to": body.to }),
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
    let addon = database(&state, &ctx, id).await?;
    exclusive(
        &state,
        &ctx,
        &addon,
        OrderKind::DatabaseUpgradeMinor,
        EventKind::DatabaseUpgradeRequested,
        json!({}),
    )
    .await
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
    let addon = database(&state, &ctx, id).await?;
    exclusive(
        &state,
        &ctx,
        &addon,
        OrderKind::DatabaseUpgradeMajor,
        EventKind::DatabaseUpgradeRequested,
        json!({}),
    )
    .await
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

/// Body of `POST /internal/v1/addons/{id}/database/backups`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupReport {
    /// The backup of a `database.backup` order; absent or `null` for one the platform took on
    /// its own (a scheduled backup), which is then recorded.
    backup_id: Option<Uuid>,
    /// Where it stands. `done` and `error` are final.
    #[schema(schema_with = backup_status_schema)]
    status: String,
    /// Its size in bytes, once known.
    #[schema(minimum = 0)]
    size_bytes: Option<i64>,
    /// When it started.
    #[serde(default, deserialize_with = "crate::domain::timestamp::option")]
    started_at: Option<DateTime<Utc>>,
    /// When it finished.
    #[serde(default, deserialize_with = "crate::domain::timestamp::option")]
    finished_at: Option<DateTime<Utc>>,
}

/// `POST /internal/v1/addons/{id}/database/backups`: the platform reports a backup of the
/// database (new, or one it was ordered to take). Reporting the same again changes nothing; a
/// `done` or `error` backup takes no further report (409).
#[utoipa::path(post, path = "/internal/v1/addons/{id}/database/backups", params(IdPath), request_body = BackupReport,
    responses(
        (status = 200, description = "The backup as it is now.", body = Backup),
        (status = 404, description = "No such database or backup, or the platform API is off.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "The backup has already ended.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn report_backup(
    State(state): State<AppState>,
    Path(IdParam { id }): Path<IdParam>,
    Json(body): Json<BackupReport>,
) -> ApiResult<Json<Backup>> {
    let mut fields = Fields::default();
    if !["pending", "running", "done", "error"].contains(&body.status.as_str()) {
        fields.push("status", "must be one of: pending, running, done, error");
    }
    if body.size_bytes.is_some_and(|s| s < 0) {
        fields.push("size_bytes", "must be at least 0");
    }
    fields.finish()?;
    let addon = platform_database(&state, id).await?;
    let app = state
        .store
        .app_by_ref(&AppRef::Id(addon.app_id))
        .await?
        .ok_or(ApiError::NotFound(NOT_A_DATABASE))?;
    let current = match body.backup_id {
        Some(backup_id) => Some(backup_of(&state, &addon, backup_id).await?),
        None => None,
    };
    let from = current
        .as_ref()
        .map(|c| c.data.0["status"].as_str().unwrap_or("pending").to_owned());
    if let (Some(current), Some(from)) = (&current, &from)
        && (from == "done" || from == "error")
    {
        if *from == body.status {
            return Ok(Json(backup_view(current)));
        }
        return Err(ApiError::Conflict("the backup has already ended".into()));
    }
    let backup_id = current.as_ref().map_or_else(Uuid::now_v7, |c| c.id);
    let mut data = current
        .as_ref()
        .map_or_else(|| json!({ "addon_id": id, "manual": false }), |c| c.data.0.clone());
    data["status"] = json!(body.status);
    for (key, value) in [
        ("size_bytes", body.size_bytes.map(|s| json!(s))),
        ("started_at", body.started_at.map(|t| json!(t))),
        ("finished_at", body.finished_at.map(|t| json!(t))),
    ] {
        if let Some(value) = value {
            data[key] = value;
        } else if data.get(key).is_none() {
            data[key] = Value::Null;
        }
    }
    let write = RecordWrite {
        id: backup_id,
        create: current.is_none(),
        kind: BACKUP_KIND,
        unique_key: Some(format!("{id}/{backup_id}")),
        data: data.clone(),
        secret: None,
        event: EventKind::DatabaseBackupReported,
        event_data: json!({
            "addon_id": id, "backup_id": backup_id, "from": from, "to": body.status,
            "size_bytes": data["size_bytes"],
        }),
        order: None,
    };
    let stored = state
        .store
        .save_record(&app, write, None, state.clock.now())
        .await
        .on_not_found(NOT_A_DATABASE)?;
    Ok(Json(backup_view(&stored)))
}

// ---------------------------------------------------------------------------------------
// Settings of a database

/// The scheduled backups of a database.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BackupSchedule {
    /// Whether the platform takes a backup every day (default `true`).
    pub enabled: bool,
    /// The hour it starts, 0 to 23 (UTC; default 2).
    #[schema(minimum = 0, maximum = 23)]
    pub hour_utc: i64,
    /// How many days backups are kept, 1 to 365 (default 30).
    #[schema(minimum = 1, maximum = 365)]
    pub retention_days: i64,
}

impl Default for BackupSchedule {
    fn default() -> Self {
        BackupSchedule {
            enabled: true,
            hour_utc: 2,
            retention_days: 30,
        }
    }
}

impl AppSetting for BackupSchedule {
    const KEY: &'static str = "database_backup_schedule";
    const EVENT: EventKind = EventKind::DatabaseBackupScheduleChanged;
    const ORDER: Option<OrderKind> = Some(OrderKind::DatabaseBackupScheduleSet);
    const NAME: &'static str = "database_backup_schedule";
    const ADDON_NOT_FOUND: &'static str = NOT_A_DATABASE;

    fn addon_fits(provider: &str) -> bool {
        is_database(provider)
    }

    fn check(&self) -> Result<(), ApiError> {
        let mut fields = Fields::default();
        if !(0..=23).contains(&self.hour_utc) {
            fields.push("hour_utc", "must be between 0 and 23");
        }
        if !(1..=365).contains(&self.retention_days) {
            fields.push("retention_days", "must be between 1 and 365");
        }
        fields.finish()
    }
}

/// Whether a database is reachable from the internet, and from where.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct InternetAccess {
    /// Whether it is reachable from the internet (default `false`: from the app only).
    pub enabled: bool,
    /// The networks it is reachable from when `enabled`, as CIDRs (`203.0.113.0/24`,
    /// `2001:db8::/32`); empty: from anywhere. At most 50.
    #[schema(max_items = 50)]
    pub allowed_cidrs: Vec<String>,
}

/// Whether `cidr` is an address or a network: `ADDR` or `ADDR/LEN` with LEN within the family.
fn is_cidr(cidr: &str) -> bool {
    let (addr, len) = match cidr.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (cidr, None),
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    len.is_none_or(|len| {
        !len.is_empty()
            && len.len() <= 3
            && len.bytes().all(|b| b.is_ascii_digit())
            && len.parse::<u8>().is_ok_and(|l| l <= max)
    })
}

impl AppSetting for InternetAccess {
    const KEY: &'static str = "database_internet_access";
    const EVENT: EventKind = EventKind::DatabaseInternetAccessChanged;
    const ORDER: Option<OrderKind> = Some(OrderKind::DatabaseInternetAccessSet);
    const NAME: &'static str = "database_internet_access";
    const ADDON_NOT_FOUND: &'static str = NOT_A_DATABASE;

    fn addon_fits(provider: &str) -> bool {
        is_database(provider)
    }

    fn check(&self) -> Result<(), ApiError> {
        let mut fields = Fields::default();
        if self.allowed_cidrs.len() > 50 {
            fields.push("allowed_cidrs", "must hold at most 50 networks");
        }
        for (i, cidr) in self.allowed_cidrs.iter().enumerate() {
            if !is_cidr(cidr) {
                fields.push(
                    &format!("allowed_cidrs[{i}]"),
                    "must be an IP address or a CIDR network",
                );
            }
        }
        fields.finish()
    }
}

/// When the platform may run a database's maintenance.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// The day, 0 (Sunday) to 6 (Saturday); default 0.
    #[schema(minimum = 0, maximum = 6)]
    pub weekday: i64,
    /// The hour it starts, 0 to 23 (UTC; default 3).
    #[schema(minimum = 0, maximum = 23)]
    pub hour_utc: i64,
    /// How long it lasts, 1 to 8 hours (default 2).
    #[schema(minimum = 1, maximum = 8)]
    pub duration_hours: i64,
}

impl Default for MaintenanceWindow {
    fn default() -> Self {
        MaintenanceWindow {
            weekday: 0,
            hour_utc: 3,
            duration_hours: 2,
        }
    }
}

impl AppSetting for MaintenanceWindow {
    const KEY: &'static str = "database_maintenance_window";
    const EVENT: EventKind = EventKind::DatabaseMaintenanceWindowChanged;
    const ORDER: Option<OrderKind> = Some(OrderKind::DatabaseMaintenanceWindowSet);
    const NAME: &'static str = "database_maintenance_window";
    const ADDON_NOT_FOUND: &'static str = NOT_A_DATABASE;

    fn addon_fits(provider: &str) -> bool {
        is_database(provider)
    }

    fn check(&self) -> Result<(), ApiError> {
        let mut fields = Fields::default();
        if !(0..=6).contains(&self.weekday) {
            fields.push("weekday", "must be between 0 and 6");
        }
        if !(0..=23).contains(&self.hour_utc) {
            fields.push("hour_utc", "must be between 0 and 23");
        }
        if !(1..=8).contains(&self.duration_hours) {
            fields.push("duration_hours", "must be between 1 and 8");
        }
        fields.finish()
    }
}

// ---------------------------------------------------------------------------------------
// Configuration

const CONFIG_KEY: &str = "database_config";

/// Whether `name` is a configuration setting's name: 1 to 64 of `a-z`, `0-9`, `_` and `.`,
/// starting with a letter.
fn is_config_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

fn config_object() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .additional_properties(Some(
            utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::String),
        ))
        .description(Some(
            "The database's configuration: setting name (`^[a-z][a-z0-9_.]{0,63}$`) → value (a string).",
        ))
        .build()
}

/// A database's configuration.
#[derive(Serialize)]
pub struct DatabaseConfig(Map<String, Value>);

impl utoipa::PartialSchema for DatabaseConfig {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        config_object().into()
    }
}

impl utoipa::ToSchema for DatabaseConfig {}

fn config_patch_object() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .additional_properties(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    utoipa::openapi::schema::Type::String,
                    utoipa::openapi::schema::Type::Null,
                ]))
                .max_length(Some(1024)),
        ))
        .max_properties(Some(100))
        .description(Some(
            "Names to set (a string of at most 1024 characters, no control characters) or to remove \
             (`null`); names not given stay as they are. At most 100 names.",
        ))
        .build()
}

/// Body of `PATCH …/database/config`.
#[derive(Deserialize)]
pub struct ConfigPatch(Map<String, Value>);

impl utoipa::PartialSchema for ConfigPatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        config_patch_object().into()
    }
}

impl utoipa::ToSchema for ConfigPatch {}

/// `GET /v1/apps/{app}/addons/{id}/database/config`: the configuration set through rolegate.
#[utoipa::path(get, path = "/v1/apps/{app}/addons/{id}/database/config", params(AppIdPath), responses(
    (status = 200, description = "The configuration (empty when nothing was set).", body = DatabaseConfig),
))]
pub async fn read_config(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<Json<DatabaseConfig>> {
    let addon = database(&state, &ctx, id).await?;
    let stored = state.store.addon_setting(addon.id, CONFIG_KEY).await?;
    let map = stored.and_then(|v| v.as_object().cloned()).unwrap_or_default();
    Ok(Json(DatabaseConfig(map)))
}

/// `PATCH /v1/apps/{app}/addons/{id}/database/config`: set or remove (`null`) some names;
/// the whole configuration goes to the platform as an order, and the change on the timeline.
#[utoipa::path(patch, path = "/v1/apps/{app}/addons/{id}/database/config", params(AppIdPath),
    request_body = ConfigPatch, responses(
        (status = 200, description = "The configuration as it is now.", body = DatabaseConfig),
    )
)]
pub async fn patch_config(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
    Json(ConfigPatch(patch)): Json<ConfigPatch>,
) -> ApiResult<Json<DatabaseConfig>> {
    let addon = database(&state, &ctx, id).await?;
    let mut fields = Fields::default();
    if patch.is_empty() || patch.len() > 100 {
        fields.push("", "must set or remove 1 to 100 names");
    }
    for (name, value) in &patch {
        if !is_config_name(name) {
            fields.push(
                name,
                "is not a setting name: 1 to 64 of a-z, 0-9, _ and ., starting with a letter",
            );
            continue;
        }
        match value {
            Value::Null => {}
            Value::String(s) if s.chars().count() <= 1024 && !s.chars().any(char::is_control) => {}
            _ => fields.push(
                name,
                "must be a string of at most 1024 characters without control characters, or null",
            ),
        }
    }
    fields.finish()?;
    let setting = NewSetting {
        key: CONFIG_KEY,
        value: Value::Object(patch),
        default: json!({}),
        event: EventKind::DatabaseConfigChanged,
        order: Some(OrderKind::DatabaseConfigSet),
    };
    let stored = state
        .store
        .put_addon_setting(
            &ctx.app,
            addon.id,
            setting,
            true,
            &ctx.caller.user.to_ref(),
            state.clock.now(),
        )
        .await
        .on_not_found(NOT_A_DATABASE)?;
    Ok(Json(DatabaseConfig(stored.as_object().cloned().unwrap_or_default())))
}

// ---------------------------------------------------------------------------------------
// Logs and metrics

/// `?lines=&since=` of a database's logs.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DatabaseLogsQuery {
    /// How many of the most recent lines, 1 to 10000 (default 100).
    #[param(minimum = 1, maximum = 10000)]
    lines: Option<i64>,
    /// Only lines written at or after this time (RFC 3339; default: no limit).
    #[serde(default, deserialize_with = "crate::domain::timestamp::option")]
    since: Option<DateTime<Utc>>,
}

/// `GET /v1/apps/{app}/addons/{id}/database/logs`: the database's most recent lines (100
/// unless `lines` says, at most 10,000), oldest first.
#[utoipa::path(get, path = "/v1/apps/{app}/addons/{id}/database/logs", params(AppIdPath, DatabaseLogsQuery),
    responses(
        (status = 200, description = "The most recent lines, oldest first; never paginated (no `next_cursor`).",
            body = Items<crate::store::LogLine>),
    )
)]
pub async fn logs(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
    Query(q): Query<DatabaseLogsQuery>,
) -> ApiResult<Json<Items<crate::store::LogLine>>> {
    let lines = q
        .lines
        .map_or(Some(100), |n| {
            u32::try_from(n).ok().filter(|n| (1..=telemetry::MAX_LINES).contains(n))
        })
        .ok_or_else(|| ApiError::invalid("lines", "must be between 1 and 10000"))?;
    let addon = database(&state, &ctx, id).await?;
    let since = q.since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Ok(Json(Items::all(
        state.store.database_logs(addon.id, since, lines).await?,
    )))
}

fn database_metric_kind_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
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
    let kind = q.kind.unwrap_or_else(|| "cpu".to_owned());
    if !DATABASE_METRIC_KINDS.contains(&kind.as_str()) {
        return Err(ApiError::invalid("kind", "must be cpu, memory, disk or connections"));
    }
    let addon = database(&state, &ctx, id).await?;
    let since = q.since.unwrap_or_else(|| state.clock.now() - TimeDelta::hours(1));
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

// ---------------------------------------------------------------------------------------
// Database users

/// A database user.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DatabaseUser {
    /// Id.
    pub id: Uuid,
    /// The user's name.
    pub name: String,
    /// Whether it may only read.
    pub read_only: bool,
    /// Who created it (`null` once that account is gone).
    #[schema(required = true)]
    pub created_by: Option<Uuid>,
    /// When.
    pub created_at: DateTime<Utc>,
}

fn user_view(record: &StoredRecord) -> DatabaseUser {
    let d = &record.data.0;
    DatabaseUser {
        id: record.id,
        name: d["name"].as_str().unwrap_or_default().to_owned(),
        read_only: d["read_only"].as_bool().unwrap_or(false),
        created_by: record.created_by,
        created_at: record.created_at,
    }
}

/// A database user just created, with its password: shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NewDatabaseUser {
    /// The user.
    #[serde(flatten)]
    pub user: DatabaseUser,
    /// Its generated password. Shown once: rolegate keeps it sealed, for the platform only.
    pub password: String,
}

/// Body of `POST …/database/users`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDatabaseUser {
    /// 1 to 32 of `a-z`, `0-9` and `_`, starting with a letter.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,31}$", example = "reporting")]
    name: String,
    /// Whether it may only read (default `false`).
    #[serde(default)]
    read_only: bool,
}

fn is_user_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 32
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `{app}`, `{id}` and `{name}` in a path.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DatabaseUserPath {
    /// The app's name or id.
    pub app: String,
    /// The database (an add-on's id).
    pub id: Uuid,
    /// The user's name.
    pub name: String,
}

async fn users_of(state: &AppState, addon: &Addon) -> ApiResult<Vec<StoredRecord>> {
    let prefix = format!("{}/", addon.id);
    Ok(state
        .store
        .list_records(addon.app_id, USER_KIND)
        .await?
        .into_iter()
        .filter(|r| r.unique_key.as_deref().is_some_and(|k| k.starts_with(&prefix)))
        .collect())
}

/// `GET /v1/apps/{app}/addons/{id}/database/users`: the users created through rolegate,
/// oldest first, never their passwords.
#[utoipa::path(get, path = "/v1/apps/{app}/addons/{id}/database/users", params(AppIdPath), responses(
    (status = 200, description = "Every user, oldest first (one page, no `next_cursor`).", body = Items<DatabaseUser>),
))]
pub async fn list_users(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
    _: NoQuery,
) -> ApiResult<Json<Items<DatabaseUser>>> {
    let addon = database(&state, &ctx, id).await?;
    Ok(Json(Items::all(
        users_of(&state, &addon).await?.iter().map(user_view).collect(),
    )))
}

/// `POST /v1/apps/{app}/addons/{id}/database/users`: a user with a generated password, shown
/// in this answer only (sealed at rest; the platform fetches it to create the user). 409 when
/// the name is taken.
#[utoipa::path(post, path = "/v1/apps/{app}/addons/{id}/database/users", params(AppIdPath),
    request_body = CreateDatabaseUser, responses(
        (status = 201, description = "Created; the password is shown this once.", body = NewDatabaseUser),
        (status = 409, description = "The database has a user of this name.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
    Json(body): Json<CreateDatabaseUser>,
) -> ApiResult<(StatusCode, Json<NewDatabaseUser>)> {
    if !is_user_name(&body.name) {
        return Err(ApiError::invalid(
            "name",
            "must be 1 to 32 of a-z, 0-9 and _, starting with a letter",
        ));
    }
    let addon = database(&state, &ctx, id).await?;
    let (password, _) = token::generate("").map_err(ApiError::internal)?;
    let user_id = Uuid::now_v7();
    let sealed = state
        .secrets
        .seal(password.as_bytes(), &secret_context(ctx.app.id, USER_KIND, user_id))
        .map_err(ApiError::internal)?;
    let described = json!({
        "addon_id": id, "provider": addon.provider, "database_user_id": user_id, "name": body.name,
        "read_only": body.read_only,
    });
    let write = RecordWrite {
        id: user_id,
        create: true,
        kind: USER_KIND,
        unique_key: Some(format!("{id}/{}", body.name)),
        data: json!({ "addon_id": id, "name": body.name, "read_only": body.read_only }),
        secret: Some(sealed),
        event: EventKind::DatabaseUserCreated,
        event_data: described.clone(),
        order: Some(NewOrder {
            kind: OrderKind::DatabaseUserCreate,
            data: described,
        }),
    };
    let stored = state
        .store
        .save_record(&ctx.app, write, Some(&ctx.caller.user.to_ref()), state.clock.now())
        .await
        .on_conflict("the database has a user of this name")
        .map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::NotFound(NOT_A_DATABASE),
            other => other,
        })?;
    Ok((
        StatusCode::CREATED,
        Json(NewDatabaseUser {
            user: user_view(&stored),
            password,
        }),
    ))
}

/// `DELETE /v1/apps/{app}/addons/{id}/database/users/{name}`: the platform drops the user.
#[utoipa::path(delete, path = "/v1/apps/{app}/addons/{id}/database/users/{name}", params(DatabaseUserPath),
    responses((status = 204, description = "Removed."))
)]
pub async fn delete_user(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(DatabaseUserPath { id, name, .. }): Path<DatabaseUserPath>,
) -> ApiResult<StatusCode> {
    let addon = database(&state, &ctx, id).await?;
    let key = format!("{id}/{name}");
    let user = users_of(&state, &addon)
        .await?
        .into_iter()
        .find(|r| r.unique_key.as_deref() == Some(key.as_str()))
        .ok_or(ApiError::NotFound("database user not found"))?;
    let described = json!({
        "addon_id": id, "provider": addon.provider, "database_user_id": user.id, "name": name,
        "read_only": user.data.0["read_only"],
    });
    let removal = RecordRemoval {
        kind: USER_KIND,
        id: user.id,
        event: EventKind::DatabaseUserDeleted,
        event_data: described.clone(),
        order: Some(NewOrder {
            kind: OrderKind::DatabaseUserDelete,
            data: described,
        }),
    };
    state
        .store
        .remove_record(&ctx.app, removal, Some(&ctx.caller.user.to_ref()), state.clock.now())
        .await
        .on_not_found("database user not found")?;
    Ok(StatusCode::NO_CONTENT)
}

/// A database user with its password, for the platform.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlatformDatabaseUser {
    /// Id.
    id: Uuid,
    /// The user's name.
    name: String,
    /// Whether it may only read.
    read_only: bool,
    /// Its password.
    password: String,
}

/// `GET /internal/v1/addons/{id}/database/users`: the database's users with their passwords,
/// for the platform to create them (after a `database.user_create` order).
#[utoipa::path(get, path = "/internal/v1/addons/{id}/database/users", params(IdPath), responses(
    (status = 200, description = "Every user, oldest first, with its password.", body = Items<PlatformDatabaseUser>),
    (status = 404, description = "No such database, or the platform API is off.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn platform_users(
    State(state): State<AppState>,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<Json<Items<PlatformDatabaseUser>>> {
    let addon = platform_database(&state, id).await?;
    let mut items = Vec::new();
    for record in users_of(&state, &addon).await? {
        let view = user_view(&record);
        items.push(PlatformDatabaseUser {
            id: view.id,
            name: view.name,
            read_only: view.read_only,
            password: open_secret(&state, &record)?.unwrap_or_default(),
        });
    }
    Ok(Json(Items::all(items)))
}

/// This module's operations with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    addon_dashboard,
    database_dashboard,
    verify_link,
    list_backups,
    create_backup,
    download_backup,
    restore_backup,
    restore_pitr,
    upgrade_minor,
    upgrade_major,
    report_backup,
    read_config,
    patch_config,
    logs,
    metrics,
    report_logs,
    report_metrics,
    list_users,
    create_user,
    delete_user,
    platform_users
))]
pub struct Doc;
