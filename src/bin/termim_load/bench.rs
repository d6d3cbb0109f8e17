//! The scenarios. Each starts its server in a separate process (`target.rs`), drives it
//! from this process and prints what it measured.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::client::{self, Counters, Proto, Sink, Stats, To};
use super::pacer::Timer;
use super::target::{Kind, Target, TargetArgs};

/// Connections opened at once while setting up.
const CONNECT_CONCURRENCY: usize = 128;

#[derive(clap::Args, Debug, Clone)]
pub struct C2cArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Sender/receiver pairs (2 connections each).
    #[arg(long, default_value_t = 100)]
    pub pairs: usize,
    /// Messages per second, all senders together.
    #[arg(long, default_value_t = 2000)]
    pub rate: u64,
    #[arg(long, default_value_t = 10)]
    pub secs: u64,
    /// Text bytes per message.
    #[arg(long, default_value_t = 128)]
    pub body: usize,
}

#[derive(clap::Args, Debug, Clone)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Online members of the one group.
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Members that send.
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second into the group, all senders together.
    #[arg(long, default_value_t = 200)]
    pub rate: u64,
    #[arg(long, default_value_t = 10)]
    pub secs: u64,
    #[arg(long, default_value_t = 128)]
    pub body: usize,
}

#[derive(clap::Args, Debug, Clone)]
pub struct IdleArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, default_value_t = 10_000)]
    pub conns: usize,
    /// Logins in progress at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// How long to hold the connections idle while measuring CPU.
    #[arg(long, default_value_t = 10)]
    pub idle_secs: u64,
}

#[derive(clap::Args, Debug, Clone)]
pub struct CatchUpArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Conversations (peers) the offline user missed messages in.
    #[arg(long, default_value_t = 100)]
    pub convs: usize,
    /// Messages missed in each.
    #[arg(long, default_value_t = 100)]
    pub per_conv: usize,
    #[arg(long, default_value_t = 128)]
    pub body: usize,
    /// Sync page size.
    #[arg(long, default_value_t = 500)]
    pub page: u32,
    /// Catch-ups to time (each from cursor 0 on a fresh connection).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

pub(super) fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn line(name: &str, h: &Histogram<u64>) {
    if h.is_empty() {
        println!("  {name:<34} (none)");
        return;
    }
    println!(
        "  {name:<34} p50 {:>8.3} ms  p99 {:>8.3} ms  p99.9 {:>8.3} ms  max {:>8.3} ms  (n={})",
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
        h.len()
    );
}

pub(super) fn proto_for(target: &Target) -> anyhow::Result<Proto> {
    match target.kind {
        Kind::Termim => Ok(Proto::Termim(target.key.clone().context("termim key")?)),
        Kind::Floor => Ok(Proto::Floor),
    }
}

pub(super) fn describe(t: &TargetArgs, target: &Target) -> String {
    match t.target {
        Kind::Termim => format!(
            "termim (pid {}, {} workers, synchronous={})",
            target.pid, t.server_workers, t.sync
        ),
        Kind::Floor => format!(
            "floor (pid {}, {} workers: bare tokio-tungstenite, no auth, no storage)",
            target.pid, t.server_workers
        ),
    }
}

/// Open and log in many connections, `CONNECT_CONCURRENCY` at a time, in user order.
pub(super) async fn open_all(
    url: &str,
    proto: &Proto,
    users: Vec<String>,
) -> anyhow::Result<Vec<(Sink, client::Stream)>> {
    let results: Vec<anyhow::Result<(Sink, client::Stream)>> =
        futures_util::stream::iter(users.into_iter().map(|u| {
            let proto = proto.clone();
            let url = url.to_string();
            async move { client::open(&url, &proto, &u).await }
        }))
        .buffered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

pub(super) struct Readers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<client::Samples>>,
    pub(super) counters: Arc<Counters>,
}

