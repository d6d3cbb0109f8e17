//! Storage: what the server needs from a database, behind the [`Store`] trait.
//!
//! Writes are *commands* applied strictly in order by one writer (group commit: a batch
//! of commands, one transaction). After the commit each command is answered (its
//! [`Reply`]) and its [`Effect`]s (pushes) go to a [`CommitSink`], in commit order — from
//! one dispatcher task that gets each committed batch in one piece. Reads are plain
//! blocking calls, run on separate read connections from `spawn_blocking`.
//!
//! The rules that decide a command (who may kick whom, what counts as unread, …) live in
//! [`crate::server::domain`] and [`crate::server::rules`], so both engines — [`sqlite`]
//! (the embedded default) and [`postgres`] (several server processes on one database) —
//! apply the same ones.

mod dispatch;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::model::{
    Conversation, ConversationResult, GroupInfo, GroupMemberInfoResult, GroupMemberSpec,
};
use crate::protocol::{
    self, GetGroupMemberListParams, GetHistoryParams, GroupEventPush, GroupInfoResult,
    SendMessageParams,
};
use crate::server::error::OpError;

/// Identifies one WebSocket connection (so a push can skip the one that caused it).
pub type ConnId = u64;

/// The encoded `data` of a response: JSON text, `null` when there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data(pub String);

impl Data {
    pub fn null() -> Self {
        Data("null".into())
    }

    pub fn json<T: Serialize>(value: &T) -> Self {
        Data(protocol::to_text(value))
    }
}

/// Where a validated `sendMessage` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendTarget {
    C2c {
        receiver: String,
    },
    /// `targets` empty: the whole group; otherwise a targeted message to those members.
    Group {
        group_id: String,
        targets: Vec<String>,
    },
}

/// A `sendMessage` that passed the stateless checks (shape, sizes, limits).
#[derive(Debug, Clone)]
pub struct SendCmd {
    pub sender: String,
    pub conn: ConnId,
    pub target: SendTarget,
    pub params: SendMessageParams,
    /// Server time (s) to stamp the message with.
    pub now: i64,
}

/// One state change. Each carries the acting user and the connection it came from.
#[derive(Debug, Clone)]
pub enum WriteCmd {
    /// Create the account at first login (no-op when it exists).
    EnsureUser {
        user: String,
        now: i64,
    },
    Send(Box<SendCmd>),
    CleanUnread {
        user: String,
        conn: ConnId,
        conversation_id: String,
        clean_timestamp: i64,
        clean_sequence: u64,
        now: i64,
    },
    Pin {
        user: String,
        conn: ConnId,
        conversation_id: String,
        pinned: bool,
    },
    DeleteConversation {
        user: String,
        conn: ConnId,
        conversation_id: String,
    },
    SetCustomData {
        user: String,
        conn: ConnId,
        conversation_ids: Vec<String>,
        custom_data: String,
    },
    CreateGroup {
        user: String,
        conn: ConnId,
        group_type: crate::model::GroupType,
        group_name: String,
        group_id: Option<String>,
        members: Vec<GroupMemberSpec>,
        now: i64,
    },
    JoinGroup {
        user: String,
        conn: ConnId,
        group_id: String,
        now: i64,
    },
    QuitGroup {
        user: String,
        conn: ConnId,
        group_id: String,
        now: i64,
    },
    DismissGroup {
        user: String,
        conn: ConnId,
        group_id: String,
    },
    Invite {
        user: String,
        conn: ConnId,
        group_id: String,
        users: Vec<String>,
        now: i64,
    },
    Kick {
        user: String,
        conn: ConnId,
        group_id: String,
        members: Vec<String>,
        now: i64,
    },
    /// `seconds` 0 unmutes.
    Mute {
        user: String,
        conn: ConnId,
        group_id: String,
        member: String,
        seconds: u32,
        now: i64,
    },
    SetRole {
        user: String,
        conn: ConnId,
        group_id: String,
        member: String,
        role: u32,
        now: i64,
    },
}

/// A command plus where its answer goes (after the commit).
pub struct WriteRequest {
    pub cmd: WriteCmd,
    pub reply: Reply,
}

