//! The roles and what each may do, straight from the matrix.

use serde::Serialize;

use super::Items;
use super::extract::{Json, Path};
use crate::authz::{PermissionSet, Role};
use crate::error::{ApiError, ApiResult};
use crate::store::Caller;

/// A role with its permissions.
#[derive(Serialize)]
pub struct RoleView {
    name: Role,
    permissions: PermissionSet,
}

fn view(role: Role) -> RoleView {
    RoleView {
        name: role,
        permissions: role.permissions(),
    }
}

/// `GET /v1/roles`.
pub async fn list(_caller: Caller) -> Json<Items<RoleView>> {
    Json(Items::all(Role::ALL.into_iter().map(view).collect()))
}

/// `GET /v1/roles/{role}`.
pub async fn show(_caller: Caller, Path(name): Path<String>) -> ApiResult<Json<RoleView>> {
    let role = Role::parse(&name).ok_or(ApiError::NotFound("no such role; see GET /v1/roles"))?;
    Ok(Json(view(role)))
}
