//! Issue 10.5: a session does not outlive its UserSig, and a server caps what a sig may
//! claim (its lifetime, a `TLS.time` in the future). Against a real server on
//! 127.0.0.1:0; the grace is shrunk, the sigs are short, and every wait is bounded.

mod common;
mod serve_support;

use std::time::{Duration, Instant};

use common::raw::{Ended, RawClient, TestServer, text_params};
use serde_json::{Value, json};
use termim::server::ServerOptions;
use termim::usersig::{self, VerifyOptions};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn with_grace(grace: Duration) -> ServerOptions {
    ServerOptions {
        sig_grace: grace,
        ..ServerOptions::default()
    }
}

/// `user` logged in with a sig valid for 2 s (`TLS.time` = now, whole seconds); returns
/// the client, when the sig was made, and its last valid second.
async fn login_for_two_seconds(server: &TestServer, user: &str) -> (RawClient, Instant, i64) {
    let issued = Instant::now();
    let time = now();
    let sig = usersig::gen_sig_at(&server.key, user, time, 2);
    let mut c = server.connect().await;
    let data = c
        .call("login", json!({"userID": user, "userSig": sig}))
        .await;
    let renews = data["capabilities"]
        .as_array()
        .is_some_and(|caps| caps.iter().any(|c| c == "renewUserSig"));
    assert!(renews, "the login answer announces renewUserSig: {data}");
    (c, issued, time + 2)
}

/// Until 3.5 s after the sig was made: past its last valid second whatever the fraction
/// of the second it was made in.
async fn past_expiry(issued: Instant) {
    tokio::time::sleep_until((issued + Duration::from_millis(3500)).into()).await;
}

