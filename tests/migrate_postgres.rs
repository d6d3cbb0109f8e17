//! `termim migrate --from sqlite:DATA_DIR --to postgres://…` (issue 11 item 3): a SQLite
//! server's data copied into PostgreSQL, and the server then run on it — every user's
//! history, sync stream, cursors, unread counts, pins, custom data and groups as they
//! were, and new messages carrying on the seqs and cursors. Runs when TERMIM_TEST_POSTGRES
//! names a PostgreSQL server (`scripts/with-postgres cargo test --test migrate_postgres`).

mod common;

use std::path::Path;
use std::process::Command;

use common::raw::{RawClient, TestServer, text_params};
use serde_json::{Value, json};
use termim::server::ServerOptions;

const USERS: [&str; 4] = ["ana", "bo", "cy", "dee"];

fn postgres() -> Option<String> {
    let url = std::env::var("TERMIM_TEST_POSTGRES").ok()?;
    (!url.trim().is_empty()).then_some(url)
}

/// A fresh database on the test server, for this test alone.
fn fresh_database(base: &str, dir: &Path) -> String {
    common::test_database(&dir.join("migrated")).unwrap_or_else(|| base.to_string())
}

/// Everything a user can see, as the server answers it.
async fn state_of(server: &TestServer, user: &str) -> Value {
    let mut c = server.login(user).await;
    let (stream, cursor) = c.sync_all(0).await;
    let list = c
        .call("getConversationList", json!({"nextSeq": "0", "count": 100}))
        .await;
    let unread = c.call("getTotalUnreadMessageCount", json!({})).await;
    let groups = c.call("getJoinedGroupList", json!({})).await;
    let mut histories = Vec::new();
    for conv in list["conversationList"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let id = conv["conversationID"].as_str().expect("id").to_string();
        histories.push(json!({"conv": id, "messages": c.history(&id, 100).await}));
    }
    json!({"stream": stream, "cursor": cursor, "list": list, "unread": unread,
           "groups": groups, "histories": histories})
}

/// The rates lifted: the test builds its data as fast as it can.
fn options() -> ServerOptions {
    ServerOptions {
        request_rate: None,
        group_send_rate: None,
        conversation_write_rate: None,
        ..ServerOptions::default()
    }
}

