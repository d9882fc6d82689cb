//! App settings declared as data.
//!
//! A small configuration object of an app (review-app settings, an autoscaler's defaults, a
//! maintenance window...) is a type implementing [`AppSetting`] plus two lines in the route
//! table: `read_setting::<S>(path, permission, summary)` and `write_setting::<S>(...)`. Each
//! line is the route's permission, its handler (the generic [`read`] and [`write`]) and its
//! OpenAPI operation. The value is stored as JSON in one table keyed by app and
//! [`AppSetting::KEY`]; a change writes its event (and, when the platform must act, its order)
//! in the same transaction (`SettingStore::put_setting`).

use axum::extract::State;
use axum::routing::{MethodRouter, on};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{IntoParams, ToSchema};

use uuid::Uuid;

use super::extract::{Json, Path};
use super::openapi::{AppIdPath, AppPath};
use super::{Declared, method_filter, schemas_of};
use crate::authz::middleware::AppContext;
use crate::authz::routes::Verb;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{Addon, NewSetting};

/// A configuration object of an app. Its `Default` is what an app has before anyone sets
/// it; a `PUT` replaces the whole object (omitted fields take their default, so the type
/// says `#[serde(default)]`).
pub trait AppSetting: Serialize + DeserializeOwned + Default + ToSchema + Send + 'static {
    /// The stored key.
    const KEY: &'static str;
    /// The event written when it changes (`from`, `to`, and `order_id` with an order).
    const EVENT: EventKind;
    /// The order queued when it changes (`{key, value}`), if the platform must act.
    const ORDER: Option<OrderKind> = None;
    /// Names the two operations in the OpenAPI document (`<tag>.read_<NAME>`, `put_<NAME>`).
    const NAME: &'static str;

    /// Checks a new value; a 422 names each bad field.
    fn check(&self) -> Result<(), ApiError> {
        Ok(())
    }

    /// For a setting of one add-on (`…/addons/{id}/…`, see [`declare_addon_read`]): whether an
    /// add-on of this provider has it. Another add-on of the app is a 404.
    fn addon_fits(_provider: &str) -> bool {
        true
    }

    /// The 404 of a setting of one add-on, when the add-on is missing or does not fit.
    const ADDON_NOT_FOUND: &'static str = "add-on not found";
}

/// The declaration of reading `S`, for its line in the route table.
pub const fn declare_read<S: AppSetting>() -> Declared {
    Declared {
        mount: mount_read::<S>,
        operation: read_operation::<S>,
        schemas: schemas_of::<S>,
    }
}

/// The declaration of replacing `S`, for its line in the route table.
pub const fn declare_write<S: AppSetting>() -> Declared {
    Declared {
        mount: mount_write::<S>,
        operation: write_operation::<S>,
        schemas: schemas_of::<S>,
    }
}

fn mount_read<S: AppSetting>(verb: Verb) -> MethodRouter<AppState> {
    on(method_filter(verb), read::<S>)
}

fn mount_write<S: AppSetting>(verb: Verb) -> MethodRouter<AppState> {
    on(method_filter(verb), write::<S>)
}

/// The handler that reads any setting: the stored value, or the default.
pub async fn read<S: AppSetting>(State(state): State<AppState>, ctx: AppContext) -> ApiResult<Json<S>> {
    let stored = state.store.setting(ctx.app.id, S::KEY).await?;
    let value = match stored {
        Some(value) => serde_json::from_value(value).map_err(ApiError::internal)?,
        None => S::default(),
    };
    Ok(Json(value))
}