/// Where a command's answer goes once its batch is committed (or refused).
pub enum Reply {
    /// To a task waiting on the channel.
    Channel(oneshot::Sender<Result<Data, OpError>>),
    /// Called with the answer, in commit order and before the command's effects are
    /// delivered. The session uses it to queue the response on its connection directly,
    /// without a round trip through its own task.
    Call(Box<dyn FnOnce(Result<Data, OpError>) + Send>),
}

impl Reply {
    /// Hand over the answer (a waiter that is gone is not an error: what is committed
    /// stays committed).
    pub fn send(self, result: Result<Data, OpError>) {
        match self {
            Reply::Channel(tx) => {
                let _ = tx.send(result);
            }
            Reply::Call(f) => f(result),
        }
    }
}

impl From<oneshot::Sender<Result<Data, OpError>>> for Reply {
    fn from(tx: oneshot::Sender<Result<Data, OpError>>) -> Self {
        Reply::Channel(tx)
    }
}

/// Who a push goes to.
#[derive(Debug, Clone)]
pub enum Recipients {
    List(Vec<String>),
    /// A group's member list, shared (not copied) between messages.
    Roster(Arc<[String]>),
}

impl Recipients {
    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        match self {
            Recipients::List(v) => v.iter(),
            Recipients::Roster(r) => r.iter(),
        }
    }
}

/// A push caused by a committed command.
#[derive(Debug, Clone)]
pub enum Effect {
    /// `newMessage`: `message` is the message's JSON as stored.
    NewMessage {
        recipients: Recipients,
        except: Option<ConnId>,
        message: Arc<str>,
        cursor: Option<u64>,
        unread_counted: bool,
    },
    ConversationChanged {
        user: String,
        except: Option<ConnId>,
        conversations: Vec<Conversation>,
    },
    ConversationDeleted {
        user: String,
        except: Option<ConnId>,
        conversation_ids: Vec<String>,
    },
    GroupEvent {
        users: Vec<String>,
        except: Option<ConnId>,
        event: GroupEventPush,
    },
}

/// Receives the effects of each committed command, in commit order.
pub trait CommitSink: Send + Sync + 'static {
    fn deliver(&self, effects: Vec<Effect>);
}

/// Policies the writer applies (it is the one place that sees every group send).
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// `sendMessage` per group; beyond it 10023. `None`: unlimited.
    pub group_send_rate: Option<crate::server::limits::Rate>,
    /// WAL frames past which the log is restarted (`None`: 16,384, i.e. 64 MiB).
    pub wal_restart_frames: Option<i64>,
    /// Groups one user may be in (10037 beyond). 0: unlimited.
    pub max_groups_per_user: usize,
}

/// Storage errors that are not an op's business (opening, migrating).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// What the server needs from a database.
pub trait Store: Send + Sync + 'static {
    /// Queue a command for the writer. Commands are applied in the order they are queued;
    /// a full queue makes the caller wait. Fails (20005) once the store is closed.
    fn submit(&self, request: WriteRequest) -> BoxFuture<'_, Result<(), OpError>>;

    /// The newest sync cursor.
    fn max_cursor(&self) -> Result<u64, OpError>;
    /// `getHistoryMessageList` for `user`: a `MessageListResult` as JSON.
    fn history(&self, user: &str, params: &GetHistoryParams) -> Result<Data, OpError>;
    /// `sync` for `user`: a `SyncResult` as JSON — one page of the user's stream after
    /// `cursor`, bounded by `count` and bytes.
    fn sync(&self, user: &str, cursor: u64, count: u32) -> Result<Data, OpError>;
    fn conversation_list(
        &self,
        user: &str,
        next_seq: &str,
        count: u32,
    ) -> Result<ConversationResult, OpError>;
    fn conversation(&self, user: &str, conversation_id: &str) -> Result<Conversation, OpError>;
    fn total_unread(&self, user: &str) -> Result<u64, OpError>;
    fn joined_groups(&self, user: &str) -> Result<Vec<GroupInfo>, OpError>;
    fn groups_info(
        &self,
        user: &str,
        group_ids: &[String],
    ) -> Result<Vec<GroupInfoResult>, OpError>;
    fn group_members(
        &self,
        user: &str,
        params: &GetGroupMemberListParams,
    ) -> Result<GroupMemberInfoResult, OpError>;

    /// Apply everything queued so far, commit, and stop the writer. Blocking.
    fn close(&self);
}
