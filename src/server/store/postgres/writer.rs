//! The writer of one server process: drains the command queue, applies a batch in one
//! transaction (a savepoint per command, so a refused command leaves the others intact),
//! commits, then hands the batch's answers and effects to the dispatcher — in commit
//! order, as the SQLite writer does.
//!
//! Unlike the SQLite writer it caches nothing another process could change: each batch
//! begins by locking the `sync_pos` row, which orders the write transactions of every
//! process on the database (one waits for the other's COMMIT, then reads what it
//! committed), and every command reads what it decides on inside the transaction. The
//! only thing kept across batches is each group's send-rate bucket — a policy of this
//! process (with N processes a group may take up to N times the rate), not a fact about
//! the data.
//!
//! Every command runs in its own SAVEPOINT (in PostgreSQL an error aborts the whole
//! transaction until it is rolled back to a savepoint, so unlike SQLite a send needs one
//! too). A command that meets another process's write (unique violation, serialization
//! failure, deadlock) is rolled back to its savepoint and tried again; a batch whose
//! transaction broke before its COMMIT (the connection dropped) is tried again whole on a
//! new connection. Nothing is answered before the COMMIT succeeded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::model::{ConversationId, GroupType, Message, role};
use crate::protocol::codes;
use crate::server::domain::{
    self, ConvRow, GroupSend, GroupView, Head, Member, NewMessage, Place, Resolved, Slot, StreamTo,
};
use crate::server::error::OpError;
use crate::server::limits::TokenBucket;
use crate::server::store::dispatch::{BatchWriter, Dispatch, Outcome, WriterMsg, run_writer};
use crate::server::store::{CommitSink, Data, Effect, StoreOptions, WriteCmd, WriteRequest};

use super::queries::{self, big};
use super::schema::{c2c_key, group_key};
use super::{Conn, is_conflict};

/// Most commands applied in one transaction. Each is a subtransaction; PostgreSQL keeps
/// the first 64 of a transaction in shared memory and the rest on disk, so batches stay
/// modest.
const MAX_BATCH: usize = 128;
/// Tries of one command that met another process's concurrent write.
const CONFLICT_TRIES: usize = 5;
/// Tries of a batch whose transaction broke before its COMMIT, and the pauses between.
const BATCH_PAUSES: [Duration; 3] = [
    Duration::from_millis(20),
    Duration::from_millis(200),
    Duration::from_secs(1),
];

/// Settings of the writer's session. A process that hangs inside a transaction holds the
/// `sync_pos` lock every other process's writer waits for: after 30 s idle in it, the
/// database ends that transaction (nothing of it was answered, so nothing is lost; its
/// writer finds the connection gone and tries the batch again on a new one).
pub(super) fn configure_session(db: &mut Conn) -> Result<(), postgres::Error> {
    db.batch("SET idle_in_transaction_session_timeout = '30s'")
}

/// Why a batch's transaction could not go on.
struct Broken {
    error: OpError,
    /// The transaction certainly did not commit: the batch may be tried again.
    retry: bool,
}

impl From<postgres::Error> for Broken {
    fn from(e: postgres::Error) -> Self {
        Broken {
            error: e.into(),
            retry: true,
        }
    }
}

/// One command's answer and pushes, before they are attached to its reply.
type Decided = (Result<Data, OpError>, Vec<Effect>);

pub(super) struct Writer {
    db: Conn,
    config: postgres::Config,
    out: Dispatch,
    options: StoreOptions,
    /// Inside a batch (which holds the `sync_pos` lock): the next sync position.
    next_pos: u64,
    /// The position `sync_pos` held when the batch began.
    base_pos: u64,
    send_buckets: HashMap<String, TokenBucket>,
}

impl Writer {
    pub(super) fn new(
        db: Conn,
        config: postgres::Config,
        sink: Arc<dyn CommitSink>,
        options: StoreOptions,
    ) -> Self {
        Writer {
            db,
            config,
            out: Dispatch::start(sink),
            options,
            next_pos: 1,
            base_pos: 0,
            send_buckets: HashMap::new(),
        }
    }

    pub(super) fn run(mut self, mut rx: mpsc::Receiver<WriterMsg>) {
        run_writer(&mut self, &mut rx, MAX_BATCH);
    }

