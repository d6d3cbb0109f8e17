//! Group wrappers of the SDK against a real server: create, invite, kick, quit, join,
//! dismiss, the lists, and what each does to the members' conversations and events.

mod common;

use common::sdk_harness::{Client, TestServer, member};
use termim::model::{member_op_result, role};
use termim::protocol::codes;
use termim::sdk::TimEvent;

async fn group_event(c: &mut Client, group: &str, event: &str) {
    let what = format!("group event {event} in {group}");
    c.wait_for(&what, |e| match e {
        TimEvent::GroupEvent(g) if g.group_id == group && g.event == event => Some(()),
        _ => None,
    })
    .await;
}

async fn conversation_appears(c: &mut Client, id: &str) {
    let what = format!("conversation {id}");
    c.wait_for(&what, |e| match e {
        TimEvent::NewConversation(list) | TimEvent::ConversationChanged(list) => {
            list.iter().any(|c| c.conversation_id == id).then_some(())
        }
        _ => None,
    })
    .await;
}

async fn conversation_goes(c: &mut Client, id: &str) {
    let what = format!("deletion of {id}");
    c.wait_for(&what, |e| match e {
        TimEvent::ConversationDeleted(ids) => ids.iter().any(|i| i == id).then_some(()),
        _ => None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_reach_members_and_their_conversations() {
    let server = TestServer::start().await;
    let mut cs = Vec::new();
    for u in ["alice", "bob", "carol", "dave"] {
        let mut c = server.client(u).await;
        c.synced().await;
        cs.push(c);
    }
    let [alice, bob, carol, dave] = &mut cs[..] else {
        unreachable!()
    };

    let id = alice
        .tim
        .create_group("Work", "工作组", Some("w"), &[member("bob")])
        .await
        .unwrap();
    assert_eq!(id, "w");
    assert!(alice.conversation("group_w").await.is_some());
    group_event(bob, "w", "invited").await;
    conversation_appears(bob, "group_w").await;
    assert_eq!(
        bob.conversation("group_w").await.unwrap().show_name,
        "工作组"
    );

    let results = alice
        .tim
        .invite_user_to_group("w", &["carol".into(), "dave".into(), "bob".into()])
        .await
        .unwrap();
    let by_user = |u: &str| results.iter().find(|r| r.member_id == u).map(|r| r.result);
    assert_eq!(by_user("carol"), Some(member_op_result::SUCC));
    assert_eq!(by_user("dave"), Some(member_op_result::SUCC));
    assert_eq!(
        by_user("bob"),
        Some(member_op_result::INVALID),
        "already a member"
    );
    group_event(carol, "w", "invited").await;
    conversation_appears(carol, "group_w").await;

    let info = carol
        .tim
        .get_groups_info(&["w".into(), "no-such-group".into()])
        .await
        .unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].group_id, "w");
    assert_eq!(info[0].member_count, 4);
    assert_eq!(info[0].group_type, "Work");
    let members = carol
        .tim
        .get_group_member_list("w", 0, "0", 10)
        .await
        .unwrap();
    assert_eq!(members.member_info_list.len(), 4);
    let owner = members
        .member_info_list
        .iter()
        .find(|m| m.role == role::OWNER)
        .unwrap();
    assert_eq!(owner.user_id, "alice");
    assert_eq!(dave.tim.get_joined_group_list().await.unwrap().len(), 1);

    // Kicked: the member hears it, loses the conversation and cannot send.
    alice
        .tim
        .kick_group_member("w", &["dave".into()], "bye")
        .await
        .unwrap();
    group_event(dave, "w", "kicked").await;
    conversation_goes(dave, "group_w").await;
    assert!(dave.conversation("group_w").await.is_none());
    let err = dave.send_group_text_err("w", "still here?").await;
    assert_eq!(err.code, codes::ERR_SVR_GROUP_PERMISSION_DENIED);
    assert!(dave.tim.get_joined_group_list().await.unwrap().is_empty());

    // Quit: gone from the quitter's list at once.
    bob.tim.quit_group("w").await.unwrap();
    assert!(bob.conversation("group_w").await.is_none());
    carol.send_group_text("w", "who is left?").await;
    alice.message("who is left?").await;
    let members = alice
        .tim
        .get_group_member_list("w", 0, "0", 10)
        .await
        .unwrap();
    let mut ids: Vec<_> = members
        .member_info_list
        .iter()
        .map(|m| m.user_id.as_str())
        .collect();
    ids.sort();
    assert_eq!(ids, ["alice", "carol"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_quit_and_dismiss_follow_the_group_type() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.synced().await;
    let mut carol = server.client("carol").await;
    carol.synced().await;

    let public = alice
        .tim
        .create_group("Public", "open", None, &[])
        .await
        .unwrap();
    assert!(!public.is_empty(), "the server assigns an id");
    carol.tim.join_group(&public, "let me in").await.unwrap();
    let conv_id = format!("group_{public}");
    assert!(carol.conversation(&conv_id).await.is_some());
    carol.send_group_text(&public, "joined!").await;
    alice.message("joined!").await;

    // The owner of a Public group cannot quit; only dismiss.
    let err = alice.tim.quit_group(&public).await.unwrap_err();
    assert_eq!(err.code, codes::ERR_SVR_GROUP_OWNER_CANNOT_QUIT);
    let err = carol.tim.dismiss_group(&public).await.unwrap_err();
    assert_eq!(err.code, codes::ERR_SVR_GROUP_PERMISSION_DENIED);

    alice.tim.dismiss_group(&public).await.unwrap();
    assert!(alice.conversation(&conv_id).await.is_none());
    group_event(&mut carol, &public, "dismissed").await;
    conversation_goes(&mut carol, &conv_id).await;
    let err = carol.tim.join_group(&public, "again").await.unwrap_err();
    assert_eq!(err.code, codes::ERR_SVR_GROUP_NOT_FOUND);

    // Work groups cannot be joined without an invitation.
    alice
        .tim
        .create_group("Work", "closed", Some("closed"), &[])
        .await
        .unwrap();
    let err = carol.tim.join_group("closed", "please").await.unwrap_err();
    assert_ne!(err.code, 0);
    assert!(carol.conversation("group_closed").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_and_roles_through_the_sdk() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.synced().await;
    let mut bob = server.client("bob").await;
    bob.synced().await;
    let mut carol = server.client("carol").await;
    carol.synced().await;
    let group = alice
        .tim
        .create_group(
            "Public",
            "muted",
            Some("mg"),
            &[member("bob"), member("carol")],
        )
        .await
        .unwrap();

    alice
        .tim
        .mute_group_member(&group, "bob", 600)
        .await
        .unwrap();
    let err = bob.send_group_text_err(&group, "can anyone hear me").await;
    assert_eq!(err.code, codes::ERR_SVR_GROUP_SHUTUP_DENY);
    // Only the owner/admins may mute.
    let err = carol
        .tim
        .mute_group_member(&group, "bob", 0)
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::ERR_SVR_GROUP_PERMISSION_DENIED);
    alice.tim.mute_group_member(&group, "bob", 0).await.unwrap();
    bob.send_group_text(&group, "back").await;

    // Promote carol: now she may mute plain members, but not the owner.
    alice
        .tim
        .set_group_member_role(&group, "carol", role::ADMIN)
        .await
        .unwrap();
    let page = alice
        .tim
        .get_group_member_list(&group, 2, "0", 50)
        .await
        .unwrap();
    let admins: Vec<&str> = page
        .member_info_list
        .iter()
        .map(|m| m.user_id.as_str())
        .collect();
    assert_eq!(admins, ["carol"]);
    carol
        .tim
        .mute_group_member(&group, "bob", 60)
        .await
        .unwrap();
    let err = carol
        .tim
        .mute_group_member(&group, "alice", 60)
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::ERR_SVR_GROUP_PERMISSION_DENIED);
    // Only the owner changes roles.
    let err = carol
        .tim
        .set_group_member_role(&group, "bob", role::ADMIN)
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::ERR_SVR_GROUP_PERMISSION_DENIED);
}
