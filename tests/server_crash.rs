//! Crash safety (issue 5 §3): the server runs as its own process (`termim-load serve`),
//! raw WebSocket clients drive mixed C2C and group load and record every ack, and the
//! server is SIGKILLed again and again, each time restarted on the same data dir. Clients
//! reconnect and resend every unacknowledged message with the same client id. Then the
//! audit: no acknowledged message lost, no duplicate (by client id), every conversation's
//! seq gap-free, every user's `sync` from 0 returns exactly the set it should see, and
//! every user's unread count is exact.
//!
//! In CI it is small (4 kills, 720 messages, as fast as a window of 16 per user allows).
//! The soak in docs/ARCHITECTURE.md sizes it from the environment:
//! `TERMIM_CRASH_KILLS` (kills, at random points of the load), `TERMIM_CRASH_PER_USER`
//! (messages per user, 6 users), `TERMIM_CRASH_RATE` (messages/s for all users together;
//! 0 = unpaced), `TERMIM_CRASH_PREFILL` (messages stored between two other users before
//! the load, so the restarts open a big database), `TERMIM_CRASH_SEED` (the kill points).

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::raw::{RawClient, text_params};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use termim::usersig::{self, AppKey};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

const USERS: usize = 6;
const WINDOW: usize = 16;
/// The prefill's sends in flight on its one connection.
const PREFILL_WINDOW: usize = 256;

/// How big the run is (see the module comment).
#[derive(Debug, Clone, Copy)]
struct Size {
    kills: usize,
    per_user: usize,
    /// Messages per second, all users together; 0: as fast as the window allows.
    rate: u64,
    prefill: usize,
    seed: u64,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid number")),
        Err(_) => default,
    }
}

impl Size {
    fn from_env() -> Self {
        Size {
            kills: env_or("TERMIM_CRASH_KILLS", 4),
            per_user: env_or("TERMIM_CRASH_PER_USER", 120),
            rate: env_or("TERMIM_CRASH_RATE", 0),
            prefill: env_or("TERMIM_CRASH_PREFILL", 0),
            seed: env_or("TERMIM_CRASH_SEED", rand::random::<u64>()),
        }
    }

    /// Acknowledged sends (of all users together) at which the kills happen: random, in
    /// the middle 90% of the load, ascending.
    fn kill_points(&self) -> Vec<usize> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed);
        let total = USERS * self.per_user;
        let mut points: Vec<usize> = (0..self.kills)
            .map(|_| rng.random_range(total / 20..=total * 19 / 20))
            .collect();
        points.sort_unstable();
        points
    }
}
const GROUP: &str = "crashers";
/// The whole test must end well within this.
const DEADLINE: Duration = Duration::from_secs(120);

struct ServerProc {
    child: Child,
    url: String,
}

