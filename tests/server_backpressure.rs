//! Issue 10 items 1, 4, 10 and 11: one client cannot hold the server's memory or its
//! sockets, and the server's clocks keep time whatever a socket does.
//!
//! - a client that asks for far more than it reads is closed (1008, "too slow") once its
//!   queued output passes the byte budget, sees that close code, and resyncs;
//! - an unauthenticated flood is closed at the login deadline;
//! - silence is closed at the idle timeout itself, not at the next ping tick;
//! - connections are capped per IP address and in total, and a handshake that never
//!   completes is dropped after the handshake timeout without delaying a real login.
//!
//! The limits are made small through `ServerOptions` (and `termim serve` flags); bounds on
//! time are generous (`common::raw::STEP`).

mod common;
mod serve_support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::raw::{Ended, RawClient, STEP, TestServer, within};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use termim::server::ServerOptions;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::{self, Message};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Another address of the loopback network (Linux answers all of 127.0.0.0/8).
const OTHER_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn addr_of(server: &TestServer) -> SocketAddr {
    server.handle.as_ref().expect("running").local_addr()
}

/// A TCP connection to the server from `from`, without any WebSocket handshake.
async fn tcp_from(to: SocketAddr, from: IpAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(from, 0)).expect("bind");
    within("a TCP connection", socket.connect(to))
        .await
        .expect("TCP connects")
}

/// `n` TCP connections from 127.0.0.1 that never start a handshake.
async fn half_open(server: &TestServer, n: usize) -> Vec<TcpStream> {
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        idle.push(tcp_from(addr_of(server), LOOPBACK).await);
    }
    idle
}

/// A WebSocket handshake from `from`: the client, or the error that refused it.
async fn handshake_from(
    server: &TestServer,
    from: IpAddr,
) -> Result<RawClient, tungstenite::Error> {
    let tcp = tcp_from(addr_of(server), from).await;
    within(
        "the handshake",
        tokio_tungstenite::client_async(server.url(), MaybeTlsStream::Plain(tcp)),
    )
    .await
    .map(|(ws, _)| RawClient::from_stream(ws))
}

/// The handshake from `from` must be refused; the refusal, for messages.
async fn refused(server: &TestServer, from: IpAddr) -> String {
    match handshake_from(server, from).await {
        Ok(_) => panic!("a connection over the cap was accepted"),
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503, "{response:?}");
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default());
            format!("503 {body}")
        }
        // Closed at once: the refusal raced the request.
        Err(e) => e.to_string(),
    }
}

