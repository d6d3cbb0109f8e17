//! Reaching a server as a user: an explicit `--server`, or the embedded default.
//!
//! The embedded default listens on 127.0.0.1:7878 (configurable). The first termim to
//! start hosts it inside its own process; later ones (`termim --user bob` in another
//! terminal, or a scripting command) find the port taken and connect to it. Everyone
//! sharing a data directory signs UserSigs with the key kept there.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, bail};

use super::args::{ConnArgs, DEFAULT_PORT};
use super::config::{Config, DataLayout, default_data_dir};
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::sdk::{ConnectionState, SdkConfig, Tim};
use crate::server::{ServerConfig, ServerHandle};
use crate::usersig::{self, AppKey};

/// A logged-in SDK plus, in the embedded default, this process's share of hosting.
pub struct Session {
    pub tim: Tim,
    /// `None` with an explicit `--server`.
    pub embedded: Option<EmbeddedHost>,
    /// True when this process created the embedded server's database just now.
    pub fresh_server: bool,
    pub layout: DataLayout,
    pub server_url: String,
}

/// Everything needed to connect, resolved from flags, environment and config.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub user: String,
    pub usersig: Option<String>,
    pub server: Option<String>,
    pub listen: SocketAddr,
    pub layout: DataLayout,
}

impl Endpoint {
    pub fn resolve(conn: &ConnArgs, cfg: &Config) -> anyhow::Result<Self> {
        let user = conn
            .user
            .clone()
            .or_else(|| cfg.user.clone())
            .unwrap_or_else(login_name);
        if !crate::model::is_valid_user_id(&user) {
            bail!(
                "7003: invalid user id {user:?}: use 1 to 32 printable ASCII characters (--user)"
            );
        }
        let root: PathBuf = conn
            .data_dir
            .clone()
            .or_else(|| cfg.data_dir.clone())
            .unwrap_or_else(default_data_dir);
        Ok(Self {
            user,
            usersig: conn.usersig.clone(),
            server: conn.server.clone().or_else(|| cfg.server.clone()),
            listen: cfg
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))),
            layout: DataLayout::new(root),
        })
    }

    /// The sig to log in with: the one given, or one signed with the key in the data dir.
    fn sign(&self, create_key: bool) -> anyhow::Result<String> {
        if let Some(sig) = &self.usersig {
            return Ok(sig.clone());
        }
        let dir = self.layout.server_dir();
        let key = if create_key {
            AppKey::load_or_create(&dir)
        } else {
            AppKey::load(&dir)
        }
        .with_context(|| {
            format!(
                "no --usersig given and no app key to sign one with in {} \
                     (pass --usersig, or --data-dir of the server)",
                dir.display()
            )
        })?;
        Ok(usersig::gen_sig(
            &key,
            &self.user,
            usersig::DEFAULT_EXPIRE_SECS,
        ))
    }

    fn sdk_config(&self, server_url: &str) -> SdkConfig {
        SdkConfig {
            server_url: server_url.to_string(),
            data_dir: self.layout.client_dir(),
        }
    }
}

/// The login name, made into a valid user id (fallback "me").
pub fn login_name() -> String {
    let raw = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_default();
    let id: String = raw
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(crate::model::limits::USER_ID_MAX)
        .collect();
    if id.is_empty() { "me".to_string() } else { id }
}

/// Connect and log in, hosting the embedded server when needed.
pub async fn connect(endpoint: &Endpoint) -> anyhow::Result<Session> {
    if let Some(url) = &endpoint.server {
        let sig = endpoint.sign(false)?;
        let tim = Tim::login(endpoint.sdk_config(url), &endpoint.user, &sig)
            .await
            .map_err(|e| anyhow::anyhow!("login to {url} as {} failed: {e}", endpoint.user))?;
        return Ok(Session {
            tim,
            embedded: None,
            fresh_server: false,
            layout: endpoint.layout.clone(),
            server_url: url.clone(),
        });
    }
    let (hosted, fresh_server) = host_or_join(endpoint).await?;
    let hosting = hosted.is_some();
    // Hosting: the address actually bound (the configured port may be 0).
    let url = hosted
        .as_ref()
        .map_or_else(|| format!("ws://{}", endpoint.listen), ServerHandle::url);
    let sig = endpoint.sign(true)?;
    let tim = Tim::login(endpoint.sdk_config(&url), &endpoint.user, &sig)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "login to the embedded server at {url} as {} failed: {e}{}",
                endpoint.user,
                if hosting {
                    ""
                } else {
                    " (another termim hosts it; if it uses another --data-dir, pass the same one)"
                }
            )
        })?;
    let embedded = EmbeddedHost::new(hosted, endpoint, &tim);
    Ok(Session {
        tim,
        embedded: Some(embedded),
        fresh_server,
        layout: endpoint.layout.clone(),
        server_url: url,
    })
}

