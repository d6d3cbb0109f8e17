//! Crash safety (issue 5 §3): the server runs as its own process (`termim-load serve`),
//! raw WebSocket clients drive mixed C2C and group load and record every ack, and the
//! server is SIGKILLed again and again, each time restarted on the same data dir. Clients
//! reconnect and resend every unacknowledged message with the same client id. Then the
//! audit: no acknowledged message lost, no duplicate (by client id), every conversation's
//! seq gap-free, and every user's `sync` from 0 returns exactly the set it should see.

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
const PER_USER: usize = 120;
const KILLS: usize = 4;
const WINDOW: usize = 16;
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

async fn connect_and_login(url: &watch::Receiver<String>, key: &AppKey, me: &str) -> Ws {
    loop {
        let target = url.borrow().clone();
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
                                return ws;
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

/// Send all of user `i`'s messages, at most `WINDOW` in flight, through any number of
/// server deaths; returns the acks.
async fn worker(
    i: usize,
    url: watch::Receiver<String>,
    key: AppKey,
    acked: Arc<AtomicUsize>,
    cut_off: Arc<AtomicUsize>,
) -> Vec<Ack> {
    let me = user(i);
    let mut acks: BTreeMap<usize, Ack> = BTreeMap::new();
    let mut next_req = 1u64;
    let mut reconnects = 0;
    while acks.len() < PER_USER {
        let mut ws = connect_and_login(&url, &key, &me).await;
        let mut in_flight: HashMap<u64, usize> = HashMap::new();
        // Everything not acknowledged is (re)sent, in order, with its original id.
        let mut todo = (0..PER_USER)
            .filter(|k| !acks.contains_key(k))
            .collect::<Vec<_>>();
        todo.reverse();
        'conn: loop {
            while in_flight.len() < WINDOW {
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
            if in_flight.is_empty() {
                break;
            }
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
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
    tokio::time::timeout(DEADLINE, run())
        .await
        .expect("the crash test finishes in time");
}

async fn run() {
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

    let (url_tx, url_rx) = watch::channel(server.url.clone());
    let acked = Arc::new(AtomicUsize::new(0));
    let cut_off = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..USERS)
        .map(|i| {
            tokio::spawn(worker(
                i,
                url_rx.clone(),
                key.clone(),
                acked.clone(),
                cut_off.clone(),
            ))
        })
        .collect();

    // The nemesis: SIGKILL at fixed fractions of the load, restart on the same dir.
    let total = USERS * PER_USER;
    let mut restarts = Vec::new();
    for kill in 1..=KILLS {
        let at = total * kill / (KILLS + 1);
        while acked.load(Ordering::Relaxed) < at {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.child.start_kill().expect("SIGKILL");
        let _ = server.child.wait().await;
        let t = Instant::now();
        server = spawn_server(dir.path()).await;
        restarts.push(t.elapsed());
        url_tx.send_replace(server.url.clone());
    }
    let mut all_acks: Vec<(usize, Ack)> = Vec::new();
    for (i, w) in workers.into_iter().enumerate() {
        for a in w.await.expect("worker") {
            all_acks.push((i, a));
        }
    }
    let cut_off = cut_off.load(Ordering::Relaxed);
    eprintln!(
        "{KILLS} kills; restart to listening took {restarts:?}; {cut_off} sends were in flight at a kill and resent"
    );
    assert_eq!(all_acks.len(), total);
    assert!(
        cut_off > 0,
        "the kills hit no send in flight: the test proved nothing"
    );

    // ---- audit: every user syncs everything from cursor 0 on the last server.
    let mut seen_by: Vec<Vec<Value>> = Vec::new();
    for i in 0..USERS {
        let mut c = RawClient::connect(&server.url).await;
        c.call(
            "login",
            json!({"userID": user(i), "userSig": usersig::gen_sig(&key, &user(i), 3600)}),
        )
        .await;
        seen_by.push(c.sync_all(0).await.0);
    }
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
    }
    server.child.start_kill().expect("stop");
}
