//! The scripting commands: each logs in, does one thing through the SDK, prints, exits.
//!
//! Everything printed goes through `super::output`: no write panics, and every string
//! that came from someone else is shown through `safe` in text output.

use std::io::Read as _;

use anyhow::bail;
use serde::Serialize;

use super::args::{
    ConversationDataArgs, GroupCommand, HistoryArgs, JsonArg, PriorityArg, SendArgs,
};
use super::output::{self, safe};
use crate::model::{
    Conversation, GroupMemberSpec, Message, MessageStatus, OfflinePushInfo, Priority, role,
    sort_conversations,
};
use crate::sdk::{HistoryGetType, HistoryOptions, SendParams, Tim, TimError, TimEvent};

/// A failed SDK call as a CLI error: "<code>: <sentence>".
fn sdk(e: TimError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    output::json_pretty(value)
}

fn priority(p: PriorityArg) -> Priority {
    match p {
        PriorityArg::Default => Priority::Default,
        PriorityArg::High => Priority::High,
        PriorityArg::Normal => Priority::Normal,
        PriorityArg::Low => Priority::Low,
    }
}

/// `termim send`: create, optionally target, then send — the V2TIM two steps.
pub async fn send(tim: &Tim, args: SendArgs) -> anyhow::Result<()> {
    let created = if let Some(data) = &args.custom {
        if args.text.is_some() {
            bail!("6017: give either TEXT or --custom, not both");
        }
        tim.create_custom_message(
            data,
            args.desc.as_deref().unwrap_or(""),
            args.ext.as_deref().unwrap_or(""),
        )
    } else {
        let text = match args.text.as_deref() {
            Some("-") => {
                let mut buf = String::new();
                std::io::stdin().read_to_string(&mut buf)?;
                buf.trim_end_matches('\n').to_string()
            }
            Some(t) => t.to_string(),
            None => bail!(
                "6017: nothing to send: give TEXT (or \"-\" for standard input) or --custom DATA"
            ),
        };
        tim.create_text_message(&text)
    }
    .map_err(sdk)?;
    let id = if args.targets.is_empty() {
        created.id
    } else {
        tim.create_targeted_group_message(&created.id, &args.targets)
            .map_err(sdk)?
            .id
    };
    let push = (args.push_title.is_some() || args.push_desc.is_some()).then(|| OfflinePushInfo {
        title: args.push_title.clone().unwrap_or_default(),
        desc: args.push_desc.clone().unwrap_or_default(),
        ..Default::default()
    });
    let params = SendParams {
        id,
        receiver: args.to.clone().unwrap_or_default(),
        group_id: args.group.clone().unwrap_or_default(),
        priority: priority(args.priority),
        online_user_only: args.online_only,
        offline_push_info: push,
        need_read_receipt: args.read_receipt,
        is_excluded_from_unread_count: args.no_unread,
        is_excluded_from_last_message: args.no_last_message,
        is_support_message_extension: args.support_extension,
        cloud_custom_data: args.cloud_data.clone(),
        local_custom_data: args.local_data.clone(),
    };
    let message = tim.send_message(params).await.map_err(sdk)?;
    if args.json {
        print_json(&message)
    } else {
        output::line(&format!(
            "sent {} (seq {})",
            safe(&message.msg_id),
            message.seq
        ))
    }
}

/// One message on one line, every part of it safe to print. An own message that is not
/// (yet) sent ends with the TUI's marks: `✗ not sent`, `⋯ sending`.
fn describe_message(m: &Message) -> String {
    let time = crate::cli::format_time(m.timestamp);
    let mut line = format!("[{time}] {}: {}", safe(&m.sender), body(m));
    if !m.target_group_member_list.is_empty() {
        line.push_str(&format!(
            "  (to {})",
            safe(&m.target_group_member_list.join(", "))
        ));
    }
    match m.status {
        MessageStatus::SendFail => line.push_str("  ✗ not sent"),
        MessageStatus::Sending => line.push_str("  ⋯ sending"),
        _ => {}
    }
    line
}

fn body(m: &Message) -> String {
    match (&m.text_elem, &m.custom_elem) {
        (Some(t), _) => safe(&t.text).into_owned(),
        // `{:?}` escapes control characters itself; `safe` still takes the bidi ones.
        (_, Some(c)) => safe(&format!(
            "[custom] data={:?} desc={:?} ext={:?}",
            c.data, c.desc, c.extension
        ))
        .into_owned(),
        _ => safe(&m.preview()).into_owned(),
    }
}

