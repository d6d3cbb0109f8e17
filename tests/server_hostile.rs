//! Hostile input (issue 2 §8) and UserSig refusals: each gets a clear error response or
//! close code, the server keeps serving everyone else, and nothing stored is lost.

mod common;

use std::time::Duration;

use common::raw::{Ended, RawClient, TestServer, text_params, texts, within};
use futures_util::SinkExt;
use serde_json::{Value, json};
use termim::server::ServerOptions;
use termim::usersig::{self, AppKey};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// Proof that the server still serves others: a message from alice reaches bob.
async fn still_serving(server: &TestServer, tag: &str) {
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let m = alice
        .send_text_to("bob", "", &format!("alive-{tag}"), tag)
        .await;
    assert_eq!(bob.expect_message().await["msgID"], m["msgID"]);
}

async fn read_response(c: &mut RawClient) -> Value {
    c.next_response().await
}

#[tokio::test]
async fn malformed_json_gets_20001_and_the_connection_keeps_serving() {
    let server = TestServer::start().await;
    let mut c = server.connect().await;

    c.send_text("{not json").await;
    let r = read_response(&mut c).await;
    assert_eq!(r["reqId"], 0);
    assert_eq!(r["code"], 20001);
    assert!(
        r["desc"].as_str().unwrap_or("").contains("malformed"),
        "{r}"
    );

    // Valid JSON, wrong shape: the reqId is found and echoed.
    c.send_text(r#"{"reqId": 5, "op": 3}"#).await;
    let r = read_response(&mut c).await;
    assert_eq!(
        (r["reqId"].clone(), r["code"].clone()),
        (json!(5), json!(20001))
    );
    c.send_text("[1, 2, 3]").await;
    assert_eq!(read_response(&mut c).await["code"], 20001);

    // The same socket logs in and works afterwards.
    let sig = server.sig("alice");
    c.call("login", json!({"userID": "alice", "userSig": sig}))
        .await;
    c.send_text(r#"{"reqId": 9, "op": "ping", "params": "#)
        .await;
    let r = read_response(&mut c).await;
    assert_eq!(r["code"], 20001);
    assert!(
        c.call("ping", json!({})).await["serverTime"]
            .as_i64()
            .unwrap_or(0)
            > 0
    );

    // Params of the wrong type: 6017 naming the problem.
    let (code, desc) = c.call_err("sendMessage", json!({"id": 7})).await;
    assert_eq!(code, 6017);
    assert!(desc.contains("sendMessage"), "{desc}");
}

#[tokio::test]
async fn unknown_ops_and_ops_before_login() {
    let server = TestServer::start().await;
    let mut c = server.connect().await;
    for op in ["sendMessage", "getConversationList", "sync", "ping", "fly"] {
        let (code, desc) = c.call_err(op, json!({})).await;
        assert_eq!(code, 6014, "{op} before login");
        assert!(desc.contains("login"), "{desc}");
    }
    // The socket stays open: login works on it.
    c.call(
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
    let (code, desc) = c.call_err("fly", json!({})).await;
    assert_eq!(code, 20001);
    assert!(desc.contains("\"fly\""), "{desc}");
    let (code, _) = c
        .call_err(
            "login",
            json!({"userID": "alice", "userSig": server.sig("alice")}),
        )
        .await;
    assert_eq!(
        code, 6017,
        "a second login on a logged-in socket is refused"
    );
    c.call("ping", json!({})).await;
}

#[tokio::test]
async fn error_answers_quote_at_most_a_little_of_the_input() {
    let server = TestServer::start().await;
    let mut c = server.connect().await;
    let long = "q".repeat(20 * 1024);
    let short = |what: &str, desc: &str, most: usize| {
        assert!(
            desc.len() <= most,
            "{what}: a {} byte sentence: {}…",
            desc.len(),
            &desc[..200]
        );
    };
    // Before login: 6014 names the op, cut to 64 bytes with an ellipsis.
    let (code, desc) = c.call_err(&long, json!({})).await;
    assert_eq!(code, 6014);
    short("6014", &desc, 200);
    assert!(desc.contains(&format!("\"{}\"…", "q".repeat(64))), "{desc}");
    // An over-long userID: 7003, quoted as short.
    let (code, desc) = c
        .call_err("login", json!({"userID": long, "userSig": "x"}))
        .await;
    assert_eq!(code, 7003);
    short("7003", &desc, 200);
    c.call(
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
    // An unknown op: 20001.
    let (code, desc) = c.call_err(&long, json!({})).await;
    assert_eq!(code, 20001);
    short("20001", &desc, 200);
    // A parser's sentence that quotes a huge value is cut too (1 KiB at most).
    let (code, desc) = c
        .call_err(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_bob", "getType": long}),
        )
        .await;
    assert_eq!(code, 6017);
    short("6017", &desc, 1030);
    c.send_text(&format!(r#"{{"reqId": "{long}", "op": "ping"}}"#))
        .await;
    let r = read_response(&mut c).await;
    assert_eq!(r["code"], 20001);
    short("malformed", r["desc"].as_str().unwrap_or_default(), 1030);
    c.call("ping", json!({})).await;
}

#[tokio::test]
async fn oversized_frames_close_with_1009() {
    let server = TestServer::start().await;
    let mut c = server.login("alice").await;
    server.login("bob").await;

    // Under the frame cap but over the body limit: an error response, not a close.
    let big_body = "x".repeat(60 * 1024);
    let (code, _) = c
        .call_err("sendMessage", text_params("big", "bob", "", &big_body))
        .await;
    assert_eq!(code, 80002);

    let huge = format!(
        r#"{{"reqId":1,"op":"ping","params":{{"pad":"{}"}}}}"#,
        "y".repeat(70 * 1024)
    );
    c.send_text(&huge).await;
    match c.ended().await {
        Ended::Close(code, reason) => {
            assert_eq!(code, 1009, "{reason}");
            assert!(reason.contains("65536"), "{reason}");
        }
        other => panic!("expected a 1009 close, got {other:?}"),
    }
    still_serving(&server, "after-1009").await;
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007_and_binary_with_1003() {
    let server = TestServer::start().await;

    let mut c = server.login("alice").await;
    let bad = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    c.send_message(Message::Frame(bad)).await;
    assert!(matches!(c.ended().await, Ended::Close(1007, _)));

    // Before login too.
    let mut c = server.connect().await;
    c.send_message(Message::Binary(vec![1u8, 2, 3].into()))
        .await;
    match c.ended().await {
        Ended::Close(code, reason) => {
            assert_eq!(code, 1003);
            assert!(reason.contains("binary"), "{reason}");
        }
        other => panic!("expected a 1003 close, got {other:?}"),
    }
    still_serving(&server, "after-1007-1003").await;
}

#[tokio::test]
async fn sockets_that_never_log_in_are_closed_with_1008() {
    let server = TestServer::start_with(ServerOptions {
        auth_deadline: Duration::from_secs(1),
        ..ServerOptions::default()
    })
    .await;
    // Logged in before the idle socket even connects.
    let mut early = server.login("alice").await;
    let mut idle = server.connect().await;
    // A failed login does not stop the clock.
    let (code, _) = idle
        .call_err("login", json!({"userID": "mallory", "userSig": "garbage"}))
        .await;
    assert_eq!(code, 70003);
    match idle.ended().await {
        Ended::Close(code, reason) => {
            assert_eq!(code, 1008);
            assert!(reason.contains("login"), "{reason}");
        }
        other => panic!("expected a 1008 close, got {other:?}"),
    }
    // The logged-in socket has now lived past the deadline and still works.
    early.call("ping", json!({})).await;
}

#[tokio::test]
async fn user_sig_refusals() {
    let server = TestServer::start().await;
    let key = server.key.clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let other_key = AppKey {
        sdk_app_id: key.sdk_app_id,
        secret_key: "not-the-key".into(),
    };
    let other_app = AppKey {
        sdk_app_id: key.sdk_app_id + 1,
        secret_key: key.secret_key.clone(),
    };
    let long = "x".repeat(33);
    let cases: Vec<(&str, String, i64)> = vec![
        (
            "alice",
            usersig::gen_sig_at(&key, "alice", now - 1000, 10),
            70001,
        ),
        ("alice", String::new(), 70002),
        ("alice", "not-a-sig".into(), 70003),
        ("alice", usersig::gen_sig(&other_key, "alice", 3600), 70009),
        ("alice", usersig::gen_sig(&key, "bob", 3600), 70013),
        ("alice", usersig::gen_sig(&other_app, "alice", 3600), 70014),
        ("a b", usersig::gen_sig(&key, "a b", 3600), 7003),
        ("", String::new(), 7003),
        (&long, usersig::gen_sig(&key, &long, 3600), 7003),
    ];
    let mut c = server.connect().await;
    for (user, sig, code) in cases {
        let (got, desc) = c
            .call_err("login", json!({"userID": user, "userSig": sig}))
            .await;
        assert_eq!(got, code, "{user:?}: {desc}");
        assert!(!desc.is_empty());
    }
    // Refused logins create no account: a message to "alice" is refused.
    let mut bob = server.login("bob").await;
    assert_eq!(
        bob.call_err("sendMessage", text_params("m", "alice", "", "hi"))
            .await
            .0,
        20003
    );
    // The same socket logs in with a good sig.
    c.call(
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
}

#[tokio::test]
async fn a_sig_from_tencents_generator_logs_in() {
    // Tencent's example app id and key; the fixture was made by tls-sig-api-v2 (PyPI). It
    // is valid for 100 years, past the default lifetime cap (180 days): this server
    // accepts any lifetime (`--max-sig-lifetime 0`).
    let dir = tempfile::tempdir().expect("tempdir");
    let handle = termim::server::start_with_options(
        termim::server::ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: dir.path().to_path_buf(),
            sdk_app_id: Some(1_400_000_000),
            secret_key: Some(
                "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e".into(),
            ),
            database: common::test_database(dir.path()),
        },
        termim::server::ServerOptions {
            sig_verify: termim::usersig::VerifyOptions {
                max_lifetime_secs: None,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .expect("server starts");
    let sig = include_str!("fixtures/usersig_tencent_xiaojun.txt").trim();
    let mut c = RawClient::connect(&handle.url()).await;
    let data = c
        .call("login", json!({"userID": "xiaojun", "userSig": sig}))
        .await;
    assert_eq!(data["userID"], "xiaojun");
    within("shutdown", handle.shutdown()).await;
}

#[tokio::test]
async fn a_client_vanishing_mid_send_loses_nothing() {
    let server = TestServer::start().await;
    let mut bob = server.login("bob").await;

    // alice sends 20 messages back to back and goes away (FIN) without reading an ack.
    let addr = server.url().trim_start_matches("ws://").to_string();
    let tcp = tokio::net::TcpStream::connect(&addr).await.expect("tcp");
    let (mut ws, _) = within(
        "handshake",
        tokio_tungstenite::client_async(server.url(), tcp),
    )
    .await
    .expect("handshake");
    let login = json!({"reqId": 1, "op": "login",
        "params": {"userID": "alice", "userSig": server.sig("alice")}});
    ws.send(Message::Text(login.to_string().into()))
        .await
        .expect("send");
    for i in 0..20 {
        let frame = json!({"reqId": 2 + i, "op": "sendMessage",
            "params": text_params(&format!("v{i}"), "bob", "", &format!("m{i}"))});
        ws.send(Message::Text(frame.to_string().into()))
            .await
            .expect("send");
    }
    ws.get_mut().shutdown().await.expect("half-close");

    // Every message the server read reaches bob, in order, and is stored.
    let mut got = Vec::new();
    for _ in 0..20 {
        got.push(bob.expect_message().await);
    }
    assert_eq!(
        texts(&got),
        (0..20).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    drop(ws);
    let history = bob.history("c2c_alice", 50).await;
    assert_eq!(history.len(), 20);

    // A hard drop (reset) in the middle of a burst: whatever bob was pushed is stored,
    // nothing else is, and the server serves on.
    let mut carol = server.login("carol").await;
    for i in 0..20 {
        carol
            .send_request(
                "sendMessage",
                text_params(&format!("c{i}"), "bob", "", &format!("c{i}")),
            )
            .await;
    }
    drop(carol);
    still_serving(&server, "after-vanish").await;
    let mut bob2 = server.login("bob").await;
    let stored = bob2.history("c2c_carol", 50).await;
    let mut pushed = Vec::new();
    // bob's pushes from carol arrived in commit order; all of them are in the history.
    while pushed.len() < stored.len() {
        let m = bob.expect_message().await;
        if m["sender"] == "carol" {
            pushed.push(m["msgID"].clone());
        }
    }
    let mut stored_ids: Vec<Value> = stored.iter().map(|m| m["msgID"].clone()).collect();
    stored_ids.reverse();
    assert_eq!(pushed, stored_ids);
}

#[tokio::test]
async fn a_consumer_that_cannot_keep_up_is_disconnected_and_others_are_served() {
    let server = TestServer::start_with(ServerOptions {
        // Room for a batch of 100 acks of 10 KB each (alice reads them a batch at a time).
        max_queued_bytes: 2 << 20,
        // This test floods on purpose; the rate limits have their own tests.
        request_rate: None,
        group_send_rate: None,
        ..ServerOptions::default()
    })
    .await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut sloth = server.login("sloth").await; // reads nothing until the end
    alice.create_group("Work", "busy", &["bob", "sloth"]).await;
    bob.expect_push("groupEvent").await;

    // ~15 MB in batches of 100; bob keeps up (he reads each batch), the sloth does not.
    const N: usize = 1500;
    const BATCH: usize = 100;
    let body = "z".repeat(10 * 1024);
    for batch in 0..N / BATCH {
        alice
            .send_texts_pipelined("", "busy", &format!("b{batch}"), BATCH, &body)
            .await;
        for _ in 0..BATCH {
            bob.expect_message().await;
        }
    }

    // The sloth was cut off: its stream ends before it got everything.
    let mut seen = 0;
    while let Some(is_push) = within("the sloth's stream", sloth.raw_next()).await {
        seen += usize::from(is_push);
    }
    assert!(seen < N, "the slow consumer received everything ({seen})");
    // It comes back and catches up from its cursor; nothing was skipped.
    let mut back = server.login("sloth").await;
    let (all, _) = back.sync_all(0).await;
    assert_eq!(all.len(), N);
}
