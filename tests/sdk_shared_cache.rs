//! Several SDK instances of one user on one data directory (a TUI, `termim listen`,
//! scripted sends share `<data dir>/<user>/<SDKAppID>/cache.db`), the cache kept per
//! server, offline start, and sends whose ack was missed — against a real server.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::raw::{RawClient, text_params};
use common::sdk_harness::{Client, TestServer, WAIT, short};
use serde_json::json;
use termim::model::MessageStatus;
use termim::sdk::{ConnectionState, SdkConfig, SendParams, Tim, TimEvent};

/// Every `NewMessage` text (with its count) seen until `done` says so.
async fn collect_until(
    client: &mut Client,
    what: &str,
    mut done: impl FnMut(&HashMap<String, usize>) -> bool,
) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    let mut log = Vec::new();
    let ok = tokio::time::timeout(WAIT, async {
        while !done(&seen) {
            match client.events.recv().await {
                Some(ev) => {
                    if let TimEvent::NewMessage(m) = &ev {
                        *seen.entry(m.preview()).or_default() += 1;
                    }
                    log.push(short(&ev));
                }
                None => return false,
            }
        }
        true
    })
    .await;
    assert!(
        matches!(ok, Ok(true)),
        "{}: {what} not seen; saw {log:#?}",
        client.user
    );
    seen
}

/// No more `NewMessage` arrives for a moment (duplicates would).
async fn quiet(client: &mut Client) -> Vec<String> {
    let mut extra = Vec::new();
    let _ = tokio::time::timeout(Duration::from_millis(400), async {
        while let Some(ev) = client.events.recv().await {
            if let TimEvent::NewMessage(m) = ev {
                extra.push(m.preview());
            }
        }
    })
    .await;
    extra
}

fn cache_file(data_dir: &Path, user: &str, server: &TestServer) -> std::path::PathBuf {
    data_dir
        .join(user)
        .join(server.key.sdk_app_id.to_string())
        .join("cache.db")
}

/// Issue 9.1 and 9.3: two processes of alice on one data dir each announce every message
/// from bob, and every message alice sends from the other, exactly once; the conversation
/// each shows has the right last message and unread count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_data_dir_each_see_everything_once() {
    let server = TestServer::start().await;
    let bob = server.client("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let mut tui = server.client_in("alice", dir.path(), None).await;
    tui.synced().await;
    let mut listen = server.client_in("alice", dir.path(), None).await;
    listen.synced().await;

    let sent: Vec<String> = (0..15).map(|i| format!("bob #{i} 你好")).collect();
    for text in &sent {
        bob.send_text("alice", text).await;
    }
    for c in [&mut tui, &mut listen] {
        let seen = collect_until(c, "bob's 15", |s| sent.iter().all(|t| s.contains_key(t))).await;
        assert!(seen.values().all(|n| *n == 1), "{}: {seen:?}", c.user);
        assert!(quiet(c).await.is_empty(), "no duplicates");
    }
    // Both show the same conversation: 15 unread, bob's last message.
    for c in [&tui, &listen] {
        let conv = c.conversation("c2c_bob").await.expect("c2c_bob");
        assert_eq!(conv.unread_count, 15, "counted once, not once per process");
        assert_eq!(conv.last_message.unwrap().preview(), "bob #14 你好");
    }

    // Own messages sent by a third instance (a scripted `termim send`) show in both.
    let script = server.client_in("alice", dir.path(), None).await;
    let mine: Vec<String> = (0..10).map(|i| format!("from my shell {i}")).collect();
    for text in &mine {
        script.send_text("bob", text).await;
    }
    for c in [&mut tui, &mut listen] {
        let seen = collect_until(c, "alice's 10 from the shell", |s| {
            mine.iter().all(|t| s.contains_key(t))
        })
        .await;
        assert!(seen.values().all(|n| *n == 1), "{seen:?}");
        let conv = c.conversation("c2c_bob").await.expect("c2c_bob");
        assert_eq!(conv.last_message.unwrap().preview(), "from my shell 9");
    }
    // The sender announced its own only as MessageUpdated, never as new.
    let mut script = script;
    assert!(quiet(&mut script).await.is_empty());
}

