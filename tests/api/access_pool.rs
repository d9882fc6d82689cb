//! The access query's own connections (Postgres): handed back in place after each query, so
//! a stream of requests reuses a few sessions instead of opening one per request. (Sessions
//! that a failover cut are replaced: `failover.rs`.)

use crate::common::{Backend, TestApp};

/// The sessions open on `app`'s database.
async fn sessions(app: &TestApp) -> i64 {
    let admin = match Backend::postgres() {
        Some(Backend::Postgres(url)) => url,
        _ => unreachable!(),
    };
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    let count: i64 = sqlx::query_scalar("select count(*) from pg_stat_activity where datname = $1")
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
    let before = sessions(&app).await;
    for _ in 0..200 {
        app.get("/v1/apps/web", &owner.jwt).await.expect(200);
    }
    let after = sessions(&app).await;
    // The test server allows 5 pooled connections and 3 for the access query.
    assert!(after <= 8, "{after} sessions after 200 requests");
    assert!(
        after <= before + 1,
        "sessions went from {before} to {after} over 200 sequential requests"
    );
}
