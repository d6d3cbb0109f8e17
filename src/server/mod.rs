//! The termim server: WebSocket + JSON frames (docs/PROTOCOL.md), SQLite or PostgreSQL
//! storage.
//!
//! - `net`: accept loop, WebSocket settings, each connection's socket writer.
//! - `session`: one connection's protocol state (auth deadline, login, frames → requests).
//! - `expiry`: a session ends with its UserSig unless renewed (`renewUserSig`).
//! - `ops`: the router and op handlers; `rules`: the messaging rules as pure functions.
//! - `hub`: who is online, and fan-out of committed effects (encoded once, shared).
//! - `store`: the `Store` trait and its engines: SQLite (one writer, group commit) and
//!   PostgreSQL (one writer per process, several processes on one database).
//! - `tls`: `wss://` — the certificate and key, and the stream a connection runs on.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use termim::server::{ServerConfig, start};
//! let handle = start(ServerConfig {
//!     listen: "127.0.0.1:0".parse()?,
//!     data_dir: "/tmp/termim-demo".into(),
//!     sdk_app_id: None,
//!     secret_key: None,
//!     database: None,
//! })
//! .await?;
//! println!("listening on {}", handle.url());
//! handle.shutdown().await;
//! # Ok(()) }
//! ```

pub mod domain;
pub mod error;
mod expiry;
pub mod frame;
mod hub;
pub mod limits;
mod net;
mod ops;
pub mod rules;
mod session;
pub mod store;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::usersig::AppKey;
use hub::Hub;
pub use limits::Rate;
pub use net::raise_open_file_limit;
use store::sqlite::SqliteStore;
use store::{Store, StoreOptions};
pub use tls::{TlsFiles, TlsSetupError};

/// Where to listen, where to keep data, and (optionally) the app key to verify UserSigs
/// with. Without a key, the one kept in `<data_dir>/appkey.json` is used (created on
/// first start).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub sdk_app_id: Option<u64>,
    pub secret_key: Option<String>,
    /// The storage engine: `None`, SQLite in `<data_dir>/termim.db`; `sqlite:PATH`, SQLite
    /// in that file; `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (or `postgresql://`),
    /// PostgreSQL — which several server processes may share.
    pub database: Option<String>,
}

/// Which engine a [`ServerConfig::database`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Database {
    /// Parse `--database` (`None`: SQLite in the data directory).
    pub fn choose(database: Option<&str>, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        match database.map(str::trim) {
            None | Some("") => Ok(Database::Sqlite(data_dir.join(store::sqlite::DB_FILE))),
            Some(url) if store::postgres::is_postgres_url(url) => {
                Ok(Database::Postgres(url.to_string()))
            }
            Some(other) => match other.strip_prefix("sqlite:") {
                Some(path) if !path.is_empty() => Ok(Database::Sqlite(PathBuf::from(path))),
                _ => anyhow::bail!(
                    "--database must be sqlite:PATH or a postgres://USER@HOST:PORT/DB URL \
                     (without it: SQLite in the data directory)"
                ),
            },
        }
    }
}