/// Many writers at once on one cache file: no send fails with "database is locked", and
/// each instance still sees everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_senders_on_one_cache_all_succeed() {
    let server = TestServer::start().await;
    let bob = server.client("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let mut watcher = server.client_in("alice", dir.path(), None).await;
    watcher.synced().await;
    let mut senders = Vec::new();
    for _ in 0..6 {
        senders.push(server.client_in("alice", dir.path(), None).await);
    }
    let mut tasks = Vec::new();
    for (i, s) in senders.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for j in 0..10 {
                let text = format!("s{i}-{j}");
                s.send(
                    SendParams {
                        receiver: "bob".into(),
                        ..Default::default()
                    },
                    &text,
                )
                .await
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            }
            s
        }));
    }
    // bob writes into the same conversations meanwhile.
    for j in 0..20 {
        bob.send_text("alice", &format!("bob-{j}")).await;
    }
    for t in tasks {
        t.await.expect("sender task");
    }
    let seen = collect_until(&mut watcher, "all 80", |s| s.len() == 80).await;
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(watcher.history("c2c_bob").await.len(), 80);
}

/// A push that cannot be written (another process holds the cache's write lock longer
/// than the busy timeout) is not forgotten: the SDK syncs again from its position.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_that_cannot_be_stored_comes_again_from_sync() {
    let server = TestServer::start().await;
    let bob = server.client("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let mut alice = server.client_in("alice", dir.path(), None).await;
    alice.synced().await;
    let path = cache_file(dir.path(), "alice", &server);
    let blocker = std::thread::spawn(move || {
        let mut conn = rusqlite::Connection::open(path).unwrap();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        std::thread::sleep(Duration::from_secs(11));
        tx.commit().unwrap();
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    bob.send_text("alice", "while locked").await;
    bob.send_text("alice", "also while locked").await;
    blocker.join().unwrap();
    let seen = collect_until(&mut alice, "both messages after the lock", |s| {
        s.contains_key("while locked") && s.contains_key("also while locked")
    })
    .await;
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(
        alice.history_texts("c2c_bob").await,
        ["while locked", "also while locked"]
    );
}

/// Issue 9.2: the cache is per (server, user). Another server (another SDKAppID) on the
/// same data dir starts empty; an older per-user cache is adopted by the first server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_server_has_its_own_cache_and_an_old_one_is_found_again() {
    let one = TestServer::start().await;
    let two = TestServer::start().await;
    assert_ne!(one.key.sdk_app_id, two.key.sdk_app_id);
    let dir = tempfile::tempdir().unwrap();
    let bob = one.client("bob").await;
    let mut xm = one.client_in("xiaoming", dir.path(), None).await;
    xm.synced().await;
    bob.send_text("xiaoming", "only on server one").await;
    xm.message("only on server one").await;
    let device = xm.log_out().await;

    let mut other = two.client_in("xiaoming", &device.path, None).await;
    other.synced().await;
    assert!(other.conversation("c2c_bob").await.is_none());
    assert!(
        other
            .tim
            .get_conversation_list("0", 100)
            .await
            .unwrap()
            .conversation_list
            .is_empty()
    );
    other.log_out().await;

    // An older termim kept one cache per user: <dir>/<user>/cache.db.
    let current = cache_file(dir.path(), "xiaoming", &one);
    let legacy = dir.path().join("xiaoming").join("cache.db");
    {
        let conn = rusqlite::Connection::open(&current).unwrap();
        conn.execute_batch(
            "PRAGMA wal_checkpoint(TRUNCATE); DELETE FROM meta WHERE key = 'sdk_app_id';",
        )
        .unwrap();
    }
    std::fs::rename(&current, &legacy).unwrap();
    let _ = std::fs::remove_file(current.with_extension("db-wal"));
    let _ = std::fs::remove_file(current.with_extension("db-shm"));
    let back = Tim::login(
        SdkConfig {
            server_url: one.url(),
            data_dir: dir.path().to_path_buf(),
            ca_cert_pem: None,
        },
        "xiaoming",
        &one.sig("xiaoming"),
    )
    .await
    .unwrap();
    // Read before any sync could refill it: the adopted cache has the conversation.
    let conv = back.get_conversation("c2c_bob").await.unwrap();
    assert_eq!(
        conv.last_message.map(|m| m.preview()).as_deref(),
        Some("only on server one")
    );
    assert!(current.exists() && !legacy.exists());
}

/// Issue 9.8: `Tim::open` with the server down opens the cache (history readable), then
/// connects and syncs when the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_works_offline_and_connects_when_the_server_returns() {
    let mut server = TestServer::start().await;
    let bob = server.client("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let mut alice = server.client_in("alice", dir.path(), None).await;
    alice.synced().await;
    bob.send_text("alice", "before the outage").await;
    alice.message("before the outage").await;
    alice.log_out().await;
    server.stop().await;

    let config = SdkConfig {
        server_url: server.url(),
        data_dir: dir.path().to_path_buf(),
        ca_cert_pem: None,
    };
    let refused = Tim::login(config.clone(), "alice", &server.sig("alice")).await;
    assert!(refused.is_err(), "login still needs the server");
    let tim = tokio::time::timeout(WAIT, Tim::open(config, "alice", &server.sig("alice")))
        .await
        .expect("open does not wait for the server")
        .expect("open works offline");
    let mut events = tim.add_listener();
    assert_ne!(tim.connection_state(), ConnectionState::Connected);
    let list = tim.get_conversation_list("0", 10).await.unwrap();
    assert_eq!(list.conversation_list.len(), 1);
    let draft = tim
        .set_conversation_draft("c2c_bob", Some("typed offline"))
        .await;
    assert!(draft.is_ok(), "{draft:?}");

    server.restart().await;
    bob.send_text("alice", "after the outage").await;
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        let mut connected = false;
        while let Some(ev) = events.recv().await {
            match ev {
                TimEvent::ConnectionChanged(ConnectionState::Connected) => connected = true,
                TimEvent::NewMessage(m) if m.preview() == "after the outage" => {
                    return connected;
                }
                _ => {}
            }
        }
        false
    })
    .await;
    assert_eq!(got, Ok(true), "reconnected and synced the missed message");
}

