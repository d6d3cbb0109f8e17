//! The server's rules per area, written once for every storage engine: each command is
//! decided here, against a write transaction ([`Tx`]) that only reads and persists.
//!
//! An engine implements [`Tx`] inside its own transaction (the SQLite writer: one batch,
//! a savepoint per command). What a `Tx` answers must be true of the database the command
//! commits to — an engine's caches are its own business, kept true by the engine (dropped
//! and reloaded when in doubt), never something the rules rely on beyond one transaction.
//!
//! One module per area: [`messages`] (sends, group tips), [`conversations`] (read marks,
//! pins, deletes, custom data), [`groups`] (membership and roles). They call the pure
//! checks of [`crate::server::rules`].

pub mod conversations;
pub mod groups;
pub mod messages;

use std::sync::Arc;

use crate::model::{Conversation, ConversationId, ConversationTarget, GroupType, Message};
use crate::protocol::codes;
use crate::server::error::OpError;
use crate::server::rules;
use crate::server::store::{Data, Effect, WriteCmd};

/// One of a user's conversations as stored: its state and what visibility needs.
#[derive(Debug, Clone)]
pub struct ConvRow {
    pub conv: String,
    /// The engine's id of the conversation (C2C pair or group).
    pub conv_id: i64,
    pub group_id: Option<String>,
    pub pinned: bool,
    pub custom_data: String,
    pub read_seq: u64,
    pub read_time: i64,
    pub cleared_seq: u64,
    pub deleted: bool,
    pub activated: u64,
    pub group_type: Option<GroupType>,
    pub group_name: Option<String>,
    pub join_seq: Option<u64>,
    /// Counted messages this user sent after its unread floor.
    pub own_unread: u64,
}

impl ConvRow {
    /// The first seq this user may see.
    pub fn lower(&self) -> u64 {
        let after_clear = self.cleared_seq + 1;
        match (self.group_type, self.join_seq) {
            (Some(t), Some(j)) => after_clear.max(rules::visible_from(t, j)),
            _ => after_clear,
        }
    }

    /// Messages up to this seq are not unread.
    pub fn unread_floor(&self) -> u64 {
        self.read_seq.max(self.lower() - 1)
    }

    /// Groups that store no messages (AVChatRoom) have nothing to read or count.
    pub fn stores_nothing(&self) -> bool {
        self.group_type.is_some_and(|t| !t.stores_messages())
    }
}

/// A conversation named by a user, resolved for a conversation command.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub conv: String,
    pub conv_id: i64,
    pub peer: Option<String>,
    pub group_id: Option<String>,
    pub last_seq: u64,
}

/// The newest stored message of a conversation: its seq and timestamp ((0, 0): none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Head {
    pub seq: u64,
    pub time: i64,
}

/// Where a message is stored.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// The C2C conversation of a sender and a receiver.
    Pair(&'a str, &'a str),
    Group(&'a str),
}

/// The numbers the next stored message of a conversation takes (nothing is taken until
/// it is inserted).
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// The sync position (server-wide, in commit order).
    pub pos: u64,
    pub conv_id: i64,
    /// The conversation's next seq (dense from 1).
    pub seq: u64,
    /// The newest message's timestamp: the next one is stamped no earlier.
    pub not_before: i64,
}

/// Whose streams a stored message goes into (see docs/ARCHITECTURE.md "The sync cursor").
#[derive(Debug, Clone, Copy)]
pub enum StreamTo<'a> {
    /// Both sides of a C2C conversation (once when they are the same user).
    Pair(&'a str, &'a str),
    /// Every member of the group now.
    Members(&'a str),
    /// The sender and the targets of a targeted group message.
    Targets(&'a str, &'a [String]),
}

