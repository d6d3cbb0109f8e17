//! Messaging rules (issue 2 §5) from the server's side, over raw WebSocket JSON.

mod common;

use common::raw::{TestServer, text_params, texts};
use serde_json::{Value, json};

fn msg_ids(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["msgID"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn c2c_delivery_dense_seq_and_ack_after_commit() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut alice2 = server.login("alice").await;
    let mut bob = server.login("bob").await;

    let mut acked = Vec::new();
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        let r = alice
            .call(
                "sendMessage",
                text_params(&format!("a{i}"), "bob", "", text),
            )
            .await;
        let m = &r["message"];
        assert_eq!(m["seq"], i as u64 + 1, "C2C seq is dense from 1");
        assert_eq!(m["status"], 2);
        assert_eq!(m["sender"], "alice");
        assert_eq!(m["receiver"], "bob");
        assert_eq!(m["id"], format!("a{i}"));
        assert!(m["timestamp"].as_i64().unwrap_or(0) > 0);
        assert!(!m["msgID"].as_str().unwrap_or("").is_empty());
        assert!(r["cursor"].as_u64().unwrap_or(0) > 0);

        // Acked means committed: a brand-new connection reads it at once.
        let mut reader = server.login("bob").await;
        let history = reader.history("c2c_alice", 10).await;
        assert_eq!(history[0]["msgID"], m["msgID"]);
        acked.push(r);
    }

    for r in &acked {
        let push = bob.expect_push("newMessage").await;
        assert_eq!(push["message"], r["message"]);
        assert_eq!(push["cursor"], r["cursor"]);
        assert_eq!(push["unreadCounted"], true);
        // The sender's other device gets its own messages too.
        let own = alice2.expect_push("newMessage").await;
        assert_eq!(own["message"]["msgID"], r["message"]["msgID"]);
    }

    // The sending connection gets no push of its own messages: the first push it sees is
    // bob's reply (pushes arrive in commit order).
    let reply = bob.send_text_to("alice", "", "b1", "reply").await;
    assert_eq!(reply["seq"], 4, "one sequence shared by the pair");
    let first = alice.expect_message().await;
    assert_eq!(first["msgID"], reply["msgID"]);

    let conv = bob.conversation("c2c_alice").await;
    assert_eq!(conv["unreadCount"], 3);
    assert_eq!(conv["lastMessage"]["textElem"]["text"], "reply");
    assert_eq!(conv["type"], 1);
    assert_eq!(conv["userID"], "alice");
}

#[tokio::test]
async fn history_pages_older_and_newer() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    server.login("bob").await;
    let mut sent = Vec::new();
    for i in 1..=7 {
        sent.push(
            alice
                .send_text_to("bob", "", &format!("m{i}"), &format!("t{i}"))
                .await,
        );
    }
    let page = |data: &Value| data["messageList"].as_array().cloned().unwrap_or_default();

    // Newest first, 3 at a time, following lastMsgID (exclusive).
    let first = alice
        .call(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_bob", "getType": 1, "count": 3}),
        )
        .await;
    assert_eq!(texts(&page(&first)), ["t7", "t6", "t5"]);
    assert_eq!(first["isFinished"], false);
    let last_id = page(&first)[2]["msgID"].clone();
    let second = alice
        .call(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_bob", "getType": 1, "count": 3, "lastMsgID": last_id}),
        )
        .await;
    assert_eq!(texts(&page(&second)), ["t4", "t3", "t2"]);
    let third = alice
        .call(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_bob", "getType": 1, "count": 3,
                   "lastMsgID": page(&second)[2]["msgID"]}),
        )
        .await;
    assert_eq!(texts(&page(&third)), ["t1"]);
    assert_eq!(third["isFinished"], true);

    // Newer, oldest first, from lastMsgSeq (inclusive).
    let newer = alice
        .call(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_bob", "getType": 2, "count": 3, "lastMsgSeq": 3}),
        )
        .await;
    assert_eq!(texts(&page(&newer)), ["t3", "t4", "t5"]);
    assert_eq!(newer["isFinished"], false);
    let newer_from_id = alice
        .call(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_bob", "getType": 2, "count": 10,
                   "lastMsgID": sent[4]["msgID"]}),
        )
        .await;
    assert_eq!(texts(&page(&newer_from_id)), ["t6", "t7"]);
    assert_eq!(newer_from_id["isFinished"], true);

    // A msgID from elsewhere is refused, as is a local getType.
    let (code, _) = alice
        .call_err(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_bob", "getType": 1, "count": 3, "lastMsgID": "999-1-x"}),
        )
        .await;
    assert_eq!(code, 6017);
    let (code, _) = alice
        .call_err(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_bob", "getType": 3, "count": 3}),
        )
        .await;
    assert_eq!(code, 6017);
    let (code, _) = alice
        .call_err(
            "getHistoryMessageList",
            json!({"conversationID": "bob", "getType": 1, "count": 3}),
        )
        .await;
    assert_eq!(code, 6004);
}

