//! Operations on the running app: restart (a declared platform request) and scale (its own
//! handler: the formation is merged under a row lock). Each is an order for the platform,
//! queued in the outbox in the same transaction as its record and event.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};

use super::extract::Json;
use super::openapi::AppPath;
use super::requests::{Answer, PlatformRequest, QueuedView};
use crate::authz::middleware::AppContext;
use crate::domain::Slug;
use crate::error::{ApiResult, Fields};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::Container;

/// Container sizes the platform offers.
pub const SIZES: [&str; 6] = ["XS", "S", "M", "L", "XL", "2XL"];
/// Most containers of one type.
const MAX_AMOUNT: u32 = 100;

/// `POST /v1/apps/{app}/restart`: restarts every container.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restart {}

impl PlatformRequest for Restart {
    const ORDER: OrderKind = OrderKind::AppRestart;
    const EVENT: EventKind = EventKind::AppRestartRequested;
    const OPERATION: &'static str = "restart";
    const DESCRIPTION: &'static str = "`POST /v1/apps/{app}/restart`: restarts every container.";
    const ANSWER: Answer = Answer::Queued("Queued for the platform; no `formation`.");
}

/// Body of `POST /v1/apps/{app}/scale`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// 1 to 20 container types to change, each named once.
    #[schema(schema_with = containers_schema)]
    containers: Vec<Container>,
}

/// `Scale::containers`: a [`Container`] list with the limits `scale` checks.
fn containers_schema() -> ArrayBuilder {
    let container = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("One container type: its amount and size."))
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[a-z0-9][a-z0-9-]{0,63}$"))
                .description(Some(
                    "Process type, such as `web` or `worker`: 1 to 64 characters of a-z, 0-9 and `-`. Each type \
                     appears once in a request.",
                )),
        )
        .required("type")
        .property(
            "amount",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                .minimum(Some(0))
                .maximum(Some(MAX_AMOUNT))
                .description(Some("Number of containers, 0 to 100.")),
        )
        .required("amount")
        .property(
            "size",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(SIZES))
                .description(Some("Container size.")),
        )
        .required("size")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    ArrayBuilder::new()
        .items(container)
        .min_items(Some(1))
        .max_items(Some(20))
        .description(Some(
            "1 to 20 container types to change, each named once; types not named keep their formation.",
        ))
}

/// `POST /v1/apps/{app}/scale`: sets the amount and size of the named container types;
/// types not named keep their formation.
#[utoipa::path(post, path = "/v1/apps/{app}/scale", params(AppPath), request_body = Scale, responses(
    (status = 202, description = "Queued for the platform; `formation` is the app's formation after the change.",
        body = QueuedView),
))]
pub async fn scale(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<Scale>,
) -> ApiResult<(StatusCode, Json<QueuedView>)> {
    let mut fields = Fields::default();
    if body.containers.is_empty() || body.containers.len() > 20 {
        fields.push("containers", "must hold 1 to 20 container types");
    }
    let mut seen = std::collections::HashSet::new();
    for (i, c) in body.containers.iter().enumerate() {
        fields.check(&format!("containers[{i}].type"), Slug::parse(&c.kind));
        if c.amount > MAX_AMOUNT {
            fields.push(&format!("containers[{i}].amount"), "must be between 0 and 100");
        }
        if !SIZES.contains(&c.size.as_str()) {
            fields.push(&format!("containers[{i}].size"), "must be one of XS, S, M, L, XL, 2XL");
        }
        if !seen.insert(c.kind.as_str()) {
            fields.push(&format!("containers[{i}].type"), "appears twice in this request");
        }
    }
    fields.finish()?;
    let queued = state
        .store
        .scale_app(&ctx.app, &body.containers, &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    let view = QueuedView {
        order_id: queued.order_id,
        status: "queued",
        formation: Some(queued.formation),
    };
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(scale))]
pub struct Doc;
