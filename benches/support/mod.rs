//! The data set of the TUI benchmarks, built through the real protocol: a termim server
//! whose user `me` has 1,000 conversations (900 one-to-one, 100 Work groups) holding
//! 200,000 messages, all synced into `me`'s SDK cache by one login — laid out as a termim
//! data directory (`<dir>/server`, `<dir>/client`), so `termim --data-dir <dir>` hosts it
//! as its embedded server.
//!
//! Building it takes a few minutes on 2 cores, so it is kept (under Cargo's
//! `CARGO_TARGET_TMPDIR`, or `TERMIM_BENCH_DATA`) and reused while its marker file says
//! it is complete.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use termim::model::{GroupMemberSpec, role};
use termim::protocol::codes;
use termim::sdk::{SdkConfig, SendParams, Tim, TimEvent};
use termim::server::{self, ServerConfig};
use termim::usersig::{self, AppKey};

pub const ME: &str = "me";
pub const C2C_CONVERSATIONS: usize = 900;
pub const GROUP_CONVERSATIONS: usize = 100;
pub const CONVERSATIONS: usize = C2C_CONVERSATIONS + GROUP_CONVERSATIONS;
pub const MESSAGES_PER_CONVERSATION: usize = 200;
pub const MESSAGES: usize = CONVERSATIONS * MESSAGES_PER_CONVERSATION;
const MARKER: &str = "populated-v2";

/// Messages in flight per sending SDK, and sending SDKs at a time.
const IN_FLIGHT: usize = 32;
const WORKERS: usize = 8;

const PHRASES: [&str; 12] = [
    "Morning! Stand-up in 5 minutes ☕",
    "我今天在家工作 🏠，有事请发消息",
    "The release notes are ready for review: https://example.org/notes",
    "好的 👍",
    "Can you take a look at the PR? It touches the sync cursor and the conversation list query, so a second pair of eyes would help.",
    "周末一起去爬山吗？天气预报说星期六是晴天 ☀️ 我们八点在地铁站见面吧。",
    "ok",
    "first line\nsecond line\nthird line",
    "Lunch at 12:30? 🍜🍕",
    "收到，谢谢！明天上午我把文档发给你。",
    "Meeting moved to 3pm, room 4B. Bring the numbers for Q3 if you have them ready by then.",
    "👍👍👍",
];

/// A count from the environment (`TERMIM_BENCH_RUNS`, …), or `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn peer(i: usize) -> String {
    format!("p{i:04}")
}

pub fn group(i: usize) -> String {
    format!("g{i:03}")
}

/// The text of message `m` of conversation `c` (deterministic).
pub fn text(c: usize, m: usize) -> String {
    let p = PHRASES[(c * 31 + m * 17) % PHRASES.len()];
    format!("{p} #{m}")
}

/// Where the data set lives.
pub fn data_root() -> PathBuf {
    std::env::var_os("TERMIM_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tui-bench"))
}

