//! Reaching a server as a user: an explicit `--server`, or the embedded default.
//!
//! The embedded default is a background process of its own (`super::embedded`): every
//! termim reads where it listens from `<data dir>/server/embedded.json` and connects; the
//! first one to find none running starts it. Everyone sharing a data directory signs
//! UserSigs with the key kept there. A termim only ever connects to the address its own
//! data directory names, so it never joins another user's server by accident.
//!
//! The embedded server is started by running this program again
//! (`std::env::current_exe()`), or the program named by `TERMIM_EXE`: a library caller
//! whose executable is not termim (a test binary) sets it to the termim binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::args::ConnArgs;
use super::config::{Config, DataLayout, default_data_dir};
use super::embedded::{self, Address};
use crate::sdk::{ConnectionState, SdkConfig, Tim};
use crate::usersig::{self, AppKey};

/// The executable that runs the embedded server (default: this one).
pub const EXE_ENV: &str = "TERMIM_EXE";

/// A logged-in SDK; with the embedded default, a watch that restarts the embedded server
/// should it go away while this termim still uses it.
pub struct Session {
    pub tim: Tim,
    pub layout: DataLayout,
    pub server_url: String,
    revive: Option<tokio::task::JoinHandle<()>>,
}

impl Session {
    /// Log out (the embedded server, if any, goes on for whoever else uses it).
    pub async fn close(self) {
        if let Some(task) = self.revive {
            task.abort();
        }
        let _ = self.tim.logout().await;
    }
}

/// Everything needed to connect, resolved from flags, environment and config.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub user: String,
    pub usersig: Option<String>,
    pub server: Option<String>,
    /// A CA certificate (PEM file) to trust for `wss://` besides the system's roots.
    pub ca_cert: Option<PathBuf>,
    /// The configured `listen` of the embedded server; `None`: a free port.
    pub listen: Option<SocketAddr>,
    pub layout: DataLayout,
    /// Seed the demo workspace when the embedded server starts on a new database.
    pub demo: bool,
}

impl Endpoint {
    pub fn resolve(conn: &ConnArgs, cfg: &Config, demo: bool) -> anyhow::Result<Self> {
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
            ca_cert: conn.ca_cert.clone().or_else(|| cfg.ca_cert.clone()),
            listen: cfg.listen,
            layout: DataLayout::new(root),
            demo,
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

    /// What renews an expired UserSig without asking: the same local signing as at login,
    /// when this termim signs its own (no `--usersig`). `None` when it was given a sig.
    pub fn signer(&self) -> Option<usersig::Signer> {
        if self.usersig.is_some() {
            return None;
        }
        let endpoint = self.clone();
        Some(std::sync::Arc::new(move || {
            endpoint.sign(false).map_err(|e| format!("{e:#}"))
        }))
    }

    fn sdk_config(&self, server_url: &str) -> anyhow::Result<SdkConfig> {
        let ca_cert_pem = match &self.ca_cert {
            Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read the CA certificate {} (--ca-cert)",
                    path.display()
                )
            })?),
            None => None,
        };
        Ok(SdkConfig {
            server_url: server_url.to_string(),
            data_dir: self.layout.client_dir(),
            ca_cert_pem,
        })
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

/// Connect and log in; with the embedded default, start it first if none runs.
pub async fn connect(endpoint: &Endpoint) -> anyhow::Result<Session> {
    connect_with(endpoint, false).await
}

/// [`connect`] for the messenger: with an explicit `--server` it does not wait for the
/// server (`Tim::open`), so the cached history shows at once, also while the server is
/// down, and the SDK keeps reconnecting.
pub async fn connect_ui(endpoint: &Endpoint) -> anyhow::Result<Session> {
    connect_with(endpoint, true).await
}

