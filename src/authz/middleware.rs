//! The one layer every route passes through: it finds the route's declared access in
//! [`routes::ROUTES`], authenticates, loads the caller's membership of `{app}` in a
//! single store query, checks time-bound access, the token's scope and the role against
//! the matrix, and hands the handler what it resolved. A route missing from the table is
//! refused.

use axum::RequestExt;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::decision::{Facts, Reason, Rule, decide};
use super::routes::{self, Access, RouteSpec};
use super::{Permission, PermissionSet, Role};
use crate::auth;
use crate::error::ApiError;
use crate::metrics::Outcome;
use crate::state::AppState;
use crate::store::{App, AppRef, Caller, Membership, NewEvent};

/// What an app route's handler receives: the caller, the app and the caller's role.
#[derive(Clone, Debug)]
pub struct AppContext {
    /// The authenticated user.
    pub caller: Caller,
    /// The app named by `{app}`.
    pub app: App,
    /// The caller's membership of it.
    pub membership: Membership,
    /// Whether the app requires two-factor authentication of every member and the caller has
    /// it off: then only the routes [`routes::open_without_tfa`] lists are let through.
    pub blocked_by_tfa: bool,
}

impl AppContext {
    /// The caller's role on the app.
    pub fn role(&self) -> Role {
        self.membership.role
    }

    /// What the caller may do here: the role's permissions, narrowed by the token's scope.
    pub fn permissions(&self) -> PermissionSet {
        self.caller.scope.effective(self.membership.role)
    }

    /// Whether the caller may exercise `permission` here.
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions().contains(permission)
    }

    /// A 403 `tfa-required-by-app` while the app's 2FA rule refuses the caller (for handlers of
    /// routes the middleware lets through, which decide once they know the target).
    pub fn require_tfa(&self) -> Result<(), ApiError> {
        if self.blocked_by_tfa {
            Err(ApiError::TfaRequiredByApp)
        } else {
            Ok(())
        }
    }

    /// A 403 unless the caller may exercise `permission` here.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if !self.caller.scope.allows_permission(permission) {
            Err(ApiError::OutOfScope { permission })
        } else if !self.membership.role.can(permission) {
            Err(ApiError::MissingPermission {
                permission,
                role: self.role(),
            })
        } else {
            Ok(())
        }
    }
}

/// The same body for "no such app" and "not a member": other tenants' apps stay secret.
pub fn app_not_found() -> ApiError {
    ApiError::NotFound("app not found")
}

/// The middleware (`from_fn_with_state`, installed with `route_layer`).
pub async fn authorize(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    match resolve(&state, &mut request).await {
        Ok(used) => {
            let response = next.run(request).await;
            // Use counts when the handler did what was asked, not when it refused.
            if let Some(used) = used.filter(|_| response.status().is_success()) {
                touch_membership(&state, used);
            }
            response
        }
        Err(err) => err.into_response(),
    }
}

/// What a request on an app exercised, recorded once the handler succeeded.
struct Used {
    membership: Membership,
    permission: Option<Permission>,
    permission_last_used_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
}

