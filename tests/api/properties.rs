//! Property-level checks: what each role's answers contain (never a secret they may not
//! see, never a hash), and bodies that try to set what a caller may not set.

use reqwest::Method;
use serde_json::{Value, json};

use rolegate::authz::routes::{Access, ROUTES, Verb};

use crate::common::{Backend, PLATFORM_TOKEN, TestApp, User};
use crate::on_both_backends;

on_both_backends!(
    no_answer_holds_what_its_reader_may_not_see,
    fields_a_caller_may_not_set_are_refused
);

/// Every key in a JSON document, with the value under it.
fn walk<'a>(value: &'a Value, out: &mut Vec<(&'a str, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push((k.as_str(), v));
                walk(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

const NEVER: [&str; 8] = [
    "password",
    "password_hash",
    "token_hash",
    "value_sealed",
    "credentials_sealed",
    "secret",
    "hash",
    "scope_hash",
];
const SECRET: &str = "sk_live_property_check_secret";
const DB_PASSWORD: &str = "db-password-property-check";

async fn no_answer_holds_what_its_reader_may_not_see(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let team = app.team("web").await;
    let put = app
        .client
        .put(format!("{}/v1/apps/web/variables/KEY", app.base))
        .bearer_auth(&team.owner.jwt)
        .json(&json!({"value": SECRET}));
    app.send(put).await.expect(200);
    let addon = app
        .post(
            "/v1/apps/web/addons",
            &team.owner.jwt,
            json!({"provider": "postgresql", "plan": "s"}),
        )
        .await
        .expect(202);
    let addon_id = addon.body["id"].as_str().unwrap().to_owned();
    let creds = json!({"credentials": {"url": format!("postgres://u:{DB_PASSWORD}@db/x"), "user": "u"}});
    app.call(
        Method::POST,
        &format!("/internal/v1/addons/{addon_id}/provisioned"),
        Some(PLATFORM_TOKEN),
        Some(creds),
    )
    .await
    .expect(200);
    // A database user's password and a link token, each shown once, then never again.
    let db_user = app
        .post(
            &format!("/v1/apps/web/addons/{addon_id}/database/users"),
            &team.owner.jwt,
            json!({"name": "reporting"}),
        )
        .await
        .expect(201);
    let user_password = db_user.body["password"].as_str().unwrap().to_owned();
    let link = app
        .post(
            &format!("/v1/apps/web/addons/{addon_id}/database/dashboard"),
            &team.owner.jwt,
            json!({}),
        )
        .await
        .expect(201);
    let link_token = link.body["url"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    let deployment = app
        .post("/v1/apps/web/deployments/redeploy", &team.owner.jwt, json!({}))
        .await
        .expect(202);
    let deployment_id = deployment.body["id"].as_str().unwrap().to_owned();
    app.invite(&team.owner, "web", "pending@example.com", None).await;

    let readers: [(&str, &User); 3] = [
        ("owner", &team.owner),
        ("collaborator", &team.collaborator),
        ("limited", &team.limited),
    ];
    let mut documents = 0;
    for (who, user) in readers {
        for route in ROUTES
            .iter()
            .filter(|r| r.verb == Verb::Get && !matches!(r.access, Access::Platform | Access::Public))
        {
            let path = route
                .path
                .replace("{app}", "web")
                .replace("{name}", "KEY")
                .replace("{role}", "owner")
                .replace(
                    "{id}",
                    if route.path.contains("/addons/") {
                        &addon_id
                    } else {
                        &deployment_id
                    },
                );
            let resp = app.get(&path, &user.jwt).await;
            if !resp.status.is_success() || resp.body.is_null() {
                continue;
            }
            documents += 1;
            let mut keys = Vec::new();
            walk(&resp.body, &mut keys);
            for (key, value) in &keys {
                assert!(!NEVER.contains(key), "{who} got `{key}` from GET {path}: {}", resp.text);
                if *key == "token" {
                    panic!("{who} got a token back from GET {path}: {}", resp.text);
                }
                if who == "limited" && *key == "value" {
                    assert!(
                        value.is_null(),
                        "a limited collaborator saw a value from GET {path}: {}",
                        resp.text
                    );
                }
            }
            if who == "limited" {
                assert!(
                    !resp.text.contains(SECRET),
                    "GET {path} showed a variable value to a limited collaborator"
                );
                assert!(
                    !resp.text.contains(DB_PASSWORD),
                    "GET {path} showed credentials to a limited collaborator"
                );
            }
            assert!(
                !resp.text.contains(&user_password),
                "GET {path} showed a database user's password"
            );
            assert!(!resp.text.contains(&link_token), "GET {path} showed a link token");
            // Credentials appear only where databases.access is the route's permission.
            if resp.text.contains(DB_PASSWORD) {
                assert!(path.ends_with("/credentials"), "GET {path} leaked add-on credentials");
            }
        }
    }
    println!("property checks: {documents} JSON answers walked");
    assert!(documents > 40, "{documents}");
}

async fn fields_a_caller_may_not_set_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let own = format!("/v1/apps/web/collaborators/{}", team.collaborator_id);
    // Nobody changes their own role, upwards or downwards.
    app.patch(&own, &team.collaborator.jwt, json!({"role": "collaborator"}))
        .await
        .problem(403);
    // Fields that belong to the server are unknown fields to the API: 422, never applied.
    let cases: Vec<(Method, String, &User, Value)> = vec![
        (
            Method::POST,
            "/v1/apps".into(),
            &team.limited,
            json!({"name": "mine", "owner_id": team.owner.id}),
        ),
        (
            Method::PATCH,
            "/v1/apps/web".into(),
            &team.owner,
            json!({"owner_id": team.limited.id}),
        ),
        (
            Method::PATCH,
            "/v1/apps/web".into(),
            &team.owner,
            json!({"id": uuid::Uuid::now_v7()}),
        ),
        (
            Method::POST,
            "/v1/apps/web/invitations".into(),
            &team.owner,
            json!({"email": "x@example.com", "app_id": uuid::Uuid::now_v7()}),
        ),
        (
            Method::POST,
            "/v1/apps/web/invitations".into(),
            &team.owner,
            json!({"email": "x@example.com", "status": "accepted"}),
        ),
        (
            Method::POST,
            "/v1/apps/web/deployments".into(),
            &team.owner,
            json!({"git_ref": "main", "status": "success"}),
        ),
        (
            Method::POST,
            "/v1/apps/web/addons".into(),
            &team.owner,
            json!({"provider": "redis", "plan": "s", "status": "running"}),
        ),
        (
            Method::PATCH,
            own.clone(),
            &team.owner,
            json!({"role": "limited_collaborator", "app_id": uuid::Uuid::now_v7()}),
        ),
        (
            Method::POST,
            "/v1/users".into(),
            &team.owner,
            json!({"email": "new@example.com", "password": "0123456789", "role": "owner"}),
        ),
    ];
    for (verb, path, user, body) in cases {
        let resp = app
            .call(verb.clone(), &path, Some(&user.jwt), Some(body.clone()))
            .await
            .problem(422);
        assert!(
            resp.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("is not a field of this request"),
            "{verb} {path} {body}: {}",
            resp.text
        );
    }
    let shown = app.get("/v1/apps/web", &team.owner.jwt).await.expect(200);
    assert_eq!(shown.body["owner"]["id"], team.owner.id.as_str());
    assert_eq!(
        app.get("/v1/apps", &team.limited.jwt).await.items().len(),
        1,
        "no app was created"
    );
}
