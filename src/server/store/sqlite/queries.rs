//! Read queries shared by the read connections and the writer (which builds the
//! conversations it pushes inside its own transaction).
//!
//! Visibility, in one place: a user sees a stored message of a conversation when
//! - it is at or after the user's first visible seq (`ConvRow::lower`: after what the user
//!   deleted, and for Work/Public groups from the user's join), and
//! - it is not targeted, or the user sent it, or the user is one of its targets.

use rusqlite::{Connection, OptionalExtension, params};

use crate::model::{
    Conversation, ConversationId, ConversationTarget, GroupInfo, GroupMemberFullInfo, GroupType,
    limits,
};
use crate::protocol::{GetHistoryParams, get_type};
use crate::server::domain::conversations;
use crate::server::error::OpError;
use crate::server::rules;
use crate::server::store::Data;

use super::schema::c2c_key;

/// `targeted = 0 OR sender = ?U OR ?U is a target`, with the user as parameter `?3`.
const VISIBLE_TO_3: &str = "(targeted = 0 OR sender = ?3 OR EXISTS \
     (SELECT 1 FROM message_targets t WHERE t.user_id = ?3 AND t.pos = messages.pos))";

pub use crate::server::domain::ConvRow;

const CONV_ROW_SELECT: &str = "SELECT uc.conv, uc.conv_id, uc.peer, uc.group_id, uc.pinned, \
     uc.custom_data, uc.read_seq, uc.read_time, uc.cleared_seq, uc.deleted, uc.activated, \
     g.type, g.name, gm.join_seq, uc.own_unread \
     FROM user_conversations uc \
     LEFT JOIN groups g ON g.group_id = uc.group_id \
     LEFT JOIN group_members gm ON gm.group_id = uc.group_id AND gm.user_id = uc.owner \
     WHERE uc.owner = ?1";

fn conv_row_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<ConvRow>> {
    let group_id: Option<String> = r.get(3)?;
    let group_type: Option<String> = r.get(11)?;
    let join_seq: Option<i64> = r.get(13)?;
    let group_type = group_type.as_deref().and_then(GroupType::parse);
    // A group conversation is only live while the user is a member of a live group.
    if group_id.is_some() && (group_type.is_none() || join_seq.is_none()) {
        return Ok(None);
    }
    Ok(Some(ConvRow {
        conv: r.get(0)?,
        conv_id: r.get(1)?,
        group_id,
        pinned: r.get(4)?,
        custom_data: r.get(5)?,
        read_seq: r.get::<_, i64>(6)? as u64,
        read_time: r.get(7)?,
        cleared_seq: r.get::<_, i64>(8)? as u64,
        deleted: r.get(9)?,
        activated: r.get::<_, i64>(10)? as u64,
        group_type,
        group_name: r.get(12)?,
        join_seq: join_seq.map(|j| j as u64),
        own_unread: r.get::<_, i64>(14)?.max(0) as u64,
    }))
}

/// All of `user`'s live conversation rows.
pub fn conv_rows(db: &Connection, user: &str) -> rusqlite::Result<Vec<ConvRow>> {
    let mut stmt = db.prepare_cached(&format!("{CONV_ROW_SELECT} AND g.dismissed IS NOT 1"))?;
    let rows = stmt.query_map([user], conv_row_from)?;
    let mut out = Vec::new();
    for row in rows {
        if let Some(r) = row? {
            out.push(r);
        }
    }
    Ok(out)
}

/// One of `user`'s conversation rows.
pub fn conv_row(db: &Connection, user: &str, conv: &str) -> rusqlite::Result<Option<ConvRow>> {
    let mut stmt = db.prepare_cached(&format!(
        "{CONV_ROW_SELECT} AND uc.conv = ?2 AND g.dismissed IS NOT 1"
    ))?;
    let row = stmt
        .query_row(params![user, conv], conv_row_from)
        .optional()?;
    Ok(row.flatten())
}

/// One of `user`'s conversation rows, by the engine's conversation id.
pub fn conv_row_by_id(
    db: &Connection,
    user: &str,
    conv_id: i64,
) -> rusqlite::Result<Option<ConvRow>> {
    let mut stmt = db.prepare_cached(&format!(
        "{CONV_ROW_SELECT} AND uc.conv_id = ?2 AND g.dismissed IS NOT 1"
    ))?;
    let row = stmt
        .query_row(params![user, conv_id], conv_row_from)
        .optional()?;
    Ok(row.flatten())
}

