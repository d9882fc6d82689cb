//! The roles and what each may do, straight from the matrix.

use serde::Serialize;

use super::Items;
use super::extract::{Json, NoQuery, Path};
use crate::authz::{PermissionSet, Role};
use crate::error::{ApiError, ApiResult, Problem};
use crate::store::Caller;

/// A role with its permissions.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleView {
    /// The role.
    name: Role,
    /// Every permission the role holds.
    permissions: PermissionSet,
}

fn view(role: Role) -> RoleView {
    RoleView {
        name: role,
        permissions: role.permissions(),
    }
}

/// `GET /v1/roles`.
#[utoipa::path(get, path = "/v1/roles", responses(
    (status = 200, description = "Every role, most powerful first.", body = Items<RoleView>),
    (status = 503, description = "The store, which checks the credentials, is unreachable or saturated; retry \
                                  after the given delay.", body = Problem, content_type = "application/problem+json",
        headers(("Retry-After" = String, description = "Seconds to wait."))),
))]
pub async fn list(_caller: Caller, _: NoQuery) -> Json<Items<RoleView>> {
    Json(Items::all(Role::ALL.into_iter().map(view).collect()))
}

/// `GET /v1/roles/{role}`.
#[utoipa::path(get, path = "/v1/roles/{role}",
    params(("role" = String, Path, description = "The role's wire name: `owner`, `collaborator` or `limited_collaborator`.")),
    responses(
        (status = 200, description = "The role and its permissions.", body = RoleView),
        (status = 503, description = "The store, which checks the credentials, is unreachable or saturated; retry \
                                      after the given delay.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait."))),
    ),
)]
pub async fn show(_caller: Caller, Path(name): Path<String>) -> ApiResult<Json<RoleView>> {
    let role = Role::parse(&name).ok_or(ApiError::NotFound("no such role; see GET /v1/roles"))?;
    Ok(Json(view(role)))
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, show))]
pub struct Doc;
