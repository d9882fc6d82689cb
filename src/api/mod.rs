//! HTTP handlers, one module per resource, and the router built from them.

pub mod accept;
pub mod access;
pub mod addons;
pub mod apps;
pub mod audit;
pub mod autoscalers;
pub mod collaborators;
pub mod cron_jobs;
pub mod csv;
pub mod cursor;
pub mod databases;
pub mod deployments;
pub mod extract;
pub mod health;
pub mod internal;
pub mod invitations;
pub mod lifecycle;
pub mod links;
pub mod log_archives;
pub mod log_drains;
pub mod one_offs;
pub mod openapi;
pub mod operations;
pub mod passwords;
pub mod records;
pub mod requests;
pub mod review;
pub mod review_apps;
pub mod roles;
pub mod scm;
pub mod settings;
pub mod support;
pub mod telemetry;
pub mod tfa;
pub mod tokens;
pub mod users;
pub mod variables;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodFilter, MethodRouter, delete, get, patch, post, put};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::authz::routes::{ROUTES, Verb};
use crate::error::ApiError;
use crate::state::AppState;

/// Every route. Each path and method must also be in [`crate::authz::routes::ROUTES`],
/// or the authorization layer refuses it; the routes the table declares with a generic
/// handler (platform requests) are mounted from it.
pub fn routes() -> Router<AppState> {
    let declared = ROUTES
        .iter()
        .filter_map(|spec| spec.declared.map(|declared| (spec, declared)))
        .fold(Router::new(), |router, (spec, declared)| {
            router.route(spec.path, (declared.mount)(spec.verb))
        });
    declared
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/v1/openapi.json", get(openapi::spec))
        .route("/v1/users", post(users::create))
        .route("/v1/users/verify-email", post(users::verify_email))
        .route("/v1/users/password-reset", post(passwords::request_reset))
        .route("/v1/users/password-reset/confirm", post(passwords::confirm_reset))
        .route("/v1/users/self", get(users::me))
        .route("/v1/users/self/verify-email/resend", post(users::resend_verification))
        .route("/v1/users/self/password", put(passwords::change))
        .route("/v1/users/self/security-events", get(users::security_events))
        .route("/v1/users/self/tfa", post(tfa::enrol).delete(tfa::disable))
        .route("/v1/users/self/tfa/confirm", post(tfa::confirm))
        .route("/v1/users/self/tfa/recovery-codes", post(tfa::recovery_codes))
        .route("/v1/apps/{app}/security", put(tfa::set_security))
        .route("/v1/users/self/access", get(access::mine))
        .route("/v1/access/check", post(access::check))
        .route("/v1/access-review", get(review::review))
        .route("/v1/access-review/apply", post(review::apply))
        .route("/v1/events", get(audit::events))
        .route("/v1/users/self/invitations", get(invitations::mine))
        .route("/v1/users/self/invitations/{id}/accept", post(invitations::accept_mine))
        .route(
            "/v1/users/self/invitations/{id}/decline",
            post(invitations::decline_mine),
        )
        .route(
            "/v1/tokens",
            post(tokens::create).get(tokens::list).delete(tokens::revoke_all),
        )
        .route("/v1/tokens/{id}", delete(tokens::revoke))
        .route("/v1/tokens/exchange", post(tokens::exchange))
        .route("/v1/roles", get(roles::list))
        .route("/v1/roles/{role}", get(roles::show))
        .route("/v1/invitations/accept", post(invitations::accept))
        .route("/v1/invitations/decline", post(invitations::decline))
        .route("/v1/apps", post(apps::create).get(apps::list))
        .route(
            "/v1/apps/{app}",
            get(apps::show).patch(apps::update).delete(apps::destroy),
        )
        .route("/v1/apps/{app}/rename", post(apps::rename))
        .route("/v1/apps/{app}/stack", put(lifecycle::change_stack))
        .route("/v1/apps/{app}/one-offs/{id}/attach", post(one_offs::attach))
        .route("/v1/apps/{app}/review-apps/{id}/redeploy", post(review_apps::redeploy))
        .route("/v1/apps/{app}/logs/archives/{id}", get(log_archives::download))
        .route(
            "/v1/apps/{app}/support-access",
            get(support::show_support_access)
                .post(support::grant_support_access)
                .delete(support::revoke_support_access),
        )
        .route(
            "/v1/apps/{app}/scm-link",
            get(scm::show_scm_link).put(scm::link_scm).delete(scm::unlink_scm),
        )
        .route("/v1/apps/{app}/scm-link/auto-deploy", put(scm::auto_deploy))
        .route(
            "/v1/apps/{app}/children",
            post(lifecycle::create_child).get(lifecycle::children),
        )
        .route("/v1/apps/{app}/transfer", post(apps::transfer))
        .route("/v1/apps/{app}/permissions", get(apps::permissions))
        .route("/v1/apps/{app}/events", get(apps::events))
        .route("/v1/apps/{app}/collaborators", get(collaborators::list))
        .route(
            "/v1/apps/{app}/collaborators/{id}",
            patch(collaborators::update).delete(collaborators::remove),
        )
        .route(
            "/v1/apps/{app}/invitations",
            post(invitations::create).get(invitations::list),
        )
        .route("/v1/apps/{app}/invitations/{id}", delete(invitations::revoke))
        .route(
            "/v1/apps/{app}/variables",
            get(variables::list)
                .put(variables::put_many)
                .layer(DefaultBodyLimit::max(variables::BODY_LIMIT)),
        )
        .route(
            "/v1/apps/{app}/variables/{name}",
            get(variables::show)
                .put(variables::put)
                .delete(variables::delete)
                .layer(DefaultBodyLimit::max(variables::BODY_LIMIT)),
        )
        .route(
            "/v1/apps/{app}/deployments",
            get(deployments::list).post(deployments::create),
        )
        .route("/v1/apps/{app}/deployments/redeploy", post(deployments::redeploy))
        .route("/v1/apps/{app}/deployments/{id}", get(deployments::show))
        .route("/v1/apps/{app}/deployments/{id}/output", get(deployments::output))
        .route("/v1/apps/{app}/scale", post(operations::scale))
        .route("/v1/apps/{app}/logs", get(telemetry::logs))
        .route("/v1/apps/{app}/metrics", get(telemetry::metrics))
        .route("/v1/apps/{app}/addons", get(addons::list).post(addons::create))
        .route(
            "/v1/apps/{app}/addons/{id}",
            patch(addons::update).delete(addons::delete),
        )
        .route("/v1/apps/{app}/addons/{id}/credentials", get(addons::credentials))
        .route(
            "/internal/v1/apps/{app}/log-drains",
            get(log_drains::platform_log_drains),
        )
        .route(
            "/internal/v1/apps/{app}/support-access",
            get(support::platform_support_access),
        )
        .route("/internal/v1/one-offs/attach/verify", post(one_offs::verify_attach))
        .route(
            "/internal/v1/one-offs/{id}/status",
            post(one_offs::report_one_off_status),
        )
        .route("/internal/v1/apps/{app}/cron-jobs", put(cron_jobs::replace))
        .route("/internal/v1/apps/{app}/logs/archives", post(log_archives::report))
        .route("/internal/v1/apps/{app}/review-apps", post(review_apps::from_scm))
        .route("/internal/v1/orders", get(internal::orders))
        .route("/internal/v1/orders/{id}/ack", post(internal::ack_order))
        .route(
            "/internal/v1/deployments/{id}/status",
            post(internal::deployment_status),
        )
        .route(
            "/internal/v1/apps/{app}/logs",
            post(internal::logs).layer(DefaultBodyLimit::max(internal::BODY_LIMIT)),
        )
        .route(
            "/internal/v1/apps/{app}/metrics",
            post(internal::metrics).layer(DefaultBodyLimit::max(internal::BODY_LIMIT)),
        )
        .route(
            "/internal/v1/addons/{id}/provisioned",
            post(internal::addon_provisioned),
        )
        .route("/internal/v1/requests/{id}/status", post(requests::report_status))
        .merge(database_routes())
}

