//! Limits and abuse (issue 5 §4): the per-connection request rate (-20009), the per-group
//! send rate (10023), heartbeats that reap silent connections. The 64 KiB frame cap, the
//! login deadline and the slow-consumer disconnect are in server_hostile.rs.
//!
//! The limits are made small through `ServerOptions`; nothing here asserts a duration.

mod common;

use std::time::Duration;

use common::raw::{Ended, RawClient, TestServer, text_params, within};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use termim::server::{Rate, ServerOptions};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

const FREQUENCY_LIMIT: i64 = -20009;
const GROUP_SEND_LIMIT: i64 = 10023;

/// Send `n` requests without waiting, then collect their answers by reqId.
async fn burst(
    c: &mut RawClient,
    n: usize,
    mut params: impl FnMut(usize) -> (String, Value),
) -> Vec<Value> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let (op, p) = params(i);
        ids.push(c.send_request(&op, p).await);
    }
    let mut answers = Vec::with_capacity(n);
    for id in ids {
        answers.push(c.response(id).await);
    }
    answers
}

fn codes_of(answers: &[Value]) -> Vec<i64> {
    answers
        .iter()
        .map(|a| a["code"].as_i64().expect("code"))
        .collect()
}

#[tokio::test]
async fn requests_over_the_connection_rate_are_answered_20009_not_dropped() {
    let server = TestServer::start_with(ServerOptions {
        request_rate: Some(Rate::new(1, 5)),
        max_refused_in_a_row: 1000,
        ..ServerOptions::default()
    })
    .await;
    let mut c = server.login("alice").await; // spends one of the five
    let answers = burst(&mut c, 30, |_| ("ping".into(), json!({}))).await;
    let codes = codes_of(&answers);
    assert!(
        codes.iter().all(|&c| c == 0 || c == FREQUENCY_LIMIT),
        "{codes:?}"
    );
    let passed = codes.iter().filter(|&&c| c == 0).count();
    assert!(passed >= 4, "the burst lets four through: {codes:?}");
    assert!(
        passed < 30,
        "30 requests at once must meet a 1/s limit: {codes:?}"
    );
    let refused = answers
        .iter()
        .find(|a| a["code"] == FREQUENCY_LIMIT)
        .expect("a refusal");
    let desc = refused["desc"].as_str().unwrap_or_default();
    assert!(desc.contains("too many requests"), "{desc}");
    assert!(refused["reqId"].as_u64().unwrap_or(0) > 0, "{refused}");

    // A refused request was not carried out: a refused send stores nothing.
    server.login("bob").await;
    let answers = burst(&mut c, 10, |i| {
        (
            "sendMessage".into(),
            text_params(&format!("r{i}"), "bob", "", &format!("r{i}")),
        )
    })
    .await;
    let stored = answers.iter().filter(|a| a["code"] == 0).count();
    assert!(answers.iter().any(|a| a["code"] == FREQUENCY_LIMIT));

    // The connection stays open and is served again once the bucket refills.
    let mut bob = server.login("bob").await;
    assert_eq!(bob.history("c2c_alice", 50).await.len(), stored);
    within("the rate to let a request through again", async {
        loop {
            if c.request("ping", json!({})).await["code"] == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_connection_that_keeps_hammering_is_closed_with_1008() {
    let server = TestServer::start_with(ServerOptions {
        request_rate: Some(Rate::new(1, 2)),
        max_refused_in_a_row: 5,
        ..ServerOptions::default()
    })
    .await;
    let mut c = server.login("mallory").await;
    for _ in 0..40 {
        c.send_request("ping", json!({})).await;
    }
    match c.ended().await {
        Ended::Close(code, reason) => {
            assert_eq!(code, 1008);
            assert!(reason.contains("rate"), "{reason}");
        }
        other => panic!("expected a 1008 close, got {other:?}"),
    }
    // Everyone else is served.
    let mut alice = server.login("alice").await;
    alice.call("ping", json!({})).await;
}

#[tokio::test]
async fn group_sends_over_the_group_rate_get_10023_and_nothing_is_stored() {
    let server = TestServer::start_with(ServerOptions {
        request_rate: None,
        group_send_rate: Some(Rate::new(1, 3)),
        ..ServerOptions::default()
    })
    .await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    alice.create_group("Work", "busy", &["bob"]).await;
    alice.create_group("Work", "calm", &["bob"]).await;

    // Two senders share the group's rate.
    let answers = burst(&mut alice, 12, |i| {
        (
            "sendMessage".into(),
            text_params(&format!("a{i}"), "", "busy", &format!("a{i}")),
        )
    })
    .await;
    let bob_answers = burst(&mut bob, 4, |i| {
        (
            "sendMessage".into(),
            text_params(&format!("b{i}"), "", "busy", &format!("b{i}")),
        )
    })
    .await;
    let all: Vec<Value> = answers.iter().chain(&bob_answers).cloned().collect();
    let codes = codes_of(&all);
    assert!(
        codes.iter().all(|&c| c == 0 || c == GROUP_SEND_LIMIT),
        "{codes:?}"
    );
    let acked: Vec<&Value> = all.iter().filter(|a| a["code"] == 0).collect();
    assert!(
        acked.len() >= 3,
        "the burst of three goes through: {codes:?}"
    );
    assert!(acked.len() < all.len(), "16 sends must meet 1/s: {codes:?}");
    let refusal = all
        .iter()
        .find(|a| a["code"] == GROUP_SEND_LIMIT)
        .expect("a refusal");
    assert!(
        refusal["desc"]
            .as_str()
            .unwrap_or_default()
            .contains("busy"),
        "{refusal}"
    );

    // Only the acknowledged ones exist, with a dense seq.
    let history = alice.history("group_busy", 100).await;
    assert_eq!(history.len(), acked.len());
    let mut seqs: Vec<u64> = history.iter().filter_map(|m| m["seq"].as_u64()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=acked.len() as u64).collect::<Vec<_>>());

    // A retry of an acknowledged send is answered from storage even now.
    let first_ok = answers.iter().position(|a| a["code"] == 0).expect("one ok");
    let again = alice
        .request(
            "sendMessage",
            text_params(&format!("a{first_ok}"), "", "busy", "again"),
        )
        .await;
    assert_eq!(again["code"], 0, "{again}");
    assert_eq!(
        again["data"]["message"]["msgID"],
        answers[first_ok]["data"]["message"]["msgID"]
    );

    // Other groups and C2C have their own budgets.
    for i in 0..3 {
        alice
            .send_text_to("", "calm", &format!("c{i}"), "calm")
            .await;
    }
    for i in 0..5 {
        alice
            .send_text_to("bob", "", &format!("d{i}"), "direct")
            .await;
    }
}

/// Frames straight off a TCP socket (server frames are unmasked): (opcode, payload).
fn parse_frames(mut buf: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while buf.len() >= 2 {
        let opcode = buf[0] & 0x0f;
        let (len, header) = match buf[1] & 0x7f {
            126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
            127 if buf.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&buf[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            n if n < 126 => (n as usize, 2),
            _ => break,
        };
        if buf.len() < header + len {
            break;
        }
        out.push((opcode, buf[header..header + len].to_vec()));
        buf = &buf[header + len..];
    }
    out
}

#[tokio::test]
async fn a_silent_connection_is_reaped_and_a_live_one_is_kept() {
    let server = TestServer::start_with(ServerOptions {
        heartbeat_interval: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(300),
        ..ServerOptions::default()
    })
    .await;

    // ghost logs in, then never reads or writes again at the WebSocket level (a dead
    // peer): it answers no ping.
    let addr = server.url().trim_start_matches("ws://").to_string();
    let tcp = tokio::net::TcpStream::connect(&addr).await.expect("tcp");
    let (mut ghost, _) = within(
        "handshake",
        tokio_tungstenite::client_async(server.url(), tcp),
    )
    .await
    .expect("handshake");
    let login = json!({"reqId": 1, "op": "login",
        "params": {"userID": "ghost", "userSig": server.sig("ghost")}});
    ghost
        .send(Message::Text(login.to_string().into()))
        .await
        .expect("send login");
    let mut raw = Vec::new();
    within("the server to close the silent connection", async {
        let tcp = ghost.get_mut();
        let mut chunk = [0u8; 4096];
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let frames = parse_frames(&raw);
    let login_answer = frames
        .iter()
        .find(|(op, _)| *op == 0x1)
        .expect("the login answer");
    let answer: Value = serde_json::from_slice(&login_answer.1).expect("json");
    assert_eq!(answer["code"], 0, "{answer}");
    assert!(
        frames.iter().any(|(op, _)| *op == 0x9),
        "the server pinged: {frames:?}"
    );
    let (_, close) = frames
        .iter()
        .find(|(op, _)| *op == 0x8)
        .expect("a close frame");
    assert_eq!(u16::from_be_bytes([close[0], close[1]]), 1008);
    let reason = String::from_utf8_lossy(&close[2..]);
    assert!(reason.contains("heartbeat"), "{reason}");

    // The server forgot it: ghost is offline. (alice logs in only now: a test client
    // that sits idle without reading answers no ping and would be reaped too.)
    let mut alice = server.login("alice").await;
    alice.create_group("Work", "seance", &["ghost"]).await;
    let members = alice
        .call(
            "getGroupMemberList",
            json!({"groupID": "seance", "filter": 0, "nextSeq": "0", "count": 10}),
        )
        .await;
    let ghost_entry = members["memberInfoList"]
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["userID"] == "ghost")
        .cloned()
        .expect("ghost is a member");
    assert_eq!(ghost_entry["isOnline"], false);

    // A client whose WebSocket stack answers pings lives through many idle timeouts.
    let (mut live, _) = within("connect", tokio_tungstenite::connect_async(server.url()))
        .await
        .expect("connect");
    let login = json!({"reqId": 1, "op": "login",
        "params": {"userID": "bob", "userSig": server.sig("bob")}});
    live.send(Message::Text(login.to_string().into()))
        .await
        .expect("send login");
    let mut pings = 0;
    while pings < 20 {
        match within("a frame", live.next()).await {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Close(c))) => panic!("a live connection was closed: {c:?}"),
            Some(Ok(_)) => {}
            other => panic!("a live connection ended: {other:?}"),
        }
    }
    live.send(Message::Text(
        json!({"reqId": 2, "op": "ping"}).to_string().into(),
    ))
    .await
    .expect("send ping");
    loop {
        match within("the ping answer", live.next()).await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).expect("json");
                if v["reqId"] == 2 {
                    assert_eq!(v["code"], 0);
                    break;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("a live connection ended: {other:?}"),
        }
    }
}

#[tokio::test]
async fn sync_pages_are_bounded_in_bytes_and_lose_nothing() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let body = "y".repeat(10 * 1024);
    let answers = burst(&mut alice, 60, |i| {
        (
            "sendMessage".into(),
            text_params(&format!("big{i}"), "bob", "", &body),
        )
    })
    .await;
    assert!(answers.iter().all(|a| a["code"] == 0));
    // 60 × 10 KiB is over 256 KiB: the first page stops early.
    let first = bob.call("sync", json!({"cursor": 0, "count": 500})).await;
    let n = first["messageList"].as_array().map_or(0, Vec::len);
    assert!((1..60).contains(&n), "first page holds {n}");
    assert_eq!(first["isFinished"], false);
    let page_bytes = first.to_string().len();
    assert!(page_bytes < 300 * 1024, "page of {page_bytes} bytes");
    // Paging on from the cursor returns the rest, once each, in order.
    let (all, _) = bob.sync_all(0).await;
    let sent: Vec<Value> = answers
        .iter()
        .map(|a| a["data"]["message"]["msgID"].clone())
        .collect();
    let got: Vec<Value> = all.iter().map(|m| m["msgID"].clone()).collect();
    assert_eq!(got, sent);
}

/// Issue 10.2: conversation-state writes (read marks, pins, deletes, custom data) are
/// rated per user across all of its connections: beyond the rate -20009, not carried out,
/// with when to retry; other users are not touched.
#[tokio::test]
async fn conversation_writes_are_rated_per_user() {
    let server = TestServer::start_with(ServerOptions {
        conversation_write_rate: Some(Rate::new(1, 6)),
        ..ServerOptions::default()
    })
    .await;
    let mut alice = server.login("alice").await;
    let mut alice2 = server.login("alice").await;
    let mut bob = server.login("bob").await;
    bob.send_text_to("alice", "", "m1", "hi").await;
    alice.send_text_to("bob", "", "m2", "hi").await;
    let pin = |i: usize| {
        (
            "pinConversation".to_string(),
            json!({"conversationID": "c2c_bob", "isPinned": i.is_multiple_of(2)}),
        )
    };
    let mut answers = burst(&mut alice, 3, pin).await;
    answers.extend(burst(&mut alice2, 3, pin).await);
    assert_eq!(codes_of(&answers), [0; 6], "the burst of 6 is let through");
    let refused = alice
        .call_err(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": "c2c_bob"}),
        )
        .await;
    assert_eq!(refused.0, FREQUENCY_LIMIT, "{refused:?}");
    assert!(refused.1.contains("retry in"), "{refused:?}");
    let refused = alice2
        .call_err(
            "setConversationCustomData",
            json!({"conversationIDList": ["c2c_bob"], "customData": "x"}),
        )
        .await;
    assert_eq!(
        refused.0, FREQUENCY_LIMIT,
        "the other connection shares the rate"
    );
    // Not carried out: the conversation has no custom data, the message is still unread.
    let conv = alice.conversation("c2c_bob").await;
    assert_eq!(conv["customData"], "");
    assert_eq!(conv["unreadCount"], 1);
    // Bob has his own rate.
    bob.call(
        "pinConversation",
        json!({"conversationID": "c2c_alice", "isPinned": true}),
    )
    .await;
    // Reads are not rated, and the rate comes back.
    alice.call("getTotalUnreadMessageCount", json!({})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": "c2c_bob"}),
        )
        .await;
    assert_eq!(alice.conversation("c2c_bob").await["unreadCount"], 0);
}

/// Issue 10.2: one user is in at most `max_groups_per_user` groups (10037): creating,
/// joining and being invited or added beyond it are refused.
#[tokio::test]
async fn a_user_is_in_a_bounded_number_of_groups() {
    let server = TestServer::start_with(ServerOptions {
        max_groups_per_user: 2,
        ..ServerOptions::default()
    })
    .await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    alice.create_group("Public", "g1", &[]).await;
    alice.create_group("Public", "g2", &[]).await;
    let (code, desc) = alice
        .call_err(
            "createGroup",
            json!({"groupType": "Public", "groupName": "three", "groupID": "g3"}),
        )
        .await;
    assert_eq!(code, 10037, "{desc}");
    assert!(desc.contains("at most 2"), "{desc}");
    bob.create_group("Public", "b1", &[]).await;
    let (code, _) = bob
        .call_err(
            "createGroup",
            json!({"groupType": "Work", "groupName": "w", "groupID": "b2",
                   "memberList": [{"userID": "alice"}]}),
        )
        .await;
    assert_eq!(
        code, 10037,
        "an initial member over the cap refuses the creation"
    );
    bob.create_group("Work", "b2", &[]).await;
    let invited = bob
        .call(
            "inviteUserToGroup",
            json!({"groupID": "b2", "userList": ["alice"]}),
        )
        .await;
    assert_eq!(invited[0]["result"], 0, "{invited}");
    assert_eq!(
        alice
            .call_err("joinGroup", json!({"groupID": "b1"}))
            .await
            .0,
        10037
    );
    // Leaving one makes room.
    alice.call("dismissGroup", json!({"groupID": "g2"})).await;
    alice.call("joinGroup", json!({"groupID": "b1"})).await;
}
