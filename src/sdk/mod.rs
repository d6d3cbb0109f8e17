//! The client SDK, shaped like Tencent Cloud Chat's V2TIM.
//!
//! ```text
//! Tim::login(config, user, sig) ─▶ Tim (Clone; cheap handle)
//!   ├─ add_listener()            events: new message, conversation changes, unread, …
//!   ├─ create_*_message + send_message
//!   ├─ get_history_message_list  cache first, server when the cache has a hole
//!   ├─ conversations (local list, drafts, pins, custom data, unread)
//!   └─ groups (thin wrappers over the server ops)
//! ```
//!
//! Inside: a [`transport`] (one WebSocket, requests by reqId, pushes), a [`cache`] (one
//! SQLite file per user) and a [`session`] task that logs in again after every reconnect,
//! syncs what was missed and applies pushes to the cache before announcing them.
//!
//! # Behaviour chosen where V2TIM (or our spec) is silent
//!
//! - **Login** returns once the `login` op succeeded; the sync (messages from the stored
//!   cursor, then the whole conversation list) runs in the background and ends with
//!   `SyncFinished`. Events emitted before the first `add_listener` are buffered and handed
//!   to that first listener, so `login` → `add_listener` never misses the first sync.
//! - **Created messages** are kept in the cache with status *sending* (1) but belong to no
//!   conversation, so they never show in history until `send_message`. Never-sent ones are
//!   dropped after 7 days. `create_targeted_group_message` makes a *new* created message
//!   (new id); the original stays usable.
//! - **send_message** validation failures (6017, 8001) change nothing: the message stays
//!   created-but-unsent. Once validated the message joins its conversation as *sending*
//!   (placed after the newest stored message), `MessageUpdated` fires, and it ends *sent*
//!   (2) or *failed* (3), `MessageUpdated` again. The conversation (last message, order) is
//!   updated on the ack, not before. A failed message can be sent again with the same id
//!   (the server dedupes by it). Sending a message that is already sent answers the stored
//!   message (and `MessageUpdated`): its ack may have been missed.
//! - **Sends survive reconnects**: a send started while disconnected, or cut off by a
//!   disconnect, waits for the session to reconnect and is retried with the same creation
//!   id, for up to 30 s; then it fails with 9508 / 9520. All other requests fail fast with
//!   9508 while disconnected. A message left *sending* by a previous process is marked
//!   failed when the cache is opened.
//! - **Online-only** messages never enter the cache, on either side: the sender gets the
//!   result and `MessageUpdated` events, receivers get `NewMessage`, no conversation,
//!   unread or history changes. A failed online-only send stays created (resendable).
//! - `receiver` + `group_id` (targeted to one member) is sent as both on the wire; the
//!   sender's copy shows `targetGroupMemberList = [receiver]`.
//! - **Unread** is counted locally from pushes (`unreadCounted`, not my own). The server's
//!   conversation objects replace local counters whenever they arrive (list refresh after
//!   every sync, `conversationChanged`, answers to my own changes); a message whose seq the
//!   last server snapshot already covered is not counted again.
//! - **Messages brought by sync** emit `NewMessage` too (they are new to this device); the
//!   conversation list is then refreshed from the server, which emits
//!   `NewConversation`/`ConversationChanged`/`ConversationDeleted`/`TotalUnreadChanged`.
//!   Conversations the server no longer lists are removed locally unless they hold a draft
//!   or an unsent/failed message.
//! - **Cloud history** is served from the cache when the cached page has no seq hole and,
//!   for the newest end, the current connection has finished its sync; otherwise the
//!   server is asked and its page stored. While disconnected cloud types read the cache.
//! - **Drafts** on a conversation not known yet create it locally.
//! - **searchLocalMessages** reads only the cache (works offline): text, and a custom
//!   message's data / desc / extension; ASCII case-insensitive, other scripts by
//!   substring; not localCustomData or cloudCustomData. Newest first. Searching all
//!   conversations follows V2TIM's shape (the message listed only for a conversation with
//!   one match) unless `messages_per_conversation` (termim) asks for more. See
//!   `search.rs`.
//! - A re-login refused with a UserSig/identity code (70002–70052, 7003) or a
//!   `kickedOffline` push ends the session: state `LoggedOut`, every call answers 6014.
//! - **An expired UserSig** (V2TIM `onUserSigExpired`) is `TimEvent::UserSigExpired`:
//!   pushed by the server while connected (the session then has the server's grace to
//!   renew), or learnt from a re-login refused with 70001 / 6206. V2TIM's answer is to log
//!   in again with a new sig; here [`Tim::renew_user_sig`] gives the *same* instance the
//!   new sig: connected, the server checks it (`renewUserSig`) and the session goes on,
//!   catching up with a sync; otherwise it is kept, and a session that was waiting for a
//!   sig logs in with it at once. Reconnects always use the newest sig given. A session
//!   whose re-login was refused for an expired sig stays `Disconnected` (not
//!   `LoggedOut`) until it gets one: the cache still reads.
//! - The cache is `<data_dir>/<userID>/<SDKAppID>/cache.db`: one per (server, user), the
//!   SDKAppID read from the UserSig. User ids that are not plain file names (they may
//!   contain `/`, spaces, …) are percent-encoded. An older termim's
//!   `<data_dir>/<userID>/cache.db` is moved there on first use.
//! - **Several processes of one user** (a TUI, `termim listen`, scripted sends) share the
//!   cache file. Writes are IMMEDIATE transactions that queue on SQLite's lock; each
//!   process keeps its own stream position, so every process announces every message past
//!   it (even one another process stored first) exactly once, with the conversation as
//!   cached. A push that cannot be applied is not forgotten: the session syncs again from
//!   its position. A send whose ack arrived is a success even if the cache could not
//!   record it (the next sync does).
//! - Dropping the last `Tim` handle ends the session like `logout` (without telling the
//!   server).

