//! What the store returns, and the flat rows it decodes them from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use uuid::Uuid;

use crate::authz::{Permission, PermissionSet, Role};
use crate::domain::Email;

/// A new account.
pub struct NewUser<'a> {
    /// Chosen by the caller (UUIDv7).
    pub id: Uuid,
    /// Normalised email.
    pub email: &'a Email,
    /// Display name.
    pub name: Option<&'a str>,
    /// Argon2 PHC string; `None` for accounts that only use API tokens.
    pub password_hash: Option<&'a str>,
    /// Creation time.
    pub now: DateTime<Utc>,
}

/// An account as the API shows it.
#[derive(Clone, Debug, Serialize, FromRow, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub id: Uuid,
    /// Email, lower case.
    pub email: String,
    /// Display name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The short reference used in other resources.
    pub fn to_ref(&self) -> UserRef {
        UserRef {
            id: self.id,
            email: self.email.clone(),
        }
    }
}

/// A user with the hash to check a password against.
pub struct UserLogin {
    /// The account.
    pub user: User,
    /// Argon2 PHC string, if the account has a password.
    pub password_hash: Option<String>,
}

/// `{id, email}`: how one resource names a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserRef {
    /// Id.
    pub id: Uuid,
    /// Email.
    pub email: String,
}

/// A new API token: only its hash is stored.
pub struct NewToken<'a> {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Label.
    pub name: &'a str,
    /// SHA-256 of the secret.
    pub hash: &'a [u8],
    /// Optional end of validity.
    pub expires_at: Option<DateTime<Utc>>,
    /// What the token may do, at most.
    pub scope: &'a TokenScope,
    /// Creation time.
    pub now: DateTime<Utc>,
}

/// An API token as listed (never the secret).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    /// Id.
    pub id: Uuid,
    /// Label.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// End of validity.
    #[schema(required = true)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Last use, to the minute.
    #[schema(required = true)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// Permissions the token is limited to (`null`: its user's roles decide alone).
    #[schema(required = true)]
    pub permissions: Option<Vec<Permission>>,
    /// Apps the token is limited to, by id (`null`: every app of its user).
    #[schema(required = true)]
    pub apps: Option<Vec<Uuid>>,
}

/// What an API token (and every JWT exchanged from it) may do, at most. A request is
/// allowed only when the caller's role allows it *and* the scope does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenScope {
    /// `None`: any permission the role holds.
    pub permissions: Option<Vec<Permission>>,
    /// `None`: any app the user is a member of.
    pub apps: Option<Vec<Uuid>>,
}

impl TokenScope {
    /// Whether the scope restricts anything.
    pub fn is_scoped(&self) -> bool {
        self.permissions.is_some() || self.apps.is_some()
    }

    /// Whether the scope includes `permission`.
    pub fn allows_permission(&self, permission: Permission) -> bool {
        self.permissions.as_ref().is_none_or(|ps| ps.contains(&permission))
    }

    /// Whether the scope includes the app.
    pub fn allows_app(&self, app_id: Uuid) -> bool {
        self.apps.as_ref().is_none_or(|apps| apps.contains(&app_id))
    }

    /// The permissions of `role` that the scope leaves.
    pub fn effective(&self, role: Role) -> PermissionSet {
        match &self.permissions {
            None => role.permissions(),
            Some(ps) => role.permissions().intersect(ps.iter().copied().collect()),
        }
    }

    /// What both scopes allow: scope only ever narrows.
    pub fn narrow(&self, other: &TokenScope) -> TokenScope {
        fn both<T: PartialEq + Clone>(a: &Option<Vec<T>>, b: &Option<Vec<T>>) -> Option<Vec<T>> {
            match (a, b) {
                (None, None) => None,
                (Some(x), None) | (None, Some(x)) => Some(x.clone()),
                (Some(x), Some(y)) => Some(x.iter().filter(|v| y.contains(v)).cloned().collect()),
            }
        }
        TokenScope {
            permissions: both(&self.permissions, &other.permissions),
            apps: both(&self.apps, &other.apps),
        }
    }
}

