//! Start-up benchmark of the real binary (issue 3, item 7): with 1,000 conversations and
//! 200,000 cached messages, how long from launching `termim` in a terminal until the
//! first frame is drawn, and until the frame shows the loaded conversation list; how
//! long opening the top conversation takes; and the process's memory (VmRSS, VmHWM from
//! /proc) once the list is shown and after opening.
//!
//! `cargo bench --bench tui_startup` (the data set is built on the first run, see
//! `benches/support`). Each run launches the release binary in a 200×60 pseudo-terminal
//! that answers the terminal queries a real terminal answers, times the frames as their
//! bytes are read, then quits with `q` (exit status checked).
//!
//! Two set-ups: `embedded` is plain `termim` (it hosts the server on the data set in its
//! own process, and the demo's echo bot); `client` is `termim --server URL` against a
//! separate `termim serve` process, so only the client is measured.
//!
//! `TERMIM_BENCH_RUNS` (default 10) sets the runs per set-up; one warm-up run is not
//! counted.
#![cfg(unix)]

#[path = "../tests/pty_support/mod.rs"]
mod pty_support;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portable_pty::CommandBuilder;
use pty_support::Pty;

const COLS: u16 = 200;
const ROWS: u16 = 60;
const DEADLINE: Duration = Duration::from_secs(60);
const FIRST_FRAME: &str = "Conversations";
const LIST_LOADED: &str = "Conversations 1000";

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

fn one_run(exe: &Path, root: &Path, setup: Setup) -> Run {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!("listen = \"127.0.0.1:{}\"\n", support::free_port()),
    )
    .expect("config");
    let mut pty = Pty::spawn_marked(
        command(exe, root, &config, setup),
        COLS,
        ROWS,
        &[FIRST_FRAME, LIST_LOADED],
    );
    pty.shows(LIST_LOADED, DEADLINE);
    let pid = pty.pid().expect("pid");
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
    let status = pty.wait_exit(DEADLINE);
    assert!(status.success(), "termim exited with {status:?}");
    Run {
        first_frame_ms: ms(first - pty.started),
        list_ms: ms(list - pty.started),
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
            "{name:<9} {what:<34} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {unit}",
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
    let exe = Path::new(env!("CARGO_BIN_EXE_termim"));
    let runs = support::env_count("TERMIM_BENCH_RUNS", 10);
    println!(
        "termim TUI start-up: {} conversations, {} cached messages, {COLS}×{ROWS} pty; {}; load average {}",
        support::CONVERSATIONS,
        support::MESSAGES,
        support::machine(),
        support::load_average()
    );
    println!(
        "{:<9} {:<34} {:>8} {:>8} {:>8} {:>8}",
        "setup", "measure", "min", "median", "mean", "max"
    );
    for name in ["embedded", "client"] {
        let server;
        let setup = if name == "client" {
            let port = support::free_port();
            server = Some(Server::start(exe, &root, port));
            Setup::Client { port }
        } else {
            server = None;
            Setup::Embedded
        };
        let _warm_up = one_run(exe, &root, setup);
        let results: Vec<Run> = (0..runs).map(|_| one_run(exe, &root, setup)).collect();
        report(name, &results);
        drop(server);
    }
    println!(
        "load average (1 min) at the end: {}",
        support::load_average()
    );
}
