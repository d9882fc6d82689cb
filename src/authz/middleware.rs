//! The one layer every route passes through: it finds the route's declared access in
//! [`routes::ROUTES`], authenticates, loads the caller's membership of `{app}` in a
//! single store query, checks the role against the matrix, and hands the handler what
//! it resolved. A route missing from the table is refused.

use axum::RequestExt;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};

use super::routes::{self, Access};
use super::{Permission, Role};
use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{App, AppRef, Caller, Membership};

/// What an app route's handler receives: the caller, the app and the caller's role.
#[derive(Clone, Debug)]
pub struct AppContext {
    /// The authenticated user.
    pub caller: Caller,
    /// The app named by `{app}`.
    pub app: App,
    /// The caller's membership of it.
    pub membership: Membership,
}

impl AppContext {
    /// The caller's role on the app.
    pub fn role(&self) -> Role {
        self.membership.role
    }

    /// Whether the caller's role holds `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.membership.role.can(permission)
    }

    /// A 403 unless the caller's role holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(ApiError::MissingPermission {
                permission,
                role: self.role(),
            })
        }
    }
}

/// The same body for "no such app" and "not a member": other tenants' apps stay secret.
pub fn app_not_found() -> ApiError {
    ApiError::NotFound("app not found")
}

/// How often a token's `last_used_at` is written: at most once a minute, not per request.
const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);

/// The middleware (`from_fn_with_state`, installed with `route_layer`).
pub async fn authorize(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    match resolve(&state, &mut request).await {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

async fn resolve(state: &AppState, request: &mut Request) -> Result<(), ApiError> {
    let matched = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    let Some(spec) = matched.and_then(|path| routes::lookup(request.method(), path)) else {
        tracing::error!(method = %request.method(), path = matched, "route has no declared access; refusing it");
        return Err(ApiError::NotFound("not found"));
    };
    let now = state.clock.now();
    match spec.access {
        Access::Public | Access::Basic => Ok(()),
        Access::Platform => platform(state, request),
        Access::User => {
            let credential = auth::bearer_credential(request.headers(), &state.jwt, now)?;
            let caller = state
                .store
                .authenticate(&credential, now)
                .await?
                .ok_or_else(auth::invalid)?;
            touch(state, &caller, now);
            request.extensions_mut().insert(caller);
            Ok(())
        }
        Access::App(permission) | Access::AppOrSelf(permission) => {
            let credential = auth::bearer_credential(request.headers(), &state.jwt, now)?;
            let app_ref = app_param(request).await?;
            let (caller, access) = state
                .store
                .app_access(&credential, &app_ref, now)
                .await?
                .ok_or_else(auth::invalid)?;
            touch(state, &caller, now);
            let access = access.ok_or_else(app_not_found)?;
            let membership = access.membership.ok_or_else(app_not_found)?;
            if matches!(spec.access, Access::App(_)) && !membership.role.can(permission) {
                return Err(ApiError::MissingPermission {
                    permission,
                    role: membership.role,
                });
            }
            request.extensions_mut().insert(caller.clone());
            request.extensions_mut().insert(AppContext {
                caller,
                app: access.app,
                membership,
            });
            Ok(())
        }
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
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
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
    Ok(AppRef::parse(raw))
}

/// Records use of the token in the background, at most once a minute.
fn touch(state: &AppState, caller: &Caller, now: DateTime<Utc>) {
    let stale = caller.token_last_used_at.is_none_or(|last| now - last >= TOUCH_EVERY);
    if stale {
        let store = state.store.clone();
        let token_id = caller.token_id;
        tokio::spawn(async move {
            if let Err(err) = store.touch_token(token_id, now).await {
                tracing::warn!(error = %err, "could not record token use");
            }
        });
    }
}

fn from_extensions<T: Clone + Send + Sync + 'static>(parts: &Parts) -> Result<T, ApiError> {
    // Absent only if a handler asks for more than its route declares: a bug, not a 401.
    parts.extensions.get::<T>().cloned().ok_or_else(|| {
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
