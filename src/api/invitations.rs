//! Invitations: sent by email with a role, accepted by the invitee with the token (or by id
//! from their own list), declined, revoked.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::collaborators::GrantableRole;
use super::collaborators::grantable;
use super::extract::{Json, NoQuery, Path};
use super::openapi::{AppIdPath, AppPath, IdPath};
use super::{IdParam, Items};
use crate::auth::token;
use crate::authz::middleware::AppContext;
use crate::domain::Email;
use crate::error::{ApiError, ApiResult, Problem, ResultExt};
use crate::state::AppState;
use crate::store::{Accepted, Caller, Collaborator, Invitation, NewInvitation};

/// Body of `POST /v1/apps/{app}/invitations`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    /// The invitee's email address (trimmed, lower-cased and in Unicode NFC; at most 254
    /// characters, without bidirectional or zero-width controls or `:`).
    #[schema(example = "ada@example.com")]
    email: String,
    /// The role given on acceptance (default `limited_collaborator`); never above the
    /// inviter's own role, never `owner`.
    #[schema(value_type = Option<GrantableRole>)]
    role: Option<String>,
    /// When the membership it grants ends (time-bound access); must be in the future.
    #[serde(default, deserialize_with = "crate::domain::timestamp::option")]
    access_expires_at: Option<chrono::DateTime<Utc>>,
}

/// A new invitation: the only time its token is shown.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedInvitation {
    #[serde(flatten)]
    invitation: Invitation,
    /// The secret the invitee accepts or declines with (`POST /v1/invitations/accept`);
    /// shown only here.
    token: String,
    /// A link carrying the token in its fragment, to send to the invitee.
    invitation_link: String,
}

/// `POST /v1/apps/{app}/invitations`: `role` defaults to `limited_collaborator`.
#[utoipa::path(post, path = "/v1/apps/{app}/invitations", params(AppPath), request_body = Invite, responses(
    (status = 201, description = "Invited; the response carries the token, shown only this once.", body = CreatedInvitation),
    (status = 409, description = "The email already belongs to a member of the app, or already has a pending invitation to it.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn create(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<Invite>,
) -> ApiResult<(StatusCode, Json<CreatedInvitation>)> {
    let email = Email::parse(&body.email).map_err(|m| ApiError::invalid("email", m))?;
    let role = grantable(&ctx, body.role.as_deref().unwrap_or("limited_collaborator"))?;
    let (secret, hash) = token::generate(token::INVITATION_TOKEN_PREFIX).map_err(ApiError::internal)?;
    let now = state.clock.now();
    if let Some(at) = body.access_expires_at {
        super::collaborators::future("access_expires_at", at, now)?;
    }
    // A fragment, so the token never reaches a server log when the link is opened.
    let invitation_link = format!("{}/invitations/accept#token={secret}", state.config.public_url);
    let inviter = &ctx.caller.user;
    let mail = match &state.config.accounts.mail {
        Some(_) => {
            let from = inviter.name.as_deref().unwrap_or(&inviter.email);
            let mail = crate::mail::invitation(email.as_str(), &ctx.app.name, from, role.as_str(), &invitation_link);
            Some(mail.seal(&state.secrets).map_err(ApiError::internal)?)
        }
        None => None,
    };
    let new = NewInvitation {
        mail,
        id: Uuid::now_v7(),
        app: &ctx.app,
        email: &email,
        role,
        token_hash: &hash,
        invited_by: &ctx.caller.user.to_ref(),
        now,
        expires_at: now + state.config.invitation_ttl,
        access_expires_at: body.access_expires_at,
    };
    let invitation = state.store.create_invitation(new).await?;
    tracing::info!(app_id = %ctx.app.id, invitation_id = %invitation.id, role = %role, "invitation sent");
    Ok((
        StatusCode::CREATED,
        Json(CreatedInvitation {
            invitation,
            token: secret,
            invitation_link,
        }),
    ))
}

