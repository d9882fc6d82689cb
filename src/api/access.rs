//! Asking rolegate: may this user do this on that app? And: what can I reach?

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Items;
use super::extract::Json;
use crate::authz::{Permission, PermissionSet, Role};
use crate::error::{ApiError, ApiResult, Fields};
use crate::state::AppState;
use crate::store::{AppRef, Caller};

/// Most checks in one call.
const MAX_CHECKS: usize = 100;

/// One question.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    app: String,
    permission: String,
    user_id: Option<Uuid>,
}

/// Body of `POST /v1/access/check`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    checks: Vec<Check>,
}

/// One answer.
#[derive(Serialize)]
pub struct Answer {
    app: String,
    permission: Permission,
    user_id: Uuid,
    allowed: bool,
    role: Option<Role>,
    /// `allowed`, `role_lacks_permission`, `token_scope_lacks_permission`,
    /// `token_scope_excludes_app`, `access_expired`, `not_a_member` or
    /// `not_allowed_to_check_others`.
    reason: &'static str,
}

/// The answers, in the order of the checks.
#[derive(Serialize)]
pub struct Answers {
    results: Vec<Answer>,
}

/// `POST /v1/access/check`: up to 100 checks. Without `user_id` a check is about the
/// caller (token scope included); with one, the caller needs `collaborators.read` there.
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Checks>,
) -> ApiResult<Json<Answers>> {
    let mut fields = Fields::default();
    if body.checks.is_empty() || body.checks.len() > MAX_CHECKS {
        fields.push("checks", "must hold 1 to 100 checks");
    }
    let permissions: Vec<Option<Permission>> = body
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = Permission::parse(&c.permission);
            if p.is_none() {
                fields.push(
                    &format!("checks[{i}].permission"),
                    "is not a permission; see GET /v1/roles",
                );
            }
            p
        })
        .collect();
    fields.finish()?;
    let mut results = Vec::with_capacity(body.checks.len());
    for (c, permission) in body.checks.iter().zip(permissions) {
        let permission = permission.ok_or_else(|| ApiError::internal("validated permission missing"))?;
        let user_id = c.user_id.unwrap_or(caller.user.id);
        let (role, reason) = decide(&state, &caller, &c.app, permission, user_id).await?;
        results.push(Answer {
            app: c.app.clone(),
            permission,
            user_id,
            allowed: reason == "allowed",
            role,
            reason,
        });
    }
    Ok(Json(Answers { results }))
}

/// The same decision the middleware makes, as a role and a reason.
async fn decide(
    state: &AppState,
    caller: &Caller,
    app: &str,
    permission: Permission,
    user_id: Uuid,
) -> ApiResult<(Option<Role>, &'static str)> {
    let now = state.clock.now();
    let Some(app) = state.store.app_by_ref(&AppRef::parse(app)).await? else {
        return Ok((None, "not_a_member"));
    };
    let own = state.store.membership_of(app.id, caller.user.id).await?;
    // Membership first: for anyone but a member an existing app must look like a missing one.
    if own.is_some() && !caller.scope.allows_app(app.id) {
        // A scoped token learns nothing about the member's apps outside its scope.
        return Ok((None, "token_scope_excludes_app"));
    }
    let Some(own) = own.filter(|m| !m.expired(now)) else {
        // Whether someone else is a member is nobody's business but the app's members'.
        return Ok((
            None,
            if user_id == caller.user.id && own.is_some() {
                "access_expired"
            } else {
                "not_a_member"
            },
        ));
    };
    if user_id != caller.user.id {
        // The token's scope includes this app (checked above); it must also allow reading members.
        if !caller.scope.effective(own.role).contains(Permission::CollaboratorsRead) {
            return Ok((None, "not_allowed_to_check_others"));
        }
        return Ok(match state.store.membership_of(app.id, user_id).await? {
            None => (None, "not_a_member"),
            Some(m) if m.expired(now) => (Some(m.role), "access_expired"),
            Some(m) if !m.role.can(permission) => (Some(m.role), "role_lacks_permission"),
            Some(m) => (Some(m.role), "allowed"),
        });
    }
    let reason = if !caller.scope.allows_permission(permission) {
        "token_scope_lacks_permission"
    } else if !own.role.can(permission) {
        "role_lacks_permission"
    } else {
        "allowed"
    };
    Ok((Some(own.role), reason))
}

/// An app the caller can reach.
#[derive(Serialize)]
pub struct Reach {
    app: AppSummary,
    role: Role,
    /// `accepted`, or `expired` when time-bound access has ended.
    status: &'static str,
    /// The role's permissions narrowed by the token's scope (none once expired).
    permissions: PermissionSet,
    access_expires_at: Option<DateTime<Utc>>,
}

/// `{id, name}` of an app.
#[derive(Serialize)]
pub struct AppSummary {
    id: Uuid,
    name: String,
}

/// `GET /v1/users/self/access`: every app the caller can reach, with effective permissions.
pub async fn mine(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Items<Reach>>> {
    let now = state.clock.now();
    let items = state
        .store
        .memberships_of(caller.user.id)
        .await?
        .into_iter()
        .filter(|m| caller.scope.allows_app(m.app_id))
        .map(|m| {
            let expired = m.access_expires_at.is_some_and(|at| at <= now);
            Reach {
                app: AppSummary {
                    id: m.app_id,
                    name: m.app_name,
                },
                role: m.role,
                status: if expired { "expired" } else { "accepted" },
                permissions: if expired {
                    PermissionSet::default()
                } else {
                    caller.scope.effective(m.role)
                },
                access_expires_at: m.access_expires_at,
            }
        })
        .collect();
    Ok(Json(Items::all(items)))
}