pub fn conv_id_by_key(db: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    db.prepare_cached("SELECT conv_id FROM convs WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()
}

/// The newest seq of a conversation and its timestamp ((0, 0) when empty).
pub fn last_seq_time(db: &Connection, conv_id: i64) -> rusqlite::Result<(u64, i64)> {
    let row: Option<(i64, i64)> = db
        .prepare_cached(
            "SELECT seq, time FROM messages WHERE conv_id = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([conv_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map_or((0, 0), |(s, t)| (s as u64, t)))
}

/// The newest message `user` may see from `lower` on that is not excluded from being the
/// last message: its pos and JSON.
pub fn last_message(
    db: &Connection,
    conv_id: i64,
    user: &str,
    lower: u64,
) -> rusqlite::Result<Option<(u64, String)>> {
    db.prepare_cached(&format!(
        "SELECT pos, body FROM messages WHERE conv_id = ?1 AND seq >= ?2 AND nolast = 0 \
         AND {VISIBLE_TO_3} ORDER BY seq DESC LIMIT 1"
    ))?
    .query_row(params![conv_id, lower as i64, user], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
    })
    .optional()
}

/// Is there any message `user` may see from `lower` on?
fn has_visible(db: &Connection, conv_id: i64, user: &str, lower: u64) -> rusqlite::Result<bool> {
    db.prepare_cached(&format!(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE conv_id = ?1 AND seq >= ?2 AND {VISIBLE_TO_3})"
    ))?
    .query_row(params![conv_id, lower as i64, user], |r| r.get(0))
}

/// The conversation's counted prefix at `seq`: counted messages with seq ≤ it.
fn cnum_at(db: &Connection, conv_id: i64, seq: u64) -> rusqlite::Result<u64> {
    let n: Option<i64> = db
        .prepare_cached(
            "SELECT cnum FROM messages WHERE conv_id = ?1 AND seq <= ?2 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![conv_id, seq.min(i64::MAX as u64) as i64], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(n.unwrap_or(0).max(0) as u64)
}

/// Unread messages of a row: counted ones after its floor not sent by the user. Two index
/// probes and the row's own counter — never a count over the messages. (Counted messages
/// are never targeted, so every member sees all of them.)
fn unread_of(db: &Connection, row: &ConvRow) -> rusqlite::Result<u64> {
    let all = cnum_at(db, row.conv_id, u64::MAX)?;
    let before = cnum_at(db, row.conv_id, row.unread_floor())?;
    Ok(all.saturating_sub(before).saturating_sub(row.own_unread))
}

/// Is the row hidden (deleted, and nothing arrived since)?
fn hidden(db: &Connection, user: &str, row: &ConvRow) -> rusqlite::Result<bool> {
    Ok(row.deleted && !has_visible(db, row.conv_id, user, row.lower())?)
}

/// The unread count of one conversation row.
pub fn row_unread(db: &Connection, user: &str, row: &ConvRow) -> rusqlite::Result<u64> {
    if row.stores_nothing() || hidden(db, user, row)? {
        return Ok(0);
    }
    unread_of(db, row)
}

/// The `V2TimConversation` of a row, or `None` when the user deleted it and nothing new
/// arrived since.
pub fn build_conversation(
    db: &Connection,
    user: &str,
    row: &ConvRow,
) -> Result<Option<Conversation>, OpError> {
    if hidden(db, user, row)? {
        return Ok(None);
    }
    if row.stores_nothing() {
        return conversations::conversation_of(row, None, 0).map(Some);
    }
    let last = last_message(db, row.conv_id, user, row.lower())?;
    let unread = unread_of(db, row)?;
    conversations::conversation_of(row, last, unread).map(Some)
}

/// Does `user` have an account?
pub fn user_exists(db: &Connection, user: &str) -> rusqlite::Result<bool> {
    db.prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE user_id = ?1)")?
        .query_row([user], |r| r.get(0))
}

/// A live group's header.
#[derive(Debug, Clone)]
pub struct GroupRow {
    pub group_id: String,
    pub conv_id: i64,
    pub group_type: GroupType,
    pub name: String,
    pub owner: String,
    pub create_time: i64,
    pub dismissed: bool,
}

