//! The SDK's local cache: one SQLite file per (server, user),
//! `<data_dir>/<userID>/<SDKAppID>/cache.db` (WAL), shared by every process of that user.
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

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

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
    body            TEXT NOT NULL,
    -- The process that is sending this message (status 1): another process opening the
    -- cache must not declare a live process's send failed.
    sender_pid      INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_msg_id ON messages(msg_id) WHERE msg_id != '';
CREATE INDEX IF NOT EXISTS messages_local_id ON messages(local_id) WHERE is_self = 1;
CREATE INDEX IF NOT EXISTS messages_conv_seq ON messages(conversation_id, order_seq, order_sub);
-- Only messages still marked sending (status 1, MessageStatus::Sending): opening the
-- cache finds them without reading every message.
CREATE INDEX IF NOT EXISTS messages_sending ON messages(status) WHERE status = 1;
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
/// The SDKAppID of the server this cache mirrors.
const SERVER_KEY: &str = "sdk_app_id";

/// How long a write waits for another process of the same user to finish its own.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Every write transaction. IMMEDIATE takes the write lock up front: a DEFERRED one that
/// reads first and then writes gets SQLITE_BUSY at once (no busy wait) when another
/// process committed in between, which is how "database is locked" reached users.
fn write_tx(conn: &mut Connection) -> Result<Transaction<'_>> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

