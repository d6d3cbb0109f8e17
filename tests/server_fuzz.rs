//! Property tests (issue 5 §6): arbitrary input into the frame decoder, the request
//! validator and the UserSig decoder never panics and always ends in a defined code; and
//! arbitrary frames sent to a real server get an answer while the server serves on.
//!
//! This is the short run that CI does through `cargo test`; the long runs are the cargo-fuzz
//! targets in `fuzz/` (docs/ARCHITECTURE.md has the commands). A crash found by either
//! becomes a case in `regressions` below.

mod common;

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use termim::model::{CustomElem, TextElem, elem_type, is_valid_user_id, limits};
use termim::protocol::{SendMessageParams, codes, op};
use termim::server::frame::{self, STATELESS_CODES};
use termim::server::rules;
use termim::server::store::SendTarget;
use termim::usersig::{self, AppKey};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

const OPS: &[&str] = &[
    op::LOGIN,
    op::PING,
    op::SEND_MESSAGE,
    op::GET_HISTORY_MESSAGE_LIST,
    op::SYNC,
    op::GET_CONVERSATION_LIST,
    op::GET_CONVERSATION,
    op::GET_TOTAL_UNREAD_MESSAGE_COUNT,
    op::CLEAN_CONVERSATION_UNREAD_MESSAGE_COUNT,
    op::PIN_CONVERSATION,
    op::DELETE_CONVERSATION,
    op::SET_CONVERSATION_CUSTOM_DATA,
    op::CREATE_GROUP,
    op::JOIN_GROUP,
    op::QUIT_GROUP,
    op::DISMISS_GROUP,
    op::INVITE_USER_TO_GROUP,
    op::KICK_GROUP_MEMBER,
    op::MUTE_GROUP_MEMBER,
    op::SET_GROUP_MEMBER_ROLE,
    op::GET_JOINED_GROUP_LIST,
    op::GET_GROUPS_INFO,
    op::GET_GROUP_MEMBER_LIST,
];

/// Field names the params of the ops use, so random objects often hit real fields.
const FIELDS: &[&str] = &[
    "id",
    "receiver",
    "groupID",
    "elemType",
    "textElem",
    "text",
    "customElem",
    "data",
    "desc",
    "extension",
    "targetGroupMemberList",
    "groupAtUserList",
    "priority",
    "onlineUserOnly",
    "cloudCustomData",
    "conversationID",
    "conversationIDList",
    "count",
    "cursor",
    "getType",
    "lastMsgID",
    "lastMsgSeq",
    "groupType",
    "groupName",
    "memberList",
    "userID",
    "userSig",
    "role",
    "seconds",
    "userList",
    "isPinned",
    "customData",
    "nextSeq",
    "filter",
    "groupIDList",
];

fn short_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{0,8}",
        "\\PC{0,16}",
        Just(String::new()),
        (0usize..20_000).prop_map(|n| "x".repeat(n)),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        short_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(FIELDS).prop_map(String::from),
                        "[a-zA-Z]{0,6}"
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A request-shaped frame with any op (known or not) and any params.
fn request_frame() -> impl Strategy<Value = String> {
    (
        prop_oneof![any::<u64>().prop_map(|n| json!(n)), json_value()],
        prop_oneof![
            prop::sample::select(OPS).prop_map(String::from),
            "[a-zA-Z]{0,12}"
        ],
        json_value(),
    )
        .prop_map(|(req_id, op, params)| {
            json!({"reqId": req_id, "op": op, "params": params}).to_string()
        })
}

fn check_stateless(text: &str) -> Result<(), TestCaseError> {
    match frame::decode_request(text) {
        Err(rejected) => {
            prop_assert_eq!(rejected.error.code, codes::ERR_SVR_COMM_INVALID_REQUEST);
            prop_assert!(!rejected.error.desc.is_empty());
        }
        Ok(request) => {
            if let Err(e) = frame::validate(&request.op, request.params) {
                prop_assert!(STATELESS_CODES.contains(&e.code), "{e}");
                prop_assert!(!e.desc.is_empty());
            }
        }
    }
    Ok(())
}

#[test]
fn frame_decoder_takes_any_bytes() {
    let mut runner = TestRunner::new(config(512));
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..4096), |bytes| {
            check_stateless(&String::from_utf8_lossy(&bytes))
        })
        .unwrap();
    runner
        .run(&"\\PC{0,512}", |text| check_stateless(&text))
        .unwrap();
}

#[test]
fn request_validator_takes_any_request() {
    let mut runner = TestRunner::new(config(1024));
    runner
        .run(&request_frame(), |text| check_stateless(&text))
        .unwrap();
}

fn user_ish() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z]{1,6}",
        "\\PC{0,40}",
        (30usize..40).prop_map(|n| "u".repeat(n)),
    ]
}

