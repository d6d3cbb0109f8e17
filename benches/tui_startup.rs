//! Start-up benchmark of the real binary (issue 3, item 7; issue 17, item 2): with 1,000
//! conversations and 200,000 cached messages, how long from launching `termim` in a
//! terminal until the first frame is drawn, and until the frame shows the loaded
//! conversation list; how long opening the top conversation takes; and the process's
//! memory (VmRSS, VmHWM from /proc) once the list is shown and after opening.
//!
//! `cargo bench --bench tui_startup` (the data set is built on the first run, see
//! `benches/support`). Each run launches the release binary in a 200×60 pseudo-terminal,
//! times the frames as their bytes are read, then quits with `q` (exit status checked).
//!
//! Two set-ups: `embedded` is plain `termim` (it hosts the server on the data set in its
//! own process, and the demo's echo bot); `client` is `termim --server URL` against a
//! separate `termim serve` process, so only the client is measured.
//!
//! Four terminals, because a real one is not as quick as a test pseudo-terminal:
//! - `pty`: answers the terminal queries (device attributes, cursor position) at once;
//! - `pty-late`: answers them after 200 ms (tmux under load, ssh);
//! - `pty-mute`: never answers them (terminals and multiplexers that ignore a query);
//! - `tmux`: termim started in a pane of a running tmux server (`respawn-pane`), timed
//!   from that command, read through the tmux client attached to the pseudo-terminal
//!   (skipped when there is no `tmux`).
//!
//! `TERMIM_BENCH_RUNS` (default 10) sets the runs per set-up and terminal; one warm-up
//! run is not counted. `TERMIM_BENCH_TERMINALS` (default `pty,pty-late,pty-mute,tmux`)
//! and `TERMIM_BENCH_SETUPS` (default `embedded,client`) choose what runs;
//! `TERMIM_BENCH_EXE` measures another termim binary (e.g. an older build).
#![cfg(unix)]

#[path = "../tests/pty_support/mod.rs"]
mod pty_support;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portable_pty::CommandBuilder;
use pty_support::{Answers, Pty};

const COLS: u16 = 200;
const ROWS: u16 = 60;
const DEADLINE: Duration = Duration::from_secs(60);
const FIRST_FRAME: &str = "Conversations";
const LIST_LOADED: &str = "Conversations 1000";

/// How late a "late" terminal answers.
const LATE: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, PartialEq)]
enum Term {
    Pty(Answers),
    Tmux,
}

