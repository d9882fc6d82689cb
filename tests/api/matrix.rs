//! The whole role matrix, part 1 (issue 12): app lifecycle, autoscalers, support access, log
//! drains and archives, the SCM link, one-offs, cron jobs and review apps, role by role.

use chrono::TimeDelta;
use serde_json::json;

use crate::common::{Backend, PLATFORM_TOKEN, Team, TestApp};
use crate::on_both_backends;

on_both_backends!(
    stop_start_stack_and_children,
    autoscalers_one_per_container_type,
    support_access_is_granted_for_a_while,
    log_drains_keep_their_passwords_sealed,
    log_archives_and_cron_jobs_come_from_the_platform,
    the_scm_link_and_automatic_deployments,
    one_offs_and_single_use_attach_credentials,
    review_apps_by_role_and_through_the_scm,
);

async fn spawn(backend: Backend) -> (TestApp, Team) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let team = app.team("web").await;
    (app, team)
}

#[track_caller]
fn refused(resp: crate::common::Resp, permission: &str) {
    let resp = resp.problem(403);
    assert_eq!(resp.body["required_permission"], permission, "{}", resp.text);
}

async fn stop_start_stack_and_children(backend: Backend) {
    let (app, team) = spawn(backend).await;
    let (owner, collab, limited, outsider) = (
        &team.owner.jwt,
        &team.collaborator.jwt,
        &team.limited.jwt,
        &team.outsider.jwt,
    );
    refused(app.post("/v1/apps/web/stop", limited, json!({})).await, "app.stop");
    let missing = app
        .post("/v1/apps/nowhere/stop", outsider, json!({}))
        .await
        .problem(404);
    assert_eq!(
        app.post("/v1/apps/web/stop", outsider, json!({}))
            .await
            .problem(404)
            .body,
        missing.body
    );
    app.post("/v1/apps/web/stop", collab, json!({})).await.expect(202);
    assert_eq!(
        app.get("/v1/apps/web", limited).await.expect(200).body["status"],
        "stopped"
    );
    let again = app.post("/v1/apps/web/stop", owner, json!({})).await.problem(409);
    assert!(again.detail().contains("already stopped"), "{}", again.text);
    app.post("/v1/apps/web/start", collab, json!({})).await.expect(202);
    assert_eq!(
        app.get("/v1/apps/web", limited).await.expect(200).body["status"],
        "running"
    );
    app.post("/v1/apps/web/start", collab, json!({})).await.problem(409);

    // The stack.
    refused(
        app.put("/v1/apps/web/stack", limited, json!({"stack": "scalingo-24"}))
            .await,
        "app.change_stack",
    );
    let bad = app
        .put("/v1/apps/web/stack", collab, json!({"stack": "ubuntu"}))
        .await
        .problem(422);
    assert_eq!(bad.error_fields(), vec!["stack"]);
    let changed = app
        .put("/v1/apps/web/stack", collab, json!({"stack": "scalingo-24"}))
        .await
        .expect(200);
    assert_eq!(changed.body["stack"], "scalingo-24");
    let events = app
        .get("/v1/apps/web/events?type=app.stack_changed", owner)
        .await
        .expect(200);
    assert_eq!(events.items()[0]["data"]["from"], "scalingo-22");
    assert_eq!(events.items()[0]["data"]["to"], "scalingo-24");

    // Children: members and variables come along; the parent cannot go while they exist.
    app.put("/v1/apps/web/variables/SECRET", owner, json!({"value": "s3cret"}))
        .await
        .expect(200);
    refused(
        app.post("/v1/apps/web/children", limited, json!({"name": "web-child"}))
            .await,
        "app.create_child",
    );
    let child = app
        .post("/v1/apps/web/children", collab, json!({"name": "web-child"}))
        .await
        .expect(201);
    assert_eq!(child.body["parent"], "web");
    assert_eq!(child.body["owner"]["id"], json!(team.owner.id));
    assert_eq!(child.body["role"], "collaborator");
    assert_eq!(child.body["stack"], "scalingo-24");
    let value = app.get("/v1/apps/web-child/variables/SECRET", collab).await.expect(200);
    assert_eq!(value.body["value"], "s3cret");
    let mine = app.get("/v1/apps/web-child/permissions", limited).await.expect(200);
    assert_eq!(mine.body["role"], "limited_collaborator");
    app.get("/v1/apps/web-child", outsider).await.problem(404);
    let children = app.get("/v1/apps/web/children", limited).await.expect(200);
    assert_eq!(children.column("name"), ["web-child"]);
    app.post("/v1/apps/web/children", collab, json!({"name": "web-child"}))
        .await
        .problem(409);
    app.delete("/v1/apps/web", owner).await.problem(409);
    app.delete("/v1/apps/web-child", owner).await.expect(204);
    app.delete("/v1/apps/web", owner).await.expect(204);
}