impl Readers {
    pub(super) fn new() -> (Self, watch::Receiver<bool>) {
        let (stop, rx) = watch::channel(false);
        (
            Self {
                stop,
                tasks: Vec::new(),
                counters: Arc::default(),
            },
            rx,
        )
    }

    pub(super) fn spawn(
        &mut self,
        stream: client::Stream,
        proto: &Proto,
        base: Instant,
        stop: &watch::Receiver<bool>,
    ) {
        self.tasks.push(tokio::spawn(client::reader(
            stream,
            proto.clone(),
            base,
            stop.clone(),
            self.counters.clone(),
        )));
    }

    /// Wait until `acks` and `deliveries` are reached (or `drain` passes), then stop.
    pub(super) async fn finish(self, acks: u64, deliveries: u64, drain: Duration) -> Stats {
        let until = Instant::now() + drain;
        while Instant::now() < until
            && (self.counters.acks.load(Ordering::Relaxed)
                + self.counters.refused.load(Ordering::Relaxed)
                < acks
                || self.counters.deliveries.load(Ordering::Relaxed) < deliveries)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = self.stop.send(true);
        let mut all = Stats::new();
        for t in self.tasks {
            if let Ok(s) = t.await {
                all.record(&s);
            }
        }
        all
    }
}

/// One-to-one messages at a fixed rate: `pairs` senders, each to its own receiver.
pub async fn c2c(a: C2cArgs) -> anyhow::Result<()> {
    if a.pairs == 0 || a.rate == 0 {
        bail!("--pairs and --rate must be positive");
    }
    let target = Target::start(&a.target).await?;
    let proto = proto_for(&target)?;
    println!(
        "== c2c: {} pairs, {} msg/s offered for {} s, {} B text; server {}",
        a.pairs,
        a.rate,
        a.secs,
        a.body,
        describe(&a.target, &target)
    );
    let receivers = open_all(
        &target.url,
        &proto,
        (0..a.pairs).map(|i| format!("r{i}")).collect(),
    )
    .await?;
    let senders = open_all(
        &target.url,
        &proto,
        (0..a.pairs).map(|i| format!("s{i}")).collect(),
    )
    .await?;
    let base = Instant::now();
    let (mut readers, stop) = Readers::new();
    let mut keep = Vec::new();
    for (sink, stream) in receivers {
        readers.spawn(stream, &proto, base, &stop);
        keep.push(sink);
    }
    // Sender i sends every pairs/rate seconds, offset so the whole stream is even.
    let interval = 1_000_000_000 * a.pairs as u64 / a.rate;
    let per_sender = a.secs * a.rate / a.pairs as u64;
    let start = 200_000_000; // 200 ms to let every task get going
    let timer = Timer::for_rate(a.rate);
    println!("  send times: {}", timer.describe());
    let cpu0 = target.cpu_secs();
    let mut sends = Vec::new();
    for (i, (sink, stream)) in senders.into_iter().enumerate() {
        readers.spawn(stream, &proto, base, &stop);
        let peer: &'static str = Box::leak(format!("r{i}").into_boxed_str());
        let offset = interval * i as u64 / a.pairs as u64;
        sends.push(tokio::spawn(client::open_loop(
            sink,
            proto.clone(),
            vec![To::User(peer)],
            base,
            start + offset,
            interval,
            per_sender,
            a.body,
            timer.clone(),
        )));
    }
    let mut sent = 0;
    let mut late = client::histogram();
    for s in sends {
        let (n, l, sink) = s.await?;
        sent += n;
        let _ = late.add(&l);
        keep.push(sink);
    }
    let send_end = client::now_ns(base);
    let counters = readers.counters.clone();
    let stats = readers.finish(sent, sent, Duration::from_secs(15)).await;
    let cpu1 = target.cpu_secs();
    let acks = counters.acks.load(Ordering::Relaxed);
    let delivered = counters.deliveries.load(Ordering::Relaxed);
    let refused = counters.refused.load(Ordering::Relaxed);
    let last = counters.last_event.load(Ordering::Relaxed);
    let span = (last.max(send_end) - start) as f64 / 1e9;
    println!(
        "  sent {sent} (offered {:.0}/s)  acked {acks}  delivered {delivered}  refused {refused} {:?}",
        sent as f64 / ((send_end - start) as f64 / 1e9),
        stats.refused_codes
    );
    println!(
        "  achieved {:.0} acks/s, {:.0} deliveries/s (first send to last answer: {span:.2} s)",
        acks as f64 / span,
        delivered as f64 / span
    );
    line("send → receive (from schedule)", &stats.deliver_sched);
    line("send → receive (on the wire)", &stats.deliver_wire);
    line("send → ack (from schedule)", &stats.ack);
    line("generator lateness (sched → write)", &late);
    report_server(&target, cpu0, cpu1, span);
    drop(keep);
    target.stop().await;
    Ok(())
}

