//! A raw WebSocket JSON client for server tests: it speaks the wire protocol directly
//! (docs/PROTOCOL.md), with no SDK in between, against a real server on 127.0.0.1:0.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use termim::server::{ServerConfig, ServerHandle, ServerOptions, start_with_options};
use termim::usersig::{self, AppKey};

/// Every await in a test is bounded by this, so a failure fails fast instead of hanging.
pub const STEP: Duration = Duration::from_secs(10);

pub async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(STEP, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// A server in a temp dir.
pub struct TestServer {
    pub handle: Option<ServerHandle>,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub key: AppKey,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ServerOptions::default()).await
    }

    pub async fn start_with(options: ServerOptions) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(&dir, options).await;
        s._tmp = Some(tmp);
        s
    }

    /// Start on an existing data dir (for restart tests; the caller owns the dir).
    pub async fn start_in(dir: &Path, options: ServerOptions) -> Self {
        let on_postgres = super::on_postgres();
        let server = Self::start_on(dir, super::test_database(dir), options).await;
        if on_postgres {
            let handle = server.handle.as_ref().expect("running");
            assert!(
                handle.startup_line().contains("(postgres "),
                "{}",
                handle.startup_line()
            );
        }
        server
    }

    /// Start on `dir` with this database (`None`: SQLite in the dir), whatever the
    /// harness's default engine.
    #[allow(dead_code)]
    pub async fn start_on(dir: &Path, database: Option<String>, options: ServerOptions) -> Self {
        let handle = start_with_options(
            ServerConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                data_dir: dir.to_path_buf(),
                sdk_app_id: None,
                secret_key: None,
                database,
            },
            options,
        )
        .await
        .expect("server starts");
        let key = handle.app_key().clone();
        Self {
            handle: Some(handle),
            dir: dir.to_path_buf(),
            _tmp: None,
            key,
        }
    }

    pub fn url(&self) -> String {
        self.handle.as_ref().expect("running").url()
    }

    pub fn sig(&self, user: &str) -> String {
        usersig::gen_sig(&self.key, user, 86_400)
    }

    /// A connected, not logged-in client.
    pub async fn connect(&self) -> RawClient {
        RawClient::connect(&self.url()).await
    }

    /// A logged-in client.
    pub async fn login(&self, user: &str) -> RawClient {
        self.login_answer(user).await.0
    }

    /// A logged-in client and its login answer's `data` (cursor, version, …).
    pub async fn login_answer(&self, user: &str) -> (RawClient, Value) {
        let mut c = self.connect().await;
        let data = c
            .call("login", json!({"userID": user, "userSig": self.sig(user)}))
            .await;
        assert_eq!(data["userID"], user);
        (c, data)
    }

    pub async fn shutdown(&mut self) {
        if let Some(h) = self.handle.take() {
            within("server shutdown", h.shutdown()).await;
        }
    }
}

/// What ended a connection, as seen by the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Close(u16, String),
    /// The stream ended or failed without a close frame.
    Dropped,
}

pub struct RawClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_req: u64,
    pushes: VecDeque<Value>,
    responses: HashMap<u64, Value>,
    closed: Option<Ended>,
}

