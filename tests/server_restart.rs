//! Durability across restarts and a clean shutdown: nothing acknowledged is lost.

mod common;

use common::raw::{Ended, TestServer, text_params, texts, within};
use serde_json::{Value, json};
use termim::server::ServerOptions;

#[tokio::test]
async fn a_restart_on_the_same_data_dir_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = TestServer::start_in(dir.path(), ServerOptions::default()).await;
    let old_sig = server.sig("alice");
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(
            alice
                .send_text_to("bob", "", &format!("c{i}"), &format!("c2c {i}"))
                .await,
        );
    }
    alice.create_group("Work", "team", &["bob"]).await;
    for i in 0..2 {
        sent.push(
            alice
                .send_text_to("", "team", &format!("g{i}"), &format!("group {i}"))
                .await,
        );
    }
    alice
        .call(
            "pinConversation",
            json!({"conversationID": "c2c_bob", "isPinned": true}),
        )
        .await;
    alice
        .call(
            "setConversationCustomData",
            json!({"conversationIDList": ["group_team"], "customData": "keep me"}),
        )
        .await;
    let (before, cursor_before) = bob.sync_all(0).await;
    let app_id = server.key.sdk_app_id;
    drop((alice, bob));
    server.shutdown().await;

    let server = TestServer::start_in(dir.path(), ServerOptions::default()).await;
    assert_eq!(
        server.key.sdk_app_id, app_id,
        "the app key is kept in the data dir"
    );
    let mut alice = server.connect().await;
    alice
        .call("login", json!({"userID": "alice", "userSig": old_sig}))
        .await;
    let mut bob = server.login("bob").await;

    let (after, cursor_after) = bob.sync_all(0).await;
    assert_eq!(after, before, "the same messages, ids and cursors");
    assert_eq!(cursor_after, cursor_before);
    let ids: Vec<Value> = sent.iter().map(|m| m["msgID"].clone()).collect();
    let synced: Vec<Value> = after.iter().map(|m| m["msgID"].clone()).collect();
    assert!(ids.iter().all(|id| synced.contains(id)));

    // Sequences and cursors continue where they were.
    let c2c = alice.send_text_to("bob", "", "c3", "after restart").await;
    assert_eq!(c2c["seq"], 4);
    let g = alice.send_text_to("", "team", "g2", "after restart").await;
    assert_eq!(g["seq"], 3);
    let (new, _) = bob.sync_all(cursor_before).await;
    assert_eq!(new.len(), 2);
    assert_eq!(new[0]["msgID"], c2c["msgID"]);

    // Conversation state and membership survived.
    let conv = alice.conversation("c2c_bob").await;
    assert_eq!(conv["isPinned"], true);
    assert_eq!(
        alice.conversation("group_team").await["customData"],
        "keep me"
    );
    assert_eq!(bob.conversation("c2c_alice").await["unreadCount"], 4);
    bob.send_text_to("", "team", "b0", "still a member").await;
    // A retry of a pre-restart send is still recognised.
    let retry = alice.send_text_to("bob", "", "c0", "retry").await;
    assert_eq!(retry["msgID"], sent[0]["msgID"]);
}

#[tokio::test]
async fn shutdown_commits_what_it_acknowledged_and_says_goodbye() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = TestServer::start_in(dir.path(), ServerOptions::default()).await;
    let mut alice = server.login("alice").await;
    server.login("bob").await;

    // A burst in flight, then the server is told to stop while answers are coming back.
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(
            alice
                .send_request(
                    "sendMessage",
                    text_params(&format!("s{i}"), "bob", "", &format!("m{i}")),
                )
                .await,
        );
    }
    let first = alice.response(ids[0]).await;
    assert_eq!(first["code"], 0);
    let handle = server.handle.take().expect("running");
    let stopping = tokio::spawn(handle.shutdown());

    // Every answer that arrives before the goodbye is an acknowledgement.
    let mut acked = vec![first["data"]["message"]["msgID"].clone()];
    let ended = loop {
        match within("answers or the close", alice.raw_frame()).await {
            Some(frame) if frame["code"] == 0 => {
                acked.push(frame["data"]["message"]["msgID"].clone())
            }
            Some(frame) => panic!("unexpected frame during shutdown: {frame}"),
            None => break alice.last_close(),
        }
    };
    assert_eq!(
        ended,
        Some(Ended::Close(1001, "server shutting down".into()))
    );
    within("shutdown", stopping).await.expect("shutdown task");

    let server = TestServer::start_in(dir.path(), ServerOptions::default()).await;
    let mut bob = server.login("bob").await;
    let stored: Vec<Value> = bob
        .history("c2c_alice", 500)
        .await
        .iter()
        .map(|m| m["msgID"].clone())
        .collect();
    for id in &acked {
        assert!(stored.contains(id), "acknowledged message {id} was lost");
    }
    assert!(acked.len() <= stored.len());
}

