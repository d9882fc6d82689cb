//! Apps: create, list, read, update, rename, delete, transfer; the caller's permissions;
//! the activity timeline.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::cursor::{self, Listing};
use super::extract::{Json, Query};
use super::openapi::AppPath;
use super::{Items, PageQuery};
use crate::authz::middleware::AppContext;
use crate::authz::{Permission, PermissionSet, Role};
use crate::domain::{AppName, BranchName};
use crate::error::{ApiError, ApiResult, Fields, Problem, ResultExt};
use crate::kinds::EventKind;
use crate::state::AppState;
use crate::store::{App, AppRef, Caller, Event, Person, StoreError};

/// An app as its members see it, with the caller's role.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AppView {
    #[serde(flatten)]
    app: App,
    role: Role,
}

const NAME_TAKEN: &str = "an app with this name already exists";

/// Body of `POST /v1/apps`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    /// 1 to 48 characters: lower-case letters, digits and `-`, starting with a letter.
    name: String,
    /// The branch `redeploy` deploys (default `main`).
    default_branch: Option<String>,
}

/// `POST /v1/apps`: the caller becomes the owner.
#[utoipa::path(post, path = "/v1/apps", request_body = CreateApp, responses(
    (status = 201, description = "Created; the caller is its owner.", body = AppView),
    (status = 409, description = "The name is taken.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateApp>,
) -> ApiResult<(StatusCode, Json<AppView>)> {
    let mut fields = Fields::default();
    let name = fields.check("name", AppName::parse(&body.name));
    let branch = fields.check(
        "default_branch",
        BranchName::parse(body.default_branch.as_deref().unwrap_or("main")),
    );
    fields.finish()?;
    let (Some(name), Some(branch)) = (name, branch) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let app = state
        .store
        .create_app(&caller.user.to_ref(), &name, &branch, state.clock.now())
        .await
        .on_conflict(NAME_TAKEN)?;
    tracing::info!(app_id = %app.id, "app created");
    Ok((StatusCode::CREATED, Json(AppView { app, role: Role::Owner })))
}

/// `GET /v1/apps`: apps where the caller has any role, by name.
#[utoipa::path(get, path = "/v1/apps", params(PageQuery), responses(
    (status = 200, description = "One page of apps, by name.", body = Items<AppView>),
))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Items<AppView>>> {
    let limit = page.limit()?;
    if !caller.scope.allows_permission(Permission::AppRead) {
        // A token that may not read apps sees none.
        return Ok(Json(Items {
            items: Vec::new(),
            next_cursor: Some(None),
        }));
    }
    let after = page
        .cursor
        .as_deref()
        .map(|c| cursor::text_of(&state.secrets, Listing::Apps, c))
        .transpose()?;
    if let Some(scoped) = &caller.scope.apps {
        // A token scoped to a few apps sees just those, in one page.
        let mut views = Vec::new();
        for m in state.store.memberships_of(caller.user.id).await? {
            if !scoped.contains(&m.app_id) {
                continue;
            }
            if let Some(app) = state.store.app_by_ref(&AppRef::Id(m.app_id)).await? {
                views.push(AppView { app, role: m.role });
            }
        }
        return Ok(Json(Items {
            items: views,
            next_cursor: Some(None),
        }));
    }
    let rows = state
        .store
        .list_apps(caller.user.id, after.as_deref(), limit + 1)
        .await?;
    let views = rows
        .into_iter()
        .map(|r| AppView {
            app: r.app,
            role: r.role,
        })
        .collect();
    Ok(Json(Items::page(views, limit, |v| {
        cursor::encode(&state.secrets, Listing::Apps, v.app.name.as_bytes())
    })))
}

/// `GET /v1/apps/{app}`: resolved by the middleware, no further query.
#[utoipa::path(get, path = "/v1/apps/{app}", params(AppPath), responses(
    (status = 200, description = "The app, with the caller's role.", body = AppView),
))]
pub async fn show(ctx: AppContext) -> Json<AppView> {
    let role = ctx.role();
    Json(AppView { app: ctx.app, role })
}

/// Body of `PATCH /v1/apps/{app}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApp {
    /// The branch `redeploy` deploys.
    default_branch: Option<String>,
}

/// `PATCH /v1/apps/{app}`.
#[utoipa::path(patch, path = "/v1/apps/{app}", params(AppPath), request_body = UpdateApp, responses(
    (status = 200, description = "The app as it is now.", body = AppView),
))]
pub async fn update(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<UpdateApp>,
) -> ApiResult<Json<AppView>> {
    let Some(branch) = body.default_branch else {
        let role = ctx.role();
        return Ok(Json(AppView { app: ctx.app, role }));
    };
    let branch = BranchName::parse(&branch).map_err(|m| ApiError::invalid("default_branch", m))?;
    let app = state
        .store
        .update_app(&ctx.app, &branch, &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    Ok(Json(AppView { app, role: ctx.role() }))
}

/// Body of `POST /v1/apps/{app}/rename`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The new name (same rules as at creation).
    name: String,
}

