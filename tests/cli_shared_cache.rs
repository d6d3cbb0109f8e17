//! Issue 9 "done when": scripted `termim send`s and two `termim listen --json` processes
//! of one user on one data directory, side by side, against `termim serve` — every send
//! exits 0, both listeners print every message (a peer's and the user's own from the
//! other processes) exactly once, and nothing logs "database is locked".

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod serve_support;

use serve_support::{Killed, lines_of, usersig};

fn serve(dir: &Path) -> (Killed, String) {
    let (child, url) = serve_support::start_server(dir, "127.0.0.1:0");
    (Killed(child), url)
}

fn termim(url: &str, user: &str, sig: &str, data_dir: &Path, config: &Path) -> Command {
    serve_support::client(url, user, sig, data_dir, config)
}

fn dir_has(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let p = e.path();
            if p.is_dir() {
                dir_has(&p, needle)
            } else {
                std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            }
        })
}

#[test]
fn thirty_scripted_sends_and_two_listeners_share_one_data_dir() {
    let server_dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(server_dir.path());
    let scratch = tempfile::tempdir().unwrap();
    let config = scratch.path().join("none.toml");
    std::fs::write(&config, "").unwrap();
    let alice_dir = scratch.path().join("alice-data");
    let bob_dir = scratch.path().join("bob-data");
    let alice_sig = usersig(server_dir.path(), "alice");
    let bob_sig = usersig(server_dir.path(), "bob");
    let alice = |args: &[&str]| {
        let mut c = termim(&url, "alice", &alice_sig, &alice_dir, &config);
        c.args(args);
        c
    };
    // bob exists before alice writes to him.
    let out = termim(&url, "bob", &bob_sig, &bob_dir, &config)
        .args(["conversations", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut listeners = Vec::new();
    for _ in 0..2 {
        let mut child = alice(&["listen", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let rx = lines_of(child.stdout.take().expect("piped stdout"));
        listeners.push((Killed(child), rx));
    }
    for (_, rx) in &listeners {
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(20))
                .expect("the listener syncs");
            if line.contains("onSyncServerFinish") {
                break;
            }
        }
    }

    let sends: Vec<Child> = (0..30)
        .map(|i| {
            alice(&["send", "--to", "bob", &format!("alice {i} 你好")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for i in 0..10 {
        let out = termim(&url, "bob", &bob_sig, &bob_dir, &config)
            .args(["send", "--to", "alice", &format!("bob {i}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (i, send) in sends.into_iter().enumerate() {
        let out = send.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "send {i} exited {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let mut expected: Vec<String> = (0..30).map(|i| format!("alice {i} 你好")).collect();
    expected.extend((0..10).map(|i| format!("bob {i}")));
    for (n, (_, rx)) in listeners.iter().enumerate() {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !expected.iter().all(|t| seen.contains_key(t)) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let missing: Vec<_> = expected.iter().filter(|t| !seen.contains_key(*t)).collect();
                panic!("listener {n} is missing {missing:?}");
            };
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if v["event"] == "onRecvNewMessage" {
                let text = v["data"]["textElem"]["text"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                *seen.entry(text).or_default() += 1;
            }
        }
        // Nothing twice (give duplicates a moment to show).
        let until = Instant::now() + Duration::from_millis(500);
        while let Ok(line) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["event"] == "onRecvNewMessage" {
                let text = v["data"]["textElem"]["text"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                *seen.entry(text).or_default() += 1;
            }
        }
        let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
        assert!(twice.is_empty(), "listener {n} printed twice: {twice:?}");
    }
    drop(listeners);
    assert!(
        !dir_has(&alice_dir, b"database is locked"),
        "a log says \"database is locked\""
    );
}