async fn connect_with(endpoint: &Endpoint, open_offline: bool) -> anyhow::Result<Session> {
    if let Some(url) = &endpoint.server {
        let sig = endpoint.sign(false)?;
        let config = endpoint.sdk_config(url)?;
        let tim = if open_offline {
            Tim::open(config, &endpoint.user, &sig).await
        } else {
            Tim::login(config, &endpoint.user, &sig).await
        }
        .map_err(|e| anyhow::anyhow!("login to {url} as {} failed: {e}", endpoint.user))?;
        return Ok(Session {
            tim,
            layout: endpoint.layout.clone(),
            server_url: url.clone(),
            revive: None,
        });
    }
    if open_offline
        && let Some(known) = embedded::read_address(&endpoint.layout.server_dir())
        && let Ok(sig) = endpoint.sign(false)
    {
        // The messenger draws from the cache at once: it opens on the address the
        // embedded server had (it comes back on the same port), and the server is made
        // sure of in the background; the SDK connects as soon as it listens.
        let tim = Tim::open(endpoint.sdk_config(&known.url)?, &endpoint.user, &sig)
            .await
            .map_err(|e| anyhow::anyhow!("opening the cache of {}: {e}", endpoint.user))?;
        let (ep, t, was) = (endpoint.clone(), tim.clone(), known.url.clone());
        let revive = tokio::spawn(async move {
            match ensure_embedded(&ep).await {
                Ok(address) if address.url != was => tracing::warn!(
                    was = %was, now = %address.url,
                    "the embedded server moved to another port; restart termim to follow it"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("the embedded server did not start: {e:#}"),
            }
            keep_embedded_up(ep, t).await;
        });
        return Ok(Session {
            tim,
            layout: endpoint.layout.clone(),
            server_url: known.url,
            revive: Some(revive),
        });
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let address = ensure_embedded(endpoint).await?;
        let sig = endpoint.sign(false)?;
        match Tim::login(endpoint.sdk_config(&address.url)?, &endpoint.user, &sig).await {
            Ok(tim) => {
                let revive = tokio::spawn(keep_embedded_up(endpoint.clone(), tim.clone()));
                return Ok(Session {
                    tim,
                    layout: endpoint.layout.clone(),
                    server_url: address.url,
                    revive: Some(revive),
                });
            }
            // The embedded server went away between reading its address and logging in
            // (it was stopping for idleness): start a new one.
            Err(_) if attempt < 3 && !embedded_still_at(endpoint, &address) => continue,
            Err(e) => bail!(
                "login to the embedded server at {} as {} failed: {e}",
                address.url,
                endpoint.user
            ),
        }
    }
}

fn embedded_still_at(endpoint: &Endpoint, address: &Address) -> bool {
    let dir = endpoint.layout.server_dir();
    embedded::is_running(&dir) && embedded::read_address(&dir).as_ref() == Some(address)
}

/// While this termim is logged in: should the embedded server vanish (killed, crashed),
/// start it again. It comes back on the same port when it can, so the SDK's own
/// reconnection finds it.
async fn keep_embedded_up(endpoint: Endpoint, tim: Tim) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut down = 0;
    loop {
        tick.tick().await;
        match tim.connection_state() {
            ConnectionState::LoggedOut => return,
            ConnectionState::Disconnected => down += 1,
            ConnectionState::Connecting | ConnectionState::Connected => down = 0,
        }
        if down < 2 || embedded::is_running(&endpoint.layout.server_dir()) {
            continue;
        }
        match ensure_embedded(&endpoint).await {
            Ok(address) => tracing::info!(url = %address.url, "restarted the embedded server"),
            Err(e) => tracing::warn!("cannot restart the embedded server: {e:#}"),
        }
        down = 0;
    }
}

/// Where the embedded server of this data directory listens, starting it if none runs.
pub async fn ensure_embedded(endpoint: &Endpoint) -> anyhow::Result<Address> {
    let endpoint = endpoint.clone();
    tokio::task::spawn_blocking(move || ensure_embedded_blocking(&endpoint))
        .await
        .context("starting the embedded server")?
}

