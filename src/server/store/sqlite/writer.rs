//! The single writer: drains the command queue, applies a batch in one transaction
//! (one savepoint per command, so a failing command leaves the others intact), commits,
//! then hands the batch's answers and effects to the dispatcher — in commit order.
//!
//! It keeps what every write needs in memory (next pos, each conversation's last seq,
//! group rosters), loaded lazily from the database. The caches are changed only after the
//! SQL they mirror succeeded; after any storage error they are dropped and reloaded.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::mpsc;

use crate::model::{ConversationId, ConversationTarget, GroupType, Message, role};
use crate::protocol::codes;
use crate::server::domain::{
    self, ConvRow, GroupSend, GroupView, Head, Member, NewMessage, Place, Resolved, Slot, StreamTo,
};
use crate::server::error::OpError;
use crate::server::limits::{Rate, TokenBucket};
use crate::server::store::{
    CommitSink, Data, Effect, SendTarget, StoreOptions, WriteCmd, WriteRequest,
};

use super::queries;
use super::schema::{self, c2c_key, group_key};
use crate::server::store::dispatch::{BatchWriter, Dispatch, Outcome, WriterMsg, run_writer};

/// Most commands applied in one transaction.
const MAX_BATCH: usize = 1024;

struct C2cState {
    id: i64,
    last_seq: u64,
    /// The newest message's timestamp: the next is stamped no earlier, so a conversation's
    /// timestamps never go down as its seqs go up (read marks by time and by seq agree).
    last_time: i64,
    /// Both users' conversation rows are known to exist.
    rows: bool,
}

struct GroupState {
    group_id: String,
    conv_id: i64,
    group_type: GroupType,
    dismissed: bool,
    last_seq: u64,
    /// As `C2cState::last_time`.
    last_time: i64,
    members: HashMap<String, Member>,
    /// The member list as shared push recipients; rebuilt after membership changes.
    roster: Option<Arc<[String]>>,
    /// The group's send rate (created on its first send).
    send_bucket: Option<TokenBucket>,
}

impl GroupState {
    /// Take one send from the group's rate (10023 when it is spent).
    fn take_send(&mut self, rate: Option<Rate>) -> Result<(), OpError> {
        let Some(rate) = rate else {
            return Ok(());
        };
        let now = Instant::now();
        let bucket = self
            .send_bucket
            .get_or_insert_with(|| TokenBucket::new(rate, now));
        if bucket.try_take(now) {
            Ok(())
        } else {
            let wait = bucket.wait();
            Err(OpError::new(
                codes::ERR_SVR_GROUP_SEND_FREQUENCY_LIMIT,
                format!(
                    "group {:?} takes at most {} messages a second; retry in {} ms",
                    self.group_id,
                    rate.per_sec,
                    wait.as_millis().max(1)
                ),
            )
            .retry_after(wait))
        }
    }

    fn roster(&mut self) -> Arc<[String]> {
        if let Some(r) = &self.roster {
            return r.clone();
        }
        let r: Arc<[String]> = self.members.keys().cloned().collect();
        self.roster = Some(r.clone());
        r
    }

    fn conversation_id(&self) -> String {
        ConversationId::group(&self.group_id).0
    }
}

/// Why a command did not apply.
enum Applied {
    /// Nothing of it was written; the batch goes on.
    Refused(OpError),
    /// It failed after writing part of itself: the batch's transaction must be rolled back.
    Torn(OpError),
}

impl Applied {
    fn into_error(self) -> OpError {
        match self {
            Applied::Refused(e) | Applied::Torn(e) => e,
        }
    }
}

impl From<rusqlite::Error> for Applied {
    fn from(e: rusqlite::Error) -> Self {
        Applied::Refused(e.into())
    }
}

pub(super) struct Writer {
    db: Connection,
    /// Where committed batches go (answers and effects).
    out: Dispatch,
    /// Set by the checkpointer when the WAL has grown past its limit.
    restart_wal: Arc<AtomicBool>,
    options: StoreOptions,
    next_pos: u64,
    c2c: HashMap<String, C2cState>,
    groups: HashMap<String, GroupState>,
    users: HashSet<String>,
}

