//! Two `termim serve` processes on one PostgreSQL database (run with
//! `scripts/with-postgres cargo test --test server_postgres`; skipped without
//! `TERMIM_TEST_POSTGRES`).
//!
//! Clients of the same users send to the same C2C conversation and the same group through
//! both servers at once. Afterwards every conversation's seqs are 1..n with no gap and no
//! duplicate, every acknowledged message is stored once, a resend of a client id through
//! the other server is answered with the same message, and every user's sync stream is in
//! increasing position order and holds everything it was sent.

mod common;
mod serve_support;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Value, json};

use common::raw::{RawClient, text_params};
use serve_support::{Killed, start_server_saying};
use termim::usersig::{self, AppKey};

const SDK_APP_ID: u64 = 1_400_000_077;
const SECRET: &str = "2f1e0a9c8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f";
const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const GROUP: &str = "both-servers";
/// Messages each connection sends to its C2C peer and to the group.
const PER_CONNECTION: usize = 20;
/// Messages each user sends through both servers at the same moment, with one client id.
const TWINS: usize = 8;

/// Which acknowledged sends a conversation holds.
type Belongs = Box<dyn Fn(&Ack) -> bool>;

/// One acknowledged send.
#[derive(Debug, Clone)]
struct Ack {
    sender: String,
    client_id: String,
    receiver: String,
    group: String,
    msg_id: String,
    seq: u64,
}

/// Send until acknowledged: a group send refused for the rate (10023) waits as told.
async fn send(c: &mut RawClient, params: Value) -> Value {
    for _ in 0..200 {
        let r = c.request("sendMessage", params.clone()).await;
        match r["code"].as_i64() {
            Some(0) => return r["data"]["message"].clone(),
            Some(10023) => {
                let wait = r["data"]["retryAfterMs"].as_u64().unwrap_or(50);
                tokio::time::sleep(Duration::from_millis(wait.clamp(1, 1000))).await;
            }
            _ => panic!("sendMessage failed: {r}"),
        }
    }
    panic!("sendMessage kept being refused for the rate: {params}");
}

fn sig(key: &AppKey, user: &str) -> String {
    usersig::gen_sig(key, user, 3600)
}

async fn login(url: &str, key: &AppKey, user: &str) -> RawClient {
    let mut c = RawClient::connect(url).await;
    let data = c
        .call("login", json!({"userID": user, "userSig": sig(key, user)}))
        .await;
    assert_eq!(data["userID"], user);
    c
}

