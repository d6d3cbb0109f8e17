//! The SDK's local cache: one SQLite file per user, `<data_dir>/<userID>/cache.db` (WAL).
//!
//! It holds every message this device knows (including created-but-unsent ones and their
//! `localCustomData`, which never leaves the device), the conversation list (server fields
//! plus the local-only draft) and the sync cursor. The rules that turn an incoming message
//! into conversation state (unread, last message, order) live here too, so they are pure
//! and unit-testable.
//!
//! Ordering. Stored messages sort by their per-conversation `seq`. A message being sent (or
//! failed) has no seq yet; it is placed right after the newest stored message of its
//! conversation at the time it was sent (`order_seq` = that seq, `order_sub` = send time in
//! ms), so it shows where the user sent it. Stored messages have `order_seq = seq`,
//! `order_sub = 0`, which makes `(conversation_id, order_seq, order_sub)` the
//! `(conversation, seq)` index. Created messages that were never sent have no conversation
//! (`conversation_id = ''`) and never appear in history.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::error::TimError;
use crate::model::{
    Conversation, ConversationId, ConversationTarget, Message, MessageStatus, conversation_type,
};
use crate::protocol::NewMessagePush;

type Result<T> = std::result::Result<T, TimError>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    row_id          INTEGER PRIMARY KEY,
    local_id        TEXT NOT NULL DEFAULT '',
    msg_id          TEXT NOT NULL DEFAULT '',
    conversation_id TEXT NOT NULL DEFAULT '',
    is_self         INTEGER NOT NULL,
    seq             INTEGER NOT NULL DEFAULT 0,
    order_seq       INTEGER NOT NULL DEFAULT 0,
    order_sub       INTEGER NOT NULL DEFAULT 0,
    status          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    body            TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_msg_id ON messages(msg_id) WHERE msg_id != '';
CREATE INDEX IF NOT EXISTS messages_local_id ON messages(local_id) WHERE is_self = 1;
CREATE INDEX IF NOT EXISTS messages_conv_seq ON messages(conversation_id, order_seq, order_sub);
CREATE TABLE IF NOT EXISTS conversations (
    conversation_id TEXT PRIMARY KEY,
    is_pinned       INTEGER NOT NULL DEFAULT 0,
    orderkey        INTEGER NOT NULL DEFAULT 0,
    unread_count    INTEGER NOT NULL DEFAULT 0,
    server_seq      INTEGER NOT NULL DEFAULT 0,
    draft_text      TEXT,
    draft_timestamp INTEGER,
    body            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_order
    ON conversations(is_pinned DESC, orderkey DESC, conversation_id);
";

/// Created messages that were never sent are forgotten after this long.
const CREATED_TTL_SECS: i64 = 7 * 24 * 3600;

const CURSOR_KEY: &str = "sync_cursor";

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Which way a history page runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Newest → oldest.
    Older,
    /// Oldest → newest.
    Newer,
}

/// An exclusive position in a conversation's order: `(order_seq, order_sub)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OrderKey {
    pub seq: i64,
    pub sub: i64,
}

impl OrderKey {
    pub const NEWEST: OrderKey = OrderKey {
        seq: i64::MAX,
        sub: i64::MAX,
    };
    pub const OLDEST: OrderKey = OrderKey {
        seq: i64::MIN,
        sub: i64::MIN,
    };
}

/// Where a stored or local message sits, looked up by msgID or creation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub key: OrderKey,
    /// Server seq (0 while unsent).
    pub seq: u64,
}

/// A conversation that was created or changed, for the event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConvChange {
    pub conversation: Conversation,
    pub is_new: bool,
}

/// What applying one incoming message did.
#[derive(Debug, Clone)]
pub(crate) struct IncomingOutcome {
    pub message: Message,
    /// False when the message was already known (a duplicate from sync or another path).
    pub inserted: bool,
    pub conversation: Option<ConvChange>,
    /// The new total unread count, when it changed.
    pub total_unread: Option<u64>,
}