/// Every frame until the server closes the connection, and how it closed.
async fn frames_until_closed(c: &mut RawClient) -> (Vec<Value>, Option<Ended>) {
    let mut frames = Vec::new();
    let read = async {
        while let Some(f) = c.raw_frame().await {
            frames.push(f);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the server closes the connection");
    (frames, c.last_close())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_told_refused_and_closed_after_the_grace() {
    let server = TestServer::start_with(with_grace(Duration::from_secs(3))).await;
    let mut bob = server.login("bob").await;
    let (mut alice, issued, expires_at) = login_for_two_seconds(&server, "alice").await;
    // While the sig holds, the session works.
    alice.send_text_to("bob", "", "a1", "before").await;
    past_expiry(issued).await;

    // Before the fix this send succeeded at 3.5 s.
    let (code, desc) = alice
        .call_err("sendMessage", text_params("a2", "bob", "", "after"))
        .await;
    assert_eq!(code, 70001, "{desc}");
    assert!(desc.contains("renewUserSig"), "{desc}");
    let (code, _) = alice.call_err("sync", json!({"cursor": 0})).await;
    assert_eq!(code, 70001, "reads are refused too");
    let (code, _) = alice
        .call_err(
            "getHistoryMessageList",
            json!({"conversationID": "c2c_bob", "count": 10}),
        )
        .await;
    assert_eq!(code, 70001);
    // ping is still answered: the client may be fetching a new sig.
    alice.call("ping", json!({})).await;
    let push = alice.expect_push("userSigExpired").await;
    assert_eq!(push["expiredAt"], expires_at, "{push}");
    assert_eq!(push["graceSeconds"], 3, "{push}");

    // An expired session gets no pushes: bob's message is not delivered to it.
    bob.send_text_to("alice", "", "b1", "while expired").await;
    let (frames, closed) = frames_until_closed(&mut alice).await;
    assert!(
        frames.iter().all(|f| f["push"] != "newMessage"),
        "pushes after expiry: {frames:?}"
    );
    match closed {
        Some(Ended::Close(4001, reason)) => assert!(reason.contains("UserSig"), "{reason}"),
        other => panic!("expected close 4001, got {other:?}"),
    }
    // The "after" send was not carried out; a new login with a fresh sig works as ever
    // and finds what it missed.
    let mut again = server.login("alice").await;
    let history = again.history("c2c_bob", 10).await;
    let texts = common::raw::texts(&history);
    assert_eq!(texts, ["while expired", "before"], "{history:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewing_within_the_grace_keeps_the_session_and_its_pushes() {
    let server = TestServer::start_with(with_grace(Duration::from_secs(2))).await;
    let mut bob = server.login("bob").await;
    let (mut alice, issued, _) = login_for_two_seconds(&server, "alice").await;
    past_expiry(issued).await;
    alice.expect_push("userSigExpired").await;

    // Not with someone else's sig, not with an expired one, not with garbage: each says
    // why, and the session stays expired.
    let refusals = [
        (server.sig("bob"), 70013),
        (
            usersig::gen_sig_at(&server.key, "alice", now() - 100, 10),
            70001,
        ),
        ("not-a-sig".to_string(), 70003),
        (String::new(), 70002),
    ];
    for (sig, expected) in refusals {
        let (code, desc) = alice
            .call_err("renewUserSig", json!({"userSig": sig}))
            .await;
        assert_eq!(code, expected, "{desc}");
    }
    let (code, _) = alice.call_err("renewUserSig", json!({})).await;
    assert_eq!(code, 6017, "userSig is required");
    let (code, _) = alice
        .call_err("sendMessage", text_params("a1", "bob", "", "no"))
        .await;
    assert_eq!(code, 70001);

    // Meanwhile bob writes; a fresh sig of alice's own renews the session.
    bob.send_text_to("alice", "", "b1", "missed").await;
    let time = now();
    let fresh = usersig::gen_sig_at(&server.key, "alice", time, 3600);
    let data = alice.call("renewUserSig", json!({"userSig": fresh})).await;
    assert_eq!(data["expiresAt"], time + 3600, "{data}");
    alice.send_text_to("bob", "", "a2", "renewed").await;
    // Pushes flow again; what came while expired is in the sync.
    bob.send_text_to("alice", "", "b2", "live").await;
    assert_eq!(alice.expect_message().await["textElem"]["text"], "live");
    let (synced, _) = alice.sync_all(0).await;
    assert!(
        common::raw::texts(&synced).contains(&"missed".to_string()),
        "{synced:?}"
    );
    // Long past the grace, the renewed session is open and served.
    tokio::time::sleep(Duration::from_secs(3)).await;
    alice.call("ping", json!({})).await;
    alice.history("c2c_bob", 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sig_renewed_before_it_expires_never_expires_the_session() {
    let server = TestServer::start_with(with_grace(Duration::ZERO)).await;
    let (mut alice, issued, _) = login_for_two_seconds(&server, "alice").await;
    let fresh = usersig::gen_sig_at(&server.key, "alice", now(), 3600);
    alice.call("renewUserSig", json!({"userSig": fresh})).await;
    past_expiry(issued).await;
    alice.call("ping", json!({})).await;
    alice.call("sync", json!({"cursor": 0})).await;
    assert_eq!(alice.buffered_pushes(), 0, "no userSigExpired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refuses_a_sig_from_the_future_or_over_the_lifetime_cap() {
    // The defaults: 180 days at most, 300 s of clock skew.
    let server = TestServer::start().await;
    let key = &server.key;
    let day = 86_400;
    let refused = [
        (
            usersig::gen_sig_at(key, "alice", now() + 365 * day, 60),
            "ahead",
        ),
        (usersig::gen_sig_at(key, "alice", now() + 301, 60), "ahead"),
        (usersig::gen_sig(key, "alice", 181 * day as u64), "longer"),
        (
            usersig::gen_sig(key, "alice", 100 * 365 * day as u64),
            "longer",
        ),
    ];
    let mut c = server.connect().await;
    for (sig, why) in refused {
        let (code, desc) = c
            .call_err("login", json!({"userID": "alice", "userSig": sig}))
            .await;
        assert_eq!(code, 70003, "{desc}");
        assert!(desc.contains(why), "{desc}");
    }
    // Within the limits: a 180-day sig (what `termim usersig` makes), a clock 30 s ahead.
    for sig in [
        usersig::gen_sig(key, "alice", 180 * day as u64),
        usersig::gen_sig_at(key, "alice", now() + 30, 60),
    ] {
        let mut c = server.connect().await;
        c.call("login", json!({"userID": "alice", "userSig": sig}))
            .await;
    }
    // renewUserSig holds a sig to the same limits.
    let mut alice = server.login("alice").await;
    let long = usersig::gen_sig(key, "alice", 181 * day as u64);
    let (code, _) = alice
        .call_err("renewUserSig", json!({"userSig": long}))
        .await;
    assert_eq!(code, 70003);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limits_are_configurable() {
    let server = TestServer::start_with(ServerOptions {
        sig_verify: VerifyOptions {
            max_lifetime_secs: Some(3600),
            clock_skew_secs: 5,
        },
        ..ServerOptions::default()
    })
    .await;
    let key = &server.key;
    let mut c = server.connect().await;
    for sig in [
        usersig::gen_sig(key, "alice", 3601),
        usersig::gen_sig_at(key, "alice", now() + 60, 60),
    ] {
        let (code, desc) = c
            .call_err("login", json!({"userID": "alice", "userSig": sig}))
            .await;
        assert_eq!(code, 70003, "{desc}");
    }
    c.call(
        "login",
        json!({"userID": "alice", "userSig": usersig::gen_sig(key, "alice", 3600)}),
    )
    .await;
    let unlimited = TestServer::start_with(ServerOptions {
        sig_verify: VerifyOptions::TENCENT,
        ..ServerOptions::default()
    })
    .await;
    let mut c = unlimited.connect().await;
    let century = usersig::gen_sig(&unlimited.key, "alice", 100 * 365 * 86_400);
    c.call("login", json!({"userID": "alice", "userSig": century}))
        .await;
}

/// `termim serve --max-sig-lifetime … --sig-clock-skew …` set the limits.
#[test]
fn termim_serve_takes_the_limits_as_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("server");
    let (child, url) = serve_support::start_server_with(
        &dir,
        "127.0.0.1:0",
        &[
            "--max-sig-lifetime",
            "100",
            "--sig-clock-skew",
            "10",
            "--sig-grace",
            "5",
        ],
        &[],
    );
    let _server = serve_support::Killed(child);
    let sig = |expire: &str| {
        let mut cmd = std::process::Command::new(serve_support::BIN);
        cmd.args([
            "usersig",
            "--user",
            "alice",
            "--expire",
            expire,
            "--data-dir",
        ])
        .arg(&dir);
        serve_support::ok(&mut cmd).trim().to_string()
    };
    let conversations = |sig: &str| {
        let mut cmd = serve_support::client(
            &url,
            "alice",
            sig,
            &tmp.path().join("client"),
            "/dev/null".as_ref(),
        );
        cmd.args(["conversations", "--json"]);
        cmd
    };
    let out = conversations(&sig("101")).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("70003") && err.contains("100 s"), "{err}");
    serve_support::ok(&mut conversations(&sig("100")));
    let help =
        serve_support::ok(std::process::Command::new(serve_support::BIN).args(["serve", "--help"]));
    for flag in ["--max-sig-lifetime", "--sig-clock-skew", "--sig-grace"] {
        assert!(help.contains(flag), "{help}");
    }
}
