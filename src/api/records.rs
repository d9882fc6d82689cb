//! Records of an app declared as data.
//!
//! A collection under an app that the platform acts on (autoscalers, log drains...) is a
//! type implementing [`AppRecord`] plus one line per operation in the route table:
//! `list_records::<Autoscaler>(path, permission, summary)`, `create_record::<…>`,
//! `change_record::<…>`, `remove_record::<…>`. Each line is the route's permission, its
//! handler (the generic [`list`], [`create`], [`change`], [`remove`]) and its OpenAPI
//! operation. Every record lives in one table (`RecordStore`); a change writes the record, its
//! event and (when the platform must act) its order in one transaction. A record's secret (a
//! log drain's URL with its password) is sealed with the variables' key, bound to the record.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, on};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, NoQuery, Path};
use super::openapi::{AppIdPath, AppPath};
use super::{Declared, method_filter, schemas_of};
use crate::authz::middleware::AppContext;
use crate::authz::routes::Verb;
use crate::config::Config;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{NewOrder, RecordRemoval, RecordWrite, StoredRecord};

/// What a new or changed record stores: its fields, what must be unique among the app's
/// records of its kind, and its secret (in the clear here; sealed before it is stored).
pub struct Draft {
    /// The record's fields (no secret: they are shown, in events too).
    pub data: Value,
    /// What must be unique among the app's records of this kind, if anything.
    pub unique_key: Option<String>,
    /// Its secret, if it has one.
    pub secret: Option<String>,
}

/// A kind of record of an app.
pub trait AppRecord: Send + Sync + 'static {
    /// The stored kind, such as `autoscaler`; events and orders name the record `<KIND>_id`.
    const KIND: &'static str;
    /// Names the operations in the OpenAPI document (`list_<PLURAL>`, `create_<KIND>`...).
    const PLURAL: &'static str;
    /// What a member sees of one record.
    type View: Serialize + ToSchema + Send;
    /// The body of a create (and of a change, where there is one).
    type Body: DeserializeOwned + ToSchema + Send;
    /// The event of a create, a change and a removal.
    const EVENTS: [EventKind; 3];
    /// The order of a create or a change, and of a removal, when the platform must act.
    const ORDERS: [Option<OrderKind>; 2] = [None, None];
    /// What a create answers: `201`, or `202` when the record only exists once the platform
    /// has acted on its order.
    const CREATED: StatusCode = StatusCode::CREATED;
    /// The 409 message when `unique_key` clashes.
    const CONFLICT: &'static str = "already exists";

    /// Checks a create's body (against the installation's settings where they matter); a 422
    /// names each bad field.
    fn create(body: Self::Body, config: &Config) -> Result<Draft, ApiError>;

    /// Checks a change of `current` (the whole body again); a 422 names each bad field.
    fn change(_current: &StoredRecord, body: Self::Body, config: &Config) -> Result<Draft, ApiError> {
        Self::create(body, config)
    }

    /// What a member sees of a stored record.
    fn view(record: &StoredRecord) -> Result<Self::View, ApiError>;
}

/// The context a record's secret is sealed to: its app, kind and id, so that a sealed value
/// moved to another row does not open.
pub fn secret_context(app_id: Uuid, kind: &str, id: Uuid) -> Vec<u8> {
    format!("{app_id}/{kind}/{id}").into_bytes()
}

/// Opens a record's secret.
pub fn open_secret(state: &AppState, record: &StoredRecord) -> ApiResult<Option<String>> {
    let Some(sealed) = &record.secret else {
        return Ok(None);
    };
    let context = secret_context(record.app_id, &record.kind, record.id);
    state
        .secrets
        .open_string(sealed, &context)
        .map(Some)
        .map_err(ApiError::internal)
}

/// The record's data, with its id under `<kind>_id`: what its events and orders carry.
fn described<R: AppRecord>(id: Uuid, data: &Value) -> Value {
    let mut described = data.clone();
    if let Some(object) = described.as_object_mut() {
        object.insert(format!("{}_id", R::KIND), json!(id));
    }
    described
}

/// The handler that lists any kind of record, oldest first, in one page.
pub async fn list<R: AppRecord>(State(state): State<AppState>, ctx: AppContext, _: NoQuery) -> ApiResult<Response> {
    let records = state.store.list_records(ctx.app.id, R::KIND).await?;
    let items = records.iter().map(R::view).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(json!({ "items": items })).into_response())
}

/// The handler that creates any kind of record, with its event and order.
pub async fn create<R: AppRecord>(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<R::Body>,
) -> ApiResult<Response> {
    let draft = R::create(body, &state.config)?;
    let stored = save::<R>(&state, &ctx, Uuid::now_v7(), true, draft).await?;
    Ok((R::CREATED, Json(R::view(&stored)?)).into_response())
}

/// The handler that changes any kind of record, with its event and order.
pub async fn change<R: AppRecord>(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
    Json(body): Json<R::Body>,
) -> ApiResult<Response> {
    let current = state
        .store
        .record(ctx.app.id, R::KIND, id)
        .await?
        .ok_or(ApiError::NotFound("not found"))?;
    let draft = R::change(&current, body, &state.config)?;
    let stored = save::<R>(&state, &ctx, id, false, draft).await?;
    Ok(Json(R::view(&stored)?).into_response())
}