/// What storing the server's answer to our own send did.
#[derive(Debug, Clone)]
pub(crate) struct AckOutcome {
    pub message: Message,
    pub conversation: Option<ConvChange>,
}

/// What merging server conversations did.
#[derive(Debug, Clone, Default)]
pub(crate) struct MergeOutcome {
    pub changes: Vec<ConvChange>,
    pub deleted: Vec<String>,
    pub total_unread: Option<u64>,
}

pub(crate) struct Cache {
    conn: Mutex<Connection>,
    me: String,
}

/// Fill in what the SDK adds to every message it keeps: `isSelf`, `userID` (the peer).
pub(crate) fn normalize(me: &str, msg: &mut Message) {
    msg.is_self = msg.sender == me;
    if msg.group_id.as_deref().is_some_and(|g| !g.is_empty()) {
        msg.user_id = None;
    } else {
        let peer = if msg.is_self {
            msg.receiver.clone().unwrap_or_default()
        } else {
            msg.sender.clone()
        };
        msg.user_id = Some(peer);
    }
}

/// A conversation id for a message as seen by `me`.
pub(crate) fn conversation_of(me: &str, msg: &Message) -> String {
    msg.conversation_id(me)
}

/// A fresh conversation for an id nobody told us about yet.
pub(crate) fn stub_conversation(conversation_id: &str) -> Conversation {
    let mut conv = Conversation {
        conversation_id: conversation_id.to_string(),
        ..Default::default()
    };
    match ConversationId::parse(conversation_id) {
        Some(ConversationTarget::C2c(user)) => {
            conv.conv_type = conversation_type::C2C;
            conv.show_name = user.clone();
            conv.user_id = Some(user);
        }
        Some(ConversationTarget::Group(group)) => {
            conv.conv_type = conversation_type::GROUP;
            conv.show_name = group.clone();
            conv.group_id = Some(group);
        }
        None => {}
    }
    conv
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(TimError::database)
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(TimError::database)
}

fn is_stored(msg: &Message) -> bool {
    msg.seq > 0 && !msg.is_online_only
}

