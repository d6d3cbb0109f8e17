//! Shared helpers for integration tests.
#![allow(dead_code)]

pub mod certs;
pub mod raw;
pub mod sdk_harness;

/// The database a test server on `data_dir` uses: `None` (SQLite in the data dir) unless
/// `TERMIM_TEST_POSTGRES` names a PostgreSQL server (`scripts/with-postgres` sets it).
/// Then a database of its own, named from a hash of the data dir's path — so a test that
/// restarts its server on the same dir finds its data again — created when missing.
pub fn test_database(data_dir: &std::path::Path) -> Option<String> {
    let base = std::env::var("TERMIM_TEST_POSTGRES").ok()?;
    let base = base.trim().to_string();
    if base.is_empty() {
        return None;
    }
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    let name: String = std::iter::once("termim_test_".to_string())
        .chain(digest.iter().take(10).map(|b| format!("{b:02x}")))
        .collect();
    let url = match base.rsplit_once('/') {
        Some((server, _db)) if server.contains("://") && !server.ends_with('/') => {
            format!("{server}/{name}")
        }
        _ => panic!("TERMIM_TEST_POSTGRES {base:?} is not postgres://USER@HOST:PORT/DB"),
    };
    // A postgres::Client may not run inside an async task: on a thread of its own.
    let admin = base.clone();
    let db = name.clone();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("TERMIM_TEST_POSTGRES {admin:?}: {e}"));
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
            .expect("pg_database")
            .is_some();
        if !exists {
            // Two tests racing to create it: one wins, the other finds it made.
            if let Err(e) = client.batch_execute(&format!("CREATE DATABASE {db}")) {
                let made = client
                    .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
                    .expect("pg_database")
                    .is_some();
                assert!(made, "CREATE DATABASE {db}: {e}");
            }
        }
    })
    .join()
    .expect("the test database is ready");
    Some(url)
}

/// Is this run on PostgreSQL? (A test of SQLite's own files skips itself then.)
pub fn on_postgres() -> bool {
    std::env::var("TERMIM_TEST_POSTGRES").is_ok_and(|v| !v.trim().is_empty())
}

/// Does any row of any table of the PostgreSQL database at `url` hold `needle` (in its
/// text form)? What reading every file of a SQLite data dir is for the SQLite engine.
pub fn database_contains(url: &str, needle: &str) -> bool {
    let (url, needle) = (url.to_string(), needle.to_string());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let tables: Vec<String> = client
            .query(
                "SELECT table_name::TEXT FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                &[],
            )
            .expect("tables")
            .iter()
            .map(|r| r.get(0))
            .collect();
        tables.iter().any(|t| {
            client
                .query_one(
                    &format!(
                        "SELECT EXISTS (SELECT 1 FROM \"{t}\" r WHERE strpos(r::TEXT, $1) > 0)"
                    ),
                    &[&needle],
                )
                .expect("search")
                .get::<_, bool>(0)
        })
    })
    .join()
    .expect("the database is searched")
}
