//! Helpers for SDK integration tests: a real server on 127.0.0.1 in a temp dir, SDK
//! instances with their own data dirs, and event waits that fail fast instead of hanging.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use termim::model::Message;
use termim::sdk::{
    ConnectionState, Conversation, HistoryGetType, HistoryOptions, SdkConfig, SendParams, Tim,
    TimError, TimEvent,
};
use termim::server::{self, ServerConfig, ServerHandle, ServerOptions};
use termim::usersig::{self, AppKey};
use tokio::sync::mpsc::UnboundedReceiver;

/// A plain member for `create_group` / `invite_user_to_group`.
pub fn member(user: &str) -> termim::model::GroupMemberSpec {
    termim::model::GroupMemberSpec {
        user_id: user.into(),
        role: termim::model::role::MEMBER,
    }
}

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

pub struct TestServer {
    handle: Option<ServerHandle>,
    pub addr: SocketAddr,
    pub key: AppKey,
    dir: tempfile::TempDir,
    options: ServerOptions,
    /// The private CA clients trust (for a server started with `options.tls`).
    pub ca_cert_pem: Option<String>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(ServerOptions::default()).await
    }

    /// With non-default tunables (kept across [`Self::restart`]).
    pub async fn start_with(options: ServerOptions) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let handle = server::start_with_options(
            ServerConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                data_dir: dir.path().to_path_buf(),
                sdk_app_id: None,
                secret_key: None,
                database: super::test_database(dir.path()),
            },
            options.clone(),
        )
        .await
        .expect("server starts");
        if super::on_postgres() {
            assert!(
                handle.startup_line().contains("(postgres "),
                "{}",
                handle.startup_line()
            );
        }
        TestServer {
            addr: handle.local_addr(),
            key: handle.app_key().clone(),
            handle: Some(handle),
            dir,
            options,
            ca_cert_pem: None,
        }
    }

    /// `ws://…`, or `wss://…` when it serves TLS.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}", self.addr)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn sig(&self, user: &str) -> String {
        usersig::gen_sig(&self.key, user, 3600)
    }

    /// Stop the server (clean shutdown).
    pub async fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
    }

    /// Start it again on the same address with the same data dir.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut last_err = None;
        // The port was just released; binding it again normally works at once.
        for _ in 0..50 {
            match server::start_with_options(
                ServerConfig {
                    listen: self.addr,
                    data_dir: self.dir.path().to_path_buf(),
                    sdk_app_id: None,
                    secret_key: None,
                    database: super::test_database(self.dir.path()),
                },
                self.options.clone(),
            )
            .await
            {
                Ok(h) => {
                    self.handle = Some(h);
                    return;
                }
                Err(e) => {
                    last_err = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("server did not restart on {}: {last_err:?}", self.addr);
    }

    /// Log `user` in with a fresh data dir.
    pub async fn client(&self, user: &str) -> Client {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        self.client_in(user, &path, Some(dir)).await
    }

    /// Log a device (a data dir kept from [`Client::log_out`]) in again.
    pub async fn client_on(&self, user: &str, device: Device) -> Client {
        let Device { path, dir } = device;
        self.client_in(user, &path, dir).await
    }

    /// Log `user` in with a given data dir (to restart an SDK on the same cache).
    pub async fn client_in(
        &self,
        user: &str,
        data_dir: &Path,
        owned: Option<tempfile::TempDir>,
    ) -> Client {
        self.client_in_with(user, data_dir, owned, &self.sig(user))
            .await
    }

    async fn client_in_with(
        &self,
        user: &str,
        data_dir: &Path,
        owned: Option<tempfile::TempDir>,
        sig: &str,
    ) -> Client {
        let tim = self
            .try_login_with(user, data_dir, sig)
            .await
            .unwrap_or_else(|e| panic!("{user} logs in: {e}"));
        let events = tim.add_listener();
        Client {
            user: user.to_string(),
            tim,
            events,
            data_dir: data_dir.to_path_buf(),
            _dir: owned,
        }
    }

    pub async fn try_login(&self, user: &str, data_dir: &Path) -> Result<Tim, TimError> {
        self.try_login_with(user, data_dir, &self.sig(user)).await
    }

    /// Log in with a given UserSig.
    pub async fn try_login_with(
        &self,
        user: &str,
        data_dir: &Path,
        sig: &str,
    ) -> Result<Tim, TimError> {
        let config = SdkConfig {
            server_url: self.url(),
            data_dir: data_dir.to_path_buf(),
            ca_cert_pem: self.ca_cert_pem.clone(),
        };
        Tim::login(config, user, sig).await
    }

    /// Log `user` in with `sig` and a fresh data dir.
    pub async fn client_with_sig(&self, user: &str, sig: &str) -> Client {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        self.client_in_with(user, &path, Some(dir), sig).await
    }

    /// Does any file under the server's data dir contain `needle`?
    pub fn data_contains(&self, needle: &str) -> bool {
        if let Some(url) = super::test_database(self.dir.path()) {
            return super::database_contains(&url, needle)
                || dir_contains(self.dir.path(), needle.as_bytes());
        }
        dir_contains(self.dir.path(), needle.as_bytes())
    }
}

fn dir_contains(dir: &Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if dir_contains(&path, needle) {
                return true;
            }
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            return true;
        }
    }
    false
}