/// `termim history`: the newest `count` messages, printed oldest first.
pub async fn history(tim: &Tim, args: HistoryArgs) -> anyhow::Result<()> {
    let result = tim
        .get_history_message_list(HistoryOptions {
            conversation_id: args.conversation_id.clone(),
            get_type: HistoryGetType::CloudOlder,
            count: args.count,
            last_msg_id: None,
            last_msg_seq: None,
        })
        .await
        .map_err(sdk)?;
    let mut list = result.message_list;
    list.reverse();
    if args.json {
        return print_json(&list);
    }
    for m in &list {
        output::line(&describe_message(m))?;
    }
    Ok(())
}

async fn all_conversations(tim: &Tim) -> anyhow::Result<Vec<Conversation>> {
    let mut all = Vec::new();
    let mut next = "0".to_string();
    loop {
        let page = tim.get_conversation_list(&next, 100).await.map_err(sdk)?;
        all.extend(page.conversation_list);
        if page.is_finished {
            break;
        }
        next = page.next_seq;
    }
    sort_conversations(&mut all);
    Ok(all)
}

/// `termim conversations`.
pub async fn conversations(tim: &Tim, args: JsonArg) -> anyhow::Result<()> {
    let list = all_conversations(tim).await?;
    if args.json {
        return print_json(&list);
    }
    for c in &list {
        let pin = if c.is_pinned { "📌 " } else { "" };
        let unread = if c.unread_count > 0 {
            format!(" ({} unread)", c.unread_count)
        } else {
            String::new()
        };
        let last = c
            .last_message
            .as_ref()
            .map(|m| m.preview())
            .unwrap_or_default();
        output::line(&format!(
            "{pin}{}  {}{unread}  {}",
            safe(&c.conversation_id),
            safe(&c.show_name),
            safe(&last)
        ))?;
    }
    Ok(())
}

/// `termim conversation-data`: per-conversation results; non-zero exit if any failed.
pub async fn conversation_data(tim: &Tim, args: ConversationDataArgs) -> anyhow::Result<()> {
    let results = tim
        .set_conversation_custom_data(&args.conversation_ids, &args.data)
        .await
        .map_err(sdk)?;
    if args.json {
        print_json(&results)?;
    } else {
        for r in &results {
            if r.result_code == 0 {
                output::line(&format!("{}: ok", safe(&r.conversation_id)))?;
            } else {
                output::line(&format!(
                    "{}: {}: {}",
                    safe(&r.conversation_id),
                    r.result_code,
                    safe(&r.result_info)
                ))?;
            }
        }
    }
    let failed = results.iter().filter(|r| r.result_code != 0).count();
    if failed > 0 {
        bail!(
            "{failed} of {} conversations were not updated",
            results.len()
        );
    }
    Ok(())
}

/// `termim group …`.
pub async fn group(tim: &Tim, cmd: GroupCommand) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::Create {
            group_type,
            name,
            id,
            members,
        } => {
            let specs: Vec<GroupMemberSpec> = members
                .into_iter()
                .map(|user_id| GroupMemberSpec {
                    user_id,
                    role: role::MEMBER,
                })
                .collect();
            let id = tim
                .create_group(&group_type, &name, id.as_deref(), &specs)
                .await
                .map_err(sdk)?;
            output::line(&safe(&id))?;
        }
        GroupCommand::Join { group_id } => {
            tim.join_group(&group_id, "").await.map_err(sdk)?;
            output::line(&format!("joined {}", safe(&group_id)))?;
        }
        GroupCommand::Quit { group_id } => {
            tim.quit_group(&group_id).await.map_err(sdk)?;
            output::line(&format!("left {}", safe(&group_id)))?;
        }
        GroupCommand::Dismiss { group_id } => {
            tim.dismiss_group(&group_id).await.map_err(sdk)?;
            output::line(&format!("dismissed {}", safe(&group_id)))?;
        }
        GroupCommand::Members { group_id, json } => {
            let mut all = Vec::new();
            let mut next = "0".to_string();
            loop {
                let page = tim
                    .get_group_member_list(&group_id, 0, &next, 100)
                    .await
                    .map_err(sdk)?;
                all.extend(page.member_info_list);
                if page.next_seq == "0" || page.next_seq.is_empty() {
                    break;
                }
                next = page.next_seq;
            }
            if json {
                return print_json(&all);
            }
            for m in &all {
                let role = match m.role {
                    role::OWNER => "owner",
                    role::ADMIN => "admin",
                    _ => "member",
                };
                output::line(&format!("{}\t{role}", safe(&m.user_id)))?;
            }
        }
        GroupCommand::Invite { group_id, users } => {
            let results = tim
                .invite_user_to_group(&group_id, &users)
                .await
                .map_err(sdk)?;
            for r in &results {
                let what = match r.result {
                    1 => "invited",
                    2 => "already a member",
                    3 => "pending approval",
                    4 => "group is full",
                    _ => "failed",
                };
                output::line(&format!("{}: {what}", safe(&r.member_id)))?;
            }
        }
        GroupCommand::Kick { group_id, users } => {
            tim.kick_group_member(&group_id, &users, "")
                .await
                .map_err(sdk)?;
            output::line(&format!("removed {}", safe(&users.join(", "))))?;
        }
        GroupCommand::List { json } => {
            let groups = tim.get_joined_group_list().await.map_err(sdk)?;
            if json {
                return print_json(&groups);
            }
            for g in &groups {
                output::line(&format!(
                    "{}\t{}\t{}\t{} members",
                    safe(&g.group_id),
                    safe(&g.group_type),
                    safe(&g.group_name),
                    g.member_count
                ))?;
            }
        }
    }
    Ok(())
}

