//! The whole role matrix, part 2 (issue 13): add-on dashboards and database operations.
//! Every new route, role by role, on a database, on an add-on that is not one, and for a
//! non-member; single-use links; restores and upgrades that exclude each other; bad input;
//! database users' passwords shown once; a token scoped to `databases.create_backup`.

use chrono::TimeDelta;
use reqwest::Method;
use serde_json::{Value, json};

use rolegate::authz::Role;
use rolegate::authz::routes::{ROUTES, RouteSpec};
use rolegate::clock::Clock;

use crate::common::{Backend, PLATFORM_TOKEN, Resp, Team, TestApp, method};
use crate::on_both_backends;

on_both_backends!(
    roles_hold_the_new_rows,
    every_database_route_by_role,
    links_are_single_use_and_short_lived,
    restores_and_upgrades_exclude_each_other,
    bad_input_is_refused_and_nothing_is_written,
    database_users_passwords_are_shown_once,
    a_token_scoped_to_taking_backups_does_nothing_else,
    database_logs_and_metrics_come_from_the_platform,
);

const NEW_ROWS: [&str; 15] = [
    "addons.open_dashboard",
    "databases.open_dashboard",
    "databases.create_backup",
    "databases.schedule_backups",
    "databases.download_backups",
    "databases.restore_backup",
    "databases.restore_pitr",
    "databases.read_logs",
    "databases.read_metrics",
    "databases.manage_internet_access",
    "databases.configure",
    "databases.manage_users",
    "databases.manage_maintenance",
    "databases.upgrade_minor",
    "databases.upgrade_major",
];

/// `GET /v1/roles`: owner and collaborator hold every new row, limited collaborator none.
async fn roles_hold_the_new_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    for (role, holds) in [("owner", true), ("collaborator", true), ("limited_collaborator", false)] {
        let resp = app.get(&format!("/v1/roles/{role}"), &ada.jwt).await.expect(200);
        let permissions = resp.body["permissions"].as_array().unwrap();
        for row in NEW_ROWS {
            assert_eq!(permissions.contains(&json!(row)), holds, "{role} {row}");
        }
    }
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/permissions.md")).unwrap();
    for row in NEW_ROWS {
        assert!(doc.contains(&format!("| `{row}` | yes | yes | no |")), "{row}");
    }
}

struct Setup {
    app: TestApp,
    team: Team,
    db: String,
    not_db: String,
}

async fn spawn(backend: Backend) -> Setup {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN),
            ("ROLEGATE_MAX_ORDERS_PER_MINUTE", "0"),
            ("ROLEGATE_LOG_RETENTION_LINES", "5"),
        ],
    )
    .await;
    let team = app.team("web").await;
    let db = provision(&app, &team, "postgresql").await;
    let not_db = provision(&app, &team, "mailgun").await;
    Setup { app, team, db, not_db }
}

async fn provision(app: &TestApp, team: &Team, provider: &str) -> String {
    let addon = app
        .post(
            "/v1/apps/web/addons",
            &team.owner.jwt,
            json!({"provider": provider, "plan": "s"}),
        )
        .await
        .expect(202);
    let id = addon.body["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/internal/v1/addons/{id}/provisioned"),
        PLATFORM_TOKEN,
        json!({"credentials": {"url": "postgres://u:p@db/x", "user": "u"}}),
    )
    .await
    .expect(200);
    id
}

/// A backup the platform reports `done`, started `ago` before now.
async fn done_backup(app: &TestApp, db: &str, ago: TimeDelta) -> String {
    let started = app.clock.now() - ago;
    let resp = app
        .post(
            &format!("/internal/v1/addons/{db}/database/backups"),
            PLATFORM_TOKEN,
            json!({"status": "done", "size_bytes": 1024, "started_at": started, "finished_at": started}),
        )
        .await
        .expect(200);
    resp.body["id"].as_str().unwrap().to_owned()
}

async fn finish(app: &TestApp, resp: &Resp) {
    if let Some(order) = resp.body["order_id"].as_str() {
        app.post(
            &format!("/internal/v1/requests/{order}/status"),
            PLATFORM_TOKEN,
            json!({"status": "done"}),
        )
        .await
        .expect(200);
    }
}