    fn commit_batch(&mut self, batch: Vec<WriteRequest>) {
        let (cmds, replies): (Vec<WriteCmd>, Vec<_>) =
            batch.into_iter().map(|r| (r.cmd, r.reply)).unzip();
        let mut pauses = BATCH_PAUSES.iter();
        let decided = loop {
            match self.try_batch(&cmds) {
                Ok(decided) => break Ok(decided),
                Err(broken) => {
                    let _ = self.db.batch("ROLLBACK");
                    match pauses.next() {
                        Some(pause) if broken.retry => {
                            tracing::warn!(
                                "postgres writer: batch not committed ({}); trying again",
                                broken.error.desc
                            );
                            std::thread::sleep(*pause);
                        }
                        _ => break Err(broken.error),
                    }
                }
            }
        };
        match decided {
            // One hand-over per batch (see `dispatch`).
            Ok(decided) => self.out.send(
                replies
                    .into_iter()
                    .zip(decided)
                    .map(|(reply, (result, effects))| Outcome {
                        reply,
                        result,
                        effects,
                    })
                    .collect(),
            ),
            Err(e) => {
                tracing::error!("postgres writer: transaction not committed: {}", e.desc);
                for reply in replies {
                    reply.send(Err(OpError::internal(
                        "the server could not save this request; nothing was saved: retry \
                         with the same ids",
                    )));
                }
            }
        }
    }

    /// A new connection when the old one is gone.
    fn reconnect_if_closed(&mut self) -> Result<(), Broken> {
        if self.db.is_closed() {
            let mut fresh = Conn::connect(&self.config)?;
            configure_session(&mut fresh)?;
            // The old client is dropped here, on the writer's own thread.
            self.db = fresh;
        }
        Ok(())
    }

    fn try_batch(&mut self, cmds: &[WriteCmd]) -> Result<Vec<Decided>, Broken> {
        self.reconnect_if_closed()?;
        self.db.batch("BEGIN")?;
        // The lock that orders every process's write transactions (and their commits).
        let row = self
            .db
            .query_one("SELECT pos FROM sync_pos WHERE id = 1 FOR UPDATE", &[])?;
        self.base_pos = row.try_get::<_, i64>(0)?.max(0) as u64;
        self.next_pos = self.base_pos + 1;
        let mut decided = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            decided.push(self.apply_one(cmd)?);
        }
        if self.next_pos > self.base_pos + 1 {
            self.db.execute(
                "UPDATE sync_pos SET pos = $1 WHERE id = 1",
                &[&big(self.next_pos - 1)],
            )?;
        }
        if let Err(e) = self.db.batch("COMMIT") {
            // An answer from the server means it rolled back; a lost connection leaves
            // the outcome unknown, and the batch is not applied twice.
            let retry = e.code().is_some();
            return Err(Broken {
                error: e.into(),
                retry,
            });
        }
        Ok(decided)
    }

    /// Apply one command inside the batch's transaction, in its own savepoint. `Err`: the
    /// transaction itself is broken.
    fn apply_one(&mut self, cmd: &WriteCmd) -> Result<Decided, Broken> {
        let quota = self.options.max_groups_per_user;
        let mut tries = 0;
        loop {
            tries += 1;
            let pos_before = self.next_pos;
            self.db.batch("SAVEPOINT op")?;
            self.db.take_error();
            let mut effects = Vec::new();
            match domain::apply(self, cmd, quota, &mut effects) {
                Ok(data) => {
                    self.db.batch("RELEASE SAVEPOINT op")?;
                    return Ok((Ok(data), effects));
                }
                Err(e) => {
                    let code = self.db.take_error();
                    self.db
                        .batch("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")?;
                    self.next_pos = pos_before;
                    if code.as_ref().is_some_and(is_conflict) && tries < CONFLICT_TRIES {
                        tracing::debug!("postgres writer: a command met a concurrent write; again");
                        continue;
                    }
                    return Ok((Err(e), Vec::new()));
                }
            }
        }
    }

    /// The C2C conversation of a pair (created when absent), locked: its id, last seq and
    /// last time.
    fn c2c_conv(&mut self, a: &str, b: &str) -> Result<(i64, u64, i64), OpError> {
        let key = c2c_key(a, b);
        for _ in 0..2 {
            if let Some(r) = self.db.query_opt(
                "SELECT conv_id, last_seq, last_time FROM convs WHERE key = $1 FOR UPDATE",
                &[&key],
            )? {
                return Ok((r.try_get(0)?, u(r.try_get(1)?), r.try_get(2)?));
            }
            if let Some(r) = self.db.query_opt(
                "INSERT INTO convs (key) VALUES ($1) ON CONFLICT (key) DO NOTHING \
                 RETURNING conv_id, last_seq, last_time",
                &[&key],
            )? {
                return Ok((r.try_get(0)?, u(r.try_get(1)?), r.try_get(2)?));
            }
        }
        Err(OpError::internal(
            "the conversation could not be created; nothing was saved: retry",
        ))
    }

    /// A live group's conversation id, or 10010.
    fn live_conv_id(&mut self, group_id: &str) -> Result<i64, OpError> {
        match self.db.query_opt(
            "SELECT conv_id FROM groups WHERE group_id = $1 AND dismissed = FALSE",
            &[&group_id],
        )? {
            Some(r) => Ok(r.try_get(0)?),
            None => Err(OpError::no_group(group_id)),
        }
    }
}

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

