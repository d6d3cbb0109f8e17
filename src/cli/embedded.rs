//! The embedded default server: a small background process of its own.
//!
//! Whichever termim finds none running spawns `termim serve --embedded` (hidden flags) in
//! a session of its own, so the terminal's Ctrl-Z, Ctrl-C and hang-up never reach it: a
//! suspended or quitting UI never stops anyone else. The process
//!
//! - holds an exclusive `flock` on `<server dir>/embedded.lock` for its whole life, so
//!   "is one running?" is answered by the lock, never by a port;
//! - binds the configured `listen`, or else a free port on 127.0.0.1 (the one it had last
//!   time when it is still free, so clients that were connected reconnect on their own);
//!   a configured port that is taken is refused in words, never joined;
//! - seeds the demo workspace on the database's first start and runs the echo bot;
//! - writes where it listens to `<server dir>/embedded.json` (atomically, mode 0600 in a
//!   0700 directory), and only then reports ready; the file outlives the process as the
//!   last address, so the messenger opens on it at once (drawing from its cache) while the
//!   next server starts in the background on the same port;
//! - exits once no client (other than its own bot) has been connected for a grace period
//!   (`TERMIM_EMBEDDED_IDLE_SECS`, default 30), when its data directory disappears, or on
//!   Ctrl-C / SIGTERM — cleanly, as `termim serve` does.
//!
//! The address file lives in the user's own data directory, so each user (each data
//! directory) has an embedded server of their own, side by side.

use std::fs::File;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::config::DataLayout;
use super::demo;
use crate::server::{ServerConfig, ServerHandle};

/// Where the running embedded server listens.
pub const ADDRESS_FILE: &str = "embedded.json";
/// Held (exclusively) by the running embedded server for its whole life.
pub const LOCK_FILE: &str = "embedded.lock";
/// Held by the termim that is starting the embedded server, so two never start two.
pub const SPAWN_LOCK_FILE: &str = "spawn.lock";
/// Seconds without a client before the embedded server exits.
pub const IDLE_ENV: &str = "TERMIM_EMBEDDED_IDLE_SECS";
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);

/// The content of `embedded.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub url: String,
    pub pid: u32,
    #[serde(rename = "sdkAppID")]
    pub sdk_app_id: u64,
}

/// The address file, if there is a readable one.
pub fn read_address(server_dir: &Path) -> Option<Address> {
    let text = std::fs::read_to_string(server_dir.join(ADDRESS_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Write the address file atomically (a temporary file renamed over it), private to the user.
fn write_address(server_dir: &Path, address: &Address) -> io::Result<()> {
    let tmp = server_dir.join(format!("{ADDRESS_FILE}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(&serde_json::to_vec(address).map_err(io::Error::other)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, server_dir.join(ADDRESS_FILE))
}

/// Create `dir` (and its parents) and make it private to the user (0700).
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// An advisory `flock` on a file; released when dropped (the file is closed).
pub struct FileLock {
    _file: File,
}

/// Try to lock `path` (created if missing) without waiting: `None` when someone else holds
/// a conflicting lock.
pub fn try_lock(path: &Path, exclusive: bool) -> io::Result<Option<FileLock>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd as _;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        // SAFETY: flock on a file descriptor this function owns for the call's duration.
        if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(None)
            } else {
                Err(e)
            };
        }
    }
    #[cfg(not(unix))]
    let _ = exclusive;
    Ok(Some(FileLock { _file: file }))
}

/// Does an embedded server run for this server directory (does anyone hold its lock)?
pub fn is_running(server_dir: &Path) -> bool {
    if !server_dir.join(LOCK_FILE).exists() {
        return false;
    }
    matches!(try_lock(&server_dir.join(LOCK_FILE), false), Ok(None))
}

/// What `termim serve --embedded` is told by the termim that starts it.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// The termim data directory (the server's data is in its `server/`).
    pub root: PathBuf,
    /// The configured `listen`; `None`: a free port on 127.0.0.1.
    pub listen: Option<SocketAddr>,
    /// Who started it: the demo workspace's own user.
    pub demo_user: Option<String>,
    pub demo: bool,
}

