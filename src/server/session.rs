//! One connection's protocol state: its clocks (login deadline, heartbeat), login/logout,
//! and turning text frames into requests. Requests of one connection overlap (their
//! answers may come back in any order, matched by `reqId`), but their writes are queued in
//! arrival order. The session never waits for the socket: answers are queued without
//! waiting (a queue over its byte budget kills the connection), the socket writer is a task
//! of its own, and the clocks fire while the socket is not writable.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, SplitStream, StreamExt};
use serde_json::Value;
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::time::{Instant, Interval, Sleep};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};

use crate::model::{self, limits};
use crate::protocol::codes::{self, close};
use crate::protocol::{LoginParams, LoginResult, op};
use crate::server::error::OpError;
use crate::server::expiry::{self, SigExpiry};
use crate::server::frame::{self, Params};
use crate::server::hub::{Conn, Signals};
use crate::server::limits::TokenBucket;
use crate::server::net::CLOSE_TIMEOUT;
use crate::server::ops::{self, Ctx, Handled};
use crate::server::store::{Data, WriteCmd, WriteRequest};
use crate::server::tls::ServerStream;
use crate::server::{ServerOptions, Shared};

type WsStream = SplitStream<WebSocketStream<ServerStream>>;

/// What to do after a frame.
enum Flow {
    Continue,
    Close(u16, String),
}

/// Encode a response frame; `data` is already JSON.
pub fn encode_response(req_id: u64, result: Result<Data, OpError>) -> Utf8Bytes {
    let text = match result {
        Ok(Data(data)) => frame::concat(&[
            r#"{"reqId":"#,
            &req_id.to_string(),
            r#","code":0,"desc":"","data":"#,
            &data,
            "}",
        ]),
        Err(e) => {
            let data = match e.retry_after_ms {
                Some(ms) => format!(r#"{{"retryAfterMs":{ms}}}"#),
                None => "null".to_string(),
            };
            format!(
                r#"{{"reqId":{req_id},"code":{},"desc":{},"data":{data}}}"#,
                e.code,
                Value::String(frame::capped(e.desc))
            )
        }
    };
    Utf8Bytes::from(text)
}

/// The close code and reason for a frame the WebSocket layer refused.
fn close_for(error: &tungstenite::Error) -> Option<(u16, String)> {
    use tungstenite::Error;
    match error {
        Error::Capacity(e) => Some((
            close::TOO_BIG,
            format!(
                "{e}; frames and messages are limited to {} bytes",
                limits::FRAME_MAX
            ),
        )),
        Error::Utf8(_) => Some((
            close::INVALID_PAYLOAD,
            "text frame is not valid UTF-8".to_string(),
        )),
        Error::Protocol(e) => Some((1002, format!("WebSocket protocol error: {e}"))),
        _ => None,
    }
}

/// The session's clocks. Each is a deadline of its own that fires whatever the socket is
/// doing — none waits for a read or a write. (A new clock: a field, an [`Alarm`], an arm
/// in [`Clocks::next`], and what the session does about it in [`Session::on_alarm`].)
struct Clocks {
    /// A socket that has not logged in by then is closed.
    login_deadline: Pin<Box<Sleep>>,
    /// Heartbeat pings to a logged-in peer.
    ping: Interval,
    /// `idle_timeout` after the last frame heard (re-armed lazily when it fires early).
    silence: Pin<Box<Sleep>>,
    last_heard: Instant,
    idle_timeout: Duration,
}

/// A clock that went off.
enum Alarm {
    NoLogin,
    Ping,
    Silent,
}

impl Clocks {
    fn new(options: &ServerOptions) -> Self {
        let now = Instant::now();
        let mut ping =
            tokio::time::interval_at(now + options.heartbeat_interval, options.heartbeat_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            login_deadline: Box::pin(tokio::time::sleep_until(now + options.auth_deadline)),
            ping,
            silence: Box::pin(tokio::time::sleep_until(now + options.idle_timeout)),
            last_heard: now,
            idle_timeout: options.idle_timeout,
        }
    }

    /// A frame (any: a request, a pong) arrived from the peer.
    fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    /// The next alarm: the login deadline before login, the heartbeat after.
    async fn next(&mut self, logged_in: bool) -> Alarm {
        loop {
            tokio::select! {
                _ = &mut self.login_deadline, if !logged_in => return Alarm::NoLogin,
                _ = self.ping.tick(), if logged_in => return Alarm::Ping,
                _ = &mut self.silence, if logged_in => {
                    let due = self.last_heard + self.idle_timeout;
                    if Instant::now() >= due {
                        return Alarm::Silent;
                    }
                    self.silence.as_mut().reset(due);
                }
            }
        }
    }
}

/// Why the session's loop ended.
enum Ending {
    /// Close with this code and reason, after what is in flight and what is queued.
    Close(u16, String),
    /// The peer closed (or half-closed) the connection: answer what is in flight, if it
    /// still reads.
    PeerClosed,
    /// Killed (too slow, silent): the writer is sending the close frame.
    Killed,
    /// The socket writer stopped (the socket failed).
    WriterGone,
}

/// Read and drop what the peer still sends until it answers our close frame (or goes).
async fn drain_until_close(stream: &mut WsStream) {
    let mut errors = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(Message::Close(_)) => break,
            Ok(_) => {}
            Err(
                tungstenite::Error::ConnectionClosed
                | tungstenite::Error::AlreadyClosed
                | tungstenite::Error::Io(_),
            ) => break,
            Err(_) => {
                errors += 1;
                if errors > 3 {
                    break;
                }
            }
        }
    }
}