/// `POST /v1/apps/{app}/rename`.
#[utoipa::path(post, path = "/v1/apps/{app}/rename", params(AppPath), request_body = Rename, responses(
    (status = 200, description = "Renamed.", body = AppView),
    (status = 409, description = "The name is taken.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn rename(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<Rename>,
) -> ApiResult<Json<AppView>> {
    let name = AppName::parse(&body.name).map_err(|m| ApiError::invalid("name", m))?;
    let app = state
        .store
        .rename_app(&ctx.app, &name, &ctx.caller.user.to_ref(), state.clock.now())
        .await
        .on_conflict(NAME_TAKEN)?;
    tracing::info!(app_id = %app.id, "app renamed");
    Ok(Json(AppView { app, role: ctx.role() }))
}

/// `DELETE /v1/apps/{app}`: memberships and invitations go with it.
#[utoipa::path(delete, path = "/v1/apps/{app}", params(AppPath), responses(
    (status = 204, description = "Deleted."),
))]
pub async fn destroy(State(state): State<AppState>, ctx: AppContext) -> ApiResult<StatusCode> {
    state
        .store
        .delete_app(&ctx.app, &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    tracing::info!(app_id = %ctx.app.id, "app deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /v1/apps/{app}/transfer`: the new owner, as exactly one of `user_id` or
/// `collaborator_id`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// The user id of a member of the app (`user_id` in the collaborators list).
    user_id: Option<Uuid>,
    /// The membership id of a member of the app (`id` in the collaborators list, the `{id}`
    /// of the collaborator routes).
    collaborator_id: Option<Uuid>,
}

/// `POST /v1/apps/{app}/transfer`: the target becomes owner, the caller a collaborator. The
/// target is named by user id or by membership id, whichever the client has at hand.
#[utoipa::path(post, path = "/v1/apps/{app}/transfer", params(AppPath), request_body = Transfer, responses(
    (status = 200, description = "Transferred; the caller is now a collaborator.", body = AppView),
))]
pub async fn transfer(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<Transfer>,
) -> ApiResult<Json<AppView>> {
    let (field, user_id) = match (body.user_id, body.collaborator_id) {
        (Some(user_id), None) => ("user_id", user_id),
        (None, Some(id)) => match state.store.collaborator(ctx.app.id, id).await? {
            Some(member) => ("collaborator_id", member.user_id),
            None => {
                return Err(ApiError::invalid(
                    "collaborator_id",
                    "is not a membership of this app; invite them first",
                ));
            }
        },
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "collaborator_id",
                "give `user_id` or `collaborator_id`, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "user_id",
                "is required (or `collaborator_id`, the member's id in the collaborators list)",
            ));
        }
    };
    if user_id == ctx.caller.user.id {
        return Err(ApiError::invalid(field, "you already own this app"));
    }
    let app = state
        .store
        .transfer_app(&ctx.app, &ctx.caller.user.to_ref(), user_id, state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound if field == "user_id" => ApiError::invalid(
                "user_id",
                "is not the user id of a member of this app (a membership id goes in `collaborator_id`); invite \
                 them first",
            ),
            StoreError::NotFound => ApiError::invalid(field, "is not a membership of this app; invite them first"),
            other => other.into(),
        })?;
    tracing::info!(app_id = %app.id, to = %user_id, "app transferred");
    Ok(Json(AppView {
        app,
        role: Role::Collaborator,
    }))
}

/// The caller's role and permissions on one app.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Permissions {
    role: Role,
    permissions: PermissionSet,
    /// `tfa_required` while the app requires two-factor authentication of every member and the
    /// caller has it off (the permissions are then refused until they turn it on); else `null`.
    #[schema(required = true, schema_with = super::access::blocked_by_schema)]
    blocked_by: Option<&'static str>,
}

/// `GET /v1/apps/{app}/permissions`.
#[utoipa::path(get, path = "/v1/apps/{app}/permissions", params(AppPath), responses(
    (status = 200, description = "The caller's role and effective permissions.", body = Permissions),
))]
pub async fn permissions(ctx: AppContext) -> Json<Permissions> {
    Json(Permissions {
        role: ctx.role(),
        permissions: ctx.permissions(),
        blocked_by: ctx.blocked_by_tfa.then_some("tfa_required"),
    })
}

