//! The OpenAPI 3.1 contract, generated from the code: request and response bodies from the
//! handlers' `#[utoipa::path]` annotations and the types' `ToSchema` derives; summaries,
//! security, the permission each route needs and the problem+json errors that permission
//! implies from [`ROUTES`], the table the authorization layer enforces. Served at
//! `GET /v1/openapi.json` and committed as `docs/openapi.json` (a test compares them).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterIn};
use utoipa::openapi::schema::Type;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Object, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi};
use uuid::Uuid;

use super::*;
use crate::authz::Role;
use crate::authz::routes::{Access, ROUTES, RouteSpec, Verb};
use crate::domain::DeploymentStatus;
use crate::error::{FieldError, Problem};

/// `{app}` in a path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AppPath {
    /// The app's name or id.
    pub app: String,
}

/// `{app}` and `{id}` in a path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AppIdPath {
    /// The app's name or id.
    pub app: String,
    /// The id of the thing under the app.
    pub id: Uuid,
}

/// `{id}` in a path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// The id.
    pub id: Uuid,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rolegate",
        description = "Access control for a Platform-as-a-Service: owners, collaborators and limited \
                       collaborators on every app. Every error is `application/problem+json` (RFC 9457). \
                       Each operation's `x-rolegate-permission` names the permission it needs; \
                       `x-rolegate-roles` the roles that hold it.",
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((url = "http://127.0.0.1:8080", description = "A local server on the default `ROLEGATE_LISTEN`.")),
    paths(health::live, health::ready, spec),
    components(schemas(Problem, FieldError))
)]
struct ApiDoc;

/// The whole document: each handler module lists its own operations in its `Doc`, and
/// [`FromRouteTable`] then adds what the route table says about each.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for part in [
        users::Doc::openapi(),
        passwords::Doc::openapi(),
        tokens::Doc::openapi(),
        roles::Doc::openapi(),
        access::Doc::openapi(),
        review::Doc::openapi(),
        audit::Doc::openapi(),
        invitations::Doc::openapi(),
        apps::Doc::openapi(),
        collaborators::Doc::openapi(),
        variables::Doc::openapi(),
        deployments::Doc::openapi(),
        operations::Doc::openapi(),
        telemetry::Doc::openapi(),
        addons::Doc::openapi(),
        internal::Doc::openapi(),
        requests::Doc::openapi(),
        log_drains::Doc::openapi(),
        lifecycle::Doc::openapi(),
        support::Doc::openapi(),
        scm::Doc::openapi(),
        one_offs::Doc::openapi(),
        cron_jobs::Doc::openapi(),
        log_archives::Doc::openapi(),
        review_apps::Doc::openapi(),
        tfa::Doc::openapi(),
        databases::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    for spec in ROUTES {
        if let Some(declared) = spec.declared {
            let method = match spec.verb {
                Verb::Get => HttpMethod::Get,
                Verb::Post => HttpMethod::Post,
                Verb::Put => HttpMethod::Put,
                Verb::Patch => HttpMethod::Patch,
                Verb::Delete => HttpMethod::Delete,
            };
            doc.paths
                .add_path_operation(spec.path, vec![method], (declared.operation)());
            let components = doc.components.get_or_insert_with(Default::default);
            components.schemas.extend((declared.schemas)());
        }
    }
    FromRouteTable.modify(&mut doc);
    doc
}

/// The document, rendered once. utoipa keeps extensions in a `HashMap`, so they are put
/// in name order here: the same code always renders the same bytes.
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let mut value = serde_json::to_value(document()).unwrap_or_default();
    tidy(&mut value);
    if let Some(paths) = value.get_mut("paths").and_then(serde_json::Value::as_object_mut) {
        for item in paths.values_mut().filter_map(serde_json::Value::as_object_mut) {
            for fields in item.values_mut().filter_map(serde_json::Value::as_object_mut) {
                let (mut extensions, rest): (Vec<_>, Vec<_>) = std::mem::take(fields)
                    .into_iter()
                    .partition(|(k, _)| k.starts_with("x-"));
                extensions.sort_by(|a, b| a.0.cmp(&b.0));
                fields.extend(rest.into_iter().chain(extensions));
            }
        }
    }
    let mut json = serde_json::to_string_pretty(&value).unwrap_or_default();
    json.push('\n');
    json
});

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(get, path = "/v1/openapi.json", responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object)))]
pub async fn spec() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

