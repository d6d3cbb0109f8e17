//! Read queries shared by the read connections and the writer (which builds the
//! conversations it pushes inside its own transaction). The same reads as the SQLite
//! engine's (`store::sqlite::queries`), with the same visibility rules and the same JSON
//! out: a user sees a stored message of a conversation when
//! - it is at or after the user's first visible seq (`ConvRow::lower`), and
//! - it is not targeted, or the user sent it, or the user is one of its targets.
//!
//! Text is ordered with `COLLATE "C"` (byte order, as SQLite's), whatever the database's
//! own collation.

use postgres::Row;

use crate::model::{
    Conversation, ConversationId, ConversationTarget, GroupInfo, GroupMemberFullInfo, GroupType,
    limits,
};
use crate::protocol::{GetHistoryParams, get_type};
use crate::server::domain::conversations;
use crate::server::error::OpError;
use crate::server::rules;
use crate::server::store::Data;

use super::Conn;
use super::schema::c2c_key;

pub use crate::server::domain::ConvRow;

type PgResult<T> = Result<T, postgres::Error>;

/// `targeted = FALSE OR sender = $3 OR $3 is a target`.
const VISIBLE_TO_3: &str = "(targeted = FALSE OR sender = $3 OR EXISTS \
     (SELECT 1 FROM message_targets t WHERE t.user_id = $3 AND t.pos = messages.pos))";

const CONV_ROW_SELECT: &str = "SELECT uc.conv, uc.conv_id, uc.peer, uc.group_id, uc.pinned, \
     uc.custom_data, uc.read_seq, uc.read_time, uc.cleared_seq, uc.deleted, uc.activated, \
     g.type, g.name, gm.join_seq, uc.own_unread \
     FROM user_conversations uc \
     LEFT JOIN groups g ON g.group_id = uc.group_id \
     LEFT JOIN group_members gm ON gm.group_id = uc.group_id AND gm.user_id = uc.owner \
     WHERE uc.owner = $1";

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

/// A u64 as a BIGINT parameter (saturating).
pub fn big(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

fn conv_row_from(r: &Row) -> PgResult<Option<ConvRow>> {
    let group_id: Option<String> = r.try_get(3)?;
    let group_type: Option<String> = r.try_get(11)?;
    let join_seq: Option<i64> = r.try_get(13)?;
    let group_type = group_type.as_deref().and_then(GroupType::parse);
    // A group conversation is only live while the user is a member of a live group.
    if group_id.is_some() && (group_type.is_none() || join_seq.is_none()) {
        return Ok(None);
    }
    Ok(Some(ConvRow {
        conv: r.try_get(0)?,
        conv_id: r.try_get(1)?,
        group_id,
        pinned: r.try_get(4)?,
        custom_data: r.try_get(5)?,
        read_seq: u(r.try_get(6)?),
        read_time: r.try_get(7)?,
        cleared_seq: u(r.try_get(8)?),
        deleted: r.try_get(9)?,
        activated: u(r.try_get(10)?),
        group_type,
        group_name: r.try_get(12)?,
        join_seq: join_seq.map(u),
        own_unread: u(r.try_get(14)?),
    }))
}

/// All of `user`'s live conversation rows.
pub fn conv_rows(db: &mut Conn, user: &str) -> PgResult<Vec<ConvRow>> {
    let sql = format!("{CONV_ROW_SELECT} AND g.dismissed IS NOT TRUE");
    let mut out = Vec::new();
    for row in db.query(&sql, &[&user])? {
        if let Some(r) = conv_row_from(&row)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// One of `user`'s conversation rows.
pub fn conv_row(db: &mut Conn, user: &str, conv: &str) -> PgResult<Option<ConvRow>> {
    let sql = format!("{CONV_ROW_SELECT} AND uc.conv = $2 AND g.dismissed IS NOT TRUE");
    match db.query_opt(&sql, &[&user, &conv])? {
        Some(row) => conv_row_from(&row),
        None => Ok(None),
    }
}

/// One of `user`'s conversation rows, by the engine's conversation id.
pub fn conv_row_by_id(db: &mut Conn, user: &str, conv_id: i64) -> PgResult<Option<ConvRow>> {
    let sql = format!("{CONV_ROW_SELECT} AND uc.conv_id = $2 AND g.dismissed IS NOT TRUE");
    match db.query_opt(&sql, &[&user, &conv_id])? {
        Some(row) => conv_row_from(&row),
        None => Ok(None),
    }
}

pub fn conv_id_by_key(db: &mut Conn, key: &str) -> PgResult<Option<i64>> {
    match db.query_opt("SELECT conv_id FROM convs WHERE key = $1", &[&key])? {
        Some(row) => Ok(Some(row.try_get(0)?)),
        None => Ok(None),
    }
}

/// The newest seq of a conversation and its timestamp ((0, 0) when empty).
pub fn last_seq_time(db: &mut Conn, conv_id: i64) -> PgResult<(u64, i64)> {
    match db.query_opt(
        "SELECT last_seq, last_time FROM convs WHERE conv_id = $1",
        &[&conv_id],
    )? {
        Some(row) => Ok((u(row.try_get(0)?), row.try_get(1)?)),
        None => Ok((0, 0)),
    }
}

/// The newest message `user` may see from `lower` on that is not excluded from being the
/// last message: its pos and JSON.
pub fn last_message(
    db: &mut Conn,
    conv_id: i64,
    user: &str,
    lower: u64,
) -> PgResult<Option<(u64, String)>> {
    let sql = format!(
        "SELECT pos, body FROM messages WHERE conv_id = $1 AND seq >= $2 AND nolast = FALSE \
         AND {VISIBLE_TO_3} ORDER BY seq DESC LIMIT 1"
    );
    match db.query_opt(&sql, &[&conv_id, &big(lower), &user])? {
        Some(row) => Ok(Some((u(row.try_get(0)?), row.try_get(1)?))),
        None => Ok(None),
    }
}

/// Is there any message `user` may see from `lower` on?
fn has_visible(db: &mut Conn, conv_id: i64, user: &str, lower: u64) -> PgResult<bool> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE conv_id = $1 AND seq >= $2 AND {VISIBLE_TO_3})"
    );
    db.query_one(&sql, &[&conv_id, &big(lower), &user])?
        .try_get(0)
}

