//! Column lists and joins the SQL of several aggregates shares, as string-literal macros
//! so that `concat!` can build each statement at compile time.

/// Columns of an app with its owner; pairs with [`app_from!`] and decodes as `AppRow`.
macro_rules! app_columns {
    () => {
        "a.id, a.name, a.default_branch, a.created_at, a.updated_at, a.formation, a.status, a.stack, a.require_tfa, \
         (select p.name from apps p where p.id = a.parent_id) as parent_name, \
         ou.id as owner_id, ou.email as owner_email"
    };
}

macro_rules! app_from {
    () => {
        " from apps a \
          join collaborators o on o.app_id = a.id and o.role = 'owner' \
          join users ou on ou.id = o.user_id "
    };
}

macro_rules! caller_columns {
    () => {
        "u.id as user_id, u.email as user_email, u.name as user_name, \
         u.created_at as user_created_at, u.email_verified as user_email_verified, \
         (u.tfa_enabled_at is not null) as user_tfa_enabled, t.jwts_valid_from, \
         t.id as token_id, t.last_used_at as token_last_used_at, \
         t.scope_permissions, t.scope_apps"
    };
}

macro_rules! live_token {
    () => {
        " and t.revoked_at is null and (t.expires_at is null or t.expires_at > $2)"
    };
}

/// The columns of the access check behind every app route: the caller (`u`, `t`), the app
/// (`a`), the caller's membership (`m`), the app's owner (`ou`) and when the caller last used
/// the route's permission (`pu`). Decodes as `AccessRow`; pairs with [`access_joins!`].
macro_rules! access_columns {
    () => {
        concat!(
            $crate::store::columns::caller_columns!(),
            ", \
               a.id as app_id, a.name as app_name, a.default_branch, \
               a.created_at as app_created_at, a.updated_at as app_updated_at, \
               a.formation, a.status as app_status, a.stack, a.require_tfa, \
               (select p.name from apps p where p.id = a.parent_id) as parent_name, \
               ou.id as owner_id, ou.email as owner_email, \
               m.id as membership_id, m.role as role, m.access_expires_at, \
               m.last_used_at as membership_last_used_at, pu.last_used_at as permission_last_used_at"
        )
    };
}

/// The joins from the caller's user `u` and the app `a` to the rest of [`access_columns!`];
/// `$permission` is the route's permission. Postgres's arm makes the membership and the
/// permission's use lookups of their own (`lateral ... offset 0`): joined plainly, Postgres 15
/// looks the membership up by the user alone and filters on the app, reading every membership
/// of the caller on every request (92 rows for a member of 101 apps); as its own lookup, it is
/// one probe of the `(user_id, app_id)` index, however many apps the caller is in (a test in
/// `access_batch.rs` reads the plan of each statement to hold it so).
macro_rules! access_joins {
    (sqlite, $permission:literal) => {
        concat!(
            " left join collaborators m on m.app_id = a.id and m.user_id = u.id",
            $crate::store::columns::owner_join!(),
            " left join permission_usage pu on pu.membership_id = m.id and pu.permission = ",
            $permission,
            " "
        )
    };
    (postgres, $permission:literal) => {
        concat!(
            " left join lateral (select c.id, c.role, c.access_expires_at, c.last_used_at from collaborators c \
                 where c.user_id = u.id and c.app_id = a.id offset 0) m on true",
            $crate::store::columns::owner_join!(),
            " left join lateral (select p.last_used_at from permission_usage p \
                 where p.membership_id = m.id and p.permission = ",
            $permission,
            " offset 0) pu on true "
        )
    };
}

/// The app's owner (`ou`), for [`access_joins!`].
macro_rules! owner_join {
    () => {
        " left join collaborators o on o.app_id = a.id and o.role = 'owner' \
          left join users ou on ou.id = o.user_id"
    };
}

/// The access check of one request, in one round trip: `$1` is the credential, `$2` the
/// time, `$3` the app, `$4` the permission. (Postgres runs the same check for a batch of
/// requests at once: `store/access_batch.rs`.)
macro_rules! access_sql {
    ($credential:literal, $app:literal) => {
        concat!(
            "select ",
            $crate::store::columns::access_columns!(),
            " from api_tokens t \
              join users u on u.id = t.user_id \
              left join apps a on ",
            $app,
            $crate::store::columns::access_joins!(sqlite, "$4"),
            " where ",
            $credential,
            $crate::store::columns::live_token!()
        )
    };
}

macro_rules! collaborator_select {
    () => {
        "select c.id, c.app_id, c.user_id, u.email, c.role, \
                ib.id as invited_by_id, ib.email as invited_by_email, c.created_at, \
                c.last_used_at, c.access_expires_at, (u.tfa_enabled_at is not null) as tfa_enabled \
         from collaborators c \
         join users u on u.id = c.user_id \
         left join users ib on ib.id = c.invited_by "
    };
}

macro_rules! invitation_select {
    () => {
        "select i.id, i.app_id, a.name as app_name, i.email, i.role, i.status, \
                ib.id as invited_by_id, ib.email as invited_by_email, i.created_at, i.expires_at, \
                i.access_expires_at \
         from invitations i \
         join apps a on a.id = i.app_id \
         left join users ib on ib.id = i.invited_by "
    };
}

macro_rules! deployment_columns {
    () => {
        "select id, app_id, git_ref, kind, status, requested_by, requested_by_email, created_at, finished_at from deployments "
    };
}

macro_rules! addon_columns {
    () => {
        "id, app_id, provider, plan, status, created_at, updated_at"
    };
}

macro_rules! order_columns {
    () => {
        "id, type, payload, created_at, attempts, delivered_at, last_error"
    };
}

macro_rules! request_columns {
    () => {
        "id, app_id, type, target_id, status, message, order_id, created_at, updated_at"
    };
}

pub(crate) use {
    access_columns, access_joins, access_sql, addon_columns, app_columns, app_from, caller_columns,
    collaborator_select, deployment_columns, invitation_select, live_token, order_columns, owner_join, request_columns,
};