/// Log in on a connection that may be refused for a moment (slots being given back).
async fn login_when_admitted(server: &TestServer, user: &str) -> RawClient {
    within("a slot for a new connection", async {
        loop {
            if let Ok(mut c) = handshake_from(server, LOOPBACK).await {
                c.call(
                    "login",
                    json!({"userID": user, "userSig": server.sig(user)}),
                )
                .await;
                return c;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Until the server ends `tcp`: read and drop what it sends.
async fn until_dropped(tcp: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Is `user` online, as `watcher` (a member of `group`, as `user` is) sees it?
async fn is_online(watcher: &mut RawClient, group: &str, user: &str) -> bool {
    let members = watcher
        .call(
            "getGroupMemberList",
            json!({"groupID": group, "filter": 0, "nextSeq": "0", "count": 100}),
        )
        .await;
    members["memberInfoList"]
        .as_array()
        .expect("memberInfoList")
        .iter()
        .any(|m| m["userID"] == user && m["isOnline"] == true)
}

/// Wait until the server has let go of `user` (no connection of it is logged in).
async fn until_offline(watcher: &mut RawClient, group: &str, user: &str) {
    within(&format!("the server to disconnect {user}"), async {
        while is_online(watcher, group, user).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

fn assert_too_slow(ended: Ended) {
    match ended {
        Ended::Close(code, reason) => {
            assert_eq!(code, 1008, "{reason}");
            assert!(
                reason.contains("too slow") && reason.contains("queued"),
                "{reason}"
            );
        }
        other => panic!("the slow client was not sent close 1008: {other:?}"),
    }
}

#[tokio::test]
async fn a_client_that_asks_more_than_it_reads_is_closed_1008_and_others_are_served() {
    const BUDGET: usize = 1 << 20;
    let server = TestServer::start_with(ServerOptions {
        max_queued_bytes: BUDGET,
        ..ServerOptions::default()
    })
    .await;
    let mut alice = server.login("alice").await;
    let mut carol = server.login("carol").await;
    drop(server.login("bob").await); // bob's account
    alice.create_group("Work", "watch", &["bob"]).await;
    // 100 messages of 10 KB for bob: a history page of them is about 1 MB.
    let body = "h".repeat(10 * 1024);
    for batch in 0..4 {
        alice
            .send_texts_pipelined("bob", "", &format!("h{batch}"), 25, &body)
            .await;
    }

    // bob asks for 40 such pages (about 40 MB) and reads nothing.
    let mut bob = server.login("bob").await;
    for _ in 0..40 {
        bob.send_request(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_alice", "getType": 1, "count": 100}),
        )
        .await;
    }
    // Everyone else is served meanwhile.
    let m = alice.send_text_to("carol", "", "while-stuck", "hi").await;
    assert_eq!(carol.expect_message().await["msgID"], m["msgID"]);

    // The server lets bob go once his queue passes the budget, and the close code is
    // written after the frames he had room for: he reads them, then 1008.
    until_offline(&mut alice, "watch", "bob").await;
    assert_too_slow(bob.ended().await);

    // He comes back and reads what he asked for at his own pace.
    let mut bob = server.login("bob").await;
    assert_eq!(bob.history("c2c_alice", 100).await.len(), 100);
}

#[tokio::test]
async fn a_slow_consumer_of_pushes_is_sent_close_1008_and_resyncs() {
    let server = TestServer::start_with(ServerOptions {
        max_queued_bytes: 256 * 1024,
        // This test floods on purpose; the rate limits have their own tests.
        request_rate: None,
        group_send_rate: None,
        ..ServerOptions::default()
    })
    .await;
    let mut alice = server.login("alice").await;
    let mut sloth = server.login("sloth").await; // reads nothing until it is let go
    alice.create_group("Work", "busy", &["sloth"]).await;
    let body = "z".repeat(10 * 1024);
    let mut sent = 0;
    'sending: for batch in 0..400 {
        alice
            .send_texts_pipelined("", "busy", &format!("b{batch}"), 20, &body)
            .await;
        sent += 20;
        if !is_online(&mut alice, "busy", "sloth").await {
            break 'sending;
        }
    }
    assert!(
        !is_online(&mut alice, "busy", "sloth").await,
        "the slow consumer was never disconnected ({sent} messages of 10 KB)"
    );
    assert_too_slow(sloth.ended().await);
    // Nothing was skipped: its cursor brings everything back.
    let mut back = server.login("sloth").await;
    let (all, _) = back.sync_all(0).await;
    let messages = all.iter().filter(|m| m["sender"] == "alice").count();
    assert!(messages >= sent, "{messages} of {sent} messages synced");
}

#[tokio::test]
async fn an_unauthenticated_flood_is_closed_at_the_login_deadline() {
    let server = TestServer::start_with(ServerOptions {
        auth_deadline: Duration::from_secs(1),
        // Every frame of the flood is answered (6014); the rate limit has its own tests.
        request_rate: None,
        ..ServerOptions::default()
    })
    .await;
    let (ws, _) = within("connect", tokio_tungstenite::connect_async(server.url()))
        .await
        .expect("connects");
    let (mut sink, mut stream) = ws.split();
    // Bogus ops with 8 KB names, as fast as the socket takes them, never reading.
    let name = "x".repeat(8 * 1024);
    let flood = async {
        let mut sent = 0u64;
        loop {
            let frame = format!(r#"{{"reqId":{sent},"op":"{name}"}}"#);
            if sink.send(Message::Text(frame.into())).await.is_err() {
                return sent;
            }
            sent += 1;
        }
    };
    let sent = within("the server to close the flooding socket", flood).await;
    assert!(sent > 0);
    // What the client had room for: short answers, then the end.
    let mut answers = 0;
    loop {
        match within("the rest of the stream", stream.next()).await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).expect("json");
                assert_eq!(v["code"], 6014, "{v}");
                let desc = v["desc"].as_str().unwrap_or_default();
                assert!(
                    desc.len() < 200,
                    "the answer echoes the op: {} bytes",
                    desc.len()
                );
                answers += 1;
            }
            Some(Ok(Message::Close(Some(f)))) => {
                assert_eq!(u16::from(f.code), 1008, "{f:?}");
                assert!(f.reason.contains("login"), "{f:?}");
                break;
            }
            // Reset: the server dropped the socket with the flood unread.
            Some(Ok(Message::Close(None))) | Some(Err(_)) | None => break,
            Some(Ok(_)) => {}
        }
    }
    eprintln!("{sent} junk frames sent, {answers} answers read before the end");
    let mut alice = server.login("alice").await;
    alice.call("ping", json!({})).await;
}

#[tokio::test]
async fn silence_is_closed_at_the_idle_timeout_not_at_the_next_ping() {
    let idle = Duration::from_secs(1);
    let server = TestServer::start_with(ServerOptions {
        idle_timeout: idle,
        // The first ping would come long after the bound below.
        heartbeat_interval: Duration::from_secs(60),
        ..ServerOptions::default()
    })
    .await;
    let mut chatty = server.login("chatty").await;
    let mut ghost = server.login("ghost").await;
    let since_login = Instant::now();
    let chatter = async {
        // Any frame resets the clock: one every 200 ms keeps chatty through three timeouts.
        while since_login.elapsed() < 3 * idle {
            chatty.call("ping", json!({})).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let (ended, ()) = tokio::join!(ghost.ended(), chatter);
    let after = since_login.elapsed();
    match ended {
        Ended::Close(code, reason) => {
            assert_eq!(code, 1008, "{reason}");
            assert!(reason.contains("heartbeat"), "{reason}");
        }
        other => panic!("expected a 1008 close, got {other:?}"),
    }
    // Not before its time (STEP bounds it from above: far below the ping interval).
    assert!(
        after >= idle - Duration::from_millis(100),
        "closed after {after:?}"
    );
    chatty.call("ping", json!({})).await;
}

#[tokio::test]
async fn connections_over_the_per_address_cap_are_refused_and_unfinished_handshakes_expire() {
    let server = TestServer::start_with(ServerOptions {
        max_connections_per_ip: 4,
        handshake_timeout: Duration::from_secs(2),
        ..ServerOptions::default()
    })
    .await;
    let mut alice = server.login("alice").await;
    // Three TCP connections that never send a handshake fill 127.0.0.1's four slots.
    let mut idle = half_open(&server, 3).await;
    let why = refused(&server, LOOPBACK).await;
    assert!(
        !why.starts_with("503") || why.contains("too many connections from your address"),
        "{why}"
    );
    // Another address is not held up, and the established connection is untouched.
    let mut bob = handshake_from(&server, OTHER_LOOPBACK)
        .await
        .expect("another address connects");
    bob.call(
        "login",
        json!({"userID": "bob", "userSig": server.sig("bob")}),
    )
    .await;
    alice.call("ping", json!({})).await;

    // The unfinished handshakes are dropped after the handshake timeout, which frees
    // their slots.
    for tcp in &mut idle {
        within(
            "the server to drop an unfinished handshake",
            until_dropped(tcp),
        )
        .await;
    }
    let mut carol = login_when_admitted(&server, "carol").await;
    carol.call("ping", json!({})).await;
    alice.call("ping", json!({})).await;
}

#[tokio::test]
async fn unfinished_handshakes_do_not_delay_a_login_and_the_total_cap_holds() {
    const TOTAL: usize = 40;
    let server = TestServer::start_with(ServerOptions {
        max_connections: TOTAL,
        max_connections_per_ip: 1000,
        // Far longer than the test: the half-open connections sit there throughout.
        handshake_timeout: Duration::from_secs(600),
        ..ServerOptions::default()
    })
    .await;
    let mut alice = server.login("alice").await;
    let idle = half_open(&server, TOTAL - 2).await;
    // The last slot: a real client logs in at once, not after the half-open ones.
    let started = Instant::now();
    let mut bob = server.login("bob").await;
    assert!(started.elapsed() < STEP);
    // The cap is on all addresses together.
    refused(&server, OTHER_LOOPBACK).await;
    refused(&server, LOOPBACK).await;
    alice.call("ping", json!({})).await;
    bob.call("ping", json!({})).await;
    // Closing the half-open connections gives their slots back.
    drop(idle);
    let mut carol = login_when_admitted(&server, "carol").await;
    carol.call("ping", json!({})).await;
}

#[test]
fn termim_serve_takes_the_connection_caps_from_its_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, url) = serve_support::start_server_with(
        dir.path(),
        "127.0.0.1:0",
        &["--max-connections-per-ip", "1", "--handshake-timeout", "30"],
        &[],
    );
    let _server = serve_support::Killed(child);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let addr: SocketAddr = url.trim_start_matches("ws://").parse().expect("addr");
        let _idle = tcp_from(addr, LOOPBACK).await;
        let tcp = tcp_from(addr, LOOPBACK).await;
        let second = within("the handshake", tokio_tungstenite::client_async(&url, tcp)).await;
        assert!(
            second.is_err(),
            "a second connection from one address was accepted"
        );
        // Another address is served.
        let tcp = tcp_from(addr, OTHER_LOOPBACK).await;
        within("the handshake", tokio_tungstenite::client_async(&url, tcp))
            .await
            .expect("another address connects");
    });
    let help = std::process::Command::new(serve_support::BIN)
        .args(["serve", "--help"])
        .output()
        .expect("termim serve --help");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--max-connections-per-ip",
        "--max-connections ",
        "--handshake-timeout",
        "--idle-timeout",
        "--max-queued-bytes",
    ] {
        assert!(
            help.contains(flag),
            "{flag} in `termim serve --help`:\n{help}"
        );
    }
}

/// A server with `options` where no clock fires and no rate applies — so only the
/// in-flight caps can wake a stalled connection — and a logged-in "sender" whose "peer"
/// has an account.
async fn quiet_pipeliner(options: ServerOptions) -> (TestServer, RawClient) {
    let server = TestServer::start_with(ServerOptions {
        request_rate: None,
        heartbeat_interval: Duration::from_secs(3600),
        idle_timeout: Duration::from_secs(3600),
        ..options
    })
    .await;
    drop(server.login("peer").await);
    let sender = server.login("sender").await;
    (server, sender)
}

/// More writes pipelined than may be in flight at once: reading pauses at the cap and goes
/// on as soon as a write is answered — not at the next heartbeat (30 s by default), which is
/// what the select loop waited for when nothing else woke it (1,000 sends took 90 s).
#[tokio::test]
async fn pipelined_writes_beyond_the_in_flight_cap_are_all_answered_promptly() {
    let (_server, mut sender) = quiet_pipeliner(ServerOptions {
        max_in_flight: 8,
        ..ServerOptions::default()
    })
    .await;
    let t0 = Instant::now();
    within(
        "200 pipelined sends over an in-flight cap of 8",
        sender.send_texts_pipelined("peer", "", "pipe", 200, "hi"),
    )
    .await;
    assert!(t0.elapsed() < STEP, "answered in {:?}", t0.elapsed());
    let history = sender.history("c2c_peer", 100).await;
    assert_eq!(history.len(), 100);
}

/// Reads are computed a few at a time per connection (each may build megabytes): the rest
/// wait in the socket, and every one is answered, in full, as the earlier ones finish.
#[tokio::test]
async fn pipelined_reads_beyond_the_read_cap_are_all_answered() {
    let (_server, mut sender) = quiet_pipeliner(ServerOptions {
        max_reads_in_flight: 1,
        ..ServerOptions::default()
    })
    .await;
    sender
        .send_texts_pipelined("peer", "", "m", 30, "hello")
        .await;
    let mut reqs = Vec::new();
    for _ in 0..40 {
        reqs.push(
            sender
                .send_request(
                    "getHistoryMessageList",
                    json!({"conversationID": "c2c_peer", "count": 30}),
                )
                .await,
        );
    }
    for req in reqs {
        let answer = within("a pipelined history read", sender.response(req)).await;
        assert_eq!(answer["code"], 0, "{answer}");
        assert_eq!(
            answer["data"]["messageList"].as_array().map(Vec::len),
            Some(30)
        );
    }
}
