//! Issue 9.8: the messenger opens without its server. The real `termim` binary in a
//! pseudo-terminal, pointed at a `termim serve` that is down: it shows the cached
//! conversations and history at once, says it is not connected, and when the server comes
//! back it connects and shows what it missed — without a restart.
#![cfg(unix)]

mod pty_support;
mod serve_support;

use std::path::Path;
use std::time::Duration;

use pty_support::{Pty, Workspace, free_port};

const STEP: Duration = Duration::from_secs(30);

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_termim"))
}

use serve_support::{Killed as Server, usersig as sig};

fn serve(dir: &Path, port: u16) -> Server {
    Server(serve_support::start_server(dir, &format!("127.0.0.1:{port}")).0)
}

fn script(ws: &Workspace, url: &str, user: &str, sig: &str, data: &Path, args: &[&str]) {
    serve_support::ok(
        serve_support::client(url, user, sig, data, &ws.config())
            .env("HOME", ws.path())
            .args(args),
    );
}

#[test]
fn the_messenger_opens_from_its_cache_while_the_server_is_down_and_connects_later() {
    let ws = Workspace::new();
    let server_dir = ws.path().join("server");
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}");
    let mut server = serve(&server_dir, port);
    let (alice, bob) = (sig(&server_dir, "alice"), sig(&server_dir, "bob"));
    let bob_dir = ws.path().join("bob-data");
    script(&ws, &url, "bob", &bob, &bob_dir, &["conversations"]);
    script(
        &ws,
        &url,
        "alice",
        &alice,
        &ws.data_dir(),
        &["conversations"],
    );
    script(
        &ws,
        &url,
        "bob",
        &bob,
        &bob_dir,
        &["send", "--to", "alice", "before the outage 断线前"],
    );
    // alice's cache gets it.
    script(
        &ws,
        &url,
        "alice",
        &alice,
        &ws.data_dir(),
        &["history", "c2c_bob"],
    );
    drop(server);

    let mut cmd = ws.command(exe(), "alice", &["--server", &url, "--usersig", &alice]);
    cmd.env_remove("TERMIM_SERVER");
    let mut pty = Pty::spawn(cmd, 100, 30);
    pty.wait_for("the cached conversation while offline", STEP, |s| {
        s.contains("@bob") && s.contains("before the outage") && s.contains("offline")
    });
    // Its history opens from the cache.
    pty.send(b"\r");
    pty.wait_for("the cached history", STEP, |s| {
        s.contains("Message bob") && s.contains("before the outage 断线前")
    });

    server = serve(&server_dir, port);
    script(
        &ws,
        &url,
        "bob",
        &bob,
        &bob_dir,
        &["send", "--to", "alice", "after the outage"],
    );
    pty.wait_for("online with the missed message", STEP, |s| {
        s.contains("● online") && s.contains("after the outage")
    });
    pty.send(b"\x03");
    let status = pty.wait_exit(STEP);
    assert!(status.success(), "{status:?}");
    drop(server);
}

/// The embedded default after its server stopped for idleness: the next termim opens on
/// the address it had, from the cache, starts the server again in the background and
/// comes online by itself.
#[test]
fn the_embedded_default_reopens_from_its_cache_and_brings_its_server_back() {
    let ws = Workspace::new();
    let mut first = Pty::spawn(ws.command(exe(), "alice", &[]), 100, 30);
    first.wait_for("the demo, online", STEP, |s| {
        s.contains("#Team 工作组") && s.contains("● online")
    });
    first.send(b"\x03");
    assert!(first.wait_exit(STEP).success());
    pty_support::stop_embedded(&ws.data_dir());
    assert!(
        !std::fs::read_to_string(ws.data_dir().join("server").join("embedded.json"))
            .unwrap_or_default()
            .is_empty(),
        "the address file stays for the next start"
    );

    let mut again = Pty::spawn(ws.command(exe(), "alice", &[]), 100, 30);
    again.wait_for("the cached demo, then online", STEP, |s| {
        s.contains("#Team 工作组") && s.contains("● online")
    });
    again.send(b"\x03");
    assert!(again.wait_exit(STEP).success());
}