pub fn group_row(db: &Connection, group_id: &str) -> rusqlite::Result<Option<GroupRow>> {
    let row = db
        .prepare_cached(
            "SELECT conv_id, type, name, owner, create_time, dismissed FROM groups \
             WHERE group_id = ?1",
        )?
        .query_row([group_id], |r| {
            let t: String = r.get(1)?;
            Ok((
                r.get::<_, i64>(0)?,
                t,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, bool>(5)?,
            ))
        })
        .optional()?;
    Ok(
        row.and_then(|(conv_id, t, name, owner, create_time, dismissed)| {
            GroupType::parse(&t).map(|group_type| GroupRow {
                group_id: group_id.to_string(),
                conv_id,
                group_type,
                name,
                owner,
                create_time,
                dismissed,
            })
        }),
    )
}

/// A user's membership of a group.
#[derive(Debug, Clone, Copy)]
pub struct Membership {
    pub role: u32,
    pub join_seq: u64,
    pub join_time: i64,
}

/// `user`'s membership of `group_id`, if any.
pub fn membership(
    db: &Connection,
    group_id: &str,
    user: &str,
) -> rusqlite::Result<Option<Membership>> {
    db.prepare_cached(
        "SELECT role, join_seq, join_time FROM group_members WHERE group_id = ?1 AND user_id = ?2",
    )?
    .query_row([group_id, user], |r| {
        Ok(Membership {
            role: r.get::<_, i64>(0)? as u32,
            join_seq: r.get::<_, i64>(1)? as u64,
            join_time: r.get(2)?,
        })
    })
    .optional()
}

fn member_count(db: &Connection, group_id: &str) -> rusqlite::Result<u32> {
    let n: i64 = db
        .prepare_cached("SELECT COUNT(*) FROM group_members WHERE group_id = ?1")?
        .query_row([group_id], |r| r.get(0))?;
    Ok(n as u32)
}

/// A live group, with `user`'s view of it; errors 10010 (no such group) or, with
/// `need_member`, 10007 (not a member).
pub fn live_group(
    db: &Connection,
    group_id: &str,
    user: &str,
    need_member: bool,
) -> Result<(GroupRow, Option<Membership>), OpError> {
    let g = match group_row(db, group_id)? {
        Some(g) if !g.dismissed => g,
        _ => return Err(OpError::no_group(group_id)),
    };
    let me = membership(db, group_id, user)?;
    if need_member && me.is_none() {
        return Err(OpError::denied(format!(
            "you are not a member of group {group_id:?}"
        )));
    }
    Ok((g, me))
}

pub fn group_info(
    db: &Connection,
    g: &GroupRow,
    me: Option<Membership>,
) -> rusqlite::Result<GroupInfo> {
    Ok(GroupInfo {
        group_id: g.group_id.clone(),
        group_type: g.group_type.as_str().to_string(),
        group_name: g.name.clone(),
        owner: g.owner.clone(),
        create_time: g.create_time,
        member_count: member_count(db, &g.group_id)?,
        role: me.map_or(0, |m| m.role),
        join_time: me.map_or(0, |m| m.join_time),
    })
}

/// Groups `user` is in (AVChatRoom excluded, as V2TIM does).
pub fn joined_groups(db: &Connection, user: &str) -> Result<Vec<GroupInfo>, OpError> {
    let mut stmt = db.prepare_cached(
        "SELECT gm.group_id FROM group_members gm JOIN groups g ON g.group_id = gm.group_id \
         WHERE gm.user_id = ?1 AND g.dismissed = 0 AND g.type != 'AVChatRoom' \
         ORDER BY gm.join_time, gm.group_id",
    )?;
    let ids = stmt
        .query_map([user], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let (g, me) = live_group(db, &id, user, true)?;
        out.push(group_info(db, &g, me)?);
    }
    Ok(out)
}

