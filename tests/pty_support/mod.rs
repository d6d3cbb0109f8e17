//! Running the real `termim` binary in a pseudo-terminal (portable-pty) and reading its
//! screen through a terminal emulator (vt100). Shared by `tests/tui_pty.rs` and the
//! start-up benchmark (`benches/tui_startup.rs`).
//!
//! A background thread drains the PTY (a child never blocks on a full pipe), feeds
//! every byte to the emulator, keeps the raw bytes, and answers the two queries a real
//! terminal answers: primary device attributes (`ESC [ c`, which crossterm sends to
//! detect the kitty keyboard protocol and otherwise waits 2 s for) and the cursor
//! position (`ESC [ 6 n`) — at once, late or never ([`Answers`]), so the start-up
//! benchmark can play a slow terminal.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// Environment variables of termim's that must not leak in from the test's environment.
const TERMIM_ENV: [&str; 10] = [
    "TERMIM_SERVER",
    "TERMIM_USER",
    "TERMIM_USERSIG",
    "TERMIM_DATA_DIR",
    "TERMIM_CONFIG",
    "TERMIM_LOG",
    "TERMIM_TEST_PANIC",
    "TERMIM_EXE",
    "TERMIM_EMBEDDED_IDLE_SECS",
    "TERMIM_CA_CERT",
];

/// The embedded server of a test's workspace exits this soon once unused (it is also
/// stopped when the workspace is dropped, and exits when its data directory goes).
pub const EMBEDDED_IDLE_SECS: &str = "3";