/// A credential presented on a request, already verified as far as it can be without the store.
#[derive(Clone, Debug)]
pub enum Credential {
    /// A JWT whose signature and claims checked out; it names the API token it came from.
    Jwt {
        /// The API token the JWT was exchanged from; revoking it revokes the JWT.
        token_id: Uuid,
    },
    /// An API token used directly as the bearer: the SHA-256 of its secret.
    ApiToken {
        /// SHA-256 of the secret.
        hash: [u8; 32],
    },
}

/// The authenticated user behind a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// The API token behind the credential.
    pub token_id: Uuid,
    /// When that token was last recorded as used.
    pub token_last_used_at: Option<DateTime<Utc>>,
    /// What the token may do, at most.
    pub scope: TokenScope,
}

/// `{app}` in a path: an id or a name.
#[derive(Clone, Debug)]
pub enum AppRef {
    /// A UUID.
    Id(Uuid),
    /// A name (names are never UUIDs).
    Name(String),
}

impl AppRef {
    /// Reads a path segment.
    pub fn parse(raw: &str) -> AppRef {
        match Uuid::try_parse(raw) {
            Ok(id) => AppRef::Id(id),
            Err(_) => AppRef::Name(raw.to_owned()),
        }
    }
}

/// An app.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct App {
    /// Id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// Branch that `redeploy` deploys.
    pub default_branch: String,
    /// The one owner.
    pub owner: UserRef,
    /// The containers the app runs (`POST /scale` changes it).
    pub formation: Vec<Container>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change of the app's own fields.
    pub updated_at: DateTime<Utc>,
}

/// One line of the formation: how many containers of a type, and their size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// Process type, such as `web` or `worker`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Number of containers.
    pub amount: u32,
    /// Container size, such as `M` or `2XL`.
    pub size: String,
}

/// A user's membership of an app.
#[derive(Clone, Copy, Debug)]
pub struct Membership {
    /// The collaborator row's id.
    pub id: Uuid,
    /// The role.
    pub role: Role,
    /// When the membership ends, if it is time-bound.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl Membership {
    /// Whether time-bound access has ended at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.access_expires_at.is_some_and(|at| at <= now)
    }
}

/// An app and the caller's membership of it, if any.
#[derive(Clone, Debug)]
pub struct AppAccess {
    /// The app.
    pub app: App,
    /// `None` when the caller is not a member.
    pub membership: Option<Membership>,
    /// When the caller last exercised the permission asked about.
    pub permission_last_used_at: Option<DateTime<Utc>>,
}

/// An app with the listing user's role.
#[derive(Clone, Debug)]
pub struct AppWithRole {
    /// The app.
    pub app: App,
    /// The user's role.
    pub role: Role,
}

/// A member of an app.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Collaborator {
    /// Membership id (the `{id}` of collaborator routes).
    pub id: Uuid,
    /// App.
    pub app_id: Uuid,
    /// Member.
    pub user_id: Uuid,
    /// Member's email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// `accepted`, or `expired` once time-bound access has ended (until the sweep removes it).
    pub status: &'static str,
    /// Who invited them (`null` for the app's creator).
    #[schema(required = true)]
    pub invited_by: Option<UserRef>,
    /// When they joined.
    pub created_at: DateTime<Utc>,
    /// When they last used the app (to the minute).
    #[schema(required = true)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When time-bound access ends.
    #[schema(required = true)]
    pub access_expires_at: Option<DateTime<Utc>>,
}

impl Collaborator {
    /// Marks a membership past its end as `expired`.
    pub fn at(mut self, now: DateTime<Utc>) -> Collaborator {
        if self.access_expires_at.is_some_and(|at| at <= now) {
            self.status = "expired";
        }
        self
    }
}

/// A new invitation: only the token's hash is stored.
pub struct NewInvitation<'a> {
    /// Id.
    pub id: Uuid,
    /// App.
    pub app: &'a App,
    /// Invited email.
    pub email: &'a Email,
    /// Role given on acceptance.
    pub role: Role,
    /// SHA-256 of the token.
    pub token_hash: &'a [u8],
    /// Inviter.
    pub invited_by: &'a UserRef,
    /// Creation time.
    pub now: DateTime<Utc>,
    /// End of validity.
    pub expires_at: DateTime<Utc>,
    /// End of the membership it grants, if time-bound.
    pub access_expires_at: Option<DateTime<Utc>>,
}