pub struct Session {
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    signals: Arc<Signals>,
    user: Option<String>,
    /// The logged-in user's UserSig: until when it holds (see `expiry`).
    sig: Option<SigExpiry>,
    /// The connection's request rate.
    bucket: Option<TokenBucket>,
    /// Requests refused for the rate since the last one that was let through.
    refused_in_a_row: u32,
    /// Writes in progress hold a permit each until their response is queued.
    writes_in_flight: Arc<Semaphore>,
}

impl Session {
    pub fn new(shared: Arc<Shared>, conn: Arc<Conn>) -> Self {
        let signals = conn.signals();
        let max_in_flight = shared.options.max_in_flight.max(1);
        let bucket = shared
            .options
            .request_rate
            .map(|rate| TokenBucket::new(rate, std::time::Instant::now()));
        Self {
            shared,
            conn,
            signals,
            user: None,
            sig: None,
            bucket,
            refused_in_a_row: 0,
            writes_in_flight: Arc::new(Semaphore::new(max_in_flight)),
        }
    }

    /// Spend one request from the connection's rate. `Err` carries what to do instead.
    fn admit(&mut self, text: &str) -> Result<(), Flow> {
        let Some(bucket) = &mut self.bucket else {
            return Ok(());
        };
        if bucket.try_take(std::time::Instant::now()) {
            self.refused_in_a_row = 0;
            return Ok(());
        }
        let wait = bucket.wait();
        self.refused_in_a_row = self.refused_in_a_row.saturating_add(1);
        if self.refused_in_a_row > self.shared.options.max_refused_in_a_row {
            return Err(Flow::Close(
                close::POLICY,
                "request rate limit exceeded again and again".to_string(),
            ));
        }
        let req_id = frame::req_id_of(text);
        let rate = self.shared.options.request_rate.map_or(0, |r| r.per_sec);
        let error = OpError::new(
            codes::ERR_SVR_COMM_FREQUENCY_LIMIT,
            format!(
                "too many requests: at most {rate} a second per connection; this one was not carried out, retry in {} ms",
                wait.as_millis().max(1)
            ),
        )
        .retry_after(wait);
        self.answer(req_id, Err(error));
        Err(Flow::Continue)
    }