#[tokio::test]
async fn group_and_targeted_delivery_and_visibility() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    let mut dave = server.login("dave").await;
    let group = alice
        .create_group("Work", "team", &["bob", "carol", "dave"])
        .await;
    assert_eq!(group, "team");
    for c in [&mut bob, &mut carol, &mut dave] {
        let ev = c.expect_push("groupEvent").await;
        assert_eq!(ev["event"], "invited");
        assert_eq!(ev["groupID"], "team");
    }

    let hello = alice.send_text_to("", "team", "g1", "hello all").await;
    assert_eq!(hello["seq"], 1);
    assert_eq!(hello["groupID"], "team");
    for c in [&mut bob, &mut carol, &mut dave] {
        let push = c.expect_push("newMessage").await;
        assert_eq!(push["message"]["msgID"], hello["msgID"]);
        assert_eq!(push["unreadCounted"], true);
    }

    // Targeted to bob and carol.
    let mut p = text_params("g2", "", "team", "secret");
    p["targetGroupMemberList"] = json!(["bob", "carol"]);
    let secret = alice.call("sendMessage", p).await["message"].clone();
    assert_eq!(secret["seq"], 2, "a targeted message consumes a group seq");
    assert_eq!(secret["targetGroupMemberList"], json!(["bob", "carol"]));
    for c in [&mut bob, &mut carol] {
        let push = c.expect_push("newMessage").await;
        assert_eq!(push["message"]["msgID"], secret["msgID"]);
        assert_eq!(
            push["unreadCounted"], false,
            "targeted messages are not unread"
        );
    }
    let after = alice.send_text_to("", "team", "g3", "after").await;
    // Dave's next push is "after": the targeted message never reached him.
    assert_eq!(dave.expect_message().await["msgID"], after["msgID"]);
    for c in [&mut bob, &mut carol] {
        assert_eq!(c.expect_message().await["msgID"], after["msgID"]);
    }

    // receiver + groupID = targeted to that one member.
    let psst = alice.send_text_to("bob", "team", "g4", "psst").await;
    assert_eq!(psst["targetGroupMemberList"], json!(["bob"]));
    assert_eq!(psst["groupID"], "team");
    assert_eq!(bob.expect_message().await["msgID"], psst["msgID"]);
    let last = alice.send_text_to("", "team", "g5", "last").await;
    assert_eq!(carol.expect_message().await["msgID"], last["msgID"]);
    assert_eq!(dave.expect_message().await["msgID"], last["msgID"]);
    assert_eq!(bob.expect_message().await["msgID"], last["msgID"]);

    // History.
    assert_eq!(
        texts(&dave.history("group_team", 20).await),
        ["last", "after", "hello all"]
    );
    assert_eq!(
        texts(&carol.history("group_team", 20).await),
        ["last", "after", "secret", "hello all"]
    );
    assert_eq!(
        texts(&bob.history("group_team", 20).await),
        ["last", "psst", "after", "secret", "hello all"]
    );
    assert_eq!(
        texts(&alice.history("group_team", 20).await),
        ["last", "psst", "after", "secret", "hello all"]
    );

    // Sync.
    let (dave_sync, _) = dave.sync_all(0).await;
    assert_eq!(texts(&dave_sync), ["hello all", "after", "last"]);
    let (bob_sync, _) = bob.sync_all(0).await;
    assert_eq!(
        texts(&bob_sync),
        ["hello all", "secret", "after", "psst", "last"]
    );

    // Unread: targeted messages never count.
    for c in [&mut bob, &mut carol, &mut dave] {
        assert_eq!(c.conversation("group_team").await["unreadCount"], 3);
    }
    // lastMessage: the newest one visible to each member.
    let psst2 = alice.send_text_to("bob", "team", "g6", "psst again").await;
    assert_eq!(bob.expect_message().await["msgID"], psst2["msgID"]);
    assert_eq!(
        bob.conversation("group_team").await["lastMessage"]["msgID"],
        psst2["msgID"]
    );
    assert_eq!(
        dave.conversation("group_team").await["lastMessage"]["msgID"],
        last["msgID"]
    );
    assert_eq!(
        carol.conversation("group_team").await["lastMessage"]["msgID"],
        last["msgID"]
    );
    let list = dave
        .call("getConversationList", json!({"nextSeq": "0", "count": 10}))
        .await;
    assert_eq!(
        list["conversationList"][0]["lastMessage"]["msgID"],
        last["msgID"]
    );
}