/// An invitation (never its token).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    /// Id.
    pub id: Uuid,
    /// App.
    pub app_id: Uuid,
    /// App name at the time of reading.
    pub app_name: String,
    /// Invited email.
    pub email: String,
    /// Role given on acceptance.
    pub role: Role,
    /// `pending`, `accepted`, `declined`, `revoked` or `expired`.
    pub status: String,
    /// Inviter.
    #[schema(required = true)]
    pub invited_by: Option<UserRef>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// End of validity.
    pub expires_at: DateTime<Utc>,
    /// End of the membership it grants, if time-bound.
    #[schema(required = true)]
    pub access_expires_at: Option<DateTime<Utc>>,
}

impl Invitation {
    /// Whether it can still be accepted at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.status == "pending" && self.expires_at > now
    }

    /// Marks a pending invitation past its end as `expired`, as readers expect.
    pub fn at(mut self, now: DateTime<Utc>) -> Invitation {
        if self.status == "pending" && self.expires_at <= now {
            self.status = "expired".to_owned();
        }
        self
    }
}

/// What accepting an invitation did.
#[derive(Debug)]
pub enum Accepted {
    /// The caller is now a member.
    Member(Collaborator),
    /// The invitation was no longer pending (used, declined, revoked or expired).
    NotPending,
    /// The caller was already a member of the app.
    AlreadyMember,
}

/// An entry of an app's activity timeline.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// Id (time-ordered).
    pub id: Uuid,
    /// App.
    #[schema(required = true)]
    pub app_id: Option<Uuid>,
    /// App name when it happened.
    pub app_name: String,
    /// What happened, such as `collaborator.role_changed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who did it; `null` for the platform.
    #[schema(required = true)]
    pub actor: Option<UserRef>,
    /// Details.
    pub data: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
    /// A sealed secret detail (a variable's value), shown only to members allowed to see it.
    #[serde(skip)]
    pub secret: Option<Vec<u8>>,
}

/// An event to write in the transaction of the change it records.
pub struct NewEvent<'a> {
    /// App.
    pub app_id: Uuid,
    /// App name.
    pub app_name: &'a str,
    /// Who did it.
    pub actor: Option<&'a UserRef>,
    /// What happened.
    pub kind: &'static str,
    /// Details.
    pub data: serde_json::Value,
    /// A sealed secret detail.
    pub secret: Option<&'a [u8]>,
    /// When.
    pub now: DateTime<Utc>,
}

// --- rows: flat, as SQL returns them ---

fn user_ref(id: Option<Uuid>, email: Option<String>) -> Option<UserRef> {
    Some(UserRef { id: id?, email: email? })
}

#[derive(FromRow)]
pub(super) struct AppRow {
    pub id: Uuid,
    pub name: String,
    pub default_branch: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub owner_id: Uuid,
    pub owner_email: String,
    pub formation: sqlx::types::Json<Vec<Container>>,
}

