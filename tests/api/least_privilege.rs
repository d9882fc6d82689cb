//! Least privilege over time: the access review and its findings, remediation, time-bound
//! access, scoped tokens, the access-check API, and the audit trail with denied attempts.

use std::time::Duration;

use base64::Engine;
use chrono::TimeDelta;
use serde_json::{Value, json};

use rolegate::authz::routes::ROUTES;
use rolegate::authz::{Permission, Role};

use crate::common::{Backend, TestApp, User};
use crate::on_both_backends;

on_both_backends!(
    findings_appear_exactly_when_their_conditions_hold,
    the_review_exports_csv,
    remediation_is_all_or_nothing,
    expired_members_are_refused_before_any_sweep,
    the_sweep_removes_expired_memberships,
    access_can_be_extended_or_made_permanent,
    scoped_tokens_are_refused_everything_outside_their_scope,
    the_check_api_agrees_with_the_routes,
    denied_attempts_reach_the_audit_trail,
    self_access_lists_effective_permissions,
    a_burst_of_requests_when_use_falls_due_records_it_once,
);

const STALE: &[(&str, &str)] = &[
    ("ROLEGATE_STALE_AFTER_DAYS", "30"),
    ("ROLEGATE_INVITATION_TTL", "5184000"),
];

/// Waits until the background write of `user`'s use of `app` lands.
async fn wait_for_use(app: &TestApp, owner: &User, app_name: &str, email: &str) {
    for _ in 0..100 {
        let members = app
            .get(&format!("/v1/apps/{app_name}/collaborators"), &owner.api_token)
            .await
            .expect(200);
        let used = members
            .items()
            .iter()
            .any(|m| m["email"] == email && m["last_used_at"].is_string());
        if used {
            // The permission row is written in the same transaction.
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{email}'s use of {app_name} was never recorded");
}

fn findings(review: &Value, email: &str) -> Vec<String> {
    let row = review["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["email"] == email)
        .unwrap_or_else(|| panic!("{email} not in review"));
    // Nobody here has two-factor authentication on: `tfa_disabled` is on every member, and
    // tested in tests/api/tfa.rs; these tests are about use.
    row["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .filter(|code| code != "tfa_disabled")
        .collect()
}

async fn findings_appear_exactly_when_their_conditions_hold(backend: Backend) {
    let app = TestApp::spawn_with(backend, STALE).await;
    let team = app.team("web").await;
    let busy = app.signup("busy@web.test").await;
    app.add_member(&team.owner, "web", &busy, "collaborator").await;
    let temp = app.signup("temp@web.test").await;
    let invitation = app
        .post(
            "/v1/apps/web/invitations",
            &team.owner.jwt,
            json!({"email": temp.email, "access_expires_at": chrono::Utc::now() + TimeDelta::days(40)}),
        )
        .await
        .expect(201);
    app.post(
        "/v1/invitations/accept",
        &temp.jwt,
        json!({"token": invitation.body["token"]}),
    )
    .await
    .expect(200);
    app.invite(&team.owner, "web", "later@web.test", None).await;

    let review = app.get("/v1/access-review", &team.owner.jwt).await.expect(200);
    assert_eq!(review.body["stale_after_days"], 30);
    let items = review.items();
    assert_eq!(
        items.len(),
        6,
        "owner, collaborator, limited, busy, temp, and the pending invitation"
    );
    assert!(
        items
            .iter()
            .all(|r| findings(&review.body, r["email"].as_str().unwrap()).is_empty()),
        "nothing to flag on day one: {}",
        review.text
    );
    let pending = items.iter().find(|r| r["status"] == "pending").unwrap();
    assert!(pending["user_id"].is_null() && pending["invitation_id"].is_string());
    // Only owners review: the outsider's review holds just their own app.
    let other = app.get("/v1/access-review", &team.outsider.jwt).await.expect(200);
    assert!(other.items().iter().all(|r| r["app"] == "web-other"));

    app.clock.advance(TimeDelta::days(10));
    let review = app.get("/v1/access-review", &team.owner.api_token).await.expect(200);
    assert_eq!(findings(&review.body, "later@web.test"), ["invitation_pending_long"]);
    // Day 10: the collaborator only reads; "busy" writes a variable.
    app.get("/v1/apps/web", &team.collaborator.api_token).await.expect(200);
    wait_for_use(&app, &team.owner, "web", &team.collaborator.email).await;
    let set = app
        .client
        .put(format!("{}/v1/apps/web/variables/X", app.base))
        .bearer_auth(&busy.api_token)
        .json(&json!({"value": "1"}));
    app.send(set).await.expect(200);
    wait_for_use(&app, &team.owner, "web", &busy.email).await;

    app.clock.advance(TimeDelta::days(26));
    let review = app.get("/v1/access-review", &team.owner.api_token).await.expect(200);
    assert_eq!(
        findings(&review.body, &team.limited.email),
        ["stale_member"],
        "never used in 36 days"
    );
    assert_eq!(
        findings(&review.body, &team.collaborator.email),
        ["role_broader_than_use"]
    );
    let suggested = &review
        .items()
        .iter()
        .find(|r| r["email"] == team.collaborator.email.as_str())
        .unwrap()["findings"][0];
    assert_eq!(suggested["suggested_role"], "limited_collaborator");
    assert!(suggested["message"].as_str().unwrap().contains("collaborator"));
    assert_eq!(
        findings(&review.body, &busy.email),
        Vec::<String>::new(),
        "used a collaborator-only permission 26 days ago"
    );
    assert_eq!(findings(&review.body, &temp.email), ["stale_member", "expiring_soon"]);
    assert_eq!(findings(&review.body, &team.owner.email), Vec::<String>::new());

    let only = app
        .get("/v1/access-review?finding=stale_member", &team.owner.api_token)
        .await
        .expect(200);
    let emails: Vec<_> = only.column("email");
    assert_eq!(emails, [team.limited.email.clone(), temp.email.clone()]);
    let collaborators = app
        .get("/v1/access-review?role=collaborator&app=web", &team.owner.api_token)
        .await
        .expect(200);
    assert_eq!(collaborators.items().len(), 2);
    app.get("/v1/access-review?finding=bogus", &team.owner.api_token)
        .await
        .problem(422);
    app.get("/v1/access-review?role=king", &team.owner.api_token)
        .await
        .problem(422);
}

async fn the_review_exports_csv(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let accept = app
        .client
        .get(format!("{}/v1/access-review", app.base))
        .bearer_auth(&team.owner.jwt)
        .header("accept", "text/csv");
    let by_header = app.send(accept).await.expect(200);
    assert!(by_header.content_type().starts_with("text/csv"));
    let by_query = app
        .get("/v1/access-review?format=csv", &team.owner.jwt)
        .await
        .expect(200);
    assert_eq!(by_header.text, by_query.text);
    let mut reader = csv::Reader::from_reader(by_query.text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        headers[..8],
        [
            "app",
            "app_id",
            "collaborator_id",
            "invitation_id",
            "user_id",
            "email",
            "role",
            "status"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let roles: Vec<_> = rows.iter().map(|r| r[6].to_owned()).collect();
    assert_eq!(roles, ["owner", "collaborator", "limited_collaborator"]);
    assert!(rows.iter().all(|r| &r[0] == "web" && r.len() == headers.len()));
    app.get("/v1/access-review?format=xml", &team.owner.jwt)
        .await
        .problem(422);
}

async fn remediation_is_all_or_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let members = app.get("/v1/apps/web/collaborators", &team.owner.jwt).await.expect(200);
    let owner_row = members.body["items"][0]["id"].as_str().unwrap().to_owned();
    let apply = |actions: Value| app.post("/v1/access-review/apply", &team.owner.jwt, json!({"actions": actions}));

    let resp = apply(json!([
        {"app": "web", "collaborator_id": team.collaborator_id, "action": "set_role", "role": "limited_collaborator"},
        {"app": "web", "collaborator_id": team.limited_id, "action": "remove"},
        {"app": "web", "collaborator_id": owner_row, "action": "remove"},
    ]))
    .await
    .problem(422);
    assert_eq!(resp.body["errors"][0]["field"], "actions[2]");
    assert!(
        resp.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nothing was applied")
    );
    app.get("/v1/apps/web", &team.limited.jwt).await.expect(200);
    assert_eq!(
        app.get("/v1/apps/web/permissions", &team.collaborator.jwt).await.body["role"],
        "collaborator"
    );

    let resp = apply(json!([{"app": "web-other", "collaborator_id": team.limited_id, "action": "remove"}]))
        .await
        .problem(422);
    assert!(
        resp.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("do not own")
    );
    apply(json!([{"app": "web", "collaborator_id": team.limited_id, "action": "set_role", "role": "owner"}]))
        .await
        .problem(422);
    apply(json!([{"app": "web", "collaborator_id": team.limited_id, "action": "promote"}]))
        .await
        .problem(422);
    apply(json!([])).await.problem(422);
    // Every malformed action is named at once, in the API's words.
    let resp = apply(json!([
        {"app": "web", "collaborator_id": team.limited_id, "action": "promote"},
        {"app": "web", "collaborator_id": team.limited_id, "action": "set_role"},
        {"app": "web", "collaborator_id": team.limited_id, "action": "remove", "role": "collaborator"},
        {"app": "web", "collaborator_id": "nope", "action": "remove"},
        {"app": "web", "collaborator_id": team.limited_id, "action": "remove", "role": null},
        "remove",
    ]))
    .await
    .problem(422);
    let fields: Vec<&str> = resp.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "actions[0].action",
            "actions[1].role",
            "actions[2].role",
            "actions[3].collaborator_id",
            "actions[5]"
        ]
    );
    assert_eq!(resp.body["errors"][0]["message"], "must be remove or set_role");
    assert_eq!(resp.body["errors"][1]["message"], "is required for set_role");
    let as_collaborator = app
        .post(
            "/v1/access-review/apply",
            &team.collaborator.jwt,
            json!({"actions": [{"app": "web", "collaborator_id": team.limited_id, "action": "remove"}]}),
        )
        .await
        .problem(422);
    assert!(
        as_collaborator.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("do not own")
    );

    let done = apply(json!([
        {"app": "web", "collaborator_id": team.collaborator_id, "action": "set_role", "role": "limited_collaborator"},
        {"app": team.app_id, "collaborator_id": team.limited_id, "action": "remove"},
    ]))
    .await
    .expect(200);
    let results = done.body["results"].as_array().unwrap();
    assert_eq!(results[0]["action"], "set_role");
    assert_eq!(results[0]["previous_role"], "collaborator");
    assert_eq!(results[0]["role"], "limited_collaborator");
    assert_eq!(results[1]["action"], "remove");
    assert!(results[1]["role"].is_null());
    app.get("/v1/apps/web", &team.limited.jwt).await.problem(404);
    assert_eq!(
        app.get("/v1/apps/web/permissions", &team.collaborator.jwt).await.body["role"],
        "limited_collaborator"
    );
    let events = app
        .get("/v1/apps/web/events?limit=2", &team.owner.jwt)
        .await
        .expect(200);
    let kinds: Vec<_> = events
        .items()
        .iter()
        .map(|e| (e["type"].as_str().unwrap().to_owned(), e["data"]["via"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("collaborator.removed".to_owned(), json!("access_review")),
            ("collaborator.role_changed".to_owned(), json!("access_review"))
        ]
    );
}

async fn expired_members_are_refused_before_any_sweep(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let contractor = app.signup("contractor@example.com").await;
    let ends = chrono::Utc::now() + TimeDelta::hours(1);
    let invitation = app
        .post(
            "/v1/apps/web/invitations",
            &team.owner.jwt,
            json!({"email": contractor.email, "role": "collaborator", "access_expires_at": ends}),
        )
        .await
        .expect(201);
    assert!(invitation.body["access_expires_at"].is_string());
    let member = app
        .post(
            "/v1/invitations/accept",
            &contractor.jwt,
            json!({"token": invitation.body["token"]}),
        )
        .await
        .expect(200);
    assert!(member.body["access_expires_at"].is_string());
    app.get("/v1/apps/web", &contractor.api_token).await.expect(200);

    app.clock.advance(TimeDelta::hours(2));
    let resp = app.get("/v1/apps/web", &contractor.api_token).await.problem(403);
    assert_eq!(resp.detail(), "your access to this app has expired");
    // The refusal removes the membership and records why, once.
    let mut expired = Vec::new();
    for _ in 0..100 {
        let events = app.get("/v1/apps/web/events", &team.owner.api_token).await.expect(200);
        expired = events
            .items()
            .iter()
            .filter(|e| e["type"] == "collaborator.expired")
            .cloned()
            .collect();
        if !expired.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["data"]["email"], contractor.email.as_str());
    assert!(expired[0]["actor"].is_null());
    app.get("/v1/apps/web", &contractor.api_token).await.problem(404);
    app.get("/v1/apps/web", &team.limited.api_token).await.expect(200);
    app.post(
        "/v1/apps/web/invitations",
        &team.owner.api_token,
        json!({"email": "x@example.com", "access_expires_at": "2001-01-01T00:00:00Z"}),
    )
    .await
    .problem(422);
}

async fn the_sweep_removes_expired_memberships(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let path = format!("/v1/apps/web/collaborators/{}", team.limited_id);
    app.patch(
        &path,
        &team.owner.jwt,
        json!({"access_expires_at": chrono::Utc::now() + TimeDelta::minutes(30)}),
    )
    .await
    .expect(200);
    app.clock.advance(TimeDelta::hours(1));
    let listed = app
        .get("/v1/apps/web/collaborators", &team.owner.api_token)
        .await
        .expect(200);
    let row = listed
        .items()
        .iter()
        .find(|m| m["id"] == team.limited_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["status"], "expired", "listed as expired until swept");
    // A replica starting now runs its sweep at once, on the same clock.
    let _replica = app.replica(&[]).await;
    for _ in 0..200 {
        let listed = app
            .get("/v1/apps/web/collaborators", &team.owner.api_token)
            .await
            .expect(200);
        if listed.items().len() == 2 {
            let events = app
                .get("/v1/apps/web/events?type=collaborator.expired", &team.owner.api_token)
                .await
                .expect(200);
            assert!(events.text.contains(&team.limited.email));
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the sweep did not remove the expired membership");
}

async fn access_can_be_extended_or_made_permanent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let path = format!("/v1/apps/web/collaborators/{}", team.limited_id);
    let soon = chrono::Utc::now() + TimeDelta::hours(1);
    let set = app
        .patch(&path, &team.collaborator.jwt, json!({"access_expires_at": soon}))
        .await
        .expect(200);
    assert_eq!(set.body["role"], "limited_collaborator");
    let later = chrono::Utc::now() + TimeDelta::days(30);
    app.patch(&path, &team.owner.jwt, json!({"access_expires_at": later}))
        .await
        .expect(200);
    app.clock.advance(TimeDelta::hours(2));
    app.get("/v1/apps/web", &team.limited.api_token).await.expect(200);
    let permanent = app
        .patch(&path, &team.owner.api_token, json!({"access_expires_at": null}))
        .await
        .expect(200);
    assert!(permanent.body["access_expires_at"].is_null());
    app.clock.advance(TimeDelta::days(60));
    app.get("/v1/apps/web", &team.limited.api_token).await.expect(200);
    app.patch(
        &path,
        &team.owner.api_token,
        json!({"access_expires_at": "2001-01-01T00:00:00Z"}),
    )
    .await
    .problem(422);
    app.patch(&path, &team.limited.api_token, json!({"access_expires_at": null}))
        .await
        .problem(403);
    let events = app
        .get(
            "/v1/apps/web/events?type=collaborator.access_expiry_changed",
            &team.owner.api_token,
        )
        .await
        .expect(200);
    // One event per change, newest first, each with the end before and after.
    assert_eq!(events.column("type"), ["collaborator.access_expiry_changed"; 3]);
    let latest = &events.items()[0]["data"];
    assert!(
        latest["access_expires_at"].is_null() && latest["previous_access_expires_at"].is_string(),
        "{latest}"
    );
    assert_eq!(latest["email"], team.limited.email.as_str());
    assert!(events.items()[2]["data"]["previous_access_expires_at"].is_null());
    assert_eq!(events.items()[2]["actor"]["email"], team.collaborator.email.as_str());
}

async fn create_token(app: &TestApp, user: &User, body: Value) -> crate::common::Resp {
    app.send(
        app.client
            .post(format!("{}/v1/tokens", app.base))
            .basic_auth(&user.email, Some(&user.password))
            .json(&body),
    )
    .await
}

async fn scoped_tokens_are_refused_everything_outside_their_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    app.create_app(&ada, "api").await;
    let created = create_token(
        &app,
        &ada,
        json!({"name": "ci", "permissions": ["deployments.redeploy_default", "deployments.read"], "apps": ["web"]}),
    )
    .await
    .expect(201);
    assert_eq!(
        created.body["permissions"],
        json!(["deployments.redeploy_default", "deployments.read"])
    );
    assert_eq!(created.body["apps"].as_array().unwrap().len(), 1);
    let ci = created.body["token"].as_str().unwrap().to_owned();
    let jwt = app.exchange(&ci).await.expect(200).body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["scope"]["permissions"],
        json!(["deployments.redeploy_default", "deployments.read"]),
        "the JWT carries the scope"
    );

    for token in [&ci, &jwt] {
        app.post("/v1/apps/web/deployments/redeploy", token, json!({}))
            .await
            .expect(202);
        app.get("/v1/apps/web/deployments", token).await.expect(200);
        // Ada owns the app, yet this token may do nothing else there...
        let resp = app.get("/v1/apps/web", token).await.problem(403);
        assert_eq!(resp.body["type"], "urn:rolegate:problem:token-scope");
        assert_eq!(resp.body["required_permission"], "app.read");
        app.get("/v1/apps/web/variables", token).await.problem(403);
        app.delete("/v1/apps/web", token).await.problem(403);
        app.post("/v1/apps/web/invitations", token, json!({"email": "x@example.com"}))
            .await
            .problem(403);
        // ...nor anything on her other app, which looks exactly like a missing one...
        let other = app
            .post("/v1/apps/api/deployments/redeploy", token, json!({}))
            .await
            .problem(404);
        let missing = app
            .post("/v1/apps/no-such-app/deployments/redeploy", token, json!({}))
            .await
            .problem(404);
        assert_eq!(other.body, missing.body);
        // ...nor anything that manages the account.
        app.post("/v1/apps", token, json!({"name": "sneaky"}))
            .await
            .problem(403);
        app.get("/v1/tokens", token).await.problem(403);
        app.get("/v1/access-review", token).await.problem(403);
        app.get("/v1/users/self", token).await.expect(200);
        // The list shows only apps the token may read: without app.read, none.
        let listed = app.get("/v1/apps", token).await.expect(200);
        assert!(listed.items().is_empty(), "{}", listed.text);
    }
    app.get("/v1/apps/web", &ada.jwt).await.expect(200);
    app.get("/v1/apps", &ada.jwt).await.expect(200);

    let bob = app.signup("bob@example.com").await;
    app.create_app(&bob, "bobs").await;
    let resp = create_token(
        &app,
        &ada,
        json!({"permissions": ["app.read", "app.fly"], "apps": ["web", "bobs", "nowhere"]}),
    )
    .await
    .problem(422);
    let fields: Vec<_> = resp.error_fields();
    assert_eq!(fields, ["permissions[1]", "apps[1]", "apps[2]"]);
    create_token(&app, &ada, json!({"permissions": []})).await.problem(422);
    let tokens = app.get("/v1/tokens", &ada.jwt).await.expect(200);
    assert!(tokens.items().iter().any(|t| t["permissions"].is_array()));
}

async fn the_check_api_agrees_with_the_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut compared = 0;
    for (i, permission) in Permission::ALL.iter().enumerate() {
        let route = ROUTES
            .iter()
            .find(|r| r.access.permission() == Some(*permission))
            .unwrap_or_else(|| panic!("no route needs {permission}"));
        let name = format!("check-{i}");
        let team = app.team(&name).await;
        let path = route
            .path
            .replace("{app}", &name)
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{name}", "X");
        // Checking a teammate (before the owner's call, which may delete the app) needs collaborators.read; strangers learn nothing.
        let about =
            |user: &User| json!({"checks": [{"app": name, "permission": permission.as_str(), "user_id": user.id}]});
        let by_owner = app
            .post("/v1/access/check", &team.owner.jwt, about(&team.limited))
            .await
            .expect(200);
        assert_eq!(
            by_owner.body["results"][0]["allowed"],
            Role::LimitedCollaborator.can(*permission)
        );
        let by_limited = app
            .post("/v1/access/check", &team.limited.jwt, about(&team.owner))
            .await
            .expect(200);
        assert_eq!(by_limited.body["results"][0]["reason"], "not_allowed_to_check_others");
        let by_stranger = app
            .post("/v1/access/check", &team.outsider.jwt, about(&team.owner))
            .await
            .expect(200);
        assert_eq!(by_stranger.body["results"][0]["reason"], "not_a_member");
        for (role, user) in [
            (Role::LimitedCollaborator, &team.limited),
            (Role::Collaborator, &team.collaborator),
            (Role::Owner, &team.owner),
        ] {
            let check = app
                .post(
                    "/v1/access/check",
                    &user.jwt,
                    json!({"checks": [{"app": name, "permission": permission.as_str()}]}),
                )
                .await
                .expect(200);
            let answer = &check.body["results"][0];
            assert_eq!(answer["role"], role.as_str());
            let body = matches!(route.verb.as_str(), "POST" | "PUT" | "PATCH").then(|| json!({}));
            let resp = app
                .call(crate::common::method(route.verb), &path, Some(&user.jwt), body)
                .await;
            let refused = resp.status.as_u16() == 403 && resp.body["required_permission"] == permission.as_str();
            assert_eq!(
                answer["allowed"], !refused,
                "{permission} as {role}: check says {answer}, route says {}",
                resp.text
            );
            assert_eq!(answer["allowed"], role.can(*permission));
            assert_eq!(
                answer["reason"],
                if role.can(*permission) {
                    "allowed"
                } else {
                    "role_lacks_permission"
                }
            );
            compared += 1;
        }
    }
    println!("access check compared with the routes: {compared} role x permission cells");
    assert_eq!(compared, Permission::ALL.len() * 3);
}

async fn denied_attempts_reach_the_audit_trail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    app.get("/v1/apps/web/collaborators", &team.limited.jwt)
        .await
        .problem(403);
    app.get("/v1/apps/web/collaborators", &team.limited.jwt)
        .await
        .problem(403);
    app.get("/v1/apps/web/addons", &team.limited.jwt).await.problem(403);
    let mut denied = Vec::new();
    for _ in 0..100 {
        let events = app
            .get("/v1/events?type=access.denied", &team.owner.jwt)
            .await
            .expect(200);
        denied = events.items().clone();
        if !denied.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let events = app
        .get("/v1/events?type=access.denied", &team.owner.jwt)
        .await
        .expect(200);
    assert_eq!(events.items().len(), 1, "one per member per minute: {}", events.text);
    assert!(!denied.is_empty());
    let event = &events.body["items"][0];
    assert_eq!(event["data"]["permission"], "collaborators.read");
    assert_eq!(event["data"]["route"], "/v1/apps/{app}/collaborators");
    assert_eq!(event["actor"]["email"], team.limited.email.as_str());

    // The trail spans the owner's apps, filters, and exports NDJSON.
    app.create_app(&team.owner, "second").await;
    let all = app.get("/v1/events?limit=200", &team.owner.jwt).await.expect(200);
    let apps: std::collections::BTreeSet<_> = all.column("app_name").into_iter().collect();
    assert_eq!(apps.into_iter().collect::<Vec<_>>(), ["second", "web"]);
    let by_actor = app
        .get(&format!("/v1/events?actor={}", team.limited.email), &team.owner.jwt)
        .await
        .expect(200);
    assert!(
        by_actor
            .items()
            .iter()
            .all(|e| e["actor"]["email"] == team.limited.email.as_str())
    );
    let only_second = app.get("/v1/events?app=second", &team.owner.jwt).await.expect(200);
    assert_eq!(only_second.items().len(), 1);
    let ndjson = app
        .send(
            app.client
                .get(format!("{}/v1/events?limit=3", app.base))
                .bearer_auth(&team.owner.jwt)
                .header("accept", "application/x-ndjson"),
        )
        .await
        .expect(200);
    assert_eq!(ndjson.content_type(), "application/x-ndjson");
    let lines: Vec<Value> = ndjson.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    let next = ndjson.headers["next-cursor"].to_str().unwrap();
    let rest = app
        .get(&format!("/v1/events?limit=200&cursor={next}"), &team.owner.jwt)
        .await
        .expect(200);
    assert_eq!(rest.items().len() + 3, all.items().len());
    let since = (chrono::Utc::now() + TimeDelta::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        app.get(&format!("/v1/events?since={since}"), &team.owner.jwt)
            .await
            .body["items"],
        json!([])
    );
    // Nobody reads another owner's trail.
    let theirs = app.get("/v1/events?app=web", &team.outsider.jwt).await.expect(200);
    assert_eq!(theirs.body["items"], json!([]));
    app.get("/v1/events?limit=0", &team.owner.jwt).await.problem(422);
}

async fn self_access_lists_effective_permissions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let mine = app.get("/v1/users/self/access", &team.limited.jwt).await.expect(200);
    let items = mine.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["app"]["name"], "web");
    assert_eq!(items[0]["role"], "limited_collaborator");
    let expected: Vec<Value> = Role::LimitedCollaborator
        .permissions()
        .iter()
        .map(|p| json!(p.as_str()))
        .collect();
    assert_eq!(items[0]["permissions"], json!(expected));
    let owner = app.get("/v1/users/self/access", &team.owner.jwt).await.expect(200);
    assert_eq!(
        owner.body["items"][0]["permissions"].as_array().unwrap().len(),
        Permission::ALL.len()
    );
    let scoped = create_token(&app, &team.owner, json!({"permissions": ["logs.read", "app.delete"]}))
        .await
        .expect(201);
    let narrowed = app
        .get("/v1/users/self/access", scoped.body["token"].as_str().unwrap())
        .await
        .expect(200);
    assert_eq!(
        narrowed.body["items"][0]["permissions"],
        json!(["app.delete", "logs.read"])
    );
}

