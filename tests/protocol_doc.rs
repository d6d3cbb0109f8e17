//! docs/PROTOCOL.md documents every op the server serves (issue 10 item 13): each op in
//! `protocol::op::ALL` has a `### <op>` section under `## Ops` with a table of its params
//! — field, type, required, default, limit — naming every field the op's params type
//! has, and the server serves every op listed.

mod common;

use common::raw::TestServer;
use serde::Serialize;
use serde_json::{Value, json};
use termim::model::{CustomElem, GroupMemberSpec, OfflinePushInfo, TextElem};
use termim::protocol::*;

const DOC: &str = include_str!("../docs/PROTOCOL.md");
const HEADER: &str = "| Field | Type | Required | Default | Limit |";

/// The `## Ops` part of the doc.
fn ops_part() -> &'static str {
    let start = DOC.find("\n## Ops\n").expect("an `## Ops` section");
    let rest = &DOC[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    &rest[..end]
}

/// The `### <op>` section of the Ops part.
fn op_section(op: &str) -> Option<&'static str> {
    let ops = ops_part();
    let start = ops.find(&format!("\n### {op}\n"))?;
    let rest = &ops[start + 1..];
    let end = rest[4..].find("\n### ").map_or(rest.len(), |e| e + 4);
    Some(&rest[..end])
}

/// The first column of the section's params table (backticks dropped), or None.
fn table_fields(section: &str) -> Option<Vec<String>> {
    let mut lines = section.lines().skip_while(|l| l.trim() != HEADER);
    lines.next()?;
    let separator = lines.next()?;
    assert!(separator.starts_with("|---"), "{section}");
    Some(
        lines
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                l.trim_start_matches('|')
                    .split('|')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .replace('`', "")
            })
            .collect(),
    )
}

fn keys<T: Serialize>(params: T) -> Vec<String> {
    match serde_json::to_value(params).expect("serialises") {
        Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("params are an object, not {other}"),
    }
}

/// Every wire field of the op's params type (optional ones filled in so they show).
fn param_fields(op_name: &str) -> Vec<String> {
    match op_name {
        op::LOGIN => keys(LoginParams {
            user_id: "u".into(),
            user_sig: "s".into(),
        }),
        op::LOGOUT | op::PING | op::GET_TOTAL_UNREAD_MESSAGE_COUNT | op::GET_JOINED_GROUP_LIST => {
            Vec::new()
        }
        op::RENEW_USER_SIG => keys(RenewUserSigParams {
            user_sig: "s".into(),
        }),
        op::SEND_MESSAGE => keys(SendMessageParams {
            text_elem: Some(TextElem::default()),
            custom_elem: Some(CustomElem::default()),
            group_at_user_list: vec!["u".into()],
            target_group_member_list: vec!["u".into()],
            offline_push_info: Some(OfflinePushInfo::default()),
            cloud_custom_data: Some(String::new()),
            ..Default::default()
        }),
        op::GET_HISTORY_MESSAGE_LIST => keys(GetHistoryParams {
            last_msg_id: Some(String::new()),
            last_msg_seq: Some(1),
            ..Default::default()
        }),
        op::SYNC => keys(SyncParams::default()),
        op::GET_CONVERSATION_LIST => keys(GetConversationListParams::default()),
        op::GET_CONVERSATION | op::DELETE_CONVERSATION => keys(ConversationIdParams::default()),
        op::CLEAN_CONVERSATION_UNREAD_MESSAGE_COUNT => keys(CleanUnreadParams::default()),
        op::PIN_CONVERSATION => keys(PinConversationParams::default()),
        op::SET_CONVERSATION_CUSTOM_DATA => keys(SetConversationCustomDataParams::default()),
        op::CREATE_GROUP => keys(CreateGroupParams {
            group_id: Some(String::new()),
            member_list: vec![GroupMemberSpec {
                user_id: "u".into(),
                role: 200,
            }],
            ..Default::default()
        }),
        op::JOIN_GROUP => keys(JoinGroupParams::default()),
        op::QUIT_GROUP | op::DISMISS_GROUP => keys(GroupIdParams::default()),
        op::INVITE_USER_TO_GROUP => keys(InviteParams::default()),
        op::KICK_GROUP_MEMBER => keys(KickParams::default()),
        op::MUTE_GROUP_MEMBER => keys(MuteGroupMemberParams::default()),
        op::SET_GROUP_MEMBER_ROLE => keys(SetGroupMemberRoleParams::default()),
        op::GET_GROUPS_INFO => keys(GetGroupsInfoParams::default()),
        op::GET_GROUP_MEMBER_LIST => keys(GetGroupMemberListParams::default()),
        other => panic!("op {other:?} is new: name its params type here"),
    }
}

#[test]
fn every_op_has_a_section_with_a_params_table_naming_each_field() {
    let mut missing = Vec::new();
    for &op_name in op::ALL {
        let Some(section) = op_section(op_name) else {
            missing.push(format!(
                "{op_name}: no `### {op_name}` section under `## Ops`"
            ));
            continue;
        };
        let Some(fields) = table_fields(section) else {
            missing.push(format!("{op_name}: no params table (`{HEADER}`)"));
            continue;
        };
        let wanted = param_fields(op_name);
        if wanted.is_empty() {
            if fields != ["(none)"] {
                missing.push(format!(
                    "{op_name}: takes no params; its table has one row `(none)`"
                ));
            }
            continue;
        }
        for field in wanted {
            let prefix = format!("{field}.");
            if !fields.iter().any(|f| *f == field || f.starts_with(&prefix)) {
                missing.push(format!("{op_name}: the table has no row for `{field}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/PROTOCOL.md:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_op_section_names_an_op_the_server_has() {
    for line in ops_part().lines() {
        if let Some(name) = line.strip_prefix("### ") {
            assert!(
                op::ALL.contains(&name),
                "`### {name}` is not in protocol::op::ALL"
            );
        }
    }
}

/// Every listed op is served (none is answered 20001 "unknown op"), on a real server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_every_listed_op() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    // logout last: it closes the connection.
    let mut ops: Vec<&str> = op::ALL
        .iter()
        .copied()
        .filter(|o| *o != op::LOGOUT)
        .collect();
    ops.push(op::LOGOUT);
    for op_name in ops {
        let answer = alice.request(op_name, json!({})).await;
        assert_ne!(answer["code"], 20001, "{op_name}: {answer}");
    }
}
