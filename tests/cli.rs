//! The scripting commands, run as a user would: `termim serve` in one process, then
//! `termim usersig`, `send`, `history`, `conversations`, `conversation-data`, `group …` and
//! `listen` as separate processes against it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

mod pty_support;
mod serve_support;

use pty_support::is_embedded_server;
use serve_support::{BIN, Killed};

/// A `termim serve` child process on a free port, killed on drop.
struct Served {
    child: Child,
    url: String,
    server_dir: tempfile::TempDir,
    clients: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Served {
    let server_dir = tempfile::tempdir().unwrap();
    let (child, url) = serve_support::start_server(server_dir.path(), "127.0.0.1:0");
    let clients = tempfile::tempdir().unwrap();
    std::fs::write(clients.path().join("none.toml"), "").unwrap();
    Served {
        child,
        url,
        server_dir,
        clients,
    }
}

impl Served {
    fn usersig(&self, user: &str) -> String {
        serve_support::usersig(self.server_dir.path(), user)
    }

    fn client_dir(&self, user: &str) -> PathBuf {
        self.clients.path().join(user)
    }

    /// Run `termim ARGS` as `user`, connection given by environment variables.
    fn command(&self, user: &str, args: &[&str]) -> Command {
        let mut cmd = serve_support::client(
            &self.url,
            user,
            &self.usersig(user),
            &self.client_dir(user),
            &self.clients.path().join("none.toml"),
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

    fn login(&self, user: &str) {
        self.ok(user, &["conversations"]);
    }
}

fn texts(history: &Value) -> Vec<String> {
    history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["textElem"]["text"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn send_and_history_round_trip_with_v2tim_field_names() {
    let s = serve();
    s.login("bob");
    let sent = s.json("alice", &["send", "--to", "bob", "--json", "hello 你好 👋"]);
    assert_eq!(sent["status"], 2, "{sent}");
    assert!(!sent["msgID"].as_str().unwrap().is_empty());
    assert_eq!(sent["seq"], 1);

    let history = s.json("bob", &["history", "c2c_alice", "--json"]);
    assert_eq!(texts(&history), ["hello 你好 👋"]);
    let m = &history[0];
    assert_eq!(m["sender"], "alice");
    assert_eq!(m["userID"], "alice", "userID is the peer: {m}");
    assert_eq!(m["elemType"], 1);
    assert_eq!(m["isSelf"], false);

    let plain = s.ok("bob", &["history", "c2c_alice"]);
    assert!(plain.contains("alice: hello 你好 👋"), "{plain}");

    let convs = s.json("bob", &["conversations", "--json"]);
    let c = &convs[0];
    assert_eq!(c["conversationID"], "c2c_alice");
    assert_eq!(c["unreadCount"], 1);
    assert_eq!(c["lastMessage"]["textElem"]["text"], "hello 你好 👋");
}

#[test]
fn text_from_standard_input() {
    let s = serve();
    s.login("bob");
    let mut child = s
        .command("alice", &["send", "--to", "bob", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all("line one\n第二行\n".as_bytes())
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(
        texts(&s.json("bob", &["history", "c2c_alice", "--json"])),
        ["line one\n第二行"]
    );
}

#[test]
fn every_send_option_reaches_the_receiver_and_local_data_stays_home() {
    let s = serve();
    s.login("bob");
    s.ok(
        "alice",
        &[
            "send",
            "--to",
            "bob",
            "--custom",
            r#"{"k":"值"}"#,
            "--desc",
            "描述",
            "--ext",
            "扩展",
            "--priority",
            "high",
            "--read-receipt",
            "--support-extension",
            "--no-unread",
            "--cloud-data",
            "cloud-说明",
            "--local-data",
            "LOCAL-MARKER-only-here",
            "--push-title",
            "标题",
            "--push-desc",
            "推送",
        ],
    );
    let m = &s.json("bob", &["history", "c2c_alice", "--json"])[0];
    assert_eq!(m["elemType"], 2);
    assert_eq!(m["customElem"]["data"], r#"{"k":"值"}"#);
    assert_eq!(m["customElem"]["desc"], "描述");
    assert_eq!(m["customElem"]["extension"], "扩展");
    assert_eq!(m["priority"], 1);
    assert_eq!(m["needReadReceipt"], true);
    assert_eq!(m["isSupportMessageExtension"], true);
    assert_eq!(m["isExcludedFromUnreadCount"], true);
    assert_eq!(m["cloudCustomData"], "cloud-说明");
    assert_eq!(m["offlinePushInfo"]["title"], "标题");
    assert_eq!(m["offlinePushInfo"]["desc"], "推送");
    assert!(
        m.get("localCustomData").is_none(),
        "local data crossed the wire: {m}"
    );
    let bob = &s.json("bob", &["conversations", "--json"])[0];
    assert_eq!(bob["unreadCount"], 0, "--no-unread: {bob}");

    // The sender's own device keeps it.
    let mine = &s.json("alice", &["history", "c2c_bob", "--json"])[0];
    assert_eq!(mine["localCustomData"], "LOCAL-MARKER-only-here");
    // And the server never saw it.
    assert!(!dir_contains(
        s.server_dir.path(),
        b"LOCAL-MARKER-only-here"
    ));
}

fn dir_contains(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            dir_contains(&path, needle)
        } else {
            std::fs::read(&path)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        }
    })
}

#[test]
fn groups_and_targeted_messages_from_the_shell() {
    let s = serve();
    for u in ["bob", "carol", "dave"] {
        s.login(u);
    }
    let id = s.ok(
        "alice",
        &[
            "group",
            "create",
            "--type",
            "Work",
            "--name",
            "工作组",
            "--id",
            "g1",
            "--members",
            "bob,carol",
        ],
    );
    assert_eq!(id.trim(), "g1");
    let invited = s.ok("alice", &["group", "invite", "g1", "dave"]);
    assert!(invited.contains("dave: invited"), "{invited}");
    let members = s.json("alice", &["group", "members", "g1", "--json"]);
    let mut ids: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userID"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["alice", "bob", "carol", "dave"]);

    s.ok("alice", &["send", "--group", "g1", "everyone"]);
    s.ok(
        "alice",
        &[
            "send",
            "--group",
            "g1",
            "--targets",
            "bob,carol",
            "just you two",
        ],
    );
    assert_eq!(
        texts(&s.json("bob", &["history", "group_g1", "--json"]))
            .last()
            .unwrap(),
        "just you two"
    );
    let dave = texts(&s.json("dave", &["history", "group_g1", "--json"]));
    assert!(
        dave.contains(&"everyone".to_string()) && !dave.contains(&"just you two".to_string()),
        "{dave:?}"
    );

    s.ok("alice", &["group", "kick", "g1", "dave"]);
    let out = s.run("dave", &["send", "--group", "g1", "still here?"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("10007"),
        "kicked member's send is refused with 10007: {err}"
    );

    s.ok("carol", &["group", "quit", "g1"]);
    let joined = s.json("carol", &["group", "list", "--json"]);
    assert_eq!(joined.as_array().unwrap().len(), 0, "{joined}");
}

#[test]
fn errors_print_the_code_and_a_sentence_and_exit_non_zero() {
    let s = serve();
    let cases: [(&[&str], &str); 4] = [
        (&["send", "--group", "nope", "hi"], "10010"),
        (&["history", "not-a-conversation"], "6017"),
        (&["group", "join", "nope"], "10010"),
        (&["send", "--to", "bob"], "6017"),
    ];
    for (args, code) in cases {
        let out = s.run("alice", args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(code),
            "{args:?}: expected code {code} in {err:?}"
        );
        assert!(
            err.trim().len() > code.len() + 10,
            "{args:?}: a sentence, not just a code: {err:?}"
        );
    }
    // Over 12 KB.
    let big = "x".repeat(13 * 1024);
    let out = s.run("alice", &["send", "--to", "bob", &big]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("8001"));
    // A forged sig.
    let out = s
        .command("alice", &["conversations"])
        .env("TERMIM_USERSIG", s.usersig("mallory"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("70013"));
}

#[test]
fn conversation_data_reports_each_conversation() {
    let s = serve();
    s.login("bob");
    s.login("carol");
    s.ok("alice", &["send", "--to", "bob", "hi"]);
    s.ok("alice", &["send", "--to", "carol", "hi"]);
    let out = s.ok(
        "alice",
        &[
            "conversation-data",
            "c2c_bob",
            "c2c_carol",
            "--data",
            "颜色=blue",
        ],
    );
    assert!(
        out.contains("c2c_bob: ok") && out.contains("c2c_carol: ok"),
        "{out}"
    );
    let convs = s.json("alice", &["conversations", "--json"]);
    for c in convs.as_array().unwrap() {
        assert_eq!(c["customData"], "颜色=blue", "{c}");
    }
    // One bad id among good ones: the good one is still set, the command fails.
    let out = s.run(
        "alice",
        &[
            "conversation-data",
            "c2c_bob",
            "bogus",
            "--data",
            "x",
            "--json",
        ],
    );
    assert!(!out.status.success());
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results[0]["resultCode"], 0);
    assert_ne!(results[1]["resultCode"], 0);
    let too_long = "y".repeat(257);
    let out = s.run(
        "alice",
        &["conversation-data", "c2c_bob", "--data", &too_long],
    );
    assert!(!out.status.success());
}

#[test]
fn listen_prints_one_json_event_per_line() {
    let s = serve();
    s.login("alice");
    let (mut listener, rx) = spawn_listener(&mut s.command("bob", &["listen", "--json"]));
    // Once bob is online and synced, send him something.
    wait_for_line(&rx, "bob online", |v| v["event"] == "onSyncServerFinish");
    s.ok("alice", &["send", "--to", "bob", "ping 📨"]);
    let found = wait_for_line(&rx, "the message event", |v| {
        v["event"] == "onRecvNewMessage"
    });
    let _ = listener.kill();
    let _ = listener.wait();
    assert_eq!(found["data"]["textElem"]["text"], "ping 📨");
    assert_eq!(found["data"]["sender"], "alice");
}

/// Issue 10.5: `listen` reports that its UserSig expired (`onUserSigExpired`); given its
/// sig (`--usersig`) it cannot sign a new one, so it ends, saying how to get one.
#[test]
fn listen_reports_an_expired_usersig_and_ends_when_it_cannot_renew_it() {
    let s = serve();
    let mut sign = Command::new(BIN);
    sign.args(["usersig", "--user", "bob", "--expire", "5", "--data-dir"])
        .arg(s.server_dir.path());
    let short = serve_support::ok(&mut sign).trim().to_string();
    let mut child = serve_support::client(
        &s.url,
        "bob",
        &short,
        &s.client_dir("bob"),
        &s.clients.path().join("none.toml"),
    )
    .args(["listen", "--json"])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let rx = serve_support::lines_of(child.stdout.take().unwrap());
    let errors = serve_support::lines_of(child.stderr.take().unwrap());
    let mut child = Killed(child);
    wait_for_line(&rx, "bob online", connected);
    let expired = wait_for_line(&rx, "the expiry", |v| v["event"] == "onUserSigExpired");
    assert_eq!(expired["data"], Value::Null);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "listen did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    // It has exited: its stderr is closed, so this ends.
    let said: Vec<String> = errors.iter().collect();
    let said = said.join("\n");
    assert!(
        said.contains("70001") && said.contains("termim usersig --user bob"),
        "{said}"
    );
}

/// A data dir and config (with HOME there too) for the embedded default.
struct Embedded {
    dir: tempfile::TempDir,
    config: PathBuf,
}

/// The embedded server of a test exits this soon once unused (and is stopped on drop).
const EMBEDDED_IDLE_SECS: &str = "3";

impl Embedded {
    /// Its embedded server on a free port chosen by the test (config `listen`).
    fn new() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::with_config(&format!("listen = \"127.0.0.1:{port}\"\n"))
    }

    fn with_config(text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).unwrap();
        Self { dir, config }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `termim ARGS` as `user`, without `--server` or a UserSig: the embedded default.
    fn command(&self, user: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_remove("TERMIM_SERVER")
            .env_remove("TERMIM_USERSIG")
            .env_remove("TERMIM_EXE")
            .env("TERMIM_EMBEDDED_IDLE_SECS", EMBEDDED_IDLE_SECS)
            .env("HOME", self.dir.path())
            .env("TERMIM_USER", user)
            .env("TERMIM_DATA_DIR", self.data_dir())
            .env("TERMIM_CONFIG", &self.config)
            .stdin(Stdio::null());
        cmd
    }

    fn ok(&self, user: &str, args: &[&str]) -> String {
        let out = self.command(user, args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} as {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, user: &str, args: &[&str]) -> Value {
        let text = self.ok(user, args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"))
    }

    /// `embedded.json`: where the embedded server listens, and its pid.
    fn address(&self) -> Option<Value> {
        let text =
            std::fs::read_to_string(self.data_dir().join("server").join("embedded.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn server_pid(&self) -> Option<i32> {
        self.address()?["pid"].as_i64().map(|p| p as i32)
    }
}

/// No test leaves a background server behind.
impl Drop for Embedded {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.data_dir().join("logs").join("embedded-server.log");
            eprintln!(
                "embedded server log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        let Some(pid) = self.server_pid().filter(|p| is_embedded_server(*p)) else {
            return;
        };
        // SAFETY: a signal to a process checked to be this test's embedded server.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let until = std::time::Instant::now() + Duration::from_secs(15);
        while is_embedded_server(pid) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Without `--server` the commands use the embedded default: the first one starts it in
/// the background (creating the demo workspace on first start), later ones use it.
#[test]
fn commands_without_a_server_use_the_embedded_default_with_the_demo() {
    let embedded = Embedded::new();
    let run = |user: &str, args: &[&str]| embedded.ok(user, args);
    run("zoe", &["send", "--to", "alice", "hello from the shell"]);
    let convs: Value = serde_json::from_str(&run("zoe", &["conversations", "--json"])).unwrap();
    let ids: Vec<&str> = convs
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversationID"].as_str().unwrap())
        .collect();
    for id in ["c2c_alice", "c2c_echo", "group_team", "group_lounge"] {
        assert!(
            ids.contains(&id),
            "demo workspace conversation {id} missing: {ids:?}"
        );
    }
    let history: Value =
        serde_json::from_str(&run("alice", &["history", "c2c_zoe", "--json"])).unwrap();
    assert_eq!(
        texts(&history),
        [
            "Hi! I'm alice. Tab moves between panes, ? shows every key.",
            "hello from the shell"
        ]
    );
    let team: Value =
        serde_json::from_str(&run("zoe", &["history", "group_team", "--json"])).unwrap();
    assert!(
        texts(&team).iter().any(|t| t.contains("在家工作")),
        "demo history has Chinese text: {team}"
    );
    assert!(
        team.as_array().unwrap().iter().any(|m| m["elemType"] == 2),
        "demo has a custom message"
    );
}

/// Config mistakes are reported in words before anything connects or takes the terminal.
#[test]
fn a_bad_config_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[keymap.global]\nquit = [\"ctrl-\"]\n", "ctrl-"),
        ("[theme]\naccent = \"no-such-colour\"\n", "accent"),
        ("sever = \"typo\"\n", "sever"),
    ];
    for (text, mentions) in cases {
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).unwrap();
        let out = Command::new(BIN)
            .args(["--data-dir"])
            .arg(dir.path().join("data"))
            .env("TERMIM_CONFIG", &config)
            .env_remove("TERMIM_SERVER")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{text:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(mentions),
            "{text:?}: error should mention {mentions:?}: {err}"
        );
        assert!(
            out.stdout.is_empty(),
            "nothing drawn: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            !dir.path().join("data").join("server").exists(),
            "no server started for a bad config"
        );
    }
}

#[test]
fn usersig_with_an_explicit_key_verifies_and_expires() {
    let key = termim::usersig::AppKey {
        sdk_app_id: 1_400_000_123,
        secret_key: "s3cret".into(),
    };
    let out = Command::new(BIN)
        .args([
            "usersig",
            "--user",
            "carol",
            "--expire",
            "60",
            "--sdkappid",
            "1400000123",
            "--secret-key",
            "s3cret",
        ])
        .env("TERMIM_CONFIG", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sig = String::from_utf8(out.stdout).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(
        termim::usersig::verify(&key, "carol", sig.trim(), now),
        Ok(())
    );
    assert_eq!(
        termim::usersig::verify(&key, "carol", sig.trim(), now + 120)
            .unwrap_err()
            .code(),
        70001
    );
    // Only one half of a key is a usage error.
    let out = Command::new(BIN)
        .args(["usersig", "--user", "carol", "--sdkappid", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

fn spawn_listener(cmd: &mut Command) -> (Child, mpsc::Receiver<String>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = serve_support::lines_of(child.stdout.take().unwrap());
    (child, rx)
}

fn wait_for_line(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if pred(&v) {
            return v;
        }
    }
}

fn connected(v: &Value) -> bool {
    v["event"] == "onSyncServerFinish"
}

/// The embedded server is a process of its own: the termim that started it can go away
/// (killed, here) and everyone else goes on, with the echo bot still answering.
#[test]
fn the_embedded_server_and_its_echo_bot_outlive_the_termim_that_started_it() {
    let embedded = Embedded::new();
    let (first, first_rx) = spawn_listener(&mut embedded.command("alice", &["listen", "--json"]));
    let mut first = Killed(first);
    wait_for_line(&first_rx, "alice online", connected);
    let (second, second_rx) = spawn_listener(&mut embedded.command("bob", &["listen", "--json"]));
    let _second = Killed(second);
    wait_for_line(&second_rx, "bob online", connected);
    let server = embedded.server_pid();

    first.0.kill().unwrap();
    first.0.wait().unwrap();
    embedded.ok("carol", &["send", "--to", "bob", "still here 还在"]);
    let got = wait_for_line(&second_rx, "carol's message", |v| {
        v["event"] == "onRecvNewMessage"
    });
    assert_eq!(got["data"]["textElem"]["text"], "still here 还在");
    // (carol, not bob: a second bob process sharing bob's cache could take the answer's
    // push first, and the listener would then not report it as new.)
    embedded.ok("carol", &["send", "--to", "echo", "ping 🏓"]);
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while !texts(&embedded.json("carol", &["history", "c2c_echo", "--json"]))
        .contains(&"echo: ping 🏓".to_string())
    {
        assert!(
            std::time::Instant::now() < until,
            "the echo bot never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let server = server.expect("embedded.json names the server");
    assert_ne!(
        server,
        first.0.id() as i32,
        "the server is not the first termim"
    );
    assert_eq!(
        embedded.server_pid(),
        Some(server),
        "the same server all along"
    );
}

/// Two users (two HOMEs, two data directories, no `listen` configured) each get an
/// embedded default of their own, side by side, and each one's messages stay on it.
#[test]
fn two_users_embedded_defaults_run_side_by_side_and_stay_apart() {
    let ann = Embedded::with_config("");
    let ben = Embedded::with_config("");
    let (ann_listen, ann_rx) = spawn_listener(&mut ann.command("ann", &["listen", "--json"]));
    let _ann_listen = Killed(ann_listen);
    wait_for_line(&ann_rx, "ann online", connected);
    let (ben_listen, ben_rx) = spawn_listener(&mut ben.command("ben", &["listen", "--json"]));
    let _ben_listen = Killed(ben_listen);
    wait_for_line(&ben_rx, "ben online", connected);
    let (a, b) = (ann.address().unwrap(), ben.address().unwrap());
    assert_ne!(a["url"], b["url"], "one server each: {a} {b}");

    ann.ok("zoe", &["send", "--to", "ann", "for ann"]);
    ben.ok("zoe", &["send", "--to", "ben", "for ben"]);
    let got = wait_for_line(&ann_rx, "ann's message", |v| {
        v["event"] == "onRecvNewMessage" && v["data"]["sender"] == "zoe"
    });
    assert_eq!(got["data"]["textElem"]["text"], "for ann");
    let got = wait_for_line(&ben_rx, "ben's message", |v| {
        v["event"] == "onRecvNewMessage" && v["data"]["sender"] == "zoe"
    });
    assert_eq!(got["data"]["textElem"]["text"], "for ben");
    let ids = |convs: Value| -> Vec<String> {
        convs
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["conversationID"].as_str().unwrap().to_string())
            .collect()
    };
    let on_ann = ids(ann.json("zoe", &["conversations", "--json"]));
    let on_ben = ids(ben.json("zoe", &["conversations", "--json"]));
    assert!(
        on_ann.contains(&"c2c_ann".into()) && !on_ann.contains(&"c2c_ben".into()),
        "{on_ann:?}"
    );
    assert!(
        on_ben.contains(&"c2c_ben".into()) && !on_ben.contains(&"c2c_ann".into()),
        "{on_ben:?}"
    );
}

/// A configured `listen` that something else holds (here another termim server, with a
/// key of its own) is refused in words: termim never logs in to a server it did not start.
#[test]
fn a_configured_listen_port_held_by_a_foreign_server_is_refused_in_words() {
    let foreign = serve();
    let addr = foreign.url.strip_prefix("ws://").unwrap().to_string();
    let embedded = Embedded::with_config(&format!("listen = \"{addr}\"\n"));
    let out = embedded
        .command("zoe", &["conversations"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "joined a foreign server");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{addr} is in use by another program or another user's termim; \
             set `listen` in the config to another port"
        )),
        "{err}"
    );
    assert!(!err.contains("70014"), "it tried to log in there: {err}");
}

/// Once nobody uses it for the grace period, the embedded server exits by itself and
/// takes its address file with it; the next termim starts it again.
#[test]
fn the_embedded_server_exits_once_nobody_uses_it_and_comes_back_when_needed() {
    let embedded = Embedded::new();
    embedded.ok("zoe", &["send", "--to", "alice", "hello"]);
    let pid = embedded
        .server_pid()
        .expect("embedded.json names the server");
    assert!(is_embedded_server(pid));
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while is_embedded_server(pid) {
        assert!(
            std::time::Instant::now() < until,
            "the embedded server is still running with nobody connected"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let history = embedded.json("alice", &["history", "c2c_zoe", "--json"]);
    assert_eq!(texts(&history).last().map(String::as_str), Some("hello"));
}

/// Should the embedded server vanish (killed here) while termims still use it, one of
/// them starts it again, on the same port, and their SDKs reconnect by themselves.
#[test]
fn a_killed_embedded_server_is_started_again_for_the_termims_still_using_it() {
    let embedded = Embedded::with_config("");
    let (bob, bob_rx) = spawn_listener(&mut embedded.command("bob", &["listen", "--json"]));
    let _bob = Killed(bob);
    wait_for_line(&bob_rx, "bob online", connected);
    let before = embedded.address().expect("embedded.json");
    let pid = before["pid"].as_i64().unwrap() as i32;
    // SAFETY: a signal to this test's embedded server.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_for_line(&bob_rx, "bob online again", connected);
    let after = embedded.address().expect("embedded.json again");
    assert_ne!(after["pid"], before["pid"], "a new embedded server");
    assert_eq!(after["url"], before["url"], "on the same port");
    embedded.ok("carol", &["send", "--to", "bob", "you are back"]);
    let got = wait_for_line(&bob_rx, "carol's message", |v| {
        v["event"] == "onRecvNewMessage" && v["data"]["sender"] == "carol"
    });
    assert_eq!(got["data"]["textElem"]["text"], "you are back");
}
