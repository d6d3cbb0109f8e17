//! `soak`: long C2C load with connection churn (server-anchors §5 goal 9).
//!
//! `pairs` senders each send to their own receiver on a fixed open-loop schedule. Every
//! second the churn driver makes a random share of all connections drop and reconnect
//! (default 10% a minute). A sender that reconnects resends what was not acknowledged,
//! with the same client ids (as the SDK does); a receiver that reconnects syncs from its
//! cursor what it missed. Every report interval it prints the server's RSS, open file
//! descriptors and CPU and the window's delivery latency; at the end it audits every
//! receiver: exactly the messages its sender got acks for, each once (by msgID; a message
//! both pushed and synced around a reconnect counts once, as in the SDK).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use rand::Rng as _;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::client::{self, Proto, u64_after};
use super::target::{Kind, Target, TargetArgs};

#[derive(clap::Args, Debug, Clone)]
pub struct SoakArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Sender/receiver pairs (2 connections each).
    #[arg(long, default_value_t = 200)]
    pub pairs: usize,
    /// Messages per second, all senders together (default: half of the 40,000 goal).
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
    /// How long to run.
    #[arg(long, default_value_t = 60)]
    pub minutes: u64,
    /// Connections dropped and reopened per minute, in percent of all of them.
    #[arg(long, default_value_t = 10.0)]
    pub churn: f64,
    /// Seconds between report lines.
    #[arg(long, default_value_t = 60)]
    pub report_secs: u64,
    #[arg(long, default_value_t = 128)]
    pub body: usize,
}

/// What every connection task shares.
struct Shared {
    url: String,
    proto: Proto,
    base: Instant,
    /// Senders stop first; receivers once the last acknowledged messages have arrived.
    stop_senders: watch::Receiver<bool>,
    stop_receivers: watch::Receiver<bool>,
    /// Latencies (µs from schedule) of pushed deliveries in the current window.
    window: Mutex<Histogram<u64>>,
    sent: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    reconnects: AtomicU64,
}

fn str_after<'a>(text: &'a str, pat: &str) -> Option<&'a str> {
    let at = text.find(pat)? + pat.len();
    let rest = &text[at..];
    Some(&rest[..rest.find('"')?])
}

/// Open a connection, retrying (100 ms apart) until the server takes it.
async fn connect(
    sh: &Shared,
    user: &str,
    stop: &watch::Receiver<bool>,
) -> Option<(client::Sink, client::Stream)> {
    loop {
        if *stop.borrow() {
            return None;
        }
        match client::open(&sh.url, &sh.proto, user).await {
            Ok(c) => return Some(c),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Sender `i`: message k at `start + k·interval`; returns client id → acked msgID.
async fn sender(
    sh: Arc<Shared>,
    i: usize,
    start: u64,
    interval: u64,
    body: usize,
    churn: Arc<Notify>,
) -> HashMap<u64, String> {
    let me = format!("s{i}");
    let peer = format!("r{i}");
    let mut acked: HashMap<u64, String> = HashMap::new();
    // req id → k, for sends not yet answered on this connection.
    let mut unanswered: HashMap<u64, u64> = HashMap::new();
    // Sends to make again on the next connection (unanswered at a drop, or refused).
    let mut again: Vec<u64> = Vec::new();
    let mut next_k = 0u64;
    let mut next_req = 1u64;
    let mut stop = sh.stop_senders.clone();
    let frame = |req: u64, k: u64, sched: u64, actual: u64| {
        let text = client::payload(sched, actual, body);
        format!(
            r#"{{"reqId":{req},"op":"sendMessage","params":{{"id":"{me}-{k}","receiver":"{peer}","elemType":1,"textElem":{{"text":"{text}"}}}}}}"#
        )
    };
    'life: loop {
        let Some((mut sink, mut stream)) = connect(&sh, &me, &stop).await else {
            break;
        };
        // Everything not answered before the drop goes again, with its original id.
        again.extend(unanswered.drain().map(|(_, k)| k));
        again.sort_unstable();
        for k in std::mem::take(&mut again) {
            let sched = start + k * interval;
            let req = next_req;
            next_req += 1;
            let now = client::now_ns(sh.base);
            if sink
                .send(Message::Text(frame(req, k, sched, now).into()))
                .await
                .is_err()
            {
                continue 'life;
            }
            unanswered.insert(req, k);
        }
        loop {
            let due = sh.base + Duration::from_nanos(start + next_k * interval);
            tokio::select! {
                _ = stop.changed() => {
                    if *stop.borrow() {
                        // Drain the answers still owed, then end.
                        let deadline = tokio::time::sleep(Duration::from_secs(10));
                        tokio::pin!(deadline);
                        while !unanswered.is_empty() {
                            tokio::select! {
                                _ = &mut deadline => break,
                                msg = stream.next() => match msg {
                                    Some(Ok(Message::Text(t))) => answer(&sh, &t, &mut unanswered, &mut acked, &mut again),
                                    Some(Ok(_)) => {}
                                    _ => break,
                                },
                            }
                        }
                        break 'life;
                    }
                }
                _ = churn.notified() => {
                    sh.reconnects.fetch_add(1, Ordering::Relaxed);
                    let _ = sink.close().await;
                    continue 'life;
                }
                _ = tokio::time::sleep_until(due) => {
                    let sched = start + next_k * interval;
                    let req = next_req;
                    next_req += 1;
                    let now = client::now_ns(sh.base);
                    unanswered.insert(req, next_k);
                    next_k += 1;
                    sh.sent.fetch_add(1, Ordering::Relaxed);
                    if sink.send(Message::Text(frame(req, next_k - 1, sched, now).into())).await.is_err() {
                        continue 'life;
                    }
                }
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(t))) => answer(&sh, &t, &mut unanswered, &mut acked, &mut again),
                    Some(Ok(_)) => {}
                    _ => continue 'life,
                },
            }
        }
    }
    acked
}