/// The string fields whose values are a closed set that their Rust type (a plain string)
/// does not show: `(schema, property, values)`.
fn closed_sets() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    vec![
        (
            "Deployment",
            "status",
            DeploymentStatus::ALL.iter().map(|s| s.as_str()).collect(),
        ),
        ("Deployment", "kind", vec!["deploy", "redeploy"]),
        (
            "Invitation",
            "status",
            vec!["pending", "accepted", "declined", "revoked", "expired"],
        ),
        ("Collaborator", "status", vec!["accepted", "expired"]),
        ("Addon", "status", vec!["provisioning", "running", "updating"]),
        ("Applied", "action", vec!["remove", "set_role"]),
        ("Health", "status", vec!["ok", "unavailable"]),
        ("Health", "store", vec!["postgres", "sqlite"]),
    ]
}

/// What utoipa cannot say by itself: list wrappers refer to their item's schema instead of
/// inlining a copy (a generated client would get two classes for one object), closed sets
/// are enums, `{role}` is a `Role`, and no component is left that nothing refers to.
fn tidy(doc: &mut Value) {
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (name, schema) in doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flatten()
    {
        if let Some(item) = name.strip_prefix("Items_")
            && schemas.contains_key(item)
            && let Some(items) = schema.pointer_mut("/properties/items/items")
        {
            *items = json!({ "$ref": format!("#/components/schemas/{item}") });
        }
    }
    for (schema, property, values) in closed_sets() {
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        if let Some(Value::Object(field)) = doc.pointer_mut(&pointer) {
            let mut values: Vec<Value> = values.into_iter().map(Value::from).collect();
            if field.get("type").is_some_and(Value::is_array) {
                values.push(Value::Null);
            }
            field.insert("enum".into(), Value::Array(values));
        }
    }
    for item in doc
        .pointer_mut("/paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        let operations = item.as_object_mut().into_iter().flat_map(|o| o.values_mut());
        for parameter in operations
            .filter_map(|o| o.get_mut("parameters"))
            .filter_map(Value::as_array_mut)
            .flatten()
        {
            if parameter["in"] == "path" && parameter["name"] == "role" {
                parameter["schema"] = json!({ "$ref": "#/components/schemas/Role" });
            }
        }
    }
    drop_unused_components(doc);
}

