//! Members of an app: list, change role, remove, leave.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::extract::{Json, NoQuery, Path};
use super::openapi::{AppIdPath, AppPath};
use super::{IdParam, Items};
use crate::authz::middleware::AppContext;
use crate::authz::{Permission, Role};
use crate::error::{ApiError, ApiResult, Problem, ResultExt};
use crate::state::AppState;
use crate::store::{Collaborator, MemberChange};

const NO_SUCH_MEMBER: &str = "collaborator not found";

/// A role that can be given by invitation or role change (never `owner`), for the
/// OpenAPI document: the handlers read the role as a string to word their own 422.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum GrantableRole {
    /// Near-owner: deploy, configure, secrets, add-ons, manage collaborators.
    Collaborator,
    /// Read-only configuration, watch and redeploy, logs and metrics, no secrets.
    LimitedCollaborator,
}

/// `GET /v1/apps/{app}/collaborators`: every member, owner first.
#[utoipa::path(get, path = "/v1/apps/{app}/collaborators", params(AppPath), responses(
    (status = 200, description = "Every member, owner first (one page, no `next_cursor`).", body = Items<Collaborator>),
))]
pub async fn list(State(state): State<AppState>, ctx: AppContext, _: NoQuery) -> ApiResult<Json<Items<Collaborator>>> {
    let now = state.clock.now();
    let members = state
        .store
        .list_collaborators(ctx.app.id)
        .await?
        .into_iter()
        .map(|m| m.at(now))
        .collect();
    Ok(Json(Items::all(members)))
}

/// Body of `PATCH /v1/apps/{app}/collaborators/{id}`: `role`, `access_expires_at` or both.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateMember {
    /// The new role; never above the caller's own, never `owner`. Absent or `null` leaves it.
    #[schema(value_type = Option<GrantableRole>)]
    role: Option<String>,
    /// The new end of access, in the future; `null` removes the end of access (permanent
    /// membership); absent leaves it.
    #[serde(default, deserialize_with = "crate::domain::timestamp::double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    access_expires_at: Option<Option<DateTime<Utc>>>,
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

/// `PATCH /v1/apps/{app}/collaborators/{id}`: a new role (`collaborator` or
/// `limited_collaborator`) and/or a new end of access (`null` to make it permanent).
#[utoipa::path(patch, path = "/v1/apps/{app}/collaborators/{id}", params(AppIdPath), request_body = UpdateMember, responses(
    (status = 200, description = "The membership as it is now.", body = Collaborator),
    (status = 403, description = "The caller's role lacks the permission (`missing-permission`), the API token's scope does (`token-scope`), or `{id}` is the caller's own membership (`forbidden`).", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`{id}` is the owner's membership, which only a transfer changes.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn update(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(IdParam { id }): Path<IdParam>,
    Json(body): Json<UpdateMember>,
) -> ApiResult<Json<Collaborator>> {
    if body.role.is_none() && body.access_expires_at.is_none() {
        return Err(ApiError::invalid("role", "send `role`, `access_expires_at` or both"));
    }
    let role = body.role.as_deref().map(|r| grantable(&ctx, r)).transpose()?;
    let now = state.clock.now();
    if let Some(Some(at)) = body.access_expires_at {
        future("access_expires_at", at, now)?;
    }
    if id == ctx.membership.id {
        return Err(ApiError::Forbidden("you cannot change your own membership".into()));
    }
    let change = MemberChange {
        role,
        access_expires_at: body.access_expires_at,
    };
    let member = state
        .store
        .update_collaborator(&ctx.app, id, change, &ctx.caller.user.to_ref(), now)
        .await
        .on_not_found(NO_SUCH_MEMBER)?;
    tracing::info!(app_id = %ctx.app.id, collaborator_id = %id, "membership changed");
    Ok(Json(member.at(now)))
}

/// A 422 unless `at` is in the future.
pub fn future(field: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ApiError> {
    if at > now {
        Ok(())
    } else {
        Err(ApiError::invalid(field, "must be in the future"))
    }
}

/// `DELETE /v1/apps/{app}/collaborators/{id}`: removing someone needs
/// `collaborators.remove`; removing oneself (leaving) needs only membership.
#[utoipa::path(delete, path = "/v1/apps/{app}/collaborators/{id}", params(AppIdPath), responses(
    (status = 204, description = "Removed (or left)."),
    (status = 409, description = "`{id}` is the owner's membership: the owner cannot leave or be removed; transfer the app first.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn remove(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<StatusCode> {
    let leaving = id == ctx.membership.id;
    if !leaving {
        ctx.require_tfa()?;
        ctx.require(Permission::CollaboratorsRemove)?;
    }
    state
        .store
        .remove_collaborator(&ctx.app, id, &ctx.caller.user.to_ref(), leaving, state.clock.now())
        .await
        .on_not_found(NO_SUCH_MEMBER)?;
    tracing::info!(app_id = %ctx.app.id, collaborator_id = %id, leaving, "collaborator removed");
    Ok(StatusCode::NO_CONTENT)
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, update, remove))]
pub struct Doc;