/// Tunables with production defaults; tests shorten the deadlines and shrink the limits.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// A socket that has not logged in by then is closed (1008).
    pub auth_deadline: Duration,
    /// Requests per connection (every frame counts, login and ping included). Beyond it a
    /// request is answered -20009 and not carried out. `None`: unlimited.
    pub request_rate: Option<Rate>,
    /// A connection refused this many requests in a row for the rate is closed (1008).
    pub max_refused_in_a_row: u32,
    /// `sendMessage` per group (all senders together); beyond it 10023. `None`: unlimited.
    pub group_send_rate: Option<Rate>,
    /// Conversation-state writes (read marks, pins, deletes, custom data) per user, from
    /// all its connections together; beyond it -20009. `None`: unlimited.
    pub conversation_write_rate: Option<Rate>,
    /// Groups one user may be a member of (create, join, be invited); beyond it 10037.
    pub max_groups_per_user: usize,
    /// How often the server pings each logged-in connection (WebSocket ping).
    pub heartbeat_interval: Duration,
    /// A logged-in connection from which nothing (no frame, no pong) arrived for this
    /// long is closed (1008) and forgotten: a deadline reset by every frame, not a check
    /// on the ping tick.
    pub idle_timeout: Duration,
    /// Bytes of output (responses and pushes) queued per connection and not yet written to
    /// its socket. A frame that would take the queue past it closes the connection (1008,
    /// too slow): it reconnects and syncs from its cursor. A frame alone always fits.
    pub max_queued_bytes: usize,
    /// Connections open at once from one IP address (handshakes included). Beyond it a
    /// new connection is refused at once (HTTP 503); established ones are not touched.
    pub max_connections_per_ip: usize,
    /// Connections open at once, all addresses together (also kept below the process's
    /// file descriptor limit). Beyond it a new connection is refused at once.
    pub max_connections: usize,
    /// How long a client may take to complete the WebSocket handshake.
    pub handshake_timeout: Duration,
    /// Requests of one connection in progress at once; beyond that the socket is not read.
    pub max_in_flight: usize,
    /// Reads of one connection computed at once (each may build an answer of megabytes:
    /// 500 history messages); beyond that the socket is not read until one is answered.
    pub max_reads_in_flight: usize,
    /// At shutdown, how long connections get to finish what they started.
    pub shutdown_grace: Duration,
    /// What a UserSig must satisfy at login and `renewUserSig` beyond its signature and
    /// expiry: the longest lifetime and the clock skew allowed for `TLS.time`.
    pub sig_verify: crate::usersig::VerifyOptions,
    /// After the session's UserSig expired (push `userSigExpired`), how long the client
    /// has to renew it before the connection is closed (4001).
    pub sig_grace: Duration,
    /// Serve `wss://` with this certificate and key (`None`: plain `ws://`).
    pub tls: Option<TlsFiles>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            auth_deadline: Duration::from_secs(10),
            request_rate: Some(DEFAULT_REQUEST_RATE),
            max_refused_in_a_row: 1000,
            group_send_rate: Some(DEFAULT_GROUP_SEND_RATE),
            conversation_write_rate: Some(DEFAULT_CONVERSATION_WRITE_RATE),
            max_groups_per_user: DEFAULT_MAX_GROUPS_PER_USER,
            heartbeat_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
            max_connections_per_ip: 64,
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(5),
            max_in_flight: 256,
            max_reads_in_flight: 8,
            shutdown_grace: Duration::from_secs(5),
            sig_verify: crate::usersig::VerifyOptions::default(),
            sig_grace: DEFAULT_SIG_GRACE,
            tls: None,
        }
    }
}

/// Time to renew an expired UserSig: enough for an app to fetch a new one from its
/// backend (or a person to paste one) without the session going stale for long.
pub const DEFAULT_SIG_GRACE: Duration = Duration::from_secs(60);

/// Per connection: 500 requests a second, bursts of 1000. A flood is cut to a small share
/// of what the server can do (tens of thousands a second), while a scripted bulk send or a
/// client catching up never meets it.
pub const DEFAULT_REQUEST_RATE: Rate = Rate::new(500, 1000);
/// Per connection: 8 MiB of output waiting for a client that reads too slowly. Larger than
/// any one answer (a history page of 500 messages of 12 KB is about 6 MB).
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 8 << 20;
/// Per group: 40 messages a second (Tencent's limit), bursts of 40.
pub const DEFAULT_GROUP_SEND_RATE: Rate = Rate::new(40, 40);
/// Read marks, pins, deletes and custom data per user: 20 a second, bursts of 50 (a client
/// marking each conversation read as it is opened stays far below).
pub const DEFAULT_CONVERSATION_WRITE_RATE: Rate = Rate::new(20, 50);
/// Groups a user may be in at once (Tencent caps it per app plan: 10037).
pub const DEFAULT_MAX_GROUPS_PER_USER: usize = 1000;

