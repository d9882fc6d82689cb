//! Platform requests declared as data.
//!
//! An operation that only asks the platform to act (restart, reset the build cache, ...) is a
//! type implementing [`PlatformRequest`] plus one line in the route table
//! ([`crate::authz::routes::ROUTES`]): `request::<Restart>(Post, "/v1/apps/{app}/restart",
//! AppRestart, "Restart the app.")`. That line is the route's permission, its handler (the
//! generic [`queue`]), and its OpenAPI operation; the store writes the request's record, its
//! order and its event in one transaction (`RequestStore::record_request`), and the platform
//! reports progress for any of them through `POST /internal/v1/requests/{order_id}/status`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, on};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use uuid::Uuid;

use super::extract::{Json, Path};
use super::openapi::{AppPath, IdPath};
use super::{Declared, IdParam, method_filter, schemas_of};
use crate::authz::middleware::AppContext;
use crate::authz::routes::Verb;
use crate::error::{ApiError, ApiResult, Fields, Problem, ResultExt};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{App, Container, NewRequest, PlatformRequest as PlatformRequestRecord, RequestStatus};

/// What a successful request answers.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// `202` with a [`QueuedView`]; the text describes it in the OpenAPI document.
    Queued(&'static str),
    /// `204` with no body; the text describes it in the OpenAPI document.
    NoContent(&'static str),
}

/// An operation the platform carries out for a member. Implementors are plain types: their
/// fields are the body (none for a bodyless request), their methods its checks and data.
pub trait PlatformRequest: DeserializeOwned + Send + 'static {
    /// The order queued for the platform; its kind is also the request's `type`.
    const ORDER: OrderKind;
    /// The event written on the app's timeline.
    const EVENT: EventKind;
    /// The handler's name in the OpenAPI document (`<tag>.<OPERATION>`).
    const OPERATION: &'static str;
    /// What the route does, for the OpenAPI document.
    const DESCRIPTION: &'static str;
    /// What it answers.
    const ANSWER: Answer;
    /// Whether it takes a JSON body (then [`PlatformRequest::body`] describes it).
    const TAKES_BODY: bool = false;

    /// The body's OpenAPI description, for a request that takes one.
    fn body() -> Option<RequestBody> {
        None
    }

    /// Checks the request against the app; a 422 names each bad field.
    fn check(&self, _app: &App) -> Result<(), ApiError> {
        Ok(())
    }

    /// The order's data (the event's too, with `order_id`).
    fn data(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    /// The record the request acts on, if any.
    fn target(&self) -> Option<Uuid> {
        None
    }

    /// The change of the app's `status` the request makes (`from`, `to`), if any: made with
    /// the request, and a 409 when the app is not `from`.
    const APP_STATUS: Option<(&'static str, &'static str)> = None;
}

/// The declaration of the request `R`, for its line in the route table.
pub const fn declare<R: PlatformRequest>() -> Declared {
    Declared {
        mount: mount::<R>,
        operation: operation::<R>,
        schemas: schemas_of::<QueuedView>,
    }
}

/// What an operation request returns.
#[derive(Serialize, utoipa::ToSchema)]
pub struct QueuedView {
    /// The order queued for the platform (it appears in the app's events and in the platform's orders).
    pub order_id: Uuid,
    /// Always `queued`: the platform has yet to act on the order.
    #[schema(schema_with = queued_status)]
    pub status: &'static str,
    /// Only on `scale`: the app's whole formation after the change, sorted by type.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub formation: Option<Vec<Container>>,
}

/// `QueuedView::status`: the one value it takes.
fn queued_status() -> utoipa::openapi::Object {
    super::openapi::string_enum(["queued"], "Always `queued`: the platform has yet to act on the order.")
}

fn mount<R: PlatformRequest>(verb: Verb) -> MethodRouter<AppState> {
    if R::TAKES_BODY {
        on(method_filter(verb), with_body::<R>)
    } else {
        on(method_filter(verb), bodyless::<R>)
    }
}

async fn with_body<R: PlatformRequest>(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(request): Json<R>,
) -> ApiResult<Response> {
    queue(&state, &ctx, request).await
}

async fn bodyless<R: PlatformRequest>(State(state): State<AppState>, ctx: AppContext) -> ApiResult<Response> {
    // A bodyless request is its type's empty object; any body sent is ignored.
    let request: R = serde_json::from_value(serde_json::json!({})).map_err(ApiError::internal)?;
    queue(&state, &ctx, request).await
}

/// The one handler of every declared request: check it, record it with its order and event
/// in one transaction, answer as declared.
pub async fn queue<R: PlatformRequest>(state: &AppState, ctx: &AppContext, request: R) -> ApiResult<Response> {
    request.check(&ctx.app)?;
    let new = NewRequest {
        order: R::ORDER,
        event: R::EVENT,
        target: request.target(),
        data: request.data(),
        app_status: R::APP_STATUS,
    };
    let recorded = state
        .store
        .record_request(&ctx.app, new, &ctx.caller.user.to_ref(), state.clock.now())
        .await
        .map_err(|e| match (e, R::APP_STATUS) {
            (crate::store::StoreError::Conflict(_), Some((_, to))) => {
                ApiError::Conflict(format!("the app is already {to}"))
            }
            (e, _) => e.into(),
        })?;
    Ok(match R::ANSWER {
        Answer::Queued(_) => {
            let view = QueuedView {
                order_id: recorded.order_id,
                status: "queued",
                formation: None,
            };
            (StatusCode::ACCEPTED, Json(view)).into_response()
        }
        Answer::NoContent(_) => StatusCode::NO_CONTENT.into_response(),
    })
}

fn operation<R: PlatformRequest>() -> Operation {
    let (status, response) = match R::ANSWER {
        Answer::Queued(description) => (
            "202",
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("QueuedView")))
                        .build(),
                )
                .build(),
        ),
        Answer::NoContent(description) => ("204", ResponseBuilder::new().description(description).build()),
    };
    let mut operation = OperationBuilder::new()
        .operation_id(Some(R::OPERATION))
        .description(Some(R::DESCRIPTION))
        .parameters(Some(AppPath::into_params(|| Some(ParameterIn::Path))))
        .request_body(R::body())
        .response(status, response);
    if let Some((_, to)) = R::APP_STATUS {
        // A request that moves the app's status is refused when the app is already there.
        operation = operation.response(
            "409",
            ResponseBuilder::new()
                .description(format!("The app is already `{to}`."))
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        );
    }
    operation.build()
}

