//! Races closed in SQL, tried many times, and two replicas sharing one database.

use serde_json::json;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    concurrent_accepts_make_one_membership_every_time,
    transfer_racing_removal_leaves_exactly_one_owner,
    a_member_removed_on_one_replica_is_refused_by_the_other,
);

/// Trials per race (`ROLEGATE_RACE_TRIALS`, default 100).
fn trials() -> usize {
    std::env::var("ROLEGATE_RACE_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

async fn concurrent_accepts_make_one_membership_every_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let url = format!("{}/v1/invitations/accept", app.base);
    let trials = trials();
    for trial in 0..trials {
        let guest = app.signup(&format!("guest{trial}@example.com")).await;
        let inv = app.invite(&ada, "web", &guest.email, None).await;
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let request = app
                    .client
                    .post(&url)
                    .bearer_auth(&guest.jwt)
                    .json(&json!({"token": inv["token"]}));
                tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
            })
            .collect();
        let mut statuses = Vec::new();
        for h in handles {
            statuses.push(h.await.unwrap().unwrap());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "trial {trial}: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| matches!(s, 200 | 410)),
            "trial {trial}: {statuses:?}"
        );
    }
    let members = app.get("/v1/apps/web/collaborators", &ada.jwt).await.expect(200);
    assert_eq!(
        members.items().len(),
        trials + 1,
        "one membership per trial, plus the owner"
    );
    println!("{trials} trials of 50 concurrent accepts: one membership each");
}

async fn transfer_racing_removal_leaves_exactly_one_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let trials = trials();
    let mut outcomes = std::collections::BTreeMap::new();
    for trial in 0..trials {
        let name = format!("race-{trial}");
        app.create_app(&ada, &name).await;
        let bob = app.signup(&format!("bob{trial}@example.com")).await;
        let member = app.add_member(&ada, &name, &bob, "collaborator").await;
        let transfer = app
            .client
            .post(format!("{}/v1/apps/{name}/transfer", app.base))
            .bearer_auth(&ada.jwt)
            .json(&json!({"user_id": bob.id}));
        let remove = app
            .client
            .delete(format!(
                "{}/v1/apps/{name}/collaborators/{}",
                app.base,
                member["id"].as_str().unwrap()
            ))
            .bearer_auth(&ada.jwt);
        let (t, r) = tokio::join!(transfer.send(), remove.send());
        let (t, r) = (t.unwrap().status().as_u16(), r.unwrap().status().as_u16());
        *outcomes.entry((t, r)).or_insert(0) += 1;
        let members = app.get(&format!("/v1/apps/{name}/collaborators"), &ada.api_token).await;
        let members = if members.status.as_u16() == 200 {
            members
        } else {
            app.get(&format!("/v1/apps/{name}/collaborators"), &bob.api_token)
                .await
                .expect(200)
        };
        let owners = members.items().iter().filter(|m| m["role"] == "owner").count();
        assert_eq!(owners, 1, "trial {trial}: transfer {t}, removal {r}: {}", members.text);
        assert!(
            matches!((t, r), (200, 409) | (200, 403) | (422, 204) | (403, 204)),
            "trial {trial}: transfer {t}, removal {r}"
        );
    }
    println!("{trials} transfer/removal races, outcomes (transfer, removal): {outcomes:?}");
}

async fn a_member_removed_on_one_replica_is_refused_by_the_other(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let second = first.replica(&[]).await;
    let team = first.team("web").await;
    second.get("/v1/apps/web", &team.collaborator.jwt).await.expect(200);
    first
        .delete(
            &format!("/v1/apps/web/collaborators/{}", team.collaborator_id),
            &team.owner.jwt,
        )
        .await
        .expect(204);
    second.get("/v1/apps/web", &team.collaborator.jwt).await.problem(404);
    second
        .get("/v1/apps/web", &team.collaborator.api_token)
        .await
        .problem(404);
    // A role changed on one is enforced by the other at once, too.
    second
        .patch(
            &format!("/v1/apps/web/collaborators/{}", team.limited_id),
            &team.owner.jwt,
            json!({"role": "collaborator"}),
        )
        .await
        .expect(200);
    first
        .get("/v1/apps/web/collaborators", &team.limited.jwt)
        .await
        .expect(200);
}
