//! The SDK against a real server: delivery (C2C, group, targeted, online-only), per-send
//! options, custom data, refusals and history paging.

mod common;

use common::sdk_harness::{Client, TestServer, member, new_message_texts};
use termim::model::{MessageStatus, OfflinePushInfo, Priority};
use termim::protocol::codes;
use termim::sdk::{HistoryGetType, HistoryOptions, SendParams, TimEvent};

fn to(user: &str) -> SendParams {
    SendParams {
        receiver: user.into(),
        ..Default::default()
    }
}

fn to_group(group: &str) -> SendParams {
    SendParams {
        group_id: group.into(),
        ..Default::default()
    }
}

/// Log everyone in and wait for their first sync.
async fn clients(server: &TestServer, users: &[&str]) -> Vec<Client> {
    let mut out = Vec::new();
    for u in users {
        let mut c = server.client(u).await;
        c.synced().await;
        out.push(c);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c2c_delivery_with_events_on_both_sides() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob"]).await;
    let (alice, bob) = split2(&mut cs);

    let created = alice.tim.create_text_message("hello bob").unwrap();
    assert!(created.id.starts_with("created_temp_id-"));
    assert_eq!(created.message_info.status, MessageStatus::Sending);
    let sent = alice
        .tim
        .send_message(SendParams {
            id: created.id.clone(),
            ..to("bob")
        })
        .await
        .unwrap();
    assert_eq!(sent.status, MessageStatus::SendSucc);
    assert!(!sent.msg_id.is_empty());
    assert_eq!(sent.seq, 1);
    assert_eq!(sent.id, created.id);
    assert!(sent.is_self);
    assert_eq!(sent.user_id.as_deref(), Some("bob"));

    // Sender: sending → sent, then the conversation appears.
    let (first, _) = alice
        .wait_for("MessageUpdated", |e| match e {
            TimEvent::MessageUpdated(m) => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(first.status, MessageStatus::Sending);
    let (second, _) = alice
        .wait_for("MessageUpdated", |e| match e {
            TimEvent::MessageUpdated(m) => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(second.status, MessageStatus::SendSucc);
    assert_eq!(second.msg_id, sent.msg_id);

    // Receiver: the message, a new conversation with one unread, the total.
    let (got, _) = bob.message("hello bob").await;
    assert_eq!(got.msg_id, sent.msg_id);
    assert_eq!(got.sender, "alice");
    assert_eq!(got.user_id.as_deref(), Some("alice"));
    assert!(!got.is_self);
    let (conv, _) = bob
        .wait_for("NewConversation", |e| match e {
            TimEvent::NewConversation(c) => Some(c[0].clone()),
            _ => None,
        })
        .await;
    assert_eq!(conv.conversation_id, "c2c_alice");
    assert_eq!(conv.unread_count, 1);
    bob.wait_for("TotalUnreadChanged(1)", |e| {
        matches!(e, TimEvent::TotalUnreadChanged(1)).then_some(())
    })
    .await;

    let reply = bob.send_text("alice", "hi alice").await;
    assert_eq!(reply.seq, 2, "one dense seq per C2C pair");
    let (got, _) = alice.message("hi alice").await;
    assert_eq!(got.user_id.as_deref(), Some("bob"));

    assert_eq!(
        alice.history_texts("c2c_bob").await,
        ["hello bob", "hi alice"]
    );
    assert_eq!(
        bob.history_texts("c2c_alice").await,
        ["hello bob", "hi alice"]
    );
    let seqs: Vec<u64> = bob
        .history("c2c_alice")
        .await
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, [1, 2]);
    let a = alice.conversation("c2c_bob").await.unwrap();
    assert_eq!(a.unread_count, 1);
    assert_eq!(a.last_message.unwrap().preview(), "hi alice");
    assert_eq!(bob.unread("c2c_alice").await, 1);
    assert_eq!(bob.total_unread().await, 1);
}

fn split2(cs: &mut [Client]) -> (&mut Client, &mut Client) {
    let (a, b) = cs.split_at_mut(1);
    (&mut a[0], &mut b[0])
}

fn split4(cs: &mut [Client]) -> (&mut Client, &mut Client, &mut Client, &mut Client) {
    let [a, b, c, d] = cs else {
        panic!("four clients")
    };
    (a, b, c, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_delivery_reaches_every_member() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob", "carol"]).await;
    let group = cs[0]
        .tim
        .create_group(
            "Work",
            "team 团队",
            Some("team"),
            &[member("bob"), member("carol")],
        )
        .await
        .unwrap();
    assert_eq!(group, "team");
    let joined = cs[1].tim.get_joined_group_list().await.unwrap();
    assert!(joined.iter().any(|g| g.group_id == "team"));

    let m1 = cs[0].send_group_text("team", "morning all").await;
    let m2 = cs[1].send_group_text("team", "morning").await;
    assert_eq!((m1.seq + 1), m2.seq, "group seq is dense");
    for c in cs.iter_mut() {
        if c.user != "alice" {
            let (m, _) = c.message("morning all").await;
            assert_eq!(m.group_id.as_deref(), Some("team"));
            assert!(m.user_id.is_none());
        }
    }
    let (m, _) = cs[2].message("morning").await;
    assert_eq!(m.sender, "bob");
    let carol_conv = cs[2].conversation("group_team").await.unwrap();
    assert_eq!(carol_conv.unread_count, 2);
    assert_eq!(carol_conv.last_message.unwrap().preview(), "morning");
    let texts = cs[2].history_texts("group_team").await;
    assert!(
        texts.ends_with(&["morning all".to_string(), "morning".to_string()]),
        "{texts:?}"
    );
    let members = cs[2]
        .tim
        .get_group_member_list("team", 0, "0", 50)
        .await
        .unwrap();
    assert_eq!(members.member_info_list.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targeted_messages_reach_only_their_receivers() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob", "carol", "dave"]).await;
    let (alice, bob, carol, dave) = split4(&mut cs);
    alice
        .tim
        .create_group(
            "Work",
            "four",
            Some("four"),
            &[member("bob"), member("carol"), member("dave")],
        )
        .await
        .unwrap();
    alice.send_group_text("four", "before").await;
    for c in [&mut *bob, &mut *carol, &mut *dave] {
        c.message("before").await;
    }

    let base = alice
        .tim
        .create_text_message("secret for bob and carol")
        .unwrap();
    let targeted = alice
        .tim
        .create_targeted_group_message(&base.id, &["bob".into(), "carol".into()])
        .unwrap();
    assert_eq!(
        targeted.message_info.target_group_member_list,
        ["bob", "carol"]
    );
    let sent = alice
        .tim
        .send_message(SendParams {
            id: targeted.id,
            ..to_group("four")
        })
        .await
        .unwrap();
    assert_eq!(sent.target_group_member_list, ["bob", "carol"]);

    // receiver + groupID: targeted to that one member.
    let one = alice
        .send(
            SendParams {
                receiver: "carol".into(),
                ..to_group("four")
            },
            "just carol",
        )
        .await
        .unwrap();
    assert!(!one.msg_id.is_empty());
    alice.send_group_text("four", "after").await;

    let (m, _) = bob.message("secret for bob and carol").await;
    assert_eq!(m.target_group_member_list, ["bob", "carol"]);
    let (_, before_after) = bob.message("after").await;
    assert!(!new_message_texts(&before_after).contains(&"just carol".to_string()));
    carol.message("secret for bob and carol").await;
    carol.message("just carol").await;
    carol.message("after").await;

    // Dave: pushes come in commit order, so everything before "after" is what he got.
    let (_, before) = dave.message("after").await;
    let got = new_message_texts(&before);
    assert!(got.is_empty(), "dave got {got:?}");
    let history = dave.history_texts("group_four").await;
    assert!(
        !history
            .iter()
            .any(|t| t.contains("secret") || t == "just carol"),
        "{history:?}"
    );
    assert!(
        history.ends_with(&["before".to_string(), "after".to_string()]),
        "{history:?}"
    );
    let conv = dave.conversation("group_four").await.unwrap();
    assert_eq!(conv.last_message.unwrap().preview(), "after");
    assert_eq!(conv.unread_count, 2);

    // A fresh device of dave's syncs nothing targeted either.
    let mut dave2 = server.client("dave").await;
    let events = dave2.synced().await;
    let synced = new_message_texts(&events);
    assert!(
        !synced
            .iter()
            .any(|t| t.contains("secret") || t == "just carol"),
        "{synced:?}"
    );
    assert_eq!(dave2.unread("group_four").await, 2);

    // Targeted messages are not unread by default.
    assert_eq!(bob.unread("group_four").await, 2);
    assert_eq!(carol.unread("group_four").await, 2);
    assert!(
        bob.history_texts("group_four")
            .await
            .contains(&"secret for bob and carol".into())
    );

    // Refusals: too many receivers (SDK), a receiver who is not a member (server).
    let base = alice.tim.create_text_message("x").unwrap();
    let many: Vec<String> = (0..51).map(|i| format!("u{i}")).collect();
    let err = alice
        .tim
        .create_targeted_group_message(&base.id, &many)
        .unwrap_err();
    assert_eq!(err.code, codes::ERR_INVALID_PARAMETERS);
    let outsider = alice
        .tim
        .create_targeted_group_message(&base.id, &["bob".into(), "mallory".into()])
        .unwrap();
    let err = alice
        .tim
        .send_message(SendParams {
            id: outsider.id,
            ..to_group("four")
        })
        .await
        .unwrap_err();
    assert_ne!(err.code, 0);
    assert!(!err.desc.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targeted_messages_are_refused_in_community_groups() {
    let server = TestServer::start().await;
    let cs = clients(&server, &["alice", "bob"]).await;
    let group = cs[0]
        .tim
        .create_group("Community", "town", None, &[member("bob")])
        .await
        .unwrap();
    let base = cs[0].tim.create_text_message("psst").unwrap();
    let t = cs[0]
        .tim
        .create_targeted_group_message(&base.id, &["bob".into()])
        .unwrap();
    let err = cs[0]
        .tim
        .send_message(SendParams {
            id: t.id,
            ..to_group(&group)
        })
        .await
        .unwrap_err();
    assert_ne!(err.code, 0, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_only_messages_reach_online_users_and_are_never_stored() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob", "carol"]).await;
    cs[0]
        .tim
        .create_group(
            "Work",
            "trio",
            Some("trio"),
            &[member("bob"), member("carol")],
        )
        .await
        .unwrap();
    // Carol goes offline (her cache stays).
    let carol_device = cs.pop().unwrap().log_out().await;
    let (alice, bob) = split2(&mut cs);

    let typing = alice
        .send(
            SendParams {
                online_user_only: true,
                ..to_group("trio")
            },
            "alice is typing…",
        )
        .await
        .unwrap();
    assert_eq!(typing.seq, 0);
    assert!(typing.is_online_only);
    let c2c_typing = alice
        .send(
            SendParams {
                online_user_only: true,
                ..to("bob")
            },
            "typing in c2c",
        )
        .await
        .unwrap();
    assert_eq!(c2c_typing.seq, 0);
    alice.send_group_text("trio", "real message").await;

    let (m, _) = bob.message("alice is typing…").await;
    assert!(m.is_online_only);
    bob.message("typing in c2c").await;
    bob.message("real message").await;
    assert_eq!(bob.unread("group_trio").await, 1);
    assert!(
        bob.conversation("c2c_alice").await.is_none(),
        "online-only made a conversation"
    );
    assert_eq!(
        bob.conversation("group_trio")
            .await
            .unwrap()
            .last_message
            .unwrap()
            .preview(),
        "real message"
    );

    // Carol comes back: sync brings the real message only.
    let mut carol = server.client_on("carol", carol_device).await;
    let events = carol.synced().await;
    let synced = new_message_texts(&events);
    assert!(synced.contains(&"real message".to_string()), "{synced:?}");
    assert!(!synced.iter().any(|t| t.contains("typing")), "{synced:?}");
    assert_eq!(carol.unread("group_trio").await, 1);

    for c in [&*alice, &*bob, &carol] {
        let texts = c.history_texts("group_trio").await;
        assert!(
            !texts.iter().any(|t| t.contains("typing")),
            "{}: {texts:?}",
            c.user
        );
    }
    assert!(alice.history_texts("c2c_bob").await.is_empty());
    assert!(!server.data_contains("alice is typing"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusion_flags_do_exactly_that() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob"]).await;
    let (alice, bob) = split2(&mut cs);
    alice.send_text("bob", "counted").await;
    alice
        .send(
            SendParams {
                is_excluded_from_unread_count: true,
                ..to("bob")
            },
            "not unread",
        )
        .await
        .unwrap();
    alice
        .send(
            SendParams {
                is_excluded_from_last_message: true,
                ..to("bob")
            },
            "not last",
        )
        .await
        .unwrap();
    let (m, _) = bob.message("not last").await;
    assert!(m.is_excluded_from_last_message);
    let conv = bob.conversation("c2c_alice").await.unwrap();
    assert_eq!(conv.unread_count, 2, "counted + not last");
    assert_eq!(conv.last_message.unwrap().preview(), "not unread");
    assert_eq!(
        alice
            .conversation("c2c_bob")
            .await
            .unwrap()
            .last_message
            .unwrap()
            .preview(),
        "not unread"
    );
    // The server agrees (a fresh device takes its conversation list from there).
    let mut bob2 = server.client("bob").await;
    bob2.synced().await;
    let conv = bob2.conversation("c2c_alice").await.unwrap();
    assert_eq!(conv.unread_count, 2);
    assert_eq!(conv.last_message.unwrap().preview(), "not unread");
    assert_eq!(
        bob2.history_texts("c2c_alice").await,
        ["counted", "not unread", "not last"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_custom_data_travels_and_local_custom_data_stays() {
    let mut server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob"]).await;
    let (alice, bob) = split2(&mut cs);
    let marker = "LOCAL-ONLY-7f3a9c";
    let sent = alice
        .send(
            SendParams {
                cloud_custom_data: Some("{\"reply\":\"云\"}".into()),
                local_custom_data: Some(marker.into()),
                ..to("bob")
            },
            "with data",
        )
        .await
        .unwrap();
    assert_eq!(sent.local_custom_data.as_deref(), Some(marker));
    assert_eq!(
        sent.cloud_custom_data.as_deref(),
        Some("{\"reply\":\"云\"}")
    );

    let (got, _) = bob.message("with data").await;
    assert_eq!(got.cloud_custom_data.as_deref(), Some("{\"reply\":\"云\"}"));
    assert_eq!(got.local_custom_data, None);

    let mine = alice.history("c2c_bob").await;
    assert_eq!(mine[0].local_custom_data.as_deref(), Some(marker));
    let last = alice
        .conversation("c2c_bob")
        .await
        .unwrap()
        .last_message
        .unwrap();
    assert_eq!(last.local_custom_data.as_deref(), Some(marker));

    // Alice's other device gets the cloud data, not the local data.
    let mut alice2 = server.client("alice").await;
    alice2.synced().await;
    let there = alice2.history("c2c_bob").await;
    assert_eq!(
        there[0].cloud_custom_data.as_deref(),
        Some("{\"reply\":\"云\"}")
    );
    assert_eq!(there[0].local_custom_data, None);

    // Nothing the server wrote holds it (stop it first so everything is on disk).
    server.stop().await;
    assert!(
        server.data_contains("with data"),
        "sanity: the message itself is stored"
    );
    assert!(
        !server.data_contains(marker),
        "localCustomData reached the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_receipt_push_info_and_extension_flag_are_delivered() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob"]).await;
    cs[0]
        .tim
        .create_group("Public", "pub", Some("pub"), &[member("bob")])
        .await
        .unwrap();
    let push = OfflinePushInfo {
        title: "标题".into(),
        desc: "you have mail".into(),
        ext: "{\"k\":1}".into(),
        disable_push: false,
    };
    let params = SendParams {
        priority: Priority::High,
        need_read_receipt: true,
        offline_push_info: Some(push.clone()),
        is_support_message_extension: true,
        ..to_group("pub")
    };
    cs[0].send(params, "flagged").await.unwrap();
    let (m, _) = cs[1].message("flagged").await;
    assert_eq!(m.priority, Priority::High);
    assert!(m.need_read_receipt);
    assert!(m.is_support_message_extension);
    assert_eq!(m.offline_push_info.as_ref(), Some(&push));

    // Stored with the message: a fresh device reads the same from the server.
    let mut bob2 = server.client("bob").await;
    bob2.synced().await;
    let h = bob2.history("group_pub").await;
    let m = h.iter().find(|m| m.preview() == "flagged").unwrap();
    assert_eq!(m.priority, Priority::High);
    assert!(m.need_read_receipt && m.is_support_message_extension);
    assert_eq!(m.offline_push_info.as_ref(), Some(&push));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_messages_round_trip_exactly() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob"]).await;
    let data = "{\"type\":\"订单\",\"items\":[\"苹果\",\"🍎\"],\"n\":3}";
    let desc = "新订单：三个苹果";
    let ext = "扩展 ext 🎉";
    let created = cs[0].tim.create_custom_message(data, desc, ext).unwrap();
    let sent = cs[0]
        .tim
        .send_message(SendParams {
            id: created.id,
            ..to("bob")
        })
        .await
        .unwrap();
    let c = sent.custom_elem.unwrap();
    assert_eq!(
        (c.data.as_str(), c.desc.as_str(), c.extension.as_str()),
        (data, desc, ext)
    );
    let (m, _) = cs[1].message(&format!("[custom] {desc}")).await;
    assert_eq!(m.elem_type, termim::model::elem_type::CUSTOM);
    let c = m.custom_elem.unwrap();
    assert_eq!(
        (c.data.as_str(), c.desc.as_str(), c.extension.as_str()),
        (data, desc, ext)
    );
    let h = cs[1].history("c2c_alice").await;
    let c = h[0].custom_elem.clone().unwrap();
    assert_eq!(
        (c.data.as_str(), c.desc.as_str(), c.extension.as_str()),
        (data, desc, ext)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_v2tim_codes() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob", "carol"]).await;
    cs[0]
        .tim
        .create_group("Work", "closed", Some("closed"), &[member("bob")])
        .await
        .unwrap();
    let alice = &mut cs[0];

    // No such group: 10010, and the message is marked failed.
    let err = alice.send(to_group("nowhere"), "lost").await.unwrap_err();
    assert_eq!(err.code, codes::ERR_SVR_GROUP_NOT_FOUND, "{err}");
    let (failed, _) = alice
        .wait_for("failed MessageUpdated", |e| match e {
            TimEvent::MessageUpdated(m) if m.status == MessageStatus::SendFail => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(failed.preview(), "lost");

    // Not a member: 10007.
    let err = cs[2]
        .send(to_group("closed"), "let me in")
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::ERR_SVR_GROUP_PERMISSION_DENIED, "{err}");

    // Neither receiver nor group; a bad receiver id: 6017 before anything is sent.
    let alice = &cs[0];
    let err = alice
        .send(SendParams::default(), "nowhere")
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::ERR_INVALID_PARAMETERS);
    let err = alice.send(to("bad id with spaces"), "x").await.unwrap_err();
    assert_eq!(err.code, codes::ERR_INVALID_PARAMETERS);
    let err = alice
        .tim
        .send_message(SendParams {
            id: "created_temp_id-unknown".into(),
            ..to("bob")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::ERR_INVALID_PARAMETERS);

    // Body over 12 KB, text alone or text + cloudCustomData: 8001 before sending.
    let big = "字".repeat(4097); // 12 291 bytes
    let err = alice.send(to("bob"), &big).await.unwrap_err();
    assert_eq!(err.code, codes::ERR_SDK_MSG_BODY_SIZE_LIMIT, "{err}");
    let err = alice
        .send(
            SendParams {
                cloud_custom_data: Some("c".repeat(5000)),
                ..to("bob")
            },
            &"t".repeat(8000),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::ERR_SDK_MSG_BODY_SIZE_LIMIT);
    // Exactly 12 KB is fine.
    alice.send(to("bob"), &"a".repeat(12 * 1024)).await.unwrap();

    // A sent message cannot be sent again.
    // Sending a message that is already sent answers the stored message (its ack may
    // have been missed): the same msgID and seq, no second message.
    let created = alice.tim.create_text_message("once").unwrap();
    let first = alice
        .tim
        .send_message(SendParams {
            id: created.id.clone(),
            ..to("bob")
        })
        .await
        .unwrap();
    let again = alice
        .tim
        .send_message(SendParams {
            id: created.id,
            ..to("bob")
        })
        .await
        .unwrap();
    assert_eq!(
        (again.msg_id.as_str(), again.seq),
        (first.msg_id.as_str(), first.seq)
    );
    assert_eq!(again.status, termim::sdk::MessageStatus::SendSucc);

    // Bad credentials.
    let dir = tempfile::tempdir().unwrap();
    let wrong_user = termim::sdk::Tim::login(
        termim::sdk::SdkConfig {
            server_url: server.url(),
            data_dir: dir.path().into(),
            ca_cert_pem: None,
        },
        "alice",
        &server.sig("bob"),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(
        wrong_user.code,
        codes::ERR_USER_SIG_IDENTIFIER_MISMATCH,
        "{wrong_user}"
    );
    let forged = termim::sdk::Tim::login(
        termim::sdk::SdkConfig {
            server_url: server.url(),
            data_dir: dir.path().into(),
            ca_cert_pem: None,
        },
        "alice",
        &termim::usersig::gen_sig(&termim::usersig::AppKey::generate(), "alice", 3600),
    )
    .await
    .err()
    .unwrap();
    assert_ne!(forged.code, 0);

    // After logout every call answers 6014.
    let bob = cs.remove(1);
    bob.tim.logout().await.unwrap();
    assert_eq!(
        bob.tim.create_text_message("x").unwrap_err().code,
        codes::ERR_SDK_NOT_LOGGED_IN
    );
    assert_eq!(
        bob.tim.send_message(to("alice")).await.unwrap_err().code,
        codes::ERR_SDK_NOT_LOGGED_IN
    );
    assert_eq!(
        bob.tim
            .get_conversation_list("0", 10)
            .await
            .unwrap_err()
            .code,
        codes::ERR_SDK_NOT_LOGGED_IN
    );
    assert_eq!(
        bob.tim.get_joined_group_list().await.unwrap_err().code,
        codes::ERR_SDK_NOT_LOGGED_IN
    );
    assert_eq!(
        bob.tim.logout().await.unwrap_err().code,
        codes::ERR_SDK_NOT_LOGGED_IN
    );
    assert_eq!(
        bob.tim.connection_state(),
        termim::sdk::ConnectionState::LoggedOut
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_older_and_newer() {
    let server = TestServer::start().await;
    let cs = clients(&server, &["alice", "bob"]).await;
    for i in 1..=25 {
        cs[0].send_text("bob", &format!("m{i}")).await;
    }
    // A fresh device of bob's: its cache is filled by sync, pages come from it.
    let mut bob = server.client("bob").await;
    bob.synced().await;
    let page = |get_type, last_msg_id: Option<String>, last_msg_seq| HistoryOptions {
        conversation_id: "c2c_alice".into(),
        get_type,
        count: 10,
        last_msg_id,
        last_msg_seq,
    };
    let texts = |l: &[termim::model::Message]| l.iter().map(|m| m.preview()).collect::<Vec<_>>();

    for get_type in [HistoryGetType::CloudOlder, HistoryGetType::LocalOlder] {
        let p1 = bob
            .tim
            .get_history_message_list(page(get_type, None, None))
            .await
            .unwrap();
        assert_eq!(
            texts(&p1.message_list),
            (16..=25).rev().map(|i| format!("m{i}")).collect::<Vec<_>>()
        );
        assert!(!p1.is_finished);
        let last = p1.message_list.last().unwrap().msg_id.clone();
        let p2 = bob
            .tim
            .get_history_message_list(page(get_type, Some(last), None))
            .await
            .unwrap();
        assert_eq!(
            texts(&p2.message_list),
            (6..=15).rev().map(|i| format!("m{i}")).collect::<Vec<_>>()
        );
        let last = p2.message_list.last().unwrap().msg_id.clone();
        let p3 = bob
            .tim
            .get_history_message_list(page(get_type, Some(last), None))
            .await
            .unwrap();
        assert_eq!(texts(&p3.message_list), ["m5", "m4", "m3", "m2", "m1"]);
        assert!(p3.is_finished);
    }

    // Newer, from seq 1 (inclusive), then onwards by msgID (exclusive).
    let p1 = bob
        .tim
        .get_history_message_list(page(HistoryGetType::CloudNewer, None, Some(1)))
        .await
        .unwrap();
    assert_eq!(
        texts(&p1.message_list),
        (1..=10).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    let last = p1.message_list.last().unwrap().msg_id.clone();
    let p2 = bob
        .tim
        .get_history_message_list(page(HistoryGetType::CloudNewer, Some(last), None))
        .await
        .unwrap();
    assert_eq!(
        texts(&p2.message_list),
        (11..=20).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    let last = p2.message_list.last().unwrap().msg_id.clone();
    let p3 = bob
        .tim
        .get_history_message_list(page(HistoryGetType::CloudNewer, Some(last), None))
        .await
        .unwrap();
    assert_eq!(texts(&p3.message_list), ["m21", "m22", "m23", "m24", "m25"]);
    assert!(p3.is_finished);

    // Older from a seq (inclusive).
    let p = bob
        .tim
        .get_history_message_list(page(HistoryGetType::CloudOlder, None, Some(12)))
        .await
        .unwrap();
    assert_eq!(texts(&p.message_list)[0], "m12");
    assert_eq!(p.message_list.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_the_cache_lacks_comes_from_the_server() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob", "carol"]).await;
    cs[0]
        .tim
        .create_group("Meeting", "meet", Some("meet"), &[member("bob")])
        .await
        .unwrap();
    for i in 1..=5 {
        if i == 3 {
            let base = cs[0].tim.create_text_message("only bob").unwrap();
            let t = cs[0]
                .tim
                .create_targeted_group_message(&base.id, &["bob".into()])
                .unwrap();
            cs[0]
                .tim
                .send_message(SendParams {
                    id: t.id,
                    ..to_group("meet")
                })
                .await
                .unwrap();
        }
        cs[0].send_group_text("meet", &format!("g{i}")).await;
    }
    // Carol joins later: Meeting groups show pre-join history, which her cache (synced
    // past it already) does not have. Her cache will also have a hole where "only bob" is.
    cs[2].tim.join_group("meet", "hello").await.unwrap();
    cs[0].send_group_text("meet", "g6").await;
    let carol = &mut cs[2];
    carol.message("g6").await;
    let texts = |l: &[termim::model::Message]| {
        l.iter()
            .filter(|m| m.group_tips_elem.is_none())
            .map(|m| m.preview())
            .collect::<Vec<_>>()
    };
    let local = carol
        .tim
        .get_history_message_list(HistoryOptions {
            conversation_id: "group_meet".into(),
            get_type: HistoryGetType::LocalOlder,
            count: 20,
            last_msg_id: None,
            last_msg_seq: None,
        })
        .await
        .unwrap();
    assert_eq!(
        texts(&local.message_list),
        ["g6"],
        "only g6 reached carol's cache"
    );

    let cloud = carol
        .tim
        .get_history_message_list(HistoryOptions {
            conversation_id: "group_meet".into(),
            get_type: HistoryGetType::CloudOlder,
            count: 20,
            last_msg_id: None,
            last_msg_seq: None,
        })
        .await
        .unwrap();
    assert_eq!(
        texts(&cloud.message_list),
        ["g6", "g5", "g4", "g3", "g2", "g1"]
    );
    assert!(cloud.is_finished);
    // What the server returned is cached now.
    let local = carol
        .tim
        .get_history_message_list(HistoryOptions {
            conversation_id: "group_meet".into(),
            get_type: HistoryGetType::LocalOlder,
            count: 20,
            last_msg_id: None,
            last_msg_seq: None,
        })
        .await
        .unwrap();
    assert_eq!(
        texts(&local.message_list),
        ["g6", "g5", "g4", "g3", "g2", "g1"]
    );
    // Paging across the hole (seq of "only bob") also asks the server and skips it.
    let all = carol.history_texts("group_meet").await;
    assert!(!all.contains(&"only bob".to_string()), "{all:?}");
    // Bob sees it.
    assert!(
        cs[1]
            .history_texts("group_meet")
            .await
            .contains(&"only bob".to_string())
    );
}

/// Conversation changes are rated per user (-20009 with when to retry); the SDK waits as
/// told and sends them again, so a burst of pins and read marks from an app goes through.
#[tokio::test]
async fn conversation_changes_over_the_users_rate_are_retried_by_the_sdk() {
    let server = TestServer::start_with(termim::server::ServerOptions {
        conversation_write_rate: Some(termim::server::Rate::new(10, 1)),
        ..Default::default()
    })
    .await;
    let alice = server.client("alice").await;
    let bob = server.client("bob").await;
    bob.send_text("alice", "hi").await;
    // Burst 1: without the SDK's waits the second change would be refused.
    for i in 0..4u32 {
        alice
            .tim
            .pin_conversation("c2c_bob", i.is_multiple_of(2))
            .await
            .unwrap_or_else(|e| panic!("pin {i}: {e:?}"));
    }
    alice
        .tim
        .clean_conversation_unread_message_count("c2c_bob", 0, 0)
        .await
        .expect("clean after waiting for the rate");
}
