//! Cold catch-up (issue 17.3): a device with an empty cache logs in to a server where the
//! user has 50,000 messages in 200 conversations (160 one-to-one, 40 Work groups), all
//! read. Measured per run, on a fresh data dir each time, with the server in this process
//! (as the embedded default runs):
//!
//! - **SDK**: `Tim::login` → `SyncFinished` (every message stored, the list settled).
//! - **TUI**: the real event loop (`run_loop` with the real SDK runner, a 120×40
//!   `TestBackend`) from login until a drawn frame shows the settled state: online, not
//!   syncing, no unread, and the list complete — what a user waits for. Also the worst gap
//!   between two frames during the catch-up (the UI must stay responsive).
//!
//! `cargo bench --bench cold_sync` (`TERMIM_BENCH_RUNS`, default 5). The data set is built
//! once through the real protocol and kept under `CARGO_TARGET_TMPDIR`.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures_util::stream;
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use termim::model::{GroupMemberSpec, role};
use termim::sdk::{SdkConfig, SendParams, Tim, TimEvent};
use termim::server::{self, ServerConfig};
use termim::tui::run::{RunOptions, run_loop, system_now};
use termim::tui::runner::SdkRunner;
use termim::tui::{App, Clock, Keymap, SdkEvent, Theme};
use termim::usersig::{self, AppKey};
use tokio::sync::mpsc;

const ME: &str = "me";
const C2C: usize = 160;
const GROUPS: usize = 40;
const PER_CONVERSATION: usize = 250;
const MESSAGES: usize = (C2C + GROUPS) * PER_CONVERSATION;
const MARKER: &str = "populated-v1";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cold-sync-bench")
}

fn sdk(url: &str, dir: &Path) -> SdkConfig {
    SdkConfig {
        server_url: url.to_string(),
        data_dir: dir.to_path_buf(),
        ca_cert_pem: None,
    }
}

async fn login(key: &AppKey, url: &str, dir: &Path, user: &str) -> Tim {
    Tim::login(sdk(url, dir), user, &usersig::gen_sig(key, user, 86_400))
        .await
        .unwrap_or_else(|e| panic!("{user} logs in: {e}"))
}

async fn send_many(tim: &Tim, receiver: &str, group: &str, c: usize) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let one = async || {
        loop {
            let m = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if m >= PER_CONVERSATION {
                break;
            }
            let created = tim
                .create_text_message(&support::text(c, m))
                .expect("create");
            let params = SendParams {
                id: created.id,
                receiver: receiver.into(),
                group_id: group.into(),
                ..Default::default()
            };
            support::send_retrying(tim, params, &format!("{c}/{m}")).await;
        }
    };
    futures_util::future::join_all((0..16).map(|_| one())).await;
}

/// The data set's server, in this process, on a free port.
async fn start_server(root: &Path) -> server::ServerHandle {
    server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: root.join("server"),
        sdk_app_id: None,
        secret_key: None,
        database: None,
    })
    .await
    .expect("server")
}

async fn populate(root: &Path) {
    let handle = start_server(root).await;
    let (url, key) = (handle.url(), handle.app_key().clone());
    let peers = tempfile::tempdir().unwrap();
    let me_dir = tempfile::tempdir().unwrap();
    login(&key, &url, me_dir.path(), ME)
        .await
        .logout()
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (key, url, dir) = (key.clone(), url.clone(), peers.path().to_path_buf());
        tasks.spawn(async move {
            for c in (w..C2C + GROUPS).step_by(8) {
                let user = support::peer(c);
                let tim = login(&key, &url, &dir, &user).await;
                if c < C2C {
                    send_many(&tim, ME, "", c).await;
                } else {
                    let g = support::group(c);
                    tim.create_group(
                        "Work",
                        &format!("Group {c} 讨论组"),
                        Some(&g),
                        &[GroupMemberSpec {
                            user_id: ME.into(),
                            role: role::MEMBER,
                        }],
                    )
                    .await
                    .expect("group");
                    send_many(&tim, "", &g, c).await;
                }
                tim.logout().await.unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("writer");
    }
    // Everything read: the cold device must show 0 unread.
    let me = login(&key, &url, me_dir.path(), ME).await;
    let mut ev = me.add_listener();
    while let Some(e) = ev.recv().await {
        if matches!(e, TimEvent::SyncFinished) {
            break;
        }
    }
    me.clean_conversation_unread_message_count("", 0, 0)
        .await
        .expect("clean all");
    me.logout().await.unwrap();
    handle.shutdown().await;
}

fn ensure_populated() -> PathBuf {
    let root = root();
    if root.join(MARKER).exists() {
        return root;
    }
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let started = Instant::now();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(populate(&root));
    std::fs::write(root.join(MARKER), "").unwrap();
    eprintln!(
        "setup: {MESSAGES} messages written in {:.1} s (not measured)",
        started.elapsed().as_secs_f64()
    );
    root
}

/// A TestBackend that records when a flushed frame first shows the settled state.
struct Watch {
    inner: TestBackend,
    start: Instant,
    last_flush: Option<Instant>,
    worst_gap: Duration,
    settled: Arc<Mutex<Option<(Duration, Duration)>>>,
    keys: mpsc::UnboundedSender<Event>,
}

fn settled(text: &str) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    let bar = lines.len().checked_sub(2).map_or("", |i| lines[i]);
    bar.contains("● online") && !bar.contains("syncing") && !bar.contains("unread")
}

impl Backend for Watch {
    type Error = std::convert::Infallible;
    fn draw<'a, I: Iterator<Item = (u16, u16, &'a Cell)>>(
        &mut self,
        c: I,
    ) -> Result<(), Self::Error> {
        self.inner.draw(c)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, p: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(p)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, t: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(t)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()?;
        let now = Instant::now();
        let mut done = self.settled.lock().unwrap();
        if done.is_none() {
            if let Some(last) = self.last_flush {
                self.worst_gap = self.worst_gap.max(now - last);
            }
            self.last_flush = Some(now);
            let buf = self.inner.buffer();
            let mut text = String::new();
            for y in 0..buf.area.height {
                for x in 0..buf.area.width {
                    text.push_str(buf[(x, y)].symbol());
                }
                text.push('\n');
            }
            if settled(&text) {
                *done = Some((now - self.start, self.worst_gap));
                let _ = self.keys.send(Event::Key(KeyEvent::new(
                    KeyCode::Char('c'),
                    KeyModifiers::CONTROL,
                )));
            }
        }
        Ok(())
    }
}