/// `GET /v1/apps/{app}/invitations`: pending and past, newest first, without tokens.
#[utoipa::path(get, path = "/v1/apps/{app}/invitations", params(AppPath), responses(
    (status = 200, description = "Every invitation of the app, newest first (one page, no `next_cursor`).", body = Items<Invitation>),
))]
pub async fn list(State(state): State<AppState>, ctx: AppContext, _: NoQuery) -> ApiResult<Json<Items<Invitation>>> {
    let now = state.clock.now();
    let items = state
        .store
        .list_invitations(ctx.app.id)
        .await?
        .into_iter()
        .map(|i| i.at(now))
        .collect();
    Ok(Json(Items::all(items)))
}

/// `DELETE /v1/apps/{app}/invitations/{id}`: revokes a pending invitation.
#[utoipa::path(delete, path = "/v1/apps/{app}/invitations/{id}", params(AppIdPath), responses(
    (status = 204, description = "Revoked."),
))]
pub async fn revoke(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<StatusCode> {
    state
        .store
        .revoke_invitation(&ctx.app, id, &ctx.caller.user.to_ref(), state.clock.now())
        .await
        .on_not_found("no pending invitation with this id")?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of the token routes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The invitation's token, as returned when it was created (or from the link's fragment).
    token: String,
}

const UNKNOWN_TOKEN: &str = "no invitation has this token";

async fn by_token(state: &AppState, raw: &str) -> ApiResult<Invitation> {
    state
        .store
        .invitation_by_token(&token::hash(raw))
        .await?
        .ok_or(ApiError::NotFound(UNKNOWN_TOKEN))
}

fn not_open(invitation: &Invitation, now: DateTime<Utc>) -> ApiError {
    let status = invitation.clone().at(now).status;
    ApiError::Gone(format!("this invitation can no longer be used (it is {status})"))
}

async fn accept_invitation(state: &AppState, caller: &Caller, invitation: Invitation) -> ApiResult<Collaborator> {
    let now = state.clock.now();
    if !invitation.is_open(now) {
        return Err(not_open(&invitation, now));
    }
    if invitation.access_expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::Gone(
            "the access this invitation grants has already ended".into(),
        ));
    }
    match state
        .store
        .accept_invitation(invitation.id, &caller.user.to_ref(), now)
        .await?
    {
        Accepted::Member(member) => {
            tracing::info!(app_id = %member.app_id, collaborator_id = %member.id, "invitation accepted");
            Ok(member)
        }
        Accepted::NotPending => Err(not_open(&invitation, now)),
        Accepted::AlreadyMember => Err(ApiError::Conflict("you are already a member of this app".into())),
        Accepted::TfaRequired => Err(ApiError::TfaRequiredByApp),
    }
}

async fn decline_invitation(state: &AppState, caller: &Caller, invitation: Invitation) -> ApiResult<StatusCode> {
    let now = state.clock.now();
    if !invitation.is_open(now)
        || !state
            .store
            .decline_invitation(invitation.id, &caller.user.to_ref(), now)
            .await?
    {
        return Err(not_open(&invitation, now));
    }
    Ok(StatusCode::NO_CONTENT)
}

fn addressed_to(caller: &Caller, invitation: &Invitation) -> bool {
    invitation.email.eq_ignore_ascii_case(&caller.user.email)
}

const SOMEONE_ELSE: &str = "this invitation was sent to another email address";

/// `POST /v1/invitations/accept`: the caller's email must be the invited one.
#[utoipa::path(post, path = "/v1/invitations/accept", request_body = TokenBody, responses(
    (status = 200, description = "Accepted; the caller's new membership.", body = Collaborator),
    (status = 403, description = "The invitation was sent to another email address (`forbidden`), or the API token is scoped (`token-scope`).", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No invitation has this token.", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The caller is already a member of the app.", body = Problem, content_type = "application/problem+json"),
    (status = 410, description = "The invitation is no longer pending (accepted, declined, revoked or expired), or the access it grants has already ended.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<TokenBody>,
) -> ApiResult<Json<Collaborator>> {
    let invitation = by_token(&state, &body.token).await?;
    if !addressed_to(&caller, &invitation) {
        return Err(ApiError::Forbidden(SOMEONE_ELSE.into()));
    }
    // Holding the token proves nothing about the mailbox: whoever created the invitation was
    // handed it too. Only a link rolegate mailed verifies an address.
    let member = accept_invitation(&state, &caller, invitation).await?;
    Ok(Json(member))
}