/// The C2C peer of a user: alice ↔ bob, carol ↔ dave.
fn peer(user: &str) -> &'static str {
    match user {
        "alice" => "bob",
        "bob" => "alice",
        "carol" => "dave",
        _ => "carol",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_keep_seqs_dense_and_sends_idempotent() {
    if !common::on_postgres() {
        eprintln!("skipped: TERMIM_TEST_POSTGRES is not set (run under scripts/with-postgres)");
        return;
    }
    let db_home = tempfile::tempdir().expect("tempdir");
    let url = common::test_database(db_home.path()).expect("a test database");
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let args = ["--database", url.as_str(), "--sdkappid", "1400000077"];
    let envs = [("TERMIM_SECRET_KEY", SECRET)];
    // Both at once: the schema is created once, under the migration lock.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| start_server_saying(dirs[0].path(), "127.0.0.1:0", &args, &envs));
        let b = s.spawn(|| start_server_saying(dirs[1].path(), "127.0.0.1:0", &args, &envs));
        (a.join().expect("server A"), b.join().expect("server B"))
    });
    for said in [&a.2, &b.2] {
        let line = said.last().expect("a start-up line");
        assert!(line.contains("(postgres 127.0.0.1:"), "{line}");
        assert!(
            !line.contains("termim@"),
            "the start-up line names no user: {line}"
        );
    }
    let (_a, url_a) = (Killed(a.0), a.1);
    let (_b, url_b) = (Killed(b.0), b.1);
    let urls = [url_a, url_b];
    let key = AppKey {
        sdk_app_id: SDK_APP_ID,
        secret_key: SECRET.to_string(),
    };

    // Accounts on both; the group made through A, used through both.
    for u in USERS {
        login(&urls[1], &key, u).await;
    }
    let mut owner = login(&urls[0], &key, "alice").await;
    owner
        .create_group("Work", GROUP, &["bob", "carol", "dave"])
        .await;

    // Readers following carol's stream from the cursor while the load runs, one on each
    // server: a position that committed after a higher one was seen would be skipped by
    // them, and missing from what they collected.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut followers = Vec::new();
    for url in urls.iter() {
        let (url, key, stop) = (url.clone(), key.clone(), stop.clone());
        followers.push(tokio::spawn(async move {
            let mut c = login(&url, &key, "carol").await;
            let mut cursor = 0;
            let mut seen: Vec<String> = Vec::new();
            loop {
                let last = stop.load(std::sync::atomic::Ordering::SeqCst);
                let (page, next) = c.sync_all(cursor).await;
                seen.extend(
                    page.iter()
                        .filter_map(|m| m["msgID"].as_str().map(String::from)),
                );
                cursor = next;
                if last {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }

    // Every user on both servers, all sending at once.
    let mut tasks = Vec::new();
    for (server, url) in urls.iter().enumerate() {
        for user in USERS {
            let url = url.clone();
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = login(&url, &key, user).await;
                let mut acks = Vec::new();
                for k in 0..PER_CONNECTION {
                    for to_group in [false, true] {
                        let id =
                            format!("{user}-s{server}-{k}-{}", if to_group { "g" } else { "c" });
                        let (receiver, group) = if to_group {
                            ("", GROUP)
                        } else {
                            (peer(user), "")
                        };
                        let m = send(&mut c, text_params(&id, receiver, group, &id)).await;
                        acks.push(Ack {
                            sender: user.to_string(),
                            client_id: id,
                            receiver: receiver.to_string(),
                            group: group.to_string(),
                            msg_id: m["msgID"].as_str().expect("msgID").to_string(),
                            seq: m["seq"].as_u64().expect("seq"),
                        });
                    }
                }
                acks
            }));
        }
    }
    let mut acks: Vec<Ack> = Vec::new();
    for t in tasks {
        acks.extend(
            tokio::time::timeout(Duration::from_secs(120), t)
                .await
                .expect("in time")
                .expect("sender"),
        );
    }
    assert_eq!(acks.len(), 2 * USERS.len() * PER_CONNECTION * 2);

    // One client id sent through both servers at the same moment (a client that gave up
    // on one server and retried on the other): one message, the same answer from both.
    let mut twins = Vec::new();
    for user in USERS {
        let urls = urls.clone();
        let key = key.clone();
        twins.push(tokio::spawn(async move {
            let mut on_a = login(&urls[0], &key, user).await;
            let mut on_b = login(&urls[1], &key, user).await;
            let mut acks = Vec::new();
            for k in 0..TWINS {
                for to_group in [false, true] {
                    let id = format!("{user}-twin-{k}-{}", if to_group { "g" } else { "c" });
                    let (receiver, group) = if to_group {
                        ("", GROUP)
                    } else {
                        (peer(user), "")
                    };
                    let params = text_params(&id, receiver, group, &id);
                    let (x, y) =
                        tokio::join!(send(&mut on_a, params.clone()), send(&mut on_b, params));
                    assert_eq!(
                        x["msgID"], y["msgID"],
                        "{id}: one message through both servers"
                    );
                    assert_eq!(x["seq"], y["seq"], "{id}");
                    acks.push(Ack {
                        sender: user.to_string(),
                        client_id: id,
                        receiver: receiver.to_string(),
                        group: group.to_string(),
                        msg_id: x["msgID"].as_str().expect("msgID").to_string(),
                        seq: x["seq"].as_u64().expect("seq"),
                    });
                }
            }
            acks
        }));
    }
    for t in twins {
        acks.extend(
            tokio::time::timeout(Duration::from_secs(120), t)
                .await
                .expect("in time")
                .expect("twin sender"),
        );
    }

    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut followed = Vec::new();
    for f in followers {
        followed.push(f.await.expect("follower"));
    }
    let mut full = login(&urls[0], &key, "carol").await;
    let all: Vec<String> = full
        .sync_all(0)
        .await
        .0
        .iter()
        .filter_map(|m| m["msgID"].as_str().map(String::from))
        .collect();
    for seen in followed {
        assert_eq!(
            seen, all,
            "a reader following the stream from its cursor saw every message, in order"
        );
    }

    // Resends through the other server: the same message, nothing new.
    let mut resenders: HashMap<(usize, String), RawClient> = HashMap::new();
    for ack in &acks {
        let server = if ack.client_id.contains("-s0-") { 1 } else { 0 };
        let c = match resenders.entry((server, ack.sender.clone())) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(login(&urls[server], &key, &ack.sender).await)
            }
        };
        let again = send(
            c,
            text_params(&ack.client_id, &ack.receiver, &ack.group, &ack.client_id),
        )
        .await;
        assert_eq!(
            again["msgID"],
            ack.msg_id.as_str(),
            "resend of {}",
            ack.client_id
        );
        assert_eq!(again["seq"], ack.seq, "resend of {}", ack.client_id);
    }

    // Each conversation: seqs 1..n, each acknowledged message exactly once.
    let mut reader = login(&urls[1], &key, "alice").await;
    let mut carol = login(&urls[0], &key, "carol").await;
    let conversations: [(&str, &mut RawClient, Belongs); 3] = [
        (
            "group_both-servers",
            &mut reader,
            Box::new(|a: &Ack| !a.group.is_empty()),
        ),
        (
            "c2c_bob",
            &mut owner,
            Box::new(|a: &Ack| a.group.is_empty() && (a.sender == "alice" || a.sender == "bob")),
        ),
        (
            "c2c_dave",
            &mut carol,
            Box::new(|a: &Ack| a.group.is_empty() && (a.sender == "carol" || a.sender == "dave")),
        ),
    ];
    for (conversation, client, belongs) in conversations {
        let history = client.history(conversation, 500).await;
        let texts: Vec<&Value> = history.iter().filter(|m| m["elemType"] == 1).collect();
        let expected: BTreeMap<String, u64> = acks
            .iter()
            .filter(|a| belongs(a))
            .map(|a| (a.msg_id.clone(), a.seq))
            .collect();
        let mut seqs: Vec<u64> = history
            .iter()
            .map(|m| m["seq"].as_u64().expect("seq"))
            .collect();
        seqs.sort_unstable();
        let n = seqs.len() as u64;
        assert_eq!(
            seqs,
            (1..=n).collect::<Vec<_>>(),
            "{conversation}: seqs dense from 1"
        );
        assert_eq!(
            texts.len(),
            expected.len(),
            "{conversation}: one stored message per ack"
        );
        for m in texts {
            let id = m["msgID"].as_str().expect("msgID");
            assert_eq!(
                expected.get(id),
                m["seq"].as_u64().as_ref(),
                "{conversation}: {m}"
            );
        }
    }

    // Every user's stream, from either server: positions increasing, every send it was
    // party to in it.
    for (i, user) in USERS.iter().enumerate() {
        let mut c = login(&urls[i % 2], &key, user).await;
        let (stream, _) = c.sync_all(0).await;
        let positions: Vec<u64> = stream
            .iter()
            .map(|m| {
                let id = m["msgID"].as_str().expect("msgID");
                id.split('-')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("pos in msgID")
            })
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "{user}'s stream is in position order: {positions:?}"
        );
        let seen: std::collections::HashSet<&str> =
            stream.iter().filter_map(|m| m["msgID"].as_str()).collect();
        for a in &acks {
            let party = !a.group.is_empty() || a.sender == *user || a.receiver == *user;
            if party {
                assert!(
                    seen.contains(a.msg_id.as_str()),
                    "{user} never synced {a:?}"
                );
            }
        }
    }
}

