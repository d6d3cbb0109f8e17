//! Issue 11.4 and 11.5 from the command line: `termim serve --tls-cert … --tls-key …` serves
//! `wss://` and says so in its start-up line; the scripting commands and the messenger reach
//! it with `--ca-cert` (or the config's `ca_cert`), and are refused in words without it;
//! the flags come in pairs, a bad file stops the start naming it, and listening beyond
//! loopback without TLS is warned about.

mod common;
#[cfg(unix)]
mod pty_support;
mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::certs::TestCa;
use serve_support::{BIN, Killed, client, ok, usersig};

struct TlsServer {
    _child: Killed,
    url: String,
    said: Vec<String>,
    dir: PathBuf,
    ca_file: PathBuf,
}

/// `termim serve --tls-cert … --tls-key …` with a certificate for 127.0.0.1 signed by a
/// CA of the test's own (its PEM in `ca.pem`).
fn serve_tls(root: &Path, cert_names: &[&str], expired: bool) -> TlsServer {
    let ca = TestCa::new("termim CLI test CA");
    let cert = if expired {
        ca.expired_server_cert(cert_names)
    } else {
        ca.server_cert(cert_names)
    };
    let files = cert.write(&root.join("tls"));
    let ca_file = root.join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("write CA");
    let dir = root.join("server");
    let (child, url, said) = serve_support::start_server_saying(
        &dir,
        "127.0.0.1:0",
        &[
            "--tls-cert",
            files.cert_path.to_str().expect("utf-8 path"),
            "--tls-key",
            files.key_path.to_str().expect("utf-8 path"),
        ],
        &[],
    );
    TlsServer {
        _child: Killed(child),
        url,
        said,
        dir,
        ca_file,
    }
}

