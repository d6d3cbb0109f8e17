//! What docs/PROTOCOL.md promises a third-party client and the server did otherwise
//! (issue 10 items 6, 7, 13 and 16), against a real server on 127.0.0.1:0.

mod common;

use std::time::{Duration, Instant};

use common::raw::{TestServer, text_params};
use serde_json::{Value, json};
use termim::server::{Rate, ServerOptions};

const INVALID_PARAMETERS: i64 = 6017;
const GROUP_INVALID_PARAMETERS: i64 = 10004;
const BODY_LIMIT: i64 = 80002;

/// A C2C text to `receiver` with `extra` fields merged into the params.
fn text_with(id: &str, receiver: &str, group: &str, text: &str, extra: Value) -> Value {
    let mut p = text_params(id, receiver, group, text);
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            p.insert(k.clone(), v.clone());
        }
    }
    p
}

/// Issue 10.6: the 60 KB message of the issue (a 12 KB text plus 3 × 16 KB of
/// offlinePushInfo) is refused, each side field against its own cap, with a sentence
/// naming the field; at the caps it is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn side_fields_have_caps_so_a_60_kb_message_is_refused() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let text = "x".repeat(12_000);
    let big = "p".repeat(16 * 1024);
    let push = json!({"offlinePushInfo": {"title": big, "desc": big, "ext": big}});
    let (code, desc) = alice
        .call_err("sendMessage", text_with("big", "bob", "", &text, push))
        .await;
    assert_eq!(code, INVALID_PARAMETERS, "{desc}");
    assert!(desc.contains("offlinePushInfo.title"), "{desc}");

    for (field, cap) in [("title", 128), ("desc", 512), ("ext", 1024)] {
        let over = json!({"offlinePushInfo": {field: "p".repeat(cap + 1)}});
        let (code, desc) = alice
            .call_err("sendMessage", text_with("over", "bob", "", "hi", over))
            .await;
        assert_eq!(code, INVALID_PARAMETERS, "{field}: {desc}");
        assert!(desc.contains(&format!("offlinePushInfo.{field}")), "{desc}");
        assert!(
            desc.contains(&cap.to_string()),
            "the sentence says the cap: {desc}"
        );
    }
    let at_caps = json!({"offlinePushInfo": {
        "title": "t".repeat(128), "desc": "d".repeat(512), "ext": "e".repeat(1024)}});
    let stored = alice
        .call("sendMessage", text_with("caps", "bob", "", &text, at_caps))
        .await;
    assert_eq!(
        stored["message"]["offlinePushInfo"]["ext"]
            .as_str()
            .map(str::len),
        Some(1024)
    );

    // The @ list: 30 entries of 1,500 bytes each were stored; each entry must be a user id.
    alice.create_group("Public", "at", &["bob"]).await;
    let long_ids: Vec<String> = (0..30).map(|i| format!("{i:0>1500}")).collect();
    let (code, desc) = alice
        .call_err(
            "sendMessage",
            text_with("at", "", "at", &text, json!({"groupAtUserList": long_ids})),
        )
        .await;
    assert_eq!(code, GROUP_INVALID_PARAMETERS, "{desc}");
    assert!(desc.contains("groupAtUserList"), "{desc}");
    assert!(
        desc.len() < 300,
        "the sentence does not echo the entry: {desc}"
    );
    let ok = alice
        .call(
            "sendMessage",
            text_with(
                "at-ok",
                "",
                "at",
                "hi @bob",
                json!({"groupAtUserList": ["bob", "__kImSDK_MesssageAtALL__"]}),
            ),
        )
        .await;
    assert_eq!(ok["message"]["groupAtUserList"][0], "bob");

    // Nothing refused was stored.
    let history = bob.history("c2c_alice", 50).await;
    assert_eq!(history.len(), 1, "only the message at the caps");
}

