//! The access query's own connections (Postgres): handed back in place after each query, so
//! a stream of requests reuses a few sessions instead of opening one per request. (Sessions
//! that a failover cut are replaced: `failover.rs`.)

use std::time::Duration;

use crate::common::{Backend, TestApp};

/// The sessions ever established to `app`'s database (`pg_stat_database.sessions`), read on a
/// new connection so that the statistics are current.
async fn sessions_established(app: &TestApp) -> i64 {
    let Some(Backend::Postgres(admin)) = Backend::postgres() else {
        unreachable!()
    };
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    let count: i64 = sqlx::query_scalar("select sessions from pg_stat_database where datname = $1")
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count
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
