//! Conversations from the server's side: the list, unread counts, read marks, pins,
//! deletion and custom data, with their pushes to the user's other connections.

mod common;

use common::raw::{TestServer, texts};
use serde_json::{Value, json};

fn ids(list: &Value) -> Vec<String> {
    list["conversationList"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|c| c["conversationID"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_list_is_ordered_paged_and_pinned() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut alice2 = server.login("alice").await;
    for peer in ["bob", "carol", "dave"] {
        let mut c = server.login(peer).await;
        c.send_text_to("alice", "", "hi", &format!("hi from {peer}"))
            .await;
    }
    let list = alice
        .call("getConversationList", json!({"nextSeq": "0", "count": 10}))
        .await;
    assert_eq!(ids(&list), ["c2c_dave", "c2c_carol", "c2c_bob"]);
    assert_eq!(list["isFinished"], true);
    let keys: Vec<u64> = list["conversationList"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["orderkey"].as_u64().unwrap_or(0))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] > w[1]),
        "orderkey descends: {keys:?}"
    );

    // Pinning puts a conversation first and is pushed to alice's other connection.
    alice
        .call(
            "pinConversation",
            json!({"conversationID": "c2c_bob", "isPinned": true}),
        )
        .await;
    let changed = alice2.push_named("conversationChanged").await;
    assert_eq!(changed["conversationList"][0]["conversationID"], "c2c_bob");
    assert_eq!(changed["conversationList"][0]["isPinned"], true);
    assert_eq!(changed["conversationList"][0]["unreadCount"], 1);

    let page1 = alice
        .call("getConversationList", json!({"nextSeq": "0", "count": 2}))
        .await;
    assert_eq!(ids(&page1), ["c2c_bob", "c2c_dave"]);
    assert_eq!(page1["isFinished"], false);
    let page2 = alice
        .call(
            "getConversationList",
            json!({"nextSeq": page1["nextSeq"], "count": 2}),
        )
        .await;
    assert_eq!(ids(&page2), ["c2c_carol"]);
    assert_eq!(page2["isFinished"], true);
    let (code, _) = alice
        .call_err("getConversationList", json!({"nextSeq": "abc", "count": 2}))
        .await;
    assert_eq!(code, 6017);

    // A new group shows up at once, with its name and type, before any message.
    alice.create_group("Public", "book-club", &[]).await;
    let list = alice
        .call("getConversationList", json!({"nextSeq": "0", "count": 10}))
        .await;
    assert_eq!(ids(&list)[..2], ["c2c_bob", "group_book-club"]);
    let group = &list["conversationList"][1];
    assert_eq!(group["type"], 2);
    assert_eq!(group["groupID"], "book-club");
    assert_eq!(group["groupType"], "Public");
    assert_eq!(group["showName"], "Public book-club");
    assert!(group.get("lastMessage").is_none());

    // Unpinning is pushed too.
    alice
        .call(
            "pinConversation",
            json!({"conversationID": "c2c_bob", "isPinned": false}),
        )
        .await;
    let changed = alice2.push_named("conversationChanged").await;
    assert_eq!(changed["conversationList"][0]["isPinned"], false);
}

#[tokio::test]
async fn unread_counts_and_read_marks() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut alice2 = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    carol.create_group("Public", "pub", &["alice"]).await;
    carol.create_group("Meeting", "meet", &["alice"]).await;

    for i in 0..3 {
        bob.send_text_to("alice", "", &format!("b{i}"), "hey").await;
    }
    let g1 = carol.send_text_to("", "pub", "g1", "one").await;
    carol.send_text_to("", "pub", "g2", "two").await;
    carol
        .send_text_to("", "meet", "m1", "meetings count nothing")
        .await;
    alice
        .send_text_to("bob", "", "own", "my own never counts")
        .await;

    let total = |v: Value| v["totalUnreadCount"].as_u64().unwrap_or(99);
    assert_eq!(
        total(alice.call("getTotalUnreadMessageCount", json!({})).await),
        5
    );
    assert_eq!(alice.conversation("group_meet").await["unreadCount"], 0);

    // C2C: read everything (cleanTimestamp 0).
    alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": "c2c_bob", "cleanTimestamp": 0, "cleanSequence": 0}),
        )
        .await;
    let conv = alice.conversation("c2c_bob").await;
    assert_eq!(conv["unreadCount"], 0);
    assert!(conv["c2cReadTimestamp"].as_i64().unwrap_or(0) > 0);
    let pushed = alice2.push_named("conversationChanged").await;
    assert_eq!(pushed["conversationList"][0]["conversationID"], "c2c_bob");
    assert_eq!(pushed["conversationList"][0]["unreadCount"], 0);

    // Group: read up to the first message's seq.
    alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": "group_pub", "cleanTimestamp": 0, "cleanSequence": g1["seq"]}),
        )
        .await;
    let conv = alice.conversation("group_pub").await;
    assert_eq!(conv["unreadCount"], 1);
    assert_eq!(conv["groupReadSequence"], g1["seq"]);
    // Marks never move backwards.
    alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": "group_pub", "cleanSequence": 1}),
        )
        .await;
    assert_eq!(
        alice.conversation("group_pub").await["groupReadSequence"],
        g1["seq"]
    );

    // "" = everything.
    bob.send_text_to("alice", "", "b9", "more").await;
    assert_eq!(
        total(alice.call("getTotalUnreadMessageCount", json!({})).await),
        2
    );
    alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": ""}),
        )
        .await;
    assert_eq!(
        total(alice.call("getTotalUnreadMessageCount", json!({})).await),
        0
    );

    // Unknown conversations: clear codes.
    for (id, code) in [("bogus", 6004), ("c2c_nobody", 6004), ("group_nope", 10010)] {
        let (got, _) = alice
            .call_err(
                "cleanConversationUnreadMessageCount",
                json!({"conversationID": id}),
            )
            .await;
        assert_eq!(got, code, "{id}");
    }
}