/// A stored message's row: its numbers, how it counts, and whose streams it joins.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub pos: u64,
    pub conv_id: i64,
    pub seq: u64,
    /// The sender's creation id (idempotency key); server-made messages use
    /// `rules::server_message_key`.
    pub client_id: &'a str,
    /// Counts as unread for its receivers (then never targeted).
    pub counted: bool,
    pub targeted: bool,
    /// The sender's own conversation id (its own-unread counter moves with a counted
    /// message).
    pub sender_conv: String,
    pub to: StreamTo<'a>,
}

/// A group as a send needs it.
#[derive(Debug, Clone, Copy)]
pub struct GroupSend {
    pub group_type: GroupType,
    /// The sender's mute (UTC s, 0: none); `None` when the sender is not a member.
    pub sender_mute_until: Option<i64>,
}

/// A live group as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct GroupView {
    pub group_type: GroupType,
    pub conv_id: i64,
    /// The newest seq of the group's conversation.
    pub last_seq: u64,
    pub member_count: usize,
}

/// One membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub role: u32,
    /// The group seq at which this membership began (its join tips, or 1).
    pub join_seq: u64,
    pub join_time: i64,
    /// UTC seconds; 0 = not muted.
    pub mute_until: i64,
}

/// What the rules read and write inside one command's transaction. Methods answer from
/// the database the command commits to; `Err` is a storage failure (20005).
pub trait Tx {
    // ---------------------------------------------------------------- accounts and
    // what a conversation id names
    /// Create the account when it does not exist.
    fn ensure_user(&mut self, user: &str, now: i64) -> Result<(), OpError>;
    fn user_exists(&mut self, user: &str) -> Result<bool, OpError>;
    /// The C2C conversation of a pair (created when absent) and its newest message.
    fn c2c_head(&mut self, a: &str, b: &str) -> Result<(i64, Head), OpError>;
    /// A live group; `None` when there is no such group or it was dismissed.
    fn group(&mut self, group_id: &str) -> Result<Option<GroupView>, OpError>;
    /// `user`'s membership of a live group.
    fn member(&mut self, group_id: &str, user: &str) -> Result<Option<Member>, OpError>;

    // ---------------------------------------------------------------- conversation rows
    /// `user`'s row of a conversation (`None`: none, or a group the user is not in).
    fn conv_row(&mut self, user: &str, conv: &str) -> Result<Option<ConvRow>, OpError>;
    /// All of `user`'s live rows.
    fn conv_rows(&mut self, user: &str) -> Result<Vec<ConvRow>, OpError>;
    /// Create `user`'s row of a resolved conversation when it has none.
    fn ensure_row(&mut self, user: &str, r: &Resolved) -> Result<(), OpError>;
    /// The conversation object `user` sees now (`None`: hidden by a delete).
    fn conversation(&mut self, user: &str, row: &ConvRow) -> Result<Option<Conversation>, OpError>;
    /// Rows of `user` that carry custom data.
    fn count_with_custom_data(&mut self, user: &str) -> Result<u64, OpError>;

    // ---------------------------------------------------------------- messages read
    fn head(&mut self, conv_id: i64) -> Result<Head, OpError>;
    /// The newest message stamped at or before `time`.
    fn head_at_time(&mut self, conv_id: i64, time: i64) -> Result<Option<Head>, OpError>;
    /// Counted messages `sender` sent with seq in `(after, upto]`.
    fn count_own_counted(
        &mut self,
        conv_id: i64,
        sender: &str,
        after: u64,
        upto: u64,
    ) -> Result<u64, OpError>;

    // ---------------------------------------------------------------- row writes
    /// Move the read mark forward (never back) and set the own-unread counter; `false`
    /// when the row does not exist.
    fn set_read_mark(
        &mut self,
        user: &str,
        conv: &str,
        seq: u64,
        time: i64,
        own_unread: u64,
    ) -> Result<bool, OpError>;
    /// Pin or unpin (a pin also brings back a deleted row).
    fn set_pinned(&mut self, user: &str, conv: &str, pinned: bool) -> Result<(), OpError>;
    /// Hide the conversation and what it holds up to `last_seq` for `user`; `false` when
    /// the user has no row.
    fn delete_row(&mut self, user: &str, conv: &str, last_seq: u64) -> Result<bool, OpError>;
    fn set_custom_data(&mut self, user: &str, conv: &str, data: &str) -> Result<(), OpError>;