impl RawClient {
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = within("connect", tokio_tungstenite::connect_async(url))
            .await
            .expect("websocket connects");
        Self::from_stream(ws)
    }

    /// A client on a WebSocket connected by other means.
    pub fn from_stream(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        Self {
            ws,
            next_req: 0,
            pushes: VecDeque::new(),
            responses: HashMap::new(),
            closed: None,
        }
    }

    pub async fn send_message(&mut self, msg: Message) {
        within("send", self.ws.send(msg)).await.expect("send frame");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send_message(Message::Text(text.into())).await;
    }

    /// Send a request without waiting; returns its reqId.
    pub async fn send_request(&mut self, op: &str, params: Value) -> u64 {
        self.next_req += 1;
        let id = self.next_req;
        let frame = json!({"reqId": id, "op": op, "params": params}).to_string();
        self.send_text(&frame).await;
        id
    }

    /// Read one frame from the server (a response or a push), as JSON.
    async fn read_frame(&mut self) -> Value {
        loop {
            let msg = within("a frame from the server", self.ws.next())
                .await
                .expect("connection open")
                .expect("frame reads");
            match msg {
                Message::Text(t) => return serde_json::from_str(&t).expect("server sends JSON"),
                Message::Close(c) => panic!("server closed the connection: {c:?}"),
                _ => {}
            }
        }
    }

    /// Wait for the response to `req_id`, keeping pushes that arrive meanwhile.
    pub async fn response(&mut self, req_id: u64) -> Value {
        loop {
            if let Some(r) = self.responses.remove(&req_id) {
                return r;
            }
            let frame = self.read_frame().await;
            if frame.get("push").is_some() {
                self.pushes.push_back(frame);
            } else {
                let id = frame["reqId"].as_u64().expect("response has reqId");
                self.responses.insert(id, frame);
            }
        }
    }

    /// Send a request and return the whole response frame.
    pub async fn request(&mut self, op: &str, params: Value) -> Value {
        let id = self.send_request(op, params).await;
        self.response(id).await
    }

    /// Send a request that must succeed; returns its `data`.
    pub async fn call(&mut self, op: &str, params: Value) -> Value {
        let r = self.request(op, params).await;
        assert_eq!(r["code"], 0, "{op} failed: {r}");
        r["data"].clone()
    }

    /// Send a request that must fail; returns `(code, desc)`.
    pub async fn call_err(&mut self, op: &str, params: Value) -> (i64, String) {
        let r = self.request(op, params).await;
        let code = r["code"].as_i64().expect("code");
        assert_ne!(code, 0, "{op} was expected to fail: {r}");
        (code, r["desc"].as_str().unwrap_or_default().to_string())
    }

    /// The next response, whatever its reqId (pushes meanwhile are kept).
    pub async fn next_response(&mut self) -> Value {
        if let Some(id) = self.responses.keys().next().copied()
            && let Some(r) = self.responses.remove(&id)
        {
            return r;
        }
        loop {
            let frame = self.read_frame().await;
            if frame.get("push").is_some() {
                self.pushes.push_back(frame);
            } else {
                return frame;
            }
        }
    }

    /// One raw read: `Some(true)` a push, `Some(false)` any other frame, `None` the end.
    pub async fn raw_next(&mut self) -> Option<bool> {
        match self.ws.next().await {
            Some(Ok(Message::Text(t))) => Some(t.contains(r#""push":"#)),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => None,
            Some(Ok(_)) => Some(false),
        }
    }

    /// The next push (any name).
    pub async fn next_push(&mut self) -> Value {
        if let Some(p) = self.pushes.pop_front() {
            return p;
        }
        loop {
            let frame = self.read_frame().await;
            if frame.get("push").is_some() {
                return frame;
            }
            let id = frame["reqId"].as_u64().expect("response has reqId");
            self.responses.insert(id, frame);
        }
    }

    /// The next push, which must be named `name`; returns its `data`.
    pub async fn expect_push(&mut self, name: &str) -> Value {
        let p = self.next_push().await;
        assert_eq!(p["push"], name, "unexpected push: {p}");
        p["data"].clone()
    }

    /// The next push, skipping any not named `name`; returns its `data`.
    pub async fn push_named(&mut self, name: &str) -> Value {
        loop {
            let p = self.next_push().await;
            if p["push"] == name {
                return p["data"].clone();
            }
        }
    }

    /// The next `newMessage` push's message.
    pub async fn expect_message(&mut self) -> Value {
        self.expect_push("newMessage").await["message"].clone()
    }

    /// The next `groupEvent` of kind `event` (other pushes are skipped); returns its data.
    pub async fn group_event(&mut self, event: &str) -> Value {
        loop {
            let data = self.push_named("groupEvent").await;
            if data["event"] == event {
                return data;
            }
        }
    }

    /// The next `newMessage` with this msgID (other pushes are skipped).
    pub async fn message_with_id(&mut self, msg_id: &Value) -> Value {
        loop {
            let m = self.push_named("newMessage").await["message"].clone();
            if m["msgID"] == *msg_id {
                return m;
            }
        }
    }

    /// The next JSON frame straight off the socket, or `None` once the server ended the
    /// connection (see [`Self::last_close`]).
    pub async fn raw_frame(&mut self) -> Option<Value> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(&t).expect("server sends JSON"));
                }
                Some(Ok(Message::Close(Some(f)))) => {
                    self.closed = Some(Ended::Close(f.code.into(), f.reason.to_string()));
                    return None;
                }
                Some(Ok(Message::Close(None))) | Some(Err(_)) | None => {
                    self.closed.get_or_insert(Ended::Dropped);
                    return None;
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// How the connection ended, once [`Self::raw_frame`] returned `None`.
    pub fn last_close(&mut self) -> Option<Ended> {
        self.closed.take()
    }

    /// Pushes already received and not consumed.
    pub fn buffered_pushes(&self) -> usize {
        self.pushes.len()
    }

    /// Read until the server ends the connection; returns how (skipping other frames).
    pub async fn ended(&mut self) -> Ended {
        loop {
            match within("the connection to end", self.ws.next()).await {
                Some(Ok(Message::Close(Some(f)))) => {
                    return Ended::Close(f.code.into(), f.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Ended::Dropped,
                Some(Ok(_)) => {}
            }
        }
    }

    // ---------------------------------------------------------------- message helpers

    /// Send a text message; returns the stored message from the ack.
    pub async fn send_text_to(
        &mut self,
        receiver: &str,
        group: &str,
        id: &str,
        text: &str,
    ) -> Value {
        let data = self
            .call("sendMessage", text_params(id, receiver, group, text))
            .await;
        data["message"].clone()
    }

    /// Send `n` text messages without waiting for each ack (ids `{prefix}-{i}`), then
    /// check every ack.
    pub async fn send_texts_pipelined(
        &mut self,
        receiver: &str,
        group: &str,
        prefix: &str,
        n: usize,
        text: &str,
    ) {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let id = format!("{prefix}-{i}");
            ids.push(
                self.send_request("sendMessage", text_params(&id, receiver, group, text))
                    .await,
            );
        }
        for id in ids {
            let answer = self.response(id).await;
            assert_eq!(answer["code"], 0, "{answer}");
        }
    }

    pub async fn history(&mut self, conversation_id: &str, count: u32) -> Vec<Value> {
        let data = self
            .call(
                "getHistoryMessageList",
                json!({"conversationID": conversation_id, "getType": 1, "count": count}),
            )
            .await;
        data["messageList"].as_array().cloned().unwrap_or_default()
    }

    /// Sync everything from `cursor` (following pages); returns messages and the new cursor.
    pub async fn sync_all(&mut self, mut cursor: u64) -> (Vec<Value>, u64) {
        let mut all = Vec::new();
        loop {
            let data = self
                .call("sync", json!({"cursor": cursor, "count": 100}))
                .await;
            all.extend(data["messageList"].as_array().cloned().unwrap_or_default());
            cursor = data["cursor"].as_u64().expect("cursor");
            if data["isFinished"] == true {
                return (all, cursor);
            }
        }
    }

    pub async fn conversation(&mut self, conversation_id: &str) -> Value {
        let data = self
            .call(
                "getConversation",
                json!({"conversationID": conversation_id}),
            )
            .await;
        data["conversationList"][0].clone()
    }

    pub async fn create_group(&mut self, group_type: &str, id: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"userID": m})).collect();
        let data = self
            .call(
                "createGroup",
                json!({"groupType": group_type, "groupName": format!("{group_type} {id}"),
                       "groupID": id, "memberList": members}),
            )
            .await;
        data["groupID"].as_str().expect("groupID").to_string()
    }
}

/// `sendMessage` params for a text message.
pub fn text_params(id: &str, receiver: &str, group: &str, text: &str) -> Value {
    json!({
        "id": id,
        "receiver": receiver,
        "groupID": group,
        "elemType": 1,
        "textElem": {"text": text},
    })
}

/// The texts of a list of messages.
pub fn texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["textElem"]["text"].as_str().unwrap_or("").to_string())
        .collect()
}