/// One page of a group's members; `next_seq` is an offset ("0" = start, "0" back = done).
pub fn group_members(
    db: &Connection,
    group_id: &str,
    filter: u32,
    offset: u64,
    count: u32,
) -> rusqlite::Result<(Vec<GroupMemberFullInfo>, Option<u64>)> {
    // SQLite takes a negative OFFSET as 0: an offset past i64 (past any group) is the end,
    // not the first page again.
    let Ok(sql_offset) = i64::try_from(offset) else {
        return Ok((Vec::new(), None));
    };
    let role_clause = match filter {
        crate::model::member_filter::OWNER => " AND role = 400",
        crate::model::member_filter::ADMIN => " AND role = 300",
        crate::model::member_filter::COMMON => " AND role = 200",
        _ => "",
    };
    let mut stmt = db.prepare_cached(&format!(
        "SELECT user_id, role, join_time, mute_until FROM group_members \
         WHERE group_id = ?1{role_clause} \
         ORDER BY role DESC, join_time, user_id LIMIT ?2 OFFSET ?3"
    ))?;
    let mut list = stmt
        .query_map(params![group_id, i64::from(count) + 1, sql_offset], |r| {
            Ok(GroupMemberFullInfo {
                user_id: r.get(0)?,
                nick_name: String::new(),
                name_card: String::new(),
                role: r.get::<_, i64>(1)? as u32,
                join_time: r.get(2)?,
                mute_until: r.get(3)?,
                is_online: false,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = list.len() > count as usize;
    list.truncate(count as usize);
    let next = more.then(|| offset.saturating_add(u64::from(count)));
    Ok((list, next))
}

/// Clamp a requested page size: 0 means the default (100), and at most 500.
pub fn page_size(count: u32) -> u32 {
    match count {
        0 => 100,
        n => n.min(limits::PAGE_MAX as u32),
    }
}

/// Where `user` reads conversation `conversation_id`: its id and first visible seq.
/// `Ok(None)`: a C2C conversation with no messages yet.
fn history_scope(
    db: &Connection,
    user: &str,
    conversation_id: &str,
) -> Result<Option<(i64, u64)>, OpError> {
    match ConversationId::parse(conversation_id) {
        Some(ConversationTarget::C2c(peer)) => {
            let Some(conv_id) = conv_id_by_key(db, &c2c_key(user, &peer))? else {
                return Ok(None);
            };
            let cleared = conv_row(db, user, conversation_id)?.map_or(0, |r| r.cleared_seq);
            Ok(Some((conv_id, cleared + 1)))
        }
        Some(ConversationTarget::Group(group_id)) => {
            let (g, me) = live_group(db, &group_id, user, true)?;
            if !g.group_type.stores_messages() {
                return Ok(None);
            }
            let join_seq = me.map_or(1, |m| m.join_seq);
            let cleared = conv_row(db, user, conversation_id)?.map_or(0, |r| r.cleared_seq);
            Ok(Some((
                g.conv_id,
                (cleared + 1).max(rules::visible_from(g.group_type, join_seq)),
            )))
        }
        None => Err(invalid_conversation(conversation_id)),
    }
}

pub use crate::server::domain::invalid_conversation;

/// The seq of a message named by its msgID inside a conversation.
fn seq_of_msg_id(db: &Connection, conv_id: i64, msg_id: &str) -> Result<u64, OpError> {
    let not_found =
        || OpError::invalid(format!("lastMsgID {msg_id:?} is not in this conversation"));
    let pos: i64 = msg_id
        .split('-')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(not_found)?;
    let found: Option<(i64, i64, String)> = db
        .prepare_cached("SELECT conv_id, seq, msg_id FROM messages WHERE pos = ?1")?
        .query_row([pos], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match found {
        Some((c, seq, id)) if c == conv_id && id == msg_id => Ok(seq as u64),
        _ => Err(not_found()),
    }
}

/// `getHistoryMessageList` (reference §3.9): older pages newest→oldest, newer pages
/// oldest→newest; `lastMsgID` exclusive, `lastMsgSeq` inclusive (lastMsgID wins).
pub fn history(db: &Connection, user: &str, p: &GetHistoryParams) -> Result<Data, OpError> {
    let older = match p.get_type {
        get_type::CLOUD_OLDER => true,
        get_type::CLOUD_NEWER => false,
        other => {
            return Err(OpError::invalid(format!(
                "getType {other}: the server serves 1 (CLOUD_OLDER) and 2 (CLOUD_NEWER)"
            )));
        }
    };
    if p.count == 0 {
        return Err(OpError::invalid("count must be at least 1"));
    }
    let count = p.count.min(limits::PAGE_MAX as u32);
    let Some((conv_id, lower)) = history_scope(db, user, &p.conversation_id)? else {
        return Ok(Data(r#"{"isFinished":true,"messageList":[]}"#.into()));
    };
    // Bound: seq strictly beyond `start` (exclusive) or from `start` (inclusive).
    let (start, inclusive) = match (&p.last_msg_id, p.last_msg_seq) {
        (Some(id), _) if !id.is_empty() => (Some(seq_of_msg_id(db, conv_id, id)?), false),
        (_, Some(seq)) if seq > 0 => (Some(seq), true),
        _ => (None, true),
    };
    let sql = if older {
        format!(
            "SELECT body FROM messages WHERE conv_id = ?1 AND seq >= ?2 AND seq <= ?4 \
             AND {VISIBLE_TO_3} ORDER BY seq DESC LIMIT ?5"
        )
    } else {
        format!(
            "SELECT body FROM messages WHERE conv_id = ?1 AND seq >= ?2 AND seq >= ?4 \
             AND {VISIBLE_TO_3} ORDER BY seq ASC LIMIT ?5"
        )
    };
    let bound: i64 = match (start, older, inclusive) {
        (None, true, _) => i64::MAX,
        (None, false, _) => 0,
        (Some(s), true, true) => s as i64,
        (Some(s), true, false) => s as i64 - 1,
        (Some(s), false, true) => s as i64,
        (Some(s), false, false) => s as i64 + 1,
    };
    let mut stmt = db.prepare_cached(&sql)?;
    let bodies = stmt
        .query_map(
            params![conv_id, lower as i64, user, bound, i64::from(count) + 1],
            |r| r.get::<_, String>(0),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let finished = bodies.len() <= count as usize;
    let shown = &bodies[..bodies.len().min(count as usize)];
    Ok(Data(format!(
        r#"{{"isFinished":{finished},"messageList":[{}]}}"#,
        shown.join(",")
    )))
}

/// A sync page stops growing past this many bytes of messages (it holds at least one).
pub const SYNC_PAGE_BYTES: usize = 256 * 1024;

/// `sync`: the messages `user` may see with pos > `cursor`, oldest first, at most `count`
/// (and about [`SYNC_PAGE_BYTES`]).
///
/// It reads the user's stream (`user_stream`, ordered by pos) from the cursor: one bounded
/// range, whatever the number of the user's conversations or the server's traffic. A row
/// is returned when the user may still see its message (a member now, after what the user
/// deleted, from the join on where history before it is hidden); rows that fail this are
/// passed over, and the next page starts after them.
pub fn sync(db: &mut Connection, user: &str, cursor: u64, count: u32) -> Result<Data, OpError> {
    let count = page_size(count) as usize;
    let cursor_sql = cursor.min(i64::MAX as u64) as i64;
    // One read transaction: one snapshot for all the queries below.
    let tx = db.transaction()?;
    let newest: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(pos), 0) FROM messages")?
        .query_row([], |r| r.get(0))?;
    // conv_id → the first seq the user may see there (None: not at all).
    let mut lower: std::collections::HashMap<i64, Option<u64>> = Default::default();
    let mut found: Vec<String> = Vec::new();
    let mut bytes = 0;
    let mut scanned = cursor_sql;
    let finished = 'page: loop {
        let want = count - found.len() + 1;
        let mut stmt = tx.prepare_cached(
            "SELECT s.pos, m.conv_id, m.seq, m.body FROM user_stream s \
             JOIN messages m ON m.pos = s.pos \
             WHERE s.user_id = ?1 AND s.pos > ?2 ORDER BY s.pos LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![user, scanned, want as i64])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            n += 1;
            let (pos, conv_id, seq): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let from = match lower.get(&conv_id) {
                Some(from) => *from,
                None => {
                    let from = conv_row_by_id(&tx, user, conv_id)?
                        .filter(|row| !row.stores_nothing())
                        .map(|row| row.lower());
                    lower.insert(conv_id, from);
                    from
                }
            };
            if from.is_some_and(|from| seq as u64 >= from) {
                let body = r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
                // Bound the page by count and bytes (always at least one message).
                if found.len() == count
                    || (!found.is_empty() && bytes + body.len() + 1 > SYNC_PAGE_BYTES)
                {
                    break 'page false;
                }
                bytes += body.len() + 1;
                found.push(body.to_string());
            }
            scanned = pos;
        }
        if n < want {
            break true;
        }
    };
    drop(tx);
    let new_cursor = if finished {
        cursor.max(newest as u64)
    } else {
        scanned as u64
    };
    Ok(Data(format!(
        r#"{{"messageList":[{}],"cursor":{new_cursor},"isFinished":{finished}}}"#,
        found.join(",")
    )))
}