async fn resolve(state: &AppState, request: &mut Request) -> Result<Option<Used>, ApiError> {
    let matched = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    let Some(spec) = matched.and_then(|path| routes::lookup(request.method(), path)) else {
        tracing::error!(method = %request.method(), path = matched, "route has no declared access; refusing it");
        return Err(ApiError::NotFound("not found"));
    };
    let now = state.clock.now();
    match spec.access {
        Access::Public | Access::Basic => Ok(None),
        Access::Platform => platform(state, request).map(|()| None),
        Access::User | Access::AnyToken => {
            let presented = auth::bearer_credential(request.headers(), &state.jwt, now)?;
            let mut caller = state
                .store
                .authenticate(&presented.credential, now)
                .await?
                .ok_or_else(auth::invalid)?;
            narrow(&mut caller, presented.claimed_scope);
            touch(state, &caller, now);
            if spec.access == Access::User && caller.scope.is_scoped() {
                return Err(ApiError::Forbidden(
                    "this API token is scoped to some apps or permissions; this route needs an unscoped token".into(),
                ));
            }
            request.extensions_mut().insert(caller);
            Ok(None)
        }
        Access::App(permission) | Access::AppOrSelf(permission) => {
            let presented = auth::bearer_credential(request.headers(), &state.jwt, now)?;
            let app_ref = app_param(request).await?;
            let found = state
                .store
                .app_access(&presented.credential, &app_ref, permission, now)
                .await?;
            let (mut caller, access) = found.ok_or_else(auth::invalid)?;
            narrow(&mut caller, presented.claimed_scope);
            touch(state, &caller, now);
            let decided = |outcome| state.metrics.decision(permission, outcome);
            let Some((access, membership)) = access.and_then(|a| a.membership.map(|m| (a, m))) else {
                decided(Outcome::NotMember);
                return Err(app_not_found());
            };
            let blocked_by_tfa = access.app.require_tfa && !caller.user.tfa_enabled;
            let facts = Facts {
                role: Some(membership.role),
                expired: membership.expired(now),
                scope_allows_app: caller.scope.allows_app(access.app.id),
                scope_allows_permission: caller.scope.allows_permission(permission),
                blocked_by_tfa,
            };
            let rule = Rule {
                permission,
                // Leaving needs no permission; the handler checks the rest.
                role_must_hold: matches!(spec.access, Access::App(_)),
                open_without_tfa: routes::open_without_tfa(spec),
            };
            let ctx = AppContext {
                caller,
                app: access.app,
                membership,
                blocked_by_tfa,
            };
            let reason = decide(&facts, rule);
            if reason != Reason::Allowed {
                decided(outcome(reason));
                match reason {
                    Reason::Expired => expire(state, ctx.membership.id, now),
                    // An ended membership is removed rather than recorded; every other
                    // refusal of a member goes on the app's timeline.
                    _ => deny(state, &ctx, spec, permission, reason.as_str(), now),
                }
                return Err(refusal(reason, permission, ctx.membership.role));
            }
            decided(Outcome::Allowed);
            let used = Used {
                membership: ctx.membership,
                permission: ctx.membership.role.can(permission).then_some(permission),
                permission_last_used_at: access.permission_last_used_at,
                now,
            };
            // App handlers take the caller from the context: one copy, moved, not cloned.
            request.extensions_mut().insert(ctx);
            Ok(Some(used))
        }
    }
}

/// The metrics label of a decision.
fn outcome(reason: Reason) -> Outcome {
    match reason {
        Reason::Allowed => Outcome::Allowed,
        Reason::NotAMember => Outcome::NotMember,
        Reason::ScopeExcludesApp | Reason::ScopeLacksPermission => Outcome::OutOfScope,
        Reason::Expired => Outcome::Expired,
        Reason::TfaRequired => Outcome::TfaRequired,
        Reason::RoleLacksPermission => Outcome::MissingPermission,
    }
}

/// The answer to a refusal. A stranger and a token scoped elsewhere get the same 404: other
/// tenants' apps, and the account's apps outside the token, stay secret.
pub fn refusal(reason: Reason, permission: Permission, role: Role) -> ApiError {
    match reason {
        Reason::Allowed => ApiError::internal("an allowed request was refused"),
        Reason::NotAMember | Reason::ScopeExcludesApp => app_not_found(),
        Reason::Expired => ApiError::Forbidden("your access to this app has expired".into()),
        Reason::TfaRequired => ApiError::TfaRequiredByApp,
        Reason::ScopeLacksPermission => ApiError::OutOfScope { permission },
        Reason::RoleLacksPermission => ApiError::MissingPermission { permission, role },
    }
}

/// A JWT's scope narrows its token's: scope only ever narrows.
fn narrow(caller: &mut Caller, claimed: Option<crate::store::TokenScope>) {
    if let Some(claimed) = claimed {
        caller.scope = caller.scope.narrow(&claimed);
    }
}

