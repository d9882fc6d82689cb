//! Accounts: what the store returns, and the rows it decodes them from.

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
    /// Whether the address is known to be the user's (an administrator typed it).
    pub email_verified: bool,
    /// The verification link and its mail, stored with the account.
    pub link: Option<super::NewLink>,
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
    /// Whether the owner of the address proved it (a verification link, or an invitation
    /// link sent to it). Listing one's invitations and accepting them by id need it.
    pub email_verified: bool,
    /// Whether two-factor authentication is on (`POST /v1/users/self/tfa/confirm`).
    pub tfa_enabled: bool,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UserRef {
    /// Id.
    pub id: Uuid,
    /// Email.
    pub email: String,
}

/// How a list names a person: `{id, email}`; for a reader who may not see the app's members
/// (no `collaborators.read`), anyone but the reader is `{id, name}` (the display name, `null`
/// when the account has none), with no address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Person {
    /// Id.
    pub id: Uuid,
    /// Email; absent when hidden from the reader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Display name, given instead of the email when the email is hidden from the reader.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
}

impl Person {
    /// Hides the address, naming the person by `name` instead.
    pub fn hide(&mut self, name: Option<String>) {
        self.email = None;
        self.name = Some(name);
    }
}

impl From<UserRef> for Person {
    fn from(user: UserRef) -> Person {
        Person {
            id: user.id,
            email: Some(user.email),
            name: None,
        }
    }
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
        /// When the JWT was issued (unix seconds): a password change can refuse older ones.
        issued_at: i64,
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
    /// JWTs of the token issued before this are refused.
    pub jwts_valid_from: Option<DateTime<Utc>>,
}

impl Caller {
    /// Whether `credential` is still good for this caller: a JWT issued before its token's
    /// `jwts_valid_from` (a password change that signed out every session) is not. `iat` has
    /// whole seconds, so a JWT of the very second of the change is refused too: erring that
    /// way costs a client one more exchange, the other way would keep a stolen JWT alive.
    pub fn accepts(&self, credential: &Credential) -> bool {
        match (credential, self.jwts_valid_from) {
            (Credential::Jwt { issued_at, .. }, Some(from)) => *issued_at > from.timestamp(),
            _ => true,
        }
    }
}

// --- rows: flat, as SQL returns them ---

/// A user reference from the two nullable columns of an outer join.
pub(in crate::store) fn user_ref(id: Option<Uuid>, email: Option<String>) -> Option<UserRef> {
    Some(UserRef { id: id?, email: email? })
}

pub(in crate::store) fn person(id: Option<Uuid>, email: Option<String>) -> Option<Person> {
    user_ref(id, email).map(Person::from)
}

#[derive(FromRow)]
pub(in crate::store) struct UserLoginRow {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: Option<String>,
}

#[derive(FromRow)]
pub(in crate::store) struct CallerRow {
    pub user_id: Uuid,
    pub user_email: String,
    pub user_name: Option<String>,
    pub user_created_at: DateTime<Utc>,
    pub user_email_verified: bool,
    pub user_tfa_enabled: bool,
    pub jwts_valid_from: Option<DateTime<Utc>>,
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
                email_verified: r.user_email_verified,
                tfa_enabled: r.user_tfa_enabled,
            },
            token_id: r.token_id,
            token_last_used_at: r.token_last_used_at,
            scope: TokenScope {
                permissions: r.scope_permissions.map(|j| j.0),
                apps: r.scope_apps.map(|j| j.0),
            },
            jwts_valid_from: r.jwts_valid_from,
        }
    }
}

#[derive(FromRow)]
pub(in crate::store) struct ApiTokenRow {
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