fn is_new(route: &RouteSpec) -> bool {
    route.path.starts_with("/v1/apps/{app}/addons/{id}/database")
        || route.path == "/v1/apps/{app}/addons/{id}/dashboard"
}

fn body_of(route: &RouteSpec, n: usize) -> Option<Value> {
    let p = route.path;
    let verb = method(route.verb);
    if verb == Method::GET || verb == Method::DELETE {
        return None;
    }
    Some(if p.ends_with("/backup-schedule") {
        json!({"enabled": true, "hour_utc": 4, "retention_days": 14})
    } else if p.ends_with("/internet-access") {
        json!({"enabled": true, "allowed_cidrs": ["203.0.113.0/24", "2001:db8::/32"]})
    } else if p.ends_with("/config") {
        json!({"max_connections": format!("{}", 100 + n)})
    } else if p.ends_with("/maintenance-window") {
        json!({"weekday": 2, "hour_utc": 5, "duration_hours": 3})
    } else if p.ends_with("/users") {
        json!({"name": format!("user_{n}"), "read_only": true})
    } else if p.ends_with("/pitr-restore") {
        json!({"to": chrono::Utc::now() - TimeDelta::hours(1)})
    } else {
        json!({})
    })
}

async fn every_database_route_by_role(backend: Backend) {
    let Setup { app, team, db, not_db } = spawn(backend).await;
    let backup = done_backup(&app, &db, TimeDelta::days(1)).await;
    let mut routes = 0;
    let mut n = 0;
    for route in ROUTES.iter().filter(|r| is_new(r)) {
        routes += 1;
        let permission = route.access.permission().unwrap();
        let what = format!("{} {}", route.verb.as_str(), route.path);
        let path_for = |app_name: &str, addon: &str| {
            route
                .path
                .replace("{app}", app_name)
                .replace("{id}", addon)
                .replace("{backup_id}", &backup)
                .replace("{name}", "to_delete")
        };
        for role in Role::ALL {
            let user = match role {
                Role::Owner => &team.owner,
                Role::Collaborator => &team.collaborator,
                Role::LimitedCollaborator => &team.limited,
            };
            n += 1;
            if route.path.ends_with("/users/{name}") && role.can(permission) {
                app.post(
                    &format!("/v1/apps/web/addons/{db}/database/users"),
                    &team.owner.jwt,
                    json!({"name": "to_delete"}),
                )
                .await
                .expect(201);
            }
            let resp = app
                .call(
                    method(route.verb),
                    &path_for("web", &db),
                    Some(&user.jwt),
                    body_of(route, n),
                )
                .await;
            if role.can(permission) {
                assert!(resp.status.is_success(), "{what} as {role}: {}", resp.text);
                finish(&app, &resp).await;
            } else {
                let resp = resp.problem(403);
                assert_eq!(resp.body["required_permission"], permission.as_str(), "{what}");
            }
        }
        // A non-member gets the app's 404, the same as for a missing app.
        let outsider = app
            .call(
                method(route.verb),
                &path_for("web", &db),
                Some(&team.outsider.jwt),
                body_of(route, 0),
            )
            .await
            .problem(404);
        let missing = app
            .call(
                method(route.verb),
                &path_for("no-such-app", &db),
                Some(&team.outsider.jwt),
                body_of(route, 0),
            )
            .await
            .problem(404);
        assert_eq!(outsider.text, missing.text, "{what}");
        // An add-on that is not a database is not found (its dashboard is one of an add-on).
        let other = app
            .call(
                method(route.verb),
                &path_for("web", &not_db),
                Some(&team.owner.jwt),
                body_of(route, 999),
            )
            .await;
        if route.path == "/v1/apps/{app}/addons/{id}/dashboard" {
            other.expect(201);
        } else {
            let other = other.problem(404);
            assert_eq!(other.detail(), "database not found", "{what}");
        }
    }
    assert_eq!(routes, 22);
    // Every change is on the timeline, and every order went out.
    let events = app
        .get("/v1/apps/web/events?limit=200", &team.owner.jwt)
        .await
        .expect(200);
    let types: Vec<String> = events.column("type");
    for kind in [
        "addon.dashboard_opened",
        "database.dashboard_opened",
        "database.backup_requested",
        "database.backup_download_granted",
        "database.restore_requested",
        "database.pitr_restore_requested",
        "database.upgrade_requested",
        "database.backup_schedule_changed",
        "database.internet_access_changed",
        "database.config_changed",
        "database.maintenance_window_changed",
        "database.user_created",
        "database.user_deleted",
    ] {
        assert!(types.iter().any(|t| t == kind), "no {kind} event");
    }
    let schedule = app
        .get(
            &format!("/v1/apps/web/addons/{db}/database/backup-schedule"),
            &team.owner.jwt,
        )
        .await
        .expect(200);
    assert_eq!(
        schedule.body,
        json!({"enabled": true, "hour_utc": 4, "retention_days": 14})
    );
}