/// Issue 10.6: the message as the server stores it (its JSON, escapes included) has a
/// total cap, so what fits the 12 KB body cannot grow five-fold in storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stored_form_of_a_message_has_a_total_cap() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    server.login("bob").await;
    // 6,000 bytes of text, each stored as a six-byte `\u0001` escape: 36 KB.
    let text = "\u{1}".repeat(6_000);
    let (code, desc) = alice
        .call_err("sendMessage", text_params("esc", "bob", "", &text))
        .await;
    assert_eq!(code, BODY_LIMIT, "{desc}");
    assert!(desc.contains("stored"), "{desc}");
    // The same text plain is fine.
    alice
        .call(
            "sendMessage",
            text_params("plain", "bob", "", &"a".repeat(6_000)),
        )
        .await;
}

/// Issue 10.7: a client id shaped like the server's group-tips key once collided with the
/// next join's tips (`20005 … UNIQUE constraint failed`). Server-made keys now hold a
/// space, which no client id may contain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_shaped_like_a_tips_key_does_not_break_joins() {
    let server = TestServer::start().await;
    let mut bob = server.login("bob").await;
    bob.create_group("Public", "pub", &[]).await;
    let newest = newest_position(&server).await;
    let mut alice = server.login("alice").await;
    // This send takes position newest+1, so the join's tips takes newest+2.
    let mut answers = Vec::new();
    let sent = alice
        .request(
            "sendMessage",
            text_params(&format!("tips-{}", newest + 2), "bob", "", "hi"),
        )
        .await;
    assert_eq!(sent["data"]["cursor"], newest + 1, "{sent}");
    answers.push(sent);
    for _ in 0..2 {
        answers.push(alice.request("joinGroup", json!({"groupID": "pub"})).await);
    }
    for a in &answers {
        let text = a.to_string();
        assert!(
            !text.contains("UNIQUE") && !text.contains("SQL") && !text.contains("constraint"),
            "{text}"
        );
    }
    assert_eq!(answers[1]["code"], 0, "the join works: {}", answers[1]);
    assert_eq!(answers[2]["code"], 10013, "then alice is a member");
    let history = bob.history("group_pub", 10).await;
    assert_eq!(
        history[0]["groupTipsElem"]["type"], 1,
        "the join tips is stored"
    );

    // The server's own namespace: a space is not allowed in a creation id.
    let (code, desc) = alice
        .call_err(
            "sendMessage",
            text_params(&format!("tips {}", newest + 3), "bob", "", "hi"),
        )
        .await;
    assert_eq!(code, INVALID_PARAMETERS, "{desc}");
}

/// Issue 10.7: when the database refuses a command's own writes (here a row left behind
/// under the key the next join tips takes), the client gets a sentence without SQL, the
/// command leaves nothing behind — not even in the writer's memory — and other groups'
/// state is not thrown away (their send rate is not refilled by someone else's failure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_is_a_plain_sentence_and_costs_only_its_own_command() {
    if common::on_postgres() {
        eprintln!("skipped on PostgreSQL: this test plants a row in the SQLite file");
        return;
    }
    let options = ServerOptions {
        request_rate: None,
        group_send_rate: Some(Rate::new(1, 2)),
        ..ServerOptions::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = TestServer::start_in(dir.path(), options.clone()).await;
    let mut bob = server.login("bob").await;
    bob.create_group("Public", "pub", &[]).await;
    bob.create_group("Public", "busy", &[]).await;
    drop(bob);
    let newest = newest_position(&server).await;
    server.shutdown().await;
    {
        // A row at newest+1; bob's two sends below take newest+2 and newest+3, so alice's
        // join tips takes newest+4: its key is already taken.
        let db = rusqlite::Connection::open(dir.path().join("termim.db")).expect("db");
        let key = termim::server::rules::server_message_key("tips", newest + 4);
        db.execute(
            "INSERT INTO messages (pos, conv_id, seq, msg_id, client_id, sender, time, counted, \
             nolast, targeted, body) VALUES (?1, -1, 1, 'x', ?2, 'alice', 0, 0, 0, 0, '{}')",
            rusqlite::params![(newest + 1) as i64, key],
        )
        .expect("insert");
    }
    let server = TestServer::start_in(dir.path(), options).await;
    let mut bob = server.login("bob").await;
    let mut alice = server.login("alice").await;

    // bob spends the burst of "busy".
    let started = Instant::now();
    for i in 0..2 {
        let sent = bob
            .call(
                "sendMessage",
                text_params(&format!("b{i}"), "", "busy", "b"),
            )
            .await;
        assert_eq!(sent["cursor"], newest + 2 + i, "{sent}");
    }
    let failed = alice.request("joinGroup", json!({"groupID": "pub"})).await;
    assert_eq!(failed["code"], 20005, "{failed}");
    let desc = failed["desc"].as_str().unwrap_or_default();
    assert!(!desc.is_empty(), "a sentence: {failed}");
    for leak in ["UNIQUE", "SQL", "constraint", "messages."] {
        assert!(!desc.contains(leak), "{desc}");
    }
    // The join left nothing: alice is no member, in the database or in memory.
    let (code, _) = alice
        .call_err("sendMessage", text_params("m1", "", "pub", "hi"))
        .await;
    assert_eq!(code, 10007, "alice is not a member after the failed join");
    let members = bob
        .call("getGroupMemberList", json!({"groupID": "pub"}))
        .await;
    assert_eq!(members["memberInfoList"].as_array().map(Vec::len), Some(1));
    // "busy" kept its spent rate (a flush of every cache would have refilled it). A
    // token comes back after a second: only a faster run can tell.
    let third = bob
        .request("sendMessage", text_params("b2", "", "busy", "b"))
        .await;
    if started.elapsed() < Duration::from_millis(900) {
        assert_eq!(third["code"], 10023, "{third}");
    }
}

