//! Issue 10.5 through the SDK: an expired UserSig is V2TIM's `onUserSigExpired`
//! (`TimEvent::UserSigExpired`), and `renew_user_sig` keeps the same instance going —
//! within the server's grace on the same connection, or after it by logging in again
//! with the new sig. Against a real server on 127.0.0.1:0 with a shrunk grace.

mod common;

use std::time::Duration;

use common::sdk_harness::{Client, TestServer};
use termim::protocol::codes;
use termim::sdk::{ConnectionState, TimEvent};
use termim::server::ServerOptions;
use termim::usersig::{self, AppKey};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn server_with_grace(grace: Duration) -> TestServer {
    TestServer::start_with(ServerOptions {
        sig_grace: grace,
        ..ServerOptions::default()
    })
    .await
}

/// alice, logged in with a sig valid for 2 s.
async fn alice_for_two_seconds(server: &TestServer) -> Client {
    let sig = usersig::gen_sig_at(&server.key, "alice", now(), 2);
    let mut alice = server.client_with_sig("alice", &sig).await;
    alice.synced().await;
    alice
}

async fn expired(client: &mut Client) {
    client
        .wait_for("UserSigExpired", |e| {
            matches!(e, TimEvent::UserSigExpired).then_some(())
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_is_announced_and_a_renewal_keeps_the_session() {
    let mut server = server_with_grace(Duration::from_secs(5)).await;
    let bob = server.client("bob").await;
    let mut alice = alice_for_two_seconds(&server).await;
    alice.send_text("bob", "before").await;
    expired(&mut alice).await;

    // Expired, the server refuses the session's calls.
    let refused = alice
        .send(
            termim::sdk::SendParams {
                receiver: "bob".into(),
                ..Default::default()
            },
            "refused",
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, codes::ERR_USER_SIG_EXPIRED_SVR, "{refused}");
    // bob writes while alice's session is pushed nothing.
    bob.send_text("alice", "while expired").await;

    // Not another user's sig, nor one of another server (checked here: another cache).
    let err = alice
        .tim
        .renew_user_sig(&server.sig("bob"))
        .await
        .unwrap_err();
    assert_eq!(err.code, 70013, "{err}");
    let other_app = AppKey::generate();
    let err = alice
        .tim
        .renew_user_sig(&usersig::gen_sig(&other_app, "alice", 3600))
        .await
        .unwrap_err();
    assert_eq!(err.code, 70014, "{err}");

    alice
        .tim
        .renew_user_sig(&server.sig("alice"))
        .await
        .expect("renewed");
    // What came while it was expired is caught up; pushes flow again; sends work.
    alice.message("while expired").await;
    alice.send_text("bob", "after").await;
    bob.send_text("alice", "live").await;
    alice.message("live").await;
    // Long past the grace the connection is the same one: never disconnected.
    tokio::time::sleep(Duration::from_secs(6)).await;
    alice.send_text("bob", "still here").await;
    let (_, seen) = alice
        .wait_for("the last ack", |e| match e {
            TimEvent::MessageUpdated(m) if m.preview() == "still here" => Some(()),
            _ => None,
        })
        .await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, TimEvent::ConnectionChanged(_))),
        "{seen:?}"
    );

    // Reconnecting (a server restart) logs in with the newest sig: the first one has
    // long expired.
    server.restart().await;
    alice.state(ConnectionState::Connected).await;
    alice.synced().await;
    alice.send_text("bob", "after restart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_grace_a_new_sig_logs_the_same_instance_in_again() {
    let server = server_with_grace(Duration::from_millis(300)).await;
    let bob = server.client("bob").await;
    let mut alice = alice_for_two_seconds(&server).await;
    expired(&mut alice).await;
    // The server closes the connection; logging in again with the old sig is refused,
    // so the instance waits for a new one (Disconnected, not LoggedOut), announcing
    // the expiry once.
    alice.state(ConnectionState::Disconnected).await;
    alice.state(ConnectionState::Connecting).await;
    alice.state(ConnectionState::Disconnected).await;
    bob.send_text("alice", "missed").await;
    // It does not retry the refused sig (nor give up): it stays as it is.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(alice.tim.connection_state(), ConnectionState::Disconnected);
    while let Ok(e) = alice.events.try_recv() {
        assert!(!matches!(e, TimEvent::UserSigExpired), "announced twice");
    }
    alice
        .tim
        .renew_user_sig(&server.sig("alice"))
        .await
        .expect("kept for the next login");
    alice.state(ConnectionState::Connected).await;
    alice.message("missed").await;
    alice.send_text("bob", "back").await;
}