/// The add-on dashboards and database operations (issue 13).
fn database_routes() -> Router<AppState> {
    const DB: &str = "/v1/apps/{app}/addons/{id}/database";
    Router::new()
        .route("/v1/apps/{app}/addons/{id}/dashboard", post(databases::addon_dashboard))
        .route(&format!("{DB}/dashboard"), post(databases::database_dashboard))
        .route(
            &format!("{DB}/backups"),
            get(databases::list_backups).post(databases::create_backup),
        )
        .route(
            &format!("{DB}/backups/{{backup_id}}/download"),
            post(databases::download_backup),
        )
        .route(
            &format!("{DB}/backups/{{backup_id}}/restore"),
            post(databases::restore_backup),
        )
        .route(&format!("{DB}/pitr-restore"), post(databases::restore_pitr))
        .route(&format!("{DB}/logs"), get(databases::logs))
        .route(&format!("{DB}/metrics"), get(databases::metrics))
        .route(
            &format!("{DB}/config"),
            get(databases::read_config).patch(databases::patch_config),
        )
        .route(
            &format!("{DB}/users"),
            get(databases::list_users).post(databases::create_user),
        )
        .route(&format!("{DB}/users/{{name}}"), delete(databases::delete_user))
        .route(&format!("{DB}/upgrades/minor"), post(databases::upgrade_minor))
        .route(&format!("{DB}/upgrades/major"), post(databases::upgrade_major))
        .route("/internal/v1/dashboard-links/verify", post(databases::verify_link))
        .route(
            "/internal/v1/addons/{id}/database/backups",
            post(databases::report_backup),
        )
        .route(
            "/internal/v1/addons/{id}/database/logs",
            post(databases::report_logs).layer(DefaultBodyLimit::max(internal::BODY_LIMIT)),
        )
        .route(
            "/internal/v1/addons/{id}/database/metrics",
            post(databases::report_metrics).layer(DefaultBodyLimit::max(internal::BODY_LIMIT)),
        )
        .route(
            "/internal/v1/addons/{id}/database/users",
            get(databases::platform_users),
        )
}