fn token_of(resp: &Resp) -> String {
    resp.body["url"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned()
}

async fn links_are_single_use_and_short_lived(backend: Backend) {
    let Setup { app, team, db, not_db } = spawn(backend).await;
    let collab = &team.collaborator.jwt;
    let link = app
        .post(
            &format!("/v1/apps/web/addons/{db}/database/dashboard"),
            collab,
            json!({}),
        )
        .await
        .expect(201);
    let token = token_of(&link);
    assert!(token.starts_with("rgl_"));
    let grant = app
        .post(
            "/internal/v1/dashboard-links/verify",
            PLATFORM_TOKEN,
            json!({"token": token}),
        )
        .await
        .expect(200);
    assert_eq!(grant.body["purpose"], "database_dashboard");
    assert_eq!(grant.body["addon_id"], db.as_str());
    assert_eq!(grant.body["app_id"], team.app_id.as_str());
    assert_eq!(grant.body["user_id"], json!(team.collaborator.id));
    // Used up.
    app.post(
        "/internal/v1/dashboard-links/verify",
        PLATFORM_TOKEN,
        json!({"token": token}),
    )
    .await
    .problem(404);
    // An add-on's dashboard.
    let link = app
        .post(&format!("/v1/apps/web/addons/{not_db}/dashboard"), collab, json!({}))
        .await
        .expect(201);
    let grant = app
        .post(
            "/internal/v1/dashboard-links/verify",
            PLATFORM_TOKEN,
            json!({"token": token_of(&link)}),
        )
        .await
        .expect(200);
    assert_eq!(grant.body["purpose"], "addon_dashboard");
    assert_eq!(grant.body["provider"], "mailgun");
    // A backup download, only of a done backup.
    let pending = app
        .post(&format!("/v1/apps/web/addons/{db}/database/backups"), collab, json!({}))
        .await
        .expect(202);
    let pending_id = pending.body["id"].as_str().unwrap();
    assert_eq!(pending.body["status"], "pending");
    app.post(
        &format!("/v1/apps/web/addons/{db}/database/backups/{pending_id}/download"),
        collab,
        json!({}),
    )
    .await
    .problem(409);
    let done = app
        .post(
            &format!("/internal/v1/addons/{db}/database/backups"),
            PLATFORM_TOKEN,
            json!({"backup_id": pending_id, "status": "done", "size_bytes": 42}),
        )
        .await
        .expect(200);
    assert_eq!(done.body["status"], "done");
    assert_eq!(done.body["manual"], true);
    let link = app
        .post(
            &format!("/v1/apps/web/addons/{db}/database/backups/{pending_id}/download"),
            collab,
            json!({}),
        )
        .await
        .expect(201);
    let grant = app
        .post(
            "/internal/v1/dashboard-links/verify",
            PLATFORM_TOKEN,
            json!({"token": token_of(&link)}),
        )
        .await
        .expect(200);
    assert_eq!(grant.body["purpose"], "backup_download");
    assert_eq!(grant.body["backup_id"], pending_id);
    // An expired link is refused.
    let late = app
        .post(
            &format!("/v1/apps/web/addons/{db}/database/dashboard"),
            collab,
            json!({}),
        )
        .await
        .expect(201);
    app.clock.advance(TimeDelta::minutes(6));
    app.post(
        "/internal/v1/dashboard-links/verify",
        PLATFORM_TOKEN,
        json!({"token": token_of(&late)}),
    )
    .await
    .problem(410);
    // No event, no answer holds a link token after its one showing.
    let events = app
        .get("/v1/apps/web/events?limit=200", &team.owner.jwt)
        .await
        .expect(200);
    assert!(!events.text.contains("rgl_"), "{}", events.text);
    let orders = app
        .get("/internal/v1/orders?limit=1000", PLATFORM_TOKEN)
        .await
        .expect(200);
    assert!(!orders.text.contains("rgl_"));
}

async fn restores_and_upgrades_exclude_each_other(backend: Backend) {
    let Setup { app, team, db, .. } = spawn(backend).await;
    let owner = &team.owner.jwt;
    let backup = done_backup(&app, &db, TimeDelta::hours(5)).await;
    let base = format!("/v1/apps/web/addons/{db}/database");
    let minor = app
        .post(&format!("{base}/upgrades/minor"), owner, json!({}))
        .await
        .expect(202);
    assert_eq!(minor.body["status"], "queued");
    for (path, body) in [
        (format!("{base}/upgrades/major"), json!({})),
        (format!("{base}/upgrades/minor"), json!({})),
        (format!("{base}/backups/{backup}/restore"), json!({})),
        (
            format!("{base}/pitr-restore"),
            json!({"to": app.clock.now() - TimeDelta::hours(1)}),
        ),
    ] {
        let busy = app.post(&path, owner, body).await.problem(409);
        assert!(busy.detail().contains("under way"), "{path}: {}", busy.text);
    }
    // A backup is not a restore: it is taken while the upgrade runs.
    app.post(&format!("{base}/backups"), owner, json!({})).await.expect(202);
    // The platform reports the upgrade running, then done: the next one is taken.
    let order = minor.body["order_id"].as_str().unwrap();
    app.post(
        &format!("/internal/v1/requests/{order}/status"),
        PLATFORM_TOKEN,
        json!({"status": "running"}),
    )
    .await
    .expect(200);
    app.post(&format!("{base}/upgrades/major"), owner, json!({}))
        .await
        .problem(409);
    finish(&app, &minor).await;
    let restore = app
        .post(&format!("{base}/backups/{backup}/restore"), owner, json!({}))
        .await
        .expect(202);
    app.post(&format!("{base}/upgrades/major"), owner, json!({}))
        .await
        .problem(409);
    // Another database of the app is not held up.
    let other = provision(&app, &team, "redis").await;
    app.post(
        &format!("/v1/apps/web/addons/{other}/database/upgrades/major"),
        owner,
        json!({}),
    )
    .await
    .expect(202);
    app.post(
        &format!(
            "/internal/v1/requests/{}/status",
            restore.body["order_id"].as_str().unwrap()
        ),
        PLATFORM_TOKEN,
        json!({"status": "failed", "message": "disk full"}),
    )
    .await
    .expect(200);
    app.post(&format!("{base}/upgrades/major"), owner, json!({}))
        .await
        .expect(202);
    // Concurrent requests: exactly one is taken.
    let third = provision(&app, &team, "mysql").await;
    let third_base = format!("/v1/apps/web/addons/{third}/database");
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let kind = if i % 2 == 0 { "minor" } else { "major" };
            let request = app
                .client
                .post(format!("{}{third_base}/upgrades/{kind}", app.base))
                .bearer_auth(owner)
                .json(&json!({}));
            tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.unwrap().unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 202 || *s == 409), "{statuses:?}");
}