#[tokio::test]
async fn targeted_refusals() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    for u in ["bob", "carol", "zed"] {
        server.login(u).await;
    }
    alice.create_group("Work", "w", &["bob", "carol"]).await;
    alice
        .create_group("Community", "@TGS#_club", &["bob"])
        .await;
    alice.create_group("AVChatRoom", "live", &[]).await;

    let targeted = |group: &str, targets: Value| {
        let mut p = text_params("t", "", group, "x");
        p["targetGroupMemberList"] = targets;
        p
    };
    let many: Vec<String> = (0..51).map(|i| format!("u{i}")).collect();
    let (code, desc) = alice
        .call_err("sendMessage", targeted("w", json!(many)))
        .await;
    assert_eq!(code, 10004);
    assert!(desc.contains("50"), "{desc}");

    let (code, desc) = alice
        .call_err("sendMessage", targeted("w", json!(["bob", "zed"])))
        .await;
    assert_eq!(code, 10004);
    assert!(
        desc.contains("zed") && desc.contains("not a member"),
        "{desc}"
    );

    let mut at = targeted("w", json!(["bob"]));
    at["groupAtUserList"] = json!(["carol"]);
    let (code, desc) = alice.call_err("sendMessage", at).await;
    assert_eq!(code, 10004);
    assert!(desc.contains("@"), "{desc}");

    let (code, desc) = alice
        .call_err("sendMessage", targeted("@TGS#_club", json!(["bob"])))
        .await;
    assert_eq!(code, 10004);
    assert!(desc.contains("Community"), "{desc}");
    let (code, desc) = alice
        .call_err("sendMessage", targeted("live", json!(["alice"])))
        .await;
    assert_eq!(code, 10004);
    assert!(desc.contains("AVChatRoom"), "{desc}");

    let mut c2c = text_params("t", "bob", "", "x");
    c2c["targetGroupMemberList"] = json!(["bob"]);
    assert_eq!(alice.call_err("sendMessage", c2c).await.0, 6017);

    // Nothing of that was stored.
    assert!(alice.history("group_w", 10).await.is_empty());
}

