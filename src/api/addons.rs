//! Add-ons (databases, caches...) and their credentials. None of it is open to limited
//! collaborators.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::IdParam;
use super::Items;
use super::extract::{Json, NoQuery, Path};
use super::openapi::{AppIdPath, AppPath};
use crate::authz::middleware::AppContext;
use crate::domain::Slug;
use crate::error::{ApiError, ApiResult, Fields, Problem, ResultExt};
use crate::state::AppState;
use crate::store::Addon;

const NOT_FOUND: &str = "add-on not found";

/// What sealed credentials are bound to: the app and the add-on.
pub fn context(app_id: Uuid, addon_id: Uuid) -> Vec<u8> {
    format!("addon:{app_id}:{addon_id}").into_bytes()
}

/// `GET /v1/apps/{app}/addons`.
#[utoipa::path(get, path = "/v1/apps/{app}/addons", params(AppPath), responses(
    (status = 200, description = "Every add-on of the app, oldest first (one page, no `next_cursor`).", body = Items<Addon>),
))]
pub async fn list(State(state): State<AppState>, ctx: AppContext, _: NoQuery) -> ApiResult<Json<Items<Addon>>> {
    Ok(Json(Items::all(state.store.list_addons(ctx.app.id).await?)))
}

/// Body of `POST /v1/apps/{app}/addons`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    /// The provider, such as `postgresql`: 1 to 64 characters of `a-z`, `0-9` and `-`,
    /// starting with a letter or digit.
    #[schema(
        pattern = "^[a-z0-9][a-z0-9-]*$",
        min_length = 1,
        max_length = 64,
        example = "postgresql"
    )]
    provider: String,
    /// The provider's plan, same rules as `provider`.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]*$", min_length = 1, max_length = 64, example = "small")]
    plan: String,
}

/// `POST /v1/apps/{app}/addons`: 202, the platform provisions it.
#[utoipa::path(post, path = "/v1/apps/{app}/addons", params(AppPath), request_body = Provision, responses(
    (status = 202, description = "Accepted: the add-on exists with status `provisioning` until the platform reports it ready.", body = Addon),
))]
pub async fn create(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<Provision>,
) -> ApiResult<(StatusCode, Json<Addon>)> {
    let mut fields = Fields::default();
    let provider = fields.check("provider", Slug::parse(&body.provider));
    let plan = fields.check("plan", Slug::parse(&body.plan));
    fields.finish()?;
    let (Some(provider), Some(plan)) = (provider, plan) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let addon = state
        .store
        .create_addon(
            &ctx.app,
            provider.as_str(),
            plan.as_str(),
            &ctx.caller.user.to_ref(),
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(addon)))
}

/// Body of `PATCH /v1/apps/{app}/addons/{id}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePlan {
    /// The new plan: 1 to 64 characters of `a-z`, `0-9` and `-`, starting with a letter or digit.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]*$", min_length = 1, max_length = 64, example = "large")]
    plan: String,
}

/// `PATCH /v1/apps/{app}/addons/{id}`: 202, the platform changes the plan.
#[utoipa::path(patch, path = "/v1/apps/{app}/addons/{id}", params(AppIdPath), request_body = ChangePlan, responses(
    (status = 202, description = "Accepted: the add-on has the new plan and status `updating` until the platform is done.", body = Addon),
))]
pub async fn update(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(IdParam { id }): Path<IdParam>,
    Json(body): Json<ChangePlan>,
) -> ApiResult<(StatusCode, Json<Addon>)> {
    let plan = Slug::parse(&body.plan).map_err(|m| ApiError::invalid("plan", m))?;
    let addon = state
        .store
        .change_addon_plan(
            &ctx.app,
            id,
            plan.as_str(),
            &ctx.caller.user.to_ref(),
            state.clock.now(),
        )
        .await
        .on_not_found(NOT_FOUND)?;
    Ok((StatusCode::ACCEPTED, Json(addon)))
}

/// `DELETE /v1/apps/{app}/addons/{id}`: the platform is asked to deprovision it.
#[utoipa::path(delete, path = "/v1/apps/{app}/addons/{id}", params(AppIdPath), responses(
    (status = 204, description = "Removed."),
))]
pub async fn delete(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_addon(&ctx.app, id, &ctx.caller.user.to_ref(), state.clock.now())
        .await
        .on_not_found(NOT_FOUND)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Connection details of a provisioned add-on.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Connection URL (it may embed the password).
    pub url: String,
    /// User name.
    pub user: String,
}

/// `GET /v1/apps/{app}/addons/{id}/credentials`: each read is an event.
#[utoipa::path(get, path = "/v1/apps/{app}/addons/{id}/credentials", params(AppIdPath), responses(
    (status = 200, description = "The add-on's connection details.", body = Credentials),
    (status = 409, description = "The add-on is still being provisioned: its credentials are not ready.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn credentials(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<Json<Credentials>> {
    let sealed = state
        .store
        .read_addon_credentials(&ctx.app, id, &ctx.caller.user.to_ref(), state.clock.now())
        .await
        .on_not_found(NOT_FOUND)?
        .ok_or_else(|| {
            ApiError::Conflict("the add-on is still being provisioned; its credentials are not ready".into())
        })?;
    let plain = state
        .secrets
        .open(&sealed, &context(ctx.app.id, id))
        .map_err(ApiError::internal)?;
    serde_json::from_slice(&plain).map(Json).map_err(ApiError::internal)
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, update, delete, credentials))]
pub struct Doc;
