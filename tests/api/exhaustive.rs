//! The exhaustive authorization suite: every route in the router's table, times eight kinds
//! of caller, times three targets (an app of the caller's tenant, another tenant's app, an
//! app that does not exist). Each cell's status must be what the matrix says; non-members
//! must not be able to tell "exists" from "does not exist".

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

use rolegate::authz::Role;
use rolegate::authz::routes::{Access, ROUTES, RouteSpec};

use crate::common::{Backend, JWT_SECRET, PLATFORM_TOKEN, Resp, TestApp, User, method};
use crate::on_both_backends;

on_both_backends!(every_route_times_every_caller_times_every_target);

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Owner,
    Collaborator,
    Limited,
    /// A member of another app of the same owner, not of this one.
    Neighbour,
    /// The owner of an app in another tenant.
    Stranger,
    Anonymous,
    ExpiredJwt,
    ForeignKeyJwt,
}

/// The owner last: on the app's own routes theirs is the call that may delete it.
const CALLERS: [Caller; 8] = [
    Caller::Collaborator,
    Caller::Limited,
    Caller::Neighbour,
    Caller::Stranger,
    Caller::Anonymous,
    Caller::ExpiredJwt,
    Caller::ForeignKeyJwt,
    Caller::Owner,
];

/// Which app `{app}` names.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    Own,
    OtherTenant,
    Missing,
}

fn forge(user: &User, tid: &str, exp_offset: i64, key: &[u8]) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": user.id, "tid": tid, "iss": "rolegate", "aud": "rolegate-api", "iat": now, "nbf": now - 7200, "exp": now + exp_offset});
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(key)).unwrap()
}

fn role_of(caller: Caller) -> Option<Role> {
    match caller {
        Caller::Owner => Some(Role::Owner),
        Caller::Collaborator => Some(Role::Collaborator),
        Caller::Limited => Some(Role::LimitedCollaborator),
        _ => None,
    }
}

fn concrete(route: &RouteSpec, app: &str) -> String {
    route
        .path
        .replace("{app}", app)
        .replace("{id}", &uuid::Uuid::now_v7().to_string())
        .replace("{backup_id}", &uuid::Uuid::now_v7().to_string())
        .replace("{name}", "SOME_VARIABLE")
        .replace("{role}", "owner")
}

async fn call(app: &TestApp, route: &RouteSpec, path: &str, token: Option<&str>) -> Resp {
    let verb = method(route.verb);
    let body = matches!(verb.as_str(), "POST" | "PUT" | "PATCH").then(|| json!({}));
    app.call(verb, path, token, body).await
}

fn denied_by_layer(resp: &Resp) -> bool {
    matches!(resp.status.as_u16(), 401)
        || (resp.status.as_u16() == 403 && resp.body["required_permission"].is_string())
        || resp.detail() == "app not found"
}

