//! `search_local_messages` against a real server: what reaches a device's cache is what
//! its search finds — keywords (ASCII case-insensitive, Chinese), OR / AND, senders,
//! conversation scope vs all (V2TIM's counts), time window, paging, refusals, targeted
//! messages for others, localCustomData, and searching while the server is gone.

mod common;

use common::sdk_harness::{Client, TestServer, member};
use termim::model::Message;
use termim::protocol::codes;
use termim::sdk::{
    KeywordListMatchType, MessageSearchParam, MessageSearchResult, SendParams, TimError,
};

async fn clients(server: &TestServer, users: &[&str]) -> Vec<Client> {
    let mut out = Vec::new();
    for u in users {
        let mut c = server.client(u).await;
        c.synced().await;
        out.push(c);
    }
    out
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| w.to_string()).collect()
}

/// Search one conversation for keywords (OR).
fn in_conv(conv: &str, keywords: &[&str]) -> MessageSearchParam {
    MessageSearchParam {
        keyword_list: words(keywords),
        conversation_id: Some(conv.into()),
        ..Default::default()
    }
}

async fn search(c: &Client, p: MessageSearchParam) -> MessageSearchResult {
    c.tim
        .search_local_messages(p.clone())
        .await
        .unwrap_or_else(|e| panic!("{} searches {p:?}: {e}", c.user))
}

async fn refused(c: &Client, p: MessageSearchParam) -> TimError {
    match c.tim.search_local_messages(p.clone()).await {
        Ok(r) => panic!("{p:?} was accepted: {r:?}"),
        Err(e) => e,
    }
}

/// Texts of every message in the result, item by item, newest first within each.
fn texts(r: &MessageSearchResult) -> Vec<String> {
    r.message_search_result_items
        .iter()
        .flat_map(|i| i.message_list.iter().map(Message::preview))
        .collect()
}

/// (conversationID, messageCount, messages listed) per item.
fn items(r: &MessageSearchResult) -> Vec<(String, u32, usize)> {
    r.message_search_result_items
        .iter()
        .map(|i| {
            (
                i.conversation_id.clone(),
                i.message_count,
                i.message_list.len(),
            )
        })
        .collect()
}