/// Wild params: every field anything.
fn wild_send_params() -> impl Strategy<Value = SendMessageParams> {
    let ids = prop_oneof![
        Just(String::new()),
        "[a-z0-9-]{1,20}",
        (100usize..140).prop_map(|n| "i".repeat(n))
    ];
    let text = prop::option::of(short_text().prop_map(|text| TextElem { text }));
    let custom = prop::option::of((short_text(), short_text(), short_text()).prop_map(
        |(data, desc, extension)| CustomElem {
            data,
            desc,
            extension,
        },
    ));
    (
        (
            ids,
            user_ish(),
            prop_oneof![Just(String::new()), "[a-z]{1,6}", "\\PC{0,60}"],
        ),
        (0u8..12, text, custom),
        (
            prop::collection::vec(user_ish(), 0..60),
            prop::collection::vec(user_ish(), 0..35),
            prop::option::of(short_text()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (id, receiver, group_id),
                (elem, text_elem, custom_elem),
                (targets, at, cloud, online),
            )| {
                SendMessageParams {
                    id,
                    receiver,
                    group_id,
                    elem_type: elem,
                    text_elem,
                    custom_elem,
                    target_group_member_list: targets,
                    group_at_user_list: at,
                    cloud_custom_data: cloud,
                    online_user_only: online,
                    ..Default::default()
                }
            },
        )
}

/// Near-valid params: a well-formed C2C or group send with sizes and lists near their
/// limits, so both sides of every rule are reached.
fn near_valid_send_params() -> impl Strategy<Value = SendMessageParams> {
    let name = || "[a-z]{1,6}";
    let body = prop_oneof![
        "\\PC{0,64}",
        (limits::MESSAGE_BODY_MAX - 8..limits::MESSAGE_BODY_MAX + 8).prop_map(|n| "b".repeat(n)),
    ];
    (
        "[a-z0-9-]{1,24}",
        any::<bool>(),
        (name(), name(), any::<bool>()),
        (any::<bool>(), body, prop::option::of("\\PC{0,16}")),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec(name(), 1..55),
        ],
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec(name(), 1..33),
        ],
    )
        .prop_map(
            |(
                id,
                group,
                (peer, group_id, targeted_by_receiver),
                (custom, text, cloud),
                targets,
                at,
            )| {
                let mut p = SendMessageParams {
                    id,
                    target_group_member_list: targets,
                    group_at_user_list: at,
                    cloud_custom_data: cloud,
                    ..Default::default()
                };
                if group {
                    p.group_id = group_id;
                    if targeted_by_receiver {
                        p.receiver = peer;
                    }
                } else {
                    p.receiver = peer;
                }
                if custom {
                    p.elem_type = elem_type::CUSTOM;
                    p.custom_elem = Some(CustomElem {
                        data: text,
                        ..Default::default()
                    });
                } else {
                    p.elem_type = elem_type::TEXT;
                    p.text_elem = Some(TextElem { text });
                }
                p
            },
        )
}

fn send_params() -> impl Strategy<Value = SendMessageParams> {
    prop_oneof![1 => wild_send_params(), 2 => near_valid_send_params()]
}

