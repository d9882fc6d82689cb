//! Apps: create, list, read, update, rename, delete, transfer, and their timeline.

use serde_json::json;
use uuid::Uuid;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    creating_an_app_makes_the_caller_owner,
    app_names_are_checked_and_unique,
    apps_are_listed_by_name_with_cursor_pagination,
    apps_are_addressed_by_name_or_id,
    the_default_branch_can_be_changed,
    renaming_moves_the_name,
    deleting_takes_memberships_and_invitations_along,
    transfer_swaps_owner_and_collaborator_atomically,
    every_change_is_on_the_timeline,
);

async fn creating_an_app_makes_the_caller_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let created = app.post("/v1/apps", &ada.jwt, json!({"name": "web"})).await.expect(201);
    assert_eq!(created.body["name"], "web");
    assert_eq!(created.body["default_branch"], "main");
    assert_eq!(created.body["role"], "owner");
    assert_eq!(created.body["owner"], json!({"id": ada.id, "email": "ada@example.com"}));
    assert_eq!(created.body["created_at"], created.body["updated_at"]);

    let other = app
        .post(
            "/v1/apps",
            &ada.api_token,
            json!({"name": "api", "default_branch": "release/1.x"}),
        )
        .await
        .expect(201);
    assert_eq!(other.body["default_branch"], "release/1.x");

    let collaborators = app.get("/v1/apps/web/collaborators", &ada.jwt).await.expect(200);
    let items = collaborators.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["role"], "owner");
    assert_eq!(items[0]["user_id"], ada.id.as_str());
    assert!(items[0]["invited_by"].is_null());
}

async fn app_names_are_checked_and_unique(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    for bad in [
        "ab",
        "Web",
        "web-",
        "9web",
        "we_b",
        "deadbeef-dead-beef-dead-beefdeadbeef",
    ] {
        let resp = app.post("/v1/apps", &ada.jwt, json!({"name": bad})).await.problem(422);
        assert_eq!(resp.body["errors"][0]["field"], "name", "{bad}");
    }
    let resp = app
        .post("/v1/apps", &ada.jwt, json!({"name": "web", "default_branch": "a..b"}))
        .await
        .problem(422);
    assert_eq!(resp.body["errors"][0]["field"], "default_branch");
    app.post("/v1/apps", &ada.jwt, json!({"name": "web", "owner_id": bob.id}))
        .await
        .problem(422);
    app.post("/v1/apps", &ada.jwt, json!({})).await.problem(422);

    app.create_app(&ada, "web").await;
    let resp = app
        .post("/v1/apps", &bob.jwt, json!({"name": "web"}))
        .await
        .problem(409);
    assert_eq!(resp.detail(), "an app with this name already exists");
}

async fn apps_are_listed_by_name_with_cursor_pagination(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    for name in ["charlie", "alpha", "bravo"] {
        app.create_app(&ada, name).await;
    }
    app.create_app(&bob, "delta").await;
    app.add_member(&bob, "delta", &ada, "limited_collaborator").await;
    app.create_app(&bob, "echo").await;

    let page = app.get("/v1/apps?limit=2", &ada.jwt).await.expect(200);
    let names: Vec<_> = page.column("name");
    assert_eq!(names, ["alpha", "bravo"]);
    let cursor = page.body["next_cursor"].as_str().expect("a next page").to_owned();
    assert!(!cursor.contains("bravo"), "the cursor is opaque: {cursor}");

    let page = app
        .get(&format!("/v1/apps?limit=2&cursor={cursor}"), &ada.jwt)
        .await
        .expect(200);
    let items = page.items();
    let names: Vec<_> = items.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["charlie", "delta"], "only apps where ada has a role");
    assert_eq!(items[1]["role"], "limited_collaborator");
    assert_eq!(items[1]["owner"]["email"], "bob@example.com");
    assert!(page.body["next_cursor"].is_null());

    let all = app.get("/v1/apps", &ada.jwt).await.expect(200);
    assert_eq!(all.items().len(), 4);
    app.get("/v1/apps?limit=0", &ada.jwt).await.problem(422);
    app.get("/v1/apps?limit=201", &ada.jwt).await.problem(422);
    // Not a number is a 422 on `limit` too, as every query parameter's bad value.
    let resp = app.get("/v1/apps?limit=abc", &ada.jwt).await.problem(422);
    assert_eq!(resp.error_fields(), ["limit"]);
}

