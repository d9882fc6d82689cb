//! Add-ons (databases, caches...) and their credentials. None of it is open to limited
//! collaborators.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::IdParam;
use super::Items;
use super::extract::{Json, Path};
use crate::authz::middleware::AppContext;
use crate::domain::Slug;
use crate::error::{ApiError, ApiResult, Fields, ResultExt};
use crate::state::AppState;
use crate::store::Addon;

const NOT_FOUND: &str = "add-on not found";

/// What sealed credentials are bound to: the app and the add-on.
pub fn context(app_id: Uuid, addon_id: Uuid) -> Vec<u8> {
    format!("addon:{app_id}:{addon_id}").into_bytes()
}

/// `GET /v1/apps/{app}/addons`.
pub async fn list(State(state): State<AppState>, ctx: AppContext) -> ApiResult<Json<Items<Addon>>> {
    Ok(Json(Items::all(state.store.list_addons(ctx.app.id).await?)))
}

/// Body of `POST /v1/apps/{app}/addons`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    provider: String,
    plan: String,
}

/// `POST /v1/apps/{app}/addons`: 202, the platform provisions it.
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePlan {
    plan: String,
}

/// `PATCH /v1/apps/{app}/addons/{id}`: 202, the platform changes the plan.
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

/// `DELETE /v1/apps/{app}/addons/{id}`.
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
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Connection URL (it may embed the password).
    pub url: String,
    /// User name.
    pub user: String,
}

/// `GET /v1/apps/{app}/addons/{id}/credentials`: each read is an event.
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