fn report_server(target: &Target, cpu0: Option<f64>, cpu1: Option<f64>, secs: f64) {
    if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        println!(
            "  server CPU {:.0}% of one core over the run; RSS {:.1} MB",
            100.0 * (c1 - c0) / secs,
            target.rss().unwrap_or(0) as f64 / 1e6
        );
    }
}

/// One group of `members` online members; `senders` of them send at `rate` in total.
pub async fn fanout(a: FanoutArgs) -> anyhow::Result<()> {
    if a.members < 2 || a.senders == 0 || a.senders > a.members || a.rate == 0 {
        bail!("need 2+ members, 1..=members senders, a positive rate");
    }
    let target = Target::start(&a.target).await?;
    let proto = proto_for(&target)?;
    println!(
        "== fan-out: 1 group × {} online members, {} senders, {} msg/s offered for {} s ({} deliveries/s offered); server {}",
        a.members,
        a.senders,
        a.rate,
        a.secs,
        a.rate * (a.members as u64 - 1),
        describe(&a.target, &target)
    );
    let users: Vec<String> = (0..a.members).map(|i| format!("m{i}")).collect();
    let conns = open_all(&target.url, &proto, users.clone()).await?;
    let base = Instant::now();
    let (mut readers, stop) = Readers::new();
    let mut sinks = Vec::new();
    for (sink, stream) in conns {
        readers.spawn(stream, &proto, base, &stop);
        sinks.push(sink);
    }
    if let Proto::Termim(_) = proto {
        // A Meeting group (cap 6,000): created with 20 members, the rest invited 20 at a
        // time, from a second connection of the owner.
        let (mut s, mut r) = client::open(&target.url, &proto, "m0").await?;
        let first: Vec<_> = users[1..users.len().min(20)]
            .iter()
            .map(|u| json!({"userID": u}))
            .collect();
        client::call(
            &mut s,
            &mut r,
            1,
            "createGroup",
            json!({"groupType": "Meeting",
            "groupName": "fan-out", "groupID": "fan", "memberList": first}),
        )
        .await?;
        for (n, chunk) in users[users.len().min(20)..].chunks(20).enumerate() {
            client::call(
                &mut s,
                &mut r,
                2 + n as u64,
                "inviteUserToGroup",
                json!({"groupID": "fan", "userList": chunk}),
            )
            .await?;
        }
        // Let the membership tips drain before measuring.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let now = client::now_ns(base);
    let start = now + 300_000_000;
    let interval = 1_000_000_000 * a.senders as u64 / a.rate;
    let per_sender = a.secs * a.rate / a.senders as u64;
    let timer = Timer::for_rate(a.rate);
    println!("  send times: {}", timer.describe());
    let cpu0 = target.cpu_secs();
    let mut sends = Vec::new();
    let mut rest = Vec::new();
    for (i, sink) in sinks.into_iter().enumerate() {
        if i < a.senders {
            let offset = interval * i as u64 / a.senders as u64;
            sends.push(tokio::spawn(client::open_loop(
                sink,
                proto.clone(),
                vec![To::Group("fan")],
                base,
                start + offset,
                interval,
                per_sender,
                a.body,
                timer.clone(),
            )));
        } else {
            rest.push(sink);
        }
    }
    let mut sent = 0;
    let mut late = client::histogram();
    for s in sends {
        let (n, l, sink) = s.await?;
        sent += n;
        let _ = late.add(&l);
        rest.push(sink);
    }
    let send_end = client::now_ns(base);
    let expected = sent * (a.members as u64 - 1);
    let counters = readers.counters.clone();
    let stats = readers
        .finish(sent, expected, Duration::from_secs(20))
        .await;
    let cpu1 = target.cpu_secs();
    let delivered = counters.deliveries.load(Ordering::Relaxed);
    let acks = counters.acks.load(Ordering::Relaxed);
    let refused = counters.refused.load(Ordering::Relaxed);
    let last = counters.last_event.load(Ordering::Relaxed);
    let span = (last.max(send_end) - start) as f64 / 1e9;
    println!(
        "  sent {sent}  acked {acks}  refused {refused} {:?}  delivered {delivered} of {expected}",
        stats.refused_codes
    );
    println!(
        "  achieved {:.0} deliveries/s (first send to last delivery: {span:.2} s)",
        delivered as f64 / span
    );
    line("send → receive (from schedule)", &stats.deliver_sched);
    line("send → receive (on the wire)", &stats.deliver_wire);
    line("send → ack (from schedule)", &stats.ack);
    line("generator lateness (sched → write)", &late);
    report_server(&target, cpu0, cpu1, span);
    drop(rest);
    target.stop().await;
    Ok(())
}

/// The generator process's open-file limit (soft).
fn fd_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Many idle authenticated connections: login rate, server memory, idle CPU.
pub async fn idle(a: IdleArgs) -> anyhow::Result<()> {
    if let Some(limit) = fd_limit()
        && (a.conns as u64) + 64 > limit
    {
        bail!(
            "{} connections need more open files than this process may have ({limit}); raise `ulimit -n` (the server needs as many)",
            a.conns
        );
    }
    let target = Target::start(&a.target).await?;
    let proto = proto_for(&target)?;
    println!(
        "== idle connections: {} authenticated, {} logins in flight; server {}",
        a.conns,
        a.concurrency,
        describe(&a.target, &target)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = target.rss().unwrap_or(0);
    let base = Instant::now();
    let (mut readers, stop) = Readers::new();
    let t0 = Instant::now();
    let results: Vec<anyhow::Result<(Sink, client::Stream)>> =
        futures_util::stream::iter((0..a.conns).map(|i| {
            let proto = proto.clone();
            let url = target.url.clone();
            async move { client::open(&url, &proto, &format!("i{i}")).await }
        }))
        .buffer_unordered(a.concurrency.max(1))
        .collect()
        .await;
    let login_secs = t0.elapsed().as_secs_f64();
    let mut sinks = Vec::new();
    let mut failed = 0;
    for r in results {
        match r {
            Ok((sink, stream)) => {
                readers.spawn(stream, &proto, base, &stop);
                sinks.push(sink);
            }
            Err(e) => {
                if failed == 0 {
                    eprintln!("first failure: {e:#}");
                }
                failed += 1;
            }
        }
    }
    println!(
        "  {} logged in ({failed} failed) in {login_secs:.2} s: {:.0} connects+logins/s",
        sinks.len(),
        sinks.len() as f64 / login_secs
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss1 = target.rss().unwrap_or(0);
    let cpu0 = target.cpu_secs().unwrap_or(0.0);
    tokio::time::sleep(Duration::from_secs(a.idle_secs)).await;
    let cpu1 = target.cpu_secs().unwrap_or(0.0);
    let rss2 = target.rss().unwrap_or(0);
    println!(
        "  server RSS: {:.1} MB before, {:.1} MB with the connections ({:.1} MB after {} s idle): {:.1} kB per connection",
        rss0 as f64 / 1e6,
        rss1 as f64 / 1e6,
        rss2 as f64 / 1e6,
        a.idle_secs,
        (rss1.saturating_sub(rss0)) as f64 / 1e3 / sinks.len().max(1) as f64
    );
    println!(
        "  server CPU while idle: {:.1}% of one core",
        100.0 * (cpu1 - cpu0) / a.idle_secs as f64
    );
    let _ = readers.finish(0, 0, Duration::ZERO).await;
    drop(sinks);
    target.stop().await;
    Ok(())
}

/// An offline user misses `convs × per_conv` messages, then logs in and syncs.
pub async fn catch_up(a: CatchUpArgs) -> anyhow::Result<()> {
    let target = Target::start(&a.target).await?;
    let Proto::Termim(_) = proto_for(&target)? else {
        bail!("catch-up needs storage: only the termim target has it");
    };
    let proto = proto_for(&target)?;
    let total = a.convs * a.per_conv;
    println!(
        "== offline catch-up: {total} messages in {} conversations, sync pages of {}; server {}",
        a.convs,
        a.page,
        describe(&a.target, &target)
    );
    // The account exists, then its owner goes away.
    drop(client::open(&target.url, &proto, "offline").await?);
    let peers = open_all(
        &target.url,
        &proto,
        (0..a.convs).map(|i| format!("p{i}")).collect(),
    )
    .await?;
    let base = Instant::now();
    let (mut readers, stop) = Readers::new();
    let mut sinks = Vec::new();
    for (sink, stream) in peers {
        readers.spawn(stream, &proto, base, &stop);
        sinks.push(sink);
    }
    let t0 = Instant::now();
    let mut sends = Vec::new();
    // Each peer sends its share as fast as the window allows (open loop at 1 ms spacing).
    for sink in sinks {
        sends.push(tokio::spawn(client::open_loop(
            sink,
            proto.clone(),
            vec![To::User("offline")],
            base,
            client::now_ns(base),
            1_000_000,
            a.per_conv as u64,
            a.body,
            Timer::Tokio,
        )));
    }
    let mut keep = Vec::new();
    let mut sent = 0;
    for s in sends {
        let (n, _, sink) = s.await?;
        sent += n;
        keep.push(sink);
    }
    let counters = readers.counters.clone();
    let _ = readers.finish(sent, 0, Duration::from_secs(60)).await;
    println!(
        "  stored {} messages ({} acknowledged) in {:.2} s",
        sent,
        counters.acks.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64()
    );
    for run in 1..=a.runs {
        let t = Instant::now();
        let (mut s, mut r) = client::open(&target.url, &proto, "offline").await?;
        let login = t.elapsed();
        let mut cursor = 0u64;
        let mut got = 0usize;
        let mut pages = 0;
        loop {
            let data = client::call(
                &mut s,
                &mut r,
                10 + pages,
                "sync",
                json!({"cursor": cursor, "count": a.page}),
            )
            .await?;
            pages += 1;
            got += data["messageList"].as_array().map_or(0, Vec::len);
            cursor = data["cursor"].as_u64().unwrap_or(cursor);
            if data["isFinished"] == true {
                break;
            }
        }
        let all = t.elapsed();
        let total_unread = client::call(&mut s, &mut r, 1, "getTotalUnreadMessageCount", json!({}))
            .await?["totalUnreadCount"]
            .as_u64()
            .unwrap_or(0);
        println!(
            "  run {run}: connect+login {:.1} ms, caught up ({got} messages, {pages} pages) {:.1} ms after connecting; unread {total_unread}",
            login.as_secs_f64() * 1e3,
            all.as_secs_f64() * 1e3
        );
        if got != total {
            println!("  !! expected {total} messages, got {got}");
        }
    }
    drop(keep);
    target.stop().await;
    Ok(())
}