async fn apps_are_addressed_by_name_or_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let created = app.create_app(&ada, "web").await;
    let id = created["id"].as_str().unwrap();
    let by_name = app.get("/v1/apps/web", &ada.jwt).await.expect(200);
    let by_id = app.get(&format!("/v1/apps/{id}"), &ada.jwt).await.expect(200);
    assert_eq!(by_name.body, by_id.body);
    assert_eq!(by_name.body, created);
}

async fn the_default_branch_can_be_changed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let updated = app
        .patch("/v1/apps/web", &ada.jwt, json!({"default_branch": "trunk"}))
        .await
        .expect(200);
    assert_eq!(updated.body["default_branch"], "trunk");
    assert_ne!(updated.body["updated_at"], updated.body["created_at"]);
    assert_eq!(app.get("/v1/apps/web", &ada.jwt).await.body["default_branch"], "trunk");

    let unchanged = app.patch("/v1/apps/web", &ada.jwt, json!({})).await.expect(200);
    assert_eq!(unchanged.body["default_branch"], "trunk");
    let resp = app
        .patch("/v1/apps/web", &ada.jwt, json!({"name": "other"}))
        .await
        .problem(422);
    assert_eq!(resp.body["errors"][0]["field"], "name", "{}", resp.text);
    assert!(
        resp.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("is not a field of this request")
    );
    app.patch("/v1/apps/web", &ada.jwt, json!({"default_branch": "bad branch"}))
        .await
        .problem(422);
    app.patch("/v1/apps/web", &ada.jwt, json!({"default_branch": 3}))
        .await
        .problem(422);
}

async fn renaming_moves_the_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let created = app.create_app(&ada, "web").await;
    app.create_app(&ada, "taken").await;
    let renamed = app
        .post("/v1/apps/web/rename", &ada.jwt, json!({"name": "site"}))
        .await
        .expect(200);
    assert_eq!(renamed.body["name"], "site");
    assert_eq!(renamed.body["id"], created["id"]);
    app.get("/v1/apps/web", &ada.jwt).await.problem(404);
    app.get("/v1/apps/site", &ada.jwt).await.expect(200);
    app.post("/v1/apps/site/rename", &ada.jwt, json!({"name": "taken"}))
        .await
        .problem(409);
    app.post("/v1/apps/site/rename", &ada.jwt, json!({"name": "Bad Name"}))
        .await
        .problem(422);
    app.get("/v1/apps/site", &ada.jwt).await.expect(200);
}

async fn deleting_takes_memberships_and_invitations_along(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let pending = app.invite(&team.owner, "web", "later@example.com", None).await;
    app.delete("/v1/apps/web", &team.owner.jwt).await.expect(204);
    app.get("/v1/apps/web", &team.owner.jwt).await.problem(404);
    app.get("/v1/apps/web", &team.collaborator.jwt).await.problem(404);
    let listed = app.get("/v1/apps", &team.collaborator.jwt).await.expect(200);
    assert_eq!(listed.body["items"], json!([]));
    let later = app.signup("later@example.com").await;
    app.post("/v1/invitations/accept", &later.jwt, json!({"token": pending["token"]}))
        .await
        .problem(404);
    assert_eq!(
        app.get("/v1/users/self/invitations", &later.jwt).await.body["items"],
        json!([])
    );
    // The name is free again.
    app.create_app(&team.outsider, "web").await;
}

