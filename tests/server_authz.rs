//! The authorization matrix (issue 5 §5): every cell is its own test, generated from the
//! tables at the bottom of this file. Each cell starts a real server with one group of
//! the type under test:
//!
//! - alice: owner; bob and carol: admins where the type has admins (else members);
//!   dave: plain member; eve: a user outside the group.
//!
//! Every refusal is checked next to a control that succeeds, so no cell passes by accident.

mod common;

use base64::Engine as _;
use common::raw::{RawClient, TestServer, text_params, within};
use serde_json::{Value, json};
use std::io::{Read, Write};
use termim::usersig::{self, AppKey};

const DENIED: i64 = 10007;
const MUTED: i64 = 10017;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Work,
    Public,
    Meeting,
    Community,
    AVChatRoom,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Work => "Work",
            Ty::Public => "Public",
            Ty::Meeting => "Meeting",
            Ty::Community => "Community",
            Ty::AVChatRoom => "AVChatRoom",
        }
    }

    fn group_id(self) -> &'static str {
        match self {
            Ty::Community => "@TGS#_club",
            _ => "team",
        }
    }

    fn has_admins(self) -> bool {
        matches!(self, Ty::Public | Ty::Meeting | Ty::Community)
    }

    fn stores(self) -> bool {
        self != Ty::AVChatRoom
    }
}

struct World {
    _server: TestServer,
    alice: RawClient,
    bob: RawClient,
    carol: RawClient,
    dave: RawClient,
    eve: RawClient,
    group: String,
    conv: String,
}

async fn world(ty: Ty) -> World {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    let mut dave = server.login("dave").await;
    let eve = server.login("eve").await;
    let group = ty.group_id().to_string();
    if ty == Ty::AVChatRoom {
        alice.create_group(ty.name(), &group, &[]).await;
        for c in [&mut bob, &mut carol, &mut dave] {
            c.call("joinGroup", json!({"groupID": group, "message": ""}))
                .await;
        }
    } else {
        let admin = if ty.has_admins() { 300 } else { 200 };
        alice
            .call(
                "createGroup",
                json!({"groupType": ty.name(), "groupName": "g", "groupID": group,
                       "memberList": [{"userID": "bob", "role": admin},
                                      {"userID": "carol", "role": admin},
                                      {"userID": "dave", "role": 200}]}),
            )
            .await;
    }
    World {
        conv: format!("group_{group}"),
        _server: server,
        alice,
        bob,
        carol,
        dave,
        eve,
        group,
    }
}

fn ids(messages: &[Value]) -> Vec<Value> {
    messages.iter().map(|m| m["msgID"].clone()).collect()
}

/// Read `c`'s pushes up to the `newMessage` with `sentinel`'s msgID; return the msgIDs of
/// every message pushed before it.
async fn pushed_until(c: &mut RawClient, sentinel: &Value) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let m = c.push_named("newMessage").await["message"].clone();
        if m["msgID"] == sentinel["msgID"] {
            return seen;
        }
        seen.push(m["msgID"].clone());
    }
}

async fn group_send(c: &mut RawClient, group: &str, id: &str) -> Value {
    c.request("sendMessage", text_params(id, "", group, id))
        .await
}