pub struct Client {
    pub user: String,
    pub tim: Tim,
    pub events: UnboundedReceiver<TimEvent>,
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

/// A device's data dir while its SDK is logged out.
pub struct Device {
    pub path: PathBuf,
    dir: Option<tempfile::TempDir>,
}

impl Client {
    /// Log out, keeping the data dir (the cache) for a later [`TestServer::client_on`].
    pub async fn log_out(self) -> Device {
        self.tim
            .logout()
            .await
            .unwrap_or_else(|e| panic!("{} logs out: {e}", self.user));
        Device {
            path: self.data_dir,
            dir: self._dir,
        }
    }

    /// Wait for the first event `f` accepts; everything before it is returned too.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        mut f: impl FnMut(&TimEvent) -> Option<T>,
    ) -> (T, Vec<TimEvent>) {
        let mut seen = Vec::new();
        let result = tokio::time::timeout(WAIT, async {
            loop {
                match self.events.recv().await {
                    Some(ev) => {
                        if let Some(t) = f(&ev) {
                            return Some(t);
                        }
                        seen.push(ev);
                    }
                    None => return None,
                }
            }
        })
        .await;
        match result {
            Ok(Some(t)) => (t, seen),
            Ok(None) => panic!("{}: event stream ended waiting for {what}", self.user),
            Err(_) => panic!(
                "{}: timed out waiting for {what}; saw {:#?}",
                self.user,
                seen.iter().map(short).collect::<Vec<_>>()
            ),
        }
    }

    pub async fn synced(&mut self) -> Vec<TimEvent> {
        self.wait_for("SyncFinished", |e| {
            matches!(e, TimEvent::SyncFinished).then_some(())
        })
        .await
        .1
    }

    pub async fn state(&mut self, state: ConnectionState) {
        let what = format!("{state:?}");
        self.wait_for(&what, |e| match e {
            TimEvent::ConnectionChanged(s) if *s == state => Some(()),
            _ => None,
        })
        .await;
    }

    /// Wait for a new message whose preview is `text`; returns it and the events before it.
    pub async fn message(&mut self, text: &str) -> (Message, Vec<TimEvent>) {
        let what = format!("message {text:?}");
        self.wait_for(&what, |e| match e {
            TimEvent::NewMessage(m) if m.preview() == text => Some(m.clone()),
            _ => None,
        })
        .await
    }

