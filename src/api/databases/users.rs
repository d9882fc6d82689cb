//! Database users: created with a generated password shown once, dropped by the platform.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::{NOT_A_DATABASE, database, platform_database};
use crate::api::IdParam;
use crate::api::Items;
use crate::api::extract::{Json, NoQuery, Path};
use crate::api::openapi::{AppIdPath, IdPath};
use crate::api::records::{open_secret, secret_context};
use crate::auth::token::{self};
use crate::authz::middleware::AppContext;
use crate::error::{ApiError, ApiResult, Problem, ResultExt};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{Addon, NewOrder, RecordRemoval, RecordWrite, StoredRecord};

const USER_KIND: &str = "database_user";

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