/// This process's part in hosting the embedded server: it hosts it from the start, or it
/// joined another termim's and stands by to take over when that one goes away, so the
/// last termim running keeps the conversation going.
pub struct EmbeddedHost {
    server: Arc<Mutex<Option<ServerHandle>>>,
    hosted_at_start: bool,
    standby: Option<tokio::task::JoinHandle<()>>,
}

impl EmbeddedHost {
    fn new(hosted: Option<ServerHandle>, endpoint: &Endpoint, tim: &Tim) -> Self {
        let hosted_at_start = hosted.is_some();
        let server = Arc::new(Mutex::new(hosted));
        let standby = (!hosted_at_start)
            .then(|| tokio::spawn(stand_by(endpoint.clone(), tim.clone(), Arc::clone(&server))));
        Self {
            server,
            hosted_at_start,
            standby,
        }
    }

    /// Did this process start the server (rather than join another's)?
    pub fn hosted_at_start(&self) -> bool {
        self.hosted_at_start
    }

    /// Does this process host the server now (from the start, or after taking over)?
    pub async fn is_hosting(&self) -> bool {
        self.server.lock().await.is_some()
    }

    /// Stop standing by and shut down the server if this process hosts it.
    pub async fn shutdown(self) {
        if let Some(task) = self.standby {
            task.abort();
        }
        if let Some(server) = self.server.lock().await.take() {
            server.shutdown().await;
        }
    }
}

/// Watch the connection to the other termim's server; when it drops, try to host the
/// server here. Whoever binds the port first hosts; the others' SDKs reconnect to it.
/// (Polls the state rather than adding an SDK listener: the first listener receives the
/// SDK's backlog, which belongs to the UI.)
async fn stand_by(endpoint: Endpoint, tim: Tim, slot: Arc<Mutex<Option<ServerHandle>>>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        tick.tick().await;
        match tim.connection_state() {
            ConnectionState::Disconnected => {}
            ConnectionState::LoggedOut => return,
            ConnectionState::Connecting | ConnectionState::Connected => continue,
        }
        match host_or_join(&endpoint).await {
            Ok((Some(handle), _)) => {
                tracing::info!(listen = %endpoint.listen, "took over hosting the embedded server");
                *slot.lock().await = Some(handle);
                return;
            }
            Ok((None, _)) => tracing::debug!("another termim hosts the embedded server now"),
            Err(e) => tracing::warn!("cannot take over the embedded server: {e:#}"),
        }
    }
}

/// Start the embedded server, or find that another process already hosts it.
async fn host_or_join(endpoint: &Endpoint) -> anyhow::Result<(Option<ServerHandle>, bool)> {
    let dir = endpoint.layout.server_dir();
    let fresh = !crate::server::database_exists(&dir);
    let config = ServerConfig {
        listen: endpoint.listen,
        data_dir: dir.clone(),
        sdk_app_id: None,
        secret_key: None,
    };
    match crate::server::start(config).await {
        Ok(handle) => Ok((Some(handle), fresh)),
        Err(e) if is_addr_in_use(&e) => {
            tracing::info!(listen = %endpoint.listen, "embedded server already hosted by another termim");
            Ok((None, false))
        }
        Err(e) => Err(e.context(format!(
            "cannot start the embedded server on {} with data in {}",
            endpoint.listen,
            dir.display()
        ))),
    }
}

fn is_addr_in_use(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    })
}