/// Removes the schemas and responses that nothing outside `components` refers to, directly
/// or through other components.
fn drop_unused_components(doc: &mut Value) {
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    out.push(target.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut reached = std::collections::BTreeSet::new();
    let mut pending = Vec::new();
    for (key, value) in doc.as_object().into_iter().flatten() {
        if key != "components" {
            refs(value, &mut pending);
        }
    }
    while let Some(target) = pending.pop() {
        if reached.insert(target.clone())
            && let Some(component) = target.strip_prefix('#').and_then(|p| doc.pointer(p))
        {
            refs(component, &mut pending);
        }
    }
    for kind in ["schemas", "responses"] {
        if let Some(Value::Object(components)) = doc.pointer_mut(&format!("/components/{kind}")) {
            components.retain(|name, _| reached.contains(&format!("#/components/{kind}/{name}")));
        }
    }
}

/// A string schema that takes one of `values`: for fields and parameters whose Rust type is
/// a plain string with a closed set of values (`schema_with = ...`).
pub fn string_enum<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

/// Fills every operation from its row in [`ROUTES`].
struct FromRouteTable;

impl Modify for FromRouteTable {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let schemes = [
            (
                "bearer",
                HttpAuthScheme::Bearer,
                "A JWT from POST /v1/tokens/exchange, or an API token (`rg_...`) from POST /v1/tokens.",
            ),
            (
                "basic",
                HttpAuthScheme::Basic,
                "`email:password`, or an empty user name and an API token as password.",
            ),
            (
                "platform",
                HttpAuthScheme::Bearer,
                "The platform's shared secret, ROLEGATE_PLATFORM_TOKEN.",
            ),
        ];
        for (name, scheme, description) in schemes {
            let http = Http::builder().scheme(scheme).description(Some(description)).build();
            components
                .security_schemes
                .insert(name.into(), RefOr::T(SecurityScheme::Http(http)));
        }
        for (name, response) in problem_responses() {
            components.responses.insert(name.into(), RefOr::T(response));
        }

        for (path, item) in doc.paths.paths.iter_mut() {
            let operations = [
                (Verb::Get, &mut item.get),
                (Verb::Post, &mut item.post),
                (Verb::Put, &mut item.put),
                (Verb::Patch, &mut item.patch),
                (Verb::Delete, &mut item.delete),
            ];
            for (verb, operation) in operations {
                let Some(operation) = operation else { continue };
                // A path the table does not list stays bare; a test fails on it.
                if let Some(spec) = ROUTES.iter().find(|r| r.verb == verb && r.path == path) {
                    fill(operation, spec);
                }
            }
        }
    }
}

/// The problem responses every operation refers to, by name.
fn problem_responses() -> Vec<(&'static str, Response)> {
    let problem = |description: &str| {
        ResponseBuilder::new().description(description).content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
    };
    let string_header = |description: &str| {
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(description))
            .build()
    };
    vec![
        (
            "BadRequest",
            problem("The request is malformed: bad JSON, a bad query string or a bad id in the path.").build(),
        ),
        (
            "Unauthorized",
            problem("Credentials are missing, malformed, expired, wrongly signed or revoked.")
                .header("WWW-Authenticate", string_header("The scheme to authenticate with."))
                .build(),
        ),
        (
            "Forbidden",
            problem(
                "The caller's role lacks the permission (`missing-permission`, with `required_permission` and \
                 `role`), the API token's scope does (`token-scope`), or the app requires two-factor \
                 authentication of every member and the caller has it off (`tfa-required-by-app`).",
            )
            .build(),
        ),
        (
            "NotFound",
            problem(
                "No such resource, or the caller is not a member of the app: the body is the same whether or \
                 not the app exists.",
            )
            .build(),
        ),
        (
            "Conflict",
            problem("The request conflicts with the current state.").build(),
        ),
        (
            "Gone",
            problem("The thing existed but can no longer be used (an expired invitation).").build(),
        ),
        (
            "PayloadTooLarge",
            problem("The body is larger than the route accepts.").build(),
        ),
        (
            "UnsupportedMediaType",
            problem("The body is not `application/json`.").build(),
        ),
        (
            "UriTooLong",
            problem("The request target (path and query) is over 8 KiB; the connection is closed.").build(),
        ),
        (
            "Validation",
            problem(
                "Fields failed validation (`validation`; `errors` lists each one), or a quota would be exceeded \
                 (`quota-exceeded`, with `limit` and `max`).",
            )
            .build(),
        ),
        (
            "RateLimited",
            problem(
                "The caller asked the platform to act on this app more often than `orders_per_minute` allows \
                 (`rate-limited`, with `limit` and `max`); retry after the given delay.",
            )
            .header("Retry-After", string_header("Seconds to wait."))
            .build(),
        ),
        (
            "Unavailable",
            problem("The store is unreachable or saturated; retry after the given delay.")
                .header("Retry-After", string_header("Seconds to wait."))
                .build(),
        ),
    ]
}

