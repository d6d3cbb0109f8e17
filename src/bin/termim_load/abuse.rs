//! `termim-load abuse`: another user's send latency while one abuser runs (issue 10,
//! items 1–4).
//!
//! A victim sends C2C messages to an online peer at a fixed rate (open loop; latency from
//! the scheduled time to the ack) and logs in afresh once a second. Phase after phase —
//! quiet first, then each abuser alone, with a quiet gap between — the same victim is
//! measured beside the server's memory. The data the abusers need (big conversations, many
//! groups) is stored before the first phase and is not measured. Every phase has a time
//! cap, and an abuser the server cuts off is reported, never fatal.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::future::{BoxFuture, join_all};
use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::bench::{self, Readers};
use super::client::{self, Frame, Proto, Sink, Stream, To};
use super::pacer::Timer;
use super::target::{Kind, Target, TargetArgs};

const VICTIM: &str = "victim";
const PEER: &str = "peer";
const HIST: &str = "hist";
const HIST_PEER: &str = "hist-peer";
const PINNER: &str = "pinner";
const PIN_PEER: &str = "pin-peer";
const CLEANER: &str = "cleaner";
const CLEAN_PEER: &str = "clean-peer";
const SYNCER: &str = "syncer";
const SYNC_PEER: &str = "sync-peer";

/// How long a stopped abuser may take to wind down before it is aborted.
const ABUSER_STOP_CAP: Duration = Duration::from_secs(10);
/// How long an abuser that never read gets to read what the server sent it, at the end.
const READ_END_CAP: Duration = Duration::from_secs(3);
/// How long the victim's answers may take after its last send.
const VICTIM_DRAIN: Duration = Duration::from_secs(5);
/// A fresh login that takes longer counts as failed.
const LOGIN_CAP: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// No abuser.
    Quiet,
    /// Item 1: a logged-in client pipelines getHistoryMessageList (count 500) over big
    /// messages and never reads.
    HistoryFlood,
    /// Item 1: an unauthenticated client sends 60 KB bogus-op frames and never reads.
    UnauthJunk,
    /// Item 2: pinConversation toggled as fast as it goes on a conversation with many
    /// unread messages.
    PinToggle,
    /// Item 2: cleanConversationUnreadMessageCount("") in a loop, by a member of many groups.
    CleanAll,
    /// Item 3: concurrent sync loops from cursor 0 over many groups of big messages.
    SyncFlood,
    /// Item 4: many TCP connections that never finish the WebSocket handshake.
    HalfOpen,
    /// No abuser again, after all of them: the baseline's spread, and what memory the
    /// server kept.
    QuietEnd,
}

impl Phase {
    /// The abusers (`--phases`'s default); quiet runs before them and quiet-end after.
    const ABUSERS: [Phase; 6] = [
        Phase::HistoryFlood,
        Phase::UnauthJunk,
        Phase::PinToggle,
        Phase::CleanAll,
        Phase::SyncFlood,
        Phase::HalfOpen,
    ];