/// Insert a stored message: its row (with the conversation's counted prefix `cnum`), its
/// rows in the recipients' streams, and the sender's own-unread counter. Each is one
/// statement; none counts over the conversation.
fn insert_message(
    db: &Connection,
    s: &NewMessage<'_>,
    msg: &Message,
    body: &str,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO messages (pos, conv_id, seq, msg_id, client_id, sender, receiver, group_id, \
         time, counted, nolast, targeted, body, cnum) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?10 + COALESCE( \
         (SELECT cnum FROM messages WHERE conv_id = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT 1), 0))",
    )?
    .execute(params![
        s.pos as i64,
        s.conv_id,
        s.seq as i64,
        msg.msg_id,
        s.client_id,
        msg.sender,
        msg.receiver,
        msg.group_id,
        msg.timestamp,
        s.counted,
        msg.is_excluded_from_last_message,
        s.targeted,
        body,
    ])?;
    let pos = s.pos as i64;
    let mut one =
        db.prepare_cached("INSERT OR IGNORE INTO user_stream (user_id, pos) VALUES (?1, ?2)")?;
    match s.to {
        StreamTo::Pair(a, b) => {
            one.execute(params![a, pos])?;
            if a != b {
                one.execute(params![b, pos])?;
            }
        }
        StreamTo::Targets(sender, targets) => {
            one.execute(params![sender, pos])?;
            for t in targets {
                one.execute(params![t, pos])?;
            }
        }
        StreamTo::Members(group_id) => {
            db.prepare_cached(
                "INSERT OR IGNORE INTO user_stream (user_id, pos) \
                 SELECT user_id, ?2 FROM group_members WHERE group_id = ?1",
            )?
            .execute(params![group_id, pos])?;
        }
    }
    if s.counted {
        db.prepare_cached(
            "UPDATE user_conversations SET own_unread = own_unread + 1 WHERE owner = ?1 AND conv = ?2",
        )?
        .execute(params![msg.sender, s.sender_conv])?;
    }
    Ok(())
}

fn load_group(db: &Connection, group_id: &str) -> rusqlite::Result<Option<GroupState>> {
    let Some(row) = queries::group_row(db, group_id)? else {
        return Ok(None);
    };
    let mut members = HashMap::new();
    if !row.dismissed {
        let mut stmt = db.prepare_cached(
            "SELECT user_id, role, join_seq, join_time, mute_until FROM group_members \
             WHERE group_id = ?1",
        )?;
        let rows = stmt.query_map([group_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Member {
                    role: r.get::<_, i64>(1)? as u32,
                    join_seq: r.get::<_, i64>(2)? as u64,
                    join_time: r.get(3)?,
                    mute_until: r.get(4)?,
                },
            ))
        })?;
        for r in rows {
            let (user, m) = r?;
            members.insert(user, m);
        }
    }
    let (last_seq, last_time) = queries::last_seq_time(db, row.conv_id)?;
    Ok(Some(GroupState {
        group_id: row.group_id,
        conv_id: row.conv_id,
        group_type: row.group_type,
        dismissed: row.dismissed,
        last_seq,
        last_time,
        members,
        roster: None,
        send_bucket: None,
    }))
}

/// The live group `id` (loaded on first use), or 10010.
fn live_group<'a>(
    groups: &'a mut HashMap<String, GroupState>,
    db: &Connection,
    id: &str,
) -> Result<&'a mut GroupState, OpError> {
    if !groups.contains_key(id) {
        match load_group(db, id)? {
            Some(g) => {
                groups.insert(id.to_string(), g);
            }
            None => return Err(OpError::no_group(id)),
        }
    }
    match groups.get_mut(id) {
        Some(g) if !g.dismissed => Ok(g),
        _ => Err(OpError::no_group(id)),
    }
}

fn insert_member(
    db: &Connection,
    group_id: &str,
    user: &str,
    member: &Member,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT OR REPLACE INTO group_members \
         (group_id, user_id, role, join_seq, join_time, mute_until) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        group_id,
        user,
        member.role,
        member.join_seq as i64,
        member.join_time,
        member.mute_until
    ])?;
    Ok(())
}

