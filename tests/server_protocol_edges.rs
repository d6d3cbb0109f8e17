//! Edges of the protocol a third-party client may hit, against a real server (issue 10).

mod common;

use common::raw::TestServer;
use serde_json::json;

/// Issue 10.9: `getGroupMemberList` with a `nextSeq` at or past 2^63 is past every member
/// (an empty, finished page), not the first page again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_list_offset_past_i64_is_the_end_not_the_start() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    server.login("bob").await;
    alice.create_group("Work", "edge", &["bob"]).await;
    for next in [
        "9223372036854775808",
        "18446744073709551615",
        "9223372036854775807",
    ] {
        let page = alice
            .call(
                "getGroupMemberList",
                json!({"groupID": "edge", "filter": 0, "nextSeq": next, "count": 10}),
            )
            .await;
        assert_eq!(
            page["memberInfoList"].as_array().map(Vec::len),
            Some(0),
            "nextSeq {next}: {page}"
        );
        assert_eq!(page["nextSeq"], "0", "finished");
    }
    let first = alice
        .call(
            "getGroupMemberList",
            json!({"groupID": "edge", "filter": 0, "nextSeq": "0", "count": 10}),
        )
        .await;
    assert_eq!(first["memberInfoList"].as_array().map(Vec::len), Some(2));
}

/// Issue 10.13: the documented defaults work when a field is omitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omitted_counts_and_cursors_take_their_documented_defaults() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    alice.create_group("Work", "defaults", &["bob"]).await;
    bob.send_text_to("alice", "", "d1", "hello").await;
    let sync = alice.call("sync", json!({})).await;
    assert!(
        !sync["messageList"].as_array().unwrap().is_empty(),
        "{sync}"
    );
    let list = alice.call("getConversationList", json!({})).await;
    assert_eq!(
        list["conversationList"].as_array().map(Vec::len),
        Some(2),
        "{list}"
    );
    let members = alice
        .call("getGroupMemberList", json!({"groupID": "defaults"}))
        .await;
    assert_eq!(members["memberInfoList"].as_array().map(Vec::len), Some(2));
    let history = alice
        .call(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_bob"}),
        )
        .await;
    assert_eq!(history["messageList"][0]["textElem"]["text"], "hello");
    // An explicit 0 is still refused where the doc says so.
    let (code, _) = alice
        .call_err(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_bob", "count": 0}),
        )
        .await;
    assert_eq!(code, 6017);
}

/// Issue 10.15: after a kick, a quit or a dismiss the group's conversation leaves the
/// list with a `conversationDeleted` push, as the doc's list semantics promise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_a_group_any_way_pushes_conversation_deleted() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    let mut carol2 = server.login("carol").await;
    alice.create_group("Work", "gone", &["bob", "carol"]).await;

    alice
        .call(
            "kickGroupMember",
            json!({"groupID": "gone", "memberList": ["bob"], "reason": "bye"}),
        )
        .await;
    let data = bob.push_named("conversationDeleted").await;
    assert_eq!(data["conversationIDList"], json!(["group_gone"]));

    carol.call("quitGroup", json!({"groupID": "gone"})).await;
    let data = carol2.push_named("conversationDeleted").await;
    assert_eq!(data["conversationIDList"], json!(["group_gone"]));

    let mut dave = server.login("dave").await;
    alice
        .call(
            "inviteUserToGroup",
            json!({"groupID": "gone", "userList": ["dave"]}),
        )
        .await;
    alice.call("dismissGroup", json!({"groupID": "gone"})).await;
    let data = dave.push_named("conversationDeleted").await;
    assert_eq!(data["conversationIDList"], json!(["group_gone"]));
    let list = alice.call("getConversationList", json!({})).await;
    assert!(
        !list.to_string().contains("group_gone"),
        "the owner's list no longer has it: {list}"
    );
}

/// Issue 10.14: a mute tip and an unmute tip differ: each names the member, the seconds
/// (V2TIM's `muteTime`, 0 = unmuted) and when the mute ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_and_unmute_tips_say_which_and_until_when() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    alice.create_group("Public", "quiet", &["bob"]).await;
    let mut changes = Vec::new();
    for seconds in [600, 0] {
        alice
            .call(
                "muteGroupMember",
                json!({"groupID": "quiet", "userID": "bob", "seconds": seconds}),
            )
            .await;
        loop {
            let push = bob.push_named("newMessage").await;
            let tips = &push["message"]["groupTipsElem"];
            if tips["type"] == 8 {
                changes.push(tips["memberChangeInfoList"][0].clone());
                break;
            }
        }
    }
    assert_eq!(changes[0]["userID"], "bob");
    assert_eq!(changes[0]["muteTime"], 600);
    assert!(changes[0]["muteUntil"].as_i64().unwrap_or(0) > 0);
    assert_eq!(changes[1]["muteTime"], 0);
    assert_eq!(changes[1]["muteUntil"], 0);
    assert_ne!(changes[0], changes[1], "mute and unmute are told apart");
}

/// Issue 10.16 (part): the login answer names the protocol version and capabilities.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_answer_names_the_version_and_capabilities() {
    let server = TestServer::start().await;
    let (_, data) = server.login_answer("alice").await;
    assert_eq!(data["version"], termim::protocol::PROTOCOL_VERSION);
    let caps: Vec<&str> = data["capabilities"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(caps, termim::protocol::CAPABILITIES);
}
