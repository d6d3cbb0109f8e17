//! The WebSocket link to the server: one connection at a time, requests correlated with
//! their responses by `reqId` (each with its own timeout → 9520), pushes handed to the
//! session in arrival order, and the reconnect backoff policy.
//!
//! The transport knows nothing about logins or caches; `session.rs` drives it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::error::TimError;
use crate::model::limits;
use crate::protocol::{self, Push, RawFrame, RawResponse, Request, codes};

/// How long a connect (TCP + WebSocket handshake) may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an ordinary request waits for its response.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// First reconnect delay, before jitter.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// Reconnect delays never exceed this.
const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// A live connection as the session sees it.
pub(crate) struct Link {
    pub id: u64,
    /// Server pushes, in the order the server sent them.
    pub pushes: mpsc::UnboundedReceiver<Push>,
}

struct LinkHandle {
    id: u64,
    out: mpsc::UnboundedSender<WsMessage>,
}

#[derive(Default)]
struct Slot {
    link: Option<LinkHandle>,
    pending: HashMap<u64, oneshot::Sender<RawResponse>>,
}

pub(crate) struct Transport {
    url: String,
    /// For a `wss://` URL: whom to trust (`tls::for_url`).
    tls: Option<Arc<rustls::ClientConfig>>,
    slot: Mutex<Slot>,
    next_req_id: AtomicU64,
    next_link_id: AtomicU64,
}