fn member_from(r: &postgres::Row, first: usize) -> Result<Member, postgres::Error> {
    Ok(Member {
        role: r.try_get::<_, i32>(first)?.max(0) as u32,
        join_seq: u(r.try_get(first + 1)?),
        join_time: r.try_get(first + 2)?,
        mute_until: r.try_get(first + 3)?,
    })
}

fn group_conversation(group_id: &str) -> String {
    ConversationId::group(group_id).0
}

/// The rules' view of the writer's transaction: every read goes to the database, inside
/// the batch's transaction.
impl BatchWriter for Writer {
    fn apply_batch(&mut self, batch: Vec<WriteRequest>) {
        self.commit_batch(batch);
    }
}

impl domain::Tx for Writer {
    fn ensure_user(&mut self, user: &str, now: i64) -> Result<(), OpError> {
        self.db.execute(
            "INSERT INTO users (user_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&user, &now],
        )?;
        Ok(())
    }

    fn user_exists(&mut self, user: &str) -> Result<bool, OpError> {
        Ok(queries::user_exists(&mut self.db, user)?)
    }

    fn c2c_head(&mut self, a: &str, b: &str) -> Result<(i64, Head), OpError> {
        let (id, seq, time) = self.c2c_conv(a, b)?;
        Ok((id, Head { seq, time }))
    }

    fn group(&mut self, group_id: &str) -> Result<Option<GroupView>, OpError> {
        let Some(r) = self.db.query_opt(
            "SELECT g.type, g.conv_id, c.last_seq, \
             (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.group_id) \
             FROM groups g JOIN convs c ON c.conv_id = g.conv_id \
             WHERE g.group_id = $1 AND g.dismissed = FALSE",
            &[&group_id],
        )?
        else {
            return Ok(None);
        };
        let t: String = r.try_get(0)?;
        let Some(group_type) = GroupType::parse(&t) else {
            return Ok(None);
        };
        Ok(Some(GroupView {
            group_type,
            conv_id: r.try_get(1)?,
            last_seq: u(r.try_get(2)?),
            member_count: r.try_get::<_, i64>(3)?.max(0) as usize,
        }))
    }

    fn member(&mut self, group_id: &str, user: &str) -> Result<Option<Member>, OpError> {
        let row = self.db.query_opt(
            "SELECT m.role, m.join_seq, m.join_time, m.mute_until FROM group_members m \
             JOIN groups g ON g.group_id = m.group_id \
             WHERE m.group_id = $1 AND m.user_id = $2 AND g.dismissed = FALSE",
            &[&group_id, &user],
        )?;
        match row {
            Some(r) => Ok(Some(member_from(&r, 0)?)),
            None => Ok(None),
        }
    }

    fn conv_row(&mut self, user: &str, conv: &str) -> Result<Option<ConvRow>, OpError> {
        Ok(queries::conv_row(&mut self.db, user, conv)?)
    }

