//! Backups of a database: listed, taken on demand, downloaded through a single-use link,
//! restored (from a backup or to a point in time), and reported by the platform.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::dashboards::{SingleUseLink, issue_link};
use super::{NOT_A_DATABASE, database, exclusive, platform_database};
use crate::api::IdParam;
use crate::api::Items;
use crate::api::extract::{Json, NoQuery, Path};
use crate::api::openapi::{AppIdPath, IdPath};
use crate::api::requests::QueuedView;
use crate::authz::middleware::AppContext;
use crate::error::{ApiError, ApiResult, Fields, Problem, ResultExt};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{Addon, AppRef, NewOrder, RecordWrite, StoredRecord};

const BACKUP_KIND: &str = "database_backup";

fn backup_status_schema() -> utoipa::openapi::Object {
    crate::api::openapi::string_enum(
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