impl Transport {
    pub fn new(url: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Arc<Transport> {
        Arc::new(Transport {
            url: url.to_string(),
            tls,
            slot: Mutex::new(Slot::default()),
            next_req_id: AtomicU64::new(1),
            next_link_id: AtomicU64::new(1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open a new connection (replacing any previous one).
    pub async fn connect(self: &Arc<Self>) -> Result<Link, TimError> {
        let connect = tokio_tungstenite::connect_async_tls_with_config(
            self.url.as_str(),
            None,
            false,
            self.tls.clone().map(tokio_tungstenite::Connector::Rustls),
        );
        let ws = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Err(_) => {
                return Err(TimError::new(
                    codes::ERR_SDK_NET_CONNECT_TIMEOUT,
                    format!("connecting to {} timed out", self.url),
                ));
            }
            Ok(Err(e)) => {
                // A TLS refusal is its own sentence (it leads, so a narrow status bar
                // still shows it); anything else says where it could not connect.
                let desc = super::tls::explain(&self.url, &e)
                    .unwrap_or_else(|| format!("cannot connect to {}: {e}", self.url));
                return Err(TimError::new(codes::ERR_SDK_NET_DISCONNECT, desc));
            }
            Ok(Ok((ws, _response))) => ws,
        };
        let id = self.next_link_id.fetch_add(1, Ordering::Relaxed);
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<WsMessage>();
        let (push_tx, push_rx) = mpsc::unbounded_channel::<Push>();
        {
            let mut slot = self.lock();
            if slot.link.is_some() {
                slot.link = None;
                slot.pending.clear();
            }
            slot.link = Some(LinkHandle { id, out: out_tx });
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let (mut sink, mut stream) = ws.split();
            loop {
                tokio::select! {
                    frame = stream.next() => match frame {
                        Some(Ok(WsMessage::Text(text))) => this.dispatch(text.as_str(), &push_tx),
                        Some(Ok(WsMessage::Close(frame))) => {
                            tracing::debug!(?frame, "server closed the connection");
                            break;
                        }
                        Some(Ok(_)) => {} // pings are answered by tungstenite itself
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "connection lost");
                            break;
                        }
                        None => break,
                    },
                    out = out_rx.recv() => match out {
                        Some(msg) => {
                            if sink.send(msg).await.is_err() {
                                break;
                            }
                        }
                        None => {
                            // Killed: say goodbye politely, but don't wait long for it.
                            let _ = tokio::time::timeout(
                                Duration::from_millis(500),
                                sink.send(WsMessage::Close(None)),
                            )
                            .await;
                            break;
                        }
                    },
                }
            }
            this.teardown(id);
        });
        Ok(Link {
            id,
            pushes: push_rx,
        })
    }

    fn dispatch(&self, text: &str, pushes: &mpsc::UnboundedSender<Push>) {
        match RawFrame::parse(text) {
            Ok(RawFrame::Response(resp)) => {
                let waiter = self.lock().pending.remove(&resp.req_id);
                match waiter {
                    Some(w) => {
                        let _ = w.send(resp);
                    }
                    None => tracing::debug!(
                        req_id = resp.req_id,
                        code = resp.code,
                        "response nobody waits for"
                    ),
                }
            }
            Ok(RawFrame::Push(push)) => {
                let _ = pushes.send(push);
            }
            Err(e) => tracing::warn!(error = %e, "unreadable frame from the server"),
        }
    }

    /// Forget a connection: waiting requests fail with 9508 (their senders are dropped).
    fn teardown(&self, link_id: u64) {
        let mut slot = self.lock();
        if slot.link.as_ref().is_some_and(|l| l.id == link_id) {
            slot.link = None;
            slot.pending.clear();
        }
    }

    /// Close a connection from our side (heartbeat failure, logout, shutdown).
    pub fn kill(&self, link_id: u64) {
        self.teardown(link_id);
    }

    /// Close whatever connection is open.
    pub fn kill_current(&self) {
        let mut slot = self.lock();
        slot.link = None;
        slot.pending.clear();
    }

    /// Send one request on the current connection and wait for its response's `data`.
    /// A non-zero response code becomes the error.
    pub async fn request(
        &self,
        op: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, TimError> {
        match self.request_raw(op, params, timeout).await? {
            Some(raw) => serde_json::from_str(raw.get()).map_err(|e| TimError::bad_response(op, e)),
            None => Ok(Value::Null),
        }
    }

    /// [`Transport::request`] decoding the answer's data straight into `T`.
    pub async fn request_as<T: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<T, TimError> {
        let raw = self.request_raw(op, params, timeout).await?;
        serde_json::from_str(raw.as_ref().map_or("null", |r| r.get()))
            .map_err(|e| TimError::bad_response(op, e))
    }

    async fn request_raw(
        &self,
        op: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Option<Box<serde_json::value::RawValue>>, TimError> {
        let req_id = self.next_req_id.fetch_add(1, Ordering::Relaxed);
        let text = protocol::to_text(&Request {
            req_id,
            op: op.to_string(),
            params,
        });
        if text.len() > limits::FRAME_MAX {
            return Err(TimError::new(
                codes::ERR_SDK_NET_PKG_SIZE_LIMIT,
                format!(
                    "request is {} bytes; a frame may carry at most {} bytes",
                    text.len(),
                    limits::FRAME_MAX
                ),
            ));
        }
        let rx = {
            let mut slot = self.lock();
            let Some(link) = slot.link.as_ref() else {
                return Err(TimError::disconnected());
            };
            if link.out.send(WsMessage::text(text)).is_err() {
                return Err(TimError::disconnected());
            }
            let (tx, rx) = oneshot::channel();
            slot.pending.insert(req_id, tx);
            rx
        };
        match tokio::time::timeout(timeout, rx).await {
            Err(_) => {
                self.lock().pending.remove(&req_id);
                Err(TimError::new(
                    codes::ERR_SDK_NET_WAIT_ACK_TIMEOUT,
                    format!("no answer to {op} within {} s", timeout.as_secs_f32()),
                ))
            }
            Ok(Err(_)) => Err(TimError::new(
                codes::ERR_SDK_NET_DISCONNECT,
                format!("connection lost while waiting for the answer to {op}"),
            )),
            Ok(Ok(resp)) if resp.code == codes::OK => Ok(resp.data),
            Ok(Ok(resp)) => {
                let desc = if resp.desc.is_empty() {
                    codes::describe(resp.code).to_string()
                } else {
                    resp.desc
                };
                Err(TimError {
                    retry_after_ms: resp.data.as_deref().and_then(retry_after_ms),
                    ..TimError::new(resp.code, desc)
                })
            }
        }
    }
}

/// The `retryAfterMs` of an error frame's `data` (rate refusals carry it).
fn retry_after_ms(data: &serde_json::value::RawValue) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct RetryAfter {
        #[serde(rename = "retryAfterMs")]
        retry_after_ms: u64,
    }
    serde_json::from_str::<RetryAfter>(data.get())
        .ok()
        .map(|r| r.retry_after_ms)
}

/// Jittered exponential backoff: ~100 ms, 200 ms, 400 ms … capped at 10 s; each delay is
/// drawn uniformly from the upper half of its step so that many clients don't reconnect in
/// lockstep after a server restart.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub fn next_delay(&mut self) -> Duration {
        let step = BACKOFF_BASE
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(BACKOFF_CAP);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        let jitter_ms = rand::random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let mut b = Backoff::default();
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let mut last = first;
        for _ in 0..20 {
            last = b.next_delay();
            assert!(last <= BACKOFF_CAP);
        }
        assert!(last >= BACKOFF_CAP / 2);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn request_without_connection_fails_fast() {
        let t = Transport::new("ws://127.0.0.1:9", None);
        let err = t
            .request("ping", Value::Null, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err.code, codes::ERR_SDK_NET_DISCONNECT);
    }

    #[tokio::test]
    async fn oversized_request_is_refused_locally() {
        let t = Transport::new("ws://127.0.0.1:9", None);
        let big = "x".repeat(limits::FRAME_MAX + 1);
        let err = t
            .request("sendMessage", Value::String(big), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err.code, codes::ERR_SDK_NET_PKG_SIZE_LIMIT);
    }
}
