//! `termim-load floor`: the transport's own limit. A bare tokio-tungstenite server built
//! like termim's network layer (same WebSocket buffers and caps, split socket, a bounded
//! outbound queue and a writer task per connection, frames shared across recipients) but
//! with no JSON, no auth and no storage:
//!
//! - `hello <id>` registers the connection as `<id>` and is answered `ok`;
//! - `s <reqid> <to> <payload>` forwards `<payload>` to connection `<to>` (or to every
//!   other connection when `<to>` is `*`) and answers `a <reqid>`.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::FloorArgs;

type Registry = Arc<RwLock<HashMap<String, (u64, mpsc::Sender<Utf8Bytes>)>>>;

/// The same settings as termim's `server::net::ws_config`.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(Some(64 * 1024))
        .max_frame_size(Some(64 * 1024))
}

pub fn run(args: FloorArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?;
    rt.block_on(serve(args.listen))
}

async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "listening ws://{} pid {}",
            listener.local_addr()?,
            std::process::id()
        )?;
        out.flush()?;
    }
    let registry: Registry = Arc::default();
    let mut next_id = 0u64;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        next_id += 1;
        tokio::spawn(connection(stream, registry.clone(), next_id));
    }
}

async fn connection(stream: TcpStream, registry: Registry, conn_id: u64) {
    let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config())).await
    else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(4096);
    let writer = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            if sink.feed(Message::Text(first)).await.is_err() {
                return;
            }
            let mut n = 1;
            while n < 64 {
                match rx.try_recv() {
                    Ok(f) => {
                        if sink.feed(Message::Text(f)).await.is_err() {
                            return;
                        }
                    }
                    Err(_) => break,
                }
                n += 1;
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let mut me: Option<String> = None;
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else { continue };
        let text = text.as_str();
        if let Some(id) = text.strip_prefix("hello ") {
            if let Ok(mut r) = registry.write() {
                r.insert(id.to_string(), (conn_id, tx.clone()));
            }
            me = Some(id.to_string());
            let _ = tx.send(Utf8Bytes::from_static("ok")).await;
            continue;
        }
        let Some(rest) = text.strip_prefix("s ") else {
            continue;
        };
        let mut parts = rest.splitn(3, ' ');
        let (Some(req), Some(to), Some(payload)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let frame = Utf8Bytes::from(payload.to_string());
        if let Ok(r) = registry.read() {
            if to == "*" {
                for (id, q) in r.values() {
                    if *id != conn_id {
                        let _ = q.try_send(frame.clone());
                    }
                }
            } else if let Some((_, q)) = r.get(to) {
                let _ = q.try_send(frame);
            }
        }
        let _ = tx.send(Utf8Bytes::from(format!("a {req}"))).await;
    }
    if let Some(id) = me
        && let Ok(mut r) = registry.write()
        && r.get(&id).is_some_and(|(c, _)| *c == conn_id)
    {
        r.remove(&id);
    }
    drop(tx);
    let _ = writer.await;
}