/// Issue 9.4: a send whose ack was missed stays failed on this device; when the server's
/// copy turns up (from another device or a sync) it turns *sent*, and a resend answers the
/// stored message instead of "already sent".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_message_the_server_has_turns_sent() {
    let mut server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bob = server.client("bob").await;
    let alice = server.client_in("alice", dir.path(), None).await;
    let created = alice.tim.create_text_message("did it go?").unwrap();
    server.stop().await;
    // The send waits for a connection; the process "dies" before it gets one.
    let pending = tokio::time::timeout(
        Duration::from_millis(300),
        alice.tim.send_message(SendParams {
            id: created.id.clone(),
            receiver: "bob".into(),
            ..Default::default()
        }),
    )
    .await;
    assert!(pending.is_err(), "still waiting for the server");
    alice.log_out().await;
    server.restart().await;

    // Reopened: the interrupted send is failed now.
    let mut alice = server.client_in("alice", dir.path(), None).await;
    alice.synced().await;
    let history = alice.history("c2c_bob").await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, MessageStatus::SendFail);

    // The frame had reached the server after all (here: sent again under the same id by
    // another connection of alice's, as the server then stored it).
    let mut raw = RawClient::connect(&server.url()).await;
    raw.call(
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
    raw.call(
        "sendMessage",
        text_params(&created.id, "bob", "", "did it go?"),
    )
    .await;
    let (updated, before) = alice
        .wait_for("the failed message turning sent", |e| match e {
            TimEvent::MessageUpdated(m) if m.id == created.id => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(updated.status, MessageStatus::SendSucc);
    assert!(
        !before
            .iter()
            .any(|e| matches!(e, TimEvent::NewMessage(m) if m.id == created.id)),
        "announced as an update of the failed one, not as a second message"
    );
    // `r` (resend) now answers the stored message.
    let again = alice
        .tim
        .send_message(SendParams {
            id: created.id.clone(),
            receiver: "bob".into(),
            ..Default::default()
        })
        .await
        .expect("resending a stored message succeeds");
    assert_eq!(again.msg_id, updated.msg_id);
    bob.message("did it go?").await;
    assert!(quiet(&mut bob).await.is_empty(), "bob got it once");
}