/// Seals the draft's secret and writes the record with its event and order.
async fn save<R: AppRecord>(
    state: &AppState,
    ctx: &AppContext,
    id: Uuid,
    create: bool,
    draft: Draft,
) -> ApiResult<StoredRecord> {
    let secret = draft
        .secret
        .map(|s| {
            state
                .secrets
                .seal(s.as_bytes(), &secret_context(ctx.app.id, R::KIND, id))
        })
        .transpose()
        .map_err(ApiError::internal)?;
    let described = described::<R>(id, &draft.data);
    let write = RecordWrite {
        id,
        create,
        kind: R::KIND,
        unique_key: draft.unique_key,
        data: draft.data,
        secret,
        event: if create { R::EVENTS[0] } else { R::EVENTS[1] },
        event_data: described.clone(),
        order: R::ORDERS[0].map(|kind| NewOrder { kind, data: described }),
    };
    state
        .store
        .save_record(&ctx.app, write, Some(&ctx.caller.user.to_ref()), state.clock.now())
        .await
        .on_conflict(R::CONFLICT)
        .map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::NotFound("not found"),
            other => other,
        })
}

/// The handler that removes any kind of record, with its event and order.
pub async fn remove<R: AppRecord>(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<StatusCode> {
    let current = state
        .store
        .record(ctx.app.id, R::KIND, id)
        .await?
        .ok_or(ApiError::NotFound("not found"))?;
    let described = described::<R>(id, &current.data.0);
    let removal = RecordRemoval {
        kind: R::KIND,
        id,
        event: R::EVENTS[2],
        event_data: described.clone(),
        order: R::ORDERS[1].map(|kind| NewOrder { kind, data: described }),
    };
    state
        .store
        .remove_record(&ctx.app, removal, Some(&ctx.caller.user.to_ref()), state.clock.now())
        .await
        .on_not_found("not found")?;
    Ok(StatusCode::NO_CONTENT)
}

/// The declarations of the four operations of `R`, for their lines in the route table.
pub const fn declare_list<R: AppRecord>() -> Declared {
    Declared {
        mount: mount_list::<R>,
        operation: list_operation::<R>,
        schemas: schemas::<R>,
    }
}

/// See [`declare_list`].
pub const fn declare_create<R: AppRecord>() -> Declared {
    Declared {
        mount: mount_create::<R>,
        operation: create_operation::<R>,
        schemas: schemas::<R>,
    }
}

/// See [`declare_list`].
pub const fn declare_change<R: AppRecord>() -> Declared {
    Declared {
        mount: mount_change::<R>,
        operation: change_operation::<R>,
        schemas: schemas::<R>,
    }
}

/// See [`declare_list`].
pub const fn declare_remove<R: AppRecord>() -> Declared {
    Declared {
        mount: mount_remove::<R>,
        operation: remove_operation::<R>,
        schemas: schemas::<R>,
    }
}

fn mount_list<R: AppRecord>(verb: Verb) -> MethodRouter<AppState> {
    on(method_filter(verb), list::<R>)
}

fn mount_create<R: AppRecord>(verb: Verb) -> MethodRouter<AppState> {
    on(method_filter(verb), create::<R>)
}

fn mount_change<R: AppRecord>(verb: Verb) -> MethodRouter<AppState> {
    on(method_filter(verb), change::<R>)
}

fn mount_remove<R: AppRecord>(verb: Verb) -> MethodRouter<AppState> {
    on(method_filter(verb), remove::<R>)
}

fn schemas<R: AppRecord>() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)> {
    let mut all = schemas_of::<R::View>();
    all.extend(schemas_of::<R::Body>());
    all
}

fn view_response<R: AppRecord>(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(R::View::name())))
                .build(),
        )
        .build()
}

fn body<R: AppRecord>() -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(R::Body::name())))
                .build(),
        )
        .required(Some(utoipa::openapi::Required::True))
        .build()
}

fn list_operation<R: AppRecord>() -> Operation {
    let items = ObjectBuilder::new()
        .property(
            "items",
            ArrayBuilder::new().items(Ref::from_schema_name(R::View::name())),
        )
        .required("items");
    let response = ResponseBuilder::new()
        .description("Every one of the app's, oldest first, in one page.")
        .content("application/json", ContentBuilder::new().schema(Some(items)).build())
        .build();
    OperationBuilder::new()
        .operation_id(Some(format!("list_{}", R::PLURAL)))
        .parameters(Some(AppPath::into_params(|| Some(ParameterIn::Path))))
        .response("200", response)
        .response(
            "422",
            utoipa::openapi::RefOr::Ref(Ref::new("#/components/responses/Validation")),
        )
        .build()
}

fn create_operation<R: AppRecord>() -> Operation {
    let (status, description) = if R::CREATED == StatusCode::ACCEPTED {
        ("202", "Recorded, and its order queued for the platform.")
    } else {
        ("201", "Created.")
    };
    OperationBuilder::new()
        .operation_id(Some(format!("create_{}", R::KIND)))
        .parameters(Some(AppPath::into_params(|| Some(ParameterIn::Path))))
        .request_body(Some(body::<R>()))
        .response(status, view_response::<R>(description))
        .response("409", conflict())
        .build()
}

fn change_operation<R: AppRecord>() -> Operation {
    OperationBuilder::new()
        .operation_id(Some(format!("change_{}", R::KIND)))
        .description(Some("Replaces the record's fields: send them all."))
        .parameters(Some(AppIdPath::into_params(|| Some(ParameterIn::Path))))
        .request_body(Some(body::<R>()))
        .response("200", view_response::<R>("The record as it is now."))
        .response("409", conflict())
        .build()
}

fn remove_operation<R: AppRecord>() -> Operation {
    OperationBuilder::new()
        .operation_id(Some(format!("remove_{}", R::KIND)))
        .parameters(Some(AppIdPath::into_params(|| Some(ParameterIn::Path))))
        .response("204", ResponseBuilder::new().description("Removed.").build())
        .build()
}

fn conflict() -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    utoipa::openapi::RefOr::Ref(Ref::new("#/components/responses/Conflict"))
}