#[tokio::test]
async fn online_user_only_is_delivered_live_and_never_stored() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    server.login("carol").await; // carol has an account but is offline now

    let stored = alice.send_text_to("bob", "", "s1", "stored").await;
    assert_eq!(bob.expect_message().await["msgID"], stored["msgID"]);

    let mut p = text_params("o1", "bob", "", "typing…");
    p["onlineUserOnly"] = json!(true);
    let r = alice.call("sendMessage", p).await;
    assert_eq!(r["message"]["seq"], 0);
    assert_eq!(r["message"]["isOnlineOnly"], true);
    assert!(
        r.get("cursor").is_none(),
        "online-only messages have no sync position"
    );
    let push = bob.expect_push("newMessage").await;
    assert_eq!(push["message"]["msgID"], r["message"]["msgID"]);
    assert_eq!(push["unreadCounted"], false);
    assert!(push.get("cursor").is_none());

    // To an offline user: gone.
    let mut p = text_params("o2", "carol", "", "are you there?");
    p["onlineUserOnly"] = json!(true);
    alice.call("sendMessage", p).await;
    let mut carol = server.login("carol").await;
    assert!(carol.sync_all(0).await.0.is_empty());
    assert!(carol.history("c2c_alice", 10).await.is_empty());
    assert!(
        carol
            .call("getConversationList", json!({"count": 10}))
            .await["conversationList"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // Never stored, never unread, never the last message.
    assert_eq!(texts(&bob.history("c2c_alice", 10).await), ["stored"]);
    assert_eq!(texts(&bob.sync_all(0).await.0), ["stored"]);
    let conv = bob.conversation("c2c_alice").await;
    assert_eq!(conv["unreadCount"], 1);
    assert_eq!(conv["lastMessage"]["msgID"], stored["msgID"]);

    // In a group: the same, and a retry with the same id is not deduplicated (never stored).
    alice.create_group("Public", "pub", &["bob"]).await;
    bob.expect_push("groupEvent").await;
    let mut p = text_params("o3", "", "pub", "live only");
    p["onlineUserOnly"] = json!(true);
    let r = alice.call("sendMessage", p).await;
    assert_eq!(r["message"]["seq"], 0);
    assert_eq!(bob.expect_message().await["msgID"], r["message"]["msgID"]);
    assert!(bob.history("group_pub", 10).await.is_empty());
    assert_eq!(bob.conversation("group_pub").await["unreadCount"], 0);

    // AVChatRoom does not support it.
    alice.create_group("AVChatRoom", "live", &[]).await;
    let mut p = text_params("o4", "", "live", "x");
    p["onlineUserOnly"] = json!(true);
    assert_eq!(alice.call_err("sendMessage", p).await.0, 10004);
}

#[tokio::test]
async fn exclusion_flags_do_exactly_that() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;

    let m1 = alice.send_text_to("bob", "", "e1", "normal").await;
    let mut p = text_params("e2", "bob", "", "not unread");
    p["isExcludedFromUnreadCount"] = json!(true);
    let m2 = alice.call("sendMessage", p).await["message"].clone();
    let mut p = text_params("e3", "bob", "", "not last");
    p["isExcludedFromLastMessage"] = json!(true);
    let m3 = alice.call("sendMessage", p).await["message"].clone();

    let pushes = [
        bob.expect_push("newMessage").await,
        bob.expect_push("newMessage").await,
        bob.expect_push("newMessage").await,
    ];
    assert_eq!(pushes[0]["message"]["msgID"], m1["msgID"]);
    assert_eq!(pushes[0]["unreadCounted"], true);
    assert_eq!(pushes[1]["unreadCounted"], false);
    assert_eq!(pushes[1]["message"]["isExcludedFromUnreadCount"], true);
    assert_eq!(pushes[2]["unreadCounted"], true);
    assert_eq!(pushes[2]["message"]["isExcludedFromLastMessage"], true);

    let conv = bob.conversation("c2c_alice").await;
    assert_eq!(conv["unreadCount"], 2, "m1 and m3 count; m2 does not");
    assert_eq!(
        conv["lastMessage"]["msgID"], m2["msgID"],
        "m3 is not the last message"
    );
    assert_eq!(
        bob.call("getTotalUnreadMessageCount", json!({})).await["totalUnreadCount"],
        2
    );
    // Both still stored and in history.
    assert_eq!(
        msg_ids(&bob.history("c2c_alice", 10).await),
        msg_ids(&[m3.clone(), m2.clone(), m1.clone()])
    );
    // The sender's own view: lastMessage skips m3 too.
    assert_eq!(
        alice.conversation("c2c_bob").await["lastMessage"]["msgID"],
        m2["msgID"]
    );
    assert_eq!(alice.conversation("c2c_bob").await["unreadCount"], 0);
}