/// The conversation's counted prefix at `seq`: counted messages with seq ≤ it.
fn cnum_at(db: &mut Conn, conv_id: i64, seq: u64) -> PgResult<u64> {
    let row = db.query_opt(
        "SELECT cnum FROM messages WHERE conv_id = $1 AND seq <= $2 ORDER BY seq DESC LIMIT 1",
        &[&conv_id, &big(seq)],
    )?;
    Ok(match row {
        Some(r) => u(r.try_get(0)?),
        None => 0,
    })
}

/// The conversation's counted messages in all.
fn cnum_all(db: &mut Conn, conv_id: i64) -> PgResult<u64> {
    let row = db.query_opt(
        "SELECT last_cnum FROM convs WHERE conv_id = $1",
        &[&conv_id],
    )?;
    Ok(match row {
        Some(r) => u(r.try_get(0)?),
        None => 0,
    })
}

/// Unread messages of a row: counted ones after its floor not sent by the user (see the
/// SQLite engine: counters, never a count over the messages).
fn unread_of(db: &mut Conn, row: &ConvRow) -> PgResult<u64> {
    let all = cnum_all(db, row.conv_id)?;
    let before = cnum_at(db, row.conv_id, row.unread_floor())?;
    Ok(all.saturating_sub(before).saturating_sub(row.own_unread))
}

/// Is the row hidden (deleted, and nothing arrived since)?
fn hidden(db: &mut Conn, user: &str, row: &ConvRow) -> PgResult<bool> {
    Ok(row.deleted && !has_visible(db, row.conv_id, user, row.lower())?)
}

/// The unread count of one conversation row.
pub fn row_unread(db: &mut Conn, user: &str, row: &ConvRow) -> PgResult<u64> {
    if row.stores_nothing() || hidden(db, user, row)? {
        return Ok(0);
    }
    unread_of(db, row)
}