mod cache;
mod conversation;
mod error;
mod group;
mod message;
mod search;
mod session;
mod tls;
mod transport;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

pub use error::TimError;
pub use search::{
    DEFAULT_PAGE_SIZE, KEYWORDS_MAX, KeywordListMatchType, MessageSearchParam, MessageSearchResult,
    MessageSearchResultItem, SENDERS_MAX,
};

pub use crate::model::{
    Conversation, ConversationOperationResult, ConversationResult, CreateInfo, CustomElem,
    GroupInfo, GroupMemberFullInfo, GroupMemberInfoResult, GroupMemberOperationResult,
    GroupMemberSpec, Message, MessageStatus, OfflinePushInfo, Priority, TextElem,
};
pub use crate::protocol::{GroupEventPush, MessageListResult};

use crate::protocol::codes;
use cache::Cache;
use transport::Transport;

/// Where to connect and where the caches live (`<data_dir>/<userID>/<SDKAppID>/cache.db`).
#[derive(Debug, Clone)]
pub struct SdkConfig {
    /// `ws://host:port`, or `wss://host:port` for TLS (the certificate verified against
    /// the system's roots and `ca_cert_pem`).
    pub server_url: String,
    pub data_dir: PathBuf,
    /// A private CA to trust for `wss://` besides the system's roots (PEM text, one or
    /// more certificates).
    pub ca_cert_pem: Option<String>,
}

/// `V2TimSDKListener`'s connection states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectionState {
    #[default]
    Connecting,
    Connected,
    Disconnected,
    LoggedOut,
}

/// Everything the SDK announces, in the order it happened.
#[derive(Debug, Clone)]
pub enum TimEvent {
    /// Incoming, incl. my own from other devices (and what sync brought in).
    NewMessage(Message),
    /// Status change of a message sent from this device (sending → sent / failed).
    MessageUpdated(Message),
    NewConversation(Vec<Conversation>),
    ConversationChanged(Vec<Conversation>),
    ConversationDeleted(Vec<String>),
    TotalUnreadChanged(u64),
    ConnectionChanged(ConnectionState),
    /// The sync after a login or reconnect is done: the cache holds everything missed.
    SyncFinished,
    GroupEvent(GroupEventPush),
    KickedOffline,
    /// V2TIM `onConnectFailed(code, error)`: an attempt to (re)connect failed; the SDK
    /// tries again with backoff. The error says why (a refused TLS certificate, …).
    ConnectFailed(TimError),
    /// V2TIM `onUserSigExpired`: the UserSig is no longer valid. Give a new one with
    /// [`Tim::renew_user_sig`] (within the server's grace, the connection goes on).
    UserSigExpired,
}