/// One line of `termim listen --json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventLine<'a, T: Serialize> {
    event: &'a str,
    data: T,
}

fn emit<T: Serialize>(
    json: bool,
    event: &str,
    data: T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        output::json_line(&EventLine { event, data })
    } else {
        output::line(&text())
    }
}

/// `termim listen`: print events until Ctrl-C or the connection is lost for good. An
/// expired UserSig is renewed with `signer` (termim signs its own); without one (a
/// `--usersig` was given) listen ends, saying how to get a new sig.
pub async fn listen(
    tim: &Tim,
    args: JsonArg,
    signer: Option<crate::usersig::Signer>,
) -> anyhow::Result<()> {
    let mut events = tim.add_listener();
    let json = args.json;
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(event) = event else { return Ok(()) };
        match event {
            TimEvent::NewMessage(m) => {
                let conv = m.conversation_id(&tim.login_user());
                emit(json, "onRecvNewMessage", &m, || {
                    format!("{} {}", safe(&conv), describe_message(&m))
                })?
            }
            TimEvent::MessageUpdated(m) => emit(json, "onMessageUpdated", &m, || {
                format!("message {} status {:?}", safe(&m.msg_id), m.status)
            })?,
            TimEvent::NewConversation(list) => emit(json, "onNewConversation", &list, || {
                format!("new conversation {}", ids(&list))
            })?,
            TimEvent::ConversationChanged(list) => {
                emit(json, "onConversationChanged", &list, || {
                    format!("conversation changed {}", ids(&list))
                })?
            }
            TimEvent::ConversationDeleted(list) => {
                emit(json, "onConversationDeleted", &list, || {
                    format!("conversation deleted {}", safe(&list.join(", ")))
                })?
            }
            TimEvent::TotalUnreadChanged(n) => {
                emit(json, "onTotalUnreadMessageCountChanged", n, || {
                    format!("total unread {n}")
                })?
            }
            TimEvent::ConnectionChanged(state) => {
                let name = format!("{state:?}");
                emit(json, "onConnectionChanged", &name, || {
                    format!("connection {name}")
                })?
            }
            TimEvent::SyncFinished => {
                emit(json, "onSyncServerFinish", (), || "synced".to_string())?
            }
            TimEvent::GroupEvent(g) => emit(json, "onGroupEvent", &g, || {
                format!(
                    "group {} {} by {} ({})",
                    safe(&g.group_id),
                    safe(&g.event),
                    safe(&g.op_user),
                    safe(&g.member_list.join(", "))
                )
            })?,
            TimEvent::KickedOffline => {
                emit(json, "onKickedOffline", (), || "kicked offline".to_string())?;
                bail!("6208: kicked offline by a login elsewhere");
            }
            TimEvent::ConnectFailed(e) => emit(
                json,
                "onConnectFailed",
                serde_json::json!({"code": e.code, "desc": e.desc}),
                || format!("connect failed: {}", safe(&e.to_string())),
            )?,
            TimEvent::UserSigExpired => {
                emit(json, "onUserSigExpired", (), || {
                    "UserSig expired".to_string()
                })?;
                let Some(sign) = &signer else {
                    bail!(
                        "70001: the UserSig expired; get a new one (termim usersig --user {} \
                         --data-dir <the server's data dir>) and run listen with it",
                        tim.login_user()
                    );
                };
                let sig = sign().map_err(|e| {
                    anyhow::anyhow!(
                        "70001: the UserSig expired and a new one could not be signed: {e}"
                    )
                })?;
                tim.renew_user_sig(&sig).await.map_err(|e| {
                    anyhow::anyhow!("the UserSig expired and renewing it failed: {e}")
                })?;
            }
        }
    }
}

fn ids(list: &[Conversation]) -> String {
    let joined = list
        .iter()
        .map(|c| c.conversation_id.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    safe(&joined).into_owned()
}