#[tokio::test]
async fn every_flag_and_cloud_custom_data_is_stored_and_delivered() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    alice.create_group("Work", "crew", &["bob"]).await;
    bob.expect_push("groupEvent").await;

    let data = r#"{"kind":"订单","items":[{"名称":"茶","数量":2}],"emoji":"🍵"}"#;
    let params = json!({
        "id": "c1",
        "groupID": "crew",
        "elemType": 2,
        "customElem": {"data": data, "desc": "中文描述：新订单", "extension": "扩展字段"},
        "priority": 1,
        "needReadReceipt": true,
        "isSupportMessageExtension": true,
        "offlinePushInfo": {"title": "新消息", "desc": "你有一个订单", "ext": "{\"k\":1}", "disablePush": true},
        "cloudCustomData": "云端数据 ☁",
        "random": 12345,
        // Never meant for the wire; a server must not keep it even if a client sends it.
        "localCustomData": "only on my device",
    });
    let ack = alice.call("sendMessage", params).await["message"].clone();
    let pushed = bob.expect_message().await;
    let history = bob.history("group_crew", 1).await;
    let (synced, _) = bob.sync_all(0).await;
    for m in [&ack, &pushed, &history[0], &synced[0]] {
        assert_eq!(m["elemType"], 2);
        assert_eq!(m["customElem"]["data"], data);
        assert_eq!(m["customElem"]["desc"], "中文描述：新订单");
        assert_eq!(m["customElem"]["extension"], "扩展字段");
        assert_eq!(m["priority"], 1);
        assert_eq!(m["needReadReceipt"], true);
        assert_eq!(m["isSupportMessageExtension"], true);
        assert_eq!(m["offlinePushInfo"]["title"], "新消息");
        assert_eq!(m["offlinePushInfo"]["desc"], "你有一个订单");
        assert_eq!(m["offlinePushInfo"]["ext"], "{\"k\":1}");
        assert_eq!(m["offlinePushInfo"]["disablePush"], true);
        assert_eq!(m["cloudCustomData"], "云端数据 ☁");
        assert_eq!(m["random"], 12345);
        assert!(
            m.get("localCustomData").is_none(),
            "localCustomData crossed the wire: {m}"
        );
        assert_eq!(m["msgID"], ack["msgID"]);
    }
    // The database never saw it either (the SQLite file is read; on PostgreSQL this part
    // is skipped).
    let sqlite = !common::on_postgres();
    let db = std::fs::read(server.dir.join("termim.db")).unwrap_or_default();
    let wal = std::fs::read(server.dir.join("termim.db-wal")).unwrap_or_default();
    let needle = b"only on my device";
    assert!(!db.windows(needle.len()).any(|w| w == needle));
    assert!(!wal.windows(needle.len()).any(|w| w == needle));
    let cloud = "云端数据".as_bytes();
    assert!(
        !sqlite
            || db.windows(cloud.len()).any(|w| w == cloud)
            || wal.windows(cloud.len()).any(|w| w == cloud),
        "cloudCustomData is stored"
    );

    // Chinese text round-trips in C2C too.
    let t = alice
        .send_text_to("bob", "", "c2", "你好，世界！🌏 混合 text")
        .await;
    assert_eq!(
        bob.expect_message().await["textElem"]["text"],
        "你好，世界！🌏 混合 text"
    );
    assert_eq!(bob.history("c2c_alice", 1).await[0]["msgID"], t["msgID"]);
}

#[tokio::test]
async fn refusals_carry_v2tim_codes() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut carol = server.login("carol").await;
    server.login("bob").await;
    alice.create_group("Work", "w", &["bob"]).await;

    let cases: Vec<(Value, i64)> = vec![
        (text_params("r1", "", "nope", "x"), 10010),
        (text_params("r2", "", "", "x"), 6017),
        (text_params("r3", "b o b", "", "x"), 6017),
        (text_params("r4", "", "bad id with spaces", "x"), 6017),
        (text_params("r5", "nobody", "", "x"), 20003),
        (text_params("", "bob", "", "x"), 6017),
        (
            json!({"id": "r6", "receiver": "bob", "elemType": 2, "textElem": {"text": "x"}}),
            6016,
        ),
        (json!({"id": "r7", "receiver": "bob", "elemType": 9}), 6016),
        (json!({"id": "r8", "receiver": "bob"}), 6017),
    ];
    for (params, code) in cases {
        let (got, desc) = alice.call_err("sendMessage", params.clone()).await;
        assert_eq!(got, code, "{params} → {desc}");
        assert!(!desc.is_empty());
    }
    // Not a member.
    let (code, desc) = carol
        .call_err("sendMessage", text_params("r9", "", "w", "x"))
        .await;
    assert_eq!(code, 10007);
    assert!(desc.contains("not a member"), "{desc}");
    assert_eq!(
        carol
            .call_err(
                "getHistoryMessageList",
                json!({"conversationID": "group_w", "count": 5})
            )
            .await
            .0,
        10007
    );

    // Body limit: 12 KB of text + cloud custom data.
    let exactly = "a".repeat(12 * 1024);
    alice.send_text_to("bob", "", "r10", &exactly).await;
    let (code, desc) = alice
        .call_err(
            "sendMessage",
            text_params("r11", "bob", "", &format!("{exactly}b")),
        )
        .await;
    assert_eq!(code, 80002);
    assert!(desc.contains("12288"), "{desc}");
    let mut p = text_params("r12", "bob", "", &"c".repeat(12 * 1024 - 5));
    p["cloudCustomData"] = json!("123456");
    assert_eq!(alice.call_err("sendMessage", p).await.0, 80002);
    // Custom elem counts data + desc + extension.
    let p = json!({"id": "r13", "receiver": "bob", "elemType": 2,
        "customElem": {"data": "d".repeat(6000), "desc": "e".repeat(6000), "extension": "f".repeat(300)}});
    assert_eq!(alice.call_err("sendMessage", p).await.0, 80002);

    // Refused sends leave nothing behind: bob's history holds just the 12 KB message.
    let mut bob = server.login("bob").await;
    assert_eq!(bob.history("c2c_alice", 10).await.len(), 1);
}

