//! The generator's side of a connection: the two protocols (termim's JSON, the floor's
//! plain text) behind one interface, a reader task that turns frames into histograms, and
//! an open-loop sender.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use termim::usersig::{self, AppKey};

use super::pacer::Timer;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type Sink = SplitSink<Ws, Message>;
pub type Stream = SplitStream<Ws>;

#[derive(Clone)]
pub enum Proto {
    Termim(AppKey),
    Floor,
}

pub enum To<'a> {
    User(&'a str),
    Group(&'a str),
}

/// What a frame from the server means to the generator.
pub enum Frame {
    /// The answer to the send scheduled at this time (ns since the run's base).
    Ack(u64),
    Refused(i64),
    /// A message scheduled at `sched`, written to the socket at `actual`.
    Delivery {
        sched: u64,
        actual: u64,
    },
    Other,
}

/// The number right after the first `pat` in `text`.
pub fn u64_after(text: &str, pat: &str) -> Option<u64> {
    let at = text.find(pat)? + pat.len();
    let digits = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

fn i64_after(text: &str, pat: &str) -> Option<i64> {
    let at = text.find(pat)? + pat.len();
    let rest = &text[at..];
    let end = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(rest.len(), |(i, _)| i);
    rest[..end].parse().ok()
}

/// `t=<sched> a=<actual> xxxx…`, `body` bytes long (at least the two stamps).
pub fn payload(sched: u64, actual: u64, body: usize) -> String {
    let mut p = format!("t={sched} a={actual} ");
    if p.len() < body {
        p.extend(std::iter::repeat_n('x', body - p.len()));
    }
    p
}

fn delivery(text: &str) -> Frame {
    match (u64_after(text, "t="), u64_after(text, " a=")) {
        (Some(sched), Some(actual)) => Frame::Delivery { sched, actual },
        _ => Frame::Other,
    }
}

impl Proto {
    pub fn login(&self, user: &str) -> String {
        match self {
            Proto::Termim(key) => format!(
                r#"{{"reqId":0,"op":"login","params":{{"userID":"{user}","userSig":"{}"}}}}"#,
                usersig::gen_sig(key, user, 86_400)
            ),
            Proto::Floor => format!("hello {user}"),
        }
    }

    /// `Some(ok)` when `text` is the login answer.
    fn login_answer(&self, text: &str) -> Option<Result<(), String>> {
        match self {
            Proto::Termim(_) if text.starts_with(r#"{"reqId":0,"#) => {
                Some(if text.contains(r#""code":0,"#) {
                    Ok(())
                } else {
                    Err(text.to_string())
                })
            }
            Proto::Floor if text == "ok" => Some(Ok(())),
            _ => None,
        }
    }

    pub fn send(&self, req: u64, to: &To<'_>, text: &str) -> String {
        match self {
            Proto::Termim(_) => {
                let (receiver, group) = match to {
                    To::User(u) => (*u, ""),
                    To::Group(g) => ("", *g),
                };
                format!(
                    r#"{{"reqId":{req},"op":"sendMessage","params":{{"id":"m{req}","receiver":"{receiver}","groupID":"{group}","elemType":1,"textElem":{{"text":"{text}"}}}}}}"#
                )
            }
            Proto::Floor => {
                let to = match to {
                    To::User(u) => *u,
                    To::Group(_) => "*",
                };
                format!("s {req} {to} {text}")
            }
        }
    }

    pub fn classify(&self, text: &str) -> Frame {
        match self {
            Proto::Termim(_) => {
                if text.starts_with(r#"{"reqId":"#) {
                    match i64_after(text, r#""code":"#) {
                        Some(0) => u64_after(text, r#""reqId":"#).map_or(Frame::Other, Frame::Ack),
                        Some(code) => Frame::Refused(code),
                        None => Frame::Other,
                    }
                } else if text.starts_with(r#"{"push":"newMessage""#) {
                    match text.find(r#""text":"t="#) {
                        Some(at) => delivery(&text[at + 8..]),
                        None => Frame::Other,
                    }
                } else {
                    Frame::Other
                }
            }
            Proto::Floor => {
                if let Some(req) = text.strip_prefix("a ") {
                    req.parse().map_or(Frame::Other, Frame::Ack)
                } else if text.starts_with("t=") {
                    delivery(text)
                } else {
                    Frame::Other
                }
            }
        }
    }
}

/// Connect a WebSocket, without logging in.
pub async fn connect(url: &str) -> anyhow::Result<(Sink, Stream)> {
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        // Small buffers like the server's, but large frames: sync pages run to 256 KiB.
        tokio_tungstenite::connect_async_with_config(
            url,
            Some(
                super::floor::ws_config()
                    .max_message_size(Some(16 << 20))
                    .max_frame_size(Some(16 << 20)),
            ),
            true,
        ),
    )
    .await
    .context("connect timed out")??;
    Ok(ws.split())
}

/// Connect and log in as `user`.
pub async fn open(url: &str, proto: &Proto, user: &str) -> anyhow::Result<(Sink, Stream)> {
    let (mut sink, mut stream) = connect(url).await?;
    sink.send(Message::Text(proto.login(user).into())).await?;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .context("login timed out")?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                if let Some(answer) = proto.login_answer(&t) {
                    answer.map_err(|e| anyhow::anyhow!("login refused: {e}"))?;
                    return Ok((sink, stream));
                }
            }
            Some(Ok(_)) => {}
            other => bail!("connection ended during login: {other:?}"),
        }
    }
}