    pub async fn send(&self, params: SendParams, text: &str) -> Result<Message, TimError> {
        let created = self.tim.create_text_message(text)?;
        self.tim
            .send_message(SendParams {
                id: created.id,
                ..params
            })
            .await
    }

    pub async fn send_text(&self, to: &str, text: &str) -> Message {
        self.send(
            SendParams {
                receiver: to.into(),
                ..Default::default()
            },
            text,
        )
        .await
        .unwrap_or_else(|e| panic!("{} → {to} {text:?}: {e}", self.user))
    }

    pub async fn send_group_text(&self, group: &str, text: &str) -> Message {
        self.send(
            SendParams {
                group_id: group.into(),
                ..Default::default()
            },
            text,
        )
        .await
        .unwrap_or_else(|e| panic!("{} → group {group} {text:?}: {e}", self.user))
    }

    /// A group send that must fail; returns the error.
    pub async fn send_group_text_err(&self, group: &str, text: &str) -> TimError {
        match self
            .send(
                SendParams {
                    group_id: group.into(),
                    ..Default::default()
                },
                text,
            )
            .await
        {
            Ok(m) => panic!("{} → group {group} {text:?} was accepted: {m:?}", self.user),
            Err(e) => e,
        }
    }

    /// The whole cached + server history of a conversation, oldest first.
    pub async fn history(&self, conversation_id: &str) -> Vec<Message> {
        let mut all = Vec::new();
        let mut last: Option<String> = None;
        loop {
            let page = self
                .tim
                .get_history_message_list(HistoryOptions {
                    conversation_id: conversation_id.into(),
                    get_type: HistoryGetType::CloudOlder,
                    count: 20,
                    last_msg_id: last.clone(),
                    last_msg_seq: None,
                })
                .await
                .unwrap_or_else(|e| panic!("history of {conversation_id}: {e}"));
            let done = page.is_finished || page.message_list.is_empty();
            if let Some(m) = page.message_list.last() {
                last = Some(if m.msg_id.is_empty() {
                    m.id.clone()
                } else {
                    m.msg_id.clone()
                });
            }
            all.extend(page.message_list);
            if done {
                break;
            }
        }
        all.reverse();
        all
    }

    pub async fn history_texts(&self, conversation_id: &str) -> Vec<String> {
        self.history(conversation_id)
            .await
            .iter()
            .map(|m| m.preview())
            .collect()
    }

    pub async fn conversation(&self, conversation_id: &str) -> Option<Conversation> {
        let list = self
            .tim
            .get_conversation_list("0", 500)
            .await
            .expect("list");
        list.conversation_list
            .into_iter()
            .find(|c| c.conversation_id == conversation_id)
    }

    pub async fn unread(&self, conversation_id: &str) -> u64 {
        self.conversation(conversation_id)
            .await
            .map_or(0, |c| c.unread_count)
    }

    pub async fn total_unread(&self) -> u64 {
        self.tim
            .get_total_unread_message_count()
            .await
            .expect("total unread")
    }
}

/// A one-line description of an event for failure messages.
pub fn short(e: &TimEvent) -> String {
    match e {
        TimEvent::NewMessage(m) => format!("NewMessage({:?} from {})", m.preview(), m.sender),
        TimEvent::MessageUpdated(m) => format!("MessageUpdated({:?}, {:?})", m.preview(), m.status),
        TimEvent::NewConversation(c) => format!(
            "NewConversation({:?})",
            c.iter()
                .map(|c| c.conversation_id.as_str())
                .collect::<Vec<_>>()
        ),
        TimEvent::ConversationChanged(c) => format!(
            "ConversationChanged({:?})",
            c.iter()
                .map(|c| c.conversation_id.as_str())
                .collect::<Vec<_>>()
        ),
        other => format!("{other:?}"),
    }
}

/// Texts of the NewMessage events in `events`.
pub fn new_message_texts(events: &[TimEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            TimEvent::NewMessage(m) => Some(m.preview()),
            _ => None,
        })
        .collect()
}