/// A database made before the per-user stream and the unread counters (schema 2) is
/// brought up to date at start: the same unread counts, the same sync, and what comes
/// after is counted and streamed as on a new database.
#[tokio::test]
async fn a_schema_2_database_gains_the_stream_and_the_counters() {
    if common::on_postgres() {
        eprintln!("skipped on PostgreSQL: this test rewrites the SQLite file to schema 2");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = TestServer::start_in(dir.path(), ServerOptions::default()).await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    alice.create_group("Public", "pub", &["bob"]).await;
    for i in 0..4 {
        bob.send_text_to("alice", "", &format!("c{i}"), "c2c").await;
        bob.send_text_to("", "pub", &format!("g{i}"), "group").await;
        alice
            .send_text_to("", "pub", &format!("a{i}"), "mine")
            .await;
    }
    let mut carol = server.login("carol").await;
    carol.call("joinGroup", json!({"groupID": "pub"})).await;
    let join_tips_pos = carol.sync_all(0).await.1;
    drop(carol);
    let g2 = bob.history("group_pub", 100).await;
    let mid = g2[g2.len() / 2]["seq"].clone();
    alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": "group_pub", "cleanSequence": mid}),
        )
        .await;
    let unread = |c: &Value| c["unreadCount"].clone();
    let before = (
        unread(&alice.conversation("group_pub").await),
        unread(&alice.conversation("c2c_bob").await),
        unread(&bob.conversation("group_pub").await),
    );
    let (sync_before, _) = alice.sync_all(0).await;
    drop((alice, bob));
    server.shutdown().await;

    // Take the database back to schema 2.
    {
        let db = rusqlite::Connection::open(dir.path().join("termim.db")).expect("open");
        db.execute_batch(
            "DROP TABLE user_stream; DROP INDEX user_conversations_conv_id; \
             DROP INDEX user_conversations_with_data; \
             ALTER TABLE messages DROP COLUMN cnum; \
             ALTER TABLE user_conversations DROP COLUMN own_unread; \
             UPDATE messages SET client_id = 'tips-' || pos WHERE client_id = 'tips ' || pos; \
             UPDATE meta SET value = '2' WHERE key = 'schema_version';",
        )
        .expect("downgrade");
    }

    let server = TestServer::start_in(dir.path(), ServerOptions::default()).await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let after = (
        unread(&alice.conversation("group_pub").await),
        unread(&alice.conversation("c2c_bob").await),
        unread(&bob.conversation("group_pub").await),
    );
    assert_eq!(before, after, "unread counts survive the migration");
    assert_eq!(before.1, json!(4), "{before:?}");
    assert_eq!(before.2, json!(4), "{before:?}");
    let (sync_after, cursor) = alice.sync_all(0).await;
    let ids = |l: &[Value]| l.iter().map(|m| m["msgID"].clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&sync_before),
        ids(&sync_after),
        "the stream was rebuilt"
    );
    bob.send_text_to("", "pub", "g9", "after").await;
    bob.send_text_to("alice", "", "c9", "after").await;
    let n = |v: Value| v.as_u64().unwrap_or(0);
    assert_eq!(
        n(unread(&alice.conversation("group_pub").await)),
        n(before.0) + 1
    );
    assert_eq!(unread(&alice.conversation("c2c_bob").await), 5);
    let (tail, _) = alice.sync_all(cursor).await;
    assert_eq!(
        texts(&tail),
        ["after", "after"],
        "new messages are streamed"
    );
    // An old tips id moved out of the clients' namespace: carol's send with the id the
    // join tips had is a new message, not a "retry" answered with the tips.
    let mut carol = server.login("carol").await;
    let sent = carol
        .send_text_to("", "pub", &format!("tips-{join_tips_pos}"), "mine")
        .await;
    assert_eq!(sent["elemType"], 1, "{sent}");
}
