//! The SDK across time: offline catch-up, several devices of one user, restarts of the SDK
//! and of the server.

mod common;

use common::sdk_harness::{TestServer, member, new_message_texts};
use termim::protocol::codes;
use termim::sdk::{ConnectionState, SendParams, TimEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_user_catches_up_with_correct_unread() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.synced().await;
    let mut bob = server.client("bob").await;
    bob.synced().await;
    alice
        .tim
        .create_group("Public", "club", Some("club"), &[member("bob")])
        .await
        .unwrap();
    alice.send_text("bob", "while you were online").await;
    bob.message("while you were online").await;
    let bob_device = bob.log_out().await;

    for i in 1..=3 {
        alice.send_text("bob", &format!("missed {i}")).await;
    }
    alice
        .send(
            SendParams {
                receiver: "bob".into(),
                is_excluded_from_unread_count: true,
                ..Default::default()
            },
            "missed quietly",
        )
        .await
        .unwrap();
    alice.send_group_text("club", "club news 1").await;
    alice.send_group_text("club", "club news 2").await;

    let mut bob = server.client_on("bob", bob_device).await;
    let events = bob.synced().await;
    let texts = new_message_texts(&events);
    assert_eq!(
        texts,
        [
            "missed 1",
            "missed 2",
            "missed 3",
            "missed quietly",
            "club news 1",
            "club news 2"
        ],
        "exactly what was missed, in order"
    );
    assert_eq!(
        bob.unread("c2c_alice").await,
        4,
        "1 before logout + 3 counted"
    );
    assert_eq!(bob.unread("group_club").await, 2);
    assert_eq!(bob.total_unread().await, 6);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TimEvent::TotalUnreadChanged(6)))
    );
    assert_eq!(
        bob.history_texts("c2c_alice").await,
        [
            "while you were online",
            "missed 1",
            "missed 2",
            "missed 3",
            "missed quietly"
        ]
    );

    bob.tim
        .clean_conversation_unread_message_count("c2c_alice", 0, 0)
        .await
        .unwrap();
    assert_eq!(bob.unread("c2c_alice").await, 0);
    assert_eq!(bob.total_unread().await, 2);
    bob.wait_for("TotalUnreadChanged(2)", |e| {
        matches!(e, TimEvent::TotalUnreadChanged(2)).then_some(())
    })
    .await;

    // Nothing is synced twice on the next login.
    let bob_device = bob.log_out().await;
    let mut bob = server.client_on("bob", bob_device).await;
    let events = bob.synced().await;
    assert!(
        new_message_texts(&events).is_empty(),
        "{:?}",
        new_message_texts(&events)
    );
    assert_eq!(bob.total_unread().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_changes_reach_the_users_other_device() {
    let server = TestServer::start().await;
    let mut bob = server.client("bob").await;
    bob.synced().await;
    let mut carol = server.client("carol").await;
    carol.synced().await;
    let mut a1 = server.client("alice").await;
    a1.synced().await;
    let mut a2 = server.client("alice").await;
    a2.synced().await;
    // A conversation that never started: described by the server, not listed.
    let blank = a1.tim.get_conversation("c2c_bob").await.unwrap();
    assert_eq!(
        (blank.unread_count, blank.last_message.is_none()),
        (0, true)
    );
    assert!(a1.conversation("c2c_bob").await.is_none());
    let err = a1.tim.get_conversation("c2c_nobody").await.unwrap_err();
    assert_eq!(err.code, codes::ERR_INVALID_CONVERSATION);
    let err = a1.tim.get_conversation("bogus").await.unwrap_err();
    assert_eq!(err.code, codes::ERR_INVALID_PARAMETERS);

    bob.send_text("alice", "hi from bob").await;
    carol.send_text("alice", "hi from carol").await;
    a1.message("hi from carol").await;
    a2.message("hi from carol").await;

    let ids = vec![
        "c2c_bob".to_string(),
        "c2c_carol".to_string(),
        "bogus".to_string(),
    ];
    let results = a1
        .tim
        .set_conversation_custom_data(&ids, "数据 v1")
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].conversation_id, "c2c_bob");
    assert_eq!(results[0].result_code, 0);
    assert_eq!(results[1].result_code, 0);
    assert_eq!(results[2].conversation_id, "bogus");
    assert_ne!(results[2].result_code, 0, "a bad id fails alone");
    assert_eq!(
        a1.conversation("c2c_bob").await.unwrap().custom_data,
        "数据 v1"
    );

    a2.wait_for("custom data on the second device", |e| match e {
        TimEvent::ConversationChanged(list) => list
            .iter()
            .any(|c| c.conversation_id == "c2c_carol" && c.custom_data == "数据 v1")
            .then_some(()),
        _ => None,
    })
    .await;
    assert_eq!(
        a2.conversation("c2c_bob").await.unwrap().custom_data,
        "数据 v1"
    );

    // Over 256 bytes: refused per item (or as a whole), nothing changes.
    let too_big = "x".repeat(257);
    match a1
        .tim
        .set_conversation_custom_data(&ids[..1], &too_big)
        .await
    {
        Ok(r) => assert_ne!(r[0].result_code, 0),
        Err(e) => assert_ne!(e.code, 0),
    }
    assert_eq!(
        a1.conversation("c2c_bob").await.unwrap().custom_data,
        "数据 v1"
    );

    // Pin and read state converge too.
    a1.tim.pin_conversation("c2c_bob", true).await.unwrap();
    a2.wait_for("pin on the second device", |e| match e {
        TimEvent::ConversationChanged(list) => list
            .iter()
            .any(|c| c.conversation_id == "c2c_bob" && c.is_pinned)
            .then_some(()),
        _ => None,
    })
    .await;
    let first = a2.tim.get_conversation_list("0", 10).await.unwrap();
    assert_eq!(
        first.conversation_list[0].conversation_id, "c2c_bob",
        "pinned first"
    );
    assert_eq!(a2.unread("c2c_carol").await, 1);
    a1.tim
        .clean_conversation_unread_message_count("c2c_carol", 0, 0)
        .await
        .unwrap();
    a2.wait_for("read state on the second device", |e| match e {
        TimEvent::ConversationChanged(list) => list
            .iter()
            .any(|c| c.conversation_id == "c2c_carol" && c.unread_count == 0)
            .then_some(()),
        _ => None,
    })
    .await;

    // A third device starting from nothing sees the same.
    let mut a3 = server.client("alice").await;
    a3.synced().await;
    let conv = a3.conversation("c2c_carol").await.unwrap();
    assert_eq!(
        (conv.custom_data.as_str(), conv.unread_count),
        ("数据 v1", 0)
    );
    assert!(a3.conversation("c2c_bob").await.unwrap().is_pinned);

    // Own messages from another device arrive as new messages, not unread.
    a1.send_text("bob", "from device one").await;
    let (m, _) = a2.message("from device one").await;
    assert!(m.is_self);
    assert_eq!(m.user_id.as_deref(), Some("bob"));

    // Deleting on one device removes it on the other.
    a1.tim.delete_conversation("c2c_carol").await.unwrap();
    a2.wait_for("deletion on the second device", |e| match e {
        TimEvent::ConversationDeleted(ids) => ids.contains(&"c2c_carol".to_string()).then_some(()),
        _ => None,
    })
    .await;
    assert!(a2.conversation("c2c_carol").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_are_local_and_survive_an_sdk_restart() {
    let mut server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.synced().await;
    let mut bob = server.client("bob").await;
    bob.synced().await;
    bob.send_text("alice", "ping").await;
    alice.message("ping").await;
    let marker = "DRAFT-MARKER-草稿";
    alice
        .tim
        .set_conversation_draft("c2c_bob", Some(marker))
        .await
        .unwrap();
    alice
        .tim
        .set_conversation_draft("c2c_nobody_yet", Some("new"))
        .await
        .unwrap();
    let device = alice.log_out().await;

    let mut alice = server.client_on("alice", device).await;
    // The cache answers at once, before the sync.
    let conv = alice.tim.get_conversation("c2c_bob").await.unwrap();
    assert_eq!(conv.draft_text.as_deref(), Some(marker));
    alice.synced().await;
    let conv = alice.conversation("c2c_bob").await.unwrap();
    assert_eq!(conv.draft_text.as_deref(), Some(marker));
    assert!(conv.draft_timestamp.is_some());
    assert_eq!(conv.last_message.unwrap().preview(), "ping");
    assert_eq!(
        alice
            .conversation("c2c_nobody_yet")
            .await
            .unwrap()
            .draft_text
            .as_deref(),
        Some("new")
    );
    alice
        .tim
        .set_conversation_draft("c2c_bob", None)
        .await
        .unwrap();
    assert_eq!(
        alice.conversation("c2c_bob").await.unwrap().draft_text,
        None
    );

    server.stop().await;
    assert!(
        !server.data_contains("DRAFT-MARKER"),
        "a draft reached the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_and_resyncs_after_the_server_restarts() {
    let mut server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.synced().await;
    let mut bob = server.client("bob").await;
    bob.synced().await;
    alice.send_text("bob", "before restart").await;
    bob.message("before restart").await;

    server.stop().await;
    alice.state(ConnectionState::Disconnected).await;
    bob.state(ConnectionState::Disconnected).await;
    // Ordinary requests fail fast while disconnected …
    assert!(alice.tim.connection_state() != ConnectionState::Connected);
    let err = alice.tim.get_joined_group_list().await.unwrap_err();
    assert_eq!(err.code, codes::ERR_SDK_NET_DISCONNECT);
    // … but a send waits for the connection to come back.
    let created = alice.tim.create_text_message("sent while down").unwrap();
    let sender = alice.tim.clone();
    let pending = tokio::spawn(async move {
        sender
            .send_message(SendParams {
                id: created.id,
                receiver: "bob".into(),
                ..Default::default()
            })
            .await
    });

    server.restart().await;
    alice.state(ConnectionState::Connected).await;
    alice.synced().await;
    let sent = tokio::time::timeout(common::sdk_harness::WAIT, pending)
        .await
        .expect("send finishes")
        .expect("task")
        .expect("send succeeds after the reconnect");
    assert_eq!(sent.seq, 2);
    bob.message("sent while down").await;
    bob.send_text("alice", "after restart").await;
    alice.message("after restart").await;
    assert_eq!(
        bob.history_texts("c2c_alice").await,
        ["before restart", "sent while down", "after restart"]
    );
    assert_eq!(bob.tim.connection_state(), ConnectionState::Connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_spans_several_sync_pages() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.synced().await;
    let mut carol = server.client("carol").await;
    carol.synced().await;
    let mut bob = server.client("bob").await;
    bob.synced().await;
    let bob_device = bob.log_out().await;

    // More than one sync page (≤ 500) of missed messages, from two peers, interleaved.
    let (a, c) = (alice.tim.clone(), carol.tim.clone());
    let from_alice = tokio::spawn(async move {
        for i in 0..300 {
            let m = a.create_text_message(&format!("a{i}")).unwrap();
            a.send_message(SendParams {
                id: m.id,
                receiver: "bob".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        }
    });
    let from_carol = tokio::spawn(async move {
        for i in 0..260 {
            let m = c.create_text_message(&format!("c{i}")).unwrap();
            c.send_message(SendParams {
                id: m.id,
                receiver: "bob".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        }
    });
    from_alice.await.unwrap();
    from_carol.await.unwrap();

    let mut bob = server.client_on("bob", bob_device).await;
    let events = bob.synced().await;
    let texts = new_message_texts(&events);
    assert_eq!(texts.len(), 560);
    let of = |p: char| {
        texts
            .iter()
            .filter(|t| t.starts_with(p))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of('a'),
        (0..300).map(|i| format!("a{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        of('c'),
        (0..260).map(|i| format!("c{i}")).collect::<Vec<_>>()
    );
    assert_eq!(bob.unread("c2c_alice").await, 300);
    assert_eq!(bob.unread("c2c_carol").await, 260);
    assert_eq!(bob.total_unread().await, 560);
    let history = bob.history("c2c_carol").await;
    let seqs: Vec<u64> = history.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=260).collect::<Vec<u64>>());
}