    fn name(self) -> &'static str {
        match self {
            Phase::Quiet => "quiet",
            Phase::HistoryFlood => "history-flood",
            Phase::UnauthJunk => "unauth-junk",
            Phase::PinToggle => "pin-toggle",
            Phase::CleanAll => "clean-all",
            Phase::SyncFlood => "sync-flood",
            Phase::HalfOpen => "half-open",
            Phase::QuietEnd => "quiet-end",
        }
    }

    fn item(self) -> &'static str {
        match self {
            Phase::Quiet | Phase::QuietEnd => "-",
            Phase::HistoryFlood | Phase::UnauthJunk => "1",
            Phase::PinToggle | Phase::CleanAll => "2",
            Phase::SyncFlood => "3",
            Phase::HalfOpen => "4",
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct AbuseArgs {
    /// The server. Unless given, the request and group send rates are unlimited here, so
    /// the pre-fill is fast (no phase sends to a group); the per-user conversation rate and
    /// the group cap stay the server's.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Abusers to run, in this order (quiet always runs first, and quiet-end last).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Phase::ABUSERS)]
    pub phases: Vec<Phase>,
    /// Seconds the victim sends in each phase.
    #[arg(long, default_value_t = 10)]
    pub secs: u64,
    /// The victim's messages per second to its online peer.
    #[arg(long, default_value_t = 200)]
    pub rate: u64,
    /// Text bytes of the victim's messages.
    #[arg(long, default_value_t = 128)]
    pub body: usize,
    /// How long each abuser runs before the victim starts, ms.
    #[arg(long, default_value_t = 1000)]
    pub warmup_ms: u64,
    /// Quiet time after each phase, ms.
    #[arg(long, default_value_t = 2000)]
    pub gap_ms: u64,
    /// Text bytes of the big messages (history-flood, sync-flood).
    #[arg(long, default_value_t = 12_000)]
    pub big_body: usize,
    /// history-flood: big messages in the abuser's conversation.
    #[arg(long, default_value_t = 1000)]
    pub history_messages: u64,
    /// history-flood: getHistoryMessageList (count 500) sent at once; then one every 500 ms.
    #[arg(long, default_value_t = 40)]
    pub history_burst: u64,
    /// unauth-junk: frames sent as fast as the socket takes them; then one every 250 ms.
    #[arg(long, default_value_t = 4300)]
    pub junk_frames: u64,
    /// unauth-junk: bytes of each frame's bogus op name.
    #[arg(long, default_value_t = 60_000)]
    pub junk_bytes: usize,
    /// pin-toggle: unread messages in the toggled conversation.
    #[arg(long, default_value_t = 20_000)]
    pub pin_unread: u64,
    /// clean-all: groups the abuser is in (one unread message in each).
    #[arg(long, default_value_t = 500)]
    pub clean_groups: usize,
    /// pin-toggle, clean-all: the abuser's requests in flight.
    #[arg(long, default_value_t = 32)]
    pub window: usize,
    /// pin-toggle, clean-all: the abuser's requests a second (0: as fast as it can).
    #[arg(long, default_value_t = 0)]
    pub abuser_rate: u64,
    /// sync-flood: groups the abuser is in.
    #[arg(long, default_value_t = 20)]
    pub sync_groups: usize,
    /// sync-flood: big messages in each group.
    #[arg(long, default_value_t = 500)]
    pub sync_per_group: u64,
    /// sync-flood: concurrent sync loops (one connection each).
    #[arg(long, default_value_t = 8)]
    pub sync_loops: usize,
    /// half-open: TCP connections held in the handshake, reopened as the server closes them.
    #[arg(long, default_value_t = 1000)]
    pub half_open: usize,
}

/// What every phase and abuser shares.
struct Env {
    url: String,
    /// `host:port` of the server.
    addr: String,
    proto: Proto,
    a: AbuseArgs,
    /// One base for the whole run: a send's id is `m<scheduled ns since base>`, so no two
    /// sends of one user ever share an id (a shared id would be answered from storage).
    base: Instant,
    /// The victim's send times.
    timer: Timer,
}

impl Env {
    fn new(target: &Target, a: &AbuseArgs, base: Instant, timer: Timer) -> anyhow::Result<Self> {
        Ok(Self {
            url: target.url.clone(),
            addr: target.url.trim_start_matches("ws://").to_string(),
            proto: bench::proto_for(target)?,
            a: a.clone(),
            base,
            timer,
        })
    }
}

fn secs_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Run `work` until it ends (`Some`) or `stop` turns true or goes away (`None`).
async fn until_stopped<F: Future>(stop: &mut watch::Receiver<bool>, work: F) -> Option<F::Output> {
    tokio::select! {
        out = work => Some(out),
        _ = stop.wait_for(|s| *s) => None,
    }
}

pub async fn abuse(a: AbuseArgs) -> anyhow::Result<()> {
    if a.target.target != Kind::Termim {
        bail!("the abusers need termim's ops and storage: run it against termim");
    }
    if a.secs == 0 || a.rate == 0 {
        bail!("--secs and --rate must be positive");
    }
    let mut phases = vec![Phase::Quiet];
    for p in &a.phases {
        if !phases.contains(p) && *p != Phase::QuietEnd {
            phases.push(*p);
        }
    }
    phases.push(Phase::QuietEnd);
    // The pre-fill runs with the request and group send rates lifted (one connection per
    // sender: a sender's other connections would get each message pushed again); then the
    // server restarts on the same data with the limits measured.
    let mut unlimited = a.target.clone();
    unlimited.request_rate = Some(0);
    unlimited.group_rate = Some(0);
    let target = Target::start(&unlimited).await?;
    let base = Instant::now();
    let timer = Timer::for_rate(a.rate);
    let env = Env::new(&target, &a, base, timer.clone())?;
    println!(
        "== abuse: victim {} msg/s × {} B to an online peer for {} s a phase (+ a fresh login each second), abuser warm-up {} ms, gap {} ms",
        a.rate, a.body, a.secs, a.warmup_ms, a.gap_ms,
    );
    println!("  load average before: {}", loadavg());
    prefill_all(&env, &phases).await?;
    let target = target.restart(&a.target).await?;
    let env = Arc::new(Env::new(&target, &a, base, timer)?);
    let limit = |r: Option<u32>, default: &str| match r {
        Some(0) => "unlimited".to_string(),
        Some(n) => format!("{n}/s"),
        None => format!("{default} (default)"),
    };
    println!(
        "  restarted on that data: server {}; request rate {}, group send rate {}, conversation changes {}, groups per user {}",
        bench::describe(&a.target, &target),
        limit(a.target.request_rate, "500/s per connection"),
        limit(a.target.group_rate, "40/s per group"),
        limit(a.target.conversation_rate, "20/s per user"),
        a.target
            .max_groups
            .map_or("1000 (default)".to_string(), |n| n.to_string())
    );
    // The victim's conversation and the restarted server's caches warm up, unmeasured.
    if let Ok(conns) = open_victim(&env).await {
        run_victim(&env, conns, Duration::from_secs(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(env.a.gap_ms)).await;
    let mut results = Vec::new();
    for phase in phases {
        let r = run_phase(&env, &target, phase).await;
        r.print();
        results.push(r);
    }
    print_table(&results);
    println!("  load average after: {}", loadavg());
    target.stop().await;
    Ok(())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}

// ---------------------------------------------------------------------------------------
// Pre-fill (not measured)

/// Store `count` messages of `body` bytes from `sender` over one connection, to `targets`
/// in turn, as fast as the server takes them. Prints what was stored.
async fn prefill(
    env: &Env,
    what: &str,
    sender: &str,
    targets: Vec<To<'static>>,
    count: u64,
    body: usize,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let (sink, stream) = client::open(&env.url, &env.proto, sender).await?;
    let (mut readers, stop) = Readers::new();
    readers.spawn(stream, &env.proto, env.base, &stop);
    let (sent, _, sink) = client::open_loop(
        sink,
        env.proto.clone(),
        targets,
        env.base,
        client::now_ns(env.base),
        1_000, // 1 µs apart: as fast as the socket takes them
        count,
        body,
        Timer::Tokio,
    )
    .await;
    let counters = readers.counters.clone();
    let stats = readers.finish(sent, 0, Duration::from_secs(120)).await;
    drop(sink);
    let acked = counters.acks.load(Ordering::Relaxed);
    let refused = counters.refused.load(Ordering::Relaxed);
    println!(
        "  pre-fill {what}: {acked} of {count} messages × {body} B stored in {:.1} s{}",
        secs_since(t0),
        if refused > 0 {
            format!(" ({refused} refused: {:?})", stats.refused_codes)
        } else {
            String::new()
        }
    );
    Ok(())
}

/// `owner` creates `n` Work groups `<prefix>-<i>` with `member` in each.
async fn create_groups(
    env: &Env,
    owner: &str,
    member: &str,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<To<'static>>> {
    let (mut sink, mut stream) = client::open(&env.url, &env.proto, owner).await?;
    let mut groups = Vec::with_capacity(n);
    for i in 0..n {
        let id = leak(format!("{prefix}-{i}"));
        client::call(
            &mut sink,
            &mut stream,
            i as u64 + 1,
            "createGroup",
            json!({"groupType": "Work", "groupName": id, "groupID": id,
                   "memberList": [{"userID": member}]}),
        )
        .await
        .with_context(|| format!("creating group {id}"))?;
        groups.push(To::Group(id));
    }
    Ok(groups)
}

async fn prefill_all(env: &Env, phases: &[Phase]) -> anyhow::Result<()> {
    let a = &env.a;
    // Accounts first: a send to a user who never logged in is refused.
    let mut users = vec![VICTIM, PEER];
    for p in phases {
        users.extend_from_slice(match p {
            Phase::HistoryFlood => &[HIST, HIST_PEER][..],
            Phase::PinToggle => &[PINNER, PIN_PEER],
            Phase::CleanAll => &[CLEANER, CLEAN_PEER],
            Phase::SyncFlood => &[SYNCER, SYNC_PEER],
            _ => &[],
        });
    }
    drop(
        bench::open_all(
            &env.url,
            &env.proto,
            users.iter().map(|u| u.to_string()).collect(),
        )
        .await?,
    );
    for p in phases {
        match p {
            Phase::HistoryFlood => {
                prefill(
                    env,
                    "history-flood (one C2C conversation)",
                    HIST_PEER,
                    vec![To::User(HIST)],
                    a.history_messages,
                    a.big_body,
                )
                .await?
            }
            Phase::PinToggle => {
                prefill(
                    env,
                    "pin-toggle (unread in one C2C conversation)",
                    PIN_PEER,
                    vec![To::User(PINNER)],
                    a.pin_unread,
                    a.body,
                )
                .await?
            }
            Phase::CleanAll => {
                let t0 = Instant::now();
                let groups =
                    create_groups(env, CLEANER, CLEAN_PEER, "clean", a.clean_groups).await?;
                println!(
                    "  pre-fill clean-all: {} groups created in {:.1} s",
                    groups.len(),
                    secs_since(t0)
                );
                let n = groups.len() as u64;
                prefill(
                    env,
                    "clean-all (one unread in each group)",
                    CLEAN_PEER,
                    groups,
                    n,
                    a.body,
                )
                .await?
            }
            Phase::SyncFlood => {
                let groups = create_groups(env, SYNC_PEER, SYNCER, "sync", a.sync_groups).await?;
                let n = a.sync_per_group * groups.len() as u64;
                prefill(
                    env,
                    &format!("sync-flood ({} groups)", groups.len()),
                    SYNC_PEER,
                    groups,
                    n,
                    a.big_body,
                )
                .await?
            }
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The victim

struct VictimResult {
    sent: u64,
    acked: u64,
    refused: u64,
    delivered: u64,
    /// send → ack from schedule, µs.
    ack: Histogram<u64>,
    logins: Histogram<u64>,
    logins_failed: u64,
}

async fn open_victim(env: &Env) -> anyhow::Result<Vec<(Sink, Stream)>> {
    bench::open_all(&env.url, &env.proto, vec![PEER.into(), VICTIM.into()]).await
}

/// The victim's open-loop sends for `secs`, then its answers (≤ `VICTIM_DRAIN`), beside a
/// fresh login each second.
async fn run_victim(env: &Env, conns: Vec<(Sink, Stream)>, secs: Duration) -> VictimResult {
    let a = &env.a;
    let (mut readers, stop) = Readers::new();
    let mut sinks = Vec::new();
    for (sink, stream) in conns {
        readers.spawn(stream, &env.proto, env.base, &stop);
        sinks.push(sink);
    }
    let victim_sink = sinks.pop();
    let interval = 1_000_000_000 / a.rate;
    let count = (secs.as_secs_f64() * a.rate as f64) as u64;
    let start = client::now_ns(env.base) + 50_000_000;
    let sends = async {
        let Some(sink) = victim_sink else {
            return 0;
        };
        let (sent, _, sink) = client::open_loop(
            sink,
            env.proto.clone(),
            vec![To::User(PEER)],
            env.base,
            start,
            interval,
            count,
            a.body,
            env.timer.clone(),
        )
        .await;
        sinks.push(sink);
        sent
    };
    let until = env.base + Duration::from_nanos(start) + secs;
    let (sent, (logins, logins_failed)) = tokio::join!(sends, login_probe(env, until));
    let counters = readers.counters.clone();
    let stats = readers.finish(sent, sent, VICTIM_DRAIN).await;
    VictimResult {
        sent,
        acked: counters.acks.load(Ordering::Relaxed),
        refused: counters.refused.load(Ordering::Relaxed),
        delivered: counters.deliveries.load(Ordering::Relaxed),
        ack: stats.ack,
        logins,
        logins_failed,
    }
}

/// A fresh connection and login as the victim once a second until `until`: µs each.
async fn login_probe(env: &Env, until: Instant) -> (Histogram<u64>, u64) {
    let mut h = client::histogram();
    let mut failed = 0;
    let mut next = Instant::now();
    while next < until {
        tokio::time::sleep_until(next).await;
        let t = Instant::now();
        match tokio::time::timeout(LOGIN_CAP, client::open(&env.url, &env.proto, VICTIM)).await {
            Ok(Ok(conn)) => {
                let _ = h.record((t.elapsed().as_micros() as u64).max(1));
                drop(conn);
            }
            _ => failed += 1,
        }
        next += Duration::from_secs(1);
    }
    (h, failed)
}

// ---------------------------------------------------------------------------------------
// A phase

struct PhaseResult {
    phase: Phase,
    victim: Result<VictimResult, String>,
    abuser: String,
    rss_before: u64,
    rss_peak: u64,
    rss_after: u64,
    /// The server's CPU from the abuser's start to its stop, % of one core.
    cpu: f64,
}

type Abuser = BoxFuture<'static, anyhow::Result<String>>;

fn abuser(env: &Arc<Env>, phase: Phase, stop: watch::Receiver<bool>) -> Option<Abuser> {
    let env = env.clone();
    Some(match phase {
        Phase::Quiet | Phase::QuietEnd => return None,
        Phase::HistoryFlood => history_flood(env, stop).boxed(),
        Phase::UnauthJunk => unauth_junk(env, stop).boxed(),
        Phase::PinToggle => pin_toggle(env, stop).boxed(),
        Phase::CleanAll => clean_all(env, stop).boxed(),
        Phase::SyncFlood => sync_flood(env, stop).boxed(),
        Phase::HalfOpen => half_open(env, stop).boxed(),
    })
}

async fn run_phase(env: &Arc<Env>, target: &Target, phase: Phase) -> PhaseResult {
    let rss_before = target.rss().unwrap_or(0);
    let (stop_tx, stop) = watch::channel(false);
    let (done_tx, mut done) = watch::channel(false);
    let sampler = async {
        let mut peak = 0;
        loop {
            peak = peak.max(target.rss().unwrap_or(0));
            tokio::select! {
                _ = done.wait_for(|d| *d) => break,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
        peak.max(target.rss().unwrap_or(0))
    };
    let work = async {
        // The victim is connected before the abuser starts (half-open would keep it out:
        // that is what its fresh logins measure).
        let conns = open_victim(env).await;
        let task = abuser(env, phase, stop.clone()).map(tokio::spawn);
        if task.is_some() {
            tokio::time::sleep(Duration::from_millis(env.a.warmup_ms)).await;
        }
        let victim = match conns {
            Ok(conns) => Ok(run_victim(env, conns, Duration::from_secs(env.a.secs)).await),
            Err(e) => Err(format!("{e:#}")),
        };
        let _ = stop_tx.send(true);
        let abuser = match task {
            None => "none".to_string(),
            Some(mut task) => match tokio::time::timeout(ABUSER_STOP_CAP, &mut task).await {
                Ok(Ok(Ok(summary))) => summary,
                Ok(Ok(Err(e))) => format!("failed: {e:#}"),
                Ok(Err(e)) => format!("task failed: {e}"),
                Err(_) => {
                    task.abort();
                    format!(
                        "did not stop within {} s (aborted)",
                        ABUSER_STOP_CAP.as_secs()
                    )
                }
            },
        };
        let _ = done_tx.send(true);
        (victim, abuser)
    };
    let (cpu0, t0) = (target.cpu_secs().unwrap_or(0.0), Instant::now());
    let (rss_peak, (victim, abuser)) = tokio::join!(sampler, work);
    let cpu = 100.0 * (target.cpu_secs().unwrap_or(0.0) - cpu0) / secs_since(t0).max(1e-9);
    tokio::time::sleep(Duration::from_millis(env.a.gap_ms)).await;
    PhaseResult {
        phase,
        victim,
        abuser,
        rss_before,
        rss_peak,
        rss_after: target.rss().unwrap_or(0),
        cpu,
    }
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return f64::NAN;
    }
    bench::ms(if q >= 1.0 {
        h.max()
    } else {
        h.value_at_quantile(q)
    })
}

impl PhaseResult {
    fn print(&self) {
        let head = format!("phase {} (item {})", self.phase.name(), self.phase.item());
        match &self.victim {
            Err(e) => println!("{head}: the victim could not connect: {e}"),
            Ok(v) => println!(
                "{head}: victim send → ack p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms  (acked {} of {} sent, refused {}, delivered {}); login p50 {:.1} ms  p99 {:.1} ms ({} ok, {} failed); server CPU {:.0}% of a core, RSS {:.1} MB, peak {:.1} MB, {:.1} MB after the gap",
                ms(&v.ack, 0.5),
                ms(&v.ack, 0.99),
                ms(&v.ack, 1.0),
                v.acked,
                v.sent,
                v.refused,
                v.delivered,
                ms(&v.logins, 0.5),
                ms(&v.logins, 0.99),
                v.logins.len(),
                v.logins_failed,
                self.cpu,
                mb(self.rss_before),
                mb(self.rss_peak),
                mb(self.rss_after)
            ),
        }
        println!("    abuser: {}", self.abuser);
    }
}

fn print_table(results: &[PhaseResult]) {
    // The stricter baseline: the lower of the two quiet figures.
    let quiet_p99 = results
        .iter()
        .filter(|r| matches!(r.phase, Phase::Quiet | Phase::QuietEnd))
        .filter_map(|r| r.victim.as_ref().ok())
        .map(|v| ms(&v.ack, 0.99))
        .reduce(f64::min);
    println!();
    if let Some(q) = quiet_p99 {
        println!("quiet p99 (the lower of quiet and quiet-end): {q:.2} ms");
    }
    println!(
        "| phase | item | victim send → ack p50 / p99 / max (ms) | p99 ÷ quiet | within 2×? | unanswered | login p50 / p99 (ms) | server CPU | server RSS peak (MB) | abuser |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let Ok(v) = &r.victim else {
            println!(
                "| {} | {} | (victim could not connect) | | | | | {:.0}% | {:.0} | {} |",
                r.phase.name(),
                r.phase.item(),
                r.cpu,
                mb(r.rss_peak),
                r.abuser
            );
            continue;
        };
        let p99 = ms(&v.ack, 0.99);
        let ratio = quiet_p99.map_or(f64::NAN, |q| p99 / q);
        let unanswered = v.sent.saturating_sub(v.acked + v.refused);
        println!(
            "| {} | {} | {:.2} / {:.2} / {:.2} | {:.1}× | {} | {} | {:.1} / {:.1}{} | {:.0}% | {:.0} | {} |",
            r.phase.name(),
            r.phase.item(),
            ms(&v.ack, 0.5),
            p99,
            ms(&v.ack, 1.0),
            ratio,
            if ratio <= 2.0 && unanswered == 0 {
                "yes"
            } else {
                "no"
            },
            unanswered,
            ms(&v.logins, 0.5),
            ms(&v.logins, 0.99),
            if v.logins_failed > 0 {
                format!(" ({} failed)", v.logins_failed)
            } else {
                String::new()
            },
            r.cpu,
            mb(r.rss_peak),
            r.abuser
        );
    }
}

// ---------------------------------------------------------------------------------------
// Abusers. Each runs until `stop`, never panics on a lost connection, and returns a line
// saying what it did and what became of it.

/// Send `make(n)` frames and never read: `burst` as fast as the socket takes them, then
/// one every `every` (a write to a connection the server closed fails, so its fate shows),
/// until `stop`. Then read, briefly, what the server had sent, to see how it ended.
async fn flood_unread(
    mut sink: Sink,
    stream: Stream,
    make: impl Fn(u64) -> String,
    burst: u64,
    every: Duration,
    stop: &mut watch::Receiver<bool>,
) -> String {
    let t0 = Instant::now();
    let mut sent = 0u64;
    let mut blocked: Option<f64> = None;
    let mut failed: Option<(f64, String)> = None;
    until_stopped(stop, async {
        loop {
            if sent >= burst {
                tokio::time::sleep(every).await;
            }
            let frame = Message::Text(make(sent).into());
            match tokio::time::timeout(Duration::from_secs(1), sink.send(frame)).await {
                Ok(Ok(())) => sent += 1,
                Ok(Err(e)) => {
                    failed = Some((secs_since(t0), e.to_string()));
                    break;
                }
                Err(_) => {
                    blocked.get_or_insert(secs_since(t0));
                }
            }
        }
    })
    .await;
    let now = secs_since(t0);
    let fate = match (failed, blocked) {
        (Some((at, e)), _) => format!("cut off after {at:.1} s ({sent} frames sent; write: {e})"),
        (None, Some(at)) => {
            format!(
                "still connected at {now:.1} s, its writes blocked from {at:.1} s ({sent} frames sent)"
            )
        }
        (None, None) => format!("still connected at {now:.1} s ({sent} frames sent)"),
    };
    format!("{fate}; reading at the end: {}", read_end(stream).await)
}

/// Read what is queued for a connection that never read (≤ `READ_END_CAP`): how much, and
/// how it ended.
async fn read_end(mut stream: Stream) -> String {
    let mut bytes = 0u64;
    let mut frames = 0u64;
    let end = tokio::time::timeout(READ_END_CAP, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Close(c))) => {
                    break match c {
                        Some(c) => format!("close {} \"{}\"", u16::from(c.code), c.reason),
                        None => "close (no code)".to_string(),
                    };
                }
                Some(Ok(m)) => {
                    bytes += m.len() as u64;
                    frames += 1;
                }
                Some(Err(e)) => break format!("ended ({e})"),
                None => break "ended (EOF)".to_string(),
            }
        }
    })
    .await;
    let got = format!("{frames} frames, {:.1} MB", mb(bytes));
    match end {
        Ok(how) => format!("{got}, then {how}"),
        Err(_) => format!("{got} in {} s, still open", READ_END_CAP.as_secs_f32()),
    }
}

async fn history_flood(env: Arc<Env>, mut stop: watch::Receiver<bool>) -> anyhow::Result<String> {
    let (sink, stream) = client::open(&env.url, &env.proto, HIST).await?;
    let conversation = format!("c2c_{HIST_PEER}");
    let make = |n: u64| {
        json!({"reqId": n + 1, "op": "getHistoryMessageList",
               "params": {"conversationID": conversation, "getType": 1, "count": 500}})
        .to_string()
    };
    let burst = env.a.history_burst;
    let fate = flood_unread(
        sink,
        stream,
        make,
        burst,
        Duration::from_millis(500),
        &mut stop,
    )
    .await;
    Ok(format!("history requests (count 500), never read: {fate}"))
}

async fn unauth_junk(env: Arc<Env>, mut stop: watch::Receiver<bool>) -> anyhow::Result<String> {
    let (sink, stream) = client::connect(&env.url).await?;
    let op = "x".repeat(env.a.junk_bytes);
    let make = |n: u64| format!(r#"{{"reqId":{n},"op":"{op}","params":{{}}}}"#);
    let burst = env.a.junk_frames;
    let fate = flood_unread(
        sink,
        stream,
        make,
        burst,
        Duration::from_millis(250),
        &mut stop,
    )
    .await;
    Ok(format!(
        "{} B bogus-op frames before login, never read: {fate}",
        env.a.junk_bytes
    ))
}

/// What a closed-loop abuser's requests got back.
#[derive(Default)]
struct Tally {
    sent: u64,
    ok: u64,
    /// Refusals by code and by which limit the sentence names.
    refused: BTreeMap<String, u64>,
    ended: Option<String>,
}

/// `-20009 (per user)`: a refusal's code and the limit its sentence names.
fn refusal(code: i64, text: &str) -> String {
    match ["per connection", "per user", "per group"]
        .iter()
        .find(|limit| text.contains(*limit))
    {
        Some(limit) => format!("{code} {limit}"),
        None => code.to_string(),
    }
}

impl Tally {
    fn describe(&self, secs: f64) -> String {
        let refused: u64 = self.refused.values().sum();
        let codes: Vec<String> = self
            .refused
            .iter()
            .map(|(code, n)| format!("{n} × {code}"))
            .collect();
        format!(
            "{} requests in {secs:.1} s ({:.0}/s): {} carried out, {refused} refused{}{}",
            self.sent,
            self.sent as f64 / secs.max(1e-9),
            self.ok,
            if codes.is_empty() {
                String::new()
            } else {
                format!(" ({})", codes.join(", "))
            },
            self.ended
                .as_ref()
                .map_or(String::new(), |e| format!("; connection ended: {e}"))
        )
    }
}

/// Keep up to `window` requests `make(n)` (reqId `n + 1`) in flight on one connection,
/// `rate` a second (0: as fast as the answers come back), reading every answer, until
/// `stop` or the connection ends.
async fn hammer(
    mut sink: Sink,
    mut stream: Stream,
    proto: &Proto,
    (window, rate): (usize, u64),
    make: impl Fn(u64) -> String,
    stop: &mut watch::Receiver<bool>,
) -> Tally {
    let mut t = Tally::default();
    let start = Instant::now();
    until_stopped(stop, async {
        let mut in_flight = 0usize;
        loop {
            let due = async {
                if rate > 0 {
                    let at = start + Duration::from_secs_f64(t.sent as f64 / rate as f64);
                    tokio::time::sleep_until(at).await;
                }
            };
            let msg = tokio::select! {
                biased;
                msg = stream.next() => msg,
                _ = due, if in_flight < window.max(1) => {
                    if let Err(e) = sink.send(Message::Text(make(t.sent).into())).await {
                        t.ended = Some(format!("write: {e}"));
                        return;
                    }
                    t.sent += 1;
                    in_flight += 1;
                    continue;
                }
            };
            match msg {
                Some(Ok(Message::Text(text))) => match proto.classify(&text) {
                    Frame::Ack(_) => {
                        t.ok += 1;
                        in_flight = in_flight.saturating_sub(1);
                    }
                    Frame::Refused(code) => {
                        *t.refused.entry(refusal(code, &text)).or_default() += 1;
                        in_flight = in_flight.saturating_sub(1);
                    }
                    _ => {}
                },
                Some(Ok(Message::Close(c))) => {
                    t.ended = Some(c.map_or("close".to_string(), |c| {
                        format!("close {} \"{}\"", u16::from(c.code), c.reason)
                    }));
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    t.ended = Some(e.to_string());
                    return;
                }
                None => {
                    t.ended = Some("EOF".to_string());
                    return;
                }
            }
        }
    })
    .await;
    t
}

/// Two calls of `op`, one after the other, before the abuser hammers: what one costs
/// alone (the first may do work the second finds done), ms.
async fn timed_twice(
    sink: &mut Sink,
    stream: &mut Stream,
    op: &str,
    params: &[serde_json::Value; 2],
) -> anyhow::Result<String> {
    let mut times = Vec::new();
    for (req, p) in (1u64 << 40..).zip(params) {
        let t = Instant::now();
        client::call_text(sink, stream, req, op, p.clone()).await?;
        times.push(format!("{:.1} ms", t.elapsed().as_secs_f64() * 1e3));
    }
    Ok(format!("one call alone {}", times.join(", then ")))
}

/// A rated abuser: `user` times `op` alone with `params(0)` then `params(1)`, then sends
/// it with `params(n)` as fast as the window lets it until stopped. Returns what the two
/// lone calls took and the tally.
async fn rated_abuser(
    env: &Env,
    stop: &mut watch::Receiver<bool>,
    user: &str,
    op: &'static str,
    params: impl Fn(u64) -> serde_json::Value,
) -> anyhow::Result<String> {
    let t0 = Instant::now();
    let (mut sink, mut stream) = client::open(&env.url, &env.proto, user).await?;
    let alone = timed_twice(&mut sink, &mut stream, op, &[params(0), params(1)]).await?;
    let make = |n: u64| json!({"reqId": n + 1, "op": op, "params": params(n)}).to_string();
    let tally = hammer(
        sink,
        stream,
        &env.proto,
        (env.a.window, env.a.abuser_rate),
        make,
        stop,
    )
    .await;
    Ok(format!("{alone}): {}", tally.describe(secs_since(t0))))
}

async fn pin_toggle(env: Arc<Env>, mut stop: watch::Receiver<bool>) -> anyhow::Result<String> {
    let conversation = format!("c2c_{PIN_PEER}");
    // Pinned on even calls, unpinned on odd ones: every call changes the row.
    let params = |n: u64| json!({"conversationID": conversation, "isPinned": n.is_multiple_of(2)});
    let tail = rated_abuser(&env, &mut stop, PINNER, "pinConversation", params).await?;
    Ok(format!(
        "pinConversation toggled ({} unread; {tail}",
        env.a.pin_unread
    ))
}

async fn clean_all(env: Arc<Env>, mut stop: watch::Receiver<bool>) -> anyhow::Result<String> {
    let params = |_| json!({"conversationID": "", "cleanTimestamp": 0, "cleanSequence": 0});
    let op = "cleanConversationUnreadMessageCount";
    let tail = rated_abuser(&env, &mut stop, CLEANER, op, params).await?;
    Ok(format!(
        "clean-all in {} groups ({tail}",
        env.a.clean_groups
    ))
}

#[derive(Default)]
struct SyncCounters {
    pages: AtomicU64,
    passes: AtomicU64,
    bytes: AtomicU64,
    refused: AtomicU64,
    ended: Mutex<Vec<String>>,
}

/// Sync from cursor 0 to the end, again and again.
async fn sync_loop(env: &Env, mut sink: Sink, mut stream: Stream, c: &SyncCounters) {
    let mut cursor = 0u64;
    for req in 1.. {
        let text = match client::call_text(
            &mut sink,
            &mut stream,
            req,
            "sync",
            json!({"cursor": cursor, "count": 500}),
        )
        .await
        {
            Ok(t) => t,
            Err(e) => {
                if let Ok(mut ended) = c.ended.lock() {
                    ended.push(format!("{e:#}"));
                }
                return;
            }
        };
        c.bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
        if !matches!(env.proto.classify(&text), Frame::Ack(_)) {
            c.refused.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        c.pages.fetch_add(1, Ordering::Relaxed);
        // The page's own fields come after its messageList.
        let tail = text.rfind(r#""cursor":"#).map_or("", |at| &text[at..]);
        cursor = client::u64_after(tail, r#""cursor":"#).unwrap_or(0);
        if tail.contains(r#""isFinished":true"#) {
            cursor = 0;
            c.passes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn sync_flood(env: Arc<Env>, mut stop: watch::Receiver<bool>) -> anyhow::Result<String> {
    let users = vec![SYNCER.to_string(); env.a.sync_loops.max(1)];
    let conns = bench::open_all(&env.url, &env.proto, users).await?;
    let t0 = Instant::now();
    let c = SyncCounters::default();
    let loops = conns
        .into_iter()
        .map(|(sink, stream)| sync_loop(&env, sink, stream, &c));
    until_stopped(&mut stop, join_all(loops)).await;
    let secs = secs_since(t0);
    let bytes = c.bytes.load(Ordering::Relaxed);
    let ended = c.ended.lock().map(|e| e.clone()).unwrap_or_default();
    Ok(format!(
        "{} sync loops over {} groups × {} messages: {} pages ({} full passes), {:.0} MB received ({:.1} MB/s){}{}",
        env.a.sync_loops,
        env.a.sync_groups,
        env.a.sync_per_group,
        c.pages.load(Ordering::Relaxed),
        c.passes.load(Ordering::Relaxed),
        mb(bytes),
        mb(bytes) / secs.max(1e-9),
        match c.refused.load(Ordering::Relaxed) {
            0 => String::new(),
            n => format!(", {n} refused"),
        },
        if ended.is_empty() {
            String::new()
        } else {
            format!("; {} loops ended: {}", ended.len(), ended[0])
        }
    ))
}

#[derive(Default)]
struct HalfOpenCounters {
    opened: AtomicU64,
    open_now: AtomicU64,
    peak: AtomicU64,
    closed: AtomicU64,
    failed: AtomicU64,
    /// How long the server kept each closed one, ms.
    lifetimes: Mutex<Vec<u64>>,
}

/// One TCP connection at a time that starts a WebSocket handshake and never finishes it;
/// when the server closes it, the next.
async fn hold_half_open(addr: &str, c: &HalfOpenCounters) {
    loop {
        let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await
        else {
            c.failed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let t = Instant::now();
        c.opened.fetch_add(1, Ordering::Relaxed);
        let now = c.open_now.fetch_add(1, Ordering::Relaxed) + 1;
        c.peak.fetch_max(now, Ordering::Relaxed);
        // The request line and one header, never the blank line that ends them.
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: termim\r\n").await;
        let mut buf = [0u8; 1024];
        // Until the server closes it (an answer, such as a refusal, is read and dropped).
        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
        c.open_now.fetch_sub(1, Ordering::Relaxed);
        c.closed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = c.lifetimes.lock() {
            l.push(t.elapsed().as_millis() as u64);
        }
    }
}

async fn half_open(env: Arc<Env>, mut stop: watch::Receiver<bool>) -> anyhow::Result<String> {
    let c = HalfOpenCounters::default();
    let holders = (0..env.a.half_open).map(|_| hold_half_open(&env.addr, &c));
    until_stopped(&mut stop, join_all(holders)).await;
    let mut lifetimes = c.lifetimes.lock().map(|l| l.clone()).unwrap_or_default();
    lifetimes.sort_unstable();
    let closed = c.closed.load(Ordering::Relaxed);
    Ok(format!(
        "{} half-open handshakes held: {} opened (peak {} at once), {closed} closed by the server{}, {} connects failed",
        env.a.half_open,
        c.opened.load(Ordering::Relaxed),
        c.peak.load(Ordering::Relaxed),
        match lifetimes.get(lifetimes.len() / 2) {
            Some(p50) if closed > 0 => format!(" (after p50 {:.1} s)", *p50 as f64 / 1e3),
            _ => String::new(),
        },
        c.failed.load(Ordering::Relaxed)
    ))
}