on_both_backends!(
    scope_narrows_what_a_token_reports,
    accepting_after_the_granted_access_ended_is_gone
);

async fn scope_narrows_what_a_token_reports(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let reader = create_token(
        &app,
        &team.owner,
        json!({"permissions": ["app.read", "logs.read"], "apps": ["web"]}),
    )
    .await
    .expect(201);
    let reader = reader.body["token"].as_str().unwrap();
    let perms = app.get("/v1/apps/web/permissions", reader).await.expect(200);
    assert_eq!(
        perms.body,
        json!({"role": "owner", "permissions": ["app.read", "logs.read"], "blocked_by": null})
    );
    app.create_app(&team.owner, "web-two").await;
    let checks = json!({"checks": [
        {"app": "web-two", "permission": "app.read"},
        {"app": "web-other", "permission": "app.read"},
        {"app": "no-such-app", "permission": "app.read"},
    ]});
    let answers = app.post("/v1/access/check", reader, checks).await.expect(200);
    assert_eq!(answers.body["results"][0]["reason"], "not_a_member");
    assert!(
        answers.body["results"][0]["role"].is_null(),
        "nothing learnt outside the scope"
    );
    // Another tenant's app and a missing one look the same, even to a scoped token.
    assert_eq!(answers.body["results"][1]["reason"], "not_a_member");
    assert_eq!(answers.body["results"][2]["reason"], "not_a_member");
}

