//! The binary itself: `rolegate users create`, bad configuration, serving and SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn rolegate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rolegate"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn bad_configuration_stops_start_up_naming_the_variable() {
    for (var, value) in [
        ("ROLEGATE_JWT_TTL", "soon"),
        ("ROLEGATE_SIGNUP", "maybe"),
        ("DATABASE_URL", "mysql://x"),
    ] {
        let out = rolegate().env(var, value).output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(var) || stderr.contains("DATABASE_URL"),
            "{var}: {stderr}"
        );
    }
}

/// A guessable secret stops the server, naming the variable and how to make a good one; the
/// secret itself is not printed.
#[test]
fn weak_secrets_stop_start_up_with_how_to_make_one() {
    let zeros = "0".repeat(32);
    let a = "a".repeat(32);
    for (var, value) in [
        ("ROLEGATE_JWT_SECRET", a.as_str()),
        ("ROLEGATE_PLATFORM_TOKEN", zeros.as_str()),
        ("ROLEGATE_PLATFORM_SECRET", "webhook-secret-for-tests"),
        ("ROLEGATE_SECRETS_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    ] {
        let out = rolegate().env(var, value).output().unwrap();
        assert!(!out.status.success(), "{var} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
        assert!(stderr.contains("openssl rand -base64"), "{var}: {stderr}");
        assert!(!stderr.contains(value), "{var}: the secret is printed: {stderr}");
    }
}

/// Start-up errors of the store and the listener name their variable, and never print the
/// database password.
#[test]
fn start_up_errors_name_their_variable_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}/no/such/dir/rolegate.db", dir.path().display());
    let mut cases = vec![(missing, "DATABASE_URL", "no/such/dir")];
    if let Ok(pg) = std::env::var("ROLEGATE_TEST_POSTGRES_URL") {
        // The same server, a database that does not exist, and a password in the URL.
        let (scheme, rest) = pg.split_once("://").unwrap();
        let rest = rest.split_once('@').map_or(rest, |(_, host)| host);
        let host = rest.split('/').next().unwrap();
        let url = format!("{scheme}://postgres:sw0rdfish-secret@{host}/rolegate_no_such_database");
        cases.push((url, "DATABASE_URL", "rolegate_no_such_database"));
    }
    for (url, var, named) in cases {
        let out = rolegate()
            .env("DATABASE_URL", &url)
            .env("ROLEGATE_SECRETS_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
            .env("ROLEGATE_LISTEN", format!("127.0.0.1:{}", free_port()))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var) && stderr.contains(named), "{url}: {stderr}");
        assert!(!stderr.contains("sw0rdfish"), "the password leaked: {stderr}");
    }
    // A port already taken names ROLEGATE_LISTEN.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let db = format!("sqlite://{}/rolegate.db", dir.path().display());
    let out = rolegate()
        .env("DATABASE_URL", db)
        .env("ROLEGATE_LISTEN", format!("localhost:{port}"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ROLEGATE_LISTEN"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_create_prints_a_working_token_and_the_server_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let mut create = rolegate()
        .args([
            "users",
            "create",
            "--email",
            "Admin@Example.com",
            "--name",
            "Admin",
            "--password-stdin",
        ])
        .env("DATABASE_URL", &db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        create
            .stdin
            .take()
            .unwrap()
            .write_all(b"a long admin password\n")
            .unwrap();
    }
    let out = create.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["user"]["email"], "admin@example.com");
    assert_eq!(printed["user"]["name"], "Admin");
    let token = printed["api_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("rg_"));

    let again = rolegate()
        .args(["users", "create", "--email", "admin@example.com"])
        .env("DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let port = free_port();
    let log_path = dir.path().join("server.log");
    let mut server = rolegate()
        .env("DATABASE_URL", &db)
        .env("ROLEGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROLEGATE_SIGNUP", "closed")
        .env("RUST_LOG", "debug")
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let me: Value = client
        .get(format!("{base}/v1/users/self"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "admin@example.com");
    let created = client
        .post(format!("{base}/v1/tokens"))
        .basic_auth("admin@example.com", Some("a long admin password"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let signup = client
        .post(format!("{base}/v1/users"))
        .json(&serde_json::json!({"email": "x@example.com", "password": "0123456789"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 403);

    // A secret set through the API never reaches the server's log, even at debug level.
    let secret = "value-that-must-never-be-logged-7f3a";
    let app = client
        .post(format!("{base}/v1/apps"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(app.status(), 201);
    let put = client
        .put(format!("{base}/v1/apps/web/variables/SECRET"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"value": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let listed = client
        .get(format!("{base}/v1/apps/web/variables"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listed.contains(secret));

    let pid = server.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let stopped = Instant::now();
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM with a request in flight: the listener closes at once, the request completes, and
/// the process exits 0.
#[test]
fn sigterm_lets_requests_in_flight_finish_and_refuses_new_connections() {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("term.db").display());
    let port = free_port();
    let mut server = rolegate()
        .env("DATABASE_URL", &db)
        .env("ROLEGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROLEGATE_SHUTDOWN_GRACE_SECONDS", "10")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let mut conn = loop {
        if let Ok(conn) = TcpStream::connect(&addr) {
            break conn;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    // Half a sign-up: the server is waiting for the rest of the body when SIGTERM comes.
    let body = r#"{"email": "late@example.com", "password": "correct horse battery staple"}"#;
    let (head, tail) = body.split_at(20);
    write!(
        conn,
        "POST /v1/users HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{head}",
        body.len()
    )
    .unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect(&addr).is_err(),
        "a new connection was accepted after SIGTERM"
    );
    assert!(
        server.try_wait().unwrap().is_none(),
        "the process left before the request in flight finished"
    );

    conn.write_all(tail.as_bytes()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut response = String::new();
    let mut buf = [0u8; 4096];
    while !response.contains("\r\n\r\n{") {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before the response: {response}");
        response.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    drop(conn);
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "did not exit within the grace period"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

/// After SIGTERM the SQLite file alone holds everything (the write-ahead log is checkpointed
/// into it), and the log written to a file carries no terminal colour codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigterm_the_sqlite_file_alone_holds_the_data_and_logs_have_no_colour() {
    use sqlx::Connection;

    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("rolegate.db");
    let port = free_port();
    let log_path = dir.path().join("server.log");
    let mut server = rolegate()
        .env("DATABASE_URL", format!("sqlite://{}", db_path.display()))
        .env("ROLEGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let signup = client
        .post(format!("{base}/v1/users"))
        .json(&serde_json::json!({"email": "kept@example.com", "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201, "{}", signup.text().await.unwrap());

    // A backup taken while the server runs opens on its own and holds the data.
    let backup_path = dir.path().join("backup.db");
    let backup = rolegate()
        .args(["backup", backup_path.to_str().unwrap()])
        .env("DATABASE_URL", format!("sqlite://{}", db_path.display()))
        .output()
        .unwrap();
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    let mut backup_conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", backup_path.display()))
        .await
        .unwrap();
    let (count,): (i64,) = sqlx::query_as("select count(*) from users where email = 'kept@example.com'")
        .fetch_one(&mut backup_conn)
        .await
        .unwrap();
    assert_eq!(count, 1);
    let again = rolegate()
        .args(["backup", backup_path.to_str().unwrap()])
        .env("DATABASE_URL", format!("sqlite://{}", db_path.display()))
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let on_postgres = rolegate()
        .args(["backup", dir.path().join("pg.db").to_str().unwrap()])
        .env("DATABASE_URL", "postgres://rolegate@127.0.0.1:1/rolegate")
        .output()
        .unwrap();
    assert!(!on_postgres.status.success());
    assert!(String::from_utf8_lossy(&on_postgres.stderr).contains("pg_dump"));

    assert!(
        Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let stopped = Instant::now();
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Only the main file is copied, as a careless backup would.
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("alone.db");
    std::fs::copy(&db_path, &copy).unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    let (email,): (String,) = sqlx::query_as("select email from users where email = 'kept@example.com'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(email, "kept@example.com");

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("rolegate listening"), "{log}");
    assert!(!log.contains("\x1b["), "colour codes in a piped log: {log:?}");
}