/// The `V2TimConversation` of a row, or `None` when the user deleted it and nothing new
/// arrived since.
pub fn build_conversation(
    db: &mut Conn,
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
pub fn user_exists(db: &mut Conn, user: &str) -> PgResult<bool> {
    db.query_one(
        "SELECT EXISTS (SELECT 1 FROM users WHERE user_id = $1)",
        &[&user],
    )?
    .try_get(0)
}

/// A group's header.
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

pub fn group_row(db: &mut Conn, group_id: &str) -> PgResult<Option<GroupRow>> {
    let Some(r) = db.query_opt(
        "SELECT conv_id, type, name, owner, create_time, dismissed FROM groups \
         WHERE group_id = $1",
        &[&group_id],
    )?
    else {
        return Ok(None);
    };
    let t: String = r.try_get(1)?;
    let Some(group_type) = GroupType::parse(&t) else {
        return Ok(None);
    };
    Ok(Some(GroupRow {
        group_id: group_id.to_string(),
        conv_id: r.try_get(0)?,
        group_type,
        name: r.try_get(2)?,
        owner: r.try_get(3)?,
        create_time: r.try_get(4)?,
        dismissed: r.try_get(5)?,
    }))
}

/// A user's membership of a group.
#[derive(Debug, Clone, Copy)]
pub struct Membership {
    pub role: u32,
    pub join_seq: u64,
    pub join_time: i64,
}

/// `user`'s membership of `group_id`, if any.
pub fn membership(db: &mut Conn, group_id: &str, user: &str) -> PgResult<Option<Membership>> {
    let Some(r) = db.query_opt(
        "SELECT role, join_seq, join_time FROM group_members WHERE group_id = $1 AND user_id = $2",
        &[&group_id, &user],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(Membership {
        role: r.try_get::<_, i32>(0)?.max(0) as u32,
        join_seq: u(r.try_get(1)?),
        join_time: r.try_get(2)?,
    }))
}

fn member_count(db: &mut Conn, group_id: &str) -> PgResult<u32> {
    let n: i64 = db
        .query_one(
            "SELECT COUNT(*) FROM group_members WHERE group_id = $1",
            &[&group_id],
        )?
        .try_get(0)?;
    Ok(n.clamp(0, u32::MAX as i64) as u32)
}

/// A live group, with `user`'s view of it; errors 10010 (no such group) or, with
/// `need_member`, 10007 (not a member).
pub fn live_group(
    db: &mut Conn,
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

pub fn group_info(db: &mut Conn, g: &GroupRow, me: Option<Membership>) -> PgResult<GroupInfo> {
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
pub fn joined_groups(db: &mut Conn, user: &str) -> Result<Vec<GroupInfo>, OpError> {
    let ids: Vec<String> = db
        .query(
            "SELECT gm.group_id FROM group_members gm JOIN groups g ON g.group_id = gm.group_id \
             WHERE gm.user_id = $1 AND g.dismissed = FALSE AND g.type <> 'AVChatRoom' \
             ORDER BY gm.join_time, gm.group_id COLLATE \"C\"",
            &[&user],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<PgResult<_>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let (g, me) = live_group(db, &id, user, true)?;
        out.push(group_info(db, &g, me)?);
    }
    Ok(out)
}

/// One page of a group's members; `next_seq` is an offset ("0" = start, "0" back = done).
pub fn group_members(
    db: &mut Conn,
    group_id: &str,
    filter: u32,
    offset: u64,
    count: u32,
) -> PgResult<(Vec<GroupMemberFullInfo>, Option<u64>)> {
    // An offset past i64 (past any group) is the end, not the first page again.
    let Ok(sql_offset) = i64::try_from(offset) else {
        return Ok((Vec::new(), None));
    };
    let role_clause = match filter {
        crate::model::member_filter::OWNER => " AND role = 400",
        crate::model::member_filter::ADMIN => " AND role = 300",
        crate::model::member_filter::COMMON => " AND role = 200",
        _ => "",
    };
    let sql = format!(
        "SELECT user_id, role, join_time, mute_until FROM group_members \
         WHERE group_id = $1{role_clause} \
         ORDER BY role DESC, join_time, user_id COLLATE \"C\" LIMIT $2 OFFSET $3"
    );
    let mut list = Vec::new();
    for r in db.query(&sql, &[&group_id, &(i64::from(count) + 1), &sql_offset])? {
        list.push(GroupMemberFullInfo {
            user_id: r.try_get(0)?,
            nick_name: String::new(),
            name_card: String::new(),
            role: r.try_get::<_, i32>(1)?.max(0) as u32,
            join_time: r.try_get(2)?,
            mute_until: r.try_get(3)?,
            is_online: false,
        });
    }
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
    db: &mut Conn,
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
fn seq_of_msg_id(db: &mut Conn, conv_id: i64, msg_id: &str) -> Result<u64, OpError> {
    let not_found =
        || OpError::invalid(format!("lastMsgID {msg_id:?} is not in this conversation"));
    let pos: i64 = msg_id
        .split('-')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(not_found)?;
    let found = db.query_opt(
        "SELECT conv_id, seq, msg_id FROM messages WHERE pos = $1",
        &[&pos],
    )?;
    match found {
        Some(r) => {
            let (c, seq, id): (i64, i64, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            if c == conv_id && id == msg_id {
                Ok(u(seq))
            } else {
                Err(not_found())
            }
        }
        None => Err(not_found()),
    }
}

/// `getHistoryMessageList` (reference §3.9): older pages newest→oldest, newer pages
/// oldest→newest; `lastMsgID` exclusive, `lastMsgSeq` inclusive (lastMsgID wins).
pub fn history(db: &mut Conn, user: &str, p: &GetHistoryParams) -> Result<Data, OpError> {
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
    let (start, inclusive) = match (&p.last_msg_id, p.last_msg_seq) {
        (Some(id), _) if !id.is_empty() => (Some(seq_of_msg_id(db, conv_id, id)?), false),
        (_, Some(seq)) if seq > 0 => (Some(seq), true),
        _ => (None, true),
    };
    let sql = if older {
        format!(
            "SELECT body FROM messages WHERE conv_id = $1 AND seq >= $2 AND seq <= $4 \
             AND {VISIBLE_TO_3} ORDER BY seq DESC LIMIT $5"
        )
    } else {
        format!(
            "SELECT body FROM messages WHERE conv_id = $1 AND seq >= $2 AND seq >= $4 \
             AND {VISIBLE_TO_3} ORDER BY seq ASC LIMIT $5"
        )
    };
    let bound: i64 = match (start, older, inclusive) {
        (None, true, _) => i64::MAX,
        (None, false, _) => 0,
        (Some(s), true, true) => big(s),
        (Some(s), true, false) => big(s) - 1,
        (Some(s), false, true) => big(s),
        (Some(s), false, false) => big(s).saturating_add(1),
    };
    let rows = db.query(
        &sql,
        &[
            &conv_id,
            &big(lower),
            &user,
            &bound,
            &(i64::from(count) + 1),
        ],
    )?;
    let bodies = rows
        .iter()
        .map(|r| r.try_get::<_, &str>(0))
        .collect::<PgResult<Vec<_>>>()?;
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
/// (and about [`SYNC_PAGE_BYTES`]) — read from the user's stream as the SQLite engine
/// does, in one REPEATABLE READ snapshot.
pub fn sync(db: &mut Conn, user: &str, cursor: u64, count: u32) -> Result<Data, OpError> {
    db.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    let result = sync_in_snapshot(db, user, cursor, count);
    // COMMIT also ends a transaction an error aborted.
    let ended = db.batch("COMMIT");
    let data = result?;
    ended?;
    Ok(data)
}

fn sync_in_snapshot(db: &mut Conn, user: &str, cursor: u64, count: u32) -> Result<Data, OpError> {
    let count = page_size(count) as usize;
    let cursor_sql = big(cursor);
    let newest: i64 = db
        .query_one("SELECT COALESCE(MAX(pos), 0)::BIGINT FROM messages", &[])?
        .try_get(0)?;
    // conv_id → the first seq the user may see there (None: not at all).
    let mut lower: std::collections::HashMap<i64, Option<u64>> = Default::default();
    let mut found: Vec<String> = Vec::new();
    let mut bytes = 0;
    let mut scanned = cursor_sql;
    let finished = 'page: loop {
        let want = count - found.len() + 1;
        let rows = db.query(
            "SELECT s.pos, m.conv_id, m.seq, m.body FROM user_stream s \
             JOIN messages m ON m.pos = s.pos \
             WHERE s.user_id = $1 AND s.pos > $2 ORDER BY s.pos LIMIT $3",
            &[&user, &scanned, &(want as i64)],
        )?;
        let n = rows.len();
        for r in rows {
            let (pos, conv_id, seq): (i64, i64, i64) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let from = match lower.get(&conv_id) {
                Some(from) => *from,
                None => {
                    let from = conv_row_by_id(db, user, conv_id)?
                        .filter(|row| !row.stores_nothing())
                        .map(|row| row.lower());
                    lower.insert(conv_id, from);
                    from
                }
            };
            if from.is_some_and(|from| u(seq) >= from) {
                let body: &str = r.try_get(3)?;
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
    let new_cursor = if finished {
        cursor.max(u(newest))
    } else {
        u(scanned)
    };
    Ok(Data(format!(
        r#"{{"messageList":[{}],"cursor":{new_cursor},"isFinished":{finished}}}"#,
        found.join(",")
    )))
}
