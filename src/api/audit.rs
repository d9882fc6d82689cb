//! The audit trail across every app the caller owns, as JSON pages or NDJSON for a SIEM.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::Items;
use super::apps::reveal;
use super::extract::{Json, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{Actor, AppRef, Caller, EventFilter};

/// `?app=&actor=&type=&since=&until=&limit=&cursor=&format=`.
#[derive(Deserialize)]
pub struct AuditQuery {
    app: Option<String>,
    actor: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: Option<u32>,
    cursor: Option<String>,
    format: Option<String>,
}

/// `GET /v1/events`: newest first. NDJSON (`Accept: application/x-ndjson` or
/// `?format=ndjson`) takes pages of up to 10,000 and gives the next cursor in `Next-Cursor`.
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ndjson = match q.format.as_deref() {
        Some("ndjson") => true,
        Some("json") => false,
        Some(other) => return Err(ApiError::invalid("format", format!("{other:?} is not json or ndjson"))),
        None => accept.contains("application/x-ndjson"),
    };
    let max = if ndjson { 10_000 } else { 200 };
    let limit = match q.limit {
        None => 50.min(max),
        Some(n) if (1..=max).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid("limit", format!("must be between 1 and {max}"))),
    };
    let before = q
        .cursor
        .as_deref()
        .map(|c| Uuid::try_parse(c).map_err(|_| ApiError::invalid("cursor", "is not a cursor from this list")))
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
    let page = Items::page(events, limit, |e| e.id.to_string());
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