/// `POST /v1/invitations/decline`.
#[utoipa::path(post, path = "/v1/invitations/decline", request_body = TokenBody, responses(
    (status = 204, description = "Declined."),
    (status = 403, description = "The invitation was sent to another email address (`forbidden`), or the API token is scoped (`token-scope`).", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No invitation has this token.", body = Problem, content_type = "application/problem+json"),
    (status = 410, description = "The invitation is no longer pending (accepted, declined, revoked or expired).", body = Problem, content_type = "application/problem+json"),
))]
pub async fn decline(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<TokenBody>,
) -> ApiResult<StatusCode> {
    let invitation = by_token(&state, &body.token).await?;
    if !addressed_to(&caller, &invitation) {
        return Err(ApiError::Forbidden(SOMEONE_ELSE.into()));
    }
    decline_invitation(&state, &caller, invitation).await
}

/// `GET /v1/users/self/invitations`: pending invitations to the caller's email.
#[utoipa::path(get, path = "/v1/users/self/invitations", responses(
    (status = 200, description = "Pending, unexpired invitations to the caller's email, newest first (one page, no `next_cursor`).", body = Items<Invitation>),
))]
pub async fn mine(State(state): State<AppState>, caller: Caller, _: NoQuery) -> ApiResult<Json<Items<Invitation>>> {
    verified(&caller)?;
    Ok(Json(Items::all(
        state
            .store
            .invitations_for(&caller.user.email, state.clock.now())
            .await?,
    )))
}

/// Invitations are found by address; until its owner proved the address, anyone could have
/// typed it at sign-up, so by-address routes wait for the proof (a link holder has it).
fn verified(caller: &Caller) -> ApiResult<()> {
    if caller.user.email_verified {
        Ok(())
    } else {
        Err(ApiError::EmailUnverified)
    }
}

/// An invitation addressed to the caller; others' are "not found", not "forbidden".
async fn own(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<Invitation> {
    const NOT_YOURS: &str = "invitation not found";
    verified(caller)?;
    let invitation = state
        .store
        .invitation_by_id(id)
        .await?
        .ok_or(ApiError::NotFound(NOT_YOURS))?;
    if addressed_to(caller, &invitation) {
        Ok(invitation)
    } else {
        Err(ApiError::NotFound(NOT_YOURS))
    }
}

/// `POST /v1/users/self/invitations/{id}/accept`.
#[utoipa::path(post, path = "/v1/users/self/invitations/{id}/accept", params(IdPath), responses(
    (status = 200, description = "Accepted; the caller's new membership.", body = Collaborator),
    (status = 409, description = "The caller is already a member of the app.", body = Problem, content_type = "application/problem+json"),
    (status = 410, description = "The invitation is no longer pending (accepted, declined, revoked or expired), or the access it grants has already ended.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn accept_mine(
    State(state): State<AppState>,
    caller: Caller,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<Json<Collaborator>> {
    let invitation = own(&state, &caller, id).await?;
    accept_invitation(&state, &caller, invitation).await.map(Json)
}

/// `POST /v1/users/self/invitations/{id}/decline`.
#[utoipa::path(post, path = "/v1/users/self/invitations/{id}/decline", params(IdPath), responses(
    (status = 204, description = "Declined."),
    (status = 410, description = "The invitation is no longer pending (accepted, declined, revoked or expired).", body = Problem, content_type = "application/problem+json"),
))]
pub async fn decline_mine(
    State(state): State<AppState>,
    caller: Caller,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<StatusCode> {
    let invitation = own(&state, &caller, id).await?;
    decline_invitation(&state, &caller, invitation).await
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, revoke, accept, decline, mine, accept_mine, decline_mine))]
pub struct Doc;