async fn spawn_server(dir: &Path) -> ServerProc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_termim-load"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir)
        // Load from few connections: the rate limits would only slow the test down.
        .args(["--request-rate", "0", "--group-rate", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("termim-load serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the server says where it listens in time")
        .expect("read stdout")
        .expect("a line");
    let url = line
        .split_whitespace()
        .nth(1)
        .expect("listening ws://…")
        .to_string();
    assert!(url.starts_with("ws://"), "{line}");
    ServerProc { child, url }
}

fn user(i: usize) -> String {
    format!("u{i}")
}

/// What user `i`'s `k`-th message is: (client id, receiver, group).
fn plan(i: usize, k: usize) -> (String, String, String) {
    let id = format!("u{i}-{k}");
    if k.is_multiple_of(2) {
        let peer = (i + 1 + (k / 2) % (USERS - 1)) % USERS;
        (id, user(peer), String::new())
    } else {
        (id, String::new(), GROUP.to_string())
    }
}

#[derive(Debug, Clone)]
struct Ack {
    id: String,
    msg_id: String,
    seq: u64,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connect to whichever server is up and log in; returns the socket and the server's number.
async fn connect_and_login(url: &watch::Receiver<Up>, key: &AppKey, me: &str) -> (Ws, usize) {
    loop {
        let (server, target) = url.borrow().clone();
        if let Ok(Ok((mut ws, _))) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::connect_async(&target),
        )
        .await
        {
            let login = json!({"reqId": 0, "op": "login",
                "params": {"userID": me, "userSig": usersig::gen_sig(key, me, 3600)}});
            if ws
                .send(Message::Text(login.to_string().into()))
                .await
                .is_ok()
            {
                loop {
                    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                        Ok(Some(Ok(Message::Text(t)))) => {
                            let v: Value = serde_json::from_str(&t).expect("json");
                            if v["reqId"] == 0 && v.get("push").is_none() {
                                assert_eq!(v["code"], 0, "login: {v}");
                                return (ws, server);
                            }
                        }
                        Ok(Some(Ok(_))) => {}
                        _ => break,
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Which server is up: its number (0 = the first) and URL.
type Up = (usize, String);

/// When each worker logged in, per server number.
type Logins = Arc<std::sync::Mutex<HashMap<usize, Vec<Instant>>>>;

/// Send all of user `i`'s messages, at most `WINDOW` in flight (and no faster than
/// `interval` apart, when paced), through any number of server deaths; returns the acks.
#[allow(clippy::too_many_arguments)]
async fn worker(
    i: usize,
    per_user: usize,
    interval: Option<Duration>,
    url: watch::Receiver<Up>,
    key: AppKey,
    acked: Arc<AtomicUsize>,
    cut_off: Arc<AtomicUsize>,
    logins: Logins,
) -> Vec<Ack> {
    let me = user(i);
    let mut acks: BTreeMap<usize, Ack> = BTreeMap::new();
    let mut next_req = 1u64;
    let mut reconnects = 0;
    let mut next_send = tokio::time::Instant::now();
    while acks.len() < per_user {
        let (mut ws, server) = connect_and_login(&url, &key, &me).await;
        if let Ok(mut l) = logins.lock() {
            l.entry(server).or_default().push(Instant::now());
        }
        let mut in_flight: HashMap<u64, usize> = HashMap::new();
        // Everything not acknowledged is (re)sent, in order, with its original id.
        let mut todo = (0..per_user)
            .filter(|k| !acks.contains_key(k))
            .collect::<Vec<_>>();
        todo.reverse();
        'conn: loop {
            while in_flight.len() < WINDOW && !todo.is_empty() {
                // Paced: one send per turn, when its time has come.
                if let Some(interval) = interval {
                    if tokio::time::Instant::now() < next_send {
                        break;
                    }
                    next_send += interval;
                }
                let Some(k) = todo.pop() else { break };
                let (id, receiver, group) = plan(i, k);
                let frame = json!({"reqId": next_req, "op": "sendMessage",
                    "params": text_params(&id, &receiver, &group, &format!("text of {id}"))});
                if ws
                    .send(Message::Text(frame.to_string().into()))
                    .await
                    .is_err()
                {
                    break 'conn;
                }
                in_flight.insert(next_req, k);
                next_req += 1;
            }
            if in_flight.is_empty() && todo.is_empty() {
                break;
            }
            // Read until an answer comes, or (paced, with room in the window) until the
            // next send is due.
            let wait = match interval {
                Some(_) if in_flight.len() < WINDOW && !todo.is_empty() => {
                    next_send.saturating_duration_since(tokio::time::Instant::now())
                }
                _ => Duration::from_secs(10),
            };
            let next = tokio::time::timeout(wait, ws.next()).await;
            if next.is_err() && wait < Duration::from_secs(10) {
                continue; // time for the next send
            }
            match next {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).expect("json");
                    if v.get("push").is_some() {
                        continue;
                    }
                    let Some(k) = v["reqId"].as_u64().and_then(|r| in_flight.remove(&r)) else {
                        continue;
                    };
                    match v["code"].as_i64() {
                        Some(0) => {
                            let m = &v["data"]["message"];
                            acks.insert(
                                k,
                                Ack {
                                    id: m["id"].as_str().expect("id").to_string(),
                                    msg_id: m["msgID"].as_str().expect("msgID").to_string(),
                                    seq: m["seq"].as_u64().expect("seq"),
                                },
                            );
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                        // Shutting down / internal: not acknowledged, so resent later.
                        Some(20005) => todo.push(k),
                        _ => panic!("unexpected refusal of {:?}: {v}", plan(i, k)),
                    }
                }
                Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) | Err(_) => break,
                Ok(Some(Ok(_))) => {}
            }
        }
        // Sends whose answer the server's death swallowed: resent on the next connection.
        cut_off.fetch_add(in_flight.len(), Ordering::Relaxed);
        reconnects += 1;
    }
    assert!(reconnects >= 1);
    acks.into_values().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_and_duplicates_nothing() {
    let size = Size::from_env();
    eprintln!("{size:?}");
    // Two minutes for the CI size; a soak gets time in proportion to its size.
    let deadline = DEADLINE
        + Duration::from_millis((USERS * size.per_user) as u64)
        + Duration::from_millis(size.prefill as u64 / 2);
    tokio::time::timeout(deadline, run(size))
        .await
        .expect("the crash test finishes in time");
}

/// Store `n` messages between two users outside the audit (so the restarts open a big
/// database), pipelined on one connection.
async fn prefill(url: &str, key: &AppKey, n: usize) {
    let (a, b) = ("filler-a", "filler-b");
    for u in [b, a] {
        let mut c = RawClient::connect(url).await;
        c.call(
            "login",
            json!({"userID": u, "userSig": usersig::gen_sig(key, u, 3600)}),
        )
        .await;
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let login = json!({"reqId": 0, "op": "login",
        "params": {"userID": a, "userSig": usersig::gen_sig(key, a, 3600)}});
    ws.send(Message::Text(login.to_string().into()))
        .await
        .expect("send");
    let (mut sent, mut answered) = (0usize, 0usize);
    // The login answer counts as one.
    while answered < n + 1 {
        while sent < n && sent + 1 - answered < PREFILL_WINDOW {
            let id = format!("fill-{sent}");
            let frame = json!({"reqId": sent + 1, "op": "sendMessage",
                "params": text_params(&id, b, "", &format!("filler {sent}"))});
            ws.send(Message::Text(frame.to_string().into()))
                .await
                .expect("send");
            sent += 1;
        }
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                if t.starts_with(r#"{"reqId":"#) {
                    assert!(t.contains(r#""code":0,"#), "prefill refused: {t}");
                    answered += 1;
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("prefill connection ended: {other:?}"),
        }
    }
}

async fn run(size: Size) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = spawn_server(dir.path()).await;
    let key = AppKey::load(dir.path()).expect("the server keeps its key in the data dir");

    // Accounts and the group exist (committed) before the load starts.
    let mut owner = RawClient::connect(&server.url).await;
    owner
        .call(
            "login",
            json!({"userID": user(0), "userSig": usersig::gen_sig(&key, &user(0), 3600)}),
        )
        .await;
    for i in 1..USERS {
        let mut c = RawClient::connect(&server.url).await;
        c.call(
            "login",
            json!({"userID": user(i), "userSig": usersig::gen_sig(&key, &user(i), 3600)}),
        )
        .await;
    }
    let member_list: Vec<Value> = (1..USERS).map(|i| json!({"userID": user(i)})).collect();
    owner
        .call(
            "createGroup",
            json!({"groupType": "Work", "groupName": "crash", "groupID": GROUP,
                   "memberList": member_list}),
        )
        .await;
    drop(owner);
    if size.prefill > 0 {
        let t = Instant::now();
        prefill(&server.url, &key, size.prefill).await;
        eprintln!(
            "prefill: {} messages stored in {:.1} s",
            size.prefill,
            t.elapsed().as_secs_f64()
        );
    }

    let (url_tx, url_rx) = watch::channel((0, server.url.clone()));
    let acked = Arc::new(AtomicUsize::new(0));
    let cut_off = Arc::new(AtomicUsize::new(0));
    let logins: Logins = Arc::default();
    let interval =
        (size.rate > 0).then(|| Duration::from_secs_f64(USERS as f64 / size.rate as f64));
    let started = Instant::now();
    let workers: Vec<_> = (0..USERS)
        .map(|i| {
            tokio::spawn(worker(
                i,
                size.per_user,
                interval,
                url_rx.clone(),
                key.clone(),
                acked.clone(),
                cut_off.clone(),
                logins.clone(),
            ))
        })
        .collect();

    // The nemesis: SIGKILL at random points of the load, restart on the same dir.
    let total = USERS * size.per_user;
    let mut restarts = Vec::new();
    let mut up_at = Vec::new();
    for (n, at) in size.kill_points().into_iter().enumerate() {
        while acked.load(Ordering::Relaxed) < at {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.child.start_kill().expect("SIGKILL");
        let _ = server.child.wait().await;
        let t = Instant::now();
        server = spawn_server(dir.path()).await;
        restarts.push(t.elapsed());
        up_at.push(Instant::now());
        url_tx.send_replace((n + 1, server.url.clone()));
    }
    let mut all_acks: Vec<(usize, Ack)> = Vec::new();
    for (i, w) in workers.into_iter().enumerate() {
        for a in w.await.expect("worker") {
            all_acks.push((i, a));
        }
    }
    let load_secs = started.elapsed().as_secs_f64();
    let cut_off = cut_off.load(Ordering::Relaxed);
    // After each restart: how long until every worker still sending was logged in again.
    let logins = logins.lock().map(|l| l.clone()).unwrap_or_default();
    let back: Vec<Duration> = up_at
        .iter()
        .enumerate()
        .filter_map(|(n, up)| {
            let last = logins.get(&(n + 1))?.iter().max()?;
            Some(last.saturating_duration_since(*up))
        })
        .collect();
    let max = |d: &[Duration]| d.iter().max().copied().unwrap_or_default();
    eprintln!(
        "{total} messages from {USERS} users in {load_secs:.1} s ({:.0}/s{}), {} kills (seed {}): \
         restart to listening max {:?} (all: {restarts:?}); all senders logged in again within \
         max {:?} of a restart; {cut_off} sends were in flight at a kill and resent",
        total as f64 / load_secs,
        if size.rate > 0 {
            format!(", paced at {}/s", size.rate)
        } else {
            String::new()
        },
        size.kills,
        size.seed,
        max(&restarts),
        max(&back),
    );
    assert_eq!(all_acks.len(), total);
    assert!(
        cut_off > 0,
        "the kills hit no send in flight: the test proved nothing"
    );

    // ---- audit: every user syncs everything from cursor 0 on the last server.
    let audit = Instant::now();
    let mut seen_by: Vec<Vec<Value>> = Vec::new();
    let mut unread_of: Vec<u64> = Vec::new();
    for i in 0..USERS {
        let mut c = RawClient::connect(&server.url).await;
        c.call(
            "login",
            json!({"userID": user(i), "userSig": usersig::gen_sig(&key, &user(i), 3600)}),
        )
        .await;
        seen_by.push(c.sync_all(0).await.0);
        let unread = c.call("getTotalUnreadMessageCount", json!({})).await;
        unread_of.push(
            unread["totalUnreadCount"]
                .as_u64()
                .expect("totalUnreadCount"),
        );
    }
    eprintln!(
        "audit: {USERS} users synced from 0 in {:.2} s",
        audit.elapsed().as_secs_f64()
    );
    let mut by_msg_id: HashMap<String, Value> = HashMap::new();
    for list in &seen_by {
        let mut mine = HashSet::new();
        for m in list {
            let id = m["msgID"].as_str().expect("msgID").to_string();
            assert!(mine.insert(id.clone()), "a sync returned {id} twice");
            by_msg_id.insert(id, m.clone());
        }
    }
    // No duplicates: one stored message per (sender, client id).
    let mut by_client_id: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (msg_id, m) in &by_msg_id {
        let k = (
            m["sender"].as_str().unwrap_or_default().to_string(),
            m["id"].as_str().unwrap_or_default().to_string(),
        );
        by_client_id.entry(k).or_default().push(msg_id.clone());
    }
    let dups: Vec<_> = by_client_id.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(dups.is_empty(), "duplicates: {dups:?}");
    assert_eq!(by_client_id.len(), total, "stored messages vs. sent");
    // Nothing acknowledged is lost, and the ack named the stored message.
    for (i, a) in &all_acks {
        let m = by_msg_id
            .get(&a.msg_id)
            .unwrap_or_else(|| panic!("acknowledged message lost: {a:?}"));
        assert_eq!(m["id"], a.id.as_str());
        assert_eq!(m["seq"], a.seq);
        assert_eq!(m["sender"], user(*i).as_str());
    }
    // Every conversation's seq is 1..=n.
    let mut seqs: HashMap<String, Vec<u64>> = HashMap::new();
    for m in by_msg_id.values() {
        let conv = match m["groupID"].as_str() {
            Some(g) => format!("group_{g}"),
            None => {
                let mut pair = [
                    m["sender"].as_str().unwrap_or_default(),
                    m["receiver"].as_str().unwrap_or_default(),
                ];
                pair.sort_unstable();
                format!("c2c_{}_{}", pair[0], pair[1])
            }
        };
        seqs.entry(conv)
            .or_default()
            .push(m["seq"].as_u64().expect("seq"));
    }
    for (conv, mut s) in seqs {
        s.sort_unstable();
        assert_eq!(
            s,
            (1..=s.len() as u64).collect::<Vec<_>>(),
            "{conv} has gaps or repeats"
        );
    }
    // Every user resynced to exactly what they should see.
    for (i, list) in seen_by.iter().enumerate() {
        let me = user(i);
        let got: HashSet<&str> = list.iter().filter_map(|m| m["msgID"].as_str()).collect();
        let want: HashSet<&str> = by_msg_id
            .values()
            .filter(|m| {
                m["groupID"] == GROUP || m["sender"] == me.as_str() || m["receiver"] == me.as_str()
            })
            .filter_map(|m| m["msgID"].as_str())
            .collect();
        assert_eq!(got, want, "{me}'s sync differs from what it may see");
        // Nothing was read: every message from someone else counts (a Work group's too).
        let from_others = list.iter().filter(|m| m["sender"] != me.as_str()).count();
        assert_eq!(unread_of[i], from_others as u64, "{me}'s unread count");
    }
    server.child.start_kill().expect("stop");
}