/// What every connection shares.
pub(crate) struct Shared {
    pub store: Arc<dyn Store>,
    pub hub: Arc<Hub>,
    pub app_key: AppKey,
    pub options: ServerOptions,
    /// Each user's conversation-state writes (`conversation_write_rate`).
    pub conversation_rates: Option<crate::server::limits::UserRates>,
    /// The certificate `wss://` is served with (`None`: plain `ws://`).
    pub tls: Option<tls::ServerTls>,
}

/// A running server. Dropping it stops the server too, without waiting.
pub struct ServerHandle {
    local_addr: SocketAddr,
    /// What the start-up line says: the storage engine, the TLS state.
    engine: String,
    tls: Option<String>,
    warnings: Vec<String>,
    app_key: AppKey,
    shutdown: watch::Sender<bool>,
    accept: Option<JoinHandle<()>>,
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn app_key(&self) -> &AppKey {
        &self.app_key
    }

    /// Connections logged in right now (the embedded default exits when idle).
    pub fn logged_in_connections(&self) -> usize {
        self.hub.connection_count()
    }

    /// `ws://<addr>`, or `wss://<addr>` when serving TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// What the operator should know about how it serves (also logged as warnings): a
    /// certificate outside its validity, listening beyond loopback without TLS.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// One line for the log: engine, address and TLS state, e.g. `listening on
    /// wss://0.0.0.0:7878 (sqlite /var/lib/termim/termim.db; TLS: cert CN=chat.example.org,
    /// valid until 2027-01-31; SDKAppID 1400000001)`.
    pub fn startup_line(&self) -> String {
        let tls = match &self.tls {
            Some(summary) => format!("TLS: {summary}"),
            None => "TLS: off".to_string(),
        };
        format!(
            "listening on {} ({}; {tls}; SDKAppID {})",
            self.url(),
            self.engine,
            self.app_key.sdk_app_id
        )
    }

