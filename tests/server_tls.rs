//! Issue 11.4: `wss://` end to end. A real server on 127.0.0.1:0 serving a certificate made
//! in the test (signed by a private CA of the test's own); SDK clients that trust that CA
//! log in, send and receive; a client that does not, or a certificate for another name or
//! an expired one, is refused in words; bad certificate files stop the start in words.

mod common;

use std::time::Duration;

use common::certs::{ServerCert, TestCa};
use common::sdk_harness::TestServer;
use termim::protocol::codes;
use termim::server::{ServerConfig, ServerOptions, TlsFiles};
use tokio::io::AsyncReadExt as _;

/// A bound for every wait, generous for a loaded 2-core machine.
const BOUND: Duration = Duration::from_secs(20);

/// A server serving `cert` (files in their own temp dir, kept by the caller).
async fn tls_server(
    cert: &ServerCert,
    ca: &TestCa,
    options: ServerOptions,
) -> (TestServer, tempfile::TempDir) {
    let certs = tempfile::tempdir().expect("cert dir");
    let files = cert.write(certs.path());
    let mut server = TestServer::start_with(ServerOptions {
        tls: Some(files),
        ..options
    })
    .await;
    server.ca_cert_pem = Some(ca.pem.clone());
    (server, certs)
}

async fn serving(cert: &ServerCert, ca: &TestCa) -> (TestServer, tempfile::TempDir) {
    tls_server(cert, ca, ServerOptions::default()).await
}

fn handshake_timeout(timeout: Duration) -> ServerOptions {
    ServerOptions {
        handshake_timeout: timeout,
        ..ServerOptions::default()
    }
}

/// `Tim::login` at `url` trusting no private CA; its answer must come without waiting for
/// a timeout.
async fn login_at(url: String, sig: &str) -> Result<termim::sdk::Tim, termim::sdk::TimError> {
    let dir = tempfile::tempdir().expect("dir");
    let config = termim::sdk::SdkConfig {
        server_url: url,
        data_dir: dir.path().to_path_buf(),
        ca_cert_pem: None,
    };
    tokio::time::timeout(BOUND, termim::sdk::Tim::login(config, "alice", sig))
        .await
        .expect("answered at once, not after a timeout")
}