/// Starting it includes seeding the demo workspace, which a debug build on a busy
/// machine does slowly.
const START_DEADLINE: Duration = Duration::from_secs(90);

fn ensure_embedded_blocking(endpoint: &Endpoint) -> anyhow::Result<Address> {
    let dir = endpoint.layout.server_dir();
    embedded::ensure_private_dir(&dir)
        .with_context(|| format!("cannot create the server directory {}", dir.display()))?;
    let until = Instant::now() + START_DEADLINE;
    loop {
        if embedded::is_running(&dir) {
            if let Some(address) = embedded::read_address(&dir) {
                return Ok(address);
            }
            // Starting (another termim is seeding it) or stopping: wait and look again.
        } else if let Some(spawning) =
            embedded::try_lock(&dir.join(embedded::SPAWN_LOCK_FILE), true)?
            && !embedded::is_running(&dir)
        {
            // This termim starts it; others wait on the spawn lock, then find it running.
            let address = spawn_embedded(endpoint, &dir, until);
            drop(spawning);
            return address;
        }
        if Instant::now() > until {
            bail!(
                "the embedded server in {} did not become ready within {} s (see its log in {})",
                dir.display(),
                START_DEADLINE.as_secs(),
                endpoint.layout.log_dir().display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Run `termim serve --embedded` in a session of its own and wait until it is ready (its
/// stderr closes with the address file written) or fails (its stderr says why).
fn spawn_embedded(
    endpoint: &Endpoint,
    dir: &std::path::Path,
    until: Instant,
) -> anyhow::Result<Address> {
    use std::io::Read as _;
    use std::process::{Command, Stdio};

    let exe = match std::env::var_os(EXE_ENV) {
        Some(exe) => PathBuf::from(exe),
        None => std::env::current_exe().context("cannot find termim's own executable")?,
    };
    let mut cmd = Command::new(&exe);
    cmd.args(["serve", "--embedded", "--data-dir"])
        .arg(&endpoint.layout.root);
    if let Some(listen) = endpoint.listen {
        cmd.arg("--listen").arg(listen.to_string());
    }
    if endpoint.demo {
        cmd.args(["--demo-user", &endpoint.user]);
    } else {
        cmd.arg("--no-demo");
    }
    for k in [
        "TERMIM_SERVER",
        "TERMIM_USER",
        "TERMIM_USERSIG",
        "TERMIM_DATA_DIR",
        "TERMIM_CONFIG",
    ] {
        cmd.env_remove(k);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: setsid is async-signal-safe; the child has its own session, so the
        // terminal's job control (Ctrl-Z, Ctrl-C) and hang-up never reach it.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start the embedded server ({})", exe.display()))?;
    tracing::info!(pid = child.id(), "started the embedded server");
    let mut stderr = child
        .stderr
        .take()
        .context("the embedded server's stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    let said = rx
        .recv_timeout(until.saturating_duration_since(Instant::now()))
        .ok();
    let pid = child.id();
    let address = embedded::read_address(dir).filter(|a| a.pid == pid);
    let exited = child.try_wait().ok().flatten();
    // Whoever lives longer, the embedded server is reaped (not left a zombie of ours).
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    match (address, said) {
        (Some(address), _) if exited.is_none() => Ok(address),
        (_, None) => bail!(
            "the embedded server in {} did not become ready within {} s (see its log in {})",
            dir.display(),
            START_DEADLINE.as_secs(),
            endpoint.layout.log_dir().display()
        ),
        (_, Some(text)) => {
            let text = text.trim();
            let text = text.strip_prefix("termim: ").unwrap_or(text);
            if text.is_empty() {
                bail!(
                    "the embedded server stopped while starting (see its log in {})",
                    endpoint.layout.log_dir().display()
                )
            }
            bail!("{text}")
        }
    }
}
