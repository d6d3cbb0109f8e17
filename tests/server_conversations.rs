//! Conversations from the server's side: the list, unread counts, read marks, pins,
//! deletion and custom data, with their pushes to the user's other connections.

mod common;

use common::raw::{TestServer, text_params, texts};
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

/// Issue 10.12: the C2C unread count and the read mark agree. The mark is a position
/// (`c2cReadSequence`): the count is the peer's messages after it. `c2cReadTimestamp` is
/// the newest read message's timestamp, so every message stamped before it is read and
/// every one stamped after it unread — after a clean by timestamp, after clearing
/// everything, and for messages arriving in the same second as the mark.
#[tokio::test]
async fn c2c_unread_agrees_with_the_read_mark() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    async fn agree(alice: &mut common::raw::RawClient, what: &str) -> u64 {
        let conv = alice.conversation("c2c_bob").await;
        let mark = conv["c2cReadSequence"].as_u64().unwrap_or(u64::MAX);
        let stamp = conv["c2cReadTimestamp"].as_i64().unwrap_or(-1);
        let history = alice.history("c2c_bob", 100).await;
        let mut unread = 0;
        for m in history.iter().filter(|m| m["sender"] == "bob") {
            let (seq, time) = (
                m["seq"].as_u64().unwrap_or(0),
                m["timestamp"].as_i64().unwrap_or(0),
            );
            let read = seq <= mark;
            unread += u64::from(!read);
            assert!(
                time >= stamp || read,
                "{what}: {m} is stamped before the mark {stamp} but unread"
            );
            assert!(
                time <= stamp || !read,
                "{what}: {m} is stamped after the mark {stamp} but read"
            );
        }
        let stamps: Vec<i64> = history
            .iter()
            .map(|m| m["timestamp"].as_i64().unwrap_or(0))
            .collect();
        assert!(
            stamps.windows(2).all(|w| w[0] >= w[1]),
            "{what}: timestamps follow seqs: {stamps:?}"
        );
        assert_eq!(conv["unreadCount"].as_u64(), Some(unread), "{what}: {conv}");
        unread
    }
    let mut stamps = Vec::new();
    for i in 0..3 {
        let sent = bob.send_text_to("alice", "", &format!("a{i}"), "x").await;
        stamps.push(sent["timestamp"].as_i64().expect("timestamp"));
    }
    assert_eq!(agree(&mut alice, "before any read").await, 3);
    // Clean up to the second message's timestamp: every message stamped ≤ it is read.
    alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": "c2c_bob", "cleanTimestamp": stamps[1]}),
        )
        .await;
    let conv = alice.conversation("c2c_bob").await;
    assert!(
        conv["c2cReadTimestamp"].as_i64() <= Some(stamps[1]),
        "{conv}"
    );
    let left = agree(&mut alice, "after cleanTimestamp").await;
    assert!(left <= 1, "at most the third message is unread: {left}");
    // Clear everything, then messages in the same second as the mark (or later): they
    // arrived after the read, so they are unread.
    alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": "c2c_bob", "cleanTimestamp": 0}),
        )
        .await;
    assert_eq!(agree(&mut alice, "after clearing everything").await, 0);
    for i in 0..3 {
        bob.send_text_to("alice", "", &format!("b{i}"), "y").await;
        assert_eq!(agree(&mut alice, "a message after the clear").await, i + 1);
    }
    let total = alice.call("getTotalUnreadMessageCount", json!({})).await;
    assert_eq!(total["totalUnreadCount"], 3);
}