/// Every connection the server holds to the database is terminated (a database restart,
/// a failover, an operator's `pg_terminate_backend`): the next writes and reads go through
/// on new connections, and nothing is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_reconnects_when_the_database_drops_its_connections() {
    if !common::on_postgres() {
        eprintln!("skipped: TERMIM_TEST_POSTGRES is not set (run under scripts/with-postgres)");
        return;
    }
    let server = common::raw::TestServer::start().await;
    let url = common::test_database(&server.dir).expect("a test database");
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    alice.send_text_to("bob", "", "before", "before").await;
    assert_eq!(
        common::raw::texts(&bob.history("c2c_alice", 10).await),
        ["before"]
    );

    let terminated = std::thread::spawn(move || {
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = 'termim' \
                 AND pid <> pg_backend_pid()",
                &[],
            )
            .expect("terminate")
            .len()
    })
    .join()
    .expect("terminated");
    assert!(
        terminated >= 2,
        "the writer and a reader were connected: {terminated}"
    );

    let sent = alice.send_text_to("bob", "", "after", "after").await;
    assert_eq!(sent["seq"], 2, "{sent}");
    assert_eq!(
        common::raw::texts(&bob.history("c2c_alice", 10).await),
        ["after", "before"]
    );
    let (stream, _) = bob.sync_all(0).await;
    assert_eq!(common::raw::texts(&stream), ["before", "after"]);
}
