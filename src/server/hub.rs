//! Who is online, and fan-out: each committed effect is encoded once and the same
//! shared frame is queued on every recipient connection.
//!
//! Every connection has an outbound queue bounded in bytes (`max_queued_bytes`). Nothing
//! ever waits for room in it — not fan-out, not the session: a frame that would take the
//! queue past its budget disconnects the connection instead (it cannot keep up; it
//! resyncs from its cursor when it comes back), and everyone else is served on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{Notify, mpsc, watch};
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
    /// Send a close frame with this code and reason after what is queued, then stop.
    Close(u16, String),
}

/// What a queued item costs the connection's budget: its bytes, plus what holding it in
/// the queue costs, so that many small frames are bounded too.
const ITEM_OVERHEAD: usize = 64;

impl Outbound {
    pub fn cost(&self) -> usize {
        match self {
            Outbound::Frame(f) => f.len() + ITEM_OVERHEAD,
            Outbound::Ping => ITEM_OVERHEAD,
            // A close is never refused for the budget, so it is not counted in it.
            Outbound::Close(..) => 0,
        }
    }
}

/// Why a connection is being closed: the close code and reason.
pub type CloseReason = (u16, String);

/// The signals between a connection's session, its socket writer, and whoever queues
/// frames on it.
pub struct Signals {
    /// Set once when the connection must go at once (too slow, silent); the writer drops
    /// what is queued and sends this close frame, the session stops reading.
    kill: watch::Sender<Option<CloseReason>>,
    /// The budget's account: the cost of every item queued and not yet written out.
    queued: AtomicUsize,
    /// Wakes the session when the socket writer has stopped.
    pub gone: Notify,
}

impl Default for Signals {
    fn default() -> Self {
        Self {
            kill: watch::Sender::new(None),
            queued: AtomicUsize::new(0),
            gone: Notify::new(),
        }
    }
}

impl Signals {
    /// Stop the connection at once: the writer drops what is queued, finishes the frame
    /// it is writing, sends a close frame (within the close timeout), and ends. The first
    /// reason given wins.
    pub fn kill(&self, code: u16, reason: &str) {
        self.kill.send_if_modified(|why| {
            if why.is_some() {
                return false;
            }
            *why = Some((code, reason.to_string()));
            true
        });
    }

    pub fn killed(&self) -> bool {
        self.kill.borrow().is_some()
    }

    /// Wait until the connection is killed; why.
    pub async fn until_killed(&self) -> CloseReason {
        let mut rx = self.kill.subscribe();
        let why = rx
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|w| w.clone());
        match why {
            Some(why) => why,
            // The sender lives as long as `self`: unreachable, but never wake for nothing.
            None => std::future::pending().await,
        }
    }

    /// Items of this total cost have been written out (or dropped).
    pub fn written(&self, cost: usize) {
        self.queued.fetch_sub(cost, Ordering::AcqRel);
    }
}

/// A connection as the hub sees it: its outbound queue. The socket writer holds only the
/// signals, so the queue closes (and the writer ends) when the last holder drops this.
pub struct Conn {
    pub id: ConnId,
    tx: mpsc::UnboundedSender<Outbound>,
    signals: Arc<Signals>,
    /// `max_queued_bytes`.
    budget: usize,
}

impl Conn {
    pub fn new(id: ConnId, tx: mpsc::UnboundedSender<Outbound>, budget: usize) -> Self {
        Self {
            id,
            tx,
            signals: Arc::new(Signals::default()),
            budget,
        }
    }

    pub fn signals(&self) -> Arc<Signals> {
        self.signals.clone()
    }

    /// Queue a frame or a ping without waiting. One that would take the queue past the
    /// budget (unless the queue is empty) kills the connection instead: it cannot keep up.
    /// `false` when the item was not queued.
    fn queue(&self, item: Outbound) -> bool {
        if self.signals.killed() {
            return false;
        }
        let cost = item.cost();
        let before = self.signals.queued.fetch_add(cost, Ordering::AcqRel);
        if before > 0 && before + cost > self.budget {
            self.signals.written(cost);
            tracing::info!(
                conn = self.id,
                queued = before,
                "disconnecting a connection that cannot keep up"
            );
            self.signals.kill(
                close::POLICY,
                &format!(
                    "too slow: over {} bytes queued; reconnect and sync from your cursor",
                    self.budget
                ),
            );
            return false;
        }
        if self.tx.send(item).is_err() {
            self.signals.written(cost);
            return false;
        }
        true
    }

    /// Queue a response or a push (see [`Self::queue`]): never waits.
    pub fn send(&self, frame: Utf8Bytes) -> bool {
        self.queue(Outbound::Frame(frame))
    }

    /// Queue a push shared with other connections.
    pub fn push(&self, frame: &Utf8Bytes) {
        self.send(frame.clone());
    }

    /// Queue a heartbeat ping.
    pub fn ping(&self) {
        self.queue(Outbound::Ping);
    }

    /// Queue a close frame after what is queued (whatever the budget says).
    pub fn close(&self, code: u16, reason: String) -> bool {
        self.tx.send(Outbound::Close(code, reason)).is_ok()
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