    // ---------------------------------------------------------------- messages
    /// The stored message `sender` created with `client_id` (its position and JSON).
    fn stored_send(
        &mut self,
        sender: &str,
        client_id: &str,
    ) -> Result<Option<(u64, String)>, OpError>;
    /// The numbers the next message stored in `place` takes (C2C: the conversation is
    /// created when absent).
    fn next_slot(&mut self, place: &Place<'_>) -> Result<Slot, OpError>;
    /// Persist a message at its slot: the row, its rows in the recipients' streams, the
    /// sender's own-unread counter, a targeted message's targets; for a C2C pair, both
    /// users' conversation rows when they are new.
    fn insert_message(
        &mut self,
        place: &Place<'_>,
        new: &NewMessage<'_>,
        msg: &Message,
        body: &str,
    ) -> Result<(), OpError>;
    /// A live group (`None`: no such group, or dismissed) as `sender` would send to it.
    fn group_for_send(
        &mut self,
        group_id: &str,
        sender: &str,
    ) -> Result<Option<GroupSend>, OpError>;
    /// The first of `users` who is not a member of the group.
    fn first_non_member(
        &mut self,
        group_id: &str,
        users: &[String],
    ) -> Result<Option<String>, OpError>;
    /// Spend one send from the group's rate (10023, with when to retry, when spent).
    fn take_group_send(&mut self, group_id: &str) -> Result<(), OpError>;
    /// The group's members, as push recipients.
    fn roster(&mut self, group_id: &str) -> Result<Arc<[String]>, OpError>;

    // ---------------------------------------------------------------- groups
    /// Is the id used by any group, dismissed ones included?
    fn group_id_taken(&mut self, group_id: &str) -> Result<bool, OpError>;
    /// How many groups `user` is a member of.
    fn groups_of(&mut self, user: &str) -> Result<u64, OpError>;
    /// Every member of a live group, with their memberships.
    fn members(&mut self, group_id: &str) -> Result<Vec<(String, Member)>, OpError>;
    fn create_group(
        &mut self,
        group_id: &str,
        group_type: GroupType,
        name: &str,
        owner: &str,
        now: i64,
    ) -> Result<(), OpError>;
    /// Add a member and give it a fresh conversation row, read up to `join_seq - 1` and
    /// ordered at the next position.
    fn add_member(&mut self, group_id: &str, user: &str, member: &Member) -> Result<(), OpError>;
    /// Remove a member and its conversation row.
    fn remove_member(&mut self, group_id: &str, user: &str) -> Result<(), OpError>;
    /// Make `user` (a member) the owner.
    fn set_owner(&mut self, group_id: &str, user: &str) -> Result<(), OpError>;
    fn set_role(&mut self, group_id: &str, user: &str, role: u32) -> Result<(), OpError>;
    fn set_mute(&mut self, group_id: &str, user: &str, until: i64) -> Result<(), OpError>;
    /// Mark the group dismissed and drop its memberships; returns the former members.
    fn dismiss(&mut self, group_id: &str) -> Result<Vec<String>, OpError>;
}

/// Resolve a conversation id for `user`: 6004 when it is malformed or names nobody,
/// 10010 / 10007 for a missing group or one the user is not in.
pub fn resolve(tx: &mut dyn Tx, user: &str, conversation_id: &str) -> Result<Resolved, OpError> {
    match ConversationId::parse(conversation_id) {
        Some(ConversationTarget::C2c(peer)) => {
            if !crate::model::is_valid_user_id(&peer) || !tx.user_exists(&peer)? {
                return Err(OpError::new(
                    codes::ERR_INVALID_CONVERSATION,
                    format!("no such conversation: user {peer:?} has no account"),
                ));
            }
            let (conv_id, head) = tx.c2c_head(user, &peer)?;
            Ok(Resolved {
                conv: conversation_id.to_string(),
                conv_id,
                peer: Some(peer),
                group_id: None,
                last_seq: head.seq,
            })
        }
        Some(ConversationTarget::Group(group_id)) => {
            let Some(g) = tx.group(&group_id)? else {
                return Err(OpError::no_group(&group_id));
            };
            if tx.member(&group_id, user)?.is_none() {
                return Err(OpError::denied(format!(
                    "you are not a member of group {group_id:?}"
                )));
            }
            Ok(Resolved {
                conv: conversation_id.to_string(),
                conv_id: g.conv_id,
                peer: None,
                last_seq: g.last_seq,
                group_id: Some(group_id),
            })
        }
        None => Err(invalid_conversation(conversation_id)),
    }
}

/// 6004 for a conversation id that is not `c2c_<user>` or `group_<group>`.
pub fn invalid_conversation(conversation_id: &str) -> OpError {
    OpError::new(
        codes::ERR_INVALID_CONVERSATION,
        format!("conversationID {conversation_id:?} is neither c2c_<userID> nor group_<groupID>"),
    )
}

/// Decide and apply one command inside `tx` (the engine's transaction), its pushes into
/// `fx`. `quota`: groups one user may be in (0: no cap).
pub fn apply(
    tx: &mut dyn Tx,
    cmd: &WriteCmd,
    quota: usize,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    match cmd {
        WriteCmd::EnsureUser { user, now } => {
            tx.ensure_user(user, *now)?;
            Ok(Data::null())
        }
        WriteCmd::Send(send) => messages::send(tx, send, fx),
        WriteCmd::CleanUnread {
            user,
            conn,
            conversation_id,
            clean_timestamp,
            clean_sequence,
            now,
        } => conversations::clean_unread(
            tx,
            user,
            *conn,
            conversation_id,
            *clean_timestamp,
            *clean_sequence,
            *now,
            fx,
        ),
        WriteCmd::Pin {
            user,
            conn,
            conversation_id,
            pinned,
        } => conversations::pin(tx, user, *conn, conversation_id, *pinned, fx),
        WriteCmd::DeleteConversation {
            user,
            conn,
            conversation_id,
        } => conversations::delete(tx, user, *conn, conversation_id, fx),
        WriteCmd::SetCustomData {
            user,
            conn,
            conversation_ids,
            custom_data,
        } => conversations::set_custom_data(tx, user, *conn, conversation_ids, custom_data, fx),
        WriteCmd::CreateGroup {
            user,
            conn,
            group_type,
            group_name,
            group_id,
            members,
            now,
        } => groups::create(
            tx,
            user,
            *conn,
            *group_type,
            group_name,
            group_id.as_deref(),
            members,
            *now,
            quota,
            fx,
        ),
        WriteCmd::JoinGroup {
            user,
            conn,
            group_id,
            now,
        } => groups::join(tx, user, *conn, group_id, *now, quota, fx),
        WriteCmd::QuitGroup {
            user,
            conn,
            group_id,
            now,
        } => groups::quit(tx, user, *conn, group_id, *now, fx),
        WriteCmd::DismissGroup {
            user,
            conn,
            group_id,
        } => groups::dismiss(tx, user, *conn, group_id, fx),
        WriteCmd::Invite {
            user,
            conn: _,
            group_id,
            users,
            now,
        } => groups::invite(tx, user, group_id, users, *now, quota, fx),
        WriteCmd::Kick {
            user,
            conn: _,
            group_id,
            members,
            now,
        } => groups::kick(tx, user, group_id, members, *now, fx),
        WriteCmd::Mute {
            user,
            conn: _,
            group_id,
            member,
            seconds,
            now,
        } => groups::mute(tx, user, group_id, member, *seconds, *now, fx),
        WriteCmd::SetRole {
            user,
            conn: _,
            group_id,
            member,
            role,
            now,
        } => groups::set_role(tx, user, group_id, member, *role, *now, fx),
    }
}