impl From<AppRow> for App {
    fn from(r: AppRow) -> App {
        App {
            id: r.id,
            name: r.name,
            default_branch: r.default_branch,
            owner: UserRef {
                id: r.owner_id,
                email: r.owner_email,
            },
            formation: r.formation.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(FromRow)]
pub(super) struct AppWithRoleRow {
    #[sqlx(flatten)]
    pub app: AppRow,
    #[sqlx(try_from = "String")]
    pub role: Role,
}

#[derive(FromRow)]
pub(super) struct UserLoginRow {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: Option<String>,
}

#[derive(FromRow)]
pub(super) struct CallerRow {
    pub user_id: Uuid,
    pub user_email: String,
    pub user_name: Option<String>,
    pub user_created_at: DateTime<Utc>,
    pub token_id: Uuid,
    pub token_last_used_at: Option<DateTime<Utc>>,
    pub scope_permissions: Option<sqlx::types::Json<Vec<Permission>>>,
    pub scope_apps: Option<sqlx::types::Json<Vec<Uuid>>>,
}

impl From<CallerRow> for Caller {
    fn from(r: CallerRow) -> Caller {
        Caller {
            user: User {
                id: r.user_id,
                email: r.user_email,
                name: r.user_name,
                created_at: r.user_created_at,
            },
            token_id: r.token_id,
            token_last_used_at: r.token_last_used_at,
            scope: TokenScope {
                permissions: r.scope_permissions.map(|j| j.0),
                apps: r.scope_apps.map(|j| j.0),
            },
        }
    }
}

#[derive(FromRow)]
pub(super) struct AccessRow {
    #[sqlx(flatten)]
    pub caller: CallerRow,
    pub app_id: Option<Uuid>,
    pub app_name: Option<String>,
    pub default_branch: Option<String>,
    pub app_created_at: Option<DateTime<Utc>>,
    pub app_updated_at: Option<DateTime<Utc>>,
    pub owner_id: Option<Uuid>,
    pub owner_email: Option<String>,
    pub formation: Option<sqlx::types::Json<Vec<Container>>>,
    pub membership_id: Option<Uuid>,
    pub role: Option<String>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub membership_last_used_at: Option<DateTime<Utc>>,
    pub permission_last_used_at: Option<DateTime<Utc>>,
}

impl AccessRow {
    pub fn split(self) -> (Caller, Option<AppAccess>) {
        let caller = Caller::from(self.caller);
        let app = (|| {
            Some(App {
                id: self.app_id?,
                name: self.app_name?,
                default_branch: self.default_branch?,
                owner: user_ref(self.owner_id, self.owner_email)?,
                formation: self.formation?.0,
                created_at: self.app_created_at?,
                updated_at: self.app_updated_at?,
            })
        })();
        let membership = (|| {
            Some(Membership {
                id: self.membership_id?,
                role: Role::parse(self.role.as_deref()?)?,
                access_expires_at: self.access_expires_at,
                last_used_at: self.membership_last_used_at,
            })
        })();
        let permission_last_used_at = self.permission_last_used_at;
        (
            caller,
            app.map(|app| AppAccess {
                app,
                membership,
                permission_last_used_at,
            }),
        )
    }
}

#[derive(FromRow)]
pub(super) struct CollaboratorRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub invited_by_id: Option<Uuid>,
    pub invited_by_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub access_expires_at: Option<DateTime<Utc>>,
}

impl From<CollaboratorRow> for Collaborator {
    fn from(r: CollaboratorRow) -> Collaborator {
        Collaborator {
            id: r.id,
            app_id: r.app_id,
            user_id: r.user_id,
            email: r.email,
            role: r.role,
            status: "accepted",
            invited_by: user_ref(r.invited_by_id, r.invited_by_email),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            access_expires_at: r.access_expires_at,
        }
    }
}

#[derive(FromRow)]
pub(super) struct InvitationRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub app_name: String,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub status: String,
    pub invited_by_id: Option<Uuid>,
    pub invited_by_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub access_expires_at: Option<DateTime<Utc>>,
}

impl From<InvitationRow> for Invitation {
    fn from(r: InvitationRow) -> Invitation {
        Invitation {
            id: r.id,
            app_id: r.app_id,
            app_name: r.app_name,
            email: r.email,
            role: r.role,
            status: r.status,
            invited_by: user_ref(r.invited_by_id, r.invited_by_email),
            created_at: r.created_at,
            expires_at: r.expires_at,
            access_expires_at: r.access_expires_at,
        }
    }
}

#[derive(FromRow)]
pub(super) struct EventRow {
    pub id: Uuid,
    pub app_id: Option<Uuid>,
    pub app_name: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub data: sqlx::types::Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub secret: Option<Vec<u8>>,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Event {
        Event {
            id: r.id,
            app_id: r.app_id,
            app_name: r.app_name,
            kind: r.kind,
            actor: user_ref(r.actor_id, r.actor_email),
            data: r.data.0,
            created_at: r.created_at,
            secret: r.secret,
        }
    }
}

// --- the app's resources ---

