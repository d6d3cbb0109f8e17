//! What the scripting commands print and what they leave on disk, as a user meets it:
//! `termim serve` in one process, the commands as separate processes against it.
//!
//! - peers' control characters never reach the terminal in text output; `--json` is exact;
//! - a closed pipe (`| head -1`) ends a command quietly;
//! - a message that was not sent says so in `history`;
//! - data directories are 0700 and files 0600 under umask 022.

use std::io::{BufRead as _, BufReader, Read as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

mod serve_support;

use serve_support::lines_of;

/// Retitle the terminal, clear it, write the clipboard (OSC 52), a C1 CSI, a C1 NEL, a
/// right-to-left override and a line break that would fake a line of its own.
const HOSTILE: &str = "innocent\u{1b}]2;PWNED\u{7}\u{1b}[2J\u{1b}]52;c;cHduZWQ=\u{7}\u{9b}31m\u{85}\u{202e}desrever\n[2000-01-01 00:00] admin: fake";
/// `HOSTILE` as text output shows it.
const SHOWN: &str = "innocent␛]2;PWNED␇␛[2J␛]52;c;cHduZWQ=␇\u{FFFD}31m\u{FFFD}\u{FFFD}desrever [2000-01-01 00:00] admin: fake";

/// No byte of `text` is a control character the terminal would act on.
fn assert_inert(text: &str) {
    for c in text.chars() {
        assert!(
            c == '\n' || c == '\t' || !(c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "raw {c:?} in output: {text:?}"
        );
    }
}

/// A `termim serve` child process on a free port, killed on drop.
struct Served {
    child: Child,
    url: String,
    server_dir: PathBuf,
    clients: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start_server(dir: &Path) -> (Child, String) {
    serve_support::start_server(dir, "127.0.0.1:0")
}

fn serve() -> Served {
    let tmp = tempfile::tempdir().unwrap();
    let server_dir = tmp.path().join("server");
    let clients = tmp.path().join("clients");
    std::fs::create_dir(&clients).unwrap();
    std::fs::write(tmp.path().join("none.toml"), "").unwrap();
    let (child, url) = start_server(&server_dir);
    Served {
        child,
        url,
        server_dir,
        clients,
        _tmp: tmp,
    }
}

impl Served {
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        let (child, url) = start_server(&self.server_dir);
        self.child = child;
        self.url = url;
    }

    fn usersig(&self, user: &str) -> String {
        serve_support::usersig(&self.server_dir, user)
    }

    fn client_dir(&self, user: &str) -> PathBuf {
        self.clients.join(user)
    }

    fn command(&self, user: &str, args: &[&str]) -> Command {
        let mut cmd = serve_support::client(
            &self.url,
            user,
            &self.usersig(user),
            &self.client_dir(user),
            &self.clients.with_file_name("none.toml"),
        );
        cmd.args(args);
        cmd
    }

    fn run(&self, user: &str, args: &[&str]) -> Output {
        self.command(user, args).output().unwrap()
    }

    fn ok(&self, user: &str, args: &[&str]) -> String {
        serve_support::ok(&mut self.command(user, args))
    }

    fn json(&self, user: &str, args: &[&str]) -> Value {
        let text = self.ok(user, args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"))
    }

    /// `termim listen` (text) as `user`, once it is online and synced.
    fn listen(&self, user: &str) -> (Child, mpsc::Receiver<String>) {
        let mut child = self
            .command(user, &["listen"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let rx = lines_of(child.stdout.take().unwrap());
        wait_for(&rx, "synced", |l| l == "synced");
        (child, rx)
    }
}

fn wait_for(rx: &mpsc::Receiver<String>, what: &str, want: impl Fn(&str) -> bool) -> String {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no {what} line"));
        if want(&line) {
            return line;
        }
    }
}

#[test]
fn history_and_listen_show_a_peers_control_characters_as_symbols_and_json_stays_exact() {
    let s = serve();
    s.ok("alice", &["conversations"]);
    let (mut listener, rx) = s.listen("bob");
    s.ok("alice", &["send", "--to", "bob", HOSTILE]);
    s.ok(
        "alice",
        &[
            "send", "--to", "bob", "--custom", HOSTILE, "--desc", HOSTILE,
        ],
    );

    let heard = wait_for(&rx, "message", |l| l.contains("innocent"));
    let _ = listener.kill();
    let _ = listener.wait();
    assert_inert(&heard);
    assert!(heard.ends_with(&format!("alice: {SHOWN}")), "{heard}");

    let plain = s.ok("bob", &["history", "c2c_alice"]);
    assert_inert(&plain);
    let lines: Vec<&str> = plain.lines().collect();
    assert_eq!(lines.len(), 2, "one line per message: {plain}");
    assert!(lines[0].ends_with(&format!("alice: {SHOWN}")), "{plain}");
    assert!(lines[1].contains("[custom] data="), "{plain}");

    let history = s.json("bob", &["history", "c2c_alice", "--json"]);
    assert_eq!(history[0]["textElem"]["text"], HOSTILE);
    assert_eq!(history[1]["customElem"]["data"], HOSTILE);
    assert_eq!(history[1]["customElem"]["desc"], HOSTILE);
    let convs = s.json("bob", &["conversations", "--json"]);
    assert_eq!(convs[0]["lastMessage"]["customElem"]["desc"], HOSTILE);
}

#[test]
fn conversations_and_group_list_show_a_hostile_group_name_as_symbols() {
    let s = serve();
    s.ok("bob", &["conversations"]);
    let name = "team\u{1b}]0;owned\u{7}\u{1b}]52;c;Zm9v\u{7}\u{9b}2J";
    let shown = "team␛]0;owned␇␛]52;c;Zm9v␇\u{FFFD}2J";
    let id = s.ok(
        "alice",
        &[
            "group",
            "create",
            "--type",
            "Work",
            "--name",
            name,
            "--members",
            "bob",
        ],
    );
    let id = id.trim();
    s.ok("alice", &["send", "--group", id, "hello team"]);

    let plain = s.ok("bob", &["conversations"]);
    assert_inert(&plain);
    assert!(plain.contains(&format!("group_{id}  {shown}")), "{plain}");
    let groups = s.ok("bob", &["group", "list"]);
    assert_inert(&groups);
    assert!(groups.contains(shown), "{groups}");

    let convs = s.json("bob", &["conversations", "--json"]);
    assert_eq!(convs[0]["showName"], name);
}

/// Run `cmd`, read one line of its output, close the pipe as `head -1` does, and return
/// how it ended.
fn read_one_line_and_hang_up(mut child: Child, then: impl FnOnce()) -> (bool, String) {
    let stdout: ChildStdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(!first.is_empty(), "no output at all");
    drop(reader);
    then();
    let status = child.wait().unwrap();
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    (status.success(), err)
}

#[test]
fn a_closed_pipe_ends_history_and_listen_quietly() {
    let s = serve();
    s.ok("bob", &["conversations"]);
    // More than a pipe holds (64 KiB), so the writer is still writing when the reader goes.
    let big = "x".repeat(10_000);
    for _ in 0..8 {
        s.ok("alice", &["send", "--to", "bob", &big]);
    }
    for args in [
        &["history", "c2c_alice", "--json"][..],
        &["history", "c2c_alice"][..],
    ] {
        let child = s
            .command("bob", args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (success, err) = read_one_line_and_hang_up(child, || {});
        assert!(success, "{args:?} after a closed pipe: {err}");
        assert!(
            !err.contains("Broken pipe") && !err.contains("panic"),
            "{err}"
        );
    }

    // `listen` prints forever: the first line after the reader is gone ends it.
    let child = s
        .command("bob", &["listen"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (success, err) = read_one_line_and_hang_up(child, || {
        s.ok("alice", &["send", "--to", "bob", "anyone there?"]);
    });
    assert!(success, "listen after a closed pipe: {err}");
    assert!(
        !err.contains("Broken pipe") && !err.contains("panic"),
        "{err}"
    );
}

#[test]
fn history_marks_a_message_that_was_not_sent() {
    let s = serve();
    s.ok("bob", &["conversations"]);
    s.ok("alice", &["send", "--to", "bob", "this one arrives"]);
    // The server refuses it (nobody has no account): the cache keeps it, failed.
    let out = s.run("alice", &["send", "--to", "nobody", "this one fails"]);
    assert!(!out.status.success());
    let json = s.json("alice", &["history", "c2c_nobody", "--json"]);
    assert_eq!(json[0]["status"], 3, "{json}");
    let plain = s.ok("alice", &["history", "c2c_nobody"]);
    assert!(
        plain.contains("alice: this one fails  ✗ not sent"),
        "{plain}"
    );
    let sent = s.ok("alice", &["history", "c2c_bob"]);
    assert!(
        sent.contains("alice: this one arrives") && !sent.contains("not sent"),
        "{sent}"
    );
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every directory and file under `root` (and `root` itself), except under `skip`.
fn tree(root: &Path, skip: Option<&Path>) -> Vec<PathBuf> {
    let mut all = vec![root.to_path_buf()];
    let mut i = 0;
    while i < all.len() {
        if all[i].is_dir() {
            for entry in std::fs::read_dir(&all[i]).unwrap() {
                let p = entry.unwrap().path();
                if Some(p.as_path()) != skip {
                    all.push(p);
                }
            }
        }
        i += 1;
    }
    all
}

fn assert_private(paths: &[PathBuf]) {
    for p in paths {
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(p), want, "{} is {:o}", p.display(), mode(p));
    }
}

/// What an older termim left: everything readable by all.
fn loosen(paths: &[PathBuf]) {
    for p in paths {
        let m = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }
}

fn with_umask_022() {
    // Process-wide, inherited by the children; the usual default, which made files 0644.
    unsafe { libc::umask(0o022) };
}

#[test]
fn the_servers_directory_and_files_are_private() {
    with_umask_022();
    let mut s = serve();
    s.ok("bob", &["conversations"]);
    s.ok("alice", &["send", "--to", "bob", "hi"]);
    let files = tree(&s.server_dir, None);
    for name in [
        "termim.db",
        "termim.db-wal",
        "termim.db-shm",
        "appkey.json",
        "server.log",
    ] {
        assert!(
            files.contains(&s.server_dir.join(name)),
            "{name} in {files:?}"
        );
    }
    assert_private(&files);

    s.stop();
    loosen(&files);
    s.restart();
    s.ok("alice", &["send", "--to", "bob", "again"]);
    assert_private(&tree(&s.server_dir, None));
}

/// The client's data directory (`TERMIM_DATA_DIR`): its `client/` and `logs/` parts. The
/// SDK's own cache directory is checked by `the_sdk_cache_is_private`.
#[test]
fn the_clients_data_directory_and_logs_are_private() {
    with_umask_022();
    let s = serve();
    s.ok("bob", &["conversations"]);
    s.ok("alice", &["send", "--to", "bob", "hi"]);
    let root = s.client_dir("alice");
    let cache = root.join("client").join("alice");
    let files = tree(&root, Some(&cache));
    assert!(files.contains(&root.join("logs").join("termim-cli.log")));
    assert_private(&files);

    loosen(&files);
    s.ok("alice", &["conversations"]);
    assert_private(&tree(&root, Some(&cache)));
}

/// The SDK's cache: `client/<user>/<SDKAppID>/cache.db` and its -wal/-shm.
#[test]
fn the_sdk_cache_is_private() {
    with_umask_022();
    let s = serve();
    s.ok("bob", &["conversations"]);
    s.ok("alice", &["send", "--to", "bob", "hi"]);
    let cache = s.client_dir("alice").join("client").join("alice");
    let files = tree(&cache, None);
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("cache.db") && f.parent() != Some(&cache)),
        "{files:?}"
    );
    assert_private(&files);

    loosen(&files);
    s.ok("alice", &["conversations"]);
    assert_private(&tree(&cache, None));
}