/// Summary, tags, security, permission and problem responses of one operation.
fn fill(operation: &mut Operation, spec: &RouteSpec) {
    // The handler's doc comment (what utoipa put in summary/description) becomes the
    // description; the table's one-liner is the summary.
    let handler_doc = [operation.summary.take(), operation.description.take()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n\n");
    operation.summary = Some(spec.summary.into());

    let tag = tag_of(spec.path);
    let handler = operation.operation_id.take().unwrap_or_default();
    operation.operation_id = Some(format!("{tag}.{handler}"));
    operation.tags = Some(vec![tag.into()]);

    let mut extensions = ExtensionsBuilder::new().add("x-rolegate-access", access_name(spec.access));
    let requirement = match spec.access {
        Access::Public => None,
        Access::Basic => Some("basic"),
        Access::Platform => Some("platform"),
        Access::User | Access::AnyToken | Access::App(_) | Access::AppOrSelf(_) => Some("bearer"),
    };
    // A public operation says so with an empty list rather than by omission.
    operation.security = Some(
        requirement
            .map(|name| vec![SecurityRequirement::new(name, Vec::<String>::new())])
            .unwrap_or_default(),
    );

    let access_text = match spec.access {
        Access::Public => "No credentials needed.".to_owned(),
        Access::Basic => "HTTP Basic credentials.".to_owned(),
        Access::User => "Any signed-in user; an app-scoped API token is refused (403).".to_owned(),
        Access::AnyToken => "Any signed-in user, app-scoped API tokens included.".to_owned(),
        Access::Platform => "The platform token.".to_owned(),
        Access::App(p) | Access::AppOrSelf(p) => {
            let roles: Vec<&str> = Role::ALL.iter().filter(|r| r.can(p)).map(|r| r.as_str()).collect();
            extensions = extensions
                .add("x-rolegate-permission", p.as_str())
                .add("x-rolegate-roles", roles.clone());
            let mut text = format!(
                "Needs `{p}` on the app (held by: {}). Non-members get 404, members without the \
                 permission 403.",
                roles.join(", ")
            );
            if matches!(spec.access, Access::AppOrSelf(_)) {
                text.push_str(" Any member may do this to their own membership.");
            }
            text
        }
    };
    operation.description = Some(if handler_doc.is_empty() {
        access_text
    } else {
        format!("{handler_doc}\n\n{access_text}")
    });
    operation.extensions = Some(extensions.build());

    let mut problems: Vec<(&str, &str)> = Vec::new();
    let stored = !matches!(spec.path, "/healthz" | "/v1/openapi.json");
    if spec.access != Access::Public || operation.request_body.is_some() {
        problems.push(("400", "BadRequest"));
    }
    if spec.access != Access::Public {
        problems.push(("401", "Unauthorized"));
    }
    if matches!(spec.access, Access::User | Access::App(_) | Access::AppOrSelf(_)) {
        problems.push(("403", "Forbidden"));
    }
    // The platform's routes are 404 when no platform token is configured.
    if matches!(spec.access, Access::App(_) | Access::AppOrSelf(_) | Access::Platform) || spec.path.contains('{') {
        problems.push(("404", "NotFound"));
    }
    if operation.request_body.is_some() {
        problems.extend([
            ("413", "PayloadTooLarge"),
            ("415", "UnsupportedMediaType"),
            ("422", "Validation"),
        ]);
    } else if has_query(operation) || returns_list(operation) {
        // Query parameters are checked like body fields (`limit` out of range, say), and a list
        // refuses a parameter it does not take.
        problems.push(("422", "Validation"));
    }
    // A path parameter or a query a client fills can make the target too long.
    if spec.path.contains('{') || has_query(operation) {
        problems.push(("414", "UriTooLong"));
    }
    if queues_orders(operation, spec) {
        problems.push(("429", "RateLimited"));
    }
    if stored && spec.path != "/readyz" {
        problems.push(("503", "Unavailable"));
    }
    let responses: &mut BTreeMap<String, RefOr<Response>> = &mut operation.responses.responses;
    for (status, name) in problems {
        responses
            .entry(status.into())
            .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
    }
}

/// Whether the route queues an order for the platform, and so counts against
/// `orders_per_minute`: every route that answers `202 Accepted`, and the few that queue one
/// while answering something else.
fn queues_orders(operation: &Operation, spec: &RouteSpec) -> bool {
    const ALSO: [(Verb, &str); 17] = [
        (Verb::Post, "/v1/apps/{app}/rename"),
        (Verb::Delete, "/v1/apps/{app}"),
        (Verb::Delete, "/v1/apps/{app}/addons/{id}"),
        (Verb::Put, "/v1/apps/{app}/review-apps/settings"),
        (Verb::Delete, "/v1/apps/{app}/review-apps/{id}"),
        (Verb::Post, "/v1/apps/{app}/autoscalers"),
        (Verb::Patch, "/v1/apps/{app}/autoscalers/{id}"),
        (Verb::Delete, "/v1/apps/{app}/autoscalers/{id}"),
        (Verb::Post, "/v1/apps/{app}/log-drains"),
        (Verb::Delete, "/v1/apps/{app}/log-drains/{id}"),
        (Verb::Put, "/v1/apps/{app}/stack"),
        (Verb::Put, "/v1/apps/{app}/addons/{id}/database/backup-schedule"),
        (Verb::Put, "/v1/apps/{app}/addons/{id}/database/internet-access"),
        (Verb::Patch, "/v1/apps/{app}/addons/{id}/database/config"),
        (Verb::Put, "/v1/apps/{app}/addons/{id}/database/maintenance-window"),
        (Verb::Post, "/v1/apps/{app}/addons/{id}/database/users"),
        (Verb::Delete, "/v1/apps/{app}/addons/{id}/database/users/{name}"),
    ];
    operation.responses.responses.contains_key("202") || ALSO.contains(&(spec.verb, spec.path))
}

/// Whether the operation answers a list (`{"items": [...]}`).
fn returns_list(operation: &Operation) -> bool {
    operation
        .responses
        .responses
        .get("200")
        .and_then(|r| serde_json::to_string(r).ok())
        .is_some_and(|r| r.contains("#/components/schemas/Items_"))
}

fn has_query(operation: &Operation) -> bool {
    operation.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.parameter_in == ParameterIn::Query,
        RefOr::Ref(_) => false,
    })
}