/// The handler that replaces any setting, with its event and order.
pub async fn write<S: AppSetting>(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(value): Json<S>,
) -> ApiResult<Json<S>> {
    value.check()?;
    let setting = NewSetting {
        key: S::KEY,
        value: serde_json::to_value(&value).map_err(ApiError::internal)?,
        default: serde_json::to_value(S::default()).map_err(ApiError::internal)?,
        event: S::EVENT,
        order: S::ORDER,
    };
    state
        .store
        .put_setting(&ctx.app, setting, &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    Ok(Json(value))
}

/// The declaration of reading `S` as a setting of one add-on (`{id}`), for its line in the
/// route table: stored per add-on, gone with it.
pub const fn declare_addon_read<S: AppSetting>() -> Declared {
    Declared {
        mount: mount_addon_read::<S>,
        operation: addon_read_operation::<S>,
        schemas: schemas_of::<S>,
    }
}

/// The declaration of replacing `S` as a setting of one add-on (`{id}`).
pub const fn declare_addon_write<S: AppSetting>() -> Declared {
    Declared {
        mount: mount_addon_write::<S>,
        operation: addon_write_operation::<S>,
        schemas: schemas_of::<S>,
    }
}

fn mount_addon_read<S: AppSetting>(verb: Verb) -> MethodRouter<AppState> {
    on(method_filter(verb), read_addon::<S>)
}

fn mount_addon_write<S: AppSetting>(verb: Verb) -> MethodRouter<AppState> {
    on(method_filter(verb), write_addon::<S>)
}

/// The add-on `{id}` of the app, if it has the setting `S`.
async fn addon_of<S: AppSetting>(state: &AppState, ctx: &AppContext, id: Uuid) -> ApiResult<Addon> {
    state
        .store
        .addon(ctx.app.id, id)
        .await?
        .filter(|addon| S::addon_fits(&addon.provider))
        .ok_or(ApiError::NotFound(S::ADDON_NOT_FOUND))
}

/// The handler that reads any setting of one add-on: the stored value, or the default.
pub async fn read_addon<S: AppSetting>(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<Json<S>> {
    let addon = addon_of::<S>(&state, &ctx, id).await?;
    let value = match state.store.addon_setting(addon.id, S::KEY).await? {
        Some(value) => serde_json::from_value(value).map_err(ApiError::internal)?,
        None => S::default(),
    };
    Ok(Json(value))
}

/// The handler that replaces any setting of one add-on, with its event and order (both name
/// the add-on as `addon_id`).
pub async fn write_addon<S: AppSetting>(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
    Json(value): Json<S>,
) -> ApiResult<Json<S>> {
    let addon = addon_of::<S>(&state, &ctx, id).await?;
    value.check()?;
    let setting = NewSetting {
        key: S::KEY,
        value: serde_json::to_value(&value).map_err(ApiError::internal)?,
        default: serde_json::to_value(S::default()).map_err(ApiError::internal)?,
        event: S::EVENT,
        order: S::ORDER,
    };
    state
        .store
        .put_addon_setting(
            &ctx.app,
            addon.id,
            setting,
            false,
            &ctx.caller.user.to_ref(),
            state.clock.now(),
        )
        .await
        .on_not_found(S::ADDON_NOT_FOUND)?;
    Ok(Json(value))
}

fn addon_read_operation<S: AppSetting>() -> Operation {
    let mut operation = read_operation::<S>();
    operation.parameters = Some(
        AppIdPath::into_params(|| Some(ParameterIn::Path))
            .into_iter()
            .map(Into::into)
            .collect(),
    );
    operation
}

fn addon_write_operation<S: AppSetting>() -> Operation {
    let mut operation = write_operation::<S>();
    operation.parameters = Some(
        AppIdPath::into_params(|| Some(ParameterIn::Path))
            .into_iter()
            .map(Into::into)
            .collect(),
    );
    if S::ORDER.is_some() {
        operation.description = Some(
            "Replaces the whole setting: omitted fields take their defaults. The change is an event on the app's \
             timeline and an order for the platform."
                .into(),
        );
    }
    operation
}

fn answer<S: AppSetting>(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(S::name())))
                .build(),
        )
        .build()
}

fn read_operation<S: AppSetting>() -> Operation {
    OperationBuilder::new()
        .operation_id(Some(format!("read_{}", S::NAME)))
        .description(Some("The setting as stored, or its defaults when it was never set."))
        .parameters(Some(AppPath::into_params(|| Some(ParameterIn::Path))))
        .response("200", answer::<S>("The setting."))
        .build()
}

fn write_operation<S: AppSetting>() -> Operation {
    let body = RequestBodyBuilder::new()
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(S::name())))
                .build(),
        )
        .required(Some(utoipa::openapi::Required::True))
        .build();
    OperationBuilder::new()
        .operation_id(Some(format!("put_{}", S::NAME)))
        .description(Some(
            "Replaces the whole setting: omitted fields take their defaults. The change is an event on the app's \
             timeline.",
        ))
        .parameters(Some(AppPath::into_params(|| Some(ParameterIn::Path))))
        .request_body(Some(body))
        .response("200", answer::<S>("The setting as stored now."))
        .build()
}
