//! Members of an app: list, change role, remove, leave.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::extract::{Json, Path};
use super::{IdParam, Items};
use crate::authz::middleware::AppContext;
use crate::authz::{Permission, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{Collaborator, StoreError};

const NO_SUCH_MEMBER: &str = "collaborator not found";

/// `GET /v1/apps/{app}/collaborators`: every member, owner first.
pub async fn list(State(state): State<AppState>, ctx: AppContext) -> ApiResult<Json<Items<Collaborator>>> {
    Ok(Json(Items::all(state.store.list_collaborators(ctx.app.id).await?)))
}

/// Body of `PATCH /v1/apps/{app}/collaborators/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    role: String,
}

/// Checks that the caller may give `role` (parsed from `raw`).
pub fn grantable(ctx: &AppContext, raw: &str) -> Result<Role, ApiError> {
    let role = Role::parse(raw)
        .ok_or_else(|| ApiError::invalid("role", "must be `collaborator` or `limited_collaborator`"))?;
    if role == Role::Owner {
        return Err(ApiError::invalid(
            "role",
            "`owner` is never granted this way; the owner transfers the app instead",
        ));
    }
    if !ctx.role().can_grant(role) {
        return Err(ApiError::invalid(
            "role",
            format!("you cannot grant a role above your own ({})", ctx.role()),
        ));
    }
    Ok(role)
}

/// `PATCH /v1/apps/{app}/collaborators/{id}`: `collaborator` or `limited_collaborator`.
pub async fn update(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(IdParam { id }): Path<IdParam>,
    Json(body): Json<UpdateRole>,
) -> ApiResult<Json<Collaborator>> {
    let role = grantable(&ctx, &body.role)?;
    if id == ctx.membership.id {
        return Err(ApiError::Forbidden("you cannot change your own role".into()));
    }
    let member = state
        .store
        .set_role(&ctx.app, id, role, &ctx.caller.user.to_ref(), state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound(NO_SUCH_MEMBER),
            other => other.into(),
        })?;
    tracing::info!(app_id = %ctx.app.id, collaborator_id = %id, role = %role, "role changed");
    Ok(Json(member))
}

/// `DELETE /v1/apps/{app}/collaborators/{id}`: removing someone needs
/// `collaborators.remove`; removing oneself (leaving) needs only membership.
pub async fn remove(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<StatusCode> {
    let leaving = id == ctx.membership.id;
    if !leaving {
        ctx.require(Permission::CollaboratorsRemove)?;
    }
    state
        .store
        .remove_collaborator(&ctx.app, id, &ctx.caller.user.to_ref(), leaving, state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound(NO_SUCH_MEMBER),
            other => other.into(),
        })?;
    tracing::info!(app_id = %ctx.app.id, collaborator_id = %id, leaving, "collaborator removed");
    Ok(StatusCode::NO_CONTENT)
}