/// The group an operation belongs to: the resource after `{app}`, or the first segment.
fn tag_of(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["healthz" | "readyz"] | ["v1", "openapi.json"] => "meta",
        ["internal", ..] => "platform",
        ["v1", "apps", _, "collaborators", ..] => "collaborators",
        ["v1", "apps", _, "invitations", ..]
        | ["v1", "invitations", ..]
        | ["v1", "users", "self", "invitations", ..] => "invitations",
        ["v1", "apps", _, "variables", ..] => "variables",
        ["v1", "apps", _, "deployments" | "caches", ..] => "deployments",
        ["v1", "apps", _, "restart" | "scale", ..] => "operations",
        ["v1", "apps", _, "logs" | "metrics", ..] => "telemetry",
        ["v1", "apps", _, "addons", ..] => "addons",
        ["v1", "apps", _, "review-apps", ..] => "review_apps",
        ["v1", "apps", ..] => "apps",
        ["v1", "users", ..] => "users",
        ["v1", "tokens", ..] => "tokens",
        ["v1", "roles", ..] => "roles",
        ["v1", "access" | "access-review" | "events", ..] => "access",
        _ => "other",
    }
}

fn access_name(access: Access) -> &'static str {
    match access {
        Access::Public => "public",
        Access::Basic => "basic",
        Access::User => "user",
        Access::AnyToken => "any_token",
        Access::Platform => "platform",
        Access::App(_) => "app",
        Access::AppOrSelf(_) => "app_or_self",
    }
}