/// `HistoryMsgGetTypeEnum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryGetType {
    CloudOlder,
    CloudNewer,
    LocalOlder,
    LocalNewer,
}

/// `getHistoryMessageList` options. Start: `last_msg_id` (exclusive) wins over
/// `last_msg_seq` (inclusive); neither = from the newest (older) / the oldest (newer).
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    pub conversation_id: String,
    pub get_type: HistoryGetType,
    pub count: u32,
    pub last_msg_id: Option<String>,
    pub last_msg_seq: Option<u64>,
}

/// Every per-send option of V2TIM's `sendMessage`. `id` is the creation id from a
/// `create_*_message` call; exactly one of `receiver` / `group_id` (both = targeted to that
/// one member).
#[derive(Debug, Clone, Default)]
pub struct SendParams {
    pub id: String,
    pub receiver: String,
    pub group_id: String,
    pub priority: Priority,
    pub online_user_only: bool,
    pub offline_push_info: Option<OfflinePushInfo>,
    pub need_read_receipt: bool,
    pub is_excluded_from_unread_count: bool,
    pub is_excluded_from_last_message: bool,
    pub is_support_message_extension: bool,
    pub cloud_custom_data: Option<String>,
    /// Stays in this device's cache; never sent.
    pub local_custom_data: Option<String>,
}

/// A logged-in SDK instance. Clones share it; dropping the last clone logs out.
#[derive(Clone)]
pub struct Tim {
    inner: Arc<Inner>,
    _alive: Arc<AliveGuard>,
}

/// Stops the session task when the last `Tim` handle goes away.
struct AliveGuard {
    inner: Arc<Inner>,
}

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.inner.shutdown();
    }
}

