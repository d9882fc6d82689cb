//! Members: list, role changes, removal, leaving.

use serde_json::json;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    members_are_listed_owner_first,
    roles_change_within_the_granters_reach,
    the_owner_row_is_not_changed_or_removed_here,
    removed_collaborators_are_refused_on_their_next_request,
    any_member_may_leave_but_only_managers_remove_others,
);

async fn members_are_listed_owner_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let list = app
        .get("/v1/apps/web/collaborators", &team.collaborator.jwt)
        .await
        .expect(200);
    let items = list.items();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["role"], "owner");
    assert_eq!(items[1]["email"], team.collaborator.email.as_str());
    assert_eq!(items[1]["role"], "collaborator");
    assert_eq!(items[1]["status"], "accepted");
    assert_eq!(
        items[1]["invited_by"],
        json!({"id": team.owner.id, "email": team.owner.email})
    );
    assert_eq!(items[2]["id"], team.limited_id.as_str());
    assert_eq!(items[2]["app_id"], team.app_id.as_str());
    let mut keys: Vec<_> = items[2].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "access_expires_at",
            "app_id",
            "created_at",
            "email",
            "id",
            "invited_by",
            "last_used_at",
            "role",
            "status",
            "tfa_enabled",
            "user_id"
        ]
    );
    let resp = app
        .get("/v1/apps/web/collaborators", &team.limited.jwt)
        .await
        .problem(403);
    assert_eq!(resp.body["required_permission"], "collaborators.read");
    assert_eq!(resp.body["role"], "limited_collaborator");
}

async fn roles_change_within_the_granters_reach(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let limited_path = format!("/v1/apps/web/collaborators/{}", team.limited_id);

    // The limited collaborator can't read variables' values... until promoted.
    let before = app.get("/v1/apps/web/permissions", &team.limited.jwt).await.expect(200);
    assert!(
        !before.body["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("variables.read_values"))
    );

    let promoted = app
        .patch(&limited_path, &team.collaborator.jwt, json!({"role": "collaborator"}))
        .await
        .expect(200);
    assert_eq!(promoted.body["role"], "collaborator");
    assert_eq!(promoted.body["id"], team.limited_id.as_str());
    let after = app.get("/v1/apps/web/permissions", &team.limited.jwt).await.expect(200);
    assert_eq!(after.body["role"], "collaborator");
    assert!(
        after.body["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("variables.read_values"))
    );

    app.patch(&limited_path, &team.owner.jwt, json!({"role": "limited_collaborator"}))
        .await
        .expect(200);
    let resp = app
        .patch(&limited_path, &team.owner.jwt, json!({"role": "owner"}))
        .await
        .problem(422);
    assert!(resp.body["errors"][0]["message"].as_str().unwrap().contains("transfer"));
    app.patch(&limited_path, &team.owner.jwt, json!({"role": "admin"}))
        .await
        .problem(422);
    app.patch(&limited_path, &team.owner.jwt, json!({})).await.problem(422);
    let resp = app
        .patch(&limited_path, &team.limited.jwt, json!({"role": "collaborator"}))
        .await
        .problem(403);
    assert_eq!(resp.body["required_permission"], "collaborators.update_role");

    // Nobody changes their own role, even downwards.
    let own = format!("/v1/apps/web/collaborators/{}", team.collaborator_id);
    app.patch(&own, &team.collaborator.jwt, json!({"role": "limited_collaborator"}))
        .await
        .problem(403);

    app.patch(
        "/v1/apps/web/collaborators/0195f3c4-0000-7000-8000-000000000000",
        &team.owner.jwt,
        json!({"role": "collaborator"}),
    )
    .await
    .problem(404);
    let resp = app
        .patch(
            "/v1/apps/web/collaborators/42",
            &team.owner.jwt,
            json!({"role": "collaborator"}),
        )
        .await
        .problem(400);
    assert!(resp.detail().contains("id"), "{}", resp.text);

    // A member of another app cannot be reached through this one.
    let other = app
        .get("/v1/apps/web-other/collaborators", &team.outsider.jwt)
        .await
        .expect(200);
    let other_id = other.body["items"][0]["id"].as_str().unwrap();
    app.patch(
        &format!("/v1/apps/web/collaborators/{other_id}"),
        &team.owner.jwt,
        json!({"role": "collaborator"}),
    )
    .await
    .problem(404);
}

async fn the_owner_row_is_not_changed_or_removed_here(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let list = app.get("/v1/apps/web/collaborators", &team.owner.jwt).await.expect(200);
    let owner_row = format!(
        "/v1/apps/web/collaborators/{}",
        list.body["items"][0]["id"].as_str().unwrap()
    );
    let resp = app
        .patch(
            &owner_row,
            &team.collaborator.jwt,
            json!({"role": "limited_collaborator"}),
        )
        .await
        .problem(409);
    assert!(resp.detail().contains("transfer"));
    app.delete(&owner_row, &team.collaborator.jwt).await.problem(409);
    let resp = app.delete(&owner_row, &team.owner.jwt).await.problem(409);
    assert!(resp.detail().contains("transfer the app first"));
    let still = app.get("/v1/apps/web", &team.owner.jwt).await.expect(200);
    assert_eq!(still.body["role"], "owner");
}

async fn removed_collaborators_are_refused_on_their_next_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    app.get("/v1/apps/web", &team.collaborator.jwt).await.expect(200);
    app.delete(
        &format!("/v1/apps/web/collaborators/{}", team.collaborator_id),
        &team.owner.jwt,
    )
    .await
    .expect(204);
    let resp = app.get("/v1/apps/web", &team.collaborator.jwt).await.problem(404);
    assert_eq!(resp.detail(), "app not found");
    app.get("/v1/apps/web", &team.collaborator.api_token).await.problem(404);
    let listed = app.get("/v1/apps", &team.collaborator.jwt).await.expect(200);
    assert_eq!(listed.body["items"], json!([]));
    app.delete(
        &format!("/v1/apps/web/collaborators/{}", team.collaborator_id),
        &team.owner.jwt,
    )
    .await
    .problem(404);
    let events = app
        .get("/v1/apps/web/events?limit=1", &team.owner.jwt)
        .await
        .expect(200);
    assert_eq!(events.body["items"][0]["type"], "collaborator.removed");
    assert_eq!(
        events.body["items"][0]["data"]["email"],
        team.collaborator.email.as_str()
    );
}

async fn any_member_may_leave_but_only_managers_remove_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let resp = app
        .delete(
            &format!("/v1/apps/web/collaborators/{}", team.collaborator_id),
            &team.limited.jwt,
        )
        .await
        .problem(403);
    assert_eq!(resp.body["required_permission"], "collaborators.remove");
    assert_eq!(resp.body["role"], "limited_collaborator");
    app.delete(
        &format!("/v1/apps/web/collaborators/{}", team.limited_id),
        &team.limited.jwt,
    )
    .await
    .expect(204);
    app.get("/v1/apps/web", &team.limited.jwt).await.problem(404);
    let events = app
        .get("/v1/apps/web/events?limit=1", &team.owner.jwt)
        .await
        .expect(200);
    assert_eq!(events.body["items"][0]["type"], "collaborator.left");
    // A collaborator may remove another member.
    let carol = app.signup("carol@example.com").await;
    let row = app.add_member(&team.owner, "web", &carol, "limited_collaborator").await;
    app.delete(
        &format!("/v1/apps/web/collaborators/{}", row["id"].as_str().unwrap()),
        &team.collaborator.jwt,
    )
    .await
    .expect(204);
    app.get("/v1/apps/web", &carol.jwt).await.problem(404);
}