/// The platform's routes: unset token, no such API (404); anything but the token, 401.
fn platform(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let Some(expected) = state.config.platform.token.as_deref() else {
        return Err(ApiError::NotFound("no such route"));
    };
    let presented = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    if bool::from(subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized("the platform API needs the platform token"))
    }
}

async fn app_param(request: &mut Request) -> Result<AppRef, ApiError> {
    let params = request
        .extract_parts::<RawPathParams>()
        .await
        .map_err(|_| app_not_found())?;
    let raw = params
        .iter()
        .find(|(name, _)| *name == "app")
        .map(|(_, value)| value)
        .ok_or_else(app_not_found)?;
    // No app has a NUL in its name, and Postgres could not even look one up.
    if raw.contains('\0') {
        return Err(app_not_found());
    }
    Ok(AppRef::parse(raw))
}

/// Records use of the token in the background, at most once a minute.
fn touch(state: &AppState, caller: &Caller, now: DateTime<Utc>) {
    if state
        .throttles
        .tokens
        .due(caller.token_id, caller.token_last_used_at, now)
    {
        let store = state.store.clone();
        let token_id = caller.token_id;
        tokio::spawn(async move {
            if let Err(err) = store.touch_token(token_id, now).await {
                tracing::warn!(error = %err, "could not record token use");
            }
        });
    }
}

/// Records use of the membership and of the permission, at most once a minute each.
fn touch_membership(state: &AppState, used: Used) {
    let Used {
        membership,
        permission,
        permission_last_used_at,
        now,
    } = used;
    let throttles = &state.throttles;
    let permission = permission.filter(|&p| {
        throttles
            .permissions
            .due((membership.id, p), permission_last_used_at, now)
    });
    let membership_due = throttles.memberships.due(membership.id, membership.last_used_at, now);
    if permission.is_some() || membership_due {
        let store = state.store.clone();
        let id = membership.id;
        tokio::spawn(async move {
            if let Err(err) = store
                .touch_membership(id, permission.map(Permission::as_str), now)
                .await
            {
                tracing::warn!(error = %err, "could not record membership use");
            }
        });
    }
}

/// Removes a membership past its end now rather than at the next sweep.
fn expire(state: &AppState, membership_id: Uuid, now: DateTime<Utc>) {
    if !state.throttles.expiries.admit(membership_id, now) {
        return;
    }
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(err) = store.expire_membership(membership_id, now).await {
            tracing::warn!(error = %err, "could not expire a membership");
        }
    });
}

/// Records a refused attempt on the app's timeline (rate-limited per member).
fn deny(
    state: &AppState,
    ctx: &AppContext,
    spec: &RouteSpec,
    permission: Permission,
    reason: &'static str,
    now: DateTime<Utc>,
) {
    if !state.throttles.denials.admit(ctx.membership.id, now) {
        return;
    }
    let store = state.store.clone();
    let (app_id, app_name, actor) = (ctx.app.id, ctx.app.name.clone(), ctx.caller.user.to_ref());
    let data = serde_json::json!({
        "permission": permission, "role": ctx.membership.role, "reason": reason,
        "method": spec.verb.as_str(), "route": spec.path,
    });
    tokio::spawn(async move {
        let event = NewEvent {
            app_id,
            app_name: &app_name,
            actor: Some(&actor),
            kind: crate::kinds::EventKind::AccessDenied,
            data,
            secret: None,
            now,
        };
        if let Err(err) = store.record_event(event).await {
            tracing::warn!(error = %err, "could not record a denied attempt");
        }
    });
}

fn from_extensions<T: Send + Sync + 'static>(parts: &mut Parts) -> Result<T, ApiError> {
    // Taken, not cloned: a handler asks once. Absent only if a handler asks for more than
    // its route declares: a bug, not a 401.
    parts.extensions.remove::<T>().ok_or_else(|| {
        ApiError::internal(format!(
            "{} requested on a route that does not resolve it",
            std::any::type_name::<T>()
        ))
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        from_extensions(parts)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AppContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        from_extensions(parts)
    }
}