    /// Serve the connection until it ends; returns when the close must be done by (the
    /// caller drops a writer still busy then).
    pub async fn run(
        mut self,
        mut stream: WsStream,
        mut shutdown: watch::Receiver<bool>,
    ) -> Instant {
        let max_reads = self.shared.options.max_reads_in_flight.max(1);
        let mut clocks = Clocks::new(&self.shared.options);
        let mut pending: FuturesUnordered<BoxFuture<'static, Utf8Bytes>> = FuturesUnordered::new();
        let going_away = || Ending::Close(close::GOING_AWAY, "server shutting down".to_string());
        let mut sig_timer = expiry::Timer::default();
        let ending = loop {
            if *shutdown.borrow() {
                break going_away();
            }
            sig_timer.arm(self.sig.as_ref().map(SigExpiry::deadline));
            tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break going_away();
                    }
                }
                _ = self.signals.until_killed() => break Ending::Killed,
                _ = self.signals.gone.notified() => break Ending::WriterGone,
                alarm = clocks.next(self.user.is_some()) => {
                    if let Flow::Close(code, reason) = self.on_alarm(alarm) {
                        break Ending::Close(code, reason);
                    }
                }
                // Never waits: a queue over its budget kills the connection (next turn).
                Some(frame) = pending.next(), if !pending.is_empty() => {
                    self.conn.send(frame);
                }
                _ = sig_timer.fired() => {
                    if let (Some(user), Some(sig)) = (&self.user, &mut self.sig)
                        && let Some((code, reason)) =
                            expiry::on_deadline(&self.shared, &self.conn, user, sig)
                    {
                        break Ending::Close(code, reason);
                    }
                }
                // Every write permit is taken: wake when one comes back (the permit is
                // handed back at once), so reading goes on without waiting for a clock.
                _ = self.writes_in_flight.clone().acquire_owned(),
                    if self.writes_in_flight.available_permits() == 0 => {}
                // Read only while another request may start: as many reads and writes in
                // flight as allowed, so starting one never waits.
                msg = stream.next(), if pending.len() < max_reads
                    && self.writes_in_flight.available_permits() > 0 => {
                    if matches!(msg, Some(Ok(_))) {
                        clocks.heard();
                    }
                    match msg {
                        None => break Ending::PeerClosed,
                        Some(Err(e)) => match close_for(&e) {
                            Some((code, reason)) => break Ending::Close(code, reason),
                            None => break Ending::PeerClosed,
                        },
                        Some(Ok(Message::Text(text))) => {
                            if let Flow::Close(code, reason) =
                                self.on_text(&text, &mut pending).await
                            {
                                break Ending::Close(code, reason);
                            }
                        }
                        Some(Ok(Message::Binary(_))) => {
                            break Ending::Close(
                                close::UNSUPPORTED_DATA,
                                "binary frames are not supported: send JSON text frames"
                                    .to_string(),
                            );
                        }
                        Some(Ok(Message::Close(_))) => break Ending::PeerClosed,
                        // Ping/pong: tungstenite answers pings itself; a pong is a heartbeat.
                        Some(Ok(_)) => {}
                    }
                }
            }
        };
        if let Ending::Close(..) | Ending::PeerClosed = ending {
            self.finish_in_flight(pending).await;
        }
        if let Some(user) = self.user.take() {
            self.shared.hub.unregister(&user, self.conn.id);
        }
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        let closing = match ending {
            Ending::Close(code, reason) => self.conn.close(code, reason),
            Ending::Killed => true,
            Ending::PeerClosed | Ending::WriterGone => false,
        };
        if closing {
            // Read on until the peer answers the close (or goes): closing a socket with
            // unread input resets it, and the peer would never see the close code.
            let _ = tokio::time::timeout_at(deadline, drain_until_close(&mut stream)).await;
        }
        deadline
    }

    /// The session's part when a clock goes off.
    fn on_alarm(&mut self, alarm: Alarm) -> Flow {
        match alarm {
            Alarm::NoLogin => Flow::Close(
                close::POLICY,
                format!(
                    "no login within {} s",
                    self.shared.options.auth_deadline.as_secs_f32()
                ),
            ),
            Alarm::Ping => {
                self.conn.ping();
                Flow::Continue
            }
            Alarm::Silent => {
                // Nothing, not even a pong: the peer is gone or stuck. Killed, not closed
                // after what is queued: a stuck peer would never get that far.
                let idle = self.shared.options.idle_timeout.as_secs_f32();
                self.signals
                    .kill(close::POLICY, &format!("no heartbeat for {idle} s"));
                Flow::Continue
            }
        }
    }

    /// Requests already started are answered before a close (within the shutdown grace):
    /// queued writes commit whatever happens to the socket, so their answers go out too.
    async fn finish_in_flight(&self, mut pending: FuturesUnordered<BoxFuture<'static, Utf8Bytes>>) {
        let max_in_flight = self.shared.options.max_in_flight.max(1);
        let _ = tokio::time::timeout(self.shared.options.shutdown_grace, async {
            while let Some(frame) = pending.next().await {
                if !self.conn.send(frame) {
                    return;
                }
            }
            // Writes queue their own responses; wait until all have.
            let _ = self
                .writes_in_flight
                .acquire_many(max_in_flight as u32)
                .await;
        })
        .await;
    }

    fn answer(&self, req_id: u64, result: Result<Data, OpError>) {
        self.conn.send(encode_response(req_id, result));
    }

    async fn on_text(
        &mut self,
        text: &str,
        pending: &mut FuturesUnordered<BoxFuture<'static, Utf8Bytes>>,
    ) -> Flow {
        if let Err(flow) = self.admit(text) {
            return flow;
        }
        let request = match frame::decode_request(text) {
            Ok(r) => r,
            Err(rejected) => {
                self.answer(rejected.req_id, Err(rejected.error));
                return Flow::Continue;
            }
        };
        let req_id = request.req_id;
        if request.op == op::LOGIN && self.user.is_none() {
            let result = self.login(request.params).await;
            self.answer(req_id, result);
            return Flow::Continue;
        }
        let Some(user) = self.user.clone() else {
            let error = OpError::new(
                codes::ERR_SDK_NOT_LOGGED_IN,
                format!(
                    "not logged in: the first request on a connection must be login (got {})",
                    frame::quoted(&request.op)
                ),
            );
            self.answer(req_id, Err(error));
            return Flow::Continue;
        };
        if request.op == op::LOGOUT {
            self.shared.hub.unregister(&user, self.conn.id);
            self.user = None;
            self.answer(req_id, Ok(Data::null()));
            return Flow::Close(close::NORMAL, "logged out".to_string());
        }
        if request.op == op::RENEW_USER_SIG {
            let result = expiry::renew(
                &self.shared,
                &self.conn,
                &user,
                &mut self.sig,
                request.params,
            );
            self.answer(req_id, result);
            return Flow::Continue;
        }
        if let Some(error) = self.sig.as_ref().and_then(|s| s.refusal(&request.op)) {
            self.answer(req_id, Err(error));
            return Flow::Continue;
        }
        let ctx = Ctx {
            shared: self.shared.clone(),
            user,
            conn: self.conn.clone(),
            req_id,
            writes_in_flight: self.writes_in_flight.clone(),
        };
        match ops::route(&ctx, &request.op, request.params).await {
            Handled::Now(result) => self.answer(req_id, result),
            Handled::Queued => {}
            Handled::Later(answer) => {
                pending.push(Box::pin(
                    async move { encode_response(req_id, answer.await) },
                ));
            }
        }
        Flow::Continue
    }

    /// Verify the UserSig, create the account on first login, register for pushes, and
    /// only then answer — so a client that syncs after login misses nothing.
    async fn login(&mut self, params: Params<'_>) -> Result<Data, OpError> {
        let p: LoginParams = ops::parse(op::LOGIN, params)?;
        if !model::is_valid_user_id(&p.user_id) {
            return Err(OpError::new(
                codes::ERR_INVALID_IDENTIFIER,
                format!(
                    "userID {} is invalid: 1 to {} bytes of printable ASCII",
                    frame::quoted(&p.user_id),
                    limits::USER_ID_MAX
                ),
            ));
        }
        let now = ops::now();
        let expires_at = expiry::verify(&self.shared, &p.user_id, &p.user_sig, now)?;
        let (reply, answer) = oneshot::channel();
        self.shared
            .store
            .submit(WriteRequest {
                cmd: WriteCmd::EnsureUser {
                    user: p.user_id.clone(),
                    now,
                },
                reply: reply.into(),
            })
            .await?;
        answer
            .await
            .map_err(|_| OpError::internal("the storage writer stopped before answering"))??;
        self.shared.hub.register(&p.user_id, self.conn.clone());
        let store = self.shared.store.clone();
        let cursor = tokio::task::spawn_blocking(move || store.max_cursor())
            .await
            .map_err(|e| OpError::internal(format!("read task failed: {e}")))
            .and_then(|r| r);
        let cursor = match cursor {
            Ok(c) => c,
            Err(e) => {
                self.shared.hub.unregister(&p.user_id, self.conn.id);
                return Err(e);
            }
        };
        self.user = Some(p.user_id.clone());
        self.sig = Some(SigExpiry::new(expires_at));
        Ok(Data::json(&LoginResult {
            user_id: p.user_id,
            server_time: now,
            cursor,
            version: crate::protocol::PROTOCOL_VERSION,
            capabilities: crate::protocol::CAPABILITIES
                .iter()
                .map(|c| c.to_string())
                .collect(),
        }))
    }
}
