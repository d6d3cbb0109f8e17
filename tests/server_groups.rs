//! Group semantics per type (reference §3.13): creation rules, join, quit, dismiss,
//! invite, kick, GroupTips in history, groupEvent pushes, pre-join history, member lists.

mod common;

use common::raw::{RawClient, TestServer, texts};
use serde_json::{Value, json};

async fn create(c: &mut RawClient, params: Value) -> Result<String, (i64, String)> {
    let r = c.request("createGroup", params).await;
    if r["code"] == 0 {
        Ok(r["data"]["groupID"].as_str().unwrap_or("").to_string())
    } else {
        Err((
            r["code"].as_i64().unwrap_or(-1),
            r["desc"].as_str().unwrap_or("").to_string(),
        ))
    }
}

fn tips(m: &Value) -> (u64, String, Vec<String>) {
    let t = &m["groupTipsElem"];
    (
        t["type"].as_u64().unwrap_or(0),
        t["opMember"].as_str().unwrap_or("").to_string(),
        t["memberList"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|u| u.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn creation_rules_per_type() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    for u in ["bob", "carol"] {
        server.login(u).await;
    }
    let err = |r: Result<String, (i64, String)>| r.err().map(|e| e.0);

    // Server-assigned ids.
    let work = create(&mut alice, json!({"groupType": "Work", "groupName": "w"})).await;
    assert!(
        work.as_deref()
            .is_ok_and(|id| id.starts_with("@TGS#") && !id.starts_with("@TGS#_"))
    );
    let community = create(
        &mut alice,
        json!({"groupType": "Community", "groupName": "c"}),
    )
    .await;
    assert!(
        community
            .as_deref()
            .is_ok_and(|id| id.starts_with("@TGS#_"))
    );

    // Custom ids.
    let cases = [
        (
            json!({"groupType": "Work", "groupName": "x", "groupID": "@TGS#mine"}),
            10015,
        ),
        (
            json!({"groupType": "Community", "groupName": "x", "groupID": "club"}),
            10015,
        ),
        (
            json!({"groupType": "Public", "groupName": "x", "groupID": "a".repeat(49)}),
            10015,
        ),
        (
            json!({"groupType": "Public", "groupName": "x", "groupID": "has space"}),
            10015,
        ),
        (json!({"groupType": "Party", "groupName": "x"}), 10004),
        (json!({"groupType": "Work", "groupName": ""}), 10004),
        (
            json!({"groupType": "Work", "groupName": "n".repeat(101)}),
            10004,
        ),
        (
            json!({"groupType": "Work", "groupName": "x", "memberList": [{"userID": "bob", "role": 300}]}),
            10004,
        ),
        (
            json!({"groupType": "Public", "groupName": "x", "memberList": [{"userID": "bob", "role": 400}]}),
            10004,
        ),
        (
            json!({"groupType": "AVChatRoom", "groupName": "x", "memberList": [{"userID": "bob"}]}),
            10004,
        ),
        (
            json!({"groupType": "Public", "groupName": "x", "memberList": [{"userID": "ghost"}]}),
            10019,
        ),
        (
            json!({"groupType": "Public", "groupName": "x",
                "memberList": (0..21).map(|i| json!({"userID": format!("u{i}")})).collect::<Vec<_>>()}),
            10004,
        ),
    ];
    for (params, code) in cases {
        assert_eq!(
            err(create(&mut alice, params.clone()).await),
            Some(code),
            "{params}"
        );
    }
    assert!(
        create(
            &mut alice,
            json!({"groupType": "Community", "groupName": "c", "groupID": "@TGS#_club"})
        )
        .await
        .is_ok()
    );
    assert!(
        create(
            &mut alice,
            json!({"groupType": "Public", "groupName": "p", "groupID": "pub",
        "memberList": [{"userID": "bob", "role": 300}, {"userID": "carol"}]})
        )
        .await
        .is_ok()
    );
    assert_eq!(
        err(create(
            &mut alice,
            json!({"groupType": "Meeting", "groupName": "again", "groupID": "pub"})
        )
        .await),
        Some(10021)
    );
    // Legacy type names are accepted.
    assert!(
        create(
            &mut alice,
            json!({"groupType": "Private", "groupName": "legacy", "groupID": "legacy"})
        )
        .await
        .is_ok()
    );

    // getGroupsInfo: per-item results.
    let info = alice
        .call(
            "getGroupsInfo",
            json!({"groupIDList": ["pub", "nope", "legacy"]}),
        )
        .await;
    assert_eq!(info[0]["resultCode"], 0);
    let pub_info = &info[0]["groupInfo"];
    assert_eq!(pub_info["groupType"], "Public");
    assert_eq!(pub_info["owner"], "alice");
    assert_eq!(pub_info["memberCount"], 3);
    assert_eq!(pub_info["role"], 400);
    assert_eq!(info[1]["resultCode"], 10010);
    assert!(info[1].get("groupInfo").is_none());
    assert_eq!(info[2]["groupInfo"]["groupType"], "Work");

    // Member list: roles, filters, paging, online flags.
    let mut bob = server.login("bob").await;
    let page = bob
        .call(
            "getGroupMemberList",
            json!({"groupID": "pub", "filter": 0, "nextSeq": "0", "count": 2}),
        )
        .await;
    let users: Vec<&str> = page["memberInfoList"]
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["userID"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(users, ["alice", "bob"], "owner, then admins, then members");
    assert_eq!(page["memberInfoList"][0]["role"], 400);
    assert_eq!(page["memberInfoList"][1]["role"], 300);
    assert_eq!(page["memberInfoList"][0]["isOnline"], true);
    let rest = bob
        .call(
            "getGroupMemberList",
            json!({"groupID": "pub", "filter": 0, "nextSeq": page["nextSeq"], "count": 2}),
        )
        .await;
    assert_eq!(rest["memberInfoList"][0]["userID"], "carol");
    assert_eq!(rest["memberInfoList"][0]["isOnline"], false);
    assert_eq!(rest["nextSeq"], "0");
    for (filter, who) in [(1, "alice"), (2, "bob"), (4, "carol")] {
        let only = bob
            .call(
                "getGroupMemberList",
                json!({"groupID": "pub", "filter": filter, "nextSeq": "0", "count": 10}),
            )
            .await;
        assert_eq!(only["memberInfoList"].as_array().map(Vec::len), Some(1));
        assert_eq!(only["memberInfoList"][0]["userID"], who);
    }
    let mut dave = server.login("dave").await;
    assert_eq!(
        dave.call_err("getGroupMemberList", json!({"groupID": "pub", "count": 10}))
            .await
            .0,
        10007
    );

    // Joined groups: everything alice created except the AVChatRoom.
    create(
        &mut alice,
        json!({"groupType": "AVChatRoom", "groupName": "live", "groupID": "live"}),
    )
    .await
    .expect("AVChatRoom");
    let joined = alice.call("getJoinedGroupList", json!({})).await;
    let joined: Vec<&str> = joined
        .as_array()
        .expect("array")
        .iter()
        .map(|g| g["groupID"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(joined.len(), 5);
    assert!(!joined.contains(&"live"));
}

#[tokio::test]
async fn join_rules_tips_and_pre_join_history() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut bob2 = server.login("bob").await;
    for (t, id) in [
        ("Work", "work"),
        ("Public", "pub"),
        ("Meeting", "meet"),
        ("AVChatRoom", "av"),
    ] {
        alice.create_group(t, id, &[]).await;
        alice
            .send_text_to("", id, &format!("{id}-before"), "said before bob came")
            .await;
    }

    let (code, desc) = bob.call_err("joinGroup", json!({"groupID": "work"})).await;
    assert_eq!(code, 10007);
    assert!(desc.contains("invite"), "{desc}");
    assert_eq!(
        bob.call_err("joinGroup", json!({"groupID": "nope"}))
            .await
            .0,
        10010
    );

    // Public: the application is approved at once.
    bob.call(
        "joinGroup",
        json!({"groupID": "pub", "message": "let me in"}),
    )
    .await;
    let ev = bob2.push_named("groupEvent").await;
    assert_eq!(
        (ev["event"].clone(), ev["groupID"].clone()),
        (json!("joined"), json!("pub"))
    );
    let tip = alice.push_named("newMessage").await["message"].clone();
    assert_eq!(tip["elemType"], 9);
    assert_eq!(tips(&tip), (1, "bob".into(), vec!["bob".into()]));
    assert_eq!(tip["groupTipsElem"]["memberCount"], 2);
    assert_eq!(
        bob.call_err("joinGroup", json!({"groupID": "pub"})).await.0,
        10013
    );

    // Pre-join history: off in Public (bob sees from his join tips), on in Meeting.
    let history = bob.history("group_pub", 10).await;
    assert_eq!(history.len(), 1);
    assert_eq!(tips(&history[0]).0, 1);
    bob.call("joinGroup", json!({"groupID": "meet"})).await;
    let history = bob.history("group_meet", 10).await;
    assert_eq!(history.len(), 2, "Meeting shows what was said before");
    assert_eq!(texts(&history[1..]), ["said before bob came"]);

    // Sync is bob's stream: what was sent to him since he joined (his join tips, not the
    // history from before — that is getHistoryMessageList's, above).
    let (synced, _) = bob.sync_all(0).await;
    assert!(
        !texts(&synced).iter().any(|t| t == "said before bob came"),
        "pre-join history is not in the stream: {synced:?}"
    );
    let joins = synced
        .iter()
        .filter(|m| m["elemType"] == 9 && tips(m).1 == "bob")
        .count();
    assert_eq!(joins, 2, "bob's join tips in pub and meet: {synced:?}");

    // AVChatRoom: joins at once; nothing is stored, not even tips.
    bob.call("joinGroup", json!({"groupID": "av"})).await;
    assert!(bob.history("group_av", 10).await.is_empty());
    let m = alice.send_text_to("", "av", "live-1", "live").await;
    assert_eq!(m["seq"], 0);
    bob.message_with_id(&m["msgID"]).await;
    assert!(alice.history("group_av", 10).await.is_empty());

    // Unread: Public counts, Meeting does not, tips never do.
    alice.send_text_to("", "pub", "p2", "after").await;
    alice.send_text_to("", "meet", "m2", "after").await;
    assert_eq!(bob.conversation("group_pub").await["unreadCount"], 1);
    assert_eq!(bob.conversation("group_meet").await["unreadCount"], 0);
}

#[tokio::test]
async fn quit_dismiss_and_ownership() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    alice.create_group("Public", "pub", &["bob", "carol"]).await;
    alice.create_group("Work", "work", &["bob", "carol"]).await;

    let (code, _) = alice.call_err("quitGroup", json!({"groupID": "pub"})).await;
    assert_eq!(code, 10009, "the owner of a Public group cannot quit");
    bob.call("quitGroup", json!({"groupID": "pub"})).await;
    let tip = loop {
        let m = carol.push_named("newMessage").await["message"].clone();
        if m["groupID"] == "pub" {
            break m;
        }
    };
    assert_eq!(tips(&tip), (3, "bob".into(), vec!["bob".into()]));
    assert_eq!(
        bob.call_err("quitGroup", json!({"groupID": "pub"})).await.0,
        10007
    );
    assert_eq!(
        bob.call_err(
            "getHistoryMessageList",
            json!({"conversationID": "group_pub", "count": 5})
        )
        .await
        .0,
        10007
    );
    assert_eq!(
        bob.call_err("sendMessage", common::raw::text_params("x", "", "pub", "x"))
            .await
            .0,
        10007
    );

    // A Work owner may quit; the longest-standing member becomes owner.
    alice.call("quitGroup", json!({"groupID": "work"})).await;
    let info = bob
        .call("getGroupsInfo", json!({"groupIDList": ["work"]}))
        .await;
    let owner = info[0]["groupInfo"]["owner"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(owner == "bob" || owner == "carol", "{owner}");
    assert_eq!(info[0]["groupInfo"]["memberCount"], 2);

    // Dismiss: owner only; everyone hears; the group is gone and its id stays taken.
    assert_eq!(
        carol
            .call_err("dismissGroup", json!({"groupID": "pub"}))
            .await
            .0,
        10007
    );
    alice.call("dismissGroup", json!({"groupID": "pub"})).await;
    let ev = carol.group_event("dismissed").await;
    assert_eq!(ev["groupID"], "pub");
    assert_eq!(
        carol
            .call_err("sendMessage", common::raw::text_params("y", "", "pub", "y"))
            .await
            .0,
        10010
    );
    assert_eq!(
        carol
            .call_err("joinGroup", json!({"groupID": "pub"}))
            .await
            .0,
        10010
    );
    let again = create(
        &mut alice,
        json!({"groupType": "Public", "groupName": "p", "groupID": "pub"}),
    )
    .await;
    assert_eq!(again.err().map(|e| e.0), Some(10021));
    let list = carol
        .call("getConversationList", json!({"nextSeq": "0", "count": 10}))
        .await;
    assert!(!list.to_string().contains("group_pub"));
}

#[tokio::test]
async fn invite_rules_per_type() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    server.login("dave").await;
    alice.create_group("Work", "work", &["bob"]).await;
    alice.create_group("Public", "pub", &["bob"]).await;
    alice.create_group("AVChatRoom", "av", &[]).await;
    alice.send_text_to("", "work", "w1", "before carol").await;

    // Work: any member invites; one result per user.
    let results = bob
        .call(
            "inviteUserToGroup",
            json!({"groupID": "work", "userList": ["carol", "alice", "ghost"]}),
        )
        .await;
    let verdicts: Vec<(String, u64)> = results
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["memberID"].as_str().unwrap_or("").to_string(),
                r["result"].as_u64().unwrap_or(9),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("carol".into(), 1),
            ("alice".into(), 2),
            ("ghost".into(), 0)
        ]
    );
    let ev = carol.group_event("invited").await;
    assert_eq!(ev["opUser"], "bob");
    assert_eq!(ev["memberList"], json!(["carol"]));
    let history = carol.history("group_work", 10).await;
    assert_eq!(history.len(), 1, "Work: carol sees from her invitation on");
    assert_eq!(tips(&history[0]), (2, "bob".into(), vec!["carol".into()]));

    // Public: plain members may not invite; the owner may.
    let (code, _) = bob
        .call_err(
            "inviteUserToGroup",
            json!({"groupID": "pub", "userList": ["dave"]}),
        )
        .await;
    assert_eq!(code, 10007);
    alice
        .call(
            "inviteUserToGroup",
            json!({"groupID": "pub", "userList": ["dave"]}),
        )
        .await;
    // AVChatRoom: nobody.
    let (code, _) = alice
        .call_err(
            "inviteUserToGroup",
            json!({"groupID": "av", "userList": ["dave"]}),
        )
        .await;
    assert_eq!(code, 10007);
    // Non-members and bad lists.
    let (code, _) = carol
        .call_err(
            "inviteUserToGroup",
            json!({"groupID": "pub", "userList": ["dave"]}),
        )
        .await;
    assert_eq!(code, 10007);
    let (code, _) = alice
        .call_err(
            "inviteUserToGroup",
            json!({"groupID": "pub", "userList": []}),
        )
        .await;
    assert_eq!(code, 10004);
    let many: Vec<String> = (0..21).map(|i| format!("u{i}")).collect();
    let (code, _) = alice
        .call_err(
            "inviteUserToGroup",
            json!({"groupID": "pub", "userList": many}),
        )
        .await;
    assert_eq!(code, 10004);
}

#[tokio::test]
async fn kick_rules_and_a_kicked_member_gets_nothing_more() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    let mut dave = server.login("dave").await;
    alice.create_group("Work", "work", &["bob", "carol"]).await;
    create(
        &mut alice,
        json!({"groupType": "Public", "groupName": "p", "groupID": "pub",
               "memberList": [{"userID": "bob", "role": 300}, {"userID": "carol", "role": 300},
                              {"userID": "dave"}]}),
    )
    .await
    .expect("created");

    // Work: only the owner kicks.
    let (code, _) = bob
        .call_err(
            "kickGroupMember",
            json!({"groupID": "work", "memberList": ["carol"]}),
        )
        .await;
    assert_eq!(code, 10007);
    alice
        .call(
            "kickGroupMember",
            json!({"groupID": "work", "memberList": ["carol"], "reason": "bye"}),
        )
        .await;
    let ev = carol.group_event("kicked").await;
    assert_eq!(ev["opUser"], "alice");
    assert_eq!(ev["groupID"], "work");
    let tip = alice.history("group_work", 1).await;
    assert_eq!(tips(&tip[0]), (4, "alice".into(), vec!["carol".into()]));
    assert_eq!(tip[0]["groupTipsElem"]["memberCount"], 2);
    // Kicked: cannot send or read, and receives nothing later.
    let later = alice
        .send_text_to("", "work", "after-kick", "not for carol")
        .await;
    let sentinel = alice.send_text_to("carol", "", "c2c", "sentinel").await;
    loop {
        let m = carol.push_named("newMessage").await["message"].clone();
        assert_ne!(
            m["msgID"], later["msgID"],
            "a kicked member got a later message"
        );
        if m["msgID"] == sentinel["msgID"] {
            break;
        }
    }
    assert_eq!(
        carol
            .call_err(
                "getHistoryMessageList",
                json!({"conversationID": "group_work", "count": 5})
            )
            .await
            .0,
        10007
    );
    assert_eq!(
        carol
            .call_err(
                "sendMessage",
                common::raw::text_params("k", "", "work", "k")
            )
            .await
            .0,
        10007
    );
    assert!(
        !carol
            .sync_all(0)
            .await
            .0
            .iter()
            .any(|m| m["msgID"] == later["msgID"])
    );

    // Public: admins kick plain members only; nobody kicks the owner; not yourself.
    let (code, _) = bob
        .call_err(
            "kickGroupMember",
            json!({"groupID": "pub", "memberList": ["carol"]}),
        )
        .await;
    assert_eq!(code, 10007, "admin kicking an admin");
    let (code, _) = bob
        .call_err(
            "kickGroupMember",
            json!({"groupID": "pub", "memberList": ["alice"]}),
        )
        .await;
    assert_eq!(code, 10007, "admin kicking the owner");
    let (code, _) = bob
        .call_err(
            "kickGroupMember",
            json!({"groupID": "pub", "memberList": ["bob"]}),
        )
        .await;
    assert_eq!(code, 10004);
    let (code, _) = bob
        .call_err(
            "kickGroupMember",
            json!({"groupID": "pub", "memberList": ["zed"]}),
        )
        .await;
    assert_eq!(code, 10004);
    bob.call(
        "kickGroupMember",
        json!({"groupID": "pub", "memberList": ["dave"]}),
    )
    .await;
    assert_eq!(dave.group_event("kicked").await["groupID"], "pub");
    alice
        .call(
            "kickGroupMember",
            json!({"groupID": "pub", "memberList": ["carol"]}),
        )
        .await;
}