    fn conv_rows(&mut self, user: &str) -> Result<Vec<ConvRow>, OpError> {
        Ok(queries::conv_rows(&mut self.db, user)?)
    }

    fn ensure_row(&mut self, user: &str, r: &Resolved) -> Result<(), OpError> {
        self.db.execute(
            "INSERT INTO user_conversations (owner, conv, conv_id, peer, group_id) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&user, &r.conv, &r.conv_id, &r.peer, &r.group_id],
        )?;
        Ok(())
    }

    fn conversation(
        &mut self,
        user: &str,
        row: &ConvRow,
    ) -> Result<Option<crate::model::Conversation>, OpError> {
        queries::build_conversation(&mut self.db, user, row)
    }

    fn count_with_custom_data(&mut self, user: &str) -> Result<u64, OpError> {
        let n: i64 = self
            .db
            .query_one(
                "SELECT COUNT(*) FROM user_conversations WHERE owner = $1 AND custom_data <> ''",
                &[&user],
            )?
            .try_get(0)?;
        Ok(u(n))
    }

    fn head(&mut self, conv_id: i64) -> Result<Head, OpError> {
        let (seq, time) = queries::last_seq_time(&mut self.db, conv_id)?;
        Ok(Head { seq, time })
    }

    fn head_at_time(&mut self, conv_id: i64, time: i64) -> Result<Option<Head>, OpError> {
        let row = self.db.query_opt(
            "SELECT seq, time FROM messages WHERE conv_id = $1 AND time <= $2 \
             ORDER BY seq DESC LIMIT 1",
            &[&conv_id, &time],
        )?;
        match row {
            Some(r) => Ok(Some(Head {
                seq: u(r.try_get(0)?),
                time: r.try_get(1)?,
            })),
            None => Ok(None),
        }
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
            .query_one(
                "SELECT COUNT(*) FROM messages WHERE conv_id = $1 AND seq > $2 AND seq <= $3 \
                 AND sender = $4 AND counted = TRUE",
                &[&conv_id, &big(after), &big(upto), &sender],
            )?
            .try_get(0)?;
        Ok(u(n))
    }

    fn set_read_mark(
        &mut self,
        user: &str,
        conv: &str,
        seq: u64,
        time: i64,
        own_unread: u64,
    ) -> Result<bool, OpError> {
        let n = self.db.execute(
            "UPDATE user_conversations SET read_seq = GREATEST(read_seq, $3), \
             read_time = GREATEST(read_time, $4), own_unread = $5 WHERE owner = $1 AND conv = $2",
            &[&user, &conv, &big(seq), &time, &big(own_unread)],
        )?;
        Ok(n > 0)
    }

    fn set_pinned(&mut self, user: &str, conv: &str, pinned: bool) -> Result<(), OpError> {
        self.db.execute(
            "UPDATE user_conversations SET pinned = $3, \
             deleted = CASE WHEN $3 THEN FALSE ELSE deleted END WHERE owner = $1 AND conv = $2",
            &[&user, &conv, &pinned],
        )?;
        Ok(())
    }

    fn delete_row(&mut self, user: &str, conv: &str, last_seq: u64) -> Result<bool, OpError> {
        let n = self.db.execute(
            "UPDATE user_conversations SET deleted = TRUE, cleared_seq = $3, \
             read_seq = GREATEST(read_seq, $3), pinned = FALSE, custom_data = '', own_unread = 0 \
             WHERE owner = $1 AND conv = $2",
            &[&user, &conv, &big(last_seq)],
        )?;
        Ok(n > 0)
    }

    fn set_custom_data(&mut self, user: &str, conv: &str, data: &str) -> Result<(), OpError> {
        self.db.execute(
            "UPDATE user_conversations SET custom_data = $3 WHERE owner = $1 AND conv = $2",
            &[&user, &conv, &data],
        )?;
        Ok(())
    }

