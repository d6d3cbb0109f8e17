//! Conversation commands: read marks (and the unread counters they keep), pins, deletes
//! and custom data — who may, what changes, and what the user's other devices are told.

use crate::model::{
    Conversation, ConversationId, ConversationOperationResult, ConversationTarget, GroupType,
    Message, conversation_type, limits,
};
use crate::protocol::codes;
use crate::server::error::OpError;
use crate::server::rules;
use crate::server::store::{ConnId, Data, Effect};

use super::{ConvRow, Tx, resolve};

/// Conversations of one user that may carry custom data (reference §3.11).
pub const CUSTOM_DATA_CONVERSATIONS_MAX: u64 = 1000;

/// `conversationChanged` for `user`'s other connections, with the current objects.
fn changed_effect(
    tx: &mut dyn Tx,
    user: &str,
    conn: ConnId,
    convs: &[String],
) -> Result<Option<Effect>, OpError> {
    let mut list = Vec::new();
    for c in convs {
        if let Some(row) = tx.conv_row(user, c)?
            && let Some(conv) = tx.conversation(user, &row)?
        {
            list.push(conv);
        }
    }
    Ok((!list.is_empty()).then(|| Effect::ConversationChanged {
        user: user.to_string(),
        except: Some(conn),
        conversations: list,
    }))
}

/// Move `user`'s read mark in `conv` forward to `seq` / `time` (never back), keeping its
/// own-unread counter: the user's counted messages between the old and the new mark leave
/// it (nothing is counted when the mark reaches the end). `false` when there is no row.
fn move_read_mark(
    tx: &mut dyn Tx,
    user: &str,
    conv: &str,
    seq: u64,
    time: i64,
) -> Result<bool, OpError> {
    let Some(row) = tx.conv_row(user, conv)? else {
        return Ok(false);
    };
    let floor = row.unread_floor();
    let mut own = row.own_unread;
    if seq > floor && own > 0 {
        own = if seq >= tx.head(row.conv_id)?.seq {
            0
        } else {
            own.saturating_sub(tx.count_own_counted(row.conv_id, user, floor, seq)?)
        };
    }
    tx.set_read_mark(user, conv, seq, time, own)
}

/// `cleanConversationUnreadMessageCount`. C2C by timestamp (every message stamped at or
/// before it is read; timestamps never go down as seqs go up, so this is a seq), groups by
/// seq; `""`, `"c2c"`, `"group"`: every such conversation, to its newest message.
#[allow(clippy::too_many_arguments)]
pub fn clean_unread(
    tx: &mut dyn Tx,
    user: &str,
    conn: ConnId,
    conversation_id: &str,
    clean_timestamp: i64,
    clean_sequence: u64,
    now: i64,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    // (conversation, read up to seq, read time)
    let mut marks: Vec<(String, u64, i64)> = Vec::new();
    let bulk = match conversation_id {
        "" => Some(None),
        "c2c" => Some(Some(false)),
        "group" => Some(Some(true)),
        _ => None,
    };
    if let Some(kind) = bulk {
        for row in tx.conv_rows(user)? {
            if kind.is_some_and(|group| group != row.group_id.is_some()) {
                continue;
            }
            let head = tx.head(row.conv_id)?;
            if head.seq > row.read_seq {
                let time = if row.group_id.is_some() {
                    now
                } else {
                    head.time
                };
                marks.push((row.conv.clone(), head.seq, time));
            }
        }
    } else {
        let r = resolve(tx, user, conversation_id)?;
        if tx.conv_row(user, &r.conv)?.is_none() {
            return Ok(Data::null()); // nothing was ever received here
        }
        let (seq, time) = if r.group_id.is_some() {
            let seq = if clean_sequence == 0 {
                r.last_seq
            } else {
                clean_sequence.min(r.last_seq)
            };
            (seq, now)
        } else if clean_timestamp <= 0 {
            // Everything: up to the newest message; the mark's time is that message's.
            let head = tx.head(r.conv_id)?;
            (head.seq, head.time)
        } else {
            // The newest message stamped at or before it is the mark.
            let head = tx
                .head_at_time(r.conv_id, clean_timestamp)?
                .unwrap_or_default();
            (head.seq, head.time)
        };
        marks.push((r.conv, seq, time));
    }
    let mut changed = Vec::new();
    for (conv, seq, time) in marks {
        if move_read_mark(tx, user, &conv, seq, time)? {
            changed.push(conv);
        }
    }
    if let Some(e) = changed_effect(tx, user, conn, &changed)? {
        fx.push(e);
    }
    Ok(Data::null())
}

/// `pinConversation`.
pub fn pin(
    tx: &mut dyn Tx,
    user: &str,
    conn: ConnId,
    conversation_id: &str,
    pinned: bool,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    let r = resolve(tx, user, conversation_id)?;
    tx.ensure_row(user, &r)?;
    tx.set_pinned(user, &r.conv, pinned)?;
    if let Some(e) = changed_effect(tx, user, conn, std::slice::from_ref(&r.conv))? {
        fx.push(e);
    }
    Ok(Data::null())
}

