//! The audit trail across every app the caller owns, as JSON pages or NDJSON for a SIEM.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::apps::reveal;
use super::cursor::{self, Listing};
use super::extract::{Json, Query};
use super::{Items, page_limit};
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::store::{Actor, AppRef, Caller, Event, EventFilter};

/// `?app=&actor=&type=&since=&until=&limit=&cursor=&format=`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only events of this app, by name or id (an app the caller does not own has none).
    app: Option<String>,
    /// Only events done by this user, by id or email.
    actor: Option<String>,
    /// Only events of this type, such as `collaborator.removed`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[serde(default, deserialize_with = "crate::domain::timestamp::option")]
    since: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    #[serde(default, deserialize_with = "crate::domain::timestamp::option")]
    until: Option<DateTime<Utc>>,
    /// Page size: 1 to 200 for JSON, 1 to 10,000 for NDJSON (default 50).
    #[param(minimum = 1, maximum = 10_000)]
    limit: Option<i64>,
    /// `next_cursor` (JSON) or `Next-Cursor` (NDJSON) of the previous page, as given (opaque).
    cursor: Option<String>,
    /// `json` or `ndjson`; without it, NDJSON when `Accept` names `application/x-ndjson`, else JSON.
    #[param(schema_with = format_param_schema)]
    format: Option<String>,
}

fn format_param_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        ["json", "ndjson"],
        "`json` or `ndjson`; without it, NDJSON when `Accept` names `application/x-ndjson`, else JSON.",
    )
}

/// `GET /v1/events`: newest first. NDJSON (`Accept: application/x-ndjson` or
/// `?format=ndjson`) takes pages of up to 10,000 and gives the next cursor in `Next-Cursor`.
#[utoipa::path(get, path = "/v1/events", params(AuditQuery), responses(
    (status = 200, description = "One page of events, newest first: JSON, or NDJSON (one `Event` object per line, \
                                  the next page's cursor in `Next-Cursor`).",
        content((Items<Event> = "application/json"), (String = "application/x-ndjson")),
        headers(("Next-Cursor" = String, description = "NDJSON only: `cursor` of the next page; absent on the last \
                                                         page."))),
    (status = 422, description = "`limit`, `cursor` or `format` is not valid.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    let accept = super::accept::choose(&headers, &["application/json", "application/x-ndjson"]);
    let ndjson = match q.format.as_deref() {
        Some("ndjson") => true,
        Some("json") => false,
        Some(other) => return Err(ApiError::invalid("format", format!("{other:?} is not json or ndjson"))),
        None => accept? == "application/x-ndjson",
    };
    let max = if ndjson { 10_000 } else { 200 };
    let limit = page_limit(q.limit, 50, max)?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| cursor::id_of(&state.secrets, Listing::Audit, c))
        .transpose()?;
    let app_id = match q.app.as_deref().map(AppRef::parse) {
        None => None,
        Some(AppRef::Id(id)) => Some(id),
        // An app the caller does not own simply has no events here.
        Some(r) => Some(state.store.app_by_ref(&r).await?.map_or(Uuid::nil(), |a| a.id)),
    };
    let actor = q
        .actor
        .map(|a| Uuid::try_parse(&a).map_or(Actor::Email(a.to_lowercase()), Actor::Id));
    let filter = EventFilter {
        app_id,
        actor,
        kind: q.kind,
        since: q.since,
        until: q.until,
    };
    let mut events = state
        .store
        .owned_events(caller.user.id, &filter, before, limit + 1)
        .await?;
    // The caller owns every app listed, so holds variables.read_values on each.
    for event in &mut events {
        reveal(&state, event)?;
    }
    let page = Items::page(events, limit, |e| cursor::of_id(&state.secrets, Listing::Audit, e.id));
    if !ndjson {
        return Ok(Json(page).into_response());
    }
    let mut body = String::new();
    for event in &page.items {
        body.push_str(&serde_json::to_string(event).map_err(ApiError::internal)?);
        body.push('\n');
    }
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    if let Some(Some(next)) = page.next_cursor.as_ref()
        && let Ok(value) = HeaderValue::from_str(next)
    {
        response.headers_mut().insert("next-cursor", value);
    }
    Ok(response)
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(events))]
pub struct Doc;