/// A fresh group conversation row for a (new) member.
fn reset_group_conv_row(
    db: &Connection,
    user: &str,
    g: &GroupState,
    read_seq: u64,
    activated: u64,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO user_conversations (owner, conv, conv_id, group_id, read_seq, activated) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (owner, conv) DO UPDATE SET conv_id = excluded.conv_id, pinned = 0, \
         custom_data = '', read_seq = excluded.read_seq, read_time = 0, cleared_seq = 0, \
         deleted = 0, activated = excluded.activated, own_unread = 0",
    )?
    .execute(params![
        user,
        g.conversation_id(),
        g.conv_id,
        g.group_id,
        read_seq as i64,
        activated as i64
    ])?;
    Ok(())
}

fn remove_member(db: &Connection, g: &GroupState, user: &str) -> rusqlite::Result<()> {
    db.prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2")?
        .execute([&g.group_id, user])?;
    db.prepare_cached("DELETE FROM user_conversations WHERE owner = ?1 AND conv = ?2")?
        .execute([user, &g.conversation_id()])?;
    Ok(())
}

impl Writer {
    pub(super) fn open(
        path: &Path,
        sink: Arc<dyn CommitSink>,
        options: StoreOptions,
        restart_wal: Arc<AtomicBool>,
    ) -> rusqlite::Result<Self> {
        let db = schema::open_writer(path)?;
        let mut w = Writer {
            db,
            out: Dispatch::start(sink),
            restart_wal,
            options,
            next_pos: 1,
            c2c: HashMap::new(),
            groups: HashMap::new(),
            users: HashSet::new(),
        };
        w.next_pos = w.load_next_pos()?;
        Ok(w)
    }

    fn load_next_pos(&self) -> rusqlite::Result<u64> {
        let max: i64 =
            self.db
                .query_row("SELECT COALESCE(MAX(pos), 0) FROM messages", [], |r| {
                    r.get(0)
                })?;
        Ok(max as u64 + 1)
    }

    /// Forget everything cached; it is reloaded from the database on demand.
    fn reset(&mut self) {
        self.c2c.clear();
        self.groups.clear();
        self.users.clear();
        match self.load_next_pos() {
            Ok(p) => self.next_pos = p,
            Err(e) => tracing::error!("writer: cannot reload the next pos: {e}"),
        }
    }

    /// Drop what a command that failed half-way may have cached ahead of its rolled-back
    /// writes — the state of the group or the conversations it names — and reload the next
    /// pos; every other cache stays, still true. A cache a command changes before its last
    /// write must be dropped here too.
    fn forget(&mut self, cmd: &WriteCmd) {
        match cmd {
            WriteCmd::EnsureUser { user, .. } => {
                self.users.remove(user);
            }
            WriteCmd::Send(send) => match &send.target {
                SendTarget::C2c { receiver } => {
                    self.c2c.remove(&c2c_key(&send.sender, receiver));
                }
                SendTarget::Group { group_id, .. } => {
                    self.groups.remove(group_id);
                }
            },
            WriteCmd::CleanUnread {
                user,
                conversation_id,
                ..
            }
            | WriteCmd::Pin {
                user,
                conversation_id,
                ..
            }
            | WriteCmd::DeleteConversation {
                user,
                conversation_id,
                ..
            } => self.forget_conversation(user, conversation_id),
            WriteCmd::SetCustomData {
                user,
                conversation_ids,
                ..
            } => {
                for id in conversation_ids {
                    self.forget_conversation(user, id);
                }
            }
            WriteCmd::CreateGroup { group_id, .. } => {
                if let Some(id) = group_id {
                    self.groups.remove(id);
                }
            }
            WriteCmd::JoinGroup { group_id, .. }
            | WriteCmd::QuitGroup { group_id, .. }
            | WriteCmd::DismissGroup { group_id, .. }
            | WriteCmd::Invite { group_id, .. }
            | WriteCmd::Kick { group_id, .. }
            | WriteCmd::Mute { group_id, .. }
            | WriteCmd::SetRole { group_id, .. } => {
                self.groups.remove(group_id);
            }
        }
        match self.load_next_pos() {
            Ok(p) => self.next_pos = p,
            Err(e) => {
                tracing::error!("writer: cannot reload the next pos: {e}");
                self.reset();
            }
        }
    }