/// Stop the embedded server running for `data_dir`, if any, and wait until it is gone:
/// a test never leaves a background server behind.
pub fn stop_embedded(data_dir: &Path) {
    let file = data_dir.join("server").join("embedded.json");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return;
    };
    let Some(pid) = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["pid"].as_i64())
        .and_then(|p| i32::try_from(p).ok())
    else {
        return;
    };
    if !is_embedded_server(pid) {
        return;
    }
    // SAFETY: a signal to a process checked to be an embedded termim server.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let until = Instant::now() + Duration::from_secs(15);
    while is_embedded_server(pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Is `pid` a live (not zombie) `termim serve --embedded`?
pub fn is_embedded_server(pid: i32) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    cmdline.split(|b| *b == 0).any(|a| a == b"--embedded") && !matches!(state, Some('Z') | None)
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A data directory and a config file whose embedded server listens on a free port.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Workspace {
    pub fn new() -> Workspace {
        Self::in_dir(tempfile::tempdir().expect("temp dir"))
    }

    pub fn in_dir(dir: tempfile::TempDir) -> Workspace {
        let port = free_port();
        std::fs::write(
            dir.path().join("config.toml"),
            format!("listen = \"127.0.0.1:{port}\"\n"),
        )
        .expect("config file");
        Workspace { dir, port }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    pub fn config(&self) -> std::path::PathBuf {
        self.dir.path().join("config.toml")
    }

    /// `termim --data-dir … --config … --user USER ARGS…` with a clean environment.
    pub fn command(&self, exe: &Path, user: &str, args: &[&str]) -> CommandBuilder {
        let mut cmd = CommandBuilder::new(exe);
        cmd.arg("--data-dir");
        cmd.arg(self.data_dir());
        cmd.arg("--config");
        cmd.arg(self.config());
        cmd.arg("--user");
        cmd.arg(user);
        for a in args {
            cmd.arg(a);
        }
        for k in TERMIM_ENV {
            cmd.env_remove(k);
        }
        cmd.env("TERMIM_EMBEDDED_IDLE_SECS", EMBEDDED_IDLE_SECS);
        cmd.env("HOME", self.dir.path());
        cmd.env("TERM", "xterm-256color");
        cmd.env("RUST_BACKTRACE", "0");
        cmd.cwd(self.dir.path());
        cmd
    }

    /// The same as a plain process (for the scripting commands), with its output.
    pub fn run(&self, exe: &Path, user: &str, args: &[&str]) -> std::process::Output {
        self.plain(exe, user, args).output().expect("run termim")
    }

    /// [`Workspace::run`] that must finish within `deadline` (killed and a panic if not).
    pub fn run_within(
        &self,
        exe: &Path,
        user: &str,
        args: &[&str],
        deadline: Duration,
    ) -> std::process::Output {
        use std::process::Stdio;
        let mut child = self
            .plain(exe, user, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run termim");
        let until = Instant::now() + deadline;
        while matches!(child.try_wait(), Ok(None)) {
            if Instant::now() > until {
                let _ = child.kill();
                let out = child.wait_with_output().expect("termim's output");
                panic!(
                    "termim {args:?} as {user} did not finish within {deadline:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.wait_with_output().expect("termim's output")
    }

    fn plain(&self, exe: &Path, user: &str, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .arg("--config")
            .arg(self.config())
            .arg("--user")
            .arg(user)
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path());
        for k in TERMIM_ENV {
            cmd.env_remove(k);
        }
        cmd.env("TERMIM_EMBEDDED_IDLE_SECS", EMBEDDED_IDLE_SECS);
        cmd
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        stop_embedded(&self.data_dir());
    }
}

/// How the emulated terminal answers the queries in [`answers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// At once, as a local terminal emulator does.
    Now,
    /// After this long, as tmux or a terminal over a slow ssh link may.
    After(Duration),
    /// Never, as some terminals and multiplexers do for queries they do not know.
    Never,
}

struct Shared {
    parser: vt100::Parser,
    raw: Vec<u8>,
    /// When the first byte of output arrived.
    first_output: Option<Instant>,
    /// Texts to time: when each first appeared on the screen (checked after every read).
    marks: Vec<(String, Option<Instant>)>,
    eof: bool,
}

pub struct Pty {
    pub child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    shared: Arc<Mutex<Shared>>,
    reader: Option<JoinHandle<()>>,
    pub started: Instant,
}

/// Answers a terminal gives to queries in `bytes`, counting only queries that end at or
/// after `new_from` (the bytes before it are the previous read's tail, kept so a query
/// split across reads is still seen, and already answered if whole).
fn answers(bytes: &[u8], new_from: usize) -> Vec<u8> {
    const QUERIES: [(&[u8], &[u8]); 2] = [
        // Primary device attributes: a VT220-class terminal without the kitty keyboard
        // protocol.
        (b"\x1b[c", b"\x1b[?62;22c"),
        // Cursor position.
        (b"\x1b[6n", b"\x1b[1;1R"),
    ];
    let mut out = Vec::new();
    for (i, _) in bytes.iter().enumerate() {
        for (query, answer) in QUERIES {
            if bytes[i..].starts_with(query) && i + query.len() > new_from {
                out.extend_from_slice(answer);
            }
        }
    }
    out
}

impl Pty {
    pub fn spawn(cmd: CommandBuilder, cols: u16, rows: u16) -> Pty {
        Self::spawn_marked(cmd, cols, rows, &[])
    }

    /// [`Pty::spawn`], noting when each of `marks` first shows on the screen (see
    /// [`Pty::mark`]): the time is taken as the bytes that drew it are read.
    pub fn spawn_marked(cmd: CommandBuilder, cols: u16, rows: u16, marks: &[&str]) -> Pty {
        Self::spawn_answering(cmd, cols, rows, marks, Answers::Now)
    }

    /// [`Pty::spawn_marked`] with a terminal that answers queries as `answering` says.
    pub fn spawn_answering(
        cmd: CommandBuilder,
        cols: u16,
        rows: u16,
        marks: &[&str],
        answering: Answers,
    ) -> Pty {
        let system = native_pty_system();
        let pair = system
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let started = Instant::now();
        let child = pair.slave.spawn_command(cmd).expect("spawn termim");
        // Only the child holds the slave now: its exit ends our reads.
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = Arc::new(Mutex::new(pair.master.take_writer().expect("pty writer")));
        let shared = Arc::new(Mutex::new(Shared {
            parser: vt100::Parser::new(
                std::num::NonZeroU16::new(rows).expect("rows > 0"),
                std::num::NonZeroU16::new(cols).expect("cols > 0"),
                0,
            ),
            raw: Vec::new(),
            first_output: None,
            marks: marks.iter().map(|m| (m.to_string(), None)).collect(),
            eof: false,
        }));
        let thread_shared = Arc::clone(&shared);
        let thread_writer = Arc::clone(&writer);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            let mut tail: Vec<u8> = Vec::new();
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let read_at = Instant::now();
                let chunk = &buf[..n];
                let new_from = tail.len();
                tail.extend_from_slice(chunk);
                let reply = answers(&tail, new_from);
                let keep = tail.len().saturating_sub(3);
                tail.drain(..keep);
                if !reply.is_empty() {
                    let write = move |writer: &Arc<Mutex<Box<dyn Write + Send>>>| {
                        let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
                        let _ = w.write_all(&reply);
                        let _ = w.flush();
                    };
                    match answering {
                        Answers::Now => write(&thread_writer),
                        Answers::After(delay) => {
                            let writer = Arc::clone(&thread_writer);
                            std::thread::spawn(move || {
                                std::thread::sleep(delay);
                                write(&writer);
                            });
                        }
                        Answers::Never => {}
                    }
                }
                let mut s = thread_shared.lock().unwrap_or_else(|p| p.into_inner());
                if s.first_output.is_none() {
                    s.first_output = Some(read_at);
                }
                s.parser.process(chunk);
                s.raw.extend_from_slice(chunk);
                if s.marks.iter().any(|(_, at)| at.is_none()) {
                    let text = s.parser.screen().contents();
                    for (mark, at) in &mut s.marks {
                        if at.is_none() && text.contains(mark.as_str()) {
                            *at = Some(read_at);
                        }
                    }
                }
            }
            thread_shared.lock().unwrap_or_else(|p| p.into_inner()).eof = true;
        });
        Pty {
            child,
            master: pair.master,
            writer,
            shared,
            reader: Some(reader),
            started,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The screen's text, rows joined by newlines.
    pub fn contents(&self) -> String {
        self.lock().parser.screen().contents()
    }

    pub fn raw(&self) -> Vec<u8> {
        self.lock().raw.clone()
    }

    pub fn raw_len(&self) -> usize {
        self.lock().raw.len()
    }

    /// When `mark` (given to [`Pty::spawn_marked`]) first showed on the screen.
    pub fn mark(&self, mark: &str) -> Option<Instant> {
        self.lock()
            .marks
            .iter()
            .find(|(m, _)| m == mark)
            .and_then(|(_, at)| *at)
    }

    pub fn first_output(&self) -> Option<Instant> {
        self.lock().first_output
    }

    /// Look at the emulated screen.
    pub fn with_screen<T>(&self, f: impl FnOnce(&vt100::Screen) -> T) -> T {
        f(self.lock().parser.screen())
    }

    /// Poll the screen until `ok` holds; the moment it first held, or a panic with the
    /// screen after `deadline`. Also fails at once if the process exits meanwhile.
    pub fn wait_for(
        &mut self,
        what: &str,
        deadline: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> Instant {
        let until = Instant::now() + deadline;
        loop {
            let text = self.contents();
            if ok(&text) {
                return Instant::now();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader a moment to drain what was written before the exit.
                self.join_reader(Duration::from_secs(2));
                let text = self.contents();
                if ok(&text) {
                    return Instant::now();
                }
                panic!("termim exited ({status:?}) before showing {what}; screen:\n{text}");
            }
            if Instant::now() > until {
                panic!("timed out waiting for {what}; screen:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn shows(&mut self, text: &str, deadline: Duration) -> Instant {
        self.wait_for(&format!("{text:?}"), deadline, |s| s.contains(text))
    }

    pub fn send(&self, bytes: &[u8]) {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.write_all(bytes).expect("write to the pty");
        w.flush().expect("flush the pty");
    }

    /// Write `bytes` onto the emulated screen as if another program had written to the
    /// terminal behind termim's back (termim does not see them).
    pub fn scribble(&self, bytes: &[u8]) {
        self.lock().parser.process(bytes);
    }

    /// Type text (UTF-8 as a terminal sends it).
    pub fn type_text(&self, text: &str) {
        self.send(text.as_bytes());
    }

    /// Resize the terminal (the child gets SIGWINCH) and the emulator with it. The
    /// emulator goes first: whatever the child draws once it sees the new size must be
    /// read at the new size (what it drew before is cleared by its full redraw).
    pub fn resize(&self, cols: u16, rows: u16) {
        self.lock().parser.screen_mut().set_size(
            std::num::NonZeroU16::new(rows).expect("rows > 0"),
            std::num::NonZeroU16::new(cols).expect("cols > 0"),
        );
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize the pty");
    }

    /// The pty's local modes (ICANON, ECHO, …) as the child left them.
    #[cfg(unix)]
    pub fn local_flags(&self) -> Option<u64> {
        self.master
            .get_termios()
            .map(|t| u64::from(t.local_flags.bits()))
    }

    /// Wait for the process to exit; its exit code (a signal counts as a failure).
    pub fn wait_exit(&mut self, deadline: Duration) -> portable_pty::ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.join_reader(Duration::from_secs(5));
                    return status;
                }
                Ok(None) => {}
                Err(e) => panic!("waiting for termim: {e}"),
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!(
                    "termim did not exit within {deadline:?}; screen:\n{}",
                    self.contents()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn join_reader(&mut self, deadline: Duration) {
        let until = Instant::now() + deadline;
        while !self.lock().eof && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.lock().eof
            && let Some(h) = self.reader.take()
        {
            let _ = h.join();
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // A failed test must not leave a termim behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `termim` binary Cargo built for these tests.
pub fn termim_exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_termim"))
}

/// Start `termim --user USER` (embedded default) in a pty of `cols`×`rows` and wait,
/// up to `deadline`, for the demo workspace online in its list.
pub fn start_demo(ws: &Workspace, user: &str, cols: u16, rows: u16, deadline: Duration) -> Pty {
    let mut pty = Pty::spawn(ws.command(termim_exe(), user, &[]), cols, rows);
    pty.wait_for("the demo workspace", deadline, |s| {
        s.contains("#Team 工作组") && s.contains("#Lounge") && s.contains("● online")
    });
    pty
}

/// Open a conversation from the list through the filter (`/`, its name, Enter) and wait
/// for its composer ("Message TITLE").
pub fn open_conversation(pty: &mut Pty, name: &str, title: &str, deadline: Duration) {
    pty.type_text(&format!("/{name}"));
    pty.wait_for("the filter", deadline, |s| {
        s.contains(&format!("│/ {name} ")) && s.contains(" 1/")
    });
    pty.send(b"\r");
    pty.shows(&format!("Message {title}"), deadline);
}