/// `from` sends each text to `to`; `to` waits until the last one arrived.
async fn chat(from: &Client, to: &mut Client, list: &[&str]) {
    for t in list {
        from.send_text(&to.user, t).await;
    }
    if let Some(last) = list.last() {
        to.message(last).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keywords_match_case_insensitively_in_english_and_as_substrings_in_chinese() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob"]).await;
    let (alice, bob) = cs.split_at_mut(1);
    let (alice, bob) = (&mut alice[0], &bob[0]);
    chat(
        bob,
        alice,
        &[
            "Hello World",
            "周末一起去爬山吗？",
            "say HELLO to the team",
            "nothing to see",
            "我今天在家工作",
        ],
    )
    .await;
    let mine = alice.send_text("bob", "hello from me").await;

    let r = search(alice, in_conv("c2c_bob", &["hello"])).await;
    assert_eq!(r.total_count, 3, "{r:?}");
    assert_eq!(
        texts(&r),
        ["hello from me", "say HELLO to the team", "Hello World"],
        "newest first, both directions"
    );
    assert_eq!(items(&r), [("c2c_bob".to_string(), 3, 3)]);
    assert_eq!(
        r.message_search_result_items[0].message_list[0].msg_id,
        mine.msg_id
    );

    let r = search(alice, in_conv("c2c_bob", &["WORLD"])).await;
    assert_eq!(texts(&r), ["Hello World"]);
    let r = search(alice, in_conv("c2c_bob", &["爬山"])).await;
    assert_eq!(texts(&r), ["周末一起去爬山吗？"]);
    let r = search(alice, in_conv("c2c_bob", &["山"])).await;
    assert_eq!(texts(&r), ["周末一起去爬山吗？"], "one character is enough");
    let r = search(alice, in_conv("c2c_bob", &["工作"])).await;
    assert_eq!(texts(&r), ["我今天在家工作"]);
    let r = search(alice, in_conv("c2c_bob", &["xyzzy"])).await;
    assert_eq!(r.total_count, 0);
    assert!(r.message_search_result_items.is_empty());
    // Bob's own cache finds the same conversation under alice's id.
    let r = search(&cs[1], in_conv("c2c_alice", &["hello"])).await;
    assert_eq!(r.total_count, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn or_needs_any_keyword_and_needs_all() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob"]).await;
    let (alice, bob) = cs.split_at_mut(1);
    let (alice, bob) = (&mut alice[0], &bob[0]);
    chat(
        bob,
        alice,
        &["red apple", "green apple", "red car", "blue sky"],
    )
    .await;
    let mut p = in_conv("c2c_bob", &["red", "apple"]);
    let r = search(alice, p.clone()).await;
    assert_eq!(texts(&r), ["red car", "green apple", "red apple"]);
    p.keyword_list_match_type = KeywordListMatchType::And;
    let r = search(alice, p.clone()).await;
    assert_eq!(texts(&r), ["red apple"]);
    assert_eq!(r.total_count, 1);
    p.keyword_list = words(&["APPLE", "green", "gr"]);
    assert_eq!(texts(&search(alice, p).await), ["green apple"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_and_types_filter_with_or_without_keywords() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob", "carol"]).await;
    cs[0]
        .tim
        .create_group(
            "Work",
            "team",
            Some("team"),
            &[member("bob"), member("carol")],
        )
        .await
        .unwrap();
    cs[1].send_group_text("team", "lunch? (bob)").await;
    cs[2].send_group_text("team", "lunch! (carol)").await;
    let created = cs[2]
        .tim
        .create_custom_message("{\"lunch\":true}", "lunch poll", "")
        .unwrap();
    cs[2]
        .tim
        .send_message(SendParams {
            id: created.id,
            group_id: "team".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    cs[0].message("[custom] lunch poll").await;
    let alice = &cs[0];

    let mut p = in_conv("group_team", &["lunch"]);
    assert_eq!(search(alice, p.clone()).await.total_count, 3);
    p.user_id_list = words(&["carol"]);
    assert_eq!(
        texts(&search(alice, p.clone()).await),
        ["[custom] lunch poll", "lunch! (carol)"]
    );
    p.message_type_list = vec![termim::model::elem_type::TEXT];
    assert_eq!(texts(&search(alice, p.clone()).await), ["lunch! (carol)"]);
    // No keyword: a sender (or type) filter alone lists what matches it.
    p.keyword_list.clear();
    p.message_type_list.clear();
    p.user_id_list = words(&["bob"]);
    assert_eq!(texts(&search(alice, p.clone()).await), ["lunch? (bob)"]);
    p.user_id_list.clear();
    p.message_type_list = vec![termim::model::elem_type::CUSTOM];
    assert_eq!(texts(&search(alice, p).await), ["[custom] lunch poll"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_conversations_count_conversations_and_list_a_message_only_when_it_is_alone() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob", "carol"]).await;
    cs[0]
        .tim
        .create_group(
            "Work",
            "team",
            Some("team"),
            &[member("bob"), member("carol")],
        )
        .await
        .unwrap();
    let (alice, rest) = cs.split_at_mut(1);
    let alice = &mut alice[0];
    chat(
        &rest[0],
        alice,
        &["deploy at 5", "deploy done", "unrelated"],
    )
    .await;
    rest[1]
        .send_group_text("team", "who broke the deploy?")
        .await;
    rest[1].send_group_text("team", "the DEPLOY is fine").await;
    alice.message("the DEPLOY is fine").await;
    chat(&rest[1], alice, &["did you deploy?"]).await;

    let all = MessageSearchParam {
        keyword_list: words(&["deploy"]),
        ..Default::default()
    };
    let r = search(alice, all.clone()).await;
    assert_eq!(r.total_count, 3, "conversations, not messages: {r:?}");
    assert_eq!(
        items(&r),
        [
            ("c2c_carol".to_string(), 1, 1),
            ("group_team".to_string(), 2, 0),
            ("c2c_bob".to_string(), 2, 0),
        ],
        "newest match first; the message listed only where it is the one match"
    );
    assert_eq!(texts(&r), ["did you deploy?"]);

    // termim's extension: snippets for every conversation from one call.
    let r = search(
        alice,
        MessageSearchParam {
            messages_per_conversation: 5,
            ..all.clone()
        },
    )
    .await;
    assert_eq!(
        texts(&r),
        [
            "did you deploy?",
            "the DEPLOY is fine",
            "who broke the deploy?",
            "deploy done",
            "deploy at 5"
        ]
    );

    // Pages of conversations.
    let page = |i| MessageSearchParam {
        page_size: 2,
        page_index: i,
        ..all.clone()
    };
    let r0 = search(alice, page(0)).await;
    let r1 = search(alice, page(1)).await;
    let r2 = search(alice, page(2)).await;
    assert_eq!((r0.total_count, r1.total_count, r2.total_count), (3, 3, 3));
    let ids = |r: &MessageSearchResult| -> Vec<String> {
        items(r).into_iter().map(|(id, _, _)| id).collect()
    };
    assert_eq!(ids(&r0), ["c2c_carol", "group_team"]);
    assert_eq!(ids(&r1), ["c2c_bob"]);
    assert!(ids(&r2).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_one_conversation_are_newest_first_without_overlap() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob"]).await;
    let (alice, bob) = cs.split_at_mut(1);
    let (alice, bob) = (&mut alice[0], &bob[0]);
    let sent: Vec<String> = (1..=7).map(|i| format!("note {i}")).collect();
    let refs: Vec<&str> = sent.iter().map(String::as_str).collect();
    chat(bob, alice, &refs).await;
    let mut seen = Vec::new();
    for (i, want) in [3, 3, 1, 0].into_iter().enumerate() {
        let r = search(
            alice,
            MessageSearchParam {
                page_size: 3,
                page_index: i as u32,
                ..in_conv("c2c_bob", &["note"])
            },
        )
        .await;
        assert_eq!(r.total_count, 7);
        let t = texts(&r);
        assert_eq!(t.len(), want, "page {i}: {t:?}");
        seen.extend(t);
    }
    let newest_first: Vec<String> = sent.into_iter().rev().collect();
    assert_eq!(seen, newest_first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_window_ends_at_its_position_and_reaches_back_its_period() {
    let server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob"]).await;
    let (alice, bob) = cs.split_at_mut(1);
    let (alice, bob) = (&mut alice[0], &bob[0]);
    chat(bob, alice, &["window one", "window two"]).await;
    let r = search(alice, in_conv("c2c_bob", &["window"])).await;
    let list = &r.message_search_result_items[0].message_list;
    let (newest, oldest) = (list[0].timestamp, list[1].timestamp);

    let at = |position: i64, period: i64| MessageSearchParam {
        search_time_position: position,
        search_time_period: period,
        ..in_conv("c2c_bob", &["window"])
    };
    assert_eq!(
        search(alice, at(newest, 0)).await.total_count,
        2,
        "inclusive end"
    );
    assert_eq!(search(alice, at(oldest - 1, 0)).await.total_count, 0);
    assert_eq!(search(alice, at(oldest - 1, 3600)).await.total_count, 0);
    assert_eq!(
        search(alice, at(newest + 10, 10 + newest - oldest))
            .await
            .total_count,
        2,
        "inclusive start"
    );
    assert_eq!(
        search(alice, at(newest + 10, 9)).await.total_count,
        0,
        "period ends before the messages"
    );
    assert_eq!(
        search(alice, at(0, 3600)).await.total_count,
        2,
        "the last hour"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_searches_are_refused_with_6017_and_a_sentence() {
    let server = TestServer::start().await;
    let cs = clients(&server, &["alice"]).await;
    let alice = &cs[0];
    let e = refused(alice, MessageSearchParam::default()).await;
    assert_eq!(e.code, codes::ERR_INVALID_PARAMETERS);
    assert!(e.desc.contains("keyword"), "{e}");
    let e = refused(alice, in_conv("c2c_bob", &["a", "b", "c", "d", "e", "f"])).await;
    assert_eq!(e.code, codes::ERR_INVALID_PARAMETERS);
    assert!(e.desc.contains("at most 5"), "{e}");
    let e = refused(alice, in_conv("c2c_bob", &[""])).await;
    assert_eq!(e.code, codes::ERR_INVALID_PARAMETERS);
    let e = refused(
        alice,
        MessageSearchParam {
            user_id_list: words(&["a", "b", "c", "d", "e", "f"]),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(e.code, codes::ERR_INVALID_PARAMETERS);
    let e = refused(alice, in_conv("bob", &["x"])).await;
    assert_eq!(e.code, codes::ERR_INVALID_PARAMETERS);
    assert!(e.desc.contains("conversation"), "{e}");

    alice.tim.logout().await.unwrap();
    let e = refused(alice, in_conv("c2c_bob", &["x"])).await;
    assert_eq!(e.code, codes::ERR_SDK_NOT_LOGGED_IN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targeted_messages_for_others_and_local_custom_data_are_never_found() {
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
    let base = cs[0].tim.create_text_message("secret plan").unwrap();
    let targeted = cs[0]
        .tim
        .create_targeted_group_message(&base.id, &["bob".into()])
        .unwrap();
    cs[0]
        .tim
        .send_message(SendParams {
            id: targeted.id,
            group_id: "trio".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    cs[0]
        .send(
            SendParams {
                group_id: "trio".into(),
                local_custom_data: Some("localonly marker".into()),
                cloud_custom_data: Some("cloudonly marker".into()),
                ..Default::default()
            },
            "after the plan",
        )
        .await
        .unwrap();
    cs[1].message("after the plan").await;
    cs[2].message("after the plan").await;

    let secret = |c: &str| in_conv(c, &["secret"]);
    assert_eq!(
        texts(&search(&cs[0], secret("group_trio")).await),
        ["secret plan"]
    );
    assert_eq!(
        texts(&search(&cs[1], secret("group_trio")).await),
        ["secret plan"]
    );
    let r = search(&cs[2], secret("group_trio")).await;
    assert_eq!(r.total_count, 0, "carol was not a receiver: {r:?}");
    let all = MessageSearchParam {
        keyword_list: words(&["secret"]),
        ..Default::default()
    };
    assert_eq!(search(&cs[2], all).await.total_count, 0);

    // The sender's cache holds the localCustomData, but only content is searched.
    let r = search(&cs[0], in_conv("group_trio", &["localonly", "cloudonly"])).await;
    assert_eq!(r.total_count, 0, "{r:?}");
    assert_eq!(
        texts(&search(&cs[0], in_conv("group_trio", &["after"])).await),
        ["after the plan"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_is_local_it_works_without_the_server_and_forgets_deleted_conversations() {
    let mut server = TestServer::start().await;
    let mut cs = clients(&server, &["alice", "bob"]).await;
    let (alice, bob) = cs.split_at_mut(1);
    let (alice, bob) = (&mut alice[0], &bob[0]);
    chat(bob, alice, &["offline needle"]).await;
    server.stop().await;
    alice
        .state(termim::sdk::ConnectionState::Disconnected)
        .await;
    let r = search(alice, in_conv("c2c_bob", &["needle"])).await;
    assert_eq!(texts(&r), ["offline needle"]);

    server.restart().await;
    alice.state(termim::sdk::ConnectionState::Connected).await;
    alice.tim.delete_conversation("c2c_bob").await.unwrap();
    let r = search(
        alice,
        MessageSearchParam {
            keyword_list: words(&["needle"]),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.total_count, 0, "{r:?}");
}