    fn forget_conversation(&mut self, user: &str, conversation_id: &str) {
        match ConversationId::parse(conversation_id) {
            Some(ConversationTarget::C2c(peer)) => {
                self.c2c.remove(&c2c_key(user, &peer));
            }
            Some(ConversationTarget::Group(group_id)) => {
                self.groups.remove(&group_id);
            }
            None => {}
        }
    }

    pub(super) fn run(mut self, mut rx: mpsc::Receiver<WriterMsg>) {
        run_writer(&mut self, &mut rx, MAX_BATCH);
        if let Err(e) = self.db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
            tracing::warn!("writer: checkpoint at close failed: {e}");
        }
    }

    /// Copy the last frames into the database so the next batch starts the WAL from its
    /// beginning (see `Checkpointer`). Between batches, so no transaction of ours is open.
    /// PASSIVE: it never waits for readers (a `RESTART` checkpoint would, stalling every
    /// write behind a slow `sync`). If a reader still needs old frames, not everything is
    /// copied, SQLite does not restart the log this time, and the checkpointer asks again.
    fn restart_wal(&self) {
        let started = Instant::now();
        let result = self
            .db
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            });
        match result {
            Ok((frames, copied)) => tracing::debug!(
                frames,
                copied,
                "WAL caught up for a restart in {:.1} ms",
                started.elapsed().as_secs_f64() * 1e3
            ),
            Err(e) => tracing::warn!("checkpointing the WAL for a restart failed: {e}"),
        }
    }

    fn commit_batch(&mut self, batch: Vec<WriteRequest>) {
        if let Err(e) = self.db.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!("writer: cannot begin a transaction: {e}");
            for req in batch {
                req.reply.send(Err(OpError::internal(
                    "the server's database is unavailable; nothing was saved: retry",
                )));
            }
            return;
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut torn = false;
        for req in batch {
            if torn {
                // Not applied: answered with the rest of the batch below.
                outcomes.push(Outcome {
                    reply: req.reply,
                    result: Err(OpError::internal("not applied")),
                    effects: Vec::new(),
                });
                continue;
            }
            let mut effects = Vec::new();
            let result = self.apply_one(&req.cmd, &mut effects);
            torn = matches!(result, Err(Applied::Torn(_)));
            outcomes.push(Outcome {
                reply: req.reply,
                result: result.map_err(Applied::into_error),
                effects,
            });
        }
        let committed = if torn {
            Err("a command failed half-way through its writes".to_string())
        } else {
            self.db.execute_batch("COMMIT").map_err(|e| e.to_string())
        };
        match committed {
            // One hand-over per batch (see `dispatch`).
            Ok(()) => self.out.send(outcomes),
            Err(e) => {
                tracing::error!("writer: transaction not committed: {e}");
                let _ = self.db.execute_batch("ROLLBACK");
                self.reset();
                for o in outcomes {
                    o.reply.send(Err(OpError::internal(
                        "the server could not save this request; nothing was saved: retry \
                         with the same ids",
                    )));
                }
            }
        }
    }

    /// Apply one command inside the batch's transaction. A refused command leaves no
    /// trace: most run inside their own `SAVEPOINT`, rolled back on refusal. A
    /// `sendMessage` does every check before its first write, so it runs without one —
    /// a savepoint copies each page it touches into the statement journal, a large part
    /// of a send's cost. Should a send fail after writing anyway (a storage error between
    /// its inserts), the command is `Torn` and the whole batch is rolled back.
    fn apply_one(&mut self, cmd: &WriteCmd, effects: &mut Vec<Effect>) -> Result<Data, Applied> {
        if matches!(cmd, WriteCmd::Send(_)) {
            let before = self.db.total_changes();
            let result = self.dispatch(cmd, effects);
            return result.map_err(|e| {
                effects.clear();
                if self.db.total_changes() != before {
                    // The whole batch is rolled back and every cache dropped.
                    return Applied::Torn(e);
                }
                // Nothing was written, and a send changes what it caches only after its
                // writes: the caches are true unless the database itself failed.
                if e.storage_failed {
                    self.reset();
                }
                Applied::Refused(e)
            });
        }
        self.db.prepare_cached("SAVEPOINT op")?.execute([])?;
        let result = self.dispatch(cmd, effects);
        match &result {
            Ok(_) => {
                let released = self.db.prepare_cached("RELEASE op")?.execute([]);
                if let Err(e) = released {
                    return Err(Applied::Torn(e.into()));
                }
            }
            Err(e) => {
                effects.clear();
                let rolled_back = self.db.execute_batch("ROLLBACK TO op; RELEASE op").is_ok();
                if !rolled_back || e.storage_failed {
                    self.reset();
                } else if e.code == codes::ERR_SVR_COMM_INTERNAL {
                    // The database refused this command's own writes (a constraint): the
                    // savepoint undid them, and only what the command cached goes.
                    self.forget(cmd);
                }
            }
        }
        result.map_err(Applied::Refused)
    }

    fn dispatch(&mut self, cmd: &WriteCmd, fx: &mut Vec<Effect>) -> Result<Data, OpError> {
        let quota = self.options.max_groups_per_user;
        domain::apply(self, cmd, quota, fx)
    }

    // ------------------------------------------------------------ accounts

    fn ensure_user(&mut self, user: &str, now: i64) -> Result<Data, OpError> {
        if !self.users.contains(user) {
            self.db
                .prepare_cached(
                    "INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?1, ?2)",
                )?
                .execute(params![user, now])?;
            self.users.insert(user.to_string());
        }
        Ok(Data::null())
    }

    fn user_exists(&mut self, user: &str) -> Result<bool, OpError> {
        if self.users.contains(user) {
            return Ok(true);
        }
        let exists = queries::user_exists(&self.db, user)?;
        if exists {
            self.users.insert(user.to_string());
        }
        Ok(exists)
    }

    // ------------------------------------------------------------ messages

    /// The C2C conversation of a pair, created on first use.
    fn c2c_conv(&mut self, a: &str, b: &str) -> Result<&mut C2cState, OpError> {
        let key = c2c_key(a, b);
        if !self.c2c.contains_key(&key) {
            let id = match queries::conv_id_by_key(&self.db, &key)? {
                Some(id) => id,
                None => {
                    self.db
                        .prepare_cached("INSERT INTO convs (key) VALUES (?1)")?
                        .execute([&key])?;
                    self.db.last_insert_rowid()
                }
            };
            let (last_seq, last_time) = queries::last_seq_time(&self.db, id)?;
            self.c2c.insert(
                key.clone(),
                C2cState {
                    id,
                    last_seq,
                    last_time,
                    rows: false,
                },
            );
        }
        self.c2c
            .get_mut(&key)
            .ok_or_else(|| OpError::internal("conversation cache lost an entry"))
    }
}

