//! The route table against the router: every route is served, none outside the table is,
//! and every app route answers each role exactly as the matrix says.

use axum::routing::get;
use reqwest::Method;
use serde_json::{Value, json};

use rolegate::authz::Role;
use rolegate::authz::routes::{Access, ROUTES};

use crate::common::{Backend, PLATFORM_TOKEN, Resp, Team, TestApp, method};
use crate::on_both_backends;

on_both_backends!(
    every_route_in_the_table_is_served,
    routes_missing_from_the_table_are_refused,
    every_app_route_answers_each_role_as_the_matrix_says,
    permissions_endpoint_reports_the_matrix_for_each_role,
    forged_and_foreign_jwts_are_401,
);

/// Ids to put in a route's `{id}`, `{name}` and `{role}`.
struct Targets {
    member: String,
    invitation: String,
    token: String,
    deployment: String,
    addon: String,
}

fn concrete(path: &str, app: &str, targets: &Targets) -> String {
    let id = if path.contains("/collaborators/") {
        &targets.member
    } else if path.contains("/invitations/") {
        &targets.invitation
    } else if path.contains("/deployments/") {
        &targets.deployment
    } else if path.contains("/addons/") {
        &targets.addon
    } else {
        &targets.token
    };
    path.replace("{app}", app)
        .replace("{id}", id)
        .replace("{role}", "owner")
        .replace("{name}", "DATABASE_URL")
}

async fn call(app: &TestApp, verb: Method, path: &str, token: Option<&str>) -> Resp {
    let body = matches!(verb, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
    app.call(verb, path, token, body).await
}

/// A fresh team for one route, with a member, an invitation, a deployment, an add-on and a
/// variable for the route's `{id}` and `{name}`.
async fn setup(app: &TestApp, name: &str) -> (Team, Targets) {
    let team = app.team(name).await;
    let target = app.signup(&format!("target@{name}.test")).await;
    let member = app.add_member(&team.owner, name, &target, "limited_collaborator").await;
    let invitation = app
        .invite(&team.owner, name, &format!("pending@{name}.test"), None)
        .await;
    let tokens = app.get("/v1/tokens", &team.owner.jwt).await.expect(200);
    let deployment = app
        .post(
            &format!("/v1/apps/{name}/deployments/redeploy"),
            &team.owner.jwt,
            json!({}),
        )
        .await
        .expect(202);
    let addon = app
        .post(
            &format!("/v1/apps/{name}/addons"),
            &team.owner.jwt,
            json!({"provider": "postgresql", "plan": "starter"}),
        )
        .await
        .expect(202);
    app.call(
        Method::PUT,
        &format!("/v1/apps/{name}/variables/DATABASE_URL"),
        Some(&team.owner.jwt),
        Some(json!({"value": "postgres://secret"})),
    )
    .await
    .expect(200);
    let targets = Targets {
        member: member["id"].as_str().unwrap().to_owned(),
        invitation: invitation["id"].as_str().unwrap().to_owned(),
        token: tokens.body["items"][0]["id"].as_str().unwrap().to_owned(),
        deployment: deployment.body["id"].as_str().unwrap().to_owned(),
        addon: addon.body["id"].as_str().unwrap().to_owned(),
    };
    (team, targets)
}

async fn every_route_in_the_table_is_served(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let (team, targets) = setup(&app, "served").await;
    for route in ROUTES {
        let path = concrete(route.path, &team.app, &targets);
        let token = if route.access == Access::Platform {
            PLATFORM_TOKEN
        } else {
            &team.owner.jwt
        };
        let resp = call(&app, method(route.verb), &path, Some(token)).await;
        assert_ne!(
            resp.status.as_u16(),
            405,
            "{} {} is not routed",
            route.verb.as_str(),
            route.path
        );
        assert_ne!(
            resp.detail(),
            "no such route",
            "{} {} is not routed",
            route.verb.as_str(),
            route.path
        );
        assert_ne!(
            resp.detail(),
            "not found",
            "{} {} is routed but missing from the table",
            route.verb.as_str(),
            route.path
        );
    }
    println!("{} routes in the table, all served", ROUTES.len());
}

async fn routes_missing_from_the_table_are_refused(backend: Backend) {
    let extra = axum::Router::new()
        .route("/v1/apps/{app}/backdoor", get(|| async { "every secret" }))
        .route("/v1/debug", get(|| async { "every secret" }));
    let app = TestApp::spawn_with_extra_routes(backend, extra).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    for path in ["/v1/apps/web/backdoor", "/v1/debug"] {
        for token in [Some(ada.jwt.as_str()), None] {
            let resp = app.call(Method::GET, path, token, None).await.problem(404);
            assert!(!resp.text.contains("secret"));
        }
    }
    // The declared routes still work on that router.
    app.get("/v1/apps/web", &ada.jwt).await.expect(200);
}

async fn every_app_route_answers_each_role_as_the_matrix_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut cells = 0;
    for (i, route) in ROUTES.iter().enumerate() {
        let Some(permission) = route.access.permission() else {
            continue;
        };
        let name = format!("route-{i}");
        let (team, targets) = setup(&app, &name).await;
        let verb = method(route.verb);
        let path = concrete(route.path, &name, &targets);
        let what = format!("{} {}", route.verb.as_str(), route.path);

        // Not a member: 404, byte for byte the same as for an app that does not exist.
        let missing = call(
            &app,
            verb.clone(),
            &concrete(route.path, "no-such-app", &targets),
            Some(&team.outsider.jwt),
        )
        .await
        .problem(404);
        let outsider = call(&app, verb.clone(), &path, Some(&team.outsider.jwt))
            .await
            .problem(404);
        assert_eq!(outsider.text, missing.text, "{what}");
        assert_eq!(outsider.detail(), "app not found");
        // The outsider's own app does not help either.
        let other = concrete(route.path, &format!("{name}-other"), &targets);
        let own = call(&app, verb.clone(), &other, Some(&team.outsider.jwt)).await;
        assert_ne!(own.status.as_u16(), 401, "{what}");
        call(&app, verb.clone(), &path, None).await.problem(401);
        cells += 4;

        // Members, least powerful first, so the owner's (possibly destructive) call is last.
        for (role, user) in [
            (Role::LimitedCollaborator, &team.limited),
            (Role::Collaborator, &team.collaborator),
            (Role::Owner, &team.owner),
        ] {
            let resp = call(&app, verb.clone(), &path, Some(&user.jwt)).await;
            if role.can(permission) {
                let denied = resp.status.as_u16() == 403 && resp.body["required_permission"] == permission.as_str();
                assert!(
                    !denied,
                    "{what}: {role} holds {permission} but was refused: {}",
                    resp.text
                );
                assert!(
                    resp.status.as_u16() != 401 && resp.detail() != "app not found",
                    "{what} as {role}: {}",
                    resp.text
                );
                assert!(resp.status.as_u16() < 500, "{what} as {role}: {}", resp.text);
            } else {
                let resp = resp.problem(403);
                assert_eq!(
                    resp.body["required_permission"],
                    permission.as_str(),
                    "{what} as {role}"
                );
                assert_eq!(resp.body["role"], role.as_str(), "{what} as {role}");
            }
            cells += 1;
        }
        assert!(matches!(route.access, Access::App(_) | Access::AppOrSelf(_)));
    }
    println!("authorization matrix: {cells} cells checked");
    let app_routes = ROUTES.iter().filter(|r| r.access.permission().is_some()).count();
    assert_eq!(cells, app_routes * 7);
}

