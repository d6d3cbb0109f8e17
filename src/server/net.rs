//! Sockets: the accept loop and its connection caps, the WebSocket settings, and each
//! connection's writer task.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::stream::{SplitSink, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};

use crate::model::limits;
use crate::server::hub::{CloseReason, Conn, Outbound, Signals};
use crate::server::session::Session;
use crate::server::tls::{self, ServerStream};
use crate::server::{ServerOptions, Shared};

/// Once a connection is being closed (a close frame queued, or killed): how long writing
/// the close frame and reading the peer's answer may take before the socket is dropped.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Frames written before the socket is flushed.
const WRITE_BATCH: usize = 64;
/// File descriptors kept for everything but client connections (the database, its
/// read connections, the listener).
const FD_RESERVE: usize = 256;

/// Small buffers (≈10× less memory per connection than tungstenite's defaults, see
/// reference/server-anchors.md §1.10) and a 64 KiB cap on frames and messages.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(Some(limits::FRAME_MAX))
        .max_frame_size(Some(limits::FRAME_MAX))
}

pub type WsSink = SplitSink<WebSocketStream<ServerStream>, Message>;

/// The connection caps: connections open now (handshakes included), in total and per IP
/// address.
struct Admission {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<OpenConnections>,
}

#[derive(Default)]
struct OpenConnections {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// A connection's place under the caps, given back when it is dropped.
struct Slot {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Admission {
    fn new(options: &ServerOptions) -> Self {
        let mut max_total = options.max_connections.max(1);
        if let Some(fds) = open_file_limit() {
            // Past the descriptor limit, accept() fails and so would the database's
            // files: refuse clients before that.
            let room = fds.saturating_sub(FD_RESERVE.min(fds / 2)).max(1);
            if room < max_total {
                tracing::warn!(
                    "the open file limit ({fds}) allows {room} connections, not the {max_total} configured"
                );
                max_total = room;
            }
        }
        Self {
            max_total,
            max_per_ip: options.max_connections_per_ip.max(1),
            open: Mutex::default(),
        }
    }

    /// A slot for a connection from `ip`, or why there is none.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.max_total {
            return Err("the server has too many connections; retry later");
        }
        let from_ip = open.per_ip.entry(ip).or_default();
        if *from_ip >= self.max_per_ip {
            return Err("too many connections from your address; close some and retry");
        }
        *from_ip += 1;
        open.total += 1;
        Ok(Slot {
            admission: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .admission
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Turn away a connection over a cap without spending anything on it: an HTTP 503 if the
/// socket takes it at once (it has room: nothing was written to it yet), then close.
fn refuse(stream: TcpStream, why: &str) {
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{why}\n",
        why.len() + 1
    );
    let _ = stream.try_write(response.as_bytes());
}

/// Accept connections until shutdown, then wait for the sessions to finish.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let admission = Arc::new(Admission::new(&shared.options));
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match admission.admit(peer.ip()) {
                    Ok(slot) => {
                        let _ = stream.set_nodelay(true);
                        sessions.spawn(serve_connection(
                            stream,
                            slot,
                            shared.clone(),
                            shutdown.clone(),
                        ));
                    }
                    Err(why) => {
                        tracing::debug!("refused a connection from {peer}: {why}");
                        refuse(stream, why);
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    // Sessions answer what is in flight (≤ grace), then close (≤ CLOSE_TIMEOUT).
    let grace = shared.options.shutdown_grace + CLOSE_TIMEOUT + Duration::from_secs(1);
    let drained = tokio::time::timeout(grace, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("some connections did not finish in time; closing them");
        sessions.abort_all();
    }
}

async fn serve_connection(
    stream: TcpStream,
    slot: Slot,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let _slot = slot;
    // TLS (when configured) here, in the connection's own task, within its own timeout.
    let Some(stream) = tls::wrap(stream, shared.tls.as_ref()).await else {
        return;
    };
    let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config()));
    let ws = match tokio::time::timeout(shared.options.handshake_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!("WebSocket handshake failed: {e}");
            return;
        }
        Err(_) => return,
    };
    let (sink, stream) = ws.split();
    let (tx, rx) = mpsc::unbounded_channel();
    let conn = Arc::new(Conn::new(
        shared.hub.next_conn_id(),
        tx,
        shared.options.max_queued_bytes,
    ));
    let mut writer = tokio::spawn(write_loop(sink, rx, conn.signals()));
    let close_deadline = Session::new(shared, conn).run(stream, shutdown).await;
    // A writer still stuck on a socket that does not read when the close time is up is
    // dropped, and the socket with it.
    if tokio::time::timeout_at(close_deadline, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

/// The process's open file limit (soft), if it has one.
#[cfg(unix)]
fn open_file_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    usize::try_from(limit.rlim_cur).ok()
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<usize> {
    None
}

/// Raise the process's open file limit to its hard limit (each connection is a file
/// descriptor; the usual soft limit of 1024 would cap the server far below
/// `max_connections`). Best effort: a refusal leaves the limit as it was.
pub fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit / setrlimit only read and write the struct they are given.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max;
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    tracing::debug!("could not raise the open file limit");
                }
            }
        }
    }
}

fn close_message(code: u16, reason: &str) -> Message {
    // A close reason is at most 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from(&reason[..end]),
    }))
}

/// Write what is queued to the socket until a close is written, the queue closes, the
/// socket fails, or the connection is killed — then the close frame (if any), within
/// [`CLOSE_TIMEOUT`].
async fn write_loop(
    mut sink: WsSink,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
    signals: Arc<Signals>,
) {
    let ended = tokio::select! {
        ended = write_queued(&mut sink, &mut rx, &signals) => ended,
        why = signals.until_killed() => Ok(Some(why)),
    };
    // Nothing more is written: free what is queued now, not when the socket goes.
    rx.close();
    while rx.try_recv().is_ok() {}
    match ended {
        // tungstenite keeps a frame it has begun in its buffer whole, so even after a kill
        // in the middle of a write the close frame follows whole frames: the peer reads
        // what it had room for, then the close code.
        Ok(Some((code, reason))) => {
            let close = sink.send(close_message(code, &reason));
            match tokio::time::timeout(CLOSE_TIMEOUT, close).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!("the close frame was not written: {e}"),
                Err(_) => tracing::debug!("the peer did not take the close frame in time"),
            }
        }
        Ok(None) => {}
        Err(e) => tracing::debug!("connection write ended: {e}"),
    }
    signals.gone.notify_one();
}

/// Write queued items, flushing in batches, until a close is queued (its code and reason)
/// or the queue closes. The budget is credited once a batch is flushed.
async fn write_queued(
    sink: &mut WsSink,
    rx: &mut mpsc::UnboundedReceiver<Outbound>,
    signals: &Signals,
) -> Result<Option<CloseReason>, tungstenite::Error> {
    while let Some(first) = rx.recv().await {
        let (mut cost, mut written, mut next) = (0, 0, Some(first));
        let mut closing = None;
        while let Some(item) = next.take() {
            cost += item.cost();
            match item {
                Outbound::Frame(f) => sink.feed(Message::Text(f)).await?,
                Outbound::Ping => sink.feed(Message::Ping(Default::default())).await?,
                Outbound::Close(code, reason) => {
                    closing = Some((code, reason));
                    break;
                }
            }
            written += 1;
            if written < WRITE_BATCH {
                next = rx.try_recv().ok();
            }
        }
        sink.flush().await?;
        signals.written(cost);
        if closing.is_some() {
            return Ok(closing);
        }
    }
    Ok(None)
}