/// A sender's answer: an ack records the stored msgID; a refusal is sent again later.
fn answer(
    sh: &Shared,
    t: &str,
    unanswered: &mut HashMap<u64, u64>,
    acked: &mut HashMap<u64, String>,
    again: &mut Vec<u64>,
) {
    if !t.starts_with(r#"{"reqId":"#) {
        return;
    }
    let Some(k) = u64_after(t, r#""reqId":"#).and_then(|r| unanswered.remove(&r)) else {
        return;
    };
    match (u64_after(t, r#""code":"#), str_after(t, r#""msgID":""#)) {
        (Some(0), Some(msg_id)) => {
            if acked.insert(k, msg_id.to_string()).is_none() {
                sh.acked.fetch_add(1, Ordering::Relaxed);
            }
        }
        _ => again.push(k),
    }
}

/// Receiver `i`: every msgID it got (pushed or synced), each counted once.
async fn receiver(sh: Arc<Shared>, i: usize, churn: Arc<Notify>) -> HashSet<String> {
    let me = format!("r{i}");
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor = 0u64;
    let mut stop = sh.stop_receivers.clone();
    let take = |sh: &Shared, seen: &mut HashSet<String>, m: &str, pushed: bool| {
        if let Some(id) = str_after(m, r#""msgID":""#)
            && seen.insert(id.to_string())
        {
            sh.delivered.fetch_add(1, Ordering::Relaxed);
            if pushed && let Some(sched) = u64_after(m, r#""text":"t="#) {
                let now = client::now_ns(sh.base);
                if let Ok(mut h) = sh.window.lock() {
                    let _ = h.record((now.saturating_sub(sched) / 1000).max(1));
                }
            }
        }
    };
    'life: loop {
        let Some((mut sink, mut stream)) = connect(&sh, &me, &stop).await else {
            break;
        };
        // Catch up from the cursor: what was sent while this connection was away.
        loop {
            let req =
                format!(r#"{{"reqId":1,"op":"sync","params":{{"cursor":{cursor},"count":500}}}}"#);
            if sink.send(Message::Text(req.into())).await.is_err() {
                continue 'life;
            }
            let page = loop {
                match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) if t.starts_with(r#"{"reqId":1,"#) => break t,
                    Ok(Some(Ok(Message::Text(t)))) => {
                        // A push meanwhile: counted, but the cursor only moves with the
                        // sync pages until the catch-up is done (pushes may run ahead).
                        if t.starts_with(r#"{"push":"newMessage""#) {
                            take(&sh, &mut seen, &t, true);
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => continue 'life,
                }
            };
            let v: serde_json::Value = match serde_json::from_str(&page) {
                Ok(v) => v,
                Err(_) => continue 'life,
            };
            for m in v["data"]["messageList"].as_array().into_iter().flatten() {
                take(&sh, &mut seen, &m.to_string(), false);
            }
            if let Some(c) = v["data"]["cursor"].as_u64() {
                cursor = cursor.max(c);
            }
            if v["data"]["isFinished"] != true {
                continue;
            }
            break;
        }
        loop {
            tokio::select! {
                _ = stop.changed() => {
                    if *stop.borrow() {
                        break 'life;
                    }
                }
                _ = churn.notified() => {
                    sh.reconnects.fetch_add(1, Ordering::Relaxed);
                    let _ = sink.close().await;
                    continue 'life;
                }
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if t.starts_with(r#"{"push":"newMessage""#) {
                            take(&sh, &mut seen, &t, true);
                            if let Some(c) = u64_after(&t, r#""cursor":"#) {
                                cursor = cursor.max(c);
                            }
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => continue 'life,
                },
            }
        }
    }
    seen
}

/// Open file descriptors of the server.
fn fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

pub async fn soak(a: SoakArgs) -> anyhow::Result<()> {
    if a.pairs == 0 || a.rate == 0 || a.minutes == 0 {
        bail!("--pairs, --rate and --minutes must be positive");
    }
    if a.target.target != Kind::Termim {
        bail!("the soak audits termim's sync and ids: run it against termim");
    }
    let target = Target::start(&a.target).await?;
    let proto = Proto::Termim(target.key.clone().context("termim key")?);
    println!(
        "== soak: {} pairs, {} msg/s for {} min, churn {}% of {} connections a minute; server pid {}",
        a.pairs,
        a.rate,
        a.minutes,
        a.churn,
        2 * a.pairs,
        target.pid
    );
    // Accounts first (a send to a user that never logged in is refused).
    for i in 0..a.pairs {
        for u in [format!("r{i}"), format!("s{i}")] {
            drop(client::open(&target.url, &proto, &u).await?);
        }
    }
    let (stop_senders_tx, stop_senders) = watch::channel(false);
    let (stop_receivers_tx, stop_receivers) = watch::channel(false);
    let sh = Arc::new(Shared {
        url: target.url.clone(),
        proto,
        base: Instant::now(),
        stop_senders,
        stop_receivers,
        window: Mutex::new(client::histogram()),
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        reconnects: AtomicU64::new(0),
    });
    let interval = 1_000_000_000 * a.pairs as u64 / a.rate;
    let start = 1_000_000_000;
    let churns: Vec<Arc<Notify>> = (0..2 * a.pairs).map(|_| Arc::new(Notify::new())).collect();
    let receivers: Vec<_> = (0..a.pairs)
        .map(|i| tokio::spawn(receiver(sh.clone(), i, churns[a.pairs + i].clone())))
        .collect();
    let senders: Vec<_> = (0..a.pairs)
        .map(|i| {
            let offset = interval * i as u64 / a.pairs as u64;
            tokio::spawn(sender(
                sh.clone(),
                i,
                start + offset,
                interval,
                a.body,
                churns[i].clone(),
            ))
        })
        .collect();

    let total = Duration::from_secs(a.minutes * 60);
    let began = Instant::now();
    let per_sec = a.churn / 100.0 * (2 * a.pairs) as f64 / 60.0;
    let mut owed = 0.0;
    let mut next_report = began + Duration::from_secs(a.report_secs);
    let mut cpu_prev = (began, target.cpu_secs().unwrap_or(0.0));
    let mut rows: Vec<(f64, u64, usize, u64)> = Vec::new(); // (min, rss, fds, p99 µs)
    println!(
        "  {:>6} {:>10} {:>10} {:>10} {:>8} {:>9} {:>6} {:>6} {:>9}",
        "min", "sent", "acked", "delivered", "reconn", "RSS MB", "fds", "CPU%", "p99 ms"
    );
    while began.elapsed() < total {
        tokio::time::sleep(Duration::from_secs(1)).await;
        owed += per_sec;
        let mut rng = rand::rng();
        while owed >= 1.0 {
            owed -= 1.0;
            churns[rng.random_range(0..churns.len())].notify_one();
        }
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(a.report_secs);
            let p99 = sh
                .window
                .lock()
                .map(|mut h| {
                    let p = h.value_at_quantile(0.99);
                    h.reset();
                    p
                })
                .unwrap_or(0);
            let cpu = target.cpu_secs().unwrap_or(0.0);
            let cpu_pct = 100.0 * (cpu - cpu_prev.1) / cpu_prev.0.elapsed().as_secs_f64();
            cpu_prev = (Instant::now(), cpu);
            let rss = target.rss().unwrap_or(0);
            let fd = fds(target.pid).unwrap_or(0);
            let min = began.elapsed().as_secs_f64() / 60.0;
            rows.push((min, rss, fd, p99));
            println!(
                "  {min:>6.1} {:>10} {:>10} {:>10} {:>8} {:>9.1} {fd:>6} {cpu_pct:>6.0} {:>9.1}",
                sh.sent.load(Ordering::Relaxed),
                sh.acked.load(Ordering::Relaxed),
                sh.delivered.load(Ordering::Relaxed),
                sh.reconnects.load(Ordering::Relaxed),
                rss as f64 / 1e6,
                p99 as f64 / 1000.0,
            );
        }
    }
    let _ = stop_senders_tx.send(true);
    let mut acked_by: Vec<HashMap<u64, String>> = Vec::new();
    for s in senders {
        acked_by.push(s.await?);
    }
    let sent = sh.sent.load(Ordering::Relaxed);
    // Receivers: let the last messages land, then stop them.
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until
        && sh.delivered.load(Ordering::Relaxed) < sh.acked.load(Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_receivers_tx.send(true);
    let mut seen_by: Vec<HashSet<String>> = Vec::new();
    for r in receivers {
        seen_by.push(r.await?);
    }
    // The audit, twice: what each receiver got live (pushes + its syncs after reconnects),
    // and what a sync from cursor 0 returns now — against its sender's acks.
    let proto = Proto::Termim(target.key.clone().context("termim key")?);
    let (mut lost_live, mut extra_live, mut lost, mut extra) = (0, 0, 0, 0);
    for (i, acked) in acked_by.iter().enumerate() {
        let want: HashSet<&str> = acked.values().map(String::as_str).collect();
        let seen = &seen_by[i];
        lost_live += want.iter().filter(|id| !seen.contains(**id)).count();
        extra_live += seen.iter().filter(|id| !want.contains(id.as_str())).count();
        let (mut sink, mut stream) = client::open(&target.url, &proto, &format!("r{i}")).await?;
        let mut got: HashSet<String> = HashSet::new();
        let mut cursor = 0u64;
        loop {
            let v = client::call(
                &mut sink,
                &mut stream,
                1,
                "sync",
                serde_json::json!({"cursor": cursor, "count": 500}),
            )
            .await?;
            for m in v["messageList"].as_array().into_iter().flatten() {
                if let Some(id) = m["msgID"].as_str()
                    && !got.insert(id.to_string())
                {
                    extra += 1; // the same message twice in one sync
                }
            }
            cursor = v["cursor"].as_u64().unwrap_or(cursor);
            if v["isFinished"] == true {
                break;
            }
        }
        lost += want.iter().filter(|id| !got.contains(**id)).count();
        extra += got.iter().filter(|id| !want.contains(id.as_str())).count();
    }
    let acked_total: usize = acked_by.iter().map(HashMap::len).sum();
    println!(
        "  sent {sent}, acknowledged {acked_total} (each once: the server deduplicates resends by client id), \
         {} reconnects",
        sh.reconnects.load(Ordering::Relaxed)
    );
    println!(
        "  audit vs. the senders' acks: received live {lost_live} lost, {extra_live} extra; \
         stored (sync from 0) {lost} lost, {extra} extra or twice"
    );
    if rows.len() >= 3 {
        let warm = rows[1];
        let last = rows[rows.len() - 1];
        println!(
            "  RSS {:.1} MB after warm-up → {:.1} MB at the end ({:+.1}%); fds {} → {}",
            warm.1 as f64 / 1e6,
            last.1 as f64 / 1e6,
            100.0 * (last.1 as f64 - warm.1 as f64) / warm.1.max(1) as f64,
            warm.2,
            last.2
        );
    }
    target.stop().await;
    if lost + extra + lost_live + extra_live > 0 {
        bail!("the audit failed");
    }
    Ok(())
}
