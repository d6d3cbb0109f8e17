//! The server under test, in its own process: `termim-load serve` on a fresh data dir or
//! `termim-load floor`, started by the generator, read from /proc while it runs.

use std::process::Stdio;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use termim::usersig::AppKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The termim server (auth, JSON, SQLite).
    Termim,
    /// The bare WebSocket forwarder: the transport's own limit.
    Floor,
}

/// How to start the server.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// Which server to measure.
    #[arg(long, value_enum, default_value_t = Kind::Termim)]
    pub target: Kind,
    /// The server's tokio worker threads.
    #[arg(long, default_value_t = 2)]
    pub server_workers: usize,
    /// SQLite `synchronous` for termim: NORMAL or FULL.
    #[arg(long, default_value = "NORMAL")]
    pub sync: String,
    /// Per-connection request rate for termim (0 = unlimited; default: the server's).
    #[arg(long)]
    pub request_rate: Option<u32>,
    /// Per-group send rate for termim (0 = unlimited; default: the server's).
    #[arg(long)]
    pub group_rate: Option<u32>,
    /// Conversation changes per second per user for termim (0 = unlimited; default: the
    /// server's).
    #[arg(long)]
    pub conversation_rate: Option<u32>,
    /// Groups one user may be in, for termim (default: the server's).
    #[arg(long)]
    pub max_groups: Option<usize>,
    /// termim's database (`termim serve --database`): a postgres:// URL to measure the
    /// PostgreSQL engine. Default: SQLite in a temp dir.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Pin the server to these CPUs (`taskset -c` list, e.g. "0").
    #[arg(long)]
    pub server_cpus: Option<String>,
    /// Run the server with this open-file limit (`prlimit --nofile`).
    #[arg(long)]
    pub server_nofile: Option<u64>,
}

/// A fresh directory under the system temp dir, removed when dropped.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new() -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("termim-load-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Target {
    pub kind: Kind,
    pub url: String,
    pub pid: u32,
    pub key: Option<AppKey>,
    child: Child,
    dir: Option<ScratchDir>,
}

impl Target {
    pub async fn start(args: &TargetArgs) -> anyhow::Result<Self> {
        let dir = match args.target {
            Kind::Termim => Some(ScratchDir::new()?),
            Kind::Floor => None,
        };
        Self::launch(args, dir).await
    }

    /// Kill the server and start it again on the same data dir, with `args`' settings.
    pub async fn restart(mut self, args: &TargetArgs) -> anyhow::Result<Self> {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        Self::launch(args, self.dir.take()).await
    }

    async fn launch(args: &TargetArgs, dir: Option<ScratchDir>) -> anyhow::Result<Self> {
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        if let Some(cpus) = &args.server_cpus {
            argv.extend(["taskset".into(), "-c".into(), cpus.into()]);
        }
        if let Some(n) = args.server_nofile {
            argv.extend(["prlimit".into(), format!("--nofile={n}").into()]);
        }
        argv.push(std::env::current_exe()?.into());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        match &dir {
            Some(tmp) => {
                cmd.arg("serve").arg("--data-dir").arg(tmp.path());
                if let Some(r) = args.request_rate {
                    cmd.args(["--request-rate", &r.to_string()]);
                }
                if let Some(r) = args.group_rate {
                    cmd.args(["--group-rate", &r.to_string()]);
                }
                if let Some(r) = args.conversation_rate {
                    cmd.args(["--conversation-rate", &r.to_string()]);
                }
                if let Some(n) = args.max_groups {
                    cmd.args(["--max-groups", &n.to_string()]);
                }
                if let Some(url) = &args.database {
                    cmd.args(["--database", url]);
                }
                cmd.env("TERMIM_SQLITE_SYNC", &args.sync);
            }
            None => {
                cmd.arg("floor");
            }
        }
        cmd.args(["--workers", &args.server_workers.to_string()]);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting the server process")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let line = BufReader::new(stdout)
            .lines()
            .next_line()
            .await?
            .context("the server printed nothing")?;
        // "listening ws://ADDR pid PID"
        let words: Vec<&str> = line.split_whitespace().collect();
        let url = words.get(1).context("no url")?.to_string();
        let pid: u32 = words.get(3).context("no pid")?.parse()?;
        let key = match &dir {
            Some(t) => Some(AppKey::load(t.path())?),
            None => None,
        };
        Ok(Self {
            kind: args.target,
            url,
            pid,
            key,
            child,
            dir,
        })
    }

    /// Resident memory of the server, bytes (VmRSS).
    pub fn rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// CPU time the server used so far (user + system), seconds.
    pub fn cpu_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the ")" of the command name; utime and stime are fields 14 and 15,
        // in clock ticks (USER_HZ, 100 on Linux).
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