pub(crate) struct Inner {
    me: String,
    /// The newest UserSig given (login, then each renewal); every login uses it.
    user_sig: Mutex<String>,
    /// The SDKAppID the cache belongs to (read from the first sig).
    sdk_app_id: u64,
    /// The UserSig expired and no new one has been taken since (`UserSigExpired` was
    /// announced once for it).
    sig_expired: AtomicBool,
    /// A new sig arrived: wakes a session waiting for one.
    sig_renewed: tokio::sync::Notify,
    /// The server took a new sig for an expired session: the connection's `drive` syncs
    /// what was stored while nothing was pushed.
    resync: tokio::sync::Notify,
    cache: Cache,
    transport: Arc<Transport>,
    events: EventHub,
    state: watch::Sender<ConnectionState>,
    /// Set by logout, a kick or a refused re-login: every call answers 6014 from then on.
    logged_out: AtomicBool,
    /// The current connection finished its sync: the cache is complete at the newest end.
    synced: AtomicBool,
    /// Woken each time a sync finishes (`synced` turns true).
    sync_done: tokio::sync::Notify,
    shutdown: watch::Sender<bool>,
    /// Creation ids with a send in progress.
    in_flight: Mutex<HashSet<String>>,
    /// Counts applied pushes. A conversation fetched by request is only taken as the truth
    /// if no push was applied while the request was out (else the answer may be older).
    push_generation: Mutex<u64>,
    /// How far *this process* has announced the user's stream (see [`Stream`]).
    stream: Mutex<Stream>,
    session: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Inner {
    fn check_logged_in(&self) -> Result<(), TimError> {
        if self.logged_out.load(Ordering::SeqCst) {
            Err(TimError::not_logged_in())
        } else {
            Ok(())
        }
    }

    /// This process's stream position (see [`Stream`]).
    fn stream(&self) -> std::sync::MutexGuard<'_, Stream> {
        self.stream.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_state(&self, state: ConnectionState) {
        let changed = self.state.send_if_modified(|s| {
            if *s == state {
                false
            } else {
                *s = state;
                true
            }
        });
        if changed {
            self.events.emit(TimEvent::ConnectionChanged(state));
        }
    }

    fn state(&self) -> ConnectionState {
        *self.state.borrow()
    }

    /// The UserSig every login uses: the newest one given.
    fn user_sig(&self) -> String {
        self.user_sig
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The sig expired (a push, or a refused re-login): announce it once.
    fn sig_expired(&self) {
        if !self.sig_expired.swap(true, Ordering::SeqCst) {
            self.events.emit(TimEvent::UserSigExpired);
        }
    }

    fn shutdown(&self) {
        self.logged_out.store(true, Ordering::SeqCst);
        let _ = self.shutdown.send(true);
        self.transport.kill_current();
    }

    /// An ordinary request: only while logged in on a live connection (else 6014 / 9508).
    async fn request(
        &self,
        op: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, TimError> {
        self.check_logged_in()?;
        if self.state() != ConnectionState::Connected {
            return Err(TimError::disconnected());
        }
        self.transport
            .request(op, params, transport::REQUEST_TIMEOUT)
            .await
    }

    /// A request that may be repeated without changing its outcome (a conversation change):
    /// when the server refuses it for a rate (-20009) and says when to retry, wait that
    /// long (at most 2 s each time) and send it again, a few times, before giving up.
    async fn request_idempotent(
        &self,
        op: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, TimError> {
        const RETRIES: usize = 3;
        let mut tries = 0;
        loop {
            match self.request(op, params.clone()).await {
                Err(e)
                    if e.code == crate::protocol::codes::ERR_SVR_COMM_FREQUENCY_LIMIT
                        && tries < RETRIES =>
                {
                    tries += 1;
                    let wait = e.retry_after_ms.unwrap_or(100).clamp(1, 2000);
                    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                }
                other => return other,
            }
        }
    }

    fn emit_changes(&self, changes: Vec<cache::ConvChange>) {
        let (new, changed): (Vec<_>, Vec<_>) = changes.into_iter().partition(|c| c.is_new);
        if !new.is_empty() {
            self.events.emit(TimEvent::NewConversation(
                new.into_iter().map(|c| c.conversation).collect(),
            ));
        }
        if !changed.is_empty() {
            self.events.emit(TimEvent::ConversationChanged(
                changed.into_iter().map(|c| c.conversation).collect(),
            ));
        }
    }
}

/// This process's place in the user's ordered stream of stored messages.
///
/// The cache file is shared by every termim process of the user (a TUI, `termim listen`,
/// scripted sends), and so is its sync cursor: it says what the *file* holds. What each
/// process has *announced* to its listeners is its own: a message another process stored
/// first is still new here. So each process keeps its own position, syncs from it, and
/// announces every message past it exactly once, whoever wrote it to the file.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    /// Every stored message up to this position has been announced (or was in the cache
    /// when this process opened it).
    pub announced: u64,
    /// My own messages acknowledged to this process beyond `announced` (msgID → position):
    /// already announced as `MessageUpdated`, so a sync that brings them back is quiet.
    pub acked: std::collections::HashMap<String, u64>,
}

impl Stream {
    /// Remember one of my sends acknowledged at `pos`, unless the position is past it.
    pub fn remember_ack(&mut self, msg_id: &str, pos: u64) {
        if pos > self.announced {
            self.acked.insert(msg_id.to_string(), pos);
        }
    }

    /// Move past `pos`; acked messages at or before it are no longer needed.
    pub fn advance(&mut self, pos: u64) {
        if pos > self.announced {
            self.announced = pos;
            let announced = self.announced;
            self.acked.retain(|_, p| *p > announced);
        }
    }
}

/// Events kept for the first listener at most; older ones are dropped first.
const BACKLOG_MAX: usize = 100_000;

/// Listener registry. Events emitted before the first listener is added are kept and
/// handed to it, so `login` → `add_listener` misses nothing (e.g. the first SyncFinished).
#[derive(Default)]
struct EventHub {
    state: Mutex<HubState>,
}

struct HubState {
    listeners: Vec<mpsc::UnboundedSender<TimEvent>>,
    backlog: Option<std::collections::VecDeque<TimEvent>>,
}

impl Default for HubState {
    fn default() -> Self {
        HubState {
            listeners: Vec::new(),
            backlog: Some(std::collections::VecDeque::new()),
        }
    }
}

impl EventHub {
    fn emit(&self, event: TimEvent) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(backlog) = state.backlog.as_mut() {
            if backlog.len() >= BACKLOG_MAX {
                backlog.pop_front();
            }
            backlog.push_back(event);
            return;
        }
        state.listeners.retain(|l| l.send(event.clone()).is_ok());
    }

    fn add(&self) -> mpsc::UnboundedReceiver<TimEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(backlog) = state.backlog.take() {
            for event in backlog {
                let _ = tx.send(event);
            }
        }
        state.listeners.push(tx);
        rx
    }
}

/// The directory under `data_dir` that holds a user's cache: the user id itself when it is
/// a plain file name, else a percent-encoded form (user ids may contain `/`, `.` …).
fn user_dir_name(user_id: &str) -> String {
    let plain = user_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@' | b'.'))
        && user_id != "."
        && user_id != "..";
    if plain {
        return user_id.to_string();
    }
    let mut out = String::new();
    for b in user_id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where the cache of `user_id` on the server `sdk_app_id` lives:
/// `<data_dir>/<userID>/<SDKAppID>/cache.db` — one per (server, user), like V2TIM's store
/// per SDKAppID, so logging in to another server never shows this one's conversations.
///
/// A cache of an older termim (`<data_dir>/<userID>/cache.db`, one per user) is moved
/// there the first time, unless it is marked as another server's.
fn cache_path(
    data_dir: &std::path::Path,
    sdk_app_id: u64,
    user_id: &str,
) -> Result<PathBuf, TimError> {
    let user_dir = data_dir.join(user_dir_name(user_id));
    // 0700, also when an older termim left it readable to others.
    crate::private_fs::create_dir_all(&user_dir).map_err(TimError::database)?;
    let dir = user_dir.join(sdk_app_id.to_string());
    let path = dir.join("cache.db");
    let legacy = user_dir.join("cache.db");
    if !path.exists() && legacy.exists() {
        match Cache::adopt_legacy(&legacy, &path, sdk_app_id) {
            Ok(true) => {
                tracing::info!(from = %legacy.display(), to = %path.display(), "moved the cache to its per-server place")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, from = %legacy.display(), "an older cache could not be moved; starting a new one")
            }
        }
    }
    Ok(path)
}

impl Tim {
    /// Open the user's cache, connect, log in. Sync runs in the background afterwards;
    /// `TimEvent::SyncFinished` says when the cache has caught up. Fails when the server
    /// cannot be reached (9508 / 9510 / 9520) or refuses the login.
    pub async fn login(config: SdkConfig, user_id: &str, user_sig: &str) -> Result<Tim, TimError> {
        Self::start(config, user_id, user_sig, false).await
    }

