//! Environment variables. Values are sealed at rest and shown only to roles holding
//! `variables.read_values`; everyone else with `variables.list_names` sees `null`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Items;
use super::extract::{Json, Path};
use super::openapi::AppPath;
use crate::authz::Permission;
use crate::authz::middleware::AppContext;
use crate::domain::{VariableName, check_variable_value};
use crate::error::{ApiError, ApiResult, Fields, ResultExt};
use crate::secrets::SecretBox;
use crate::state::AppState;
use crate::store::{NewVariable, StoredVariable};

/// Largest request body on the variable routes (a bulk update carries many values).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Most variables in one bulk update.
const MAX_BULK: usize = 1000;

/// A variable as shown: `value` is `null` for roles that may only list names.
#[derive(Serialize, utoipa::ToSchema)]
pub struct VariableView {
    /// Id.
    id: Uuid,
    /// Name, such as `DATABASE_URL`.
    #[schema(example = "DATABASE_URL")]
    name: String,
    /// The value; `null` when the caller may not read values (`variables.read_values`,
    /// by role or by the API token's scope). Always present.
    #[schema(required = true)]
    value: Option<String>,
    /// Last change.
    updated_at: DateTime<Utc>,
}

/// What a sealed variable value is bound to: its app and its name.
pub fn context(app_id: Uuid, name: &str) -> Vec<u8> {
    format!("variable:{app_id}:{name}").into_bytes()
}

fn view(secrets: &SecretBox, show_values: bool, app_id: Uuid, v: StoredVariable) -> ApiResult<VariableView> {
    let value = if show_values {
        Some(
            secrets
                .open_string(&v.value_sealed, &context(app_id, &v.name))
                .map_err(ApiError::internal)?,
        )
    } else {
        None
    };
    Ok(VariableView {
        id: v.id,
        name: v.name,
        value,
        updated_at: v.updated_at,
    })
}

fn views(state: &AppState, ctx: &AppContext, stored: Vec<StoredVariable>) -> ApiResult<Vec<VariableView>> {
    let show = ctx.can(Permission::VariablesReadValues);
    stored
        .into_iter()
        .map(|v| view(&state.secrets, show, ctx.app.id, v))
        .collect()
}

fn seal(state: &AppState, app_id: Uuid, name: VariableName, value: &str) -> ApiResult<NewVariable> {
    let sealed = state
        .secrets
        .seal(value.as_bytes(), &context(app_id, name.as_str()))
        .map_err(ApiError::internal)?;
    Ok(NewVariable {
        name: name.into_inner(),
        sealed,
    })
}

/// `GET /v1/apps/{app}/variables`: every variable, by name; values only for callers who
/// may read them.
#[utoipa::path(get, path = "/v1/apps/{app}/variables", params(AppPath), responses(
    (status = 200, description = "Every variable, by name (one page, no `next_cursor`); `value` is `null` unless the caller may read values.", body = Items<VariableView>),
))]
pub async fn list(State(state): State<AppState>, ctx: AppContext) -> ApiResult<Json<Items<VariableView>>> {
    let stored = state.store.list_variables(ctx.app.id).await?;
    Ok(Json(Items::all(views(&state, &ctx, stored)?)))
}

/// `{name}` of the single-variable routes.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NameParam {
    /// The variable's name (`[A-Za-z_][A-Za-z0-9_]*`, at most 256 characters; on GET and
    /// DELETE any other name is simply not found).
    name: String,
}

/// `GET /v1/apps/{app}/variables/{name}`: one variable with its value.
#[utoipa::path(get, path = "/v1/apps/{app}/variables/{name}", params(AppPath, NameParam), responses(
    (status = 200, description = "The variable, with its value (never `null` here).", body = VariableView),
))]
pub async fn show(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(NameParam { name }): Path<NameParam>,
) -> ApiResult<Json<VariableView>> {
    let variable = state
        .store
        .variable(ctx.app.id, &name)
        .await?
        .ok_or(ApiError::NotFound("variable not found"))?;
    view(&state.secrets, true, ctx.app.id, variable).map(Json)
}

/// Body of `PUT /v1/apps/{app}/variables/{name}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetValue {
    /// The value: any string of at most 65536 bytes in UTF-8 (so at most 65536 characters,
    /// fewer when some take several bytes).
    #[schema(max_length = 65536)]
    value: String,
}