/// A route whose handler is generic over a type (a platform request, a setting): what its
/// line in the route table keeps to mount the handler and to describe it.
#[derive(Clone, Copy, Debug)]
pub struct Declared {
    /// The handler, for a method.
    pub mount: fn(Verb) -> MethodRouter<AppState>,
    /// Its OpenAPI operation (before what the route table adds: summary, security, errors).
    pub operation: fn() -> utoipa::openapi::path::Operation,
    /// The schemas its operation refers to, by name.
    pub schemas: fn() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
}

/// `T`'s schema with those it refers to, named, for [`Declared::schemas`].
pub fn schemas_of<T: utoipa::ToSchema>() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)> {
    let mut schemas = vec![(T::name().into_owned(), T::schema())];
    T::schemas(&mut schemas);
    schemas
}

/// The method filter of a route table verb.
pub fn method_filter(verb: Verb) -> MethodFilter {
    match verb {
        Verb::Get => MethodFilter::GET,
        Verb::Post => MethodFilter::POST,
        Verb::Put => MethodFilter::PUT,
        Verb::Patch => MethodFilter::PATCH,
        Verb::Delete => MethodFilter::DELETE,
    }
}

/// `{"items": [...]}`, with `next_cursor` on paginated lists.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    /// The page.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Option<String>>,
}

impl<T> Items<T> {
    /// An unpaginated list.
    pub fn all(items: Vec<T>) -> Items<T> {
        Items {
            items,
            next_cursor: None,
        }
    }

    /// One page of a list fetched with `limit + 1` rows: the extra row says there is more.
    pub fn page(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Items<T> {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = if more { items.last().map(cursor) } else { None };
        Items {
            items,
            next_cursor: Some(next),
        }
    }
}

/// `?limit=&cursor=` of paginated lists; any other parameter is refused (422).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page, as given (opaque).
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size, checked.
    pub fn limit(&self) -> Result<u32, ApiError> {
        page_limit(self.limit, 50, 200)
    }

    /// The row id the cursor of `list` stands for (for lists ordered by id).
    pub fn after_id(&self, state: &AppState, list: cursor::Listing) -> Result<Option<Uuid>, ApiError> {
        self.cursor
            .as_deref()
            .map(|c| cursor::id_of(&state.secrets, list, c))
            .transpose()
    }
}

/// A `limit` parameter: `default` when absent, else 1 to `max` (422 naming `limit`).
pub fn page_limit(limit: Option<i64>, default: u32, max: u32) -> Result<u32, ApiError> {
    let Some(limit) = limit else { return Ok(default) };
    u32::try_from(limit)
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| ApiError::invalid("limit", format!("must be between 1 and {max}")))
}

/// `{id}` in a path.
#[derive(Debug, Deserialize)]
pub struct IdParam {
    /// The id.
    pub id: Uuid,
}

/// For `Option<Option<T>>` fields: absent is `None`, `null` is `Some(None)`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