/// The newest stored position, as a login answer names it.
async fn newest_position(server: &TestServer) -> u64 {
    let (_, login) = server.login_answer("probe").await;
    login["cursor"].as_u64().expect("cursor")
}

/// Issue 10.13: `createGroup` without `groupName` (V2TIM requires it) is a group-parameter
/// error (10004) with a sentence, like an empty name — not a 6017 parse error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_group_without_a_name_is_10004_with_a_sentence() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    for params in [
        json!({"groupType": "Work", "groupID": "g1"}),
        json!({"groupType": "Work", "groupID": "g1", "groupName": ""}),
    ] {
        let (code, desc) = alice.call_err("createGroup", params).await;
        assert_eq!(code, GROUP_INVALID_PARAMETERS, "{desc}");
        assert!(desc.contains("groupName is required"), "{desc}");
    }
}

/// Issue 10.16: a `reqId` that is not an unsigned integer is refused with 20001 and
/// `reqId` 0, with a sentence that says what a reqId must be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_req_id_that_is_not_an_unsigned_integer_is_refused_with_req_id_0() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    for req_id in ["-1", "1.5", "\"7\"", "18446744073709551616", "null"] {
        let frame = format!(r#"{{"reqId":{req_id},"op":"ping"}}"#);
        alice.send_text(&frame).await;
        let answer = alice.next_response().await;
        assert_eq!(answer["reqId"], 0, "{req_id}: {answer}");
        assert_eq!(answer["code"], 20001, "{req_id}: {answer}");
        let desc = answer["desc"].as_str().unwrap_or_default();
        assert!(
            desc.contains("reqId must be an unsigned integer"),
            "{req_id}: {desc}"
        );
    }
    alice.call("ping", json!({})).await;
}

/// Issue 10.16: a sync cursor past the newest stored position is refused (it is corrupt
/// or from another server), not echoed back as if there were nothing to read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_cursor_beyond_the_newest_position_is_refused() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let sent = bob
        .call("sendMessage", text_params("s1", "alice", "", "hi"))
        .await;
    let newest = sent["cursor"].as_u64().expect("cursor");
    let at_newest = alice.call("sync", json!({"cursor": newest})).await;
    assert_eq!(at_newest["isFinished"], true);
    assert_eq!(at_newest["cursor"], newest);
    let (code, desc) = alice
        .call_err("sync", json!({"cursor": newest + 1000}))
        .await;
    assert_eq!(code, INVALID_PARAMETERS, "{desc}");
    assert!(
        desc.contains(&format!(
            "cursor {} is beyond the newest position {newest}",
            newest + 1000
        )),
        "{desc}"
    );
}