async fn permissions_endpoint_reports_the_matrix_for_each_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    for (role, user) in [
        (Role::Owner, &team.owner),
        (Role::Collaborator, &team.collaborator),
        (Role::LimitedCollaborator, &team.limited),
    ] {
        let resp = app.get("/v1/apps/web/permissions", &user.jwt).await.expect(200);
        let expected: Vec<Value> = role.permissions().iter().map(|p| json!(p.as_str())).collect();
        assert_eq!(
            resp.body,
            json!({"role": role.as_str(), "permissions": expected, "blocked_by": null})
        );
        let shown = app
            .get(&format!("/v1/apps/{}", team.app_id), &user.jwt)
            .await
            .expect(200);
        assert_eq!(shown.body["role"], role.as_str());
    }
}

async fn forged_and_foreign_jwts_are_401(backend: Backend) {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let now = chrono::Utc::now().timestamp();
    let claims = |tid: &str, exp: i64| json!({"sub": team.owner.id, "tid": tid, "iss": "rolegate", "aud": "rolegate-api", "iat": now, "nbf": now, "exp": exp});
    let tokens = app.get("/v1/tokens", &team.owner.jwt).await.expect(200);
    let tid = tokens.body["items"][0]["id"].as_str().unwrap().to_owned();
    let sign = |claims: &Value, key: &[u8]| {
        encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(key)).unwrap()
    };

    // Control: the right key and a live token id work.
    let good = sign(&claims(&tid, now + 600), crate::common::JWT_SECRET.as_bytes());
    app.get("/v1/apps/web", &good).await.expect(200);

    let bad = [
        sign(&claims(&tid, now + 600), b"another-secret-another-secret-another"),
        sign(&claims(&tid, now - 600), crate::common::JWT_SECRET.as_bytes()),
        sign(
            &claims(&uuid::Uuid::now_v7().to_string(), now + 600),
            crate::common::JWT_SECRET.as_bytes(),
        ),
        sign(
            &json!({"sub": team.owner.id, "tid": tid, "exp": now + 600}),
            crate::common::JWT_SECRET.as_bytes(),
        ),
    ];
    for token in bad {
        app.get("/v1/apps/web", &token).await.problem(401);
        app.get("/v1/users/self", &token).await.problem(401);
    }
}