async fn bad_input_is_refused_and_nothing_is_written(backend: Backend) {
    let Setup { app, team, db, .. } = spawn(backend).await;
    let owner = &team.owner.jwt;
    let base = format!("/v1/apps/web/addons/{db}/database");
    let before = app
        .get("/v1/apps/web/events?limit=200", owner)
        .await
        .expect(200)
        .items()
        .len();
    let bad = app
        .put(
            &format!("{base}/internet-access"),
            owner,
            json!({"enabled": true, "allowed_cidrs": ["10.0.0.0/8", "10.0.0.0/33", "nope", "1.2.3.4/"]}),
        )
        .await
        .problem(422);
    assert_eq!(
        bad.error_fields(),
        ["allowed_cidrs[1]", "allowed_cidrs[2]", "allowed_cidrs[3]"]
    );
    let bad = app
        .put(
            &format!("{base}/backup-schedule"),
            owner,
            json!({"enabled": true, "hour_utc": 24, "retention_days": 0}),
        )
        .await
        .problem(422);
    assert_eq!(bad.error_fields(), ["hour_utc", "retention_days"]);
    let bad = app
        .put(
            &format!("{base}/maintenance-window"),
            owner,
            json!({"weekday": 7, "hour_utc": -1, "duration_hours": 9}),
        )
        .await
        .problem(422);
    assert_eq!(bad.error_fields(), ["weekday", "hour_utc", "duration_hours"]);
    let bad = app
        .patch(
            &format!("{base}/config"),
            owner,
            json!({"work_mem": "64MB", "Bad-Name": "x", "shared_buffers": 5}),
        )
        .await
        .problem(422);
    assert_eq!(bad.error_fields().len(), 2, "{}", bad.text);
    app.post(&format!("{base}/users"), owner, json!({"name": "Robert'); DROP"}))
        .await
        .problem(422);
    // Nothing of it was written.
    let config = app.get(&format!("{base}/config"), owner).await.expect(200);
    assert_eq!(config.body, json!({}));
    let access = app.get(&format!("{base}/internet-access"), owner).await.expect(200);
    assert_eq!(access.body, json!({"enabled": false, "allowed_cidrs": []}));
    let after = app
        .get("/v1/apps/web/events?limit=200", owner)
        .await
        .expect(200)
        .items()
        .len();
    assert_eq!(before, after);

    // A point in time in the future, before the oldest backup, or with no backup at all.
    let pitr = format!("{base}/pitr-restore");
    let none = app
        .post(&pitr, owner, json!({"to": app.clock.now() - TimeDelta::hours(1)}))
        .await
        .problem(422);
    assert_eq!(none.error_fields(), ["to"]);
    done_backup(&app, &db, TimeDelta::hours(2)).await;
    app.post(&pitr, owner, json!({"to": app.clock.now() + TimeDelta::hours(1)}))
        .await
        .problem(422);
    app.post(&pitr, owner, json!({"to": app.clock.now() - TimeDelta::hours(3)}))
        .await
        .problem(422);
    app.post(&pitr, owner, json!({"to": "yesterday"})).await.problem(422);
    app.post(&pitr, owner, json!({"to": app.clock.now() - TimeDelta::hours(1)}))
        .await
        .expect(202);

    // Another database's backup, another app's backup, a made-up one: not found.
    let other_db = provision(&app, &team, "mongodb").await;
    let others = done_backup(&app, &other_db, TimeDelta::hours(1)).await;
    let foreign = app
        .post(
            "/v1/apps/web-other/addons",
            &team.outsider.jwt,
            json!({"provider": "postgresql", "plan": "s"}),
        )
        .await
        .expect(202);
    let foreign_id = foreign.body["id"].as_str().unwrap();
    let foreign_backup = done_backup(&app, foreign_id, TimeDelta::hours(1)).await;
    for backup in [others, foreign_backup, uuid::Uuid::now_v7().to_string()] {
        for action in ["restore", "download"] {
            let resp = app
                .post(&format!("{base}/backups/{backup}/{action}"), owner, json!({}))
                .await
                .problem(404);
            assert_eq!(resp.detail(), "backup not found");
        }
    }
    // The platform cannot report another database's backup under this one either.
    app.post(
        &format!("/internal/v1/addons/{db}/database/backups"),
        PLATFORM_TOKEN,
        json!({"backup_id": foreign_id, "status": "done"}),
    )
    .await
    .problem(404);
    app.post(
        &format!("/internal/v1/addons/{db}/database/backups"),
        PLATFORM_TOKEN,
        json!({"status": "finished"}),
    )
    .await
    .problem(422);
}