/// `deleteConversation`: hidden for this user (and its history up to now), until
/// something new arrives; the user's other devices drop it.
pub fn delete(
    tx: &mut dyn Tx,
    user: &str,
    conn: ConnId,
    conversation_id: &str,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    let r = resolve(tx, user, conversation_id)?;
    if tx.delete_row(user, &r.conv, r.last_seq)? {
        fx.push(Effect::ConversationDeleted {
            user: user.to_string(),
            except: Some(conn),
            conversation_ids: vec![r.conv],
        });
    }
    Ok(Data::null())
}

/// `setConversationCustomData`: per-item results; at most 100 ids, 256 bytes, and 1000
/// conversations of a user carrying data.
pub fn set_custom_data(
    tx: &mut dyn Tx,
    user: &str,
    conn: ConnId,
    ids: &[String],
    data: &str,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    if ids.is_empty() {
        return Err(OpError::invalid("conversationIDList is empty"));
    }
    if ids.len() > limits::CONVERSATION_BATCH_MAX {
        return Err(OpError::new(
            codes::ERR_SVR_CONV_BATCH_TOO_MANY,
            format!(
                "{} conversations in one request; at most {}",
                ids.len(),
                limits::CONVERSATION_BATCH_MAX
            ),
        ));
    }
    let size_error = rules::check_custom_data(data).err();
    let mut with_data = tx.count_with_custom_data(user)?;
    let mut results = Vec::with_capacity(ids.len());
    let mut changed: Vec<String> = Vec::new();
    for id in ids {
        let result = |code: i32, info: String| ConversationOperationResult {
            conversation_id: id.clone(),
            result_code: code,
            result_info: info,
        };
        if let Some(e) = &size_error {
            results.push(result(e.code, e.desc.clone()));
            continue;
        }
        let r = match resolve(tx, user, id) {
            Ok(r) => r,
            Err(e) if e.code == codes::ERR_SVR_COMM_INTERNAL => return Err(e),
            Err(e) => {
                results.push(result(e.code, e.desc));
                continue;
            }
        };
        let had = tx
            .conv_row(user, &r.conv)?
            .is_some_and(|row| !row.custom_data.is_empty());
        if !had && !data.is_empty() && with_data >= CUSTOM_DATA_CONVERSATIONS_MAX {
            results.push(result(
                codes::ERR_SVR_CONV_TOO_MANY_WITH_DATA,
                format!(
                    "at most {CUSTOM_DATA_CONVERSATIONS_MAX} conversations may carry custom data"
                ),
            ));
            continue;
        }
        tx.ensure_row(user, &r)?;
        tx.set_custom_data(user, &r.conv, data)?;
        with_data = (with_data + u64::from(!data.is_empty())).saturating_sub(u64::from(had));
        results.push(result(codes::OK, String::new()));
        if !changed.contains(&r.conv) {
            changed.push(r.conv);
        }
    }
    if let Some(e) = changed_effect(tx, user, conn, &changed)? {
        fx.push(e);
    }
    Ok(Data::json(&results))
}

/// The `V2TimConversation` of a visible row, from what storage read: the newest message
/// the user may see (its position and its JSON as stored; `None`: none) and the unread
/// count. The one place that decides what a conversation object says.
pub fn conversation_of(
    row: &ConvRow,
    last: Option<(u64, String)>,
    unread: u64,
) -> Result<Conversation, OpError> {
    let mut conv = empty_conversation(&row.conv, row.group_type, row.group_name.as_deref());
    conv.orderkey = row.activated;
    if let Some((pos, body)) = last {
        conv.orderkey = conv.orderkey.max(pos);
        let message: Message = serde_json::from_str(&body).map_err(|e| {
            tracing::error!(
                "conversation {}: its last message does not parse: {e}",
                row.conv
            );
            OpError::internal("a stored message could not be read; retry later")
        })?;
        conv.last_message = Some(Box::new(message));
    }
    conv.unread_count = unread;
    conv.is_pinned = row.pinned;
    conv.custom_data = row.custom_data.clone();
    if row.group_id.is_some() {
        conv.group_read_sequence = row.read_seq;
    } else {
        conv.c2c_read_timestamp = row.read_time;
        conv.c2c_read_sequence = row.read_seq;
    }
    Ok(conv)
}

/// A conversation with no state yet (or the shape of a row before its counts are filled).
pub fn empty_conversation(
    conversation_id: &str,
    group_type: Option<GroupType>,
    group_name: Option<&str>,
) -> Conversation {
    let mut conv = Conversation {
        conversation_id: conversation_id.to_string(),
        ..Conversation::default()
    };
    match ConversationId::parse(conversation_id) {
        Some(ConversationTarget::C2c(peer)) => {
            conv.conv_type = conversation_type::C2C;
            conv.show_name = peer.clone();
            conv.user_id = Some(peer);
        }
        Some(ConversationTarget::Group(group)) => {
            conv.conv_type = conversation_type::GROUP;
            conv.show_name = match group_name {
                Some(name) if !name.is_empty() => name.to_string(),
                _ => group.clone(),
            };
            conv.group_type = group_type.map(|t| t.as_str().to_string());
            conv.group_id = Some(group);
        }
        None => {}
    }
    conv
}