fn failed(cmd: &mut Command) -> String {
    let out = cmd.output().expect("termim runs");
    assert!(!out.status.success(), "{cmd:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn scripting_commands_reach_a_wss_server_with_ca_cert_and_the_start_up_line_says_tls() {
    let root = tempfile::tempdir().expect("dir");
    let server = serve_tls(root.path(), &["127.0.0.1", "localhost"], false);
    assert!(server.url.starts_with("wss://127.0.0.1:"), "{}", server.url);
    let line = server.said.last().expect("the start-up line");
    assert!(line.contains("(sqlite "), "{line}");
    assert!(line.contains("termim.db"), "{line}");
    assert!(
        line.contains("TLS: cert CN=127.0.0.1, valid until "),
        "{line}"
    );
    assert!(
        !server.said.iter().any(|l| l.contains("warning")),
        "{:?}",
        server.said
    );

    let (alice, bob) = (usersig(&server.dir, "alice"), usersig(&server.dir, "bob"));
    let config = root.path().join("none.toml");
    std::fs::write(&config, "").unwrap();
    let (alice_dir, bob_dir) = (root.path().join("alice"), root.path().join("bob"));
    let ca = server.ca_file.to_str().expect("utf-8 path");
    // bob's account comes with his first login.
    ok(client(&server.url, "bob", &bob, &bob_dir, &config).args([
        "--ca-cert",
        ca,
        "conversations",
    ]));
    ok(
        client(&server.url, "alice", &alice, &alice_dir, &config).args([
            "--ca-cert",
            ca,
            "send",
            "--to",
            "bob",
            "hello over wss 你好",
        ]),
    );
    // The CA from the environment, and from the config file.
    let out = ok(client(&server.url, "bob", &bob, &bob_dir, &config)
        .env("TERMIM_CA_CERT", ca)
        .args(["history", "c2c_alice"]));
    assert!(out.contains("hello over wss 你好"), "{out}");
    let bob_config = root.path().join("bob.toml");
    std::fs::write(&bob_config, format!("ca_cert = {ca:?}\n")).unwrap();
    let out = ok(
        client(&server.url, "bob", &bob, &bob_dir, &bob_config).args([
            "send",
            "--to",
            "alice",
            "back at you",
        ]),
    );
    assert!(out.is_empty() || !out.contains("error"), "{out}");
    let out = ok(
        client(&server.url, "alice", &alice, &alice_dir, &bob_config).args([
            "group", "create", "--type", "Work", "--name", "tls", "--id", "tls",
        ]),
    );
    assert!(out.contains("tls"), "{out}");
}

#[test]
fn without_the_ca_or_over_plain_ws_the_commands_fail_in_words() {
    let root = tempfile::tempdir().expect("dir");
    let server = serve_tls(root.path(), &["127.0.0.1"], false);
    let alice = usersig(&server.dir, "alice");
    let config = root.path().join("none.toml");
    std::fs::write(&config, "").unwrap();
    let data = root.path().join("alice");

    let err = failed(client(&server.url, "alice", &alice, &data, &config).args(["conversations"]));
    assert!(
        err.contains("TLS: the server's certificate is not trusted (UnknownIssuer)"),
        "{err}"
    );
    assert!(err.contains("--ca-cert"), "{err}");

    let plain = server.url.replacen("wss://", "ws://", 1);
    let err = failed(client(&plain, "alice", &alice, &data, &config).args(["conversations"]));
    assert!(err.contains("use a wss:// URL"), "{err}");

    let missing = root.path().join("no-such-ca.pem");
    let err = failed(
        client(&server.url, "alice", &alice, &data, &config)
            .arg("--ca-cert")
            .arg(&missing)
            .arg("conversations"),
    );
    assert!(
        err.contains(&format!(
            "cannot read the CA certificate {} (--ca-cert)",
            missing.display()
        )),
        "{err}"
    );
}

fn serve_output(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(root.join("server"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("termim serve runs")
}

#[test]
fn tls_flags_come_in_pairs_and_a_bad_file_stops_the_start_naming_it() {
    let root = tempfile::tempdir().expect("dir");
    let files = TestCa::new("CA")
        .server_cert(&["127.0.0.1"])
        .write(&root.path().join("tls"));
    let cert = files.cert_path.to_str().unwrap();
    let key = files.key_path.to_str().unwrap();

    let out = serve_output(root.path(), &["--tls-cert", cert]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls-key"), "{err}");
    let out = serve_output(root.path(), &["--tls-key", key]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls-cert"), "{err}");

    let missing = root.path().join("missing.pem");
    let out = serve_output(
        root.path(),
        &["--tls-cert", missing.to_str().unwrap(), "--tls-key", key],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot read the TLS certificate file {}",
            missing.display()
        )),
        "{err}"
    );
    // Swapped.
    let out = serve_output(root.path(), &["--tls-cert", key, "--tls-key", cert]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("were --tls-cert and --tls-key swapped?"),
        "{err}"
    );
}

#[test]
fn an_expired_certificate_and_plain_ws_beyond_loopback_are_warned_about_at_start() {
    let root = tempfile::tempdir().expect("dir");
    let server = serve_tls(root.path(), &["127.0.0.1"], true);
    assert!(
        server
            .said
            .iter()
            .any(|l| l.contains("warning: the TLS certificate in")
                && l.contains("expired on 2001-01-01: clients will refuse it")),
        "{:?}",
        server.said
    );

    // Bound to every interface, without TLS: nothing is sent anywhere, it only listens
    // long enough to say what it thinks of that.
    let dir = root.path().join("plain");
    let (child, url, said) = serve_support::start_server_saying(&dir, "0.0.0.0:0", &[], &[]);
    drop(Killed(child));
    assert!(url.starts_with("ws://0.0.0.0:"), "{url}");
    assert!(
        said.iter().any(|l| l.contains("warning: 0.0.0.0:")
            && l.contains(
                "is beyond loopback and has no TLS: UserSigs and messages travel in clear"
            )),
        "{said:?}"
    );
    assert!(said.last().unwrap().contains("TLS: off"), "{said:?}");

    // On loopback, no warning.
    let (child, _url, said) =
        serve_support::start_server_saying(&root.path().join("lo"), "127.0.0.1:0", &[], &[]);
    drop(Killed(child));
    assert!(!said.iter().any(|l| l.contains("warning")), "{said:?}");
}

/// The messenger over wss://: online with `--ca-cert`, and without it the status bar says
/// why it stays offline.
#[cfg(unix)]
#[test]
fn the_messenger_connects_over_wss_with_ca_cert_and_says_why_without_it() {
    use pty_support::{Pty, Workspace};
    const STEP: Duration = Duration::from_secs(30);
    let ws = Workspace::new();
    let server = serve_tls(ws.path(), &["127.0.0.1"], false);
    let (alice, bob) = (usersig(&server.dir, "alice"), usersig(&server.dir, "bob"));
    let script = |user: &str, sig: &str, args: &[&str]| {
        ok(
            client(&server.url, user, sig, &ws.path().join(user), &ws.config())
                .env("HOME", ws.path())
                .arg("--ca-cert")
                .arg(&server.ca_file)
                .args(args),
        );
    };
    // alice's account comes with her first login.
    script("alice", &alice, &["conversations"]);
    script("bob", &bob, &["send", "--to", "alice", "secure hello"]);

    let exe = Path::new(BIN);
    let mut cmd = ws.command(
        exe,
        "alice",
        &["--server", &server.url, "--usersig", &alice],
    );
    let mut refused = Pty::spawn(cmd, 140, 30);
    refused.wait_for("why it is offline", STEP, |s| {
        s.contains("offline") && s.contains("TLS: the server's certificate is not trusted")
    });
    refused.send(b"\x03");
    refused.wait_exit(STEP);

    cmd = ws.command(
        exe,
        "alice",
        &[
            "--server",
            &server.url,
            "--usersig",
            &alice,
            "--ca-cert",
            server.ca_file.to_str().unwrap(),
        ],
    );
    let mut pty = Pty::spawn(cmd, 140, 30);
    pty.wait_for("online with bob's message", STEP, |s| {
        s.contains("● online") && s.contains("@bob") && s.contains("secure hello")
    });
    pty.send(b"\x03");
    let status = pty.wait_exit(STEP);
    assert!(status.success(), "{status:?}");
}