/// Issue 10.16: -20009 and 10023 say when to retry, as `data.retryAfterMs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_refusals_carry_retry_after_ms() {
    let server = TestServer::start_with(ServerOptions {
        request_rate: Some(Rate::new(1, 4)),
        group_send_rate: Some(Rate::new(1, 1)),
        ..ServerOptions::default()
    })
    .await;
    let mut alice = server.login("alice").await; // one of the four
    alice.create_group("Work", "slow", &[]).await; // two
    let first = alice
        .request("sendMessage", text_params("g1", "", "slow", "1"))
        .await; // three: spends the group's one
    assert_eq!(first["code"], 0, "{first}");
    let mut answers = Vec::new();
    for i in 0..6 {
        let id = alice
            .send_request(
                "sendMessage",
                text_params(&format!("g{}", i + 2), "", "slow", "n"),
            )
            .await;
        answers.push(id);
    }
    let mut seen = Vec::new();
    for id in answers {
        let a = alice.response(id).await;
        seen.push(a["code"].as_i64().unwrap_or(0));
        if a["code"] == 10023 || a["code"] == -20009 {
            let ms = a["data"]["retryAfterMs"].as_u64().unwrap_or(0);
            assert!((1..=1000).contains(&ms), "{a}");
        }
    }
    assert!(
        seen.contains(&10023),
        "the group rate refused one: {seen:?}"
    );
    assert!(
        seen.contains(&-20009),
        "the connection rate refused one: {seen:?}"
    );
}

/// Issue 10.16: ids (user, group, creation) are 0x21–0x7E: printable ASCII without the
/// space. A space is refused everywhere, with the code each op documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_printable_ascii_without_space() {
    let server = TestServer::start().await;
    let odd = "a!~#{}|";
    let mut c = server.login(odd).await;
    let mut spaced = server.connect().await;
    let (code, _) = spaced
        .call_err(
            "login",
            json!({"userID": "a b", "userSig": server.sig("a b")}),
        )
        .await;
    assert_eq!(code, 7003);
    c.create_group("Work", "g!~", &[]).await;
    let (code, _) = c
        .call_err(
            "createGroup",
            json!({"groupType": "Work", "groupName": "n", "groupID": "g 1"}),
        )
        .await;
    assert_eq!(code, 10015);
    c.call("sendMessage", text_params("id!~{}", "", "g!~", "hi"))
        .await;
    for id in ["id 1", "id\u{7f}", "idé"] {
        let (code, desc) = c
            .call_err("sendMessage", text_params(id, "", "g!~", "hi"))
            .await;
        assert_eq!(code, INVALID_PARAMETERS, "{id:?}: {desc}");
        assert!(desc.contains("printable ASCII"), "{desc}");
    }
}

/// Issue 10.16: the SDK hands the server's retry-after of a rate refusal to the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_error_of_a_rate_refusal_says_when_to_retry() {
    use common::sdk_harness;
    use termim::sdk::SendParams;
    let server = sdk_harness::TestServer::start().await;
    let alice = server.client("alice").await;
    alice
        .tim
        .create_group("Work", "busy", Some("busy"), &[])
        .await
        .expect("group");
    // The group takes 40 sends a second, in bursts of 40: 100 at once meet it.
    for round in 0..10 {
        let texts: Vec<String> = (0..100).map(|i| format!("r{round} m{i}")).collect();
        let sends = texts.iter().map(|text| {
            let params = SendParams {
                group_id: "busy".into(),
                ..Default::default()
            };
            alice.send(params, text)
        });
        let results = futures_util::future::join_all(sends).await;
        if let Some(e) = results.iter().find_map(|r| r.as_ref().err()) {
            assert!([10023, -20009].contains(&e.code), "{e}");
            assert!(
                e.retry_after_ms.is_some_and(|ms| (1..=1000).contains(&ms)),
                "{e:?}"
            );
            return;
        }
    }
    panic!("1,000 sends never met the group's send rate");
}