impl Term {
    fn name(self) -> &'static str {
        match self {
            Term::Pty(Answers::Now) => "pty",
            Term::Pty(Answers::After(_)) => "pty-late",
            Term::Pty(Answers::Never) => "pty-mute",
            Term::Tmux => "tmux",
        }
    }

    fn from_name(name: &str) -> Option<Term> {
        match name {
            "pty" => Some(Term::Pty(Answers::Now)),
            "pty-late" => Some(Term::Pty(Answers::After(LATE))),
            "pty-mute" => Some(Term::Pty(Answers::Never)),
            "tmux" => Some(Term::Tmux),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Setup {
    Embedded,
    Client { port: u16 },
}

struct Run {
    first_frame_ms: f64,
    list_ms: f64,
    open_ms: f64,
    rss_list: f64,
    rss_open: f64,
    hwm: f64,
}

fn command(exe: &Path, root: &Path, config: &Path, setup: Setup) -> CommandBuilder {
    let mut cmd = CommandBuilder::new(exe);
    cmd.arg("--data-dir");
    cmd.arg(root);
    cmd.arg("--config");
    cmd.arg(config);
    cmd.arg("--user");
    cmd.arg(support::ME);
    if let Setup::Client { port } = setup {
        cmd.arg("--server");
        cmd.arg(format!("ws://127.0.0.1:{port}"));
    }
    for k in [
        "TERMIM_SERVER",
        "TERMIM_USER",
        "TERMIM_USERSIG",
        "TERMIM_DATA_DIR",
        "TERMIM_CONFIG",
        "TERMIM_LOG",
        "TERMIM_TEST_PANIC",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("TERM", "xterm-256color");
    cmd
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A shell word for `sh -c`.
fn quoted(arg: &std::ffi::OsStr) -> String {
    format!("'{}'", arg.to_string_lossy().replace('\'', "'\\''"))
}

/// A tmux server on its own socket with one idle pane (killed on drop).
struct TmuxPane {
    socket: String,
}

impl TmuxPane {
    /// The server, and its client attached to a pty (which reads the screen).
    fn start() -> (TmuxPane, Pty) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let socket = format!(
            "termim-bench-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let mut cmd = CommandBuilder::new("tmux");
        for a in [
            "-L",
            &socket,
            "-f",
            "/dev/null",
            "new-session",
            "-s",
            "bench",
        ] {
            cmd.arg(a);
        }
        cmd.arg("-x");
        cmd.arg(COLS.to_string());
        cmd.arg("-y");
        cmd.arg(ROWS.to_string());
        // An idle pane until termim replaces it.
        cmd.arg("sleep 600");
        for k in ["TMUX", "TMUX_PANE", "TERMIM_LOG"] {
            cmd.env_remove(k);
        }
        cmd.env("TERM", "xterm-256color");
        let client = Pty::spawn_marked(cmd, COLS, ROWS, &[FIRST_FRAME, LIST_LOADED]);
        let pane = TmuxPane { socket };
        let until = Instant::now() + DEADLINE;
        while !pane.tmux(&["has-session", "-t", "bench"]).status.success() {
            assert!(Instant::now() < until, "tmux did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        pane.tmux(&["set", "-g", "status", "off"]);
        pane.tmux(&["set", "-g", "remain-on-exit", "off"]);
        (pane, client)
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }
}

impl Drop for TmuxPane {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn one_run(exe: &Path, root: &Path, setup: Setup, term: Term) -> Run {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!("listen = \"127.0.0.1:{}\"\n", support::free_port()),
    )
    .expect("config");
    let cmd = command(exe, root, &config, setup);
    let marks = [FIRST_FRAME, LIST_LOADED];
    let (mut pty, started, pid, tmux) = match term {
        Term::Pty(answers) => {
            let mut pty = Pty::spawn_answering(cmd, COLS, ROWS, &marks, answers);
            pty.shows(LIST_LOADED, DEADLINE);
            let pid = pty.pid().expect("pid");
            let started = pty.started;
            (pty, started, pid, None)
        }
        Term::Tmux => {
            let (pane, mut pty) = TmuxPane::start();
            let argv: Vec<String> = cmd.get_argv().iter().map(|a| quoted(a)).collect();
            let unset: String = [
                "TERMIM_SERVER",
                "TERMIM_USER",
                "TERMIM_USERSIG",
                "TERMIM_DATA_DIR",
                "TERMIM_CONFIG",
                "TERMIM_LOG",
                "TERMIM_TEST_PANIC",
            ]
            .iter()
            .map(|k| format!("unset {k}; "))
            .collect();
            let shell = format!("{unset}exec {}", argv.join(" "));
            let started = Instant::now();
            let out = pane.tmux(&["respawn-pane", "-k", "-t", "bench", &shell]);
            assert!(out.status.success(), "respawn-pane: {out:?}");
            pty.shows(LIST_LOADED, DEADLINE);
            let pid_out = pane.tmux(&["display", "-p", "-t", "bench", "#{pane_pid}"]);
            let pid: u32 = String::from_utf8_lossy(&pid_out.stdout)
                .trim()
                .parse()
                .expect("pane pid");
            (pty, started, pid, Some(pane))
        }
    };
    let first = pty.mark(FIRST_FRAME).expect("first frame");
    let list = pty.mark(LIST_LOADED).expect("list");
    let (rss_list, _) = support::rss_mib(pid).expect("/proc status");

    // Open the top conversation: its newest page of history and the composer.
    let pressed = Instant::now();
    pty.send(b"\r");
    // Drawn: the composer is there and the message pane (right of the list) shows
    // messages (every message of the data set ends in "#<n>").
    let opened = pty.wait_for("the open conversation", DEADLINE, |s| {
        let shown = s
            .lines()
            .filter_map(|l| l.split_once("││").map(|(_, pane)| pane))
            .filter(|pane| pane.contains(" #"))
            .count();
        s.contains("Message ") && !s.contains("Loading messages") && shown >= 10
    });
    let (rss_open, hwm) = support::rss_mib(pid).expect("/proc status");

    pty.send(b"\x1b");
    pty.shows("q quit", DEADLINE);
    pty.type_text("q");
    if tmux.is_some() {
        // termim ends, so does the only pane, the session and the attached client;
        // termim's own status is not ours to read here (it is not our child).
        let until = Instant::now() + DEADLINE;
        while std::fs::metadata(format!("/proc/{pid}")).is_ok() {
            assert!(Instant::now() < until, "termim did not quit");
            std::thread::sleep(Duration::from_millis(5));
        }
    } else {
        let status = pty.wait_exit(DEADLINE);
        assert!(status.success(), "termim exited with {status:?}");
    }
    drop(tmux);
    Run {
        first_frame_ms: ms(first - started),
        list_ms: ms(list - started),
        open_ms: ms(opened - pressed),
        rss_list,
        rss_open,
        hwm,
    }
}

fn report(name: &str, runs: &[Run]) {
    let row = |what: &str, unit: &str, v: Vec<f64>| {
        let s = support::stats(&v);
        println!(
            "{name:<18} {what:<34} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {unit}",
            s.min, s.p50, s.mean, s.max
        );
    };
    row(
        "launch → first frame",
        "ms",
        runs.iter().map(|r| r.first_frame_ms).collect(),
    );
    row(
        "launch → list of 1000 drawn",
        "ms",
        runs.iter().map(|r| r.list_ms).collect(),
    );
    row(
        "Enter → conversation drawn",
        "ms",
        runs.iter().map(|r| r.open_ms).collect(),
    );
    row(
        "VmRSS, list shown",
        "MiB",
        runs.iter().map(|r| r.rss_list).collect(),
    );
    row(
        "VmRSS, conversation open",
        "MiB",
        runs.iter().map(|r| r.rss_open).collect(),
    );
    row(
        "VmHWM (peak RSS)",
        "MiB",
        runs.iter().map(|r| r.hwm).collect(),
    );
}

/// `termim serve` on the data set, in its own process.
struct Server(std::process::Child);

impl Server {
    fn start(exe: &Path, root: &Path, port: u16) -> Server {
        let child = Command::new(exe)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(root.join("server"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("termim serve");
        let until = Instant::now() + DEADLINE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "termim serve did not listen");
            std::thread::sleep(Duration::from_millis(10));
        }
        Server(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let root = support::ensure_populated();
    let exe = std::env::var_os("TERMIM_BENCH_EXE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_BIN_EXE_termim")).to_path_buf());
    let runs = support::env_count("TERMIM_BENCH_RUNS", 10);
    let list = |var: &str, default: &str| -> Vec<String> {
        std::env::var(var)
            .unwrap_or_else(|_| default.to_string())
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let have_tmux = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    let terms: Vec<Term> = list("TERMIM_BENCH_TERMINALS", "pty,pty-late,pty-mute,tmux")
        .iter()
        .map(|t| Term::from_name(t).unwrap_or_else(|| panic!("unknown terminal {t:?}")))
        .filter(|t| {
            let keep = *t != Term::Tmux || have_tmux;
            if !keep {
                println!("(no tmux here: the tmux runs are skipped)");
            }
            keep
        })
        .collect();
    println!(
        "termim TUI start-up: {} conversations, {} cached messages, {COLS}×{ROWS} pty; {}; load average {}; {}",
        support::CONVERSATIONS,
        support::MESSAGES,
        support::machine(),
        support::load_average(),
        exe.display()
    );
    println!(
        "{:<18} {:<34} {:>8} {:>8} {:>8} {:>8}",
        "setup/terminal", "measure", "min", "median", "mean", "max"
    );
    for name in list("TERMIM_BENCH_SETUPS", "embedded,client") {
        let server;
        let setup = match name.as_str() {
            "client" => {
                let port = support::free_port();
                server = Some(Server::start(&exe, &root, port));
                Setup::Client { port }
            }
            "embedded" => {
                server = None;
                Setup::Embedded
            }
            other => panic!("unknown set-up {other:?}"),
        };
        for &term in &terms {
            let _warm_up = one_run(&exe, &root, setup, term);
            let results: Vec<Run> = (0..runs)
                .map(|_| one_run(&exe, &root, setup, term))
                .collect();
            report(&format!("{name}/{}", term.name()), &results);
        }
        drop(server);
    }
    println!(
        "load average (1 min) at the end: {}",
        support::load_average()
    );
}