async fn accepting_after_the_granted_access_ended_is_gone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let late = app.signup("late@example.com").await;
    let ends = chrono::Utc::now() + TimeDelta::hours(3);
    let body = json!({"email": late.email, "access_expires_at": ends});
    let inv = app
        .post("/v1/apps/web/invitations", &team.owner.api_token, body)
        .await
        .expect(201);
    app.clock.advance(TimeDelta::hours(4));
    let resp = app
        .post(
            "/v1/invitations/accept",
            &late.api_token,
            json!({"token": inv.body["token"]}),
        )
        .await
        .problem(410);
    assert!(resp.detail().contains("already ended"));
    app.get("/v1/apps/web", &late.api_token).await.problem(404);
}

/// Counts the writes of `last_used_at` on memberships and tokens, by row, with triggers put
/// on the server's own database: what a test cannot see through the API.
struct UseWrites(UseWritesConn);

enum UseWritesConn {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl UseWrites {
    async fn install(app: &TestApp) -> UseWrites {
        use sqlx::Connection;
        let statements = if app.database_url.starts_with("sqlite:") {
            vec![
                "create table use_writes (tbl text not null, id blob not null)".to_owned(),
                "create trigger use_writes_c after update of last_used_at on collaborators \
                 begin insert into use_writes values ('collaborators', new.id); end"
                    .to_owned(),
                "create trigger use_writes_t after update of last_used_at on api_tokens \
                 begin insert into use_writes values ('api_tokens', new.id); end"
                    .to_owned(),
            ]
        } else {
            let mut statements = vec![
                "create table use_writes (tbl text not null, id uuid not null)".to_owned(),
                "create function use_writes() returns trigger language plpgsql as \
                 $$ begin insert into use_writes values (tg_table_name, new.id); return new; end $$"
                    .to_owned(),
            ];
            for table in ["collaborators", "api_tokens"] {
                statements.push(format!(
                    "create trigger use_writes after update of last_used_at on {table} \
                     for each row execute function use_writes()"
                ));
            }
            statements
        };
        let mut conn = if app.database_url.starts_with("sqlite:") {
            UseWritesConn::Sqlite(sqlx::SqliteConnection::connect(&app.database_url).await.unwrap())
        } else {
            UseWritesConn::Postgres(sqlx::PgConnection::connect(&app.database_url).await.unwrap())
        };
        for sql in statements {
            let sql = sqlx::AssertSqlSafe(sql);
            match &mut conn {
                UseWritesConn::Sqlite(c) => sqlx::query(sql).execute(c).await.map(drop),
                UseWritesConn::Postgres(c) => sqlx::query(sql).execute(c).await.map(drop),
            }
            .unwrap();
        }
        UseWrites(conn)
    }