impl Cache {
    /// Open (creating if needed) the cache file and its directory.
    pub fn open(path: &Path, me: &str) -> Result<Cache> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(TimError::database)?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        // A message left "sending" by a previous run was never acknowledged to us: it is
        // failed now (a resend with the same id is idempotent on the server).
        conn.execute(
            "UPDATE messages SET status = ?1,
                 body = json_set(body, '$.status', ?1)
             WHERE status = ?2 AND conversation_id != ''",
            params![MessageStatus::SendFail as u8, MessageStatus::Sending as u8],
        )?;
        conn.execute(
            "DELETE FROM messages WHERE conversation_id = '' AND created_at < ?1",
            params![now_secs() - CREATED_TTL_SECS],
        )?;
        Ok(Cache {
            conn: Mutex::new(conn),
            me: me.to_string(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ------------------------------------------------------------ meta

    pub fn cursor(&self) -> Result<u64> {
        let conn = self.lock();
        get_cursor(&conn)
    }

    pub fn set_cursor(&self, cursor: u64) -> Result<()> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![CURSOR_KEY, cursor.to_string()],
        )?;
        Ok(())
    }

    // ------------------------------------------------------------ messages

    /// Keep a freshly created (not yet sent) message.
    pub fn insert_created(&self, msg: &Message) -> Result<()> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO messages(local_id, msg_id, conversation_id, is_self, seq, order_seq,
                 order_sub, status, created_at, body)
             VALUES (?1, '', '', 1, 0, 0, 0, ?2, ?3, ?4)",
            params![msg.id, msg.status as u8, now_secs(), to_json(msg)?],
        )?;
        Ok(())
    }

    /// One of my messages by its creation id.
    pub fn find_own(&self, local_id: &str) -> Result<Option<Message>> {
        let conn = self.lock();
        find_own_row(&conn, local_id).map(|r| r.map(|(_, m)| m))
    }

    #[cfg(test)]
    pub fn find_by_msg_id(&self, msg_id: &str) -> Result<Option<Message>> {
        let conn = self.lock();
        let body: Option<String> = conn
            .query_row(
                "SELECT body FROM messages WHERE msg_id = ?1 AND msg_id != ''",
                [msg_id],
                |r| r.get(0),
            )
            .optional()?;
        body.as_deref().map(from_json).transpose()
    }

    /// Where a message (by msgID, or by my creation id) sits in `conversation_id`.
    pub fn position(&self, conversation_id: &str, msg_id: &str) -> Result<Option<Position>> {
        let conn = self.lock();
        let row = conn
            .query_row(
                "SELECT order_seq, order_sub, seq FROM messages
                 WHERE conversation_id = ?1 AND (msg_id = ?2 OR (is_self = 1 AND local_id = ?2))
                 ORDER BY msg_id = ?2 DESC LIMIT 1",
                params![conversation_id, msg_id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.map(|(seq, sub, s)| Position {
            key: OrderKey { seq, sub },
            seq: s.max(0) as u64,
        }))
    }

    /// Highest stored seq of a conversation (0 if none).
    #[cfg(test)]
    pub fn max_seq(&self, conversation_id: &str) -> Result<u64> {
        let conn = self.lock();
        max_seq(&conn, conversation_id)
    }

    /// Put one of my messages into its conversation as *sending*: it gets its place in the
    /// order now and keeps it until the server assigns a seq.
    pub fn mark_sending(&self, msg: &Message) -> Result<Message> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut msg = msg.clone();
        normalize(&self.me, &mut msg);
        msg.status = MessageStatus::Sending;
        let conv = conversation_of(&self.me, &msg);
        let anchor = max_seq(&tx, &conv)? as i64;
        let updated = tx.execute(
            "UPDATE messages SET conversation_id = ?2, status = ?3, order_seq = ?4,
                 order_sub = ?5, body = ?6
             WHERE is_self = 1 AND local_id = ?1",
            params![
                msg.id,
                conv,
                msg.status as u8,
                anchor,
                now_ms(),
                to_json(&msg)?
            ],
        )?;
        if updated == 0 {
            tx.execute(
                "INSERT INTO messages(local_id, msg_id, conversation_id, is_self, seq, order_seq,
                     order_sub, status, created_at, body)
                 VALUES (?1, '', ?2, 1, 0, ?3, ?4, ?5, ?6, ?7)",
                params![
                    msg.id,
                    conv,
                    anchor,
                    now_ms(),
                    msg.status as u8,
                    now_secs(),
                    to_json(&msg)?
                ],
            )?;
        }
        tx.commit()?;
        Ok(msg)
    }

    /// Record that a send of one of my messages failed.
    pub fn mark_failed(&self, local_id: &str) -> Result<Option<Message>> {
        let conn = self.lock();
        let Some((row_id, mut msg)) = find_own_row(&conn, local_id)? else {
            return Ok(None);
        };
        msg.status = MessageStatus::SendFail;
        conn.execute(
            "UPDATE messages SET status = ?2, body = ?3 WHERE row_id = ?1",
            params![row_id, msg.status as u8, to_json(&msg)?],
        )?;
        Ok(Some(msg))
    }

    /// Store the server's copy of a message I sent from this device, and let it activate its
    /// conversation. `server_msg` is what the `sendMessage` ack carried.
    pub fn complete_send(
        &self,
        local_id: &str,
        server_msg: Message,
        cursor: Option<u64>,
    ) -> Result<AckOutcome> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let local = find_own_row(&tx, local_id)?;
        let mut msg = server_msg;
        normalize(&self.me, &mut msg);
        msg.status = MessageStatus::SendSucc;
        if msg.id.is_empty() {
            msg.id = local_id.to_string();
        }
        if let Some((_, l)) = &local {
            msg.local_custom_data = l.local_custom_data.clone();
        }
        if !is_stored(&msg) {
            // Online-only: delivered, never stored (not even here).
            tx.execute(
                "DELETE FROM messages WHERE is_self = 1 AND local_id = ?1",
                [local_id],
            )?;
            tx.commit()?;
            return Ok(AckOutcome {
                message: msg,
                conversation: None,
            });
        }
        let (msg, inserted) = upsert_remote(&tx, msg)?;
        let conversation = if inserted || local.is_some() {
            activate_conversation(&tx, &msg, cursor, false)?
        } else {
            None
        };
        tx.commit()?;
        Ok(AckOutcome {
            message: msg,
            conversation,
        })
    }

    /// Store messages from `sync` or a history page (deduplicated by msgID / my creation id)
    /// and optionally move the sync cursor, in one transaction. Conversation state is not
    /// touched: the server's conversation list is authoritative for what sync brings.
    /// Returns each message as stored, with whether it was new to this device.
    pub fn store_remote(
        &self,
        messages: Vec<Message>,
        cursor: Option<u64>,
    ) -> Result<Vec<(Message, bool)>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut out = Vec::with_capacity(messages.len());
        for mut msg in messages {
            normalize(&self.me, &mut msg);
            if !is_stored(&msg) {
                continue;
            }
            msg.status = MessageStatus::SendSucc;
            out.push(upsert_remote(&tx, msg)?);
        }
        if let Some(c) = cursor {
            write_cursor(&tx, c)?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// Apply one `newMessage` push: store it (unless online-only), update its conversation
    /// (unread, last message, order) and, when `advance_cursor`, the sync cursor.
    pub fn apply_incoming(
        &self,
        push: NewMessagePush,
        advance_cursor: bool,
    ) -> Result<IncomingOutcome> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut msg = push.message;
        normalize(&self.me, &mut msg);
        if !is_stored(&msg) || push.cursor.is_none() {
            msg.status = MessageStatus::SendSucc;
            return Ok(IncomingOutcome {
                message: msg,
                inserted: true,
                conversation: None,
                total_unread: None,
            });
        }
        msg.status = MessageStatus::SendSucc;
        let before = total_unread(&tx)?;
        let (msg, inserted) = upsert_remote(&tx, msg)?;
        let conversation = if inserted {
            let counted = push.unread_counted && !msg.is_self;
            activate_conversation(&tx, &msg, push.cursor, counted)?
        } else {
            None
        };
        if advance_cursor && let Some(c) = push.cursor {
            let current = get_cursor(&tx)?;
            if c > current {
                write_cursor(&tx, c)?;
            }
        }
        let after = total_unread(&tx)?;
        tx.commit()?;
        Ok(IncomingOutcome {
            message: msg,
            inserted,
            conversation,
            total_unread: (before != after).then_some(after),
        })
    }

    /// Up to `count` messages of a conversation strictly beyond `from` in `dir`.
    pub fn page(
        &self,
        conversation_id: &str,
        dir: Direction,
        from: OrderKey,
        count: u32,
    ) -> Result<Vec<Message>> {
        let conn = self.lock();
        let sql = match dir {
            Direction::Older => {
                "SELECT body FROM messages
                 WHERE conversation_id = ?1 AND (order_seq, order_sub) < (?2, ?3)
                 ORDER BY order_seq DESC, order_sub DESC LIMIT ?4"
            }
            Direction::Newer => {
                "SELECT body FROM messages
                 WHERE conversation_id = ?1 AND (order_seq, order_sub) > (?2, ?3)
                 ORDER BY order_seq ASC, order_sub ASC LIMIT ?4"
            }
        };
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![conversation_id, from.seq, from.sub, count], |r| {
            r.get::<_, String>(0)
        })?;
        let mut out = Vec::new();
        for body in rows {
            out.push(from_json(&body?)?);
        }
        Ok(out)
    }

    /// Messages of a conversation between two keys (exclusive `from`, inclusive `to`),
    /// in `dir` order: what a server page covers, plus any local unsent messages inside.
    pub fn range(
        &self,
        conversation_id: &str,
        dir: Direction,
        from: OrderKey,
        to: OrderKey,
    ) -> Result<Vec<Message>> {
        let conn = self.lock();
        let sql = match dir {
            Direction::Older => {
                "SELECT body FROM messages
                 WHERE conversation_id = ?1 AND (order_seq, order_sub) < (?2, ?3)
                   AND (order_seq, order_sub) >= (?4, ?5)
                 ORDER BY order_seq DESC, order_sub DESC"
            }
            Direction::Newer => {
                "SELECT body FROM messages
                 WHERE conversation_id = ?1 AND (order_seq, order_sub) > (?2, ?3)
                   AND (order_seq, order_sub) <= (?4, ?5)
                 ORDER BY order_seq ASC, order_sub ASC"
            }
        };
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(
            params![conversation_id, from.seq, from.sub, to.seq, to.sub],
            |r| r.get::<_, String>(0),
        )?;
        let mut out = Vec::new();
        for body in rows {
            out.push(from_json(&body?)?);
        }
        Ok(out)
    }

    // ------------------------------------------------------------ conversations

    pub fn conversation(&self, conversation_id: &str) -> Result<Option<Conversation>> {
        let conn = self.lock();
        Ok(load_conversation(&conn, conversation_id)?.map(|(c, _)| c))
    }

    /// One page of the conversation list, pinned first, then by `orderkey` descending.
    pub fn conversations(&self, offset: u64, count: u32) -> Result<Vec<Conversation>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT body, draft_text, draft_timestamp FROM conversations
             ORDER BY is_pinned DESC, orderkey DESC, conversation_id ASC
             LIMIT ?1 OFFSET ?2",
        )?;
        let rows = stmt.query_map(params![count, offset as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (body, draft, draft_ts) = row?;
            let mut conv: Conversation = from_json(&body)?;
            conv.draft_text = draft;
            conv.draft_timestamp = draft_ts;
            out.push(conv);
        }
        Ok(out)
    }

    pub fn total_unread(&self) -> Result<u64> {
        let conn = self.lock();
        total_unread(&conn)
    }

    /// Take conversations as the server reports them (list refresh, `conversationChanged`
    /// push, answers to our own changes). Local drafts stay; the last message keeps its
    /// local fields when this device has it. With `complete`, the list is everything the
    /// server has: local conversations missing from it are dropped, unless they hold a
    /// draft or a message that is still being sent or failed.
    pub fn merge_server_conversations(
        &self,
        list: Vec<Conversation>,
        complete: bool,
    ) -> Result<MergeOutcome> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let before = total_unread(&tx)?;
        let mut out = MergeOutcome::default();
        let mut seen = std::collections::HashSet::new();
        for conv in list {
            seen.insert(conv.conversation_id.clone());
            if let Some(change) = merge_one(&tx, &self.me, conv)? {
                out.changes.push(change);
            }
        }
        if complete {
            let mut stmt = tx.prepare(
                "SELECT c.conversation_id FROM conversations c
                 WHERE c.draft_text IS NULL AND NOT EXISTS (
                     SELECT 1 FROM messages m WHERE m.conversation_id = c.conversation_id
                       AND m.status IN (?1, ?2))",
            )?;
            let rows = stmt.query_map(
                params![MessageStatus::Sending as u8, MessageStatus::SendFail as u8],
                |r| r.get::<_, String>(0),
            )?;
            let mut stale = Vec::new();
            for id in rows {
                let id = id?;
                if !seen.contains(&id) {
                    stale.push(id);
                }
            }
            drop(stmt);
            for id in stale {
                tx.execute(
                    "DELETE FROM conversations WHERE conversation_id = ?1",
                    [&id],
                )?;
                out.deleted.push(id);
            }
        }
        let after = total_unread(&tx)?;
        tx.commit()?;
        out.total_unread = (before != after).then_some(after);
        Ok(out)
    }

    /// Take only the descriptive fields (name, group type) of a server conversation; the
    /// counters are kept, since pushes may already have moved them past the server's answer.
    pub fn merge_descriptive(&self, server: &Conversation) -> Result<Option<Conversation>> {
        let conn = self.lock();
        let Some((mut conv, _)) = load_conversation(&conn, &server.conversation_id)? else {
            return Ok(None);
        };
        let before = conv.clone();
        if !server.show_name.is_empty() {
            conv.show_name = server.show_name.clone();
        }
        if server.group_type.is_some() {
            conv.group_type = server.group_type.clone();
        }
        if conv == before {
            return Ok(None);
        }
        save_conversation(&conn, &conv, None)?;
        Ok(Some(conv))
    }

    /// Remove a conversation and its messages from this device. Returns whether it existed
    /// and the new total unread if that changed.
    pub fn delete_conversation(&self, conversation_id: &str) -> Result<(bool, Option<u64>)> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let before = total_unread(&tx)?;
        let n = tx.execute(
            "DELETE FROM conversations WHERE conversation_id = ?1",
            [conversation_id],
        )?;
        tx.execute(
            "DELETE FROM messages WHERE conversation_id = ?1",
            [conversation_id],
        )?;
        let after = total_unread(&tx)?;
        tx.commit()?;
        Ok((n > 0, (before != after).then_some(after)))
    }

    /// Record a conversation's new custom data. `None`: the conversation is not cached;
    /// `Some(None)`: it already had that value; `Some(Some(conv))`: changed.
    pub fn set_custom_data(
        &self,
        conversation_id: &str,
        custom_data: &str,
    ) -> Result<Option<Option<Conversation>>> {
        let conn = self.lock();
        let Some((mut conv, _)) = load_conversation(&conn, conversation_id)? else {
            return Ok(None);
        };
        if conv.custom_data == custom_data {
            return Ok(Some(None));
        }
        conv.custom_data = custom_data.to_string();
        save_conversation(&conn, &conv, None)?;
        Ok(Some(Some(conv)))
    }

    /// Set or clear (None / "") the local draft. A conversation that does not exist yet is
    /// created locally to hold it.
    pub fn set_draft(&self, conversation_id: &str, text: Option<&str>) -> Result<ConvChange> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let (conv, is_new) = match load_conversation(&tx, conversation_id)? {
            Some((c, _)) => (c, false),
            None => (stub_conversation(conversation_id), true),
        };
        let text = text.filter(|t| !t.is_empty());
        let mut conv = conv;
        conv.draft_text = text.map(str::to_string);
        conv.draft_timestamp = text.map(|_| now_secs());
        save_conversation(&tx, &conv, None)?;
        tx.execute(
            "UPDATE conversations SET draft_text = ?2, draft_timestamp = ?3
             WHERE conversation_id = ?1",
            params![conversation_id, conv.draft_text, conv.draft_timestamp],
        )?;
        tx.commit()?;
        Ok(ConvChange {
            conversation: conv,
            is_new,
        })
    }
}