async fn transfer_swaps_owner_and_collaborator_atomically(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let resp = app
        .post(
            "/v1/apps/web/transfer",
            &team.owner.jwt,
            json!({"user_id": team.outsider.id}),
        )
        .await
        .problem(422);
    assert_eq!(resp.body["errors"][0]["field"], "user_id");
    app.post(
        "/v1/apps/web/transfer",
        &team.owner.jwt,
        json!({"user_id": team.owner.id}),
    )
    .await
    .problem(422);
    app.post("/v1/apps/web/transfer", &team.owner.jwt, json!({"user_id": "nope"}))
        .await
        .problem(422);
    app.post(
        "/v1/apps/web/transfer",
        &team.collaborator.jwt,
        json!({"user_id": team.collaborator.id}),
    )
    .await
    .problem(403);

    let moved = app
        .post(
            "/v1/apps/web/transfer",
            &team.owner.jwt,
            json!({"user_id": team.limited.id}),
        )
        .await
        .expect(200);
    assert_eq!(moved.body["owner"]["id"], team.limited.id.as_str());
    assert_eq!(moved.body["role"], "collaborator");

    let members = app
        .get("/v1/apps/web/collaborators", &team.limited.jwt)
        .await
        .expect(200);
    let roles: Vec<_> = members
        .items()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(roles[0], (team.limited.email.clone(), "owner".to_owned()));
    assert!(roles.contains(&(team.owner.email.clone(), "collaborator".to_owned())));
    assert_eq!(roles.iter().filter(|(_, r)| r == "owner").count(), 1);

    // The former owner lost owner-only powers on their very next request.
    let perms = app.get("/v1/apps/web/permissions", &team.owner.jwt).await.expect(200);
    assert_eq!(perms.body["role"], "collaborator");
    app.delete("/v1/apps/web", &team.owner.jwt).await.problem(403);
    app.post(
        "/v1/apps/web/transfer",
        &team.owner.jwt,
        json!({"user_id": team.owner.id}),
    )
    .await
    .problem(403);
}

async fn every_change_is_on_the_timeline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    app.patch("/v1/apps/web", &team.owner.jwt, json!({"default_branch": "trunk"}))
        .await
        .expect(200);
    app.patch(
        &format!("/v1/apps/web/collaborators/{}", team.collaborator_id),
        &team.owner.jwt,
        json!({"role": "limited_collaborator"}),
    )
    .await
    .expect(200);
    app.post("/v1/apps/web/rename", &team.owner.jwt, json!({"name": "site"}))
        .await
        .expect(200);
    app.delete(
        &format!("/v1/apps/site/collaborators/{}", team.limited_id),
        &team.limited.jwt,
    )
    .await
    .expect(204);

    let events = app
        .get("/v1/apps/site/events", &team.collaborator.jwt)
        .await
        .expect(200);
    let kinds: Vec<_> = events.column("type");
    assert_eq!(
        kinds,
        [
            "collaborator.left",
            "app.renamed",
            "collaborator.role_changed",
            "app.updated",
            "collaborator.accepted",
            "collaborator.invited",
            "collaborator.accepted",
            "collaborator.invited",
            "app.created"
        ]
    );
    let role_change = &events.body["items"][2];
    assert_eq!(role_change["data"]["previous_role"], "collaborator");
    assert_eq!(role_change["data"]["role"], "limited_collaborator");
    // The reader is a limited collaborator now: the owner is named without an address.
    assert_eq!(role_change["actor"], json!({"id": team.owner.id, "name": null}));
    let renamed = &events.body["items"][1]["data"];
    assert_eq!((&renamed["from"], &renamed["to"]), (&json!("web"), &json!("site")));
    // The event names the order that asks the platform to route the new name.
    assert!(
        Uuid::parse_str(renamed["order_id"].as_str().unwrap()).is_ok(),
        "{renamed}"
    );

    let first = app
        .get("/v1/apps/site/events?limit=4", &team.owner.jwt)
        .await
        .expect(200);
    assert_eq!(first.items().len(), 4);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get(
            &format!("/v1/apps/site/events?limit=10&cursor={cursor}"),
            &team.owner.jwt,
        )
        .await
        .expect(200);
    assert_eq!(second.items().len(), 5);
    assert_eq!(second.body["items"][0]["type"], "collaborator.accepted");
    assert!(second.body["next_cursor"].is_null());
    app.get("/v1/apps/site/events?cursor=garbage", &team.owner.jwt)
        .await
        .problem(422);
}
