//! The access query's own connections (Postgres): handed back in place after each query, so
//! a stream of requests reuses a few sessions instead of opening one per request. (Sessions
//! that a failover cut are replaced: `failover.rs`.)

use std::time::Duration;

use crate::common::{Backend, TestApp, pg_stat};

/// The sessions ever established to `app`'s database.
async fn sessions_established(app: &TestApp) -> i64 {
    pg_stat(
        &app.database_url,
        "select sessions from pg_stat_database where datname = $1",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_query_reuses_its_sessions() {
    let Some(backend) = Backend::postgres() else { return };
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("pool@example.com").await;
    app.create_app(&owner, "web").await;
    app.get("/v1/apps/web", &owner.jwt).await.expect(200);
    // Backends report their statistics at most once a second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before = sessions_established(&app).await;
    for _ in 0..200 {
        app.get("/v1/apps/web", &owner.jwt).await.expect(200);
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after = sessions_established(&app).await;
    // One session per request would be 200; the test server's pools hold at most 5, plus one
    // access connection per core.
    assert!(
        after - before <= 5 + i64::from(rolegate::store::cores()),
        "{} sessions established over 200 sequential requests",
        after - before
    );
}

/// The sessions on `database_url`'s database whose last statement was an access check (the
/// batched statement of `store/access_batch.rs`).
async fn access_sessions(database_url: &str) -> i64 {
    pg_stat(
        database_url,
        "select count(*) from pg_stat_activity where datname = $1 and query like 'select r.n as slot,%'",
    )
    .await
}

/// A server that says ready has its access connections open and their statements prepared:
/// its first requests wait for neither (a replica joining a load balancer under traffic).
/// Checked with serving threads (one access connection each) and with the one runtime (one
/// per core), before any request but `/readyz`, which does not use them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_says_ready_has_its_access_connections_open() {
    let Some(backend) = Backend::postgres() else { return };
    // The in-process server makes and migrates the database; it serves nothing here, so its
    // own access pool stays empty.
    let app = TestApp::spawn(backend).await;
    assert_eq!(access_sessions(&app.database_url).await, 0);
    for (threads, expected) in [(2, 2), (0, i64::from(rolegate::store::cores()))] {
        let binary = crate::common::Binary::start(&app.database_url, threads).await;
        assert_eq!(
            access_sessions(&app.database_url).await,
            expected,
            "{threads} serving threads"
        );
        drop(binary);
        // The killed process's sessions end with it.
        let started = std::time::Instant::now();
        while access_sessions(&app.database_url).await != 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "sessions outlived the process"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // And they serve: the first request answers.
    let binary = crate::common::Binary::start(&app.database_url, 2).await;
    let owner = app.signup("warm@example.com").await;
    app.create_app(&owner, "web").await;
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/apps/web", binary.base))
        .bearer_auth(&owner.jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["name"], "web");
}