async fn member_list(c: &mut RawClient, group: &str) -> Vec<Value> {
    c.call(
        "getGroupMemberList",
        json!({"groupID": group, "filter": 0, "nextSeq": "0", "count": 100}),
    )
    .await["memberInfoList"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn member(c: &mut RawClient, group: &str, user: &str) -> Value {
    member_list(c, group)
        .await
        .into_iter()
        .find(|m| m["userID"] == user)
        .unwrap_or(Value::Null)
}

/// The newest stored group tips of a group, as (type, memberList).
async fn last_tips(c: &mut RawClient, conv: &str) -> (u64, Vec<Value>) {
    let h = c.history(conv, 1).await;
    let t = &h[0]["groupTipsElem"];
    (
        t["type"].as_u64().unwrap_or(0),
        t["memberList"].as_array().cloned().unwrap_or_default(),
    )
}

// ------------------------------------------------------------------ non-members

#[derive(Clone, Copy)]
enum Path {
    Send,
    History,
    Sync,
}

async fn non_member_is_refused(ty: Ty, path: Path) {
    let mut w = world(ty).await;
    // Control: a member's message exists in the group.
    let ok = group_send(&mut w.alice, &w.group, "m1").await;
    assert_eq!(ok["code"], 0, "{ok}");
    let msg = ok["data"]["message"].clone();
    match path {
        Path::Send => {
            let (code, desc) = w
                .eve
                .call_err("sendMessage", text_params("e1", "", &w.group, "hi"))
                .await;
            assert_eq!(code, DENIED, "{desc}");
            assert!(desc.contains("not a member"), "{desc}");
            assert_eq!(group_send(&mut w.dave, &w.group, "d1").await["code"], 0);
        }
        Path::History => {
            let (code, _) = w
                .eve
                .call_err(
                    "getHistoryMessageList",
                    json!({"conversationID": w.conv, "count": 10}),
                )
                .await;
            assert_eq!(code, DENIED);
            if ty.stores() {
                assert!(ids(&w.dave.history(&w.conv, 10).await).contains(&msg["msgID"]));
            }
        }
        Path::Sync => {
            let (eve_sees, _) = w.eve.sync_all(0).await;
            assert!(
                eve_sees.iter().all(|m| m["groupID"] != w.group.as_str()),
                "a non-member synced group messages: {eve_sees:?}"
            );
            if ty.stores() {
                let (dave_sees, _) = w.dave.sync_all(0).await;
                assert!(ids(&dave_sees).contains(&msg["msgID"]));
            }
        }
    }
}

// ------------------------------------------------------------------ targeted messages

#[derive(Clone, Copy)]
enum Seen {
    Push,
    History,
    Sync,
    LastMessage,
    Unread,
}

async fn targeted_is_invisible_to_others(ty: Ty, path: Seen) {
    let mut w = world(ty).await;
    let mut p = text_params("t1", "", &w.group, "for bob only");
    p["targetGroupMemberList"] = json!(["bob"]);
    let targeted = w.alice.call("sendMessage", p).await["message"].clone();
    let normal = w
        .alice
        .send_text_to("", &w.group, "n1", "for everyone")
        .await;
    let t = targeted["msgID"].clone();
    match path {
        Seen::Push => {
            assert!(!pushed_until(&mut w.carol, &normal).await.contains(&t));
            assert!(pushed_until(&mut w.bob, &normal).await.contains(&t));
        }
        Seen::History => {
            assert!(!ids(&w.carol.history(&w.conv, 50).await).contains(&t));
            assert!(ids(&w.bob.history(&w.conv, 50).await).contains(&t));
        }
        Seen::Sync => {
            assert!(!ids(&w.carol.sync_all(0).await.0).contains(&t));
            assert!(ids(&w.bob.sync_all(0).await.0).contains(&t));
        }
        Seen::LastMessage => {
            // With the targeted message newest, carol's last message is the one before.
            let mut p = text_params("t2", "", &w.group, "for bob only, again");
            p["targetGroupMemberList"] = json!(["bob"]);
            let t2 = w.alice.call("sendMessage", p).await["message"].clone();
            let carol_conv = w.carol.conversation(&w.conv).await;
            assert_eq!(carol_conv["lastMessage"]["msgID"], normal["msgID"]);
            let list = w
                .carol
                .call("getConversationList", json!({"nextSeq": "0", "count": 100}))
                .await;
            let entry = list["conversationList"]
                .as_array()
                .and_then(|l| l.iter().find(|c| c["conversationID"] == w.conv.as_str()))
                .cloned()
                .expect("carol has the group conversation");
            assert_eq!(entry["lastMessage"]["msgID"], normal["msgID"]);
            let bob_conv = w.bob.conversation(&w.conv).await;
            assert_eq!(bob_conv["lastMessage"]["msgID"], t2["msgID"]);
        }
        Seen::Unread => {
            let unread_counts = ty != Ty::Meeting;
            let expect = u64::from(unread_counts);
            let carol_conv = w.carol.conversation(&w.conv).await;
            assert_eq!(carol_conv["unreadCount"], expect, "{carol_conv}");
            let total = w.carol.call("getTotalUnreadMessageCount", json!({})).await;
            assert_eq!(total["totalUnreadCount"], expect);
            // The receiver does not count it either (targeted: excluded by default).
            let bob_conv = w.bob.conversation(&w.conv).await;
            assert_eq!(bob_conv["unreadCount"], expect, "{bob_conv}");
        }
    }
}

// ------------------------------------------------------------------ mute

async fn muted_member_is_refused_until_unmuted(ty: Ty) {
    let mut w = world(ty).await;
    w.alice
        .call(
            "muteGroupMember",
            json!({"groupID": w.group, "userID": "dave", "seconds": 3600}),
        )
        .await;
    let r = group_send(&mut w.dave, &w.group, "d1").await;
    assert_eq!(r["code"], MUTED, "{r}");
    assert!(r["desc"].as_str().unwrap_or("").contains("muted"), "{r}");
    // A targeted message is a send too.
    let mut p = text_params("d2", "", &w.group, "psst");
    if ty.stores() && ty != Ty::Community {
        p["targetGroupMemberList"] = json!(["bob"]);
    }
    assert_eq!(w.dave.request("sendMessage", p).await["code"], MUTED);
    // Others still send; the mute shows in the member list and as tips (type 8).
    assert_eq!(group_send(&mut w.carol, &w.group, "c1").await["code"], 0);
    let now = now_secs();
    let until = member(&mut w.alice, &w.group, "dave").await["muteUntil"]
        .as_i64()
        .unwrap_or(0);
    assert!(until >= now + 3000, "muteUntil {until}, now {now}");
    if ty.stores() {
        let h = w.alice.history(&w.conv, 10).await;
        assert!(
            h.iter().any(|m| m["groupTipsElem"]["type"] == 8
                && m["groupTipsElem"]["memberList"] == json!(["dave"])),
            "{h:?}"
        );
    }
    // Unmute (0 seconds): dave sends again.
    w.alice
        .call(
            "muteGroupMember",
            json!({"groupID": w.group, "userID": "dave", "seconds": 0}),
        )
        .await;
    assert_eq!(member(&mut w.alice, &w.group, "dave").await["muteUntil"], 0);
    assert_eq!(group_send(&mut w.dave, &w.group, "d3").await["code"], 0);
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A mute runs out by itself. The server and this test share the clock: while the clock
/// is before `muteUntil` a send must be refused, once it is past, it must go through.
async fn a_mute_expires() {
    let mut w = world(Ty::Public).await;
    w.alice
        .call(
            "muteGroupMember",
            json!({"groupID": w.group, "userID": "dave", "seconds": 2}),
        )
        .await;
    let until = member(&mut w.alice, &w.group, "dave").await["muteUntil"]
        .as_i64()
        .expect("muteUntil");
    within("the mute to expire", async {
        for i in 0.. {
            let before = now_secs();
            let r = group_send(&mut w.dave, &w.group, &format!("try{i}")).await;
            let after = now_secs();
            if after < until {
                assert_eq!(r["code"], MUTED, "sent while muted: {r}");
            }
            if before >= until {
                assert_eq!(r["code"], 0, "refused after the mute ended: {r}");
            }
            if r["code"] == 0 {
                break;
            }
            assert_eq!(r["code"], MUTED);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
}

async fn work_groups_do_not_mute() {
    let mut w = world(Ty::Work).await;
    let (code, desc) = w
        .alice
        .call_err(
            "muteGroupMember",
            json!({"groupID": w.group, "userID": "dave", "seconds": 60}),
        )
        .await;
    assert_eq!(code, DENIED, "{desc}");
    assert_eq!(group_send(&mut w.dave, &w.group, "d1").await["code"], 0);
}

// ------------------------------------------------------------------ kick

async fn kicked_member_gets_nothing_more(ty: Ty) {
    let mut w = world(ty).await;
    let before = w.alice.send_text_to("", &w.group, "b1", "before").await;
    w.alice
        .call(
            "kickGroupMember",
            json!({"groupID": w.group, "memberList": ["dave"]}),
        )
        .await;
    let later = w.alice.send_text_to("", &w.group, "l1", "later").await;
    let sentinel = w.alice.send_text_to("dave", "", "s1", "sentinel").await;
    let pushed = pushed_until(&mut w.dave, &sentinel).await;
    assert!(pushed.contains(&before["msgID"]), "control: {pushed:?}");
    assert!(
        !pushed.contains(&later["msgID"]),
        "a kicked member got a later message"
    );
    // Members still get it.
    pushed_until(&mut w.carol, &later).await;
    let (code, _) = w
        .dave
        .call_err(
            "getHistoryMessageList",
            json!({"conversationID": w.conv, "count": 50}),
        )
        .await;
    assert_eq!(code, DENIED);
    assert_eq!(
        group_send(&mut w.dave, &w.group, "d1").await["code"],
        DENIED
    );
    let (synced, _) = w.dave.sync_all(0).await;
    assert!(!ids(&synced).contains(&later["msgID"]));
    if ty.stores() {
        assert!(ids(&w.carol.sync_all(0).await.0).contains(&later["msgID"]));
    }
}

// ------------------------------------------------------------------ admins

#[derive(Clone, Copy)]
enum Act {
    Kick,
    Mute,
}

async fn act(c: &mut RawClient, group: &str, action: Act, target: &str) -> Value {
    match action {
        Act::Kick => {
            c.request(
                "kickGroupMember",
                json!({"groupID": group, "memberList": [target]}),
            )
            .await
        }
        Act::Mute => {
            c.request(
                "muteGroupMember",
                json!({"groupID": group, "userID": target, "seconds": 60}),
            )
            .await
        }
    }
}

/// bob (an admin) acts on `target`; `allowed` says what the rules say.
async fn admin_acts(ty: Ty, action: Act, target: &str, allowed: bool) {
    let mut w = world(ty).await;
    let r = act(&mut w.bob, &w.group, action, target).await;
    if allowed {
        assert_eq!(r["code"], 0, "{r}");
    } else {
        assert_eq!(r["code"], DENIED, "{r}");
        // Nothing happened to the target: still a member, not muted.
        let m = member(&mut w.alice, &w.group, target).await;
        assert_eq!(m["userID"], target);
        assert_eq!(m["muteUntil"], 0);
        // The owner can do it to an admin (never to itself).
        if target != "alice" {
            assert_eq!(act(&mut w.alice, &w.group, action, target).await["code"], 0);
        }
    }
}

/// In groups without admins a plain member may neither kick nor mute.
async fn member_may_not(ty: Ty, action: Act) {
    let mut w = world(ty).await;
    let r = act(&mut w.dave, &w.group, action, "carol").await;
    assert_eq!(r["code"], DENIED, "{r}");
    let m = member(&mut w.alice, &w.group, "carol").await;
    assert_eq!(m["userID"], "carol");
}

// ------------------------------------------------------------------ roles

async fn roles_cannot_be_set(ty: Ty) {
    let mut w = world(ty).await;
    let (code, _) = w
        .alice
        .call_err(
            "setGroupMemberRole",
            json!({"groupID": w.group, "userID": "dave", "role": 300}),
        )
        .await;
    assert_eq!(code, DENIED);
    assert_eq!(member(&mut w.alice, &w.group, "dave").await["role"], 200);
}

async fn owner_sets_roles(ty: Ty) {
    let mut w = world(ty).await;
    // An admin may not.
    let (code, _) = w
        .bob
        .call_err(
            "setGroupMemberRole",
            json!({"groupID": w.group, "userID": "dave", "role": 300}),
        )
        .await;
    assert_eq!(code, DENIED);
    // The owner may: tips 5, and dave now acts as an admin (kicks nobody but members).
    w.alice
        .call(
            "setGroupMemberRole",
            json!({"groupID": w.group, "userID": "dave", "role": 300}),
        )
        .await;
    assert_eq!(member(&mut w.alice, &w.group, "dave").await["role"], 300);
    assert_eq!(
        last_tips(&mut w.alice, &w.conv).await,
        (5, vec![json!("dave")])
    );
    assert_eq!(
        act(&mut w.dave, &w.group, Act::Kick, "carol").await["code"],
        DENIED
    );
    // Demoted: tips 6, and bob can no longer kick a plain member (an admin could).
    for user in ["dave", "bob"] {
        w.alice
            .call(
                "setGroupMemberRole",
                json!({"groupID": w.group, "userID": user, "role": 200}),
            )
            .await;
        assert_eq!(
            last_tips(&mut w.alice, &w.conv).await,
            (6, vec![json!(user)])
        );
    }
    assert_eq!(member(&mut w.alice, &w.group, "bob").await["role"], 200);
    let r = w
        .bob
        .request(
            "kickGroupMember",
            json!({"groupID": w.group, "memberList": ["dave"]}),
        )
        .await;
    assert_eq!(r["code"], DENIED, "{r}");
    // The owner's own role is not for changing, nor is 400 given away like this.
    for (user, role) in [("alice", 200), ("carol", 400)] {
        let (code, _) = w
            .alice
            .call_err(
                "setGroupMemberRole",
                json!({"groupID": w.group, "userID": user, "role": role}),
            )
            .await;
        assert_eq!(code, 10004, "{user} → {role}");
    }
}

// ------------------------------------------------------------------ UserSig

fn url_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .replace('+', "*")
        .replace('/', "-")
        .replace('=', "_")
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("deflate");
    enc.finish().expect("deflate")
}

/// A valid sig for `signed_for`, with its document edited to claim `claimed` instead.
fn edited_sig(key: &AppKey, signed_for: &str, claimed: &str) -> String {
    let sig = usersig::gen_sig(key, signed_for, 3600);
    let std = sig.replace('*', "+").replace('-', "/").replace('_', "=");
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(std)
        .expect("b64");
    let mut json = String::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .read_to_string(&mut json)
        .expect("inflate");
    let edited = json.replace(
        &format!("\"TLS.identifier\":\"{signed_for}\""),
        &format!("\"TLS.identifier\":\"{claimed}\""),
    );
    assert_ne!(edited, json, "the document was edited");
    url_b64(&deflate(edited.as_bytes()))
}

#[derive(Clone, Copy)]
enum BadSig {
    Forged,
    EditedDocument,
    Expired,
    WrongApp,
    WrongIdentifier,
    Oversized,
    ZlibBomb,
    Empty,
    Garbage,
}

async fn bad_sig_is_refused(kind: BadSig) {
    let server = TestServer::start().await;
    let key = server.key.clone();
    let now = now_secs();
    let (sig, code, words) = match kind {
        BadSig::Forged => {
            let forger = AppKey {
                sdk_app_id: key.sdk_app_id,
                secret_key: "a-guess".into(),
            };
            (usersig::gen_sig(&forger, "alice", 3600), 70009, "signature")
        }
        BadSig::EditedDocument => (edited_sig(&key, "mallory", "alice"), 70009, "signature"),
        BadSig::Expired => (
            usersig::gen_sig_at(&key, "alice", now - 7200, 3600),
            70001,
            "expired",
        ),
        BadSig::WrongApp => {
            let other = AppKey {
                sdk_app_id: key.sdk_app_id + 1,
                secret_key: key.secret_key.clone(),
            };
            (usersig::gen_sig(&other, "alice", 3600), 70014, "SDKAppID")
        }
        BadSig::WrongIdentifier => (usersig::gen_sig(&key, "bob", 3600), 70013, "bob"),
        BadSig::Oversized => ("A".repeat(usersig::MAX_ENCODED_LEN + 1), 70003, "bytes"),
        BadSig::ZlibBomb => (url_b64(&deflate(&vec![b' '; 1 << 20])), 70003, "cap"),
        BadSig::Empty => (String::new(), 70002, "empty"),
        BadSig::Garbage => ("%%%not-a-sig%%%".into(), 70003, "malformed"),
    };
    let mut c = server.connect().await;
    let (got, desc) = c
        .call_err("login", json!({"userID": "alice", "userSig": sig}))
        .await;
    assert_eq!(got, code, "{desc}");
    assert!(desc.contains(words), "{desc}");
    // Still not logged in, and no account was made: a message to alice is refused.
    assert_eq!(c.call_err("ping", json!({})).await.0, 6014);
    let mut bob = server.login("bob").await;
    assert_eq!(
        bob.call_err("sendMessage", text_params("m", "alice", "", "hi"))
            .await
            .0,
        20003
    );
    // Control: the same socket logs in with a good sig.
    c.call(
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
}

// ------------------------------------------------------------------ the tables

macro_rules! cells {
    ($($name:ident => $body:expr;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                $body.await
            }
        )*
    };
}

use Act::*;
use Ty::*;

cells! {
    // Non-members: send, history, sync, per group type.
    non_member_send_work => non_member_is_refused(Work, Path::Send);
    non_member_send_public => non_member_is_refused(Public, Path::Send);
    non_member_send_meeting => non_member_is_refused(Meeting, Path::Send);
    non_member_send_community => non_member_is_refused(Community, Path::Send);
    non_member_send_avchatroom => non_member_is_refused(AVChatRoom, Path::Send);
    non_member_history_work => non_member_is_refused(Work, Path::History);
    non_member_history_public => non_member_is_refused(Public, Path::History);
    non_member_history_meeting => non_member_is_refused(Meeting, Path::History);
    non_member_history_community => non_member_is_refused(Community, Path::History);
    non_member_history_avchatroom => non_member_is_refused(AVChatRoom, Path::History);
    non_member_sync_work => non_member_is_refused(Work, Path::Sync);
    non_member_sync_public => non_member_is_refused(Public, Path::Sync);
    non_member_sync_meeting => non_member_is_refused(Meeting, Path::Sync);
    non_member_sync_community => non_member_is_refused(Community, Path::Sync);
    non_member_sync_avchatroom => non_member_is_refused(AVChatRoom, Path::Sync);

    // Targeted messages, in the types that have them, on every path.
    targeted_push_work => targeted_is_invisible_to_others(Work, Seen::Push);
    targeted_push_public => targeted_is_invisible_to_others(Public, Seen::Push);
    targeted_push_meeting => targeted_is_invisible_to_others(Meeting, Seen::Push);
    targeted_history_work => targeted_is_invisible_to_others(Work, Seen::History);
    targeted_history_public => targeted_is_invisible_to_others(Public, Seen::History);
    targeted_history_meeting => targeted_is_invisible_to_others(Meeting, Seen::History);
    targeted_sync_work => targeted_is_invisible_to_others(Work, Seen::Sync);
    targeted_sync_public => targeted_is_invisible_to_others(Public, Seen::Sync);
    targeted_sync_meeting => targeted_is_invisible_to_others(Meeting, Seen::Sync);
    targeted_last_message_work => targeted_is_invisible_to_others(Work, Seen::LastMessage);
    targeted_last_message_public => targeted_is_invisible_to_others(Public, Seen::LastMessage);
    targeted_last_message_meeting => targeted_is_invisible_to_others(Meeting, Seen::LastMessage);
    targeted_unread_work => targeted_is_invisible_to_others(Work, Seen::Unread);
    targeted_unread_public => targeted_is_invisible_to_others(Public, Seen::Unread);
    targeted_unread_meeting => targeted_is_invisible_to_others(Meeting, Seen::Unread);

    // Mute: refused (10017) until unmuted or expired; Work has no mute.
    muted_public => muted_member_is_refused_until_unmuted(Public);
    muted_meeting => muted_member_is_refused_until_unmuted(Meeting);
    muted_community => muted_member_is_refused_until_unmuted(Community);
    muted_avchatroom => muted_member_is_refused_until_unmuted(AVChatRoom);
    mute_expires => a_mute_expires();
    mute_not_in_work => work_groups_do_not_mute();

    // Kicked members get nothing after the kick and cannot read or send.
    kicked_work => kicked_member_gets_nothing_more(Work);
    kicked_public => kicked_member_gets_nothing_more(Public);
    kicked_meeting => kicked_member_gets_nothing_more(Meeting);
    kicked_community => kicked_member_gets_nothing_more(Community);
    kicked_avchatroom => kicked_member_gets_nothing_more(AVChatRoom);

    // Admins (bob) act on the owner (alice), another admin (carol), a member (dave).
    admin_kicks_owner_public => admin_acts(Public, Kick, "alice", false);
    admin_kicks_owner_meeting => admin_acts(Meeting, Kick, "alice", false);
    admin_kicks_owner_community => admin_acts(Community, Kick, "alice", false);
    admin_kicks_admin_public => admin_acts(Public, Kick, "carol", false);
    admin_kicks_admin_meeting => admin_acts(Meeting, Kick, "carol", false);
    admin_kicks_admin_community => admin_acts(Community, Kick, "carol", false);
    admin_mutes_owner_public => admin_acts(Public, Mute, "alice", false);
    admin_mutes_owner_meeting => admin_acts(Meeting, Mute, "alice", false);
    admin_mutes_owner_community => admin_acts(Community, Mute, "alice", false);
    admin_mutes_admin_public => admin_acts(Public, Mute, "carol", false);
    admin_mutes_admin_meeting => admin_acts(Meeting, Mute, "carol", false);
    admin_mutes_admin_community => admin_acts(Community, Mute, "carol", false);
    admin_kicks_member_public => admin_acts(Public, Kick, "dave", true);
    admin_kicks_member_meeting => admin_acts(Meeting, Kick, "dave", true);
    admin_kicks_member_community => admin_acts(Community, Kick, "dave", true);
    admin_mutes_member_public => admin_acts(Public, Mute, "dave", true);
    admin_mutes_member_meeting => admin_acts(Meeting, Mute, "dave", true);
    admin_mutes_member_community => admin_acts(Community, Mute, "dave", true);
    member_kicks_work => member_may_not(Work, Kick);
    member_mutes_work => member_may_not(Work, Mute);
    member_kicks_avchatroom => member_may_not(AVChatRoom, Kick);
    member_mutes_avchatroom => member_may_not(AVChatRoom, Mute);
    member_kicks_public => member_may_not(Public, Kick);
    member_mutes_public => member_may_not(Public, Mute);

    // Roles: owner only, in types with admins.
    roles_not_in_work => roles_cannot_be_set(Work);
    roles_not_in_avchatroom => roles_cannot_be_set(AVChatRoom);
    roles_public => owner_sets_roles(Public);
    roles_meeting => owner_sets_roles(Meeting);
    roles_community => owner_sets_roles(Community);

    // UserSigs.
    sig_forged => bad_sig_is_refused(BadSig::Forged);
    sig_edited_document => bad_sig_is_refused(BadSig::EditedDocument);
    sig_expired => bad_sig_is_refused(BadSig::Expired);
    sig_wrong_app => bad_sig_is_refused(BadSig::WrongApp);
    sig_wrong_identifier => bad_sig_is_refused(BadSig::WrongIdentifier);
    sig_oversized => bad_sig_is_refused(BadSig::Oversized);
    sig_zlib_bomb => bad_sig_is_refused(BadSig::ZlibBomb);
    sig_empty => bad_sig_is_refused(BadSig::Empty);
    sig_garbage => bad_sig_is_refused(BadSig::Garbage);
}