    /// The writes of `table`'s rows belonging to the user `email` so far.
    async fn count(&mut self, table: &str, email: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(format!(
            "select count(*) from use_writes w join {table} r on r.id = w.id join users u on u.id = r.user_id \
             where w.tbl = '{table}' and u.email = $1"
        ));
        match &mut self.0 {
            UseWritesConn::Sqlite(c) => sqlx::query_scalar(sql).bind(email).fetch_one(c).await,
            UseWritesConn::Postgres(c) => sqlx::query_scalar(sql).bind(email).fetch_one(c).await,
        }
        .unwrap()
    }
}

/// Every request in flight when a member's use falls due (a minute after the last write) reads
/// the same old `last_used_at`; only one of them writes it, or dozens of updates of one row
/// queue on its lock and hold the pool's connections (a stall once a minute under load).
async fn a_burst_of_requests_when_use_falls_due_records_it_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let email = team.limited.email.clone();
    let mut writes = UseWrites::install(&app).await;
    app.get("/v1/apps/web", &team.limited.jwt).await.expect(200);
    wait_for_use(&app, &team.owner, "web", &email).await;
    app.clock.advance(TimeDelta::seconds(61));
    let (memberships, tokens) = (
        writes.count("collaborators", &email).await,
        writes.count("api_tokens", &email).await,
    );

    let burst = (0..50).map(|_| app.get("/v1/apps/web", &team.limited.jwt));
    for answer in crate::common::join_all(burst).await {
        answer.expect(200);
    }
    // The background writes land after the answers; give stragglers time to show.
    for _ in 0..100 {
        if writes.count("collaborators", &email).await > memberships {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        writes.count("collaborators", &email).await - memberships,
        1,
        "the membership's use was written once"
    );
    assert_eq!(
        writes.count("api_tokens", &email).await - tokens,
        1,
        "the token's use was written once"
    );

    // Within the minute, no more writes; a minute later, one again.
    app.get("/v1/apps/web", &team.limited.jwt).await.expect(200);
    app.clock.advance(TimeDelta::seconds(61));
    app.get("/v1/apps/web", &team.limited.jwt).await.expect(200);
    for _ in 0..100 {
        if writes.count("collaborators", &email).await > memberships + 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(writes.count("collaborators", &email).await - memberships, 2);
}