/// Send a termim request and wait for its answer (pushes meanwhile are skipped).
pub async fn call(
    sink: &mut Sink,
    stream: &mut Stream,
    req_id: u64,
    op: &str,
    params: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let text = call_text(sink, stream, req_id, op, params).await?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    if v["code"] != 0 {
        bail!("{op} failed: {v}");
    }
    Ok(v["data"].clone())
}

/// Send a termim request and return its answer frame as text, unparsed (pushes meanwhile
/// are skipped), whatever its code.
pub async fn call_text(
    sink: &mut Sink,
    stream: &mut Stream,
    req_id: u64,
    op: &str,
    params: serde_json::Value,
) -> anyhow::Result<String> {
    let frame = serde_json::json!({"reqId": req_id, "op": op, "params": params});
    sink.send(Message::Text(frame.to_string().into())).await?;
    let answer = format!(r#"{{"reqId":{req_id},"#);
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), stream.next())
            .await
            .context("no answer in time")?;
        match msg {
            Some(Ok(Message::Text(t))) if t.starts_with(&answer) => return Ok(t.to_string()),
            Some(Ok(_)) => {}
            other => bail!("connection ended: {other:?}"),
        }
    }
}

/// Counters shared by all readers, for progress.
#[derive(Default)]
pub struct Counters {
    pub acks: AtomicU64,
    pub deliveries: AtomicU64,
    pub refused: AtomicU64,
    /// ns (since base) of the latest ack or delivery.
    pub last_event: AtomicU64,
}

pub fn histogram() -> Histogram<u64> {
    // 1 µs .. 100 s, 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// Latencies in µs.
pub struct Stats {
    pub ack: Histogram<u64>,
    pub deliver_sched: Histogram<u64>,
    pub deliver_wire: Histogram<u64>,
    pub refused_codes: Vec<i64>,
}

impl Stats {
    pub fn new() -> Self {
        Self {
            ack: histogram(),
            deliver_sched: histogram(),
            deliver_wire: histogram(),
            refused_codes: Vec::new(),
        }
    }

    /// Add one reader's samples.
    pub fn record(&mut self, s: &Samples) {
        let into = |h: &mut Histogram<u64>, values: &[u32]| {
            for &v in values {
                let _ = h.record(u64::from(v));
            }
        };
        into(&mut self.ack, &s.ack);
        into(&mut self.deliver_sched, &s.deliver_sched);
        into(&mut self.deliver_wire, &s.deliver_wire);
        for c in &s.refused_codes {
            if !self.refused_codes.contains(c) {
                self.refused_codes.push(*c);
            }
        }
    }
}

/// One reader's latencies (µs), recorded as plain values and put into the histograms
/// once at the end: a histogram per reader (~440 KB each at 3 significant digits) made
/// every sample a cache miss, and a thousand readers cost the generator more CPU than the
/// server it measures spends per delivery.
#[derive(Default)]
pub struct Samples {
    pub ack: Vec<u32>,
    pub deliver_sched: Vec<u32>,
    pub deliver_wire: Vec<u32>,
    pub refused_codes: Vec<i64>,
}

pub fn now_ns(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

/// Read frames until `stop`, recording latencies.
pub async fn reader(
    mut stream: Stream,
    proto: Proto,
    base: Instant,
    mut stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
) -> Samples {
    let mut stats = Samples::default();
    let record = |v: &mut Vec<u32>, from: u64, now: u64| {
        v.push((now.saturating_sub(from).max(1000) / 1000).min(u64::from(u32::MAX)) as u32);
    };
    // Made once: registering a fresh one for every frame showed in the profile.
    let stopped = stop.changed();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let now = now_ns(base);
                    match proto.classify(&t) {
                        Frame::Ack(sched) => {
                            record(&mut stats.ack, sched, now);
                            counters.acks.fetch_add(1, Ordering::Relaxed);
                            counters.last_event.fetch_max(now, Ordering::Relaxed);
                        }
                        Frame::Delivery { sched, actual } => {
                            record(&mut stats.deliver_sched, sched, now);
                            record(&mut stats.deliver_wire, actual, now);
                            counters.deliveries.fetch_add(1, Ordering::Relaxed);
                            counters.last_event.fetch_max(now, Ordering::Relaxed);
                        }
                        Frame::Refused(code) => {
                            counters.refused.fetch_add(1, Ordering::Relaxed);
                            if !stats.refused_codes.contains(&code) {
                                stats.refused_codes.push(code);
                            }
                        }
                        Frame::Other => {}
                    }
                }
                Some(Ok(_)) => {}
                _ => break,
            }
        }
    }
    stats
}

/// Open loop: send `count` messages, the k-th at `start + k·interval` (ns since `base`),
/// whether or not earlier ones were answered. Latency is measured from those times, so a
/// stalled server is charged for every send it delayed (no coordinated omission).
/// Returns how many were sent and the generator's own lateness (µs).
#[allow(clippy::too_many_arguments)]
pub async fn open_loop(
    mut sink: Sink,
    proto: Proto,
    targets: Vec<To<'static>>,
    base: Instant,
    start: u64,
    interval: u64,
    count: u64,
    body: usize,
    timer: Timer,
) -> (u64, Histogram<u64>, Sink) {
    let mut late = histogram();
    let mut sent = 0;
    for k in 0..count {
        let sched = start + k * interval;
        timer.sleep_until(base + Duration::from_nanos(sched)).await;
        let actual = now_ns(base);
        let _ = late.record(actual.saturating_sub(sched).max(1000) / 1000);
        let to = &targets[k as usize % targets.len()];
        let frame = proto.send(sched, to, &payload(sched, actual, body));
        if sink.send(Message::Text(frame.into())).await.is_err() {
            break;
        }
        sent += 1;
    }
    (sent, late, sink)
}