#[tokio::test]
async fn deleting_a_conversation_hides_it_and_its_history_for_that_user_only() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut alice2 = server.login("alice").await;
    let mut bob = server.login("bob").await;
    bob.send_text_to("alice", "", "1", "old one").await;
    bob.send_text_to("alice", "", "2", "old two").await;
    alice
        .call(
            "pinConversation",
            json!({"conversationID": "c2c_bob", "isPinned": true}),
        )
        .await;

    alice
        .call("deleteConversation", json!({"conversationID": "c2c_bob"}))
        .await;
    let deleted = alice2.push_named("conversationDeleted").await;
    assert_eq!(deleted["conversationIDList"], json!(["c2c_bob"]));
    let list = alice
        .call("getConversationList", json!({"nextSeq": "0", "count": 10}))
        .await;
    assert!(ids(&list).is_empty());
    assert!(alice.history("c2c_bob", 10).await.is_empty());
    assert!(alice.sync_all(0).await.0.is_empty());
    assert_eq!(
        bob.history("c2c_alice", 10).await.len(),
        2,
        "bob keeps his copy"
    );

    // A new message brings it back, with just what came after.
    bob.send_text_to("alice", "", "3", "new").await;
    let conv = alice.conversation("c2c_bob").await;
    assert_eq!(conv["unreadCount"], 1);
    assert_eq!(conv["isPinned"], false);
    assert_eq!(texts(&alice.history("c2c_bob", 10).await), ["new"]);
    let list = alice
        .call("getConversationList", json!({"nextSeq": "0", "count": 10}))
        .await;
    assert_eq!(ids(&list), ["c2c_bob"]);
}

#[tokio::test]
async fn conversation_custom_data_per_item_limits_and_sync_to_other_devices() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut alice2 = server.login("alice").await;
    let mut bob = server.login("bob").await;
    server.login("carol").await;
    bob.send_text_to("alice", "", "1", "hi").await;
    bob.create_group("Work", "team", &["alice"]).await;

    let data = "置顶：重要 ★".repeat(10);
    assert!(data.len() <= 256);
    let results = alice
        .call(
            "setConversationCustomData",
            json!({"conversationIDList": ["c2c_bob", "group_team", "bogus", "group_nope",
                                           "c2c_nobody", "c2c_carol"],
                   "customData": data}),
        )
        .await;
    let codes: Vec<i64> = results
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["resultCode"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(codes, [0, 0, 6004, 10010, 6004, 0]);
    assert_eq!(results[2]["conversationID"], "bogus");
    assert!(!results[2]["resultInfo"].as_str().unwrap_or("").is_empty());

    assert_eq!(alice.conversation("c2c_bob").await["customData"], data);
    assert_eq!(alice.conversation("group_team").await["customData"], data);
    // A conversation with no messages yet now exists, carrying the data.
    let list = alice
        .call("getConversationList", json!({"nextSeq": "0", "count": 10}))
        .await;
    assert!(ids(&list).contains(&"c2c_carol".to_string()));
    // The other device hears about all three.
    let pushed = alice2.push_named("conversationChanged").await;
    let pushed_ids = ids(&pushed);
    assert_eq!(pushed_ids, ["c2c_bob", "group_team", "c2c_carol"]);
    assert!(
        pushed["conversationList"]
            .as_array()
            .expect("list")
            .iter()
            .all(|c| c["customData"] == data)
    );
    // Per-user: bob's side is untouched.
    assert_eq!(bob.conversation("c2c_alice").await["customData"], "");

    // Over 256 bytes: every item fails, nothing changes.
    let results = alice
        .call(
            "setConversationCustomData",
            json!({"conversationIDList": ["c2c_bob", "group_team"], "customData": "x".repeat(257)}),
        )
        .await;
    for r in results.as_array().expect("array") {
        assert_eq!(r["resultCode"], 6017);
        assert!(r["resultInfo"].as_str().unwrap_or("").contains("256"));
    }
    assert_eq!(alice.conversation("c2c_bob").await["customData"], data);

    // Batch limits.
    let many: Vec<String> = (0..101).map(|i| format!("c2c_u{i}")).collect();
    let (code, _) = alice
        .call_err(
            "setConversationCustomData",
            json!({"conversationIDList": many, "customData": "x"}),
        )
        .await;
    assert_eq!(code, 51006);
    let (code, _) = alice
        .call_err(
            "setConversationCustomData",
            json!({"conversationIDList": [], "customData": "x"}),
        )
        .await;
    assert_eq!(code, 6017);

    // Clearing it.
    alice
        .call(
            "setConversationCustomData",
            json!({"conversationIDList": ["c2c_bob"], "customData": ""}),
        )
        .await;
    assert_eq!(alice.conversation("c2c_bob").await["customData"], "");
}

#[tokio::test]
async fn get_conversation_answers_or_refuses_clearly() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    bob.create_group("Work", "private", &[]).await;

    // A C2C conversation with an existing user but no messages: an empty conversation.
    let conv = alice.conversation("c2c_bob").await;
    assert_eq!(conv["conversationID"], "c2c_bob");
    assert_eq!(conv["unreadCount"], 0);
    assert!(conv.get("lastMessage").is_none());

    for (id, code) in [
        ("bob", 6004),
        ("c2c_", 6004),
        ("c2c_nobody", 6004),
        ("group_private", 10007),
        ("group_missing", 10010),
    ] {
        let (got, desc) = alice
            .call_err("getConversation", json!({"conversationID": id}))
            .await;
        assert_eq!(got, code, "{id}: {desc}");
    }
}