    /// Like [`Tim::login`], but without waiting for the server: returns as soon as the
    /// cache is open (everything this device has can be read, drafts written, messages
    /// created) and connects in the background, with the usual backoff while the server
    /// cannot be reached (state `Connecting` / `Disconnected` → `Connected`, then the
    /// sync; each failed attempt is a `TimEvent::ConnectFailed` saying why). A refused
    /// login turns the state `LoggedOut` (logged with its reason). What an app that must
    /// open at once and offline (the TUI) calls.
    pub async fn open(config: SdkConfig, user_id: &str, user_sig: &str) -> Result<Tim, TimError> {
        Self::start(config, user_id, user_sig, true).await
    }

    async fn start(
        config: SdkConfig,
        user_id: &str,
        user_sig: &str,
        offline_ok: bool,
    ) -> Result<Tim, TimError> {
        if !crate::model::is_valid_user_id(user_id) {
            return Err(TimError::new(
                codes::ERR_INVALID_IDENTIFIER,
                "userID must be 1 to 32 printable ASCII characters",
            ));
        }
        let sdk_app_id = crate::usersig::sdk_app_id_of(user_sig)
            .map_err(|e| TimError::new(e.code(), e.to_string()))?;
        let path = cache_path(&config.data_dir, sdk_app_id, user_id)?;
        let cache = Cache::open(&path, user_id)?;
        cache.mark_server(sdk_app_id)?;
        let cursor = cache.cursor()?;
        let tls = tls::for_url(&config.server_url, config.ca_cert_pem.as_deref())?;
        let transport = Transport::new(&config.server_url, tls);
        let (state, _) = watch::channel(ConnectionState::Connecting);
        let (shutdown, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            me: user_id.to_string(),
            user_sig: Mutex::new(user_sig.to_string()),
            sdk_app_id,
            sig_expired: AtomicBool::new(false),
            sig_renewed: tokio::sync::Notify::new(),
            resync: tokio::sync::Notify::new(),
            cache,
            transport,
            events: EventHub::default(),
            state,
            logged_out: AtomicBool::new(false),
            synced: AtomicBool::new(false),
            sync_done: tokio::sync::Notify::new(),
            shutdown,
            in_flight: Mutex::new(HashSet::new()),
            push_generation: Mutex::new(0),
            stream: Mutex::new(Stream {
                announced: cursor,
                acked: Default::default(),
            }),
            session: Mutex::new(None),
        });
        let first = if offline_ok {
            None
        } else {
            let link = session::establish(&inner).await?;
            inner.set_state(ConnectionState::Connected);
            Some(link)
        };
        let handle = tokio::spawn(session::run(Arc::clone(&inner), first));
        *inner.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok(Tim {
            _alive: Arc::new(AliveGuard {
                inner: Arc::clone(&inner),
            }),
            inner,
        })
    }