#[tokio::test]
async fn a_retried_send_returns_the_stored_message() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;

    let first = alice.send_text_to("bob", "", "same-id", "original").await;
    bob.expect_message().await;
    // A retry (say, after a lost ack) — even with other content — is the stored message.
    let again = alice.send_text_to("bob", "", "same-id", "changed").await;
    assert_eq!(again, first);

    // Pipelined duplicates, without waiting for the first ack.
    let a = alice
        .send_request("sendMessage", text_params("dup", "bob", "", "x"))
        .await;
    let b = alice
        .send_request("sendMessage", text_params("dup", "bob", "", "x"))
        .await;
    let (ra, rb) = (alice.response(a).await, alice.response(b).await);
    assert_eq!(ra["code"], 0);
    assert_eq!(ra["data"], rb["data"]);

    // Bob got exactly one push per message: the next after "dup" is the sentinel.
    let dup = bob.expect_message().await;
    assert_eq!(dup["msgID"], ra["data"]["message"]["msgID"]);
    let sentinel = alice.send_text_to("bob", "", "sentinel", "end").await;
    assert_eq!(bob.expect_message().await["msgID"], sentinel["msgID"]);
    assert_eq!(
        texts(&bob.history("c2c_alice", 10).await),
        ["end", "x", "original"]
    );
    // Same id from another sender is another message.
    let from_bob = bob.send_text_to("alice", "", "same-id", "bob's").await;
    assert_ne!(from_bob["msgID"], first["msgID"]);
}

#[tokio::test]
async fn sync_pages_in_commit_order_and_resumes_from_the_cursor() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    alice.create_group("Meeting", "m", &["bob"]).await;
    let mut order = Vec::new();
    for i in 0..12 {
        let m = match i % 3 {
            0 => {
                alice
                    .send_text_to("bob", "", &format!("s{i}"), &format!("c2c {i}"))
                    .await
            }
            1 => {
                alice
                    .send_text_to("", "m", &format!("s{i}"), &format!("group {i}"))
                    .await
            }
            _ => {
                carol
                    .send_text_to("bob", "", &format!("s{i}"), &format!("carol {i}"))
                    .await
            }
        };
        order.push(m["msgID"].clone());
    }
    // Pages of 5 follow the cursor, oldest first, in commit order.
    let mut cursor = 0;
    let mut got = Vec::new();
    let mut pages = 0;
    loop {
        let data = bob
            .call("sync", json!({"cursor": cursor, "count": 5}))
            .await;
        let list = data["messageList"].as_array().cloned().unwrap_or_default();
        assert!(list.len() <= 5);
        got.extend(list.iter().map(|m| m["msgID"].clone()));
        cursor = data["cursor"].as_u64().expect("cursor");
        pages += 1;
        if data["isFinished"] == true {
            break;
        }
    }
    assert_eq!(got, order);
    assert_eq!(pages, 3);
    // Nothing new: an empty, finished page at the same cursor.
    let data = bob
        .call("sync", json!({"cursor": cursor, "count": 5}))
        .await;
    assert_eq!(data["messageList"], json!([]));
    assert_eq!(data["cursor"], cursor);
    // One more arrives: it is exactly what the next sync returns, and its push carries
    // the same cursor.
    let m = alice.send_text_to("bob", "", "late", "late").await;
    let push = loop {
        let p = bob.push_named("newMessage").await;
        if p["message"]["msgID"] == m["msgID"] {
            break p;
        }
    };
    let data = bob
        .call("sync", json!({"cursor": cursor, "count": 5}))
        .await;
    assert_eq!(
        msg_ids(data["messageList"].as_array().expect("list")),
        [m["msgID"].clone()]
    );
    assert_eq!(data["cursor"], push["cursor"]);
}
