//! Who is online, and fan-out: each committed effect is encoded once and the same
//! shared frame is queued on every recipient connection.
//!
//! Every connection has a bounded outbound queue. Fan-out never waits: a connection whose
//! queue is full cannot keep up, so it is disconnected (it resyncs from its cursor when it
//! comes back) and everyone else is served on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::protocol::codes::close;
use crate::protocol::{self, ConversationDeletedPush, ConversationListPush, Push, push};
use crate::server::store::{CommitSink, ConnId, Effect};

/// Something for a connection's socket.
#[derive(Debug)]
pub enum Outbound {
    Frame(Utf8Bytes),
    /// A WebSocket ping (heartbeat).
    Ping,
    /// Send a close frame with this code and reason, then stop.
    Close(u16, String),
}

/// The signals between a connection's session and its socket writer.
#[derive(Default)]
pub struct Signals {
    /// Set when the connection must go (too slow, silent); wakes the socket writer.
    kill: Notify,
    killed: AtomicBool,
    /// The close code and reason the writer tries to send when killed.
    why: Mutex<Option<(u16, String)>>,
    /// Wakes the session when the socket writer has stopped.
    pub gone: Notify,
}

impl Signals {
    /// Stop the connection at once: the writer drops what is queued, tries to send a close
    /// frame (briefly), and ends.
    pub fn kill(&self, code: u16, reason: &str) {
        if !self.killed.swap(true, Ordering::AcqRel) {
            if let Ok(mut why) = self.why.lock() {
                *why = Some((code, reason.to_string()));
            }
            self.kill.notify_one();
        }
    }

    /// Why the connection was killed.
    pub fn why(&self) -> Option<(u16, String)> {
        self.why.lock().ok().and_then(|w| w.clone())
    }

    pub fn killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    pub async fn kill_requested(&self) {
        self.kill.notified().await
    }
}

/// A connection as the hub sees it: its outbound queue. The socket writer holds only the
/// signals, so the queue closes (and the writer ends) when the session drops this.
pub struct Conn {
    pub id: ConnId,
    tx: mpsc::Sender<Outbound>,
    signals: Arc<Signals>,
}

impl Conn {
    pub fn new(id: ConnId, tx: mpsc::Sender<Outbound>) -> Self {
        Self {
            id,
            tx,
            signals: Arc::new(Signals::default()),
        }
    }

    pub fn signals(&self) -> Arc<Signals> {
        self.signals.clone()
    }

    /// Queue a push without waiting; a full queue disconnects the connection.
    pub fn push(&self, frame: &Utf8Bytes) {
        match self.tx.try_send(Outbound::Frame(frame.clone())) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.signals.killed() {
                    tracing::info!(
                        conn = self.id,
                        "disconnecting a connection that cannot keep up"
                    );
                }
                self.signals.kill(
                    close::POLICY,
                    "too slow: reconnect and sync from your cursor",
                );
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Queue a heartbeat ping unless the queue is full (then the connection is slow, and
    /// the push that finds it full disconnects it).
    pub fn ping(&self) {
        let _ = self.tx.try_send(Outbound::Ping);
    }

    /// Queue a response, waiting for room (the session's own pace).
    pub async fn send(&self, item: Outbound) -> bool {
        self.tx.send(item).await.is_ok()
    }
}

/// The registry of logged-in connections, by user.
#[derive(Default)]
pub struct Hub {
    users: RwLock<HashMap<String, Vec<Arc<Conn>>>>,
    next_id: AtomicU64,
}

impl Hub {
    pub fn next_conn_id(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn register(&self, user: &str, conn: Arc<Conn>) {
        if let Ok(mut users) = self.users.write() {
            users.entry(user.to_string()).or_default().push(conn);
        }
    }

    pub fn unregister(&self, user: &str, conn: ConnId) {
        if let Ok(mut users) = self.users.write()
            && let Some(list) = users.get_mut(user)
        {
            list.retain(|c| c.id != conn);
            if list.is_empty() {
                users.remove(user);
            }
        }
    }

    /// Logged-in connections, all users together.
    pub fn connection_count(&self) -> usize {
        self.users
            .read()
            .map(|users| users.values().map(Vec::len).sum())
            .unwrap_or(0)
    }

    pub fn is_online(&self, user: &str) -> bool {
        self.users
            .read()
            .map(|users| users.contains_key(user))
            .unwrap_or(false)
    }

    fn send_to<'a>(
        &self,
        users: impl Iterator<Item = &'a String>,
        except: Option<ConnId>,
        frame: &Utf8Bytes,
    ) {
        let Ok(map) = self.users.read() else {
            return;
        };
        for user in users {
            if let Some(conns) = map.get(user) {
                for c in conns {
                    if Some(c.id) != except {
                        c.push(frame);
                    }
                }
            }
        }
    }
}

fn encode_push<T: serde::Serialize>(name: &str, data: &T) -> Utf8Bytes {
    let push = Push {
        push: name.to_string(),
        data: serde_json::to_value(data).unwrap_or_default(),
    };
    Utf8Bytes::from(protocol::to_text(&push))
}

impl CommitSink for Hub {
    fn deliver(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::NewMessage {
                    recipients,
                    except,
                    message,
                    cursor,
                    unread_counted,
                } => {
                    // The stored JSON goes in as is: one encoding for every recipient.
                    let cursor = cursor.map_or(String::new(), |c| format!(r#","cursor":{c}"#));
                    let frame = Utf8Bytes::from(crate::server::frame::concat(&[
                        r#"{"push":""#,
                        push::NEW_MESSAGE,
                        r#"","data":{"message":"#,
                        &message,
                        &cursor,
                        r#","unreadCounted":"#,
                        if unread_counted { "true" } else { "false" },
                        "}}",
                    ]));
                    self.send_to(recipients.iter(), except, &frame);
                }
                Effect::ConversationChanged {
                    user,
                    except,
                    conversations,
                } => {
                    let frame = encode_push(
                        push::CONVERSATION_CHANGED,
                        &ConversationListPush {
                            conversation_list: conversations,
                        },
                    );
                    self.send_to(std::iter::once(&user), except, &frame);
                }
                Effect::ConversationDeleted {
                    user,
                    except,
                    conversation_ids,
                } => {
                    let frame = encode_push(
                        push::CONVERSATION_DELETED,
                        &ConversationDeletedPush {
                            conversation_id_list: conversation_ids,
                        },
                    );
                    self.send_to(std::iter::once(&user), except, &frame);
                }
                Effect::GroupEvent {
                    users,
                    except,
                    event,
                } => {
                    let frame = encode_push(push::GROUP_EVENT, &event);
                    self.send_to(users.iter(), except, &frame);
                }
            }
        }
    }
}