    /// Log out: tell the server, close the connection, stop reconnecting. Every later call
    /// on this instance (and its clones) answers 6014.
    pub async fn logout(&self) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        if inner.state() == ConnectionState::Connected {
            let _ = inner
                .transport
                .request(
                    crate::protocol::op::LOGOUT,
                    serde_json::json!({}),
                    std::time::Duration::from_secs(2),
                )
                .await;
        }
        inner.shutdown();
        let handle = inner
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), handle).await;
        }
        inner.set_state(ConnectionState::LoggedOut);
        Ok(())
    }

    /// Give the session a new UserSig — what V2TIM's `login` with a new sig does after
    /// `onUserSigExpired`, without starting another instance. Connected, the server
    /// checks it (`renewUserSig`; refused: 70001 expired, 70003 malformed or beyond the
    /// server's limits, 70009, 70013 another user's, 70014 another SDKAppID's) and the
    /// session goes on; what was stored while the old sig had expired is synced. Not
    /// connected, the sig is kept for the next login (which checks it), and a session
    /// waiting for a new sig logs in with it now. A sig for another SDKAppID than the
    /// cache's is refused here (70014): that is another server's data.
    pub async fn renew_user_sig(&self, user_sig: &str) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        let sdk_app_id = crate::usersig::sdk_app_id_of(user_sig)
            .map_err(|e| TimError::new(e.code(), e.to_string()))?;
        if sdk_app_id != inner.sdk_app_id {
            return Err(TimError::new(
                codes::ERR_USER_SIG_SDKAPPID_MISMATCH,
                format!(
                    "this UserSig is for SDKAppID {sdk_app_id}, not {} (the server this session uses)",
                    inner.sdk_app_id
                ),
            ));
        }
        if inner.state() == ConnectionState::Connected {
            let params = crate::protocol::RenewUserSigParams {
                user_sig: user_sig.to_string(),
            };
            let renewed = inner
                .transport
                .request(
                    crate::protocol::op::RENEW_USER_SIG,
                    serde_json::to_value(params).unwrap_or_default(),
                    transport::REQUEST_TIMEOUT,
                )
                .await;
            match renewed {
                Ok(_) => {}
                // Lost on the way: the next login checks the sig instead.
                Err(e) if e.is_network() => {}
                Err(e) => return Err(e),
            }
        }
        *inner.user_sig.lock().unwrap_or_else(|p| p.into_inner()) = user_sig.to_string();
        if inner.sig_expired.swap(false, Ordering::SeqCst) {
            // Nothing was pushed while it was expired.
            inner.resync.notify_one();
        }
        // A session waiting for a sig logs in with this one (the permit is kept if it is
        // between its failed login and its wait).
        inner.sig_renewed.notify_one();
        Ok(())
    }

    /// The logged-in user's id.
    pub fn login_user(&self) -> String {
        self.inner.me.clone()
    }

    pub fn connection_state(&self) -> ConnectionState {
        self.inner.state()
    }

    /// Wait until the sync after login (or after the latest reconnect) has finished, so
    /// the cache holds everything the server has for this user. False if `timeout` passed.
    pub async fn wait_synced(&self, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.sync_done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.synced.load(std::sync::atomic::Ordering::SeqCst) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.inner.synced.load(std::sync::atomic::Ordering::SeqCst);
            }
        }
    }

    /// A new event stream. The first listener also receives everything emitted since login.
    pub fn add_listener(&self) -> mpsc::UnboundedReceiver<TimEvent> {
        self.inner.events.add()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TUI and CLI spawn SDK calls on a multi-threaded runtime: every future is Send.
    #[allow(dead_code)]
    fn sdk_futures_are_send(tim: &Tim) {
        fn send<T: Send + 'static>(_: &T) {}
        fn send_ref<T: Send>(_: T) {}
        send(tim);
        send_ref(Tim::login(
            SdkConfig {
                server_url: String::new(),
                data_dir: PathBuf::new(),
                ca_cert_pem: None,
            },
            "",
            "",
        ));
        send_ref(tim.logout());
        send_ref(tim.send_message(SendParams::default()));
        send_ref(tim.search_local_messages(MessageSearchParam::default()));
        send_ref(tim.get_history_message_list(HistoryOptions {
            conversation_id: String::new(),
            get_type: HistoryGetType::CloudOlder,
            count: 1,
            last_msg_id: None,
            last_msg_seq: None,
        }));
        send_ref(tim.get_conversation_list("0", 1));
        send_ref(tim.get_conversation(""));
        send_ref(tim.get_total_unread_message_count());
        send_ref(tim.clean_conversation_unread_message_count("", 0, 0));
        send_ref(tim.pin_conversation("", true));
        send_ref(tim.delete_conversation(""));
        send_ref(tim.set_conversation_draft("", None));
        send_ref(tim.set_conversation_custom_data(&[], ""));
        send_ref(tim.create_group("", "", None, &[]));
        send_ref(tim.join_group("", ""));
        send_ref(tim.quit_group(""));
        send_ref(tim.dismiss_group(""));
        send_ref(tim.invite_user_to_group("", &[]));
        send_ref(tim.kick_group_member("", &[], ""));
        send_ref(tim.get_joined_group_list());
        send_ref(tim.get_groups_info(&[]));
        send_ref(tim.get_group_member_list("", 0, "0", 1));
    }

    #[test]
    fn user_dirs_are_plain_or_encoded() {
        assert_eq!(user_dir_name("alice"), "alice");
        assert_eq!(user_dir_name("a.b-c_d@e"), "a.b-c_d@e");
        assert_eq!(user_dir_name(".."), "%2E%2E");
        assert_eq!(user_dir_name("a/b"), "a%2Fb");
        assert_eq!(user_dir_name("x y"), "x%20y");
    }

    #[test]
    fn first_listener_gets_the_backlog() {
        let hub = EventHub::default();
        hub.emit(TimEvent::SyncFinished);
        let mut rx = hub.add();
        hub.emit(TimEvent::KickedOffline);
        assert!(matches!(rx.try_recv(), Ok(TimEvent::SyncFinished)));
        assert!(matches!(rx.try_recv(), Ok(TimEvent::KickedOffline)));
        let mut second = hub.add();
        hub.emit(TimEvent::TotalUnreadChanged(3));
        assert!(matches!(rx.try_recv(), Ok(TimEvent::TotalUnreadChanged(3))));
        assert!(matches!(
            second.try_recv(),
            Ok(TimEvent::TotalUnreadChanged(3))
        ));
    }
}