/// `?type=&limit=&cursor=` of the app's timeline.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page, as given (opaque).
    cursor: Option<String>,
    /// Only events of this type, such as `collaborator.removed`.
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// `GET /v1/apps/{app}/events`: newest first, optionally of one `type`. A variable's value
/// appears in its event only for callers who may read values.
#[utoipa::path(get, path = "/v1/apps/{app}/events", params(AppPath, EventsQuery), responses(
    (status = 200, description = "One page of events, newest first.", body = Items<Event>),
))]
pub async fn events(
    State(state): State<AppState>,
    ctx: AppContext,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<Items<Event>>> {
    // serde's `flatten` does not mix with query strings' untyped values: no PageQuery inside.
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let before = page.after_id(&state, Listing::Timeline)?;
    let mut events = state
        .store
        .list_events(ctx.app.id, q.kind.as_deref(), before, limit + 1)
        .await?;
    if ctx.can(Permission::VariablesReadValues) {
        for event in &mut events {
            reveal(&state, event)?;
        }
    }
    if !ctx.can(Permission::CollaboratorsRead) {
        for event in &mut events {
            hide_members(event, ctx.caller.user.id);
        }
        hide_addresses(&state, &mut events, ctx.caller.user.id).await?;
    }
    Ok(Json(Items::page(events, limit, |e| {
        cursor::of_id(&state.secrets, Listing::Timeline, e.id)
    })))
}

/// Who else is on the team is for those who may read the members: for anyone else, an
/// invitation or membership event keeps its type, time and role, and loses the other
/// person's email and ids (and its actor when that is the other person, as when they accepted
/// or left). Events about the caller's own membership stay whole.
pub(crate) fn hide_members(event: &mut Event, caller: Uuid) {
    let about_members = event.kind.starts_with("collaborator.") || event.kind == EventKind::AppTransferred.as_str();
    let caller = caller.to_string();
    let subject = event.data["user_id"].as_str();
    if !about_members || subject == Some(caller.as_str()) {
        return;
    }
    if event
        .actor
        .as_ref()
        .is_some_and(|a| Some(a.id.to_string().as_str()) == subject)
    {
        event.actor = None;
    }
    if let Some(data) = event.data.as_object_mut() {
        for field in ["email", "user_id", "collaborator_id", "invitation_id", "from", "to"] {
            data.remove(field);
        }
    }
}

/// For a reader who may not see the members: everyone but the reader named in `events` (the
/// actor, and every `{id, email}` in the details, such as a deployment's `requested_by` or the
/// members a 2FA rule locked out) becomes `{id, name}`, without the address.
pub(crate) async fn hide_addresses(state: &AppState, events: &mut [Event], reader: Uuid) -> ApiResult<()> {
    let mut ids = std::collections::BTreeSet::new();
    for event in events.iter() {
        ids.extend(event.actor.as_ref().map(|a| a.id));
        people_in(&event.data, &mut |id| {
            ids.insert(id);
        });
    }
    ids.remove(&reader);
    let names = names_of(state, ids).await?;
    for event in events.iter_mut() {
        if let Some(actor) = event.actor.as_mut().filter(|a| a.id != reader) {
            actor.hide(names.get(&actor.id).cloned().flatten());
        }
        hide_in(&mut event.data, reader, &names);
    }
    Ok(())
}

/// For a reader who may not see the members: everyone but the reader named in `people`
/// becomes `{id, name}`.
pub(crate) async fn hide_people<'a>(
    state: &AppState,
    people: impl IntoIterator<Item = &'a mut Person>,
    reader: Uuid,
) -> ApiResult<()> {
    let mut people: Vec<&mut Person> = people.into_iter().filter(|p| p.id != reader).collect();
    let names = names_of(state, people.iter().map(|p| p.id).collect()).await?;
    for person in &mut people {
        person.hide(names.get(&person.id).cloned().flatten());
    }
    Ok(())
}

async fn names_of(
    state: &AppState,
    ids: std::collections::BTreeSet<Uuid>,
) -> ApiResult<std::collections::HashMap<Uuid, Option<String>>> {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    Ok(state.store.user_names(&ids).await?)
}

/// The id of every `{id, email}` object in `value`.
fn people_in(value: &Value, found: &mut impl FnMut(Uuid)) {
    match value {
        Value::Object(map) => {
            if let Some(id) = person_id(map) {
                found(id);
            }
            map.values().for_each(|v| people_in(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| people_in(v, found)),
        _ => {}
    }
}

fn hide_in(value: &mut Value, reader: Uuid, names: &std::collections::HashMap<Uuid, Option<String>>) {
    match value {
        Value::Object(map) => {
            if let Some(id) = person_id(map).filter(|&id| id != reader) {
                map.remove("email");
                map.insert("name".into(), json!(names.get(&id).cloned().flatten()));
                return;
            }
            map.values_mut().for_each(|v| hide_in(v, reader, names));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| hide_in(v, reader, names)),
        _ => {}
    }
}

/// The id of an object that names a person as `{id, email}`.
fn person_id(map: &serde_json::Map<String, Value>) -> Option<Uuid> {
    if map.len() != 2 || !map.get("email").is_some_and(Value::is_string) {
        return None;
    }
    map.get("id")?.as_str()?.parse().ok()
}

/// Puts a variable event's sealed value into its `data.value`.
pub(crate) fn reveal(state: &AppState, event: &mut Event) -> ApiResult<()> {
    let (Some(sealed), Some(app_id), Some(name)) = (&event.secret, event.app_id, event.data["name"].as_str()) else {
        return Ok(());
    };
    // One value that no longer opens (a rotated key, a tampered row) must not hide the
    // whole timeline: it is logged and left out.
    match state
        .secrets
        .open_string(sealed, &crate::api::variables::context(app_id, name))
    {
        Ok(value) => event.data["value"] = serde_json::Value::String(value),
        Err(err) => {
            tracing::error!(event_id = %event.id, error = %err, "a variable value in the timeline does not open")
        }
    }
    Ok(())
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, show, update, destroy, rename, transfer, permissions, events))]
pub struct Doc;