#[test]
fn send_validator_accepts_only_what_the_rules_allow() {
    let accepted = std::cell::Cell::new((0u32, 0u32));
    let mut runner = TestRunner::new(config(2048));
    runner
        .run(&send_params(), |p| {
            match rules::validate_send(&p) {
                Err(e) => prop_assert!(STATELESS_CODES.contains(&e.code), "{e}"),
                Ok(target) => {
                    prop_assert!(!p.id.is_empty() && p.id.len() <= rules::CLIENT_ID_MAX);
                    prop_assert!(rules::body_len(&p) <= limits::MESSAGE_BODY_MAX);
                    prop_assert!(rules::encoded_len(&p) <= limits::MESSAGE_STORED_MAX);
                    prop_assert!(p.id.bytes().all(|b| b.is_ascii_graphic()));
                    prop_assert!(matches!(p.elem_type, elem_type::TEXT | elem_type::CUSTOM));
                    match target {
                        SendTarget::C2c { receiver } => {
                            let (c2c, group) = accepted.get();
                            accepted.set((c2c + 1, group));
                            prop_assert!(is_valid_user_id(&receiver));
                            prop_assert!(p.group_id.is_empty());
                            prop_assert!(p.target_group_member_list.is_empty());
                            prop_assert!(p.group_at_user_list.is_empty());
                        }
                        SendTarget::Group { group_id, targets } => {
                            let (c2c, group) = accepted.get();
                            accepted.set((c2c, group + 1));
                            prop_assert!(rules::is_valid_group_id(&group_id));
                            prop_assert!(targets.len() <= limits::TARGETED_RECEIVERS_MAX);
                            prop_assert!(targets.iter().all(|t| is_valid_user_id(t)));
                            let mut dedup = targets.clone();
                            dedup.sort();
                            dedup.dedup();
                            prop_assert_eq!(dedup.len(), targets.len());
                            prop_assert!(targets.is_empty() || p.group_at_user_list.is_empty());
                            prop_assert!(p.group_at_user_list.len() <= limits::AT_USERS_MAX);
                        }
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    // The generator reaches the accepting side too, or the checks above prove nothing.
    let (c2c, group) = accepted.get();
    assert!(c2c > 0 && group > 0, "accepted: {c2c} C2C, {group} group");
}

const SIG_CODES: &[i32] = &[
    codes::ERR_USER_SIG_EXPIRED_SVR,
    codes::ERR_USER_SIG_EMPTY,
    codes::ERR_USER_SIG_INVALID,
    codes::ERR_USER_SIG_VERIFY_FAILED,
    codes::ERR_USER_SIG_IDENTIFIER_MISMATCH,
    codes::ERR_USER_SIG_SDKAPPID_MISMATCH,
];

fn encode_sig_doc(doc: &[u8]) -> String {
    use base64::Engine as _;
    use std::io::Write as _;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(doc);
    base64::engine::general_purpose::STANDARD
        .encode(enc.finish().unwrap_or_default())
        .replace('+', "*")
        .replace('/', "-")
        .replace('=', "_")
}

#[test]
fn usersig_decoder_takes_anything() {
    let key = AppKey {
        sdk_app_id: 1_400_000_000,
        secret_key: "k".into(),
    };
    let check = |sig: &str| -> Result<(), TestCaseError> {
        match usersig::verify(&key, "alice", sig, 1_800_000_000) {
            Ok(()) => Err(TestCaseError::fail(format!(
                "a random sig verified: {sig:?}"
            ))),
            Err(e) => {
                prop_assert!(SIG_CODES.contains(&e.code()), "{e}");
                Ok(())
            }
        }
    };
    let mut runner = TestRunner::new(config(512));
    // Anything at all, and strings over the sig alphabet.
    runner.run(&"\\PC{0,600}", |s| check(&s)).unwrap();
    runner.run(&"[A-Za-z0-9*_-]{0,600}", |s| check(&s)).unwrap();
    // Any JSON document behind valid zlib and base64: the document layer.
    let doc = prop::collection::vec(
        (
            prop_oneof![
                prop::sample::select(
                    &[
                        "TLS.ver",
                        "TLS.identifier",
                        "TLS.sdkappid",
                        "TLS.expire",
                        "TLS.time",
                        "TLS.sig",
                        "TLS.userbuf",
                    ][..]
                )
                .prop_map(String::from),
                "[a-z.]{0,8}"
            ],
            json_value(),
        ),
        0..9,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().collect()).to_string());
    runner
        .run(&doc, |d| check(&encode_sig_doc(d.as_bytes())))
        .unwrap();
    // One character of a genuine sig changed.
    let genuine = usersig::gen_sig_at(&key, "alice", 1_799_999_000, 86_400);
    assert_eq!(
        usersig::verify(&key, "alice", &genuine, 1_800_000_000),
        Ok(())
    );
    let alphabet: Vec<char> = ('A'..='Z')
        .chain('a'..='z')
        .chain('0'..='9')
        .chain(['*', '-', '_'])
        .collect();
    runner
        .run(
            &(0..genuine.len(), prop::sample::select(alphabet)),
            |(at, c)| {
                let mut bytes = genuine.clone().into_bytes();
                bytes[at] = c as u8;
                let mutated = String::from_utf8(bytes).unwrap_or_default();
                if mutated != genuine
                    && let Err(e) = usersig::verify(&key, "alice", &mutated, 1_800_000_000)
                {
                    prop_assert!(SIG_CODES.contains(&e.code()), "{e}");
                }
                Ok(())
            },
        )
        .unwrap();
}

/// Arbitrary frames at a real server over a logged-in connection: each gets an answer
/// with a code, and the connection (and the server) keep serving.
#[test]
fn a_live_server_answers_arbitrary_frames() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(common::raw::TestServer::start());
    let client = RefCell::new(rt.block_on(server.login("fuzzer")));
    rt.block_on(server.login("bob"));
    let frames = prop_oneof![
        "\\PC{0,256}",
        request_frame().prop_filter("logout would end the session", |f| !f
            .contains("\"logout\"")),
    ];
    let mut runner = TestRunner::new(config(96));
    runner
        .run(&frames, |text| {
            let mut c = client.borrow_mut();
            rt.block_on(async {
                c.send_text(&text).await;
                let answer = c.next_response().await;
                prop_assert!(answer["code"].is_i64(), "{answer}");
                let pong = c.request("ping", json!({})).await;
                prop_assert_eq!(&pong["code"], &json!(0));
                Ok(())
            })
        })
        .unwrap();
}

/// Where crashes found by the fuzzers go, as plain tests. None has been found so far;
/// these are edge cases written by hand.
mod regressions {
    use super::*;

    #[test]
    fn edge_frames() {
        for text in [
            "",
            "null",
            "{}",
            r#"{"reqId":-1,"op":"ping"}"#,
            r#"{"reqId":18446744073709551616,"op":"ping"}"#,
            r#"{"reqId":1,"op":"sendMessage","params":{"id":"x","receiver":"b","elemType":1,"textElem":{"text":"\ud800"}}}"#,
            r#"{"reqId":1,"op":"sendMessage","params":[]}"#,
            r#"{"reqId":1,"op":"createGroup","params":{"groupType":"Work","groupName":"n","memberList":[{"userID":"a","role":4294967295}]}}"#,
        ] {
            if let Ok(r) = frame::decode_request(text) {
                let _ = frame::validate(&r.op, r.params);
            }
        }
    }
}