async fn database_users_passwords_are_shown_once(backend: Backend) {
    let Setup { app, team, db, .. } = spawn(backend).await;
    let collab = &team.collaborator.jwt;
    let base = format!("/v1/apps/web/addons/{db}/database");
    let created = app
        .post(
            &format!("{base}/users"),
            collab,
            json!({"name": "reporting", "read_only": true}),
        )
        .await
        .expect(201);
    let password = created.body["password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 40);
    assert_eq!(created.body["name"], "reporting");
    app.post(&format!("{base}/users"), collab, json!({"name": "reporting"}))
        .await
        .problem(409);
    let list = app.get(&format!("{base}/users"), collab).await.expect(200);
    assert_eq!(list.column("name"), ["reporting"]);
    assert!(list.items()[0].get("password").is_none());
    // Nowhere but the platform's own route.
    for path in [
        format!("{base}/users"),
        "/v1/apps/web/events?limit=200".to_owned(),
        "/v1/events".to_owned(),
    ] {
        let resp = app.get(&path, &team.owner.jwt).await.expect(200);
        assert!(!resp.text.contains(&password), "{path} holds the password");
    }
    let orders = app
        .get("/internal/v1/orders?limit=1000", PLATFORM_TOKEN)
        .await
        .expect(200);
    assert!(!orders.text.contains(&password));
    let order = orders
        .items()
        .iter()
        .find(|o| o["type"] == "database.user_create")
        .unwrap();
    assert_eq!(order["payload"]["data"]["name"], "reporting", "{order}");
    let platform = app
        .get(&format!("/internal/v1/addons/{db}/database/users"), PLATFORM_TOKEN)
        .await
        .expect(200);
    assert_eq!(platform.items()[0]["password"], password.as_str());
    // Deleting it: an order, and the name is free again.
    app.delete(&format!("{base}/users/reporting"), collab).await.expect(204);
    app.delete(&format!("{base}/users/reporting"), collab)
        .await
        .problem(404);
    let again = app
        .post(&format!("{base}/users"), collab, json!({"name": "reporting"}))
        .await
        .expect(201);
    assert_ne!(again.body["password"], password.as_str());
    // Removing the add-on removes its users and backups.
    done_backup(&app, &db, TimeDelta::hours(1)).await;
    app.delete(&format!("/v1/apps/web/addons/{db}"), &team.owner.jwt)
        .await
        .expect(204);
    app.get(&format!("/internal/v1/addons/{db}/database/users"), PLATFORM_TOKEN)
        .await
        .problem(404);
}

async fn a_token_scoped_to_taking_backups_does_nothing_else(backend: Backend) {
    let Setup { app, team, db, .. } = spawn(backend).await;
    let created = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth(&team.collaborator.email, Some(&team.collaborator.password))
                .json(&json!({"name": "backup-job", "permissions": ["databases.create_backup"], "apps": ["web"]})),
        )
        .await
        .expect(201);
    let token = created.body["token"].as_str().unwrap().to_owned();
    let base = format!("/v1/apps/web/addons/{db}/database");
    app.post(&format!("{base}/backups"), &token, json!({}))
        .await
        .expect(202);
    for (verb, path) in [
        (Method::GET, format!("{base}/backups")),
        (Method::POST, format!("{base}/upgrades/minor")),
        (Method::GET, format!("{base}/users")),
        (Method::POST, format!("{base}/dashboard")),
        (Method::GET, "/v1/apps/web/addons".to_owned()),
    ] {
        let body = (verb == Method::POST).then(|| json!({}));
        let resp = app.call(verb.clone(), &path, Some(&token), body).await.problem(403);
        assert_eq!(resp.body["type"], "urn:rolegate:problem:token-scope", "{verb} {path}");
    }
    // Another app of the collaborator's is out of the token's scope.
    app.create_app(&team.collaborator, "mine").await;
    let mine = app
        .post(
            "/v1/apps/mine/addons",
            &team.collaborator.jwt,
            json!({"provider": "redis", "plan": "s"}),
        )
        .await
        .expect(202);
    let mine = mine.body["id"].as_str().unwrap();
    let resp = app
        .post(
            &format!("/v1/apps/mine/addons/{mine}/database/backups"),
            &token,
            json!({}),
        )
        .await;
    assert!(matches!(resp.status.as_u16(), 403 | 404), "{}", resp.text);
}