/// Is *another* process with this id running (on this machine)? This process's own
/// earlier sends count as gone: a cache is opened once per login, after the previous
/// session of this process ended.
fn other_process_alive(pid: i64) -> bool {
    if pid <= 0 || pid > i64::from(i32::MAX) || pid == i64::from(std::process::id()) {
        return false;
    }
    #[cfg(unix)]
    {
        // Signal 0 checks existence only. EPERM: it exists but is not ours to signal.
        // SAFETY: kill with signal 0 sends nothing.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// A message left *sending* by a process that is gone was never acknowledged to anyone:
/// it is failed now (a resend with the same id is idempotent on the server). Sends of
/// processes still running (another termim of this user) are theirs to finish.
fn fail_orphaned_sends(conn: &mut Connection) -> Result<()> {
    // `status = 1` is written out (not bound) so the partial index `messages_sending`
    // serves it: with a big cache a scan here would delay every start.
    const _: () = assert!(MessageStatus::Sending as u8 == 1);
    let tx = write_tx(conn)?;
    let pids: Vec<i64> = {
        let mut stmt = tx.prepare(
            "SELECT DISTINCT sender_pid FROM messages WHERE status = 1 AND conversation_id != ''",
        )?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?
    };
    for pid in pids.into_iter().filter(|p| !other_process_alive(*p)) {
        tx.prepare_cached(
            "UPDATE messages SET status = ?1, body = json_set(body, '$.status', ?1)
             WHERE status = 1 AND conversation_id != '' AND sender_pid = ?2",
        )?
        .execute(params![MessageStatus::SendFail as u8, pid])?;
    }
    tx.commit()?;
    Ok(())
}

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
    /// False when the message was already cached (another process of this user, sharing
    /// the file, stored it first; or a duplicate).
    pub inserted: bool,
    /// It was one of my own rows still marked sending / failed (its status then), now sent.
    pub reconciled: Option<MessageStatus>,
    /// The conversation this message changed; when the message was already cached, the
    /// conversation as cached now (another process applied it).
    pub conversation: Option<ConvChange>,
    /// The new total unread count: when it changed, or (already cached) as it is now.
    pub total_unread: Option<u64>,
}

/// One server message as the cache keeps it after an upsert.
#[derive(Debug, Clone)]
pub(crate) struct Upserted {
    pub message: Message,
    /// New to the cache file.
    pub inserted: bool,
    /// One of my own rows that was still sending or failed (its ack was missed), with that
    /// status: now sent.
    pub reconciled: Option<MessageStatus>,
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
    /// Open (creating if needed) the cache file and its directory. Several processes of
    /// one user may open the same file at once (a TUI, `termim listen`, scripted sends):
    /// every write is an IMMEDIATE transaction, so writers queue on SQLite's lock (up to
    /// the busy timeout) instead of failing with "database is locked".
    pub fn open(path: &Path, me: &str) -> Result<Cache> {
        // Several processes of one user may open the cache at once (two `termim listen`
        // on a new data dir). SQLite's busy handler does not cover every lock an opening
        // meets (the switch to WAL, WAL recovery, a read upgraded to a write while another
        // process sets up the schema): such a "database is locked" is retried as a whole,
        // within the same time a busy statement would wait.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match Self::open_once(path, me) {
                Err(e)
                    if e.code == crate::protocol::codes::ERR_DATABASE_OPERATE_FAILED
                        && (e.desc.contains("database is locked")
                            || e.desc.contains("database is busy"))
                        && std::time::Instant::now() < deadline =>
                {
                    let jitter = u64::from(rand::random::<u8>() % 64);
                    std::thread::sleep(std::time::Duration::from_millis(10 + jitter));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path, me: &str) -> Result<Cache> {
        crate::private_fs::prepare_sqlite(path).map_err(TimError::database)?;
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Every statement of the hot paths is prepared once (a message stored through
        // the search triggers compiles them too: re-preparing was a third of a sync).
        conn.set_prepared_statement_cache_capacity(64);
        // Keep plans when rebinding (else STAT4 re-prepares range queries on every bind).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        {
            let tx = write_tx(&mut conn)?;
            tx.execute_batch(SCHEMA)?;
            tx.commit()?;
        }
        migrate(&mut conn)?;
        fail_orphaned_sends(&mut conn)?;
        conn.prepare_cached("DELETE FROM messages WHERE conversation_id = '' AND created_at < ?1")?
            .execute(params![now_secs() - CREATED_TTL_SECS])?;
        Ok(Cache {
            conn: Mutex::new(conn),
            me: me.to_string(),
        })
    }

    /// Move an older termim's cache (one per user, before caches were kept per server) to
    /// `to`, if it is not marked as another server's. Returns whether it moved.
    pub fn adopt_legacy(from: &Path, to: &Path, sdk_app_id: u64) -> Result<bool> {
        // No CREATE: a file that another process moved away a moment ago stays gone.
        let mut conn =
            Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // A file too old or odd to say whose it is counts as nobody's.
        let owner = read_meta(&conn, SERVER_KEY).unwrap_or(None);
        if owner.is_some_and(|o| o != sdk_app_id.to_string()) {
            return Ok(false);
        }
        {
            let tx = write_tx(&mut conn)?;
            write_meta(&tx, SERVER_KEY, &sdk_app_id.to_string())?;
            tx.commit()?;
        }
        // Everything into the main file, so it moves alone.
        conn.prepare_cached("PRAGMA wal_checkpoint(TRUNCATE)")?
            .query_row([], |_| Ok(()))?;
        drop(conn);
        if let Some(dir) = to.parent() {
            crate::private_fs::create_dir_all(dir).map_err(TimError::database)?;
        }
        std::fs::rename(from, to).map_err(TimError::database)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = from.as_os_str().to_owned();
            side.push(suffix);
            let _ = std::fs::remove_file(std::path::PathBuf::from(side));
        }
        Ok(true)
    }

    /// Record which server (SDKAppID) this cache belongs to, if not recorded yet.
    pub fn mark_server(&self, sdk_app_id: u64) -> Result<()> {
        let mut conn = self.lock();
        if read_meta(&conn, SERVER_KEY)?.is_none() {
            let tx = write_tx(&mut conn)?;
            write_meta(&tx, SERVER_KEY, &sdk_app_id.to_string())?;
            tx.commit()?;
        }
        Ok(())
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
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
        write_cursor(&conn, cursor)
    }

    // ------------------------------------------------------------ messages

    /// Keep a freshly created (not yet sent) message.
    pub fn insert_created(&self, msg: &Message) -> Result<()> {
        let conn = self.lock();
        conn.prepare_cached(
            "INSERT INTO messages(local_id, msg_id, conversation_id, is_self, seq, order_seq,
                 order_sub, status, created_at, body)
             VALUES (?1, '', '', 1, 0, 0, 0, ?2, ?3, ?4)",
        )?
        .execute(params![msg.id, msg.status as u8, now_secs(), to_json(msg)?])?;
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
            .prepare_cached("SELECT body FROM messages WHERE msg_id = ?1 AND msg_id != ''")?
            .query_row([msg_id], |r| r.get(0))
            .optional()?;
        body.as_deref().map(from_json).transpose()
    }

    /// Where a message (by msgID, or by my creation id) sits in `conversation_id`.
    pub fn position(&self, conversation_id: &str, msg_id: &str) -> Result<Option<Position>> {
        let conn = self.lock();
        let row = conn
            .prepare_cached(
                "SELECT order_seq, order_sub, seq FROM messages
                 WHERE conversation_id = ?1 AND (msg_id = ?2 OR (is_self = 1 AND local_id = ?2))
                 ORDER BY msg_id = ?2 DESC LIMIT 1",
            )?
            .query_row(params![conversation_id, msg_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
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
        let tx = write_tx(&mut conn)?;
        let mut msg = msg.clone();
        normalize(&self.me, &mut msg);
        msg.status = MessageStatus::Sending;
        let conv = conversation_of(&self.me, &msg);
        let anchor = max_seq(&tx, &conv)? as i64;
        let updated = tx
            .prepare_cached(
                "UPDATE messages SET conversation_id = ?2, status = ?3, order_seq = ?4,
                 order_sub = ?5, body = ?6, sender_pid = ?7
             WHERE is_self = 1 AND local_id = ?1",
            )?
            .execute(params![
                msg.id,
                conv,
                msg.status as u8,
                anchor,
                now_ms(),
                to_json(&msg)?,
                std::process::id()
            ])?;
        if updated == 0 {
            tx.prepare_cached(
                "INSERT INTO messages(local_id, msg_id, conversation_id, is_self, seq, order_seq,
                     order_sub, status, created_at, body, sender_pid)
                 VALUES (?1, '', ?2, 1, 0, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                msg.id,
                conv,
                anchor,
                now_ms(),
                msg.status as u8,
                now_secs(),
                to_json(&msg)?,
                std::process::id()
            ])?;
        }
        tx.commit()?;
        Ok(msg)
    }

    /// Record that a send of one of my messages failed (unless the server's copy arrived
    /// meanwhile, through another process or a sync: then it stays sent).
    pub fn mark_failed(&self, local_id: &str) -> Result<Option<Message>> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let Some((row_id, mut msg)) = find_own_row(&tx, local_id)? else {
            return Ok(None);
        };
        if msg.status == MessageStatus::SendSucc {
            return Ok(Some(msg));
        }
        msg.status = MessageStatus::SendFail;
        tx.prepare_cached("UPDATE messages SET status = ?2, body = ?3 WHERE row_id = ?1")?
            .execute(params![row_id, msg.status as u8, to_json(&msg)?])?;
        tx.commit()?;
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
        let tx = write_tx(&mut conn)?;
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
            tx.prepare_cached("DELETE FROM messages WHERE is_self = 1 AND local_id = ?1")?
                .execute([local_id])?;
            tx.commit()?;
            return Ok(AckOutcome {
                message: msg,
                conversation: None,
            });
        }
        let Upserted {
            message: msg,
            inserted,
            ..
        } = upsert_remote(&tx, msg)?;
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
    /// and optionally move the sync cursor forward, in one transaction. Conversation state
    /// is not touched: the server's conversation list is authoritative for what sync
    /// brings. Returns each message as stored, with whether it was new to the cache.
    pub fn store_remote(
        &self,
        messages: Vec<Message>,
        cursor: Option<u64>,
    ) -> Result<Vec<Upserted>> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
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
            // Other processes sharing the file may be further along: never move it back.
            if c > get_cursor(&tx)? {
                write_cursor(&tx, c)?;
            }
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
        let mut msg = push.message;
        normalize(&self.me, &mut msg);
        msg.status = MessageStatus::SendSucc;
        if !is_stored(&msg) || push.cursor.is_none() {
            return Ok(IncomingOutcome {
                message: msg,
                inserted: true,
                reconciled: None,
                conversation: None,
                total_unread: None,
            });
        }
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let before = total_unread(&tx)?;
        let Upserted {
            message: msg,
            inserted,
            reconciled,
        } = upsert_remote(&tx, msg)?;
        let conversation = if inserted {
            let counted = push.unread_counted && !msg.is_self;
            activate_conversation(&tx, &msg, push.cursor, counted)?
        } else {
            load_conversation(&tx, &conversation_id_for(&msg))?.map(|(c, _)| ConvChange {
                conversation: c,
                is_new: false,
            })
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
            reconciled,
            conversation,
            total_unread: (before != after || !inserted).then_some(after),
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
    /// draft or a message that is still being sent or failed, or were activated after the
    /// list was taken (`orderkey` beyond `complete`'s cursor).
    pub fn merge_server_conversations(
        &self,
        list: Vec<Conversation>,
        complete: Option<u64>,
    ) -> Result<MergeOutcome> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let before = total_unread(&tx)?;
        let mut out = MergeOutcome::default();
        let mut seen = std::collections::HashSet::new();
        for conv in list {
            seen.insert(conv.conversation_id.clone());
            if let Some(change) = merge_one(&tx, &self.me, conv)? {
                out.changes.push(change);
            }
        }
        if let Some(cursor) = complete {
            let mut stmt = tx.prepare(
                "SELECT c.conversation_id FROM conversations c
                 WHERE c.draft_text IS NULL AND c.orderkey <= ?3 AND NOT EXISTS (
                     SELECT 1 FROM messages m WHERE m.conversation_id = c.conversation_id
                       AND m.status IN (?1, ?2))",
            )?;
            let rows = stmt.query_map(
                params![
                    MessageStatus::Sending as u8,
                    MessageStatus::SendFail as u8,
                    cursor.min(i64::MAX as u64) as i64
                ],
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
                // Gone on the server (deleted on another device, or a group I left): its
                // messages go too, as with a local delete.
                tx.prepare_cached("DELETE FROM conversations WHERE conversation_id = ?1")?
                    .execute([&id])?;
                tx.prepare_cached("DELETE FROM messages WHERE conversation_id = ?1")?
                    .execute([&id])?;
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
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let Some((mut conv, _)) = load_conversation(&tx, &server.conversation_id)? else {
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
        save_conversation(&tx, &conv, None)?;
        tx.commit()?;
        Ok(Some(conv))
    }

    /// Remove a conversation and its messages from this device. Returns whether it existed
    /// and the new total unread if that changed.
    pub fn delete_conversation(&self, conversation_id: &str) -> Result<(bool, Option<u64>)> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let before = total_unread(&tx)?;
        let n = tx
            .prepare_cached("DELETE FROM conversations WHERE conversation_id = ?1")?
            .execute([conversation_id])?;
        tx.prepare_cached("DELETE FROM messages WHERE conversation_id = ?1")?
            .execute([conversation_id])?;
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
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let Some((mut conv, _)) = load_conversation(&tx, conversation_id)? else {
            return Ok(None);
        };
        if conv.custom_data == custom_data {
            return Ok(Some(None));
        }
        conv.custom_data = custom_data.to_string();
        save_conversation(&tx, &conv, None)?;
        tx.commit()?;
        Ok(Some(Some(conv)))
    }

    /// Set or clear (None / "") the local draft. A conversation that does not exist yet is
    /// created locally to hold it.
    pub fn set_draft(&self, conversation_id: &str, text: Option<&str>) -> Result<ConvChange> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let (conv, is_new) = match load_conversation(&tx, conversation_id)? {
            Some((c, _)) => (c, false),
            None => (stub_conversation(conversation_id), true),
        };
        let text = text.filter(|t| !t.is_empty());
        let mut conv = conv;
        conv.draft_text = text.map(str::to_string);
        conv.draft_timestamp = text.map(|_| now_secs());
        save_conversation(&tx, &conv, None)?;
        tx.prepare_cached(
            "UPDATE conversations SET draft_text = ?2, draft_timestamp = ?3
             WHERE conversation_id = ?1",
        )?
        .execute(params![
            conversation_id,
            conv.draft_text,
            conv.draft_timestamp
        ])?;
        tx.commit()?;
        Ok(ConvChange {
            conversation: conv,
            is_new,
        })
    }
}

/// Bring a cache made by an older version up to this schema (additive changes only,
/// detected by what is missing, as the server's store does).
fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = write_tx(conn)?;
    let has_search: bool = tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'message_search')")?.query_row([],
        |r| r.get(0),
    )?;
    if !has_search {
        // Table, triggers and the rows of the messages already cached: all or nothing.
        tx.execute_batch(&super::search::migration_sql())?;
    }
    let has_pid: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('messages') WHERE name = 'sender_pid')",
        )?
        .query_row([], |r| r.get(0))?;
    if !has_pid {
        tx.execute_batch("ALTER TABLE messages ADD COLUMN sender_pid INTEGER NOT NULL DEFAULT 0")?;
    }
    tx.commit()?;
    Ok(())
}