async fn every_route_times_every_caller_times_every_target(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let owner = app.signup("owner@tenant.test").await;
    let collaborator = app.signup("collaborator@tenant.test").await;
    let limited = app.signup("limited@tenant.test").await;
    let neighbour = app.signup("neighbour@tenant.test").await;
    let stranger = app.signup("stranger@other.test").await;
    app.create_app(&owner, "main").await;
    app.create_app(&owner, "side").await;
    app.create_app(&stranger, "foreign").await;
    app.add_member(&owner, "main", &collaborator, "collaborator").await;
    app.add_member(&owner, "main", &limited, "limited_collaborator").await;
    app.add_member(&owner, "side", &neighbour, "collaborator").await;
    let tid = app.get("/v1/tokens", &owner.jwt).await.expect(200).body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let expired = forge(&owner, &tid, -3600, JWT_SECRET.as_bytes());
    let foreign_key = forge(&owner, &tid, 3600, b"a-key-that-is-not-the-servers-key-at-all");

    let token = |caller: Caller| -> Option<String> {
        match caller {
            Caller::Owner => Some(owner.jwt.clone()),
            Caller::Collaborator => Some(collaborator.jwt.clone()),
            Caller::Limited => Some(limited.jwt.clone()),
            Caller::Neighbour => Some(neighbour.jwt.clone()),
            Caller::Stranger => Some(stranger.jwt.clone()),
            Caller::Anonymous => None,
            Caller::ExpiredJwt => Some(expired.clone()),
            Caller::ForeignKeyJwt => Some(foreign_key.clone()),
        }
    };

    // Deleting the app goes last, so every other cell runs against a live app.
    let mut routes: Vec<&RouteSpec> = ROUTES.iter().collect();
    // So does revoking every token of the caller (it signs each caller out for good).
    routes.sort_by_key(|r| {
        (
            r.path == "/v1/tokens" && r.verb == rolegate::authz::routes::Verb::Delete,
            r.access == Access::App(rolegate::authz::Permission::AppDelete),
        )
    });
    let mut cells = 0usize;
    for route in routes {
        let what = format!("{} {}", route.verb.as_str(), route.path);
        let Some(permission) = route.access.permission() else {
            for caller in CALLERS {
                let path = concrete(route, "main");
                let resp = call(&app, route, &path, token(caller).as_deref()).await;
                let authenticated = role_of(caller).is_some() || matches!(caller, Caller::Neighbour | Caller::Stranger);
                let status = resp.status.as_u16();
                assert!(status < 500, "{what} as {caller:?}: {}", resp.text);
                match route.access {
                    Access::User | Access::AnyToken if authenticated => assert_ne!(status, 401, "{what} as {caller:?}"),
                    Access::User | Access::AnyToken => assert_eq!(status, 401, "{what} as {caller:?}"),
                    // Bearer credentials never open the Basic routes or the platform's.
                    Access::Basic | Access::Platform => assert_eq!(status, 401, "{what} as {caller:?}: {}", resp.text),
                    Access::Public => assert_ne!(status, 401, "{what} as {caller:?}"),
                    Access::App(_) | Access::AppOrSelf(_) => unreachable!(),
                }
                cells += 1;
            }
            continue;
        };
        for target in [Target::Own, Target::OtherTenant, Target::Missing] {
            let name = match target {
                Target::Own => "main",
                Target::OtherTenant => "foreign",
                Target::Missing => "no-such-app",
            };
            for caller in CALLERS {
                // The other tenant's owner calling their own app is the owner cell again:
                // skip it, or it would delete or change "foreign" under the other cells.
                if target == Target::OtherTenant && caller == Caller::Stranger {
                    continue;
                }
                let path = concrete(route, name);
                let resp = call(&app, route, &path, token(caller).as_deref()).await;
                let status = resp.status.as_u16();
                assert!(status < 500, "{what} on {target:?} as {caller:?}: {}", resp.text);
                match (caller, target, role_of(caller)) {
                    (Caller::Anonymous | Caller::ExpiredJwt | Caller::ForeignKeyJwt, _, _) => {
                        assert_eq!(status, 401, "{what} on {target:?} as {caller:?}");
                        assert!(resp.headers.contains_key("www-authenticate"));
                    }
                    (_, Target::Own, Some(role)) if role.can(permission) => {
                        assert!(!denied_by_layer(&resp), "{what} as {role}: {}", resp.text);
                    }
                    (_, Target::Own, Some(role)) => {
                        assert_eq!(status, 403, "{what} as {role}: {}", resp.text);
                        assert_eq!(resp.body["required_permission"], permission.as_str());
                    }
                    _ => {
                        // Not a member of the named app, or no such app: the same 404, byte
                        // for byte, as for an app that does not exist.
                        assert_eq!(status, 404, "{what} on {target:?} as {caller:?}: {}", resp.text);
                        let missing =
                            call(&app, route, &concrete(route, "no-such-app"), token(caller).as_deref()).await;
                        assert_eq!(resp.text, missing.text, "{what} on {target:?} as {caller:?}");
                    }
                }
                cells += 1;
            }
        }
    }
    println!("exhaustive authorization: {cells} cells (routes x callers x targets) checked");
    assert!(cells > 700, "{cells}");
}