async fn autoscalers_one_per_container_type(backend: Backend) {
    let (app, team) = spawn(backend).await;
    let (collab, limited) = (&team.collaborator.jwt, &team.limited.jwt);
    let body =
        json!({"container_type": "web", "metric": "cpu", "target": 0.7, "min_containers": 1, "max_containers": 4});
    refused(
        app.post("/v1/apps/web/autoscalers", limited, body.clone()).await,
        "autoscalers.manage",
    );
    let created = app
        .post("/v1/apps/web/autoscalers", collab, body.clone())
        .await
        .expect(201);
    assert_eq!(created.body["enabled"], true);
    let id = created.body["id"].as_str().unwrap().to_owned();
    app.post("/v1/apps/web/autoscalers", collab, body.clone())
        .await
        .problem(409);
    let bad =
        json!({"container_type": "worker", "metric": "disk", "target": 0, "min_containers": 3, "max_containers": 2});
    let resp = app.post("/v1/apps/web/autoscalers", collab, bad).await.problem(422);
    assert_eq!(resp.error_fields(), vec!["metric", "target", "max_containers"]);
    let listed = app.get("/v1/apps/web/autoscalers", limited).await.expect(200);
    assert_eq!(listed.items().len(), 1);
    let mut changed = body.clone();
    changed["max_containers"] = json!(8);
    changed["enabled"] = json!(false);
    let resp = app
        .patch(&format!("/v1/apps/web/autoscalers/{id}"), collab, changed)
        .await
        .expect(200);
    assert_eq!(resp.body["max_containers"], 8);
    refused(
        app.delete(&format!("/v1/apps/web/autoscalers/{id}"), limited).await,
        "autoscalers.manage",
    );
    app.delete(&format!("/v1/apps/web/autoscalers/{id}"), collab)
        .await
        .expect(204);
    app.delete(&format!("/v1/apps/web/autoscalers/{id}"), collab)
        .await
        .problem(404);
    let kinds = app
        .get("/v1/apps/web/events", &team.owner.jwt)
        .await
        .expect(200)
        .column("type");
    for kind in ["autoscaler.created", "autoscaler.changed", "autoscaler.removed"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let orders = app.get("/internal/v1/orders", PLATFORM_TOKEN).await.expect(200);
    let types: Vec<_> = orders
        .items()
        .iter()
        .map(|o| o["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types.iter().filter(|t| *t == "autoscaler.set").count(), 2);
    assert_eq!(types.iter().filter(|t| *t == "autoscaler.remove").count(), 1);
}

async fn support_access_is_granted_for_a_while(backend: Backend) {
    let (app, team) = spawn(backend).await;
    let limited = &team.limited.api_token;
    let before = app
        .get("/internal/v1/apps/web/support-access", PLATFORM_TOKEN)
        .await
        .expect(200);
    assert_eq!(before.body, json!({"granted": false, "until": null}));
    let bad = app
        .post(
            "/v1/apps/web/support-access",
            limited,
            json!({"hours": 200, "reason": ""}),
        )
        .await
        .problem(422);
    assert_eq!(bad.error_fields(), vec!["hours", "reason"]);
    let granted = app
        .post(
            "/v1/apps/web/support-access",
            limited,
            json!({"hours": 2, "reason": "ticket 4242"}),
        )
        .await
        .expect(201);
    assert_eq!(granted.body["granted"], true);
    assert_eq!(granted.body["grant"]["granted_by"]["email"], json!(team.limited.email));
    let shown = app
        .get("/v1/apps/web/support-access", &team.collaborator.jwt)
        .await
        .expect(200);
    assert_eq!(shown.body["granted"], true);
    let platform = app
        .get("/internal/v1/apps/web/support-access", PLATFORM_TOKEN)
        .await
        .expect(200);
    assert_eq!(platform.body["granted"], true);
    app.get("/v1/apps/web/support-access", &team.outsider.jwt)
        .await
        .problem(404);
    // Past its end it no longer holds, with nothing swept.
    app.clock.advance(TimeDelta::hours(3));
    let platform = app
        .get("/internal/v1/apps/web/support-access", PLATFORM_TOKEN)
        .await
        .expect(200);
    assert_eq!(platform.body["granted"], false);
    app.delete("/v1/apps/web/support-access", limited).await.problem(404);
    app.post(
        "/v1/apps/web/support-access",
        limited,
        json!({"hours": 1, "reason": "again"}),
    )
    .await
    .expect(201);
    app.delete("/v1/apps/web/support-access", limited).await.expect(204);
    let platform = app
        .get("/internal/v1/apps/web/support-access", PLATFORM_TOKEN)
        .await
        .expect(200);
    assert_eq!(platform.body["granted"], false);
}

async fn log_drains_keep_their_passwords_sealed(backend: Backend) {
    let (app, team) = spawn(backend).await;
    let (owner, collab, limited) = (&team.owner.jwt, &team.collaborator.jwt, &team.limited.jwt);
    let url = "https://drain:hunter2-secret@logs.example.com/ingest";
    refused(app.get("/v1/apps/web/log-drains", limited).await, "log_drains.manage");
    refused(
        app.post("/v1/apps/web/log-drains", limited, json!({"url": url})).await,
        "log_drains.manage",
    );
    for bad in [
        "http://logs.example.com",
        "syslog://logs.example.com",
        "ftp://x",
        "not a url",
    ] {
        let resp = app
            .post("/v1/apps/web/log-drains", collab, json!({"url": bad}))
            .await
            .problem(422);
        assert_eq!(resp.error_fields(), vec!["url"], "{bad}");
    }
    let created = app
        .post("/v1/apps/web/log-drains", collab, json!({"url": url}))
        .await
        .expect(201);
    assert_eq!(created.body["url"], "https://drain:***@logs.example.com/ingest");
    app.post("/v1/apps/web/log-drains", collab, json!({"url": url}))
        .await
        .problem(409);
    // A token as the user name alone, and an API key in the query: hidden as well.
    let token_url = "https://tok3n-secret@logs2.example.com/ingest";
    let key_url = "https://logs3.example.com/ingest?api_key=k3y-secret&tag=web";
    let by_token = app
        .post("/v1/apps/web/log-drains", collab, json!({"url": token_url}))
        .await
        .expect(201);
    assert_eq!(by_token.body["url"], "https://***@logs2.example.com/ingest");
    let by_key = app
        .post("/v1/apps/web/log-drains", collab, json!({"url": key_url}))
        .await
        .expect(201);
    assert_eq!(
        by_key.body["url"],
        "https://logs3.example.com/ingest?api_key=***&tag=***"
    );
    let secrets = ["hunter2", "tok3n", "k3y-secret"];
    let listed = app.get("/v1/apps/web/log-drains", owner).await.expect(200);
    assert_eq!(listed.items().len(), 3);
    // Events are read by every member, limited collaborators included.
    for (path, who) in [
        ("/v1/apps/web/log-drains", owner.as_str()),
        ("/v1/apps/web/events", owner.as_str()),
        ("/v1/apps/web/events", limited.as_str()),
        ("/v1/events", owner.as_str()),
        ("/internal/v1/orders", PLATFORM_TOKEN),
    ] {
        let text = app.get(path, who).await.expect(200).text;
        assert!(secrets.iter().all(|s| !text.contains(s)), "{path}: {text}");
    }
    let full = app
        .get("/internal/v1/apps/web/log-drains", PLATFORM_TOKEN)
        .await
        .expect(200);
    let full_urls: Vec<&str> = full.items().iter().filter_map(|d| d["url"].as_str()).collect();
    assert!(
        [url, token_url, key_url].iter().all(|u| full_urls.contains(u)),
        "{full_urls:?}"
    );
    for drain in [&by_token, &by_key] {
        let id = drain.body["id"].as_str().unwrap();
        app.delete(&format!("/v1/apps/web/log-drains/{id}"), collab)
            .await
            .expect(204);
    }
    let full = app
        .get("/internal/v1/apps/web/log-drains", PLATFORM_TOKEN)
        .await
        .expect(200);
    assert_eq!(full.body["items"][0]["url"], url);
    let id = created.body["id"].as_str().unwrap();
    app.delete(&format!("/v1/apps/web/log-drains/{id}"), collab)
        .await
        .expect(204);
    assert!(
        app.get("/v1/apps/web/log-drains", owner)
            .await
            .expect(200)
            .items()
            .is_empty()
    );
}

async fn log_archives_and_cron_jobs_come_from_the_platform(backend: Backend) {
    let (app, team) = spawn(backend).await;
    let archive = json!({"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z", "size_bytes": 1024,
        "url": "https://archives.example.com/web/1.gz?signature=abc123"});
    let created = app
        .post("/internal/v1/apps/web/logs/archives", PLATFORM_TOKEN, archive)
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap();
    refused(
        app.get("/v1/apps/web/logs/archives", &team.limited.jwt).await,
        "logs.download_archives",
    );
    refused(
        app.get(&format!("/v1/apps/web/logs/archives/{id}"), &team.limited.jwt)
            .await,
        "logs.download_archives",
    );
    let listed = app
        .get("/v1/apps/web/logs/archives", &team.collaborator.jwt)
        .await
        .expect(200);
    assert_eq!(listed.items().len(), 1);
    assert!(!listed.text.contains("signature"), "{}", listed.text);
    let one = app
        .get(&format!("/v1/apps/web/logs/archives/{id}"), &team.collaborator.jwt)
        .await
        .expect(200);
    assert_eq!(
        one.body["url"],
        "https://archives.example.com/web/1.gz?signature=abc123"
    );
    let backwards =
        json!({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z", "size_bytes": 1, "url": "http://x"});
    let resp = app
        .post("/internal/v1/apps/web/logs/archives", PLATFORM_TOKEN, backwards)
        .await
        .problem(422);
    assert_eq!(resp.error_fields(), vec!["to", "url"]);

    // Cron jobs: the platform replaces the table; every member reads it.
    let table = json!({"jobs": [{"schedule": "0 3 * * *", "command": "rake cleanup"}, {"schedule": "*/5 * * * *", "command": "ping", "size": "S"}]});
    app.put("/internal/v1/apps/web/cron-jobs", PLATFORM_TOKEN, table)
        .await
        .expect(200);
    let jobs = app.get("/v1/apps/web/cron-jobs", &team.limited.jwt).await.expect(200);
    assert_eq!(jobs.column("command"), ["rake cleanup", "ping"]);
    let bad = json!({"jobs": [{"schedule": "every day", "command": "x"}]});
    let resp = app
        .put("/internal/v1/apps/web/cron-jobs", PLATFORM_TOKEN, bad)
        .await
        .problem(422);
    assert_eq!(resp.error_fields(), vec!["jobs[0].schedule"]);
    app.put("/internal/v1/apps/web/cron-jobs", PLATFORM_TOKEN, json!({"jobs": []}))
        .await
        .expect(200);
    assert!(
        app.get("/v1/apps/web/cron-jobs", &team.limited.jwt)
            .await
            .expect(200)
            .items()
            .is_empty()
    );
    app.get("/v1/apps/web/cron-jobs", &team.outsider.jwt).await.problem(404);
}

async fn the_scm_link_and_automatic_deployments(backend: Backend) {
    let (app, team) = spawn(backend).await;
    let (collab, limited) = (&team.collaborator.jwt, &team.limited.jwt);
    app.get("/v1/apps/web/scm-link", limited).await.problem(404);
    let early = app
        .put(
            "/v1/apps/web/scm-link/auto-deploy",
            collab,
            json!({"enabled": true, "branch": "main"}),
        )
        .await;
    early.problem(409);
    refused(
        app.put(
            "/v1/apps/web/scm-link",
            limited,
            json!({"provider": "github", "repository": "acme/web"}),
        )
        .await,
        "scm.configure",
    );
    let bad = app
        .put(
            "/v1/apps/web/scm-link",
            collab,
            json!({"provider": "svn", "repository": "../x"}),
        )
        .await
        .problem(422);
    assert_eq!(bad.error_fields(), vec!["provider", "repository"]);
    let linked = app
        .put(
            "/v1/apps/web/scm-link",
            collab,
            json!({"provider": "github", "repository": "acme/web"}),
        )
        .await
        .expect(200);
    assert_eq!(linked.body["auto_deploy"], json!({"enabled": false, "branch": null}));
    refused(
        app.put(
            "/v1/apps/web/scm-link/auto-deploy",
            limited,
            json!({"enabled": true, "branch": null}),
        )
        .await,
        "deployments.manage_auto",
    );
    let auto = app
        .put(
            "/v1/apps/web/scm-link/auto-deploy",
            collab,
            json!({"enabled": true, "branch": "main"}),
        )
        .await
        .expect(200);
    assert_eq!(auto.body["auto_deploy"], json!({"enabled": true, "branch": "main"}));
    let shown = app.get("/v1/apps/web/scm-link", limited).await.expect(200);
    assert_eq!(shown.body["repository"], "acme/web");
    app.delete("/v1/apps/web/scm-link", collab).await.expect(204);
    app.get("/v1/apps/web/scm-link", limited).await.problem(404);
    let kinds = app
        .get("/v1/apps/web/events", &team.owner.jwt)
        .await
        .expect(200)
        .column("type");
    for kind in ["scm.linked", "scm.auto_deploy_changed", "scm.unlinked"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind}");
    }
}

async fn one_offs_and_single_use_attach_credentials(backend: Backend) {
    let (app, team) = spawn(backend).await;
    let (collab, limited) = (&team.collaborator.jwt, &team.limited.jwt);
    let run = json!({"command": "rails console", "size": "L"});
    refused(
        app.post("/v1/apps/web/one-offs", limited, run.clone()).await,
        "one_offs.create",
    );
    let bad = app
        .post("/v1/apps/web/one-offs", collab, json!({"command": "", "size": "XXL"}))
        .await
        .problem(422);
    assert_eq!(bad.error_fields(), vec!["command", "size"]);
    let started = app.post("/v1/apps/web/one-offs", collab, run).await.expect(202);
    assert_eq!(started.body["status"], "starting");
    let id = started.body["id"].as_str().unwrap().to_owned();
    let listed = app.get("/v1/apps/web/one-offs", limited).await.expect(200);
    assert_eq!(listed.column("command"), ["rails console"]);
    refused(
        app.post(&format!("/v1/apps/web/one-offs/{id}/attach"), limited, json!({}))
            .await,
        "one_offs.attach",
    );
    let attach = app
        .post(&format!("/v1/apps/web/one-offs/{id}/attach"), collab, json!({}))
        .await
        .expect(201);
    let url = attach.body["attach_url"].as_str().unwrap();
    let token = url.split("token=").nth(1).unwrap().to_owned();
    assert!(token.starts_with("rga_"));
    let events = app.get("/v1/apps/web/events", &team.owner.jwt).await.expect(200);
    assert!(!events.text.contains(&token), "the credential is on the timeline");
    let verified = app
        .post(
            "/internal/v1/one-offs/attach/verify",
            PLATFORM_TOKEN,
            json!({"token": token}),
        )
        .await
        .expect(200);
    assert_eq!(verified.body["one_off_id"], json!(id));
    assert_eq!(verified.body["user_id"], json!(team.collaborator.id));
    // A second use is refused.
    app.post(
        "/internal/v1/one-offs/attach/verify",
        PLATFORM_TOKEN,
        json!({"token": token}),
    )
    .await
    .problem(404);
    // So is one past its five minutes.
    let late = app
        .post(&format!("/v1/apps/web/one-offs/{id}/attach"), collab, json!({}))
        .await
        .expect(201);
    let late = late.body["attach_url"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    app.clock.advance(TimeDelta::minutes(6));
    app.post(
        "/internal/v1/one-offs/attach/verify",
        PLATFORM_TOKEN,
        json!({"token": late}),
    )
    .await
    .problem(410);
    // The platform reports it; once exited, nobody attaches.
    let running = app
        .post(
            &format!("/internal/v1/one-offs/{id}/status"),
            PLATFORM_TOKEN,
            json!({"status": "running"}),
        )
        .await
        .expect(200);
    assert_eq!(running.body["status"], "running");
    let exited = app
        .post(
            &format!("/internal/v1/one-offs/{id}/status"),
            PLATFORM_TOKEN,
            json!({"status": "exited", "exit_code": 3}),
        )
        .await
        .expect(200);
    assert_eq!(exited.body["exit_code"], 3);
    let status_path = format!("/internal/v1/one-offs/{id}/status");
    let report = |body: serde_json::Value| app.post(&status_path, PLATFORM_TOKEN, body);
    // A retried final report answers as the first; another exit code, or any other status, is
    // too late; exited comes with its code.
    let again = report(json!({"status": "exited", "exit_code": 3})).await.expect(200);
    assert_eq!(again.body, exited.body);
    report(json!({"status": "exited", "exit_code": 0})).await.problem(409);
    report(json!({"status": "running"})).await.problem(409);
    let missing = report(json!({"status": "exited"})).await.problem(422);
    assert_eq!(missing.error_fields(), vec!["exit_code"]);
    app.post(&format!("/v1/apps/web/one-offs/{id}/attach"), collab, json!({}))
        .await
        .problem(409);
}

async fn review_apps_by_role_and_through_the_scm(backend: Backend) {
    let (app, team) = spawn(backend).await;
    let (owner, collab, limited) = (&team.owner.jwt, &team.collaborator.jwt, &team.limited.jwt);
    refused(
        app.post(
            "/v1/apps/web/review-apps",
            limited,
            json!({"pull_request": 7, "branch": "feature"}),
        )
        .await,
        "review_apps.create",
    );
    let created = app
        .post(
            "/v1/apps/web/review-apps",
            collab,
            json!({"pull_request": 7, "branch": "feature"}),
        )
        .await
        .expect(202);
    assert_eq!(created.body["via"], "api");
    let id = created.body["id"].as_str().unwrap().to_owned();
    app.post(
        "/v1/apps/web/review-apps",
        collab,
        json!({"pull_request": 7, "branch": "feature"}),
    )
    .await
    .problem(409);
    assert_eq!(
        app.get("/v1/apps/web/review-apps", limited)
            .await
            .expect(200)
            .items()
            .len(),
        1
    );
    app.post(&format!("/v1/apps/web/review-apps/{id}/redeploy"), limited, json!({}))
        .await
        .expect(202);
    app.delete(&format!("/v1/apps/web/review-apps/{id}"), limited)
        .await
        .expect(204);
    app.get("/v1/apps/web/review-apps", team.outsider.jwt.as_str())
        .await
        .problem(404);

    // Through the SCM: the platform reports pull requests; rolegate decides.
    let report = |pr: u32, email: &str, fork: bool| json!({"pull_request": pr, "branch": format!("pr-{pr}"), "author_email": email, "from_fork": fork});
    let post = |body: serde_json::Value| app.post("/internal/v1/apps/web/review-apps", PLATFORM_TOKEN, body);
    let outcome = post(report(1, &team.collaborator.email, false)).await.expect(200);
    assert_eq!(outcome.body["reason"], "auto_create_off");
    let settings = json!({"auto_create": true, "destroy_on_close": true, "destroy_stale_after_hours": null,
        "allow_forks": false, "limited_collaborators_via_scm": false});
    app.put("/v1/apps/web/review-apps/settings", owner, settings.clone())
        .await
        .expect(200);
    let outcome = post(report(2, &team.limited.email, false)).await.expect(200);
    assert_eq!(
        outcome.body,
        json!({"created": false, "reason": "author_may_not_create", "review_app": null})
    );
    let outcome = post(report(3, &team.outsider.email, false)).await.expect(200);
    assert_eq!(outcome.body["reason"], "author_not_a_member");
    let outcome = post(report(4, "nobody@example.com", false)).await.expect(200);
    assert_eq!(outcome.body["reason"], "author_not_a_member");
    let outcome = post(report(5, &team.collaborator.email, true)).await.expect(200);
    assert_eq!(outcome.body["reason"], "forks_not_allowed");
    let made = post(report(6, &team.collaborator.email, false)).await.expect(201);
    assert_eq!(made.body["review_app"]["via"], "scm");
    let again = post(report(6, &team.collaborator.email, false)).await.expect(200);
    assert_eq!(again.body["reason"], "already_open");
    // The owner lets limited collaborators open review apps through the SCM...
    let mut open = settings.clone();
    open["limited_collaborators_via_scm"] = json!(true);
    app.put("/v1/apps/web/review-apps/settings", owner, open)
        .await
        .expect(200);
    let made = post(report(2, &team.limited.email, false)).await.expect(201);
    assert_eq!(made.body["review_app"]["created_by"], json!(team.limited.id));
    // ...which still does not let them call the API directly.
    refused(
        app.post(
            "/v1/apps/web/review-apps",
            limited,
            json!({"pull_request": 9, "branch": "x"}),
        )
        .await,
        "review_apps.create",
    );
    let events = app
        .get("/v1/apps/web/events?type=review_app.requested", owner)
        .await
        .expect(200);
    assert_eq!(events.items().len(), 3);
}