    /// Stop accepting, let connections finish their in-flight requests (answers included),
    /// close them (1001), then commit what is queued and close the database.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
        let store = self.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn resolve_app_key(config: &ServerConfig) -> anyhow::Result<AppKey> {
    match (config.sdk_app_id, &config.secret_key) {
        (Some(sdk_app_id), Some(secret_key)) if !secret_key.is_empty() => Ok(AppKey {
            sdk_app_id,
            secret_key: secret_key.clone(),
        }),
        (None, None) => AppKey::load_or_create(&config.data_dir)
            .with_context(|| format!("reading the app key in {}", config.data_dir.display())),
        _ => anyhow::bail!(
            "give both an SDKAppID and a non-empty secret key, or neither (then the key kept in the data directory is used)"
        ),
    }
}

/// Does `data_dir` already hold a server database?
pub fn database_exists(data_dir: &std::path::Path) -> bool {
    data_dir.join(store::sqlite::DB_FILE).exists()
}

/// Bind, open the database, and serve in the background.
pub async fn start(config: ServerConfig) -> anyhow::Result<ServerHandle> {
    start_with_options(config, ServerOptions::default()).await
}

/// [`start`] with non-default tunables.
pub async fn start_with_options(
    config: ServerConfig,
    options: ServerOptions,
) -> anyhow::Result<ServerHandle> {
    // Bind first: when another process already serves this address (the embedded
    // default), nothing here touches its database.
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let local_addr = listener.local_addr()?;
    let app_key = resolve_app_key(&config)?;
    let tls = match &options.tls {
        Some(files) => Some(tls::ServerTls::load(files, options.handshake_timeout)?),
        None => None,
    };
    let mut warnings: Vec<String> = tls
        .as_ref()
        .and_then(|t| t.validity_warning.clone())
        .into_iter()
        .collect();
    if tls.is_none() && !local_addr.ip().is_loopback() {
        warnings.push(format!(
            "{local_addr} is beyond loopback and has no TLS: UserSigs and messages travel \
             in clear over the network; serve wss:// with --tls-cert and --tls-key (or keep \
             the server on 127.0.0.1 behind a TLS proxy)"
        ));
    }
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let hub = Arc::new(Hub::default());
    let data_dir = config.data_dir.clone();
    let sink = hub.clone();
    let store_options = StoreOptions {
        group_send_rate: options.group_send_rate,
        max_groups_per_user: options.max_groups_per_user,
        ..StoreOptions::default()
    };
    let database = Database::choose(config.database.as_deref(), &config.data_dir)?;
    let (store, engine): (Arc<dyn Store>, String) = match database {
        Database::Sqlite(db_path) => {
            let path = db_path.clone();
            let default = matches!(config.database.as_deref().map(str::trim), None | Some(""));
            let store = tokio::task::spawn_blocking(move || {
                if default {
                    SqliteStore::open_with(&data_dir, sink, store_options)
                } else {
                    SqliteStore::open_file(&path, sink, store_options)
                }
            })
            .await
            .context("opening the database")?
            .with_context(|| format!("opening the database {}", db_path.display()))?;
            let engine = format!(
                "sqlite {}",
                std::fs::canonicalize(&db_path).unwrap_or(db_path).display()
            );
            (Arc::new(store), engine)
        }
        Database::Postgres(url) => {
            let store = tokio::task::spawn_blocking(move || {
                store::postgres::PgStore::open(&url, sink, store_options)
            })
            .await
            .context("opening the database")?
            .context("opening the PostgreSQL database")?;
            let engine = format!("postgres {}", store.description());
            (Arc::new(store), engine)
        }
    };
    let (shutdown, shutdown_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        store: store.clone(),
        hub: hub.clone(),
        app_key: app_key.clone(),
        conversation_rates: options
            .conversation_write_rate
            .map(crate::server::limits::UserRates::new),
        options,
        tls,
    });
    let tls_summary = shared.tls.as_ref().map(|t| t.summary.clone());
    let accept = tokio::spawn(net::accept_loop(listener, shared, shutdown_rx));
    let handle = ServerHandle {
        local_addr,
        engine,
        tls: tls_summary,
        warnings,
        app_key,
        shutdown,
        accept: Some(accept),
        store,
        hub,
    };
    tracing::info!("termim server {}", handle.startup_line());
    Ok(handle)
}

/// `termim serve`: run until Ctrl-C or SIGTERM, then shut down cleanly (nothing
/// acknowledged is lost: acks are sent only after the commit, and queued writes are
/// committed before the database closes).
pub async fn serve_until_signal(
    config: ServerConfig,
    options: ServerOptions,
) -> anyhow::Result<()> {
    raise_open_file_limit();
    let handle = start_with_options(config, options).await?;
    // The warnings first: the start-up line is what scripts wait for.
    for warning in handle.warnings() {
        eprintln!("termim server: warning: {warning}");
    }
    eprintln!("termim server {}", handle.startup_line());
    wait_for_signal().await?;
    eprintln!("termim server: shutting down");
    handle.shutdown().await;
    eprintln!("termim server: stopped");
    Ok(())
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[cfg(test)]
mod tests {
    use super::Database;
    use std::path::{Path, PathBuf};

    #[test]
    fn the_database_choice() {
        let dir = Path::new("/data");
        assert_eq!(
            Database::choose(None, dir).unwrap(),
            Database::Sqlite(PathBuf::from("/data/termim.db"))
        );
        assert_eq!(
            Database::choose(Some("sqlite:/srv/chat.db"), dir).unwrap(),
            Database::Sqlite(PathBuf::from("/srv/chat.db"))
        );
        let url = "postgres://termim@127.0.0.1:5432/termim";
        assert_eq!(
            Database::choose(Some(url), dir).unwrap(),
            Database::Postgres(url.to_string())
        );
        assert!(Database::choose(Some("mysql://x"), dir).is_err());
        assert!(Database::choose(Some("sqlite:"), dir).is_err());
    }
}
