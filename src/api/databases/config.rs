//! A database's configuration, set through rolegate and sent whole to the platform.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{NOT_A_DATABASE, database};
use crate::api::extract::{Json, Path};
use crate::api::openapi::AppIdPath;
use crate::authz::middleware::AppContext;
use crate::error::{ApiResult, Fields, ResultExt};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::NewSetting;

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