async fn sdk_run(url: &str, key: &AppKey) -> (f64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let tim = login(key, url, dir.path(), ME).await;
    let mut events = tim.add_listener();
    let mut announced = 0;
    while let Some(e) = events.recv().await {
        match e {
            TimEvent::NewMessage(_) => announced += 1,
            TimEvent::SyncFinished => break,
            _ => {}
        }
    }
    let took = start.elapsed().as_secs_f64();
    let list = tim.get_conversation_list("0", 500).await.unwrap();
    assert_eq!(list.conversation_list.len(), C2C + GROUPS);
    assert_eq!(tim.get_total_unread_message_count().await.unwrap(), 0);
    tim.logout().await.unwrap();
    (took, announced)
}

async fn tui_run(url: &str, key: &AppKey) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let tim = login(key, url, dir.path(), ME).await;
    let (keys, keys_rx) = mpsc::unbounded_channel::<Event>();
    let settled = Arc::new(Mutex::new(None));
    let backend = Watch {
        inner: TestBackend::new(120, 40),
        start,
        last_flush: None,
        worst_gap: Duration::ZERO,
        settled: settled.clone(),
        keys,
    };
    let mut terminal = Terminal::new(backend).unwrap();
    let mut app = App::new(
        ME.to_string(),
        Keymap::default(),
        Theme::default(),
        Clock::new(system_now(), 0),
    );
    let (events_tx, events_rx) = mpsc::unbounded_channel::<SdkEvent>();
    let _ = events_tx.send(SdkEvent::ConnectionChanged(tim.connection_state()));
    let mut listener = tim.add_listener();
    tokio::spawn(async move {
        while let Some(ev) = listener.recv().await {
            if events_tx.send(ev).is_err() {
                break;
            }
        }
    });
    let input = Box::pin(stream::unfold(keys_rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok(ev), rx))
    }));
    let mut runner = SdkRunner::new(tim);
    let initial = app.start();
    let options = RunOptions {
        mouse: false,
        tick: Duration::from_secs(1),
    };
    run_loop(
        &mut terminal,
        &mut app,
        input,
        events_rx,
        &mut runner,
        initial,
        &options,
        system_now,
    )
    .await
    .expect("loop");
    assert_eq!(
        app.conversations.len(),
        C2C + GROUPS,
        "the list is complete"
    );
    let (took, gap) = settled.lock().unwrap().expect("settled");
    (took.as_secs_f64(), gap.as_secs_f64() * 1000.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("cold_sync: bench");
        return;
    }
    let root = ensure_populated();
    let runs = support::env_count("TERMIM_BENCH_RUNS", 5);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let handle = start_server(&root).await;
        let (url, key) = (handle.url(), handle.app_key().clone());
        println!("# cold catch-up: {MESSAGES} messages in {} conversations, all read; {}", C2C + GROUPS, support::machine());
        let mut sdk = Vec::new();
        let mut tui = Vec::new();
        let mut gaps = Vec::new();
        for run in 0..runs {
            let (s, announced) = sdk_run(&url, &key).await;
            let (t, gap) = tui_run(&url, &key).await;
            println!(
                "run {run}: SDK login→SyncFinished {s:.2} s ({announced} announced); TUI login→settled frame {t:.2} s, worst frame gap {gap:.0} ms"
            );
            sdk.push(s);
            tui.push(t);
            gaps.push(gap);
        }
        let (s, t, g) = (support::stats(&sdk), support::stats(&tui), support::stats(&gaps));
        println!(
            "SDK cold sync: median {:.2} s (min {:.2}, max {:.2})",
            s.p50, s.min, s.max
        );
        println!(
            "TUI cold catch-up to the settled list: median {:.2} s (min {:.2}, max {:.2}); worst frame gap median {:.0} ms, max {:.0} ms",
            t.p50, t.min, t.max, g.p50, g.max
        );
        handle.shutdown().await;
    });
}
