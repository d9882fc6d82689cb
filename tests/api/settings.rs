//! App settings declared as data: the review-app settings, read and replaced through the
//! generic handlers, with the matrix in front and the change on the timeline.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(review_app_settings_are_read_and_replaced_as_data);

const PATH: &str = "/v1/apps/web/review-apps/settings";

async fn review_app_settings_are_read_and_replaced_as_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let defaults = json!({
        "auto_create": false,
        "destroy_on_close": true,
        "destroy_stale_after_hours": null,
        "allow_forks": false,
        "limited_collaborators_via_scm": false,
    });
    // Every role may read them (review_apps.list); before anyone sets them, the defaults.
    for user in [&team.owner, &team.collaborator, &team.limited] {
        assert_eq!(app.get(PATH, &user.jwt).await.expect(200).body, defaults);
    }
    // A limited collaborator may not change them; a non-member cannot tell the app exists.
    let refused = app
        .put(PATH, &team.limited.jwt, json!({"auto_create": true}))
        .await
        .problem(403);
    assert_eq!(refused.body["required_permission"], "review_apps.configure");
    app.get(PATH, &team.outsider.jwt).await.problem(404);
    app.put(PATH, &team.outsider.jwt, json!({})).await.problem(404);

    // A collaborator replaces the whole object: omitted fields take their defaults.
    let set = json!({"auto_create": true, "destroy_stale_after_hours": 72, "limited_collaborators_via_scm": true});
    let stored = app.put(PATH, &team.collaborator.jwt, set).await.expect(200);
    let expected = json!({
        "auto_create": true,
        "destroy_on_close": true,
        "destroy_stale_after_hours": 72,
        "allow_forks": false,
        "limited_collaborators_via_scm": true,
    });
    assert_eq!(stored.body, expected);
    assert_eq!(app.get(PATH, &team.limited.jwt).await.expect(200).body, expected);
    let replaced = app
        .put(PATH, &team.owner.jwt, json!({"allow_forks": true}))
        .await
        .expect(200);
    assert_eq!(replaced.body["auto_create"], false);
    assert_eq!(replaced.body["allow_forks"], true);

    // Each change is on the timeline with what it was and what it became.
    let events = app
        .get("/v1/apps/web/events?type=review_apps.settings_changed", &team.owner.jwt)
        .await
        .expect(200);
    let changes: Vec<&Value> = events.items().iter().collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1]["data"]["from"], defaults);
    assert_eq!(changes[1]["data"]["to"], expected);
    assert_eq!(changes[1]["data"]["key"], "review_apps");
    assert_eq!(changes[1]["actor"]["email"], team.collaborator.email.as_str());
    assert_eq!(changes[0]["data"]["from"], expected);

    // Bad input is a 422 naming the field, and changes nothing.
    for (body, field) in [
        (json!({"destroy_stale_after_hours": 0}), "destroy_stale_after_hours"),
        (json!({"destroy_stale_after_hours": 8761}), "destroy_stale_after_hours"),
        (
            json!({"destroy_stale_after_hours": "soon"}),
            "destroy_stale_after_hours",
        ),
        (json!({"auto_create": "yes"}), "auto_create"),
        (json!({"auto_create": true, "colour": "red"}), "colour"),
    ] {
        let resp = app.put(PATH, &team.owner.jwt, body.clone()).await.problem(422);
        let got = resp.body["errors"][0]["field"].as_str().unwrap();
        assert_eq!(got, field, "{body}: {}", resp.body);
    }
    assert_eq!(app.get(PATH, &team.owner.jwt).await.expect(200).body, replaced.body);
    app.put(PATH, &team.owner.jwt, json!([])).await.problem(422);
}
