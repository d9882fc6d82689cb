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

/// Every `reason` an answer can give (for the OpenAPI document; [`decide`] returns them).
const REASONS: [&str; 7] = [
    "allowed",
    "tfa_required",
    "role_lacks_permission",
    "token_scope_lacks_permission",
    "access_expired",
    "not_a_member",
    "not_allowed_to_check_others",
];

/// One question.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The app, by name or id. An app that does not exist, or that the caller is not a member
    /// of, answers `not_a_member`.
    app: String,
    /// The permission asked about.
    #[schema(value_type = Permission)]
    permission: String,
    /// Whom the question is about; omitted or `null`: the caller (with the token's scope).
    /// Asking about someone else needs `collaborators.read` on the app.
    user_id: Option<Uuid>,
}

/// Body of `POST /v1/access/check`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// 1 to 100 questions.
    #[schema(min_items = 1, max_items = 100)]
    checks: Vec<Check>,
}

/// One answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Answer {
    /// The app as it was asked about (name or id, unchanged).
    app: String,
    /// The permission asked about.
    permission: Permission,
    /// Whom the answer is about.
    user_id: Uuid,
    /// Whether the user may exercise the permission on the app; `true` exactly when `reason`
    /// is `allowed`.
    allowed: bool,
    /// The user's role on the app, when the caller may know it; else `null`.
    #[schema(required = true)]
    role: Option<Role>,
    /// `allowed`, `tfa_required` (the app requires two-factor authentication of every member
    /// and the user has it off), `role_lacks_permission`, `token_scope_lacks_permission`,
    /// `access_expired`, `not_a_member` or `not_allowed_to_check_others`.
    #[schema(schema_with = reason_schema)]
    reason: &'static str,
}

fn reason_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        REASONS,
        "Why the answer is what it is: `allowed`, `tfa_required`, `role_lacks_permission`, \
             `token_scope_lacks_permission`, `access_expired`, `not_a_member` or `not_allowed_to_check_others`.",
    )
}

/// The answers, in the order of the checks.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Answers {
    /// One answer per check, in the same order.
    results: Vec<Answer>,
}

/// `POST /v1/access/check`: up to 100 checks. Without `user_id` a check is about the
/// caller (token scope included); with one, the caller needs `collaborators.read` there.
#[utoipa::path(post, path = "/v1/access/check", request_body = Checks, responses(
    (status = 200, description = "One answer per check, in order.", body = Answers),
))]
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
    if !caller.scope.allows_app(app.id) {
        // A scoped token learns nothing about the account's apps outside its scope, not even
        // that they exist: the same answer as for a missing app.
        return Ok((None, "not_a_member"));
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
    // The app's 2FA rule refuses the caller: reading its members is refused with the rest.
    let blocked = app.require_tfa && !own.tfa_enabled;
    if user_id != caller.user.id {
        // The token's scope includes this app (checked above); it must also allow reading members.
        if blocked || !caller.scope.effective(own.role).contains(Permission::CollaboratorsRead) {
            return Ok((None, "not_allowed_to_check_others"));
        }
        return Ok(match state.store.membership_of(app.id, user_id).await? {
            None => (None, "not_a_member"),
            Some(m) if m.expired(now) => (Some(m.role), "access_expired"),
            Some(m) if app.require_tfa && !m.tfa_enabled => (Some(m.role), "tfa_required"),
            Some(m) if !m.role.can(permission) => (Some(m.role), "role_lacks_permission"),
            Some(m) => (Some(m.role), "allowed"),
        });
    }
    let reason = if blocked {
        "tfa_required"
    } else if !caller.scope.allows_permission(permission) {
        "token_scope_lacks_permission"
    } else if !own.role.can(permission) {
        "role_lacks_permission"
    } else {
        "allowed"
    };
    Ok((Some(own.role), reason))
}

/// An app the caller can reach.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Reach {
    /// The app.
    app: AppSummary,
    /// The caller's role on it.
    role: Role,
    /// `accepted`, or `expired` when time-bound access has ended.
    #[schema(schema_with = reach_status_schema)]
    status: &'static str,
    /// The role's permissions narrowed by the token's scope (none once expired).
    permissions: PermissionSet,
    /// When time-bound access ends (`null`: it does not).
    #[schema(required = true)]
    access_expires_at: Option<DateTime<Utc>>,
    /// `tfa_required` while the app requires two-factor authentication of every member and the
    /// caller has it off: every route of the app but `GET /v1/apps/{app}`,
    /// `GET /v1/apps/{app}/permissions` and leaving answers 403 until they turn it on. `null`
    /// otherwise.
    #[schema(required = true, schema_with = blocked_by_schema)]
    blocked_by: Option<&'static str>,
}

/// `blocked_by` of [`Reach`] and of `GET /v1/apps/{app}/permissions`.
pub fn blocked_by_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::String,
            utoipa::openapi::schema::Type::Null,
        ]))
        .enum_values(Some([Some("tfa_required"), None]))
        .description(Some(
            "`tfa_required` while the app requires two-factor authentication of every member and the caller \
             has it off; `null` otherwise.",
        ))
        .build()
}

/// What blocks the caller on an app whose membership is theirs, if anything.
pub fn blocked_by(require_tfa: bool, caller: &Caller) -> Option<&'static str> {
    (require_tfa && !caller.user.tfa_enabled).then_some("tfa_required")
}

fn reach_status_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        ["accepted", "expired"],
        "`accepted`, or `expired` when time-bound access has ended.",
    )
}

/// `{id, name}` of an app.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AppSummary {
    /// Id.
    id: Uuid,
    /// Name.
    name: String,
}

/// `GET /v1/users/self/access`: every app the caller can reach, with effective permissions.
#[utoipa::path(get, path = "/v1/users/self/access", responses(
    (status = 200, description = "Every app the caller is a member of (within the token's scope), in one page.",
        body = Items<Reach>),
))]
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
                blocked_by: blocked_by(m.require_tfa, &caller),
            }
        })
        .collect();
    Ok(Json(Items::all(items)))
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(mine, check))]
pub struct Doc;