async fn database_logs_and_metrics_come_from_the_platform(backend: Backend) {
    let Setup { app, team, db, not_db } = spawn(backend).await;
    app.post(
        &format!("/internal/v1/addons/{db}/database/logs"),
        PLATFORM_TOKEN,
        json!({"lines": [{"source": "postgresql", "message": "checkpoint starting"}, {"source": "postgresql", "message": "checkpoint complete"}]}),
    )
    .await
    .expect(204);
    app.post(
        &format!("/internal/v1/addons/{not_db}/database/logs"),
        PLATFORM_TOKEN,
        json!({"lines": []}),
    )
    .await
    .problem(404);
    let now = app.clock.now();
    app.post(
        &format!("/internal/v1/addons/{db}/database/metrics"),
        PLATFORM_TOKEN,
        json!({"samples": [{"kind": "connections", "time": now, "value": 12.0}, {"kind": "disk", "time": now, "value": 0.5}]}),
    )
    .await
    .expect(204);
    let bad = app
        .post(
            &format!("/internal/v1/addons/{db}/database/metrics"),
            PLATFORM_TOKEN,
            json!({"samples": [{"kind": "requests", "time": now, "value": 1.0}]}),
        )
        .await
        .problem(422);
    assert_eq!(bad.error_fields(), ["samples[0].kind"]);
    let base = format!("/v1/apps/web/addons/{db}/database");
    let logs = app
        .get(&format!("{base}/logs?lines=1"), &team.collaborator.jwt)
        .await
        .expect(200);
    assert_eq!(logs.column("message"), ["checkpoint complete"]);
    let metrics = app
        .get(&format!("{base}/metrics?kind=connections"), &team.collaborator.jwt)
        .await
        .expect(200);
    assert_eq!(metrics.items()[0]["value"], 12.0);
    let wrong = app
        .get(&format!("{base}/metrics?kind=requests"), &team.collaborator.jwt)
        .await
        .problem(422);
    assert_eq!(
        wrong.body["errors"][0]["message"],
        "must be cpu, memory, disk or connections"
    );
    let too_many = app
        .get(&format!("{base}/logs?lines=10001"), &team.collaborator.jwt)
        .await
        .problem(422);
    assert_eq!(too_many.body["errors"][0]["message"], "must be between 1 and 10000");
    // The app's own logs do not hold the database's.
    let app_logs = app.get("/v1/apps/web/logs", &team.limited.jwt).await.expect(200);
    assert!(!app_logs.text.contains("checkpoint"));
    app.get(&format!("{base}/logs"), &team.limited.jwt).await.problem(403);

    // The database's log keeps a window of its own (ROLEGATE_LOG_RETENTION_LINES, 5 here),
    // and the app's lines are not counted in it.
    let app_lines: Vec<_> = (1..=3)
        .map(|i| json!({"source": "web-1", "message": format!("app {i}")}))
        .collect();
    app.post(
        "/internal/v1/apps/web/logs",
        PLATFORM_TOKEN,
        json!({"lines": app_lines}),
    )
    .await
    .expect(204);
    let lines: Vec<_> = (1..=8)
        .map(|i| json!({"source": "postgresql", "message": format!("db {i}")}))
        .collect();
    app.post(
        &format!("/internal/v1/addons/{db}/database/logs"),
        PLATFORM_TOKEN,
        json!({"lines": lines}),
    )
    .await
    .expect(204);
    let logs = app
        .get(&format!("{base}/logs"), &team.collaborator.jwt)
        .await
        .expect(200);
    assert_eq!(logs.column("message"), ["db 4", "db 5", "db 6", "db 7", "db 8"]);
    let app_logs = app.get("/v1/apps/web/logs", &team.limited.jwt).await.expect(200);
    assert_eq!(app_logs.column("message"), ["app 1", "app 2", "app 3"]);
}