/// The populated data directory, built if it is not there yet.
pub fn ensure_populated() -> PathBuf {
    let root = data_root();
    if root.join(MARKER).exists() {
        return root;
    }
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("bench data dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    rt.block_on(populate(&root));
    eprintln!(
        "setup: populated {} in {:.1} s (not part of any measurement)",
        root.display(),
        started.elapsed().as_secs_f64()
    );
    std::fs::write(
        root.join(MARKER),
        format!("{CONVERSATIONS} conversations, {MESSAGES} messages\n"),
    )
    .expect("marker");
    root
}

fn sdk(url: &str, dir: &Path) -> SdkConfig {
    SdkConfig {
        server_url: url.to_string(),
        data_dir: dir.to_path_buf(),
        ca_cert_pem: None,
    }
}

async fn login(key: &AppKey, url: &str, dir: &Path, user: &str) -> Tim {
    let sig = usersig::gen_sig(key, user, 24 * 3600);
    Tim::login(sdk(url, dir), user, &sig)
        .await
        .unwrap_or_else(|e| panic!("{user} logs in: {e}"))
}

async fn send_all(tim: &Tim, c: usize, receiver: &str, group_id: &str) {
    let next = AtomicUsize::new(0);
    let one = async || {
        loop {
            let m = next.fetch_add(1, Ordering::Relaxed);
            if m >= MESSAGES_PER_CONVERSATION {
                break;
            }
            let created = if m % 25 == 24 {
                tim.create_custom_message(
                    &format!(r#"{{"type":"poll","question":"Lunch #{m}?","options":["noodles 🍜","pizza 🍕"]}}"#),
                    "Poll: Lunch?",
                    "vote with /poll",
                )
            } else {
                tim.create_text_message(&text(c, m))
            }
            .expect("create");
            let params = SendParams {
                id: created.id,
                receiver: receiver.to_string(),
                group_id: group_id.to_string(),
                ..Default::default()
            };
            send_retrying(tim, params, &format!("{c}/{m}")).await;
        }
    };
    futures_util::future::join_all((0..IN_FLIGHT).map(|_| one())).await;
}

async fn populate(root: &Path) {
    let server_dir = root.join("server");
    let client_dir = root.join("client");
    let peers_dir = tempfile::tempdir().expect("peers' temp dir");
    let handle = server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: server_dir,
        sdk_app_id: None,
        secret_key: None,
        database: None,
    })
    .await
    .expect("server starts");
    let url = handle.url();
    let key = handle.app_key().clone();

    // `me` needs an account before anyone can write to them; then `me` is away while
    // everything arrives, and one login syncs it all.
    let me = login(&key, &url, &client_dir, ME).await;
    me.logout().await.expect("logout");

    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (next, done, key, url) = (next.clone(), done.clone(), key.clone(), url.clone());
        let peers = peers_dir.path().to_path_buf();
        workers.spawn(async move {
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= CONVERSATIONS {
                    break;
                }
                if c < C2C_CONVERSATIONS {
                    let tim = login(&key, &url, &peers, &peer(c)).await;
                    send_all(&tim, c, ME, "").await;
                    let _ = tim.logout().await;
                } else {
                    let g = c - C2C_CONVERSATIONS;
                    // The group's owner is one of the one-to-one peers.
                    let owner = peer(g * 9);
                    let tim = login(&key, &url, &peers, &owner).await;
                    tim.create_group(
                        "Work",
                        &format!("Group {g} 讨论组"),
                        Some(&group(g)),
                        &[GroupMemberSpec {
                            user_id: ME.to_string(),
                            role: role::MEMBER,
                        }],
                    )
                    .await
                    .unwrap_or_else(|e| panic!("create group {g}: {e}"));
                    send_all(&tim, c, "", &group(g)).await;
                    let _ = tim.logout().await;
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 100 == 0 {
                    eprintln!("setup: {n}/{CONVERSATIONS} conversations written");
                }
            }
        });
    }
    while let Some(r) = workers.join_next().await {
        r.expect("worker");
    }

    // One login of `me` syncs everything into the cache.
    let synced = Instant::now();
    let sig = usersig::gen_sig(&key, ME, 24 * 3600);
    let me = Tim::login(sdk(&url, &client_dir), ME, &sig)
        .await
        .expect("me logs in");
    let mut events = me.add_listener();
    tokio::time::timeout(Duration::from_secs(1800), async {
        while let Some(ev) = events.recv().await {
            if matches!(ev, TimEvent::SyncFinished) {
                break;
            }
        }
    })
    .await
    .expect("sync finished");
    let mut conversations = 0;
    let mut next_seq = "0".to_string();
    loop {
        let page = me
            .get_conversation_list(&next_seq, 500)
            .await
            .expect("list");
        conversations += page.conversation_list.len();
        if page.is_finished {
            break;
        }
        next_seq = page.next_seq;
    }
    let total = me.get_total_unread_message_count().await.expect("unread");
    eprintln!(
        "setup: synced into me's cache in {:.1} s; total unread {total}",
        synced.elapsed().as_secs_f64()
    );
    assert_eq!(total as usize, MESSAGES, "every message reached me's cache");
    assert_eq!(
        conversations, CONVERSATIONS,
        "every conversation is in the list"
    );
    me.logout().await.expect("logout");
    handle.shutdown().await;
}

/// Send a created message; a send refused for the server's request or group send rate is
/// retried with the same id (sends are idempotent). Any other refusal is a panic.
pub async fn send_retrying(tim: &Tim, params: SendParams, what: &str) {
    loop {
        match tim.send_message(params.clone()).await {
            Ok(_) => return,
            Err(e)
                if e.code == codes::ERR_SVR_COMM_FREQUENCY_LIMIT
                    || e.code == codes::ERR_SVR_GROUP_SEND_FREQUENCY_LIMIT =>
            {
                let wait = e.retry_after_ms.unwrap_or(50);
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            Err(e) => panic!("send {what}: {e}"),
        }
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Min / median / mean / p99 / max of a sample, as a table cell.
pub struct Stats {
    pub min: f64,
    pub p50: f64,
    pub mean: f64,
    pub p99: f64,
    pub max: f64,
    pub n: usize,
}

pub fn stats(samples: &[f64]) -> Stats {
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let at = |q: f64| v[((q * (n - 1) as f64).round() as usize).min(n - 1)];
    Stats {
        min: v[0],
        p50: at(0.5),
        mean: v.iter().sum::<f64>() / n as f64,
        p99: at(0.99),
        max: v[n - 1],
        n,
    }
}

/// `VmRSS` and `VmHWM` of a process, in MiB (Linux).
pub fn rss_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The 1-minute load average (other work on the machine skews the timings).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Cores and CPU model.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}

/// The cache file of a user directory (`<data dir>/<user>`): the per-server one,
/// `<SDKAppID>/cache.db`, or an older termim's `cache.db` (moved on the next login).
pub fn cache_file(user_dir: &Path) -> PathBuf {
    std::fs::read_dir(user_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("cache.db"))
        .find(|p| p.exists())
        .unwrap_or_else(|| user_dir.join("cache.db"))
}

/// Copy a user directory's cache (whatever its layout) into `to`'s same place.
pub fn copy_user_cache(from_user_dir: &Path, to_user_dir: &Path) {
    let src = cache_file(from_user_dir);
    let rel = src
        .strip_prefix(from_user_dir)
        .expect("inside the user dir");
    let dst = to_user_dir.join(rel);
    std::fs::create_dir_all(dst.parent().expect("a parent")).expect("copy dir");
    for suffix in ["", "-wal"] {
        let (mut s, mut d) = (src.clone().into_os_string(), dst.clone().into_os_string());
        s.push(suffix);
        d.push(suffix);
        if Path::new(&s).exists() {
            std::fs::copy(&s, &d).expect("copy cache");
        }
    }
}