async fn refusal(server: &TestServer) -> termim::sdk::TimError {
    let dir = tempfile::tempdir().expect("dir");
    let attempt = tokio::time::timeout(BOUND, server.try_login("alice", dir.path()))
        .await
        .expect("the refusal comes without waiting for a timeout");
    match attempt {
        Ok(_) => panic!("the login over wss:// should have been refused"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn an_sdk_trusting_the_ca_logs_in_over_wss_and_messages_flow() {
    let ca = TestCa::new("termim test CA");
    let (server, _certs) = serving(&ca.server_cert(&["127.0.0.1", "localhost"]), &ca).await;
    assert!(
        server.url().starts_with("wss://127.0.0.1:"),
        "{}",
        server.url()
    );
    let alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    bob.synced().await;
    alice.send_text("bob", "over TLS 你好").await;
    let (got, _) = bob.message("over TLS 你好").await;
    assert_eq!(got.sender, "alice");
    assert_eq!(alice.history_texts("c2c_bob").await, vec!["over TLS 你好"]);
}

#[tokio::test]
async fn without_the_ca_the_certificate_is_refused_in_words() {
    let ca = TestCa::new("termim test CA");
    let (mut server, _certs) = serving(&ca.server_cert(&["127.0.0.1", "localhost"]), &ca).await;
    server.ca_cert_pem = None;
    let e = refusal(&server).await;
    assert_eq!(e.code, codes::ERR_SDK_NET_DISCONNECT);
    assert!(
        e.desc
            .contains("TLS: the server's certificate is not trusted (UnknownIssuer)"),
        "{}",
        e.desc
    );
    assert!(e.desc.contains("--ca-cert"), "{}", e.desc);
    // Another CA is no better.
    server.ca_cert_pem = Some(TestCa::new("some other CA").pem);
    let e = refusal(&server).await;
    assert!(e.desc.contains("(UnknownIssuer)"), "{}", e.desc);
}

#[tokio::test]
async fn an_sdk_opened_offline_says_why_each_connect_fails() {
    let ca = TestCa::new("termim test CA");
    let (server, _certs) = serving(&ca.server_cert(&["127.0.0.1"]), &ca).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = termim::sdk::SdkConfig {
        server_url: server.url(),
        data_dir: dir.path().to_path_buf(),
        ca_cert_pem: None,
    };
    let tim = termim::sdk::Tim::open(config, "alice", &server.sig("alice"))
        .await
        .expect("opens without the server");
    let mut events = tim.add_listener();
    let failed = tokio::time::timeout(BOUND, async {
        loop {
            match events.recv().await {
                Some(termim::sdk::TimEvent::ConnectFailed(e)) => break e,
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await
    .expect("a ConnectFailed event");
    assert_eq!(failed.code, codes::ERR_SDK_NET_DISCONNECT);
    assert!(failed.desc.contains("(UnknownIssuer)"), "{}", failed.desc);
    assert_ne!(
        tim.connection_state(),
        termim::sdk::ConnectionState::Connected
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let ca = TestCa::new("termim test CA");
    let (server, _certs) = serving(&ca.server_cert(&["chat.example.org"]), &ca).await;
    let e = refusal(&server).await;
    assert!(
        e.desc
            .contains("TLS: the server's certificate is not valid for 127.0.0.1 (NotValidForName)"),
        "{}",
        e.desc
    );
}

#[tokio::test]
async fn a_server_serving_the_ca_certificate_itself_is_refused() {
    let ca = TestCa::new("termim test CA");
    let (server, _certs) = serving(&ca.as_server_cert(), &ca).await;
    let e = refusal(&server).await;
    assert!(
        e.desc
            .contains("TLS: the server presents a CA certificate as its own (CaUsedAsEndEntity)"),
        "{}",
        e.desc
    );
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let ca = TestCa::new("termim test CA");
    let (server, _certs) = serving(&ca.expired_server_cert(&["127.0.0.1", "localhost"]), &ca).await;
    let e = refusal(&server).await;
    assert!(
        e.desc
            .contains("TLS: the server's certificate has expired (Expired)"),
        "{}",
        e.desc
    );
}

#[tokio::test]
async fn a_plain_ws_client_to_the_tls_port_fails_cleanly_and_the_server_goes_on() {
    let ca = TestCa::new("termim test CA");
    let (server, _certs) = serving(&ca.server_cert(&["127.0.0.1"]), &ca).await;
    let plain_url = server.url().replacen("wss://", "ws://", 1);
    let e = login_at(plain_url, &server.sig("alice"))
        .await
        .err()
        .expect("a plain ws:// login to a wss:// port fails");
    assert_eq!(e.code, codes::ERR_SDK_NET_DISCONNECT);
    assert!(e.desc.contains("use a wss:// URL"), "{}", e.desc);
    // The server is unharmed.
    let mut bob = server.client("bob").await;
    bob.synced().await;
}

#[tokio::test]
async fn a_silent_client_does_not_hold_up_accepting_others() {
    let ca = TestCa::new("termim test CA");
    // Far longer than the SDK's own connect timeout (10 s): were the handshake done in
    // the accept loop, nobody could connect while the silent client waits.
    let (server, _certs) = tls_server(
        &ca.server_cert(&["127.0.0.1"]),
        &ca,
        handshake_timeout(Duration::from_secs(120)),
    )
    .await;
    let _silent = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("tcp");
    let _half = {
        // And one that starts a TLS hello and stops half-way.
        use tokio::io::AsyncWriteExt as _;
        let mut s = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("tcp");
        s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            .await
            .expect("write");
        s
    };
    let mut alice = server.client("alice").await;
    alice.synced().await;
}

#[tokio::test]
async fn a_client_that_never_completes_the_tls_handshake_is_dropped_after_the_timeout() {
    let ca = TestCa::new("termim test CA");
    let (server, _certs) = tls_server(
        &ca.server_cert(&["127.0.0.1"]),
        &ca,
        handshake_timeout(Duration::from_millis(300)),
    )
    .await;
    let mut silent = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("tcp");
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(BOUND, silent.read(&mut buf))
        .await
        .expect("the server closes a socket that never completes the TLS handshake");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test]
async fn a_wss_client_to_a_plain_server_is_told_so() {
    let server = TestServer::start().await;
    let e = login_at(
        server.url().replacen("ws://", "wss://", 1),
        &server.sig("alice"),
    )
    .await
    .err()
    .expect("wss:// to a ws:// server fails");
    assert!(
        e.desc.contains("TLS: the server did not answer in TLS"),
        "{}",
        e.desc
    );
}

/// Start a server with these TLS files; the error it refuses with.
async fn start_error(files: TlsFiles) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let result = termim::server::start_with_options(
        ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: dir.path().to_path_buf(),
            sdk_app_id: None,
            secret_key: None,
            database: common::test_database(dir.path()),
        },
        ServerOptions {
            tls: Some(files),
            ..ServerOptions::default()
        },
    )
    .await;
    match result {
        Ok(_) => panic!("the server should have refused to start"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn unreadable_or_mismatched_tls_files_stop_the_start_in_words() {
    let ca = TestCa::new("termim test CA");
    let dir = tempfile::tempdir().expect("dir");
    let good = ca
        .server_cert(&["127.0.0.1"])
        .write(&dir.path().join("good"));
    let other = ca
        .server_cert(&["127.0.0.1"])
        .write(&dir.path().join("other"));
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello, not a certificate\n").unwrap();
    let broken = dir.path().join("broken.pem");
    std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();

    let cases = [
        (
            &missing,
            &good.key_path,
            format!("cannot read the TLS certificate file {}", missing.display()),
        ),
        (
            &good.cert_path,
            &missing,
            format!("cannot read the TLS key file {}", missing.display()),
        ),
        (
            &garbage,
            &good.key_path,
            format!(
                "the TLS certificate file {} holds no certificate",
                garbage.display()
            ),
        ),
        (
            &broken,
            &good.key_path,
            format!(
                "the TLS certificate file {} is not valid PEM: a -----BEGIN block has no -----END line",
                broken.display()
            ),
        ),
        (
            &good.key_path,
            &good.cert_path,
            "were --tls-cert and --tls-key swapped?".to_string(),
        ),
        (
            &good.cert_path,
            &other.key_path,
            format!(
                "the TLS key in {} does not belong to the certificate in {}",
                other.key_path.display(),
                good.cert_path.display()
            ),
        ),
    ];
    for (cert, key, expected) in cases {
        let e = start_error(TlsFiles {
            cert_path: cert.clone(),
            key_path: key.clone(),
        })
        .await;
        assert!(e.contains(&expected), "{e}\nexpected: {expected}");
    }
}