// ---------------------------------------------------------------- row helpers

fn get_cursor(conn: &Connection) -> Result<u64> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [CURSOR_KEY], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.and_then(|s| s.parse().ok()).unwrap_or(0))
}

fn write_cursor(conn: &Connection, cursor: u64) -> Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![CURSOR_KEY, cursor.to_string()],
    )?;
    Ok(())
}

fn max_seq(conn: &Connection, conversation_id: &str) -> Result<u64> {
    let v: Option<i64> = conn.query_row(
        "SELECT MAX(seq) FROM messages WHERE conversation_id = ?1",
        [conversation_id],
        |r| r.get(0),
    )?;
    Ok(v.unwrap_or(0).max(0) as u64)
}

fn total_unread(conn: &Connection) -> Result<u64> {
    let v: i64 = conn.query_row(
        "SELECT COALESCE(SUM(unread_count), 0) FROM conversations",
        [],
        |r| r.get(0),
    )?;
    Ok(v.max(0) as u64)
}

fn find_own_row(conn: &Connection, local_id: &str) -> Result<Option<(i64, Message)>> {
    if local_id.is_empty() {
        return Ok(None);
    }
    let row = conn
        .query_row(
            "SELECT row_id, body FROM messages WHERE is_self = 1 AND local_id = ?1
             ORDER BY row_id LIMIT 1",
            [local_id],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?;
    match row {
        Some((id, body)) => Ok(Some((id, from_json(&body)?))),
        None => Ok(None),
    }
}

/// Insert or update a stored (server-known) message. Matches an existing row by msgID, or
/// one of my own rows by creation id (a send whose ack we missed). Local fields survive.
fn upsert_remote(tx: &Transaction<'_>, mut msg: Message) -> Result<(Message, bool)> {
    let existing = tx
        .query_row(
            "SELECT row_id, body FROM messages WHERE msg_id = ?1 AND msg_id != ''",
            [&msg.msg_id],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?;
    let existing = match existing {
        Some((id, body)) => Some((id, from_json::<Message>(&body)?)),
        None if msg.is_self => find_own_row(tx, &msg.id)?,
        None => None,
    };
    let conversation_id = conversation_id_for(&msg);
    let seq = msg.seq as i64;
    match existing {
        Some((row_id, old)) => {
            if msg.local_custom_data.is_none() {
                msg.local_custom_data = old.local_custom_data;
            }
            if msg.id.is_empty() {
                msg.id = old.id;
            }
            tx.execute(
                "UPDATE messages SET local_id = ?2, msg_id = ?3, conversation_id = ?4,
                     is_self = ?5, seq = ?6, order_seq = ?6, order_sub = 0, status = ?7,
                     body = ?8
                 WHERE row_id = ?1",
                params![
                    row_id,
                    msg.id,
                    msg.msg_id,
                    conversation_id,
                    msg.is_self,
                    seq,
                    msg.status as u8,
                    to_json(&msg)?
                ],
            )?;
            Ok((msg, false))
        }
        None => {
            tx.execute(
                "INSERT INTO messages(local_id, msg_id, conversation_id, is_self, seq, order_seq,
                     order_sub, status, created_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, ?6, ?7, ?8)",
                params![
                    msg.id,
                    msg.msg_id,
                    conversation_id,
                    msg.is_self,
                    seq,
                    msg.status as u8,
                    now_secs(),
                    to_json(&msg)?
                ],
            )?;
            Ok((msg, true))
        }
    }
}

/// The conversation of a normalized message (`userID` is the peer for C2C).
fn conversation_id_for(msg: &Message) -> String {
    match msg.group_id.as_deref() {
        Some(g) if !g.is_empty() => ConversationId::group(g).0,
        _ => ConversationId::c2c(msg.user_id.as_deref().unwrap_or_default()).0,
    }
}

fn load_conversation(
    conn: &Connection,
    conversation_id: &str,
) -> Result<Option<(Conversation, u64)>> {
    let row = conn
        .query_row(
            "SELECT body, draft_text, draft_timestamp, server_seq FROM conversations
             WHERE conversation_id = ?1",
            [conversation_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )
        .optional()?;
    match row {
        Some((body, draft, draft_ts, server_seq)) => {
            let mut conv: Conversation = from_json(&body)?;
            conv.draft_text = draft;
            conv.draft_timestamp = draft_ts;
            Ok(Some((conv, server_seq.max(0) as u64)))
        }
        None => Ok(None),
    }
}

/// Write a conversation's server-side fields (the draft columns are left alone, except on
/// insert). `server_seq`: the newest seq a server snapshot of it reflected, when this write
/// comes from the server.
fn save_conversation(
    conn: &Connection,
    conv: &Conversation,
    server_seq: Option<u64>,
) -> Result<()> {
    let mut body = conv.clone();
    body.draft_text = None;
    body.draft_timestamp = None;
    conn.execute(
        "INSERT INTO conversations(conversation_id, is_pinned, orderkey, unread_count, server_seq,
             draft_text, draft_timestamp, body)
         VALUES (?1, ?2, ?3, ?4, COALESCE(?5, 0), ?6, ?7, ?8)
         ON CONFLICT(conversation_id) DO UPDATE SET
             is_pinned = excluded.is_pinned, orderkey = excluded.orderkey,
             unread_count = excluded.unread_count,
             server_seq = MAX(conversations.server_seq, COALESCE(?5, 0)),
             body = excluded.body",
        params![
            conv.conversation_id,
            conv.is_pinned,
            conv.orderkey as i64,
            conv.unread_count as i64,
            server_seq.map(|s| s as i64),
            conv.draft_text,
            conv.draft_timestamp,
            to_json(&body)?
        ],
    )?;
    Ok(())
}

/// The V2TIM orderkey a stored message gives its conversation: its sync position, which is
/// server-global and increases with every stored message, so it orders conversations by
/// their latest activity exactly as the server's list does.
pub(crate) fn orderkey_for(cursor: Option<u64>, msg: &Message) -> u64 {
    cursor.unwrap_or(msg.timestamp.max(0) as u64)
}

/// Let a newly stored message activate its conversation: create it if needed, count it as
/// unread when `counted` (and the server's last snapshot did not already count it), make it
/// the last message unless excluded, and move the conversation up.
fn activate_conversation(
    tx: &Transaction<'_>,
    msg: &Message,
    cursor: Option<u64>,
    counted: bool,
) -> Result<Option<ConvChange>> {
    let conversation_id = conversation_id_for(msg);
    let (mut conv, server_seq, is_new) = match load_conversation(tx, &conversation_id)? {
        Some((c, s)) => (c, s, false),
        None => (stub_conversation(&conversation_id), 0, true),
    };
    let before = conv.clone();
    let reflected = msg.seq <= server_seq;
    if counted && !reflected {
        conv.unread_count += 1;
    }
    if !msg.is_excluded_from_last_message {
        let newer = conv
            .last_message
            .as_ref()
            .is_none_or(|last| msg.seq >= last.seq);
        if newer {
            conv.last_message = Some(Box::new(msg.clone()));
            if !reflected {
                conv.orderkey = conv.orderkey.max(orderkey_for(cursor, msg));
            }
        }
    }
    if !is_new && conv == before {
        return Ok(None);
    }
    save_conversation(tx, &conv, None)?;
    Ok(Some(ConvChange {
        conversation: conv,
        is_new,
    }))
}

/// Merge one server conversation into the cache; None when nothing visible changed.
fn merge_one(
    tx: &Transaction<'_>,
    me: &str,
    mut server: Conversation,
) -> Result<Option<ConvChange>> {
    let existing = load_conversation(tx, &server.conversation_id)?;
    if let Some(last) = server.last_message.as_mut() {
        normalize(me, last);
        last.status = MessageStatus::SendSucc;
        if let Some(body) = tx
            .query_row(
                "SELECT body FROM messages WHERE msg_id = ?1 AND msg_id != ''",
                [&last.msg_id],
                |r| r.get::<_, String>(0),
            )
            .optional()?
        {
            let local: Message = from_json(&body)?;
            last.local_custom_data = local.local_custom_data;
        }
    }
    let snapshot_seq = server.last_message.as_ref().map_or(0, |m| m.seq);
    let is_new = existing.is_none();
    if let Some((old, _)) = &existing {
        server.draft_text = old.draft_text.clone();
        server.draft_timestamp = old.draft_timestamp;
    }
    save_conversation(tx, &server, Some(snapshot_seq))?;
    match existing {
        Some((old, _)) if old == server => Ok(None),
        _ => Ok(Some(ConvChange {
            conversation: server,
            is_new,
        })),
    }
}