/// The rules' view of the writer's transaction: reads through the writer's connection
/// (and its caches, which it keeps true), writes in the batch's transaction.
impl BatchWriter for Writer {
    fn apply_batch(&mut self, batch: Vec<WriteRequest>) {
        self.commit_batch(batch);
    }

    fn between_batches(&mut self) {
        if self.restart_wal.swap(false, Ordering::Relaxed) {
            self.restart_wal();
        }
    }
}

impl domain::Tx for Writer {
    fn ensure_user(&mut self, user: &str, now: i64) -> Result<(), OpError> {
        Writer::ensure_user(self, user, now).map(|_| ())
    }

    fn user_exists(&mut self, user: &str) -> Result<bool, OpError> {
        Writer::user_exists(self, user)
    }

    fn c2c_head(&mut self, a: &str, b: &str) -> Result<(i64, Head), OpError> {
        let conv = self.c2c_conv(a, b)?;
        Ok((
            conv.id,
            Head {
                seq: conv.last_seq,
                time: conv.last_time,
            },
        ))
    }

    fn group(&mut self, group_id: &str) -> Result<Option<GroupView>, OpError> {
        match live_group(&mut self.groups, &self.db, group_id) {
            Ok(g) => Ok(Some(GroupView {
                group_type: g.group_type,
                conv_id: g.conv_id,
                last_seq: g.last_seq,
                member_count: g.members.len(),
            })),
            Err(e) if e.code == codes::ERR_SVR_GROUP_NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn member(&mut self, group_id: &str, user: &str) -> Result<Option<Member>, OpError> {
        match live_group(&mut self.groups, &self.db, group_id) {
            Ok(g) => Ok(g.members.get(user).copied()),
            Err(e) if e.code == codes::ERR_SVR_GROUP_NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn conv_row(&mut self, user: &str, conv: &str) -> Result<Option<ConvRow>, OpError> {
        Ok(queries::conv_row(&self.db, user, conv)?)
    }

    fn conv_rows(&mut self, user: &str) -> Result<Vec<ConvRow>, OpError> {
        Ok(queries::conv_rows(&self.db, user)?)
    }

    fn ensure_row(&mut self, user: &str, r: &Resolved) -> Result<(), OpError> {
        self.db
            .prepare_cached(
                "INSERT OR IGNORE INTO user_conversations (owner, conv, conv_id, peer, group_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![user, r.conv, r.conv_id, r.peer, r.group_id])?;
        Ok(())
    }

    fn conversation(
        &mut self,
        user: &str,
        row: &ConvRow,
    ) -> Result<Option<crate::model::Conversation>, OpError> {
        queries::build_conversation(&self.db, user, row)
    }

    fn count_with_custom_data(&mut self, user: &str) -> Result<u64, OpError> {
        let n: i64 = self
            .db
            .prepare_cached(
                "SELECT COUNT(*) FROM user_conversations WHERE owner = ?1 AND custom_data != ''",
            )?
            .query_row([user], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    fn head(&mut self, conv_id: i64) -> Result<Head, OpError> {
        let (seq, time) = queries::last_seq_time(&self.db, conv_id)?;
        Ok(Head { seq, time })
    }

    fn head_at_time(&mut self, conv_id: i64, time: i64) -> Result<Option<Head>, OpError> {
        let head: Option<(i64, i64)> = self
            .db
            .prepare_cached(
                "SELECT seq, time FROM messages WHERE conv_id = ?1 AND time <= ?2 \
                 ORDER BY seq DESC LIMIT 1",
            )?
            .query_row(params![conv_id, time], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        Ok(head.map(|(seq, time)| Head {
            seq: seq as u64,
            time,
        }))
    }

    fn count_own_counted(
        &mut self,
        conv_id: i64,
        sender: &str,
        after: u64,
        upto: u64,
    ) -> Result<u64, OpError> {
        let n: i64 = self
            .db
            .prepare_cached(
                "SELECT COUNT(*) FROM messages WHERE conv_id = ?1 AND seq > ?2 AND seq <= ?3 \
                 AND sender = ?4 AND counted = 1",
            )?
            .query_row(params![conv_id, after as i64, upto as i64, sender], |r| {
                r.get(0)
            })?;
        Ok(n.max(0) as u64)
    }

    fn set_read_mark(
        &mut self,
        user: &str,
        conv: &str,
        seq: u64,
        time: i64,
        own_unread: u64,
    ) -> Result<bool, OpError> {
        let n = self
            .db
            .prepare_cached(
                "UPDATE user_conversations SET read_seq = MAX(read_seq, ?3), \
                 read_time = MAX(read_time, ?4), own_unread = ?5 WHERE owner = ?1 AND conv = ?2",
            )?
            .execute(params![user, conv, seq as i64, time, own_unread as i64])?;
        Ok(n > 0)
    }

    fn set_pinned(&mut self, user: &str, conv: &str, pinned: bool) -> Result<(), OpError> {
        self.db
            .prepare_cached(
                "UPDATE user_conversations SET pinned = ?3, \
                 deleted = CASE WHEN ?3 THEN 0 ELSE deleted END WHERE owner = ?1 AND conv = ?2",
            )?
            .execute(params![user, conv, pinned])?;
        Ok(())
    }

    fn delete_row(&mut self, user: &str, conv: &str, last_seq: u64) -> Result<bool, OpError> {
        let n = self
            .db
            .prepare_cached(
                "UPDATE user_conversations SET deleted = 1, cleared_seq = ?3, \
                 read_seq = MAX(read_seq, ?3), pinned = 0, custom_data = '', own_unread = 0 \
                 WHERE owner = ?1 AND conv = ?2",
            )?
            .execute(params![user, conv, last_seq as i64])?;
        Ok(n > 0)
    }

    fn set_custom_data(&mut self, user: &str, conv: &str, data: &str) -> Result<(), OpError> {
        self.db
            .prepare_cached(
                "UPDATE user_conversations SET custom_data = ?3 WHERE owner = ?1 AND conv = ?2",
            )?
            .execute(params![user, conv, data])?;
        Ok(())
    }

    fn stored_send(
        &mut self,
        sender: &str,
        client_id: &str,
    ) -> Result<Option<(u64, String)>, OpError> {
        let stored: Option<(i64, String)> = self
            .db
            .prepare_cached("SELECT pos, body FROM messages WHERE sender = ?1 AND client_id = ?2")?
            .query_row([sender, client_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(stored.map(|(pos, body)| (pos as u64, body)))
    }

    fn next_slot(&mut self, place: &Place<'_>) -> Result<Slot, OpError> {
        let pos = self.next_pos;
        let (conv_id, last_seq, last_time) = match *place {
            Place::Pair(a, b) => {
                let c = self.c2c_conv(a, b)?;
                (c.id, c.last_seq, c.last_time)
            }
            Place::Group(id) => {
                let g = live_group(&mut self.groups, &self.db, id)?;
                (g.conv_id, g.last_seq, g.last_time)
            }
        };
        Ok(Slot {
            pos,
            conv_id,
            seq: last_seq + 1,
            not_before: last_time,
        })
    }

    fn insert_message(
        &mut self,
        place: &Place<'_>,
        new: &NewMessage<'_>,
        msg: &Message,
        body: &str,
    ) -> Result<(), OpError> {
        if let Place::Pair(sender, receiver) = *place
            && !self.c2c_conv(sender, receiver)?.rows
        {
            let mut stmt = self.db.prepare_cached(
                "INSERT OR IGNORE INTO user_conversations (owner, conv, conv_id, peer, activated) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (owner, peer) in [(sender, receiver), (receiver, sender)] {
                stmt.execute(params![
                    owner,
                    ConversationId::c2c(peer).0,
                    new.conv_id,
                    peer,
                    new.pos as i64
                ])?;
            }
        }
        insert_message(&self.db, new, msg, body)?;
        if let StreamTo::Targets(_, targets) = new.to {
            let mut stmt = self.db.prepare_cached(
                "INSERT OR IGNORE INTO message_targets (user_id, pos) VALUES (?1, ?2)",
            )?;
            for t in targets {
                stmt.execute(params![t, new.pos as i64])?;
            }
        }
        // The SQL went through: the caches follow.
        match *place {
            Place::Pair(a, b) => {
                let c = self.c2c_conv(a, b)?;
                c.last_seq = new.seq;
                c.last_time = msg.timestamp;
                c.rows = true;
            }
            Place::Group(id) => {
                let g = live_group(&mut self.groups, &self.db, id)?;
                g.last_seq = new.seq;
                g.last_time = msg.timestamp;
            }
        }
        self.next_pos = new.pos + 1;
        Ok(())
    }

    fn group_for_send(
        &mut self,
        group_id: &str,
        sender: &str,
    ) -> Result<Option<GroupSend>, OpError> {
        match live_group(&mut self.groups, &self.db, group_id) {
            Ok(g) => Ok(Some(GroupSend {
                group_type: g.group_type,
                sender_mute_until: g.members.get(sender).map(|m| m.mute_until),
            })),
            Err(e) if e.code == codes::ERR_SVR_GROUP_NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn first_non_member(
        &mut self,
        group_id: &str,
        users: &[String],
    ) -> Result<Option<String>, OpError> {
        let g = live_group(&mut self.groups, &self.db, group_id)?;
        Ok(users.iter().find(|u| !g.members.contains_key(*u)).cloned())
    }

    fn take_group_send(&mut self, group_id: &str) -> Result<(), OpError> {
        let rate = self.options.group_send_rate;
        live_group(&mut self.groups, &self.db, group_id)?.take_send(rate)
    }

    fn roster(&mut self, group_id: &str) -> Result<Arc<[String]>, OpError> {
        Ok(live_group(&mut self.groups, &self.db, group_id)?.roster())
    }

    fn group_id_taken(&mut self, group_id: &str) -> Result<bool, OpError> {
        Ok(queries::group_row(&self.db, group_id)?.is_some())
    }

    fn groups_of(&mut self, user: &str) -> Result<u64, OpError> {
        let n: i64 = self
            .db
            .prepare_cached("SELECT COUNT(*) FROM group_members WHERE user_id = ?1")?
            .query_row([user], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    fn members(&mut self, group_id: &str) -> Result<Vec<(String, Member)>, OpError> {
        let g = live_group(&mut self.groups, &self.db, group_id)?;
        Ok(g.members.iter().map(|(u, m)| (u.clone(), *m)).collect())
    }

    fn create_group(
        &mut self,
        group_id: &str,
        group_type: GroupType,
        name: &str,
        owner: &str,
        now: i64,
    ) -> Result<(), OpError> {
        self.db
            .prepare_cached("INSERT INTO convs (key) VALUES (?1)")?
            .execute([&group_key(group_id)])?;
        let conv_id = self.db.last_insert_rowid();
        self.db
            .prepare_cached(
                "INSERT INTO groups (group_id, conv_id, type, name, owner, create_time) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                group_id,
                conv_id,
                group_type.as_str(),
                name,
                owner,
                now
            ])?;
        self.groups.insert(
            group_id.to_string(),
            GroupState {
                group_id: group_id.to_string(),
                conv_id,
                group_type,
                dismissed: false,
                last_seq: 0,
                last_time: 0,
                members: HashMap::new(),
                roster: None,
                send_bucket: None,
            },
        );
        Ok(())
    }

    fn add_member(&mut self, group_id: &str, user: &str, member: &Member) -> Result<(), OpError> {
        let next_pos = self.next_pos;
        let g = live_group(&mut self.groups, &self.db, group_id)?;
        insert_member(&self.db, group_id, user, member)?;
        reset_group_conv_row(&self.db, user, g, member.join_seq - 1, next_pos)?;
        g.members.insert(user.to_string(), *member);
        g.roster = None;
        Ok(())
    }

    fn remove_member(&mut self, group_id: &str, user: &str) -> Result<(), OpError> {
        let g = live_group(&mut self.groups, &self.db, group_id)?;
        remove_member(&self.db, g, user)?;
        g.members.remove(user);
        g.roster = None;
        Ok(())
    }

    fn set_owner(&mut self, group_id: &str, user: &str) -> Result<(), OpError> {
        self.db
            .prepare_cached("UPDATE groups SET owner = ?2 WHERE group_id = ?1")?
            .execute([group_id, user])?;
        domain::Tx::set_role(self, group_id, user, role::OWNER)
    }

    fn set_role(&mut self, group_id: &str, user: &str, new_role: u32) -> Result<(), OpError> {
        self.db
            .prepare_cached(
                "UPDATE group_members SET role = ?3 WHERE group_id = ?1 AND user_id = ?2",
            )?
            .execute(params![group_id, user, new_role])?;
        let g = live_group(&mut self.groups, &self.db, group_id)?;
        if let Some(m) = g.members.get_mut(user) {
            m.role = new_role;
        }
        Ok(())
    }

    fn set_mute(&mut self, group_id: &str, user: &str, until: i64) -> Result<(), OpError> {
        self.db
            .prepare_cached(
                "UPDATE group_members SET mute_until = ?3 WHERE group_id = ?1 AND user_id = ?2",
            )?
            .execute(params![group_id, user, until])?;
        let g = live_group(&mut self.groups, &self.db, group_id)?;
        if let Some(m) = g.members.get_mut(user) {
            m.mute_until = until;
        }
        Ok(())
    }

    fn dismiss(&mut self, group_id: &str) -> Result<Vec<String>, OpError> {
        let g = live_group(&mut self.groups, &self.db, group_id)?;
        let members: Vec<String> = g.members.keys().cloned().collect();
        self.db
            .prepare_cached("UPDATE groups SET dismissed = 1 WHERE group_id = ?1")?
            .execute([group_id])?;
        for m in &members {
            remove_member(&self.db, g, m)?;
        }
        g.dismissed = true;
        g.members.clear();
        g.roster = None;
        Ok(members)
    }
}