/// What a group row's unread count must be, recounted from what alice sees: bob's and
/// carol's counted messages after her read sequence (not tips, not excluded, not targeted —
/// the targeted ones here have ids starting with "t").
async fn recounted(c: &mut common::raw::RawClient, me: &str, conversation_id: &str) -> u64 {
    let conv = c.conversation(conversation_id).await;
    let read = conv["groupReadSequence"].as_u64().unwrap_or(0);
    let history = c.history(conversation_id, 500).await;
    let n = history
        .iter()
        .filter(|m| {
            m["sender"] != me
                && m["seq"].as_u64().unwrap_or(0) > read
                && m["elemType"] != 9
                && m["isExcludedFromUnreadCount"] != true
                && !m["id"].as_str().unwrap_or("").starts_with('t')
        })
        .count() as u64;
    assert_eq!(
        conv["unreadCount"].as_u64(),
        Some(n),
        "{conversation_id}: the kept count vs a recount: {conv}"
    );
    n
}

/// Issue 10.2: unread counts are counters kept on store and on read; through sends by
/// everyone, excluded and targeted messages, partial and full reads, delete, quit and
/// re-invite they always equal a recount.
#[tokio::test]
async fn unread_counters_equal_a_recount_through_every_change() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    carol.create_group("Public", "g", &["alice", "bob"]).await;
    let g = "group_g";
    let mut seqs = Vec::new();
    for (who, id) in [
        ("b", "b1"),
        ("a", "a1"),
        ("b", "b2"),
        ("a", "a2"),
        ("b", "b3"),
    ] {
        let c = if who == "a" { &mut alice } else { &mut bob };
        let m = c.send_text_to("", "g", id, id).await;
        seqs.push(m["seq"].as_u64().expect("seq"));
    }
    let mut excluded = text_params("x1", "", "g", "not counted");
    excluded["isExcludedFromUnreadCount"] = json!(true);
    bob.call("sendMessage", excluded).await;
    let mut targeted = text_params("t1", "", "g", "just for alice");
    targeted["targetGroupMemberList"] = json!(["alice"]);
    carol.call("sendMessage", targeted).await;
    assert_eq!(recounted(&mut alice, "alice", g).await, 3);
    assert_eq!(recounted(&mut bob, "bob", g).await, 2);

    // A partial read (up to b2) with alice's own messages on both sides of the mark.
    alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": g, "cleanSequence": seqs[2]}),
        )
        .await;
    assert_eq!(recounted(&mut alice, "alice", g).await, 1);
    alice.send_text_to("", "g", "a3", "a3").await;
    bob.send_text_to("", "g", "b4", "b4").await;
    assert_eq!(recounted(&mut alice, "alice", g).await, 2);
    // A read to the end, then more.
    alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": g}),
        )
        .await;
    assert_eq!(recounted(&mut alice, "alice", g).await, 0);
    alice.send_text_to("", "g", "a4", "a4").await;
    bob.send_text_to("", "g", "b5", "b5").await;
    assert_eq!(recounted(&mut alice, "alice", g).await, 1);
    // Delete: hidden with nothing unread; the next message brings it back with one.
    alice
        .call("deleteConversation", json!({"conversationID": g}))
        .await;
    bob.send_text_to("", "g", "b6", "b6").await;
    assert_eq!(recounted(&mut alice, "alice", g).await, 1);
    // Quit and come back: nothing from before counts.
    alice.call("quitGroup", json!({"groupID": "g"})).await;
    bob.send_text_to("", "g", "b7", "while away").await;
    carol
        .call(
            "inviteUserToGroup",
            json!({"groupID": "g", "userList": ["alice"]}),
        )
        .await;
    assert_eq!(recounted(&mut alice, "alice", g).await, 0);
    bob.send_text_to("", "g", "b8", "b8").await;
    assert_eq!(recounted(&mut alice, "alice", g).await, 1);
    assert_eq!(recounted(&mut carol, "carol", g).await, 12);

    let total = alice.call("getTotalUnreadMessageCount", json!({})).await;
    assert_eq!(total["totalUnreadCount"], 1);
    // Clearing everything ("" = all conversations) zeroes every counter.
    alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": ""}),
        )
        .await;
    assert_eq!(recounted(&mut alice, "alice", g).await, 0);
}