// ---------------------------------------------------------------- row helpers

fn read_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn write_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

fn get_cursor(conn: &Connection) -> Result<u64> {
    Ok(read_meta(conn, CURSOR_KEY)?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

fn write_cursor(conn: &Connection, cursor: u64) -> Result<()> {
    write_meta(conn, CURSOR_KEY, &cursor.to_string())
}

fn max_seq(conn: &Connection, conversation_id: &str) -> Result<u64> {
    let v: Option<i64> = conn
        .prepare_cached("SELECT MAX(seq) FROM messages WHERE conversation_id = ?1")?
        .query_row([conversation_id], |r| r.get(0))?;
    Ok(v.unwrap_or(0).max(0) as u64)
}

fn total_unread(conn: &Connection) -> Result<u64> {
    let v: i64 = conn
        .prepare_cached("SELECT COALESCE(SUM(unread_count), 0) FROM conversations")?
        .query_row([], |r| r.get(0))?;
    Ok(v.max(0) as u64)
}

fn find_own_row(conn: &Connection, local_id: &str) -> Result<Option<(i64, Message)>> {
    if local_id.is_empty() {
        return Ok(None);
    }
    let row = conn
        .prepare_cached(
            "SELECT row_id, body FROM messages WHERE is_self = 1 AND local_id = ?1
             ORDER BY row_id LIMIT 1",
        )?
        .query_row([local_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?;
    match row {
        Some((id, body)) => Ok(Some((id, from_json(&body)?))),
        None => Ok(None),
    }
}

/// Insert or update a stored (server-known) message. Matches an existing row by msgID, or
/// one of my own rows by creation id (a send whose ack we missed). Local fields survive.
fn upsert_remote(tx: &Transaction<'_>, mut msg: Message) -> Result<Upserted> {
    let existing = tx
        .prepare_cached("SELECT row_id, body FROM messages WHERE msg_id = ?1 AND msg_id != ''")?
        .query_row([&msg.msg_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
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
            let reconciled =
                (old.is_self && old.status != MessageStatus::SendSucc).then_some(old.status);
            if msg.local_custom_data.is_none() {
                msg.local_custom_data = old.local_custom_data;
            }
            if msg.id.is_empty() {
                msg.id = old.id;
            }
            tx.prepare_cached(
                "UPDATE messages SET local_id = ?2, msg_id = ?3, conversation_id = ?4,
                     is_self = ?5, seq = ?6, order_seq = ?6, order_sub = 0, status = ?7,
                     body = ?8
                 WHERE row_id = ?1",
            )?
            .execute(params![
                row_id,
                msg.id,
                msg.msg_id,
                conversation_id,
                msg.is_self,
                seq,
                msg.status as u8,
                to_json(&msg)?
            ])?;
            Ok(Upserted {
                message: msg,
                inserted: false,
                reconciled,
            })
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO messages(local_id, msg_id, conversation_id, is_self, seq, order_seq,
                     order_sub, status, created_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, ?6, ?7, ?8)",
            )?
            .execute(params![
                msg.id,
                msg.msg_id,
                conversation_id,
                msg.is_self,
                seq,
                msg.status as u8,
                now_secs(),
                to_json(&msg)?
            ])?;
            Ok(Upserted {
                message: msg,
                inserted: true,
                reconciled: None,
            })
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
        .prepare_cached(
            "SELECT body, draft_text, draft_timestamp, server_seq FROM conversations
             WHERE conversation_id = ?1",
        )?
        .query_row([conversation_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
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
    conn.prepare_cached(
        "INSERT INTO conversations(conversation_id, is_pinned, orderkey, unread_count, server_seq,
             draft_text, draft_timestamp, body)
         VALUES (?1, ?2, ?3, ?4, COALESCE(?5, 0), ?6, ?7, ?8)
         ON CONFLICT(conversation_id) DO UPDATE SET
             is_pinned = excluded.is_pinned, orderkey = excluded.orderkey,
             unread_count = excluded.unread_count,
             server_seq = MAX(conversations.server_seq, COALESCE(?5, 0)),
             body = excluded.body",
    )?
    .execute(params![
        conv.conversation_id,
        conv.is_pinned,
        conv.orderkey as i64,
        conv.unread_count as i64,
        server_seq.map(|s| s as i64),
        conv.draft_text,
        conv.draft_timestamp,
        to_json(&body)?
    ])?;
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
            .prepare_cached("SELECT body FROM messages WHERE msg_id = ?1 AND msg_id != ''")?
            .query_row([&last.msg_id], |r| r.get::<_, String>(0))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Elem, TextElem};

    /// Processes of one user opening a new cache at once all get it (issue: two
    /// `termim listen` on a new data dir, one failed with "database is locked").
    #[test]
    fn many_opening_a_new_cache_at_once_all_get_it() {
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("alice").join("cache.db");
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        Cache::open(&path, "alice").map(|_| ())
                    })
                })
                .collect();
            for h in handles {
                let opened = h.join().expect("no panic");
                assert!(opened.is_ok(), "round {round}: {opened:?}");
            }
        }
    }

    fn open(dir: &tempfile::TempDir, me: &str) -> Cache {
        Cache::open(&dir.path().join(me).join("cache.db"), me).unwrap()
    }

    fn text(sender: &str, receiver: &str, msg_id: &str, seq: u64, body: &str) -> Message {
        let mut m = Message {
            msg_id: msg_id.to_string(),
            id: format!("created_temp_id-{msg_id}"),
            sender: sender.to_string(),
            receiver: Some(receiver.to_string()),
            seq,
            timestamp: 1_700_000_000 + seq as i64,
            status: MessageStatus::SendSucc,
            ..Default::default()
        };
        m.set_elem(Elem::Text(TextElem {
            text: body.to_string(),
        }));
        m
    }

    fn group_msg(sender: &str, group: &str, msg_id: &str, seq: u64) -> Message {
        let mut m = text(sender, "", msg_id, seq, "hi");
        m.receiver = None;
        m.group_id = Some(group.to_string());
        m
    }

    fn push(msg: Message, cursor: u64, counted: bool) -> NewMessagePush {
        NewMessagePush {
            message: msg,
            cursor: Some(cursor),
            unread_counted: counted,
        }
    }

    fn created(me: &str, id: &str, body: &str) -> Message {
        let mut m = Message {
            id: id.to_string(),
            sender: me.to_string(),
            is_self: true,
            ..Default::default()
        };
        m.set_elem(Elem::Text(TextElem {
            text: body.to_string(),
        }));
        m
    }

    fn bodies(list: &[Message]) -> Vec<String> {
        list.iter().map(|m| m.preview()).collect()
    }

    #[test]
    fn created_message_is_invisible_until_sent_and_keeps_local_data() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, "alice");
        let mut msg = created("alice", "c1", "hello");
        cache.insert_created(&msg).unwrap();
        assert!(cache.find_own("c1").unwrap().is_some());
        assert!(
            cache
                .page("c2c_bob", Direction::Older, OrderKey::NEWEST, 10)
                .unwrap()
                .is_empty()
        );

        msg.receiver = Some("bob".into());
        msg.local_custom_data = Some("only-here".into());
        let sending = cache.mark_sending(&msg).unwrap();
        assert_eq!(sending.status, MessageStatus::Sending);
        assert_eq!(sending.user_id.as_deref(), Some("bob"));
        let page = cache
            .page("c2c_bob", Direction::Older, OrderKey::NEWEST, 10)
            .unwrap();
        assert_eq!(bodies(&page), ["hello"]);
        assert_eq!(page[0].status, MessageStatus::Sending);

        // The server's copy never carries localCustomData; the cache keeps ours.
        let mut server = text("alice", "bob", "m1", 1, "hello");
        server.id = "c1".into();
        let ack = cache.complete_send("c1", server, Some(7)).unwrap();
        assert_eq!(ack.message.status, MessageStatus::SendSucc);
        assert_eq!(ack.message.local_custom_data.as_deref(), Some("only-here"));
        let change = ack.conversation.unwrap();
        assert!(change.is_new);
        assert_eq!(change.conversation.orderkey, 7);
        assert_eq!(change.conversation.unread_count, 0);
        assert_eq!(change.conversation.last_message.unwrap().msg_id, "m1");
        let stored = cache.find_by_msg_id("m1").unwrap().unwrap();
        assert_eq!(stored.local_custom_data.as_deref(), Some("only-here"));
        assert_eq!(cache.max_seq("c2c_bob").unwrap(), 1);
    }

    #[test]
    fn remote_messages_are_deduplicated_by_msg_id_and_creation_id() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, "alice");
        // A send whose ack was lost: the row has only the creation id.
        let mut mine = created("alice", "c9", "lost ack");
        mine.receiver = Some("bob".into());
        mine.local_custom_data = Some("keep".into());
        cache.insert_created(&mine).unwrap();
        cache.mark_sending(&mine).unwrap();

        let mut echoed = text("alice", "bob", "m2", 2, "lost ack");
        echoed.id = "c9".into();
        let batch = vec![text("bob", "alice", "m1", 1, "hi"), echoed];
        let out = cache.store_remote(batch.clone(), Some(10)).unwrap();
        assert_eq!(
            out.iter().map(|s| s.inserted).collect::<Vec<_>>(),
            [true, false]
        );
        assert_eq!(out[1].message.local_custom_data.as_deref(), Some("keep"));
        assert_eq!(out[1].reconciled, Some(MessageStatus::Sending));
        assert_eq!(out[0].reconciled, None);
        assert_eq!(cache.cursor().unwrap(), 10);

        // Never back: another process sharing the file may be further along.
        let again = cache.store_remote(batch, Some(8)).unwrap();
        assert!(again.iter().all(|s| !s.inserted && s.reconciled.is_none()));
        assert_eq!(cache.cursor().unwrap(), 10);
        let page = cache
            .page("c2c_bob", Direction::Newer, OrderKey::OLDEST, 10)
            .unwrap();
        assert_eq!(bodies(&page), ["hi", "lost ack"]);
        assert!(page.iter().all(|m| m.status == MessageStatus::SendSucc));
        assert!(!page[0].is_self && page[1].is_self);
        assert!(page.iter().all(|m| m.user_id.as_deref() == Some("bob")));
    }

    #[test]
    fn incoming_messages_drive_unread_last_message_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, "alice");
        let out = cache
            .apply_incoming(push(text("bob", "alice", "m1", 1, "one"), 5, true), true)
            .unwrap();
        assert!(out.inserted);
        let conv = out.conversation.unwrap();
        assert!(conv.is_new);
        assert_eq!(conv.conversation.conversation_id, "c2c_bob");
        assert_eq!(conv.conversation.unread_count, 1);
        assert_eq!(out.total_unread, Some(1));
        assert_eq!(cache.cursor().unwrap(), 5);

        // Excluded from unread (server says not counted) and from last message.
        let mut quiet = text("bob", "alice", "m2", 2, "quiet");
        quiet.is_excluded_from_last_message = true;
        let out = cache.apply_incoming(push(quiet, 6, false), true).unwrap();
        let conv = out.conversation.map(|c| c.conversation);
        assert!(conv.is_none(), "nothing visible changed: {conv:?}");
        assert_eq!(out.total_unread, None);
        let c = cache.conversation("c2c_bob").unwrap().unwrap();
        assert_eq!(c.last_message.unwrap().msg_id, "m1");
        assert_eq!(c.orderkey, 5);

        // My own message from another device: no unread, becomes last.
        let out = cache
            .apply_incoming(push(text("alice", "bob", "m3", 3, "mine"), 8, true), true)
            .unwrap();
        assert!(out.message.is_self);
        let c = out.conversation.unwrap().conversation;
        assert_eq!(c.unread_count, 1);
        assert_eq!(c.last_message.unwrap().msg_id, "m3");
        assert_eq!(c.orderkey, 8);

        // Already cached (another process sharing the file applied it): counted once,
        // and the conversation and total come back as cached, for this process to show.
        let out = cache
            .apply_incoming(push(text("bob", "alice", "m1", 1, "one"), 5, true), true)
            .unwrap();
        assert!(!out.inserted);
        let now = out.conversation.unwrap();
        assert!(!now.is_new);
        assert_eq!(now.conversation.unread_count, 1);
        assert_eq!(now.conversation.last_message.unwrap().msg_id, "m3");
        assert_eq!(out.total_unread, Some(1));
        assert_eq!(cache.total_unread().unwrap(), 1);
        assert_eq!(cache.cursor().unwrap(), 8);
    }

    #[test]
    fn online_only_messages_are_never_stored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, "alice");
        let mut typing = text("bob", "alice", "m-typing", 0, "typing…");
        typing.is_online_only = true;
        let out = cache
            .apply_incoming(
                NewMessagePush {
                    message: typing,
                    cursor: None,
                    unread_counted: false,
                },
                true,
            )
            .unwrap();
        assert!(out.inserted);
        assert!(out.conversation.is_none());
        assert!(cache.conversation("c2c_bob").unwrap().is_none());
        assert!(
            cache
                .page("c2c_bob", Direction::Older, OrderKey::NEWEST, 10)
                .unwrap()
                .is_empty()
        );
        assert_eq!(cache.cursor().unwrap(), 0);

        // Sending one: the created row goes away on the ack.
        let mut mine = created("alice", "c1", "typing");
        mine.receiver = Some("bob".into());
        cache.insert_created(&mine).unwrap();
        let mut ack = text("alice", "bob", "m-on", 0, "typing");
        ack.is_online_only = true;
        let out = cache.complete_send("c1", ack, None).unwrap();
        assert!(out.conversation.is_none());
        assert!(cache.find_own("c1").unwrap().is_none());
    }

    #[test]
    fn group_messages_count_per_server_flag() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, "carol");
        let out = cache
            .apply_incoming(push(group_msg("bob", "g1", "m1", 1), 3, true), true)
            .unwrap();
        let c = out.conversation.unwrap().conversation;
        assert_eq!(c.conversation_id, "group_g1");
        assert_eq!(c.group_id.as_deref(), Some("g1"));
        assert_eq!(c.unread_count, 1);
        assert!(out.message.user_id.is_none());
        // Targeted (server: not counted).
        let mut t = group_msg("bob", "g1", "m2", 2);
        t.target_group_member_list = vec!["carol".into()];
        let out = cache.apply_incoming(push(t, 4, false), true).unwrap();
        let c = out.conversation.unwrap().conversation;
        assert_eq!(c.unread_count, 1);
        assert_eq!(c.last_message.unwrap().msg_id, "m2");
    }

    #[test]
    fn server_snapshot_is_not_double_counted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, "alice");
        // The server's list already reflects m1..m2 (unread 2).
        let mut server = stub_conversation("c2c_bob");
        server.unread_count = 2;
        server.orderkey = 9;
        server.last_message = Some(Box::new(text("bob", "alice", "m2", 2, "two")));
        let out = cache
            .merge_server_conversations(vec![server], Some(u64::MAX))
            .unwrap();
        assert_eq!(out.changes.len(), 1);
        assert_eq!(out.total_unread, Some(2));
        // The push for m2 arrives afterwards: already counted.
        cache
            .apply_incoming(push(text("bob", "alice", "m2", 2, "two"), 9, true), true)
            .unwrap();
        assert_eq!(cache.total_unread().unwrap(), 2);
        // m3 is news.
        cache
            .apply_incoming(push(text("bob", "alice", "m3", 3, "three"), 11, true), true)
            .unwrap();
        let c = cache.conversation("c2c_bob").unwrap().unwrap();
        assert_eq!(c.unread_count, 3);
        assert_eq!(c.orderkey, 11);
    }

    #[test]
    fn merge_keeps_drafts_and_drops_stale_conversations() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, "alice");
        cache
            .apply_incoming(push(text("bob", "alice", "m1", 1, "x"), 1, true), true)
            .unwrap();
        cache
            .apply_incoming(push(text("dave", "alice", "m2", 1, "y"), 2, true), true)
            .unwrap();
        let change = cache.set_draft("c2c_bob", Some("unfinished")).unwrap();
        assert!(!change.is_new);
        let change = cache.set_draft("c2c_erin", Some("hello erin")).unwrap();
        assert!(change.is_new);

        let mut bob = stub_conversation("c2c_bob");
        bob.custom_data = "pinned-by-other-device".into();
        bob.is_pinned = true;
        // Taken before dave's conversation was activated (orderkey 2): dave stays.
        let out = cache
            .merge_server_conversations(vec![bob.clone()], Some(1))
            .unwrap();
        assert!(out.deleted.is_empty());
        let out = cache
            .merge_server_conversations(vec![bob], Some(2))
            .unwrap();
        assert_eq!(out.deleted, ["c2c_dave"]);
        assert!(cache.find_by_msg_id("m2").unwrap().is_none());
        assert!(cache.find_by_msg_id("m1").unwrap().is_some());
        let list = cache.conversations(0, 10).unwrap();
        let ids: Vec<_> = list.iter().map(|c| c.conversation_id.as_str()).collect();
        assert_eq!(ids, ["c2c_bob", "c2c_erin"]);
        assert_eq!(list[0].draft_text.as_deref(), Some("unfinished"));
        assert_eq!(list[0].custom_data, "pinned-by-other-device");
        assert!(list[0].draft_timestamp.is_some());
        assert_eq!(list[1].draft_text.as_deref(), Some("hello erin"));

        cache.set_draft("c2c_bob", Some("")).unwrap();
        assert_eq!(
            cache.conversation("c2c_bob").unwrap().unwrap().draft_text,
            None
        );
    }

    #[test]
    fn list_orders_pinned_first_then_activity() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, "alice");
        let mut list = Vec::new();
        for (i, id) in ["c2c_a", "c2c_b", "c2c_c", "group_g"].iter().enumerate() {
            let mut c = stub_conversation(id);
            c.orderkey = (i as u64 + 1) * 10;
            c.is_pinned = *id == "c2c_a";
            list.push(c);
        }
        cache
            .merge_server_conversations(list, Some(u64::MAX))
            .unwrap();
        let ids: Vec<_> = cache
            .conversations(0, 10)
            .unwrap()
            .into_iter()
            .map(|c| c.conversation_id)
            .collect();
        assert_eq!(ids, ["c2c_a", "group_g", "c2c_c", "c2c_b"]);
        let second: Vec<_> = cache
            .conversations(2, 2)
            .unwrap()
            .into_iter()
            .map(|c| c.conversation_id)
            .collect();
        assert_eq!(second, ["c2c_c", "c2c_b"]);
    }

    #[test]
    fn pages_run_both_ways_and_place_unsent_messages_after_their_anchor() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, "alice");
        let msgs: Vec<_> = (1..=5)
            .map(|s| text("bob", "alice", &format!("m{s}"), s, &format!("#{s}")))
            .collect();
        cache.store_remote(msgs, None).unwrap();
        let mut unsent = created("alice", "c-new", "draft-send");
        unsent.receiver = Some("bob".into());
        cache.insert_created(&unsent).unwrap();
        cache.mark_sending(&unsent).unwrap();
        cache.mark_failed("c-new").unwrap();

        let newest = cache
            .page("c2c_bob", Direction::Older, OrderKey::NEWEST, 3)
            .unwrap();
        assert_eq!(bodies(&newest), ["draft-send", "#5", "#4"]);
        assert_eq!(newest[0].status, MessageStatus::SendFail);
        let pos = cache.position("c2c_bob", "m4").unwrap().unwrap();
        assert_eq!(pos.seq, 4);
        let older = cache
            .page("c2c_bob", Direction::Older, pos.key, 10)
            .unwrap();
        assert_eq!(bodies(&older), ["#3", "#2", "#1"]);
        let newer = cache
            .page("c2c_bob", Direction::Newer, pos.key, 10)
            .unwrap();
        assert_eq!(bodies(&newer), ["#5", "draft-send"]);
        let pos = cache.position("c2c_bob", "c-new").unwrap().unwrap();
        assert_eq!(pos.seq, 0);
        assert_eq!(pos.key.seq, 5);
        let range = cache
            .range(
                "c2c_bob",
                Direction::Older,
                OrderKey::NEWEST,
                OrderKey { seq: 4, sub: 0 },
            )
            .unwrap();
        assert_eq!(bodies(&range), ["draft-send", "#5", "#4"]);
    }

    #[test]
    fn reopening_keeps_drafts_and_fails_interrupted_sends() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cache = open(&dir, "alice");
            cache.set_draft("group_g1", Some("草稿 draft")).unwrap();
            let mut m = created("alice", "c1", "in flight");
            m.group_id = Some("g1".into());
            cache.insert_created(&m).unwrap();
            cache.mark_sending(&m).unwrap();
            cache.set_cursor(42).unwrap();
        }
        let cache = open(&dir, "alice");
        let conv = cache.conversation("group_g1").unwrap().unwrap();
        assert_eq!(conv.draft_text.as_deref(), Some("草稿 draft"));
        assert_eq!(
            cache.find_own("c1").unwrap().unwrap().status,
            MessageStatus::SendFail
        );
        assert_eq!(cache.cursor().unwrap(), 42);
    }

    #[test]
    fn deleting_a_conversation_removes_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, "alice");
        cache
            .apply_incoming(push(text("bob", "alice", "m1", 1, "x"), 1, true), true)
            .unwrap();
        let (existed, total) = cache.delete_conversation("c2c_bob").unwrap();
        assert!(existed);
        assert_eq!(total, Some(0));
        assert!(cache.find_by_msg_id("m1").unwrap().is_none());
        assert!(!cache.delete_conversation("c2c_bob").unwrap().0);
    }
}