/// `PUT /v1/apps/{app}/variables/{name}`: creates or replaces one variable.
#[utoipa::path(put, path = "/v1/apps/{app}/variables/{name}", params(AppPath, NameParam), request_body = SetValue, responses(
    (status = 200, description = "Created or replaced (200 either way). `value` is `null` when the API token's scope leaves out `variables.read_values`.", body = VariableView),
))]
pub async fn put(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(NameParam { name }): Path<NameParam>,
    Json(body): Json<SetValue>,
) -> ApiResult<Json<VariableView>> {
    let mut fields = Fields::default();
    let name = fields.check("name", VariableName::parse(&name));
    fields.check("value", check_variable_value(&body.value));
    fields.finish()?;
    let name = name.ok_or_else(|| ApiError::internal("validated name missing"))?;
    let new = seal(&state, ctx.app.id, name, &body.value)?;
    let stored = state
        .store
        .set_variables(&ctx.app, &[new], &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    let mut shown = views(&state, &ctx, stored)?;
    shown
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::internal("upsert returned no row"))
}

/// One entry of a bulk update.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkEntry {
    /// The variable's name: `[A-Za-z_][A-Za-z0-9_]*`, at most 256 characters, once per update.
    #[schema(
        pattern = "^[A-Za-z_][A-Za-z0-9_]*$",
        min_length = 1,
        max_length = 256,
        example = "DATABASE_URL"
    )]
    name: String,
    /// The value: any string of at most 65536 bytes in UTF-8 (so at most 65536 characters,
    /// fewer when some take several bytes).
    #[schema(max_length = 65536)]
    value: String,
}

/// Body of `PUT /v1/apps/{app}/variables`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bulk {
    /// 1 to 1000 variables to create or replace, each name at most once.
    #[schema(min_items = 1, max_items = 1000)]
    variables: Vec<BulkEntry>,
}

/// `PUT /v1/apps/{app}/variables`: creates or replaces several variables in one
/// transaction; variables not named are left alone.
#[utoipa::path(put, path = "/v1/apps/{app}/variables", params(AppPath), request_body = Bulk, responses(
    (status = 200, description = "The variables set, in the order sent (no `next_cursor`). `value` is `null` when the API token's scope leaves out `variables.read_values`.", body = Items<VariableView>),
))]
pub async fn put_many(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<Bulk>,
) -> ApiResult<Json<Items<VariableView>>> {
    let mut fields = Fields::default();
    if body.variables.is_empty() || body.variables.len() > MAX_BULK {
        fields.push("variables", "must hold 1 to 1000 variables");
    }
    let mut seen = std::collections::HashSet::new();
    let mut checked = Vec::with_capacity(body.variables.len());
    for (i, entry) in body.variables.iter().enumerate() {
        let name = fields.check(&format!("variables[{i}].name"), VariableName::parse(&entry.name));
        fields.check(&format!("variables[{i}].value"), check_variable_value(&entry.value));
        if !seen.insert(entry.name.as_str()) {
            fields.push(&format!("variables[{i}].name"), "appears twice in this update");
        }
        checked.extend(name.map(|n| (n, entry.value.as_str())));
    }
    fields.finish()?;
    let sealed = checked
        .into_iter()
        .map(|(name, value)| seal(&state, ctx.app.id, name, value))
        .collect::<ApiResult<Vec<_>>>()?;
    let stored = state
        .store
        .set_variables(&ctx.app, &sealed, &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    Ok(Json(Items::all(views(&state, &ctx, stored)?)))
}

/// `DELETE /v1/apps/{app}/variables/{name}`: the variable's values also leave the timeline.
#[utoipa::path(delete, path = "/v1/apps/{app}/variables/{name}", params(AppPath, NameParam), responses(
    (status = 204, description = "Deleted."),
))]
pub async fn delete(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(NameParam { name }): Path<NameParam>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_variable(&ctx.app, &name, &ctx.caller.user.to_ref(), state.clock.now())
        .await
        .on_not_found("variable not found")?;
    Ok(StatusCode::NO_CONTENT)
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, put_many, show, put, delete))]
pub struct Doc;