    fn stored_send(
        &mut self,
        sender: &str,
        client_id: &str,
    ) -> Result<Option<(u64, String)>, OpError> {
        let row = self.db.query_opt(
            "SELECT pos, body FROM messages WHERE sender = $1 AND client_id = $2",
            &[&sender, &client_id],
        )?;
        match row {
            Some(r) => Ok(Some((u(r.try_get(0)?), r.try_get(1)?))),
            None => Ok(None),
        }
    }

    fn next_slot(&mut self, place: &Place<'_>) -> Result<Slot, OpError> {
        let (conv_id, last_seq, last_time) = match *place {
            Place::Pair(a, b) => self.c2c_conv(a, b)?,
            Place::Group(id) => {
                // The conversation row's lock: seqs are taken one after the other.
                let row = self.db.query_opt(
                    "SELECT c.conv_id, c.last_seq, c.last_time FROM groups g \
                     JOIN convs c ON c.conv_id = g.conv_id \
                     WHERE g.group_id = $1 AND g.dismissed = FALSE FOR UPDATE OF c",
                    &[&id],
                )?;
                match row {
                    Some(r) => (r.try_get(0)?, u(r.try_get(1)?), r.try_get(2)?),
                    None => return Err(OpError::no_group(id)),
                }
            }
        };
        Ok(Slot {
            pos: self.next_pos,
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
        let pos = big(new.pos);
        if let Place::Pair(sender, receiver) = *place {
            self.db.execute(
                "INSERT INTO user_conversations (owner, conv, conv_id, peer, activated) \
                 VALUES ($1, $2, $3, $4, $5), ($4, $6, $3, $1, $5) ON CONFLICT DO NOTHING",
                &[
                    &sender,
                    &ConversationId::c2c(receiver).0,
                    &new.conv_id,
                    &receiver,
                    &pos,
                    &ConversationId::c2c(sender).0,
                ],
            )?;
        }
        // The seq and the counted prefix move under the row lock `next_slot` took; the
        // condition makes a seq taken twice impossible rather than merely unlikely.
        let cnum = self.db.query_opt(
            "UPDATE convs SET last_seq = $2::BIGINT, last_time = GREATEST(last_time, $3::BIGINT), \
             last_cnum = last_cnum + $4::BIGINT WHERE conv_id = $1 AND last_seq = $2::BIGINT - 1 \
             RETURNING last_cnum",
            &[
                &new.conv_id,
                &big(new.seq),
                &msg.timestamp,
                &i64::from(new.counted),
            ],
        )?;
        let Some(cnum) = cnum else {
            return Err(OpError::internal(
                "the conversation moved on while this message was stored; nothing was saved: retry",
            ));
        };
        let cnum: i64 = cnum.try_get(0)?;
        self.db.execute(
            "INSERT INTO messages (pos, conv_id, seq, msg_id, client_id, sender, receiver, \
             group_id, time, counted, nolast, targeted, body, cnum) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &pos,
                &new.conv_id,
                &big(new.seq),
                &msg.msg_id,
                &new.client_id,
                &msg.sender,
                &msg.receiver,
                &msg.group_id,
                &msg.timestamp,
                &new.counted,
                &msg.is_excluded_from_last_message,
                &new.targeted,
                &body,
                &cnum,
            ],
        )?;
        match new.to {
            StreamTo::Pair(a, b) => {
                self.db.execute(
                    "INSERT INTO user_stream (user_id, pos) VALUES ($1, $3), ($2, $3) \
                     ON CONFLICT DO NOTHING",
                    &[&a, &b, &pos],
                )?;
            }
            StreamTo::Targets(sender, targets) => {
                let mut users: Vec<&str> = Vec::with_capacity(targets.len() + 1);
                users.push(sender);
                users.extend(targets.iter().map(String::as_str));
                self.db.execute(
                    "INSERT INTO user_stream (user_id, pos) \
                     SELECT DISTINCT t.u, $2::BIGINT FROM unnest($1::TEXT[]) AS t(u) \
                     ON CONFLICT DO NOTHING",
                    &[&users, &pos],
                )?;
                let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
                self.db.execute(
                    "INSERT INTO message_targets (user_id, pos) \
                     SELECT DISTINCT t.u, $2::BIGINT FROM unnest($1::TEXT[]) AS t(u) \
                     ON CONFLICT DO NOTHING",
                    &[&targets, &pos],
                )?;
            }
            StreamTo::Members(group_id) => {
                self.db.execute(
                    "INSERT INTO user_stream (user_id, pos) \
                     SELECT user_id, $2::BIGINT FROM group_members WHERE group_id = $1 \
                     ON CONFLICT DO NOTHING",
                    &[&group_id, &pos],
                )?;
            }
        }
        if new.counted {
            self.db.execute(
                "UPDATE user_conversations SET own_unread = own_unread + 1 \
                 WHERE owner = $1 AND conv = $2",
                &[&msg.sender, &new.sender_conv],
            )?;
        }
        self.next_pos = new.pos + 1;
        Ok(())
    }

    fn group_for_send(
        &mut self,
        group_id: &str,
        sender: &str,
    ) -> Result<Option<GroupSend>, OpError> {
        let Some(r) = self.db.query_opt(
            "SELECT g.type, m.mute_until FROM groups g \
             LEFT JOIN group_members m ON m.group_id = g.group_id AND m.user_id = $2 \
             WHERE g.group_id = $1 AND g.dismissed = FALSE",
            &[&group_id, &sender],
        )?
        else {
            return Ok(None);
        };
        let t: String = r.try_get(0)?;
        let mute: Option<i64> = r.try_get(1)?;
        Ok(GroupType::parse(&t).map(|group_type| GroupSend {
            group_type,
            sender_mute_until: mute,
        }))
    }

    fn first_non_member(
        &mut self,
        group_id: &str,
        users: &[String],
    ) -> Result<Option<String>, OpError> {
        if users.is_empty() {
            return Ok(None);
        }
        let users: Vec<&str> = users.iter().map(String::as_str).collect();
        let row = self.db.query_opt(
            "SELECT t.u FROM unnest($2::TEXT[]) WITH ORDINALITY AS t(u, i) \
             WHERE NOT EXISTS (SELECT 1 FROM group_members m \
             WHERE m.group_id = $1 AND m.user_id = t.u) ORDER BY t.i LIMIT 1",
            &[&group_id, &users],
        )?;
        match row {
            Some(r) => Ok(Some(r.try_get(0)?)),
            None => Ok(None),
        }
    }

    fn take_group_send(&mut self, group_id: &str) -> Result<(), OpError> {
        let Some(rate) = self.options.group_send_rate else {
            return Ok(());
        };
        let now = Instant::now();
        let bucket = self
            .send_buckets
            .entry(group_id.to_string())
            .or_insert_with(|| TokenBucket::new(rate, now));
        if bucket.try_take(now) {
            return Ok(());
        }
        let wait = bucket.wait();
        Err(OpError::new(
            codes::ERR_SVR_GROUP_SEND_FREQUENCY_LIMIT,
            format!(
                "group {group_id:?} takes at most {} messages a second; retry in {} ms",
                rate.per_sec,
                wait.as_millis().max(1)
            ),
        )
        .retry_after(wait))
    }

    fn roster(&mut self, group_id: &str) -> Result<Arc<[String]>, OpError> {
        let rows = self.db.query(
            "SELECT user_id FROM group_members WHERE group_id = $1",
            &[&group_id],
        )?;
        let mut roster = Vec::with_capacity(rows.len());
        for r in rows {
            roster.push(r.try_get::<_, String>(0)?);
        }
        Ok(roster.into())
    }

    fn group_id_taken(&mut self, group_id: &str) -> Result<bool, OpError> {
        Ok(self
            .db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM groups WHERE group_id = $1)",
                &[&group_id],
            )?
            .try_get(0)?)
    }

    fn groups_of(&mut self, user: &str) -> Result<u64, OpError> {
        let n: i64 = self
            .db
            .query_one(
                "SELECT COUNT(*) FROM group_members WHERE user_id = $1",
                &[&user],
            )?
            .try_get(0)?;
        Ok(u(n))
    }

    fn members(&mut self, group_id: &str) -> Result<Vec<(String, Member)>, OpError> {
        self.live_conv_id(group_id)?;
        let rows = self.db.query(
            "SELECT user_id, role, join_seq, join_time, mute_until FROM group_members \
             WHERE group_id = $1",
            &[&group_id],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push((r.try_get(0)?, member_from(&r, 1)?));
        }
        Ok(out)
    }

    fn create_group(
        &mut self,
        group_id: &str,
        group_type: GroupType,
        name: &str,
        owner: &str,
        now: i64,
    ) -> Result<(), OpError> {
        let conv_id: i64 = self
            .db
            .query_one(
                "INSERT INTO convs (key) VALUES ($1) RETURNING conv_id",
                &[&group_key(group_id)],
            )?
            .try_get(0)?;
        self.db.execute(
            "INSERT INTO groups (group_id, conv_id, type, name, owner, create_time) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &group_id,
                &conv_id,
                &group_type.as_str(),
                &name,
                &owner,
                &now,
            ],
        )?;
        Ok(())
    }

    fn add_member(&mut self, group_id: &str, user: &str, member: &Member) -> Result<(), OpError> {
        let conv_id = self.live_conv_id(group_id)?;
        let role = i32::try_from(member.role).unwrap_or(i32::MAX);
        self.db.execute(
            "INSERT INTO group_members (group_id, user_id, role, join_seq, join_time, mute_until) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (group_id, user_id) DO UPDATE SET \
             role = excluded.role, join_seq = excluded.join_seq, join_time = excluded.join_time, \
             mute_until = excluded.mute_until",
            &[
                &group_id,
                &user,
                &role,
                &big(member.join_seq),
                &member.join_time,
                &member.mute_until,
            ],
        )?;
        // A fresh conversation row, read up to the join and ordered at the next position.
        self.db.execute(
            "INSERT INTO user_conversations (owner, conv, conv_id, group_id, read_seq, activated) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (owner, conv) DO UPDATE SET conv_id = excluded.conv_id, pinned = FALSE, \
             custom_data = '', read_seq = excluded.read_seq, read_time = 0, cleared_seq = 0, \
             deleted = FALSE, activated = excluded.activated, own_unread = 0",
            &[
                &user,
                &group_conversation(group_id),
                &conv_id,
                &group_id,
                &big(member.join_seq.saturating_sub(1)),
                &big(self.next_pos),
            ],
        )?;
        Ok(())
    }

    fn remove_member(&mut self, group_id: &str, user: &str) -> Result<(), OpError> {
        self.db.execute(
            "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
            &[&group_id, &user],
        )?;
        self.db.execute(
            "DELETE FROM user_conversations WHERE owner = $1 AND conv = $2",
            &[&user, &group_conversation(group_id)],
        )?;
        Ok(())
    }

    fn set_owner(&mut self, group_id: &str, user: &str) -> Result<(), OpError> {
        self.db.execute(
            "UPDATE groups SET owner = $2 WHERE group_id = $1",
            &[&group_id, &user],
        )?;
        domain::Tx::set_role(self, group_id, user, role::OWNER)
    }

    fn set_role(&mut self, group_id: &str, user: &str, new_role: u32) -> Result<(), OpError> {
        let new_role = i32::try_from(new_role).unwrap_or(i32::MAX);
        self.db.execute(
            "UPDATE group_members SET role = $3 WHERE group_id = $1 AND user_id = $2",
            &[&group_id, &user, &new_role],
        )?;
        Ok(())
    }

    fn set_mute(&mut self, group_id: &str, user: &str, until: i64) -> Result<(), OpError> {
        self.db.execute(
            "UPDATE group_members SET mute_until = $3 WHERE group_id = $1 AND user_id = $2",
            &[&group_id, &user, &until],
        )?;
        Ok(())
    }

    fn dismiss(&mut self, group_id: &str) -> Result<Vec<String>, OpError> {
        self.live_conv_id(group_id)?;
        let members: Vec<String> = self
            .db
            .query(
                "DELETE FROM group_members WHERE group_id = $1 RETURNING user_id",
                &[&group_id],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        self.db.execute(
            "UPDATE groups SET dismissed = TRUE WHERE group_id = $1",
            &[&group_id],
        )?;
        self.db.execute(
            "DELETE FROM user_conversations WHERE conv = $1 AND owner = ANY($2)",
            &[&group_conversation(group_id), &members],
        )?;
        Ok(members)
    }
}
