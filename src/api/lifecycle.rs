//! The app's lifecycle: stop and start, its stack, and the child apps made from it.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::Json;
use super::openapi::AppPath;
use super::requests::{Answer, PlatformRequest};
use crate::authz::Role;
use crate::authz::middleware::AppContext;
use crate::domain::AppName;
use crate::error::{ApiError, ApiResult, Problem, ResultExt};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{App, NewVariable};

/// `POST /v1/apps/{app}/stop`: stops every container; the app keeps its formation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {}

impl PlatformRequest for Stop {
    const ORDER: OrderKind = OrderKind::AppStop;
    const EVENT: EventKind = EventKind::AppStopRequested;
    const OPERATION: &'static str = "stop";
    const DESCRIPTION: &'static str = "`POST /v1/apps/{app}/stop`: stops every container; the app's `status` becomes \
                                       `stopped` at once. A stopped app answers 409.";
    const ANSWER: Answer = Answer::Queued("Queued for the platform; the app is `stopped`.");
    const APP_STATUS: Option<(&'static str, &'static str)> = Some(("running", "stopped"));
}

/// `POST /v1/apps/{app}/start`: starts a stopped app's formation again.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {}

impl PlatformRequest for Start {
    const ORDER: OrderKind = OrderKind::AppStart;
    const EVENT: EventKind = EventKind::AppStartRequested;
    const OPERATION: &'static str = "start";
    const DESCRIPTION: &'static str = "`POST /v1/apps/{app}/start`: starts the stopped app's formation again; its \
                                       `status` becomes `running`. A running app answers 409.";
    const ANSWER: Answer = Answer::Queued("Queued for the platform; the app is `running`.");
    const APP_STATUS: Option<(&'static str, &'static str)> = Some(("stopped", "running"));
}

/// The stacks an app may be built on.
pub const STACKS: [&str; 3] = ["scalingo-20", "scalingo-22", "scalingo-24"];

/// Body of `PUT /v1/apps/{app}/stack`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStack {
    /// `scalingo-20`, `scalingo-22` or `scalingo-24`.
    #[schema(schema_with = stack_schema)]
    stack: String,
}

fn stack_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(STACKS, "`scalingo-20`, `scalingo-22` or `scalingo-24`.")
}

/// `PUT /v1/apps/{app}/stack`: the next deployment builds on the new stack. Setting the stack
/// the app already has changes nothing (no event, no order).
#[utoipa::path(put, path = "/v1/apps/{app}/stack", params(AppPath), request_body = ChangeStack, responses(
    (status = 200, description = "The app as it is now.", body = App),
))]
pub async fn change_stack(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<ChangeStack>,
) -> ApiResult<Json<App>> {
    if !STACKS.contains(&body.stack.as_str()) {
        return Err(ApiError::invalid(
            "stack",
            "must be one of: scalingo-20, scalingo-22, scalingo-24",
        ));
    }
    let changed = state
        .store
        .change_stack(&ctx.app, &body.stack, &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    Ok(Json(changed.unwrap_or(ctx.app)))
}

/// Body of `POST /v1/apps/{app}/children`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChild {
    /// The child's name: 3 to 48 characters of a-z, 0-9 and '-', starting with a letter.
    name: String,
}

/// An app and the caller's role on it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChildView {
    /// The app.
    #[serde(flatten)]
    app: App,
    /// The caller's role on it: the one they have on the parent.
    role: Role,
}

/// `POST /v1/apps/{app}/children`: a new app owned by the parent's owner, with the parent's
/// default branch and stack, its members with their roles, and its variables (sealed anew for
/// the child). The parent names it in `parent`; a parent with children cannot be deleted.
#[utoipa::path(post, path = "/v1/apps/{app}/children", params(AppPath), request_body = CreateChild, responses(
    (status = 201, description = "Created.", body = ChildView),
    (status = 409, description = "The name is taken.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_child(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<CreateChild>,
) -> ApiResult<(StatusCode, Json<ChildView>)> {
    let name = AppName::parse(&body.name).map_err(|m| ApiError::invalid("name", m))?;
    // Variables are sealed to their app: each is opened for the parent and sealed anew for the
    // child, whose id is chosen here for that.
    let stored = state.store.list_variables(ctx.app.id).await?;
    let mut plain = Vec::with_capacity(stored.len());
    for v in stored {
        let value = state
            .secrets
            .open(&v.value_sealed, &super::variables::context(ctx.app.id, &v.name))
            .map_err(ApiError::internal)?;
        plain.push((v.name, value));
    }
    let id = Uuid::now_v7();
    let mut variables = Vec::with_capacity(plain.len());
    for (name, value) in plain {
        let sealed = state
            .secrets
            .seal(&value, &super::variables::context(id, &name))
            .map_err(ApiError::internal)?;
        variables.push(NewVariable { name, sealed });
    }
    let child = state
        .store
        .create_child(
            id,
            &ctx.app,
            &name,
            &variables,
            &ctx.caller.user.to_ref(),
            state.clock.now(),
        )
        .await
        .on_conflict("an app with this name already exists")?;
    Ok((
        StatusCode::CREATED,
        Json(ChildView {
            app: child,
            role: ctx.role(),
        }),
    ))
}

/// A child app, as its parent lists it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Child {
    /// Id.
    id: Uuid,
    /// Name.
    name: String,
    /// When it was created.
    created_at: chrono::DateTime<chrono::Utc>,
}

/// The children of an app.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Children {
    /// By name, in one page.
    items: Vec<Child>,
}

/// `GET /v1/apps/{app}/children`: the apps created from this one.
#[utoipa::path(get, path = "/v1/apps/{app}/children", params(AppPath), responses(
    (status = 200, description = "The child apps, by name.", body = Children),
))]
pub async fn children(State(state): State<AppState>, ctx: AppContext) -> ApiResult<Json<Children>> {
    let items = state
        .store
        .children(ctx.app.id)
        .await?
        .into_iter()
        .map(|a| Child {
            id: a.id,
            name: a.name,
            created_at: a.created_at,
        })
        .collect();
    Ok(Json(Children { items }))
}

/// This module's operations with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(change_stack, create_child, children))]
pub struct Doc;