/// `termim serve --embedded`: run the embedded default until idle, gone, or signalled.
pub async fn serve(options: EmbeddedOptions) -> anyhow::Result<()> {
    let layout = DataLayout::new(options.root.clone());
    let dir = layout.server_dir();
    ensure_private_dir(&dir)
        .with_context(|| format!("cannot create the server directory {}", dir.display()))?;
    let lock = take_daemon_lock(&dir)?;
    let fresh = !crate::server::database_exists(&dir);
    // The last run's address (for its port); gone at once, so that no client takes it for
    // this run's while this one starts.
    let previous = read_address(&dir);
    let _ = std::fs::remove_file(dir.join(ADDRESS_FILE));
    let handle = bind(&options, &dir, previous.as_ref()).await?;
    let url = handle.url();
    if fresh && options.demo {
        demo::seed(&url, &layout, options.demo_user.as_deref())
            .await
            .context("creating the demo workspace")?;
    }
    let bot = if options.demo {
        Some(demo::spawn_echo_bot(&url, &layout).await?)
    } else {
        None
    };
    write_address(
        &dir,
        &Address {
            url: url.clone(),
            pid: std::process::id(),
            sdk_app_id: handle.app_key().sdk_app_id,
        },
    )
    .with_context(|| format!("cannot write {}", dir.join(ADDRESS_FILE).display()))?;
    tracing::info!(%url, "embedded server ready");
    // Ready: the termim that started this process waits for its stderr to close.
    detach_stdio();

    let why = wait_until_done(&handle, bot.as_ref(), &dir).await;
    tracing::info!("embedded server stopping: {why}");
    // The address file stays: whether a server runs is the lock's to say, and the next
    // termim opens on this address at once (the next server comes back on its port).
    if let Some(bot) = bot {
        bot.stop().await;
    }
    handle.shutdown().await;
    tracing::info!("embedded server stopped");
    drop(lock);
    Ok(())
}

/// The daemon lock. Another termim checking whether one runs holds a shared lock for an
/// instant, so a few tries are allowed before concluding another embedded server runs.
fn take_daemon_lock(dir: &Path) -> anyhow::Result<FileLock> {
    let path = dir.join(LOCK_FILE);
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        if let Some(lock) =
            try_lock(&path, true).with_context(|| format!("cannot lock {}", path.display()))?
        {
            return Ok(lock);
        }
        if Instant::now() > until {
            anyhow::bail!(
                "an embedded server already runs for {} (pid in {})",
                dir.display(),
                dir.join(ADDRESS_FILE).display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn bind(
    options: &EmbeddedOptions,
    dir: &Path,
    previous: Option<&Address>,
) -> anyhow::Result<ServerHandle> {
    let config = |listen| ServerConfig {
        listen,
        data_dir: dir.to_path_buf(),
        sdk_app_id: None,
        secret_key: None,
        database: None,
    };
    if let Some(listen) = options.listen {
        return match crate::server::start(config(listen)).await {
            Ok(handle) => Ok(handle),
            Err(e) if is_addr_in_use(&e) => anyhow::bail!(
                "{listen} is in use by another program or another user's termim; \
                 set `listen` in the config to another port"
            ),
            Err(e) => Err(e.context(format!(
                "cannot start the embedded server on {listen} with data in {}",
                dir.display()
            ))),
        };
    }
    // The port of last time, so SDKs still trying it reconnect by themselves.
    let last = previous
        .and_then(|a| a.url.strip_prefix("ws://"))
        .and_then(|addr| addr.parse::<SocketAddr>().ok())
        .filter(|addr| addr.ip().is_loopback());
    if let Some(addr) = last {
        match crate::server::start(config(addr)).await {
            Ok(handle) => return Ok(handle),
            Err(e) if is_addr_in_use(&e) => {
                tracing::info!(%addr, "the embedded server's last port is taken; using another");
            }
            Err(e) => return Err(e.context(format!("cannot start the embedded server on {addr}"))),
        }
    }
    crate::server::start(config(SocketAddr::from(([127, 0, 0, 1], 0))))
        .await
        .with_context(|| {
            format!(
                "cannot start the embedded server with data in {}",
                dir.display()
            )
        })
}

fn is_addr_in_use(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::AddrInUse)
    })
}

/// Point stdin, stdout and stderr at /dev/null: the starter reads stderr until it closes.
fn detach_stdio() {
    #[cfg(unix)]
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd as _;
        for fd in 0..=2 {
            // SAFETY: dup2 onto the standard descriptors, from a descriptor owned here.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

fn idle_grace() -> Duration {
    std::env::var(IDLE_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_IDLE, Duration::from_secs_f64)
}

async fn wait_until_done(
    handle: &ServerHandle,
    bot: Option<&demo::EchoBot>,
    dir: &Path,
) -> &'static str {
    let grace = idle_grace();
    let mut idle_since = Some(Instant::now());
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let signal = wait_for_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = &mut signal => return "signalled",
            _ = tick.tick() => {}
        }
        if !dir.join(LOCK_FILE).exists() {
            return "its data directory is gone";
        }
        let own = bot.map_or(0, demo::EchoBot::connections);
        let clients = handle.logged_in_connections().saturating_sub(own);
        if clients > 0 {
            idle_since = None;
        } else {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= grace {
                return "no client connected for the grace period";
            }
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = hup.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
