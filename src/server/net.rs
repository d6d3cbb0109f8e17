//! Sockets: the accept loop, the WebSocket settings, and each connection's writer task.

use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::stream::{SplitSink, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::model::limits;
use crate::protocol::codes::close;
use crate::server::Shared;
use crate::server::hub::{Conn, Outbound, Signals};
use crate::server::session::Session;
use crate::server::tls::{self, ServerStream};

/// How long a client may take to complete the WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the writer tries to say goodbye to a connection that stopped reading.
const SLOW_CLOSE_TIMEOUT: Duration = Duration::from_millis(200);
/// Frames written before the socket is flushed.
const WRITE_BATCH: usize = 64;

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

/// Accept connections until shutdown, then wait for the sessions to finish.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
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
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    sessions.spawn(serve_connection(stream, shared.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    // Sessions answer what is in flight (≤ grace), then wait for the close handshake.
    let grace = shared.options.shutdown_grace + Duration::from_secs(3);
    let drained = tokio::time::timeout(grace, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("some connections did not finish in time; closing them");
        sessions.abort_all();
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, shutdown: watch::Receiver<bool>) {
    // TLS (when configured) here, in the connection's own task, within its own timeout.
    let Some(stream) = tls::wrap(stream, shared.tls.as_ref()).await else {
        return;
    };
    let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config()));
    let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!("WebSocket handshake failed: {e}");
            return;
        }
        Err(_) => return,
    };
    let (sink, stream) = ws.split();
    let (tx, rx) = mpsc::channel(shared.options.outbound_queue.max(1));
    let conn = Arc::new(Conn::new(shared.hub.next_conn_id(), tx));
    let writer = tokio::spawn(write_loop(sink, rx, conn.signals()));
    Session::new(shared, conn).run(stream, shutdown).await;
    let _ = writer.await;
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

/// Write queued frames to the socket, batching flushes, until the queue closes, a close
/// is requested, or the connection is killed for being too slow.
async fn write_loop(mut sink: WsSink, mut rx: mpsc::Receiver<Outbound>, signals: Arc<Signals>) {
    let work = async {
        while let Some(item) = rx.recv().await {
            let mut closing = None;
            match item {
                Outbound::Frame(f) => sink.feed(Message::Text(f)).await?,
                Outbound::Ping => sink.feed(Message::Ping(Default::default())).await?,
                Outbound::Close(code, reason) => closing = Some((code, reason)),
            }
            let mut n = 1;
            while closing.is_none() && n < WRITE_BATCH {
                match rx.try_recv() {
                    Ok(Outbound::Frame(f)) => sink.feed(Message::Text(f)).await?,
                    Ok(Outbound::Ping) => sink.feed(Message::Ping(Default::default())).await?,
                    Ok(Outbound::Close(code, reason)) => closing = Some((code, reason)),
                    Err(_) => break,
                }
                n += 1;
            }
            sink.flush().await?;
            if let Some((code, reason)) = closing {
                sink.send(close_message(code, &reason)).await?;
                return Ok(());
            }
        }
        Ok::<(), tokio_tungstenite::tungstenite::Error>(())
    };
    let killed = tokio::select! {
        result = work => {
            if let Err(e) = result {
                tracing::debug!("connection write ended: {e}");
            }
            false
        }
        _ = signals.kill_requested() => true,
    };
    if killed {
        let (code, reason) = signals
            .why()
            .unwrap_or((close::POLICY, "closed by the server".to_string()));
        let _ =
            tokio::time::timeout(SLOW_CLOSE_TIMEOUT, sink.send(close_message(code, &reason))).await;
    }
    signals.gone.notify_one();
}
