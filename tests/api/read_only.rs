//! A Postgres that stops taking writes (a primary demoted by a failover, sessions dropped):
//! writes answer 503 with `Retry-After`, never 500; `/readyz` says 503; reads go on; and
//! rolegate recovers by itself once the database takes writes again.

use serde_json::json;
use sqlx::Connection;

use crate::common::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_is_503_and_heals_without_a_restart() {
    let Some(backend) = Backend::postgres() else { return };
    let Backend::Postgres(admin_url) = &backend else {
        unreachable!()
    };
    let admin_url = admin_url.clone();
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("standby@example.com").await;
    app.create_app(&owner, "web").await;
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();

    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    // The failover: every session of the database ends, and new ones are read-only.
    let switch = |read_only: bool| {
        let sql = if read_only {
            format!("alter database \"{name}\" set default_transaction_read_only = on")
        } else {
            format!("alter database \"{name}\" reset default_transaction_read_only")
        };
        [
            sql,
            format!(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}' and pid <> pg_backend_pid()"
            ),
        ]
    };
    for sql in switch(true) {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.unwrap();
    }

    // Writes: 503 with Retry-After (a dropped session or a read-only one), never 500.
    for i in 0..5 {
        let resp = app
            .put(
                &format!("/v1/apps/web/variables/K{i}"),
                &owner.jwt,
                json!({"value": "v"}),
            )
            .await;
        assert_eq!(resp.status, 503, "{}", resp.text);
        assert_eq!(resp.headers["retry-after"], "1");
        assert_eq!(resp.body["type"], "urn:rolegate:problem:unavailable");
    }
    let ready = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, 503, "{}", ready.text);
    assert_eq!(ready.body["status"], "unavailable");
    app.call(reqwest::Method::GET, "/healthz", None, None).await.expect(200);
    // Reads still work on a read-only database.
    app.get("/v1/apps/web", &owner.jwt).await.expect(200);

    // The failback: writes again, without restarting rolegate.
    for sql in switch(false) {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.unwrap();
    }
    let mut healed = false;
    for _ in 0..50 {
        let resp = app
            .put("/v1/apps/web/variables/AFTER", &owner.jwt, json!({"value": "v"}))
            .await;
        assert!(
            resp.status == 200 || resp.status == 201 || resp.status == 503,
            "{}",
            resp.text
        );
        if resp.status != 503 {
            healed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(healed, "writes never came back");
    app.call(reqwest::Method::GET, "/readyz", None, None).await.expect(200);
}