/// A variable as stored: its value sealed.
#[derive(Clone, Debug, FromRow)]
pub struct StoredVariable {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Sealed value.
    pub value_sealed: Vec<u8>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A variable to set.
pub struct NewVariable {
    /// Name.
    pub name: String,
    /// Sealed value.
    pub sealed: Vec<u8>,
}

/// A deployment.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Deployment {
    /// Id.
    pub id: Uuid,
    /// App.
    pub app_id: Uuid,
    /// Branch, tag or commit deployed.
    pub git_ref: String,
    /// `deploy` (any ref) or `redeploy` (the default branch).
    pub kind: String,
    /// `queued`, `building`, ... as the platform reports.
    pub status: String,
    /// Who asked for it.
    #[schema(required = true)]
    pub requested_by: Option<UserRef>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it reached a final status.
    #[schema(required = true)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// A deployment to request.
pub struct NewDeployment<'a> {
    /// Ref to deploy.
    pub git_ref: &'a str,
    /// `deploy` or `redeploy`.
    pub kind: &'static str,
    /// `Idempotency-Key` of the request, if any.
    pub idempotency_key: Option<&'a str>,
}

/// A line of an app's log.
#[derive(Clone, Debug, Serialize, FromRow, utoipa::ToSchema)]
pub struct LogLine {
    /// When it was written.
    pub timestamp: DateTime<Utc>,
    /// Where it came from (`web-1`, `router`, `build`...).
    pub source: String,
    /// The text.
    pub message: String,
}

/// A metric sample.
#[derive(Clone, Debug, Serialize, FromRow, utoipa::ToSchema)]
pub struct MetricPoint {
    /// When.
    pub time: DateTime<Utc>,
    /// Value.
    pub value: f64,
}

/// A metric sample with its kind, as the platform sends it.
pub struct MetricSample {
    /// `cpu`, `memory` or `requests`.
    pub kind: &'static str,
    /// When.
    pub time: DateTime<Utc>,
    /// Value.
    pub value: f64,
}

/// An add-on (a database, a cache...).
#[derive(Clone, Debug, Serialize, FromRow, utoipa::ToSchema)]
pub struct Addon {
    /// Id.
    pub id: Uuid,
    /// App.
    pub app_id: Uuid,
    /// Provider, such as `postgresql`.
    pub provider: String,
    /// Plan.
    pub plan: String,
    /// `provisioning`, `running` or `updating`.
    pub status: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// An order for the platform, written in the transaction of the change that asks for it.
pub struct NewOrder {
    /// Order type, such as `deployment.create`.
    pub kind: &'static str,
    /// Type-specific details.
    pub data: serde_json::Value,
}

/// An order in the outbox.
#[derive(Clone, Debug, Serialize, FromRow, utoipa::ToSchema)]
pub struct Order {
    /// Stable id the receiver deduplicates on.
    pub id: Uuid,
    /// Order type.
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// The JSON body delivered.
    #[sqlx(json)]
    pub payload: serde_json::Value,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// When it was delivered.
    #[schema(required = true)]
    pub delivered_at: Option<DateTime<Utc>>,
    /// The last delivery error.
    #[schema(required = true)]
    pub last_error: Option<String>,
}

#[derive(FromRow)]
pub(super) struct DeploymentRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub git_ref: String,
    pub kind: String,
    pub status: String,
    pub requested_by: Option<Uuid>,
    pub requested_by_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<DeploymentRow> for Deployment {
    fn from(r: DeploymentRow) -> Deployment {
        Deployment {
            id: r.id,
            app_id: r.app_id,
            git_ref: r.git_ref,
            kind: r.kind,
            status: r.status,
            requested_by: user_ref(r.requested_by, r.requested_by_email),
            created_at: r.created_at,
            finished_at: r.finished_at,
        }
    }
}

#[derive(FromRow)]
pub(super) struct ApiTokenRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub scope_permissions: Option<sqlx::types::Json<Vec<Permission>>>,
    pub scope_apps: Option<sqlx::types::Json<Vec<Uuid>>>,
}

impl From<ApiTokenRow> for ApiToken {
    fn from(r: ApiTokenRow) -> ApiToken {
        ApiToken {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            permissions: r.scope_permissions.map(|j| j.0),
            apps: r.scope_apps.map(|j| j.0),
        }
    }
}