async fn send(c: &mut RawClient, id: &str, to: &str, group: &str, text: &str) {
    let answer = c
        .request("sendMessage", text_params(id, to, group, text))
        .await;
    assert_eq!(answer["code"], 0, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_server_moved_to_postgres_keeps_every_users_view_and_goes_on() {
    let Some(base) = postgres() else {
        eprintln!("skipped: TERMIM_TEST_POSTGRES is not set (scripts/with-postgres runs it)");
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // The SQLite server, whatever the harness's default engine.
    let mut server = TestServer::start_on(dir, None, options()).await;
    let mut clients = Vec::new();
    for u in USERS {
        clients.push(server.login(u).await);
    }
    // C2C both ways, a group with tips, a targeted message, reads, a pin, custom data, a
    // deleted conversation and a quit member.
    for i in 0..30 {
        let (from, to) = if i % 3 == 0 { (1, 0) } else { (0, 1) };
        send(
            &mut clients[from],
            &format!("c{i}"),
            USERS[to],
            "",
            &format!("c2c {i} 你好"),
        )
        .await;
    }
    let group = clients[0]
        .create_group("Work", "team", &["bo", "cy", "dee"])
        .await;
    for i in 0..40 {
        send(
            &mut clients[i % 3],
            &format!("g{i}"),
            "",
            &group,
            &format!("group {i} 🎉"),
        )
        .await;
    }
    let mut params = text_params("t1", "", &group, "psst");
    params["targetGroupMemberList"] = json!(["bo"]);
    let targeted = clients[0].request("sendMessage", params).await;
    assert_eq!(targeted["code"], 0, "{targeted}");
    clients[1]
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": "c2c_ana", "cleanTimestamp": 0, "cleanSequence": 0}),
        )
        .await;
    clients[2]
        .call(
            "pinConversation",
            json!({"conversationID": format!("group_{group}"), "isPinned": true}),
        )
        .await;
    clients[2]
        .call(
            "setConversationCustomData",
            json!({"conversationIDList": [format!("group_{group}")], "customData": "cy's note"}),
        )
        .await;
    clients[3]
        .call("quitGroup", json!({"groupID": group}))
        .await;
    clients[1]
        .call(
            "deleteConversation",
            json!({"conversationID": format!("group_{group}")}),
        )
        .await;
    drop(clients);
    let mut before = Vec::new();
    for u in USERS {
        before.push(state_of(&server, u).await);
    }
    server.shutdown().await;

    let url = fresh_database(&base, dir);
    let out = Command::new(env!("CARGO_BIN_EXE_termim"))
        .args(["migrate", "--json", "--from"])
        .arg(format!("sqlite:{}", dir.display()))
        .args(["--to", &url])
        .output()
        .expect("termim migrate runs");
    assert!(
        out.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    let messages = report["tables"]["messages"]
        .as_u64()
        .expect("messages counted");
    // 71 sent, plus the group's tips (creation, the quit).
    assert!(messages > 71, "{report}");
    assert_eq!(report["tables"]["users"], 4, "{report}");
    assert_eq!(report["tables"]["groups"], 1, "{report}");
    // A second copy into the same database is refused: it is not empty.
    let again = Command::new(env!("CARGO_BIN_EXE_termim"))
        .args(["migrate", "--from"])
        .arg(format!("sqlite:{}", dir.display()))
        .args(["--to", &url])
        .output()
        .expect("termim migrate runs");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let server = TestServer::start_on(dir, Some(url), options()).await;
    for (u, was) in USERS.iter().zip(&before) {
        let now = state_of(&server, u).await;
        assert_eq!(&now, was, "{u}'s view changed in the move");
    }
    // New messages go on from the copied seqs and cursors.
    let cursor = before[1]["cursor"].as_u64().expect("cursor");
    let mut ana = server.login("ana").await;
    let mut bo = server.login("bo").await;
    send(&mut ana, "after-1", "bo", "", "after the move").await;
    send(
        &mut bo,
        "after-2",
        "",
        &group,
        "in the group after the move",
    )
    .await;
    let (fresh, new_cursor) = bo.sync_all(cursor).await;
    assert_eq!(fresh.len(), 2, "{fresh:?}");
    assert!(new_cursor > cursor);
    let c2c = bo.history("c2c_ana", 100).await;
    let seqs: Vec<u64> = c2c
        .iter()
        .map(|m| m["seq"].as_u64().expect("seq"))
        .collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (1..=31).collect::<Vec<_>>(),
        "dense seqs after the move"
    );
    // A resend of a message stored before the move is the same message, not a new one.
    let resent = ana
        .request("sendMessage", text_params("c1", "bo", "", "c2c 1 你好"))
        .await;
    assert_eq!(resent["code"], 0, "{resent}");
    assert_eq!(bo.history("c2c_ana", 100).await.len(), 31);
}

/// Bad arguments are refused with a sentence before anything is touched (no PostgreSQL
/// needed).
#[test]
fn migrate_refuses_what_it_cannot_copy_with_a_sentence() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "--from",
                "/srv/termim",
                "--to",
                "postgres://u@127.0.0.1:1/db",
            ],
            "sqlite:DATA_DIR",
        ),
        (
            &["--from", "sqlite:/srv/termim", "--to", "mysql://u@h/db"],
            "postgres://",
        ),
        (
            &[
                "--from",
                "sqlite:EMPTY",
                "--to",
                "postgres://u@127.0.0.1:1/db",
            ],
            "no termim server database",
        ),
    ];
    for (args, expect) in cases {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("EMPTY", &tmp.path().display().to_string()))
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_termim"))
            .arg("migrate")
            .args(&args)
            .env_remove("TERMIM_MIGRATE_TO")
            .output()
            .expect("termim migrate runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