/// Body of `POST /internal/v1/requests/{id}/status`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestReport {
    /// Where the request stands now. `done` and `failed` are final.
    #[schema(schema_with = request_status_schema)]
    status: String,
    /// What the platform has to say (shown on the app's timeline): at most 1000 characters.
    #[schema(max_length = 1000)]
    message: Option<String>,
}

/// `RequestReport::status` and `RequestView::status`.
fn request_status_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        RequestStatus::ALL.map(RequestStatus::as_str),
        "`queued`, `running`, `done` or `failed`; `done` and `failed` are final.",
    )
}

/// A platform request, as the platform sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestView {
    /// The request's id.
    id: Uuid,
    /// The app it is for.
    app_id: Uuid,
    /// The order's type, such as `app.restart`.
    #[serde(rename = "type")]
    kind: String,
    /// The record it acts on (an add-on, say), or `null`.
    #[schema(required = true)]
    target_id: Option<Uuid>,
    /// Where it stands.
    #[schema(schema_with = request_status_schema)]
    status: String,
    /// The platform's last message, or `null`.
    #[schema(required = true)]
    message: Option<String>,
    /// Its order.
    order_id: Uuid,
    /// When it was asked for.
    created_at: DateTime<Utc>,
    /// When its status last changed.
    updated_at: DateTime<Utc>,
}

impl From<PlatformRequestRecord> for RequestView {
    fn from(r: PlatformRequestRecord) -> RequestView {
        RequestView {
            id: r.id,
            app_id: r.app_id,
            kind: r.kind,
            target_id: r.target_id,
            status: r.status,
            message: r.message,
            order_id: r.order_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// `POST /internal/v1/requests/{id}/status`: the platform says where the request of order
/// `{id}` stands (any declared request, scale and the add-on operations alike). Reporting
/// the same status again changes nothing; a final status takes no further report (409).
#[utoipa::path(post, path = "/internal/v1/requests/{id}/status", params(IdPath), request_body = RequestReport,
    responses(
        (status = 200, description = "The request as it is now.", body = RequestView),
        (status = 404, description = "No request has this order id, or the platform API is off (no platform \
            token is configured).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The request has already ended (its status is final).", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn report_status(
    State(state): State<AppState>,
    Path(IdParam { id }): Path<IdParam>,
    Json(body): Json<RequestReport>,
) -> ApiResult<Json<RequestView>> {
    let mut fields = Fields::default();
    let status = fields.check(
        "status",
        RequestStatus::parse(&body.status).ok_or("must be queued, running, done or failed"),
    );
    if body.message.as_ref().is_some_and(|m| m.chars().count() > 1000) {
        fields.push("message", "must be at most 1000 characters");
    }
    fields.finish()?;
    let Some(status) = status else {
        return Err(ApiError::invalid("status", "must be queued, running, done or failed"));
    };
    let request = state
        .store
        .set_request_status(id, status, body.message.as_deref(), state.clock.now())
        .await
        .on_not_found("request not found")?;
    Ok(Json(request.into()))
}

/// This module's operations with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(report_status))]
pub struct Doc;
