//! Scripted flows: the real event loop (`run_loop`) with the real SDK-backed effect
//! runner (`SdkRunner`) against a real server on 127.0.0.1:0 in a temp dir. Keys go in
//! as crossterm events; what the user sees comes out of a `TestBackend` after every
//! frame. The other side of each conversation is a plain SDK client, so every
//! assertion is either "the user sees X" or "the other user's SDK got exactly X".

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::sdk_harness::{Client, TestServer, WAIT};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures_util::stream;
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Position, Size};
use termim::model::{GroupMemberSpec, role};
use termim::sdk::{Tim, TimEvent};
use termim::tui::run::{RunError, RunOptions, run_loop, system_now};
use termim::tui::runner::SdkRunner;
use termim::tui::{App, Clock, Keymap, SdkEvent, Theme};
use tokio::sync::{mpsc, watch};
use unicode_width::UnicodeWidthStr;

// ----------------------------------------------------------------------------------
// A TestBackend that publishes each flushed frame, so the script can wait for text.

struct Screen {
    inner: TestBackend,
    frames: watch::Sender<String>,
    /// Frames flushed so far.
    flushes: Arc<AtomicUsize>,
}

/// The buffer as plain text, one line per row; the cell a wide character covers is
/// skipped, so "你好" reads as "你好".
fn buffer_text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut skip = 0;
        for x in 0..buf.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            out.push_str(sym);
            skip = sym.width().saturating_sub(1);
        }
        out.push('\n');
    }
    out
}

impl Backend for Screen {
    type Error = std::convert::Infallible;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
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
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()?;
        self.flushes.fetch_add(1, Ordering::SeqCst);
        self.frames.send_replace(buffer_text(self.inner.buffer()));
        Ok(())
    }
}

// ----------------------------------------------------------------------------------
// The UI under test.

struct Ui {
    keys: mpsc::UnboundedSender<Event>,
    frames: watch::Receiver<String>,
    task: tokio::task::JoinHandle<(App, Result<(), RunError>)>,
}

const WIDTH: u16 = 120;
const HEIGHT: u16 = 32;

/// Run the TUI for `tim` (which must not have a listener yet: the first one also gets
/// everything since login) the way `termim` does, minus the terminal.
fn start_ui(tim: Tim) -> Ui {
    start_ui_with(tim, None)
}

/// [`start_ui`] for a termim that signs its own UserSigs with `signer`.
fn start_ui_with(tim: Tim, signer: Option<termim::usersig::Signer>) -> Ui {
    let (frames_tx, frames) = watch::channel(String::new());
    let backend = Screen {
        inner: TestBackend::new(WIDTH, HEIGHT),
        frames: frames_tx,
        flushes: Arc::default(),
    };
    let mut terminal = Terminal::new(backend).expect("terminal");
    // UTC, like the server's clock; times on screen are not asserted anyway.
    let clock = Clock::new(system_now(), 0);
    let mut app = App::new(tim.login_user(), Keymap::default(), Theme::default(), clock);
    app.can_sign = signer.is_some();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let _ = events_tx.send(SdkEvent::ConnectionChanged(tim.connection_state()));
    let mut listener = tim.add_listener();
    tokio::spawn(async move {
        while let Some(ev) = listener.recv().await {
            if events_tx.send(ev).is_err() {
                break;
            }
        }
    });
    let (keys, keys_rx) = mpsc::unbounded_channel::<Event>();
    let input = Box::pin(stream::unfold(keys_rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok(ev), rx))
    }));
    let task = tokio::spawn(async move {
        let mut runner = SdkRunner::new(tim);
        if let Some(signer) = signer {
            runner = runner.with_signer(signer);
        }
        let initial = app.start();
        let options = RunOptions {
            mouse: false,
            tick: Duration::from_secs(1),
        };
        let result = run_loop(
            &mut terminal,
            &mut app,
            input,
            events_rx,
            &mut runner,
            initial,
            &options,
            system_now,
        )
        .await;
        (app, result)
    });
    Ui { keys, frames, task }
}

impl Ui {
    fn key(&self, code: KeyCode, modifiers: KeyModifiers) {
        self.keys
            .send(Event::Key(KeyEvent::new(code, modifiers)))
            .expect("the UI takes keys");
    }

    fn press(&self, code: KeyCode) {
        self.key(code, KeyModifiers::NONE);
    }

    /// Type text key by key, as a user does (CJK included: an IME hands over chars).
    fn type_text(&self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c));
        }
    }

    /// Open a conversation from the list through the filter: Esc to the list, `/`,
    /// the name, Enter.
    fn open(&self, name: &str) {
        self.press(KeyCode::Esc);
        self.press(KeyCode::Char('/'));
        self.type_text(name);
        self.press(KeyCode::Enter);
    }

    /// Wait until a frame satisfies `ok`; fail with the last frame after [`WAIT`].
    async fn wait_for(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let waited = tokio::time::timeout(WAIT, async {
            loop {
                {
                    let frame = self.frames.borrow_and_update();
                    if ok(&frame) {
                        return frame.clone();
                    }
                }
                if self.frames.changed().await.is_err() {
                    let frame = self.frames.borrow();
                    return if ok(&frame) {
                        frame.clone()
                    } else {
                        panic!(
                            "the UI stopped before showing {what}; last frame:\n{}",
                            *frame
                        )
                    };
                }
            }
        })
        .await;
        match waited {
            Ok(frame) => frame,
            Err(_) => panic!(
                "timed out waiting for the screen to show {what}; last frame:\n{}",
                *self.frames.borrow()
            ),
        }
    }

    /// Wait until the SDK's first sync is over (the status bar says "online" and no
    /// longer "syncing…") and the list shows `text`.
    async fn settled_with(&mut self, text: &str) -> String {
        self.wait_for(&format!("{text:?} after the first sync"), |f| {
            let bar = status_bar(f);
            bar.contains("● online") && !bar.contains("syncing") && f.contains(text)
        })
        .await
    }

    async fn shows(&mut self, text: &str) -> String {
        self.wait_for(&format!("{text:?}"), |f| f.contains(text))
            .await
    }

    /// Quit with Ctrl-C and wait for the loop to finish (drafts saved).
    async fn quit(self) -> App {
        self.key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let (app, result) = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the UI quit in time")
            .expect("the UI task did not panic");
        result.expect("the loop ended cleanly");
        assert!(app.should_quit);
        app
    }
}

/// The rows of the conversation list pane (left of the first vertical border).
fn list_pane(frame: &str) -> Vec<String> {
    frame
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix('│')?;
            Some(rest.split('│').next().unwrap_or("").to_string())
        })
        .collect()
}

/// The list row (the preview line) holding `needle`.
fn list_row(frame: &str, needle: &str) -> String {
    list_pane(frame)
        .into_iter()
        .find(|r| r.contains(needle))
        .unwrap_or_else(|| panic!("no list row shows {needle:?}:\n{frame}"))
}

/// The status bar: the line after the panes' bottom border.
fn status_bar(frame: &str) -> String {
    let lines: Vec<&str> = frame.lines().collect();
    lines
        .len()
        .checked_sub(2)
        .map_or_else(String::new, |i| lines[i].to_string())
}

async fn login(server: &TestServer, user: &str, data_dir: &Path) -> Tim {
    tokio::time::timeout(WAIT, server.try_login(user, data_dir))
        .await
        .expect("login in time")
        .unwrap_or_else(|e| panic!("{user} logs in: {e}"))
}

async fn synced_client(server: &TestServer, user: &str) -> Client {
    let mut c = server.client(user).await;
    c.synced().await;
    c
}

// ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_chinese_text_reaches_the_other_users_sdk_exactly() {
    let server = TestServer::start().await;
    let mut bob = synced_client(&server, "bob").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ui = start_ui(login(&server, "alice", dir.path()).await);
    ui.settled_with("No conversations").await;

    // A message from bob appears without a keypress.
    bob.send_text("alice", "hi alice").await;
    ui.shows("hi alice").await;

    ui.open("bob");
    ui.shows("Message bob").await;
    ui.type_text("你好 bob，这是中文 🙂");
    ui.key(KeyCode::Enter, KeyModifiers::ALT);
    ui.type_text("second line 第二行");
    ui.shows("second line 第二行").await;
    ui.press(KeyCode::Enter);

    let expected = "你好 bob，这是中文 🙂\nsecond line 第二行";
    let (got, _) = bob
        .wait_for("alice's message", |e| match e {
            TimEvent::NewMessage(m) if m.sender == "alice" => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        got.text_elem.as_ref().map(|t| t.text.as_str()),
        Some(expected)
    );
    assert_eq!(got.receiver.as_deref(), Some("bob"));
    // alice sees it sent (✓) and the composer empty again.
    let frame = ui.shows("second line 第二行 ✓").await;
    assert!(frame.contains("Message bob"), "composer is empty:\n{frame}");
    let app = ui.quit().await;
    assert_eq!(app.composer_text(), "");
    let texts: Vec<String> = bob
        .history("c2c_alice")
        .await
        .into_iter()
        .filter_map(|m| m.text_elem.map(|t| t.text))
        .collect();
    assert_eq!(texts, vec!["hi alice".to_string(), expected.to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_mark_the_open_conversation_read_and_badge_the_others() {
    let server = TestServer::start().await;
    let bob = synced_client(&server, "bob").await;
    let carol = synced_client(&server, "carol").await;
    // alice's second device watches her server-side read state.
    let mut alice2 = synced_client(&server, "alice").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ui = start_ui(login(&server, "alice", dir.path()).await);
    ui.settled_with("No conversations").await;

    bob.send_text("alice", "hi from bob").await;
    carol.send_text("alice", "hi from carol").await;
    let frame = ui
        .wait_for("both conversations", |f| {
            f.contains("hi from bob") && f.contains("hi from carol")
        })
        .await;
    assert!(list_row(&frame, "hi from bob").trim_end().ends_with(" 1"));
    assert!(list_row(&frame, "hi from carol").trim_end().ends_with(" 1"));

    // Opening bob's conversation marks it read on the server.
    ui.open("bob");
    ui.shows("Message bob").await;
    let unread_of = |e: &TimEvent, text: &str| match e {
        TimEvent::ConversationChanged(list) => list.iter().find_map(|c| {
            (c.conversation_id == "c2c_bob"
                && c.last_message.as_ref().is_some_and(|m| m.preview() == text))
            .then_some(c.unread_count)
        }),
        _ => None,
    };
    alice2
        .wait_for("c2c_bob read", |e| {
            unread_of(e, "hi from bob").filter(|n| *n == 0)
        })
        .await;

    // While it is open, bob's next message shows at once and is read at once …
    bob.send_text("alice", "are you there? 在吗").await;
    ui.wait_for("bob's message in the pane", |f| {
        f.lines().any(|l| {
            l.split_once("││")
                .is_some_and(|(_, pane)| pane.contains("are you there? 在吗"))
        })
    })
    .await;
    alice2
        .wait_for("c2c_bob read again", |e| {
            unread_of(e, "are you there? 在吗").filter(|n| *n == 0)
        })
        .await;
    let bob_conv = alice2
        .tim
        .get_conversation("c2c_bob")
        .await
        .expect("c2c_bob");
    assert_eq!(bob_conv.unread_count, 0);

    // … while carol's, not open, gains a badge. (Each SDK event is applied as it comes,
    // so a frame in between may be a step behind; this is the state things settle in.)
    carol.send_text("alice", "carol again").await;
    let frame = ui
        .wait_for("carol's badge, bob's row read, the total", |f| {
            let carol = list_pane(f).into_iter().find(|r| r.contains("carol again"));
            let bob = list_pane(f)
                .into_iter()
                .find(|r| r.contains("are you there? 在吗"));
            carol.is_some_and(|r| r.trim_end().ends_with(" 2"))
                && bob.is_some_and(|r| !r.trim_end().ends_with(char::is_numeric))
                && status_bar(f).contains(" 2 unread")
        })
        .await;
    assert!(
        frame.contains("@carol") && frame.contains("@bob"),
        "{frame}"
    );
    ui.quit().await;
    // The server agrees: a fresh device of alice's sees c2c_bob read, c2c_carol at 2.
    let fresh = synced_client(&server, "alice").await;
    assert_eq!(fresh.unread("c2c_bob").await, 0);
    assert_eq!(fresh.unread("c2c_carol").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_survive_switching_and_an_sdk_restart() {
    let server = TestServer::start().await;
    let mut bob = synced_client(&server, "bob").await;
    let carol = synced_client(&server, "carol").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let tim = login(&server, "alice", dir.path()).await;
    let mut ui = start_ui(tim.clone());
    ui.settled_with("No conversations").await;
    bob.send_text("alice", "from bob").await;
    carol.send_text("alice", "from carol").await;
    ui.wait_for("both conversations", |f| {
        f.contains("from bob") && f.contains("from carol")
    })
    .await;

    ui.open("bob");
    ui.shows("Message bob").await;
    ui.type_text("draft for bob 草稿");
    ui.shows("draft for bob 草稿").await;
    ui.open("carol");
    // bob's row now shows his draft; carol's composer starts empty.
    let frame = ui.shows("Message carol").await;
    assert!(
        list_row(&frame, "draft for bob").contains("✎ draft for bob 草稿"),
        "{frame}"
    );
    ui.type_text("carol draft ✍");
    ui.open("bob");
    let frame = ui
        .wait_for("bob's draft back in the composer", |f| {
            f.contains("✎ carol draft ✍")
                && f.lines()
                    .any(|l| l.contains("draft for bob 草稿") && !l.contains('✎'))
        })
        .await;
    assert!(!frame.contains("✎ draft for bob"), "{frame}");
    let app = ui.quit().await;
    assert_eq!(app.composer_text(), "draft for bob 草稿");

    // The drafts are in the SDK (set_conversation_draft), and survive a restart.
    for (id, text) in [
        ("c2c_bob", "draft for bob 草稿"),
        ("c2c_carol", "carol draft ✍"),
    ] {
        let c = tim.get_conversation(id).await.expect("conversation");
        assert_eq!(c.draft_text.as_deref(), Some(text), "{id}");
    }
    tim.logout().await.expect("logout");
    drop(tim);

    let tim = login(&server, "alice", dir.path()).await;
    let mut ui = start_ui(tim.clone());
    let frame = ui.settled_with("✎ draft for bob 草稿").await;
    assert!(frame.contains("✎ carol draft ✍"), "{frame}");
    ui.open("bob");
    ui.wait_for("bob's draft in the composer", |f| {
        !f.contains("✎ draft for bob") && f.contains("draft for bob 草稿")
    })
    .await;
    ui.type_text(" sent");
    ui.press(KeyCode::Enter);
    bob.message("draft for bob 草稿 sent").await;
    ui.shows("draft for bob 草稿 sent ✓").await;
    ui.quit().await;
    // A sent draft is gone; the other one stays.
    let c = tim.get_conversation("c2c_bob").await.expect("c2c_bob");
    assert_eq!(c.draft_text, None);
    let c = tim.get_conversation("c2c_carol").await.expect("c2c_carol");
    assert_eq!(c.draft_text.as_deref(), Some("carol draft ✍"));
    tim.logout().await.expect("logout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_shows_the_code_and_the_reason() {
    let server = TestServer::start().await;
    let bob = synced_client(&server, "bob").await;
    let dir = tempfile::tempdir().expect("temp dir");
    // alice is in bob's group and leaves a draft there …
    {
        let mut alice = server.client_in("alice", dir.path(), None).await;
        alice.synced().await;
        bob.tim
            .create_group(
                "Work",
                "Club 俱乐部",
                Some("club"),
                &[GroupMemberSpec {
                    user_id: "alice".into(),
                    role: role::MEMBER,
                }],
            )
            .await
            .expect("group");
        bob.send_group_text("club", "welcome").await;
        alice.message("welcome").await;
        // Read, so opening it later asks nothing of the server but the send.
        alice
            .tim
            .clean_conversation_unread_message_count("group_club", 0, 0)
            .await
            .expect("read");
        alice
            .tim
            .set_conversation_draft("group_club", Some("我还在群里吗？"))
            .await
            .expect("draft");
        alice.log_out().await;
    }
    // … and is removed while away. The conversation stays for the draft's sake.
    bob.tim
        .kick_group_member("club", &["alice".to_string()], "")
        .await
        .expect("kick");

    let tim = login(&server, "alice", dir.path()).await;
    let mut ui = start_ui(tim.clone());
    ui.settled_with("✎ 我还在群里吗？").await;
    ui.open("club");
    ui.wait_for("the draft in the composer", |f| {
        f.contains("我还在群里吗？") && !f.contains("✎ 我还在群里吗？")
    })
    .await;
    ui.press(KeyCode::Enter);
    let frame = ui
        .wait_for("the refusal", |f| {
            f.contains("✗ not sent · 10007: you are not a member")
        })
        .await;
    assert!(frame.contains("我还在群里吗？ ✗"), "{frame}");
    assert!(
        status_bar(&frame).contains("Not sent: 10007"),
        "status bar: {}",
        status_bar(&frame)
    );
    ui.quit().await;
    let texts = bob.history_texts("group_club").await;
    assert!(
        !texts.iter().any(|t| t.contains("我还在群里吗")),
        "the refused message was stored: {texts:?}"
    );
    tim.logout().await.expect("logout");
}

// ----------------------------------------------------------------------------------
// The loop and crossterm's `EventStream`.

/// Input with the waker rule of crossterm's `EventStream`: while a wake-up is pending,
/// later polls do not replace the waker the first one left. A loop that ever polls it
/// with a throw-away waker (e.g. `now_or_never`) stops hearing about keys until
/// something else (a tick) wakes it.
struct FirstWakerInput {
    queue: std::collections::VecDeque<Event>,
    waker: Option<std::task::Waker>,
    closed: bool,
    /// The screen's flush count, read at every poll and published, so the script knows
    /// the loop went back to waiting after a frame.
    flushes: Arc<AtomicUsize>,
    polled_at: watch::Sender<usize>,
}

struct FirstWakerStream(Arc<std::sync::Mutex<FirstWakerInput>>);

impl futures_util::Stream for FirstWakerStream {
    type Item = std::io::Result<Event>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let mut s = self.0.lock().expect("input");
        s.polled_at.send_replace(s.flushes.load(Ordering::SeqCst));
        if let Some(ev) = s.queue.pop_front() {
            return std::task::Poll::Ready(Some(Ok(ev)));
        }
        if s.closed {
            return std::task::Poll::Ready(None);
        }
        if s.waker.is_none() {
            s.waker = Some(cx.waker().clone());
        }
        std::task::Poll::Pending
    }
}

fn push_input(input: &std::sync::Mutex<FirstWakerInput>, ev: Option<Event>) {
    let mut s = input.lock().expect("input");
    match ev {
        Some(ev) => s.queue.push_back(ev),
        None => s.closed = true,
    }
    if let Some(w) = s.waker.take() {
        w.wake();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_a_crossterm_like_stream_are_handled_without_waiting_for_a_tick() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let tim = login(&server, "alice", dir.path()).await;
    let (frames_tx, mut frames) = watch::channel(String::new());
    let flushes = Arc::new(AtomicUsize::new(0));
    let mut terminal = Terminal::new(Screen {
        inner: TestBackend::new(WIDTH, HEIGHT),
        frames: frames_tx,
        flushes: flushes.clone(),
    })
    .expect("terminal");
    let mut app = App::new(
        "alice",
        Keymap::default(),
        Theme::default(),
        Clock::new(system_now(), 0),
    );
    let (polled_tx, mut polled) = watch::channel(0);
    let input = Arc::new(std::sync::Mutex::new(FirstWakerInput {
        queue: Default::default(),
        waker: None,
        closed: false,
        flushes: flushes.clone(),
        polled_at: polled_tx,
    }));
    let (_events_tx, events_rx) = mpsc::unbounded_channel();
    let stream = FirstWakerStream(input.clone());
    let looping = tokio::spawn(async move {
        let mut runner = SdkRunner::new(tim);
        let initial = app.start();
        // No tick to paper over a lost wake-up.
        let options = RunOptions {
            mouse: false,
            tick: Duration::from_secs(3600),
        };
        run_loop(
            &mut terminal,
            &mut app,
            stream,
            events_rx,
            &mut runner,
            initial,
            &options,
            system_now,
        )
        .await
    });
    // Wait for a frame, then for the loop to poll the input again after it (it is
    // waiting for keys now), then press the key.
    let mut step = async |what: &str, ok: &dyn Fn(&str) -> bool, then: Option<Event>| {
        tokio::time::timeout(WAIT, frames.wait_for(|f| ok(f)))
            .await
            .unwrap_or_else(|_| panic!("the loop never showed {what}"))
            .expect("frames");
        let n = flushes.load(Ordering::SeqCst);
        tokio::time::timeout(WAIT, polled.wait_for(|&p| p >= n))
            .await
            .expect("the loop polls the input after drawing")
            .expect("polls");
        push_input(&input, then);
    };
    let key = |code| Some(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    step(
        "the empty list",
        &|f| f.contains("No conversations"),
        key(KeyCode::Char('?')),
    )
    .await;
    step(
        "the help overlay",
        &|f| f.contains(" Keys "),
        key(KeyCode::Esc),
    )
    .await;
    step(
        "the help overlay closed",
        &|f| !f.contains(" Keys "),
        key(KeyCode::F(1)),
    )
    .await;
    step("the help overlay again", &|f| f.contains(" Keys "), None).await;
    tokio::time::timeout(WAIT, looping)
        .await
        .expect("the loop ended when the input did")
        .expect("no panic")
        .expect("clean end");
}

/// Issue 17.1: with an empty cache against a server where everything is read, the counts
/// shown after the first sync are the server's (0), not one per message the sync brought.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_sync_of_read_conversations_shows_no_unread() {
    let server = TestServer::start().await;
    let bob = synced_client(&server, "bob").await;
    let carol = synced_client(&server, "carol").await;
    let alice = synced_client(&server, "alice").await;
    for i in 0..40 {
        bob.send_text("alice", &format!("bob {i}")).await;
        carol.send_text("alice", &format!("carol {i}")).await;
    }
    // alice reads everything on her first device.
    let mut alice = alice;
    alice
        .wait_for("carol's last message", |e| match e {
            TimEvent::NewMessage(m) if m.preview() == "carol 39" => Some(()),
            _ => None,
        })
        .await;
    alice
        .tim
        .clean_conversation_unread_message_count("", 0, 0)
        .await
        .expect("clean all");
    assert_eq!(alice.unread("c2c_bob").await, 0);

    // A new device with an empty cache.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ui = start_ui(login(&server, "alice", dir.path()).await);
    let frame = ui.settled_with("carol 39").await;
    assert!(
        !status_bar(&frame).contains("unread"),
        "no unread after the sync: {}",
        status_bar(&frame)
    );
    let app = ui.quit().await;
    assert_eq!(app.total_unread, 0);
    assert!(
        app.conversations.iter().all(|c| c.unread_count == 0),
        "{:?}",
        app.conversations
            .iter()
            .map(|c| (&c.conversation_id, c.unread_count))
            .collect::<Vec<_>>()
    );
}

/// Issue 10.5: alice's termim signs its own sigs; when hers expires it renews it without
/// a word and the session goes on past the server's grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_sig_is_renewed_silently_when_termim_signs_its_own() {
    let server = TestServer::start_with(termim::server::ServerOptions {
        sig_grace: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    let mut bob = synced_client(&server, "bob").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let tim = login_with_short_sig(&server, "alice", dir.path()).await;
    let key = server.key.clone();
    let signs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&signs);
    let signer: termim::usersig::Signer = Arc::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(termim::usersig::gen_sig(&key, "alice", 3600))
    });
    let mut ui = start_ui_with(tim, Some(signer));
    ui.shows("UserSig renewed").await;
    assert_eq!(signs.load(Ordering::SeqCst), 1);
    // Well past the grace: still connected, and a message goes through.
    tokio::time::sleep(Duration::from_secs(3)).await;
    bob.send_text("alice", "ping from bob").await;
    ui.shows("ping from bob").await;
    ui.open("bob");
    ui.type_text("still here");
    ui.press(KeyCode::Enter);
    bob.message("still here").await;
    let frame = ui.shows("still here").await;
    assert!(status_bar(&frame).contains("● online"), "{frame}");
    assert!(!frame.contains("UserSig expired"), "{frame}");
    ui.quit().await;
}

/// Issue 10.5: a termim given its sig asks for a new one; a pasted one renews it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_sig_is_asked_for_and_a_pasted_one_renews_the_session() {
    let server = TestServer::start_with(termim::server::ServerOptions {
        sig_grace: Duration::from_secs(30),
        ..Default::default()
    })
    .await;
    let mut bob = synced_client(&server, "bob").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let tim = login_with_short_sig(&server, "alice", dir.path()).await;
    bob.send_text("alice", "hi alice").await;
    let mut ui = start_ui(tim);
    let frame = ui.shows("termim usersig --user alice").await;
    assert!(frame.contains("UserSig expired"), "{frame}");
    // Another user's sig is refused, and the prompt says why.
    ui.paste_sig(&server.sig("bob")).await;
    ui.press(KeyCode::Enter);
    ui.shows("70013").await;
    // The field is one line: Home, then cut to the end, empties it.
    ui.press(KeyCode::Home);
    ui.key(KeyCode::Char('k'), KeyModifiers::CONTROL);
    ui.shows(PLACEHOLDER).await;
    ui.paste_sig(&server.sig("alice")).await;
    ui.press(KeyCode::Enter);
    ui.shows("UserSig renewed").await;
    ui.open("bob");
    ui.type_text("renewed by hand");
    ui.press(KeyCode::Enter);
    bob.message("renewed by hand").await;
    ui.quit().await;
}

const PLACEHOLDER: &str = "paste the new UserSig here";

impl Ui {
    /// Paste into the UserSig prompt, and wait until it is in (keys right after a paste
    /// would count as pasted text).
    async fn paste_sig(&mut self, sig: &str) {
        self.keys
            .send(Event::Paste(sig.to_string()))
            .expect("the UI takes a paste");
        self.wait_for("the pasted sig", |f| {
            f.contains("UserSig expired") && !f.contains(PLACEHOLDER)
        })
        .await;
    }
}

/// `user` logged in with a sig valid for 2 s.
async fn login_with_short_sig(server: &TestServer, user: &str, data_dir: &Path) -> Tim {
    let sig = termim::usersig::gen_sig(&server.key, user, 2);
    tokio::time::timeout(WAIT, server.try_login_with(user, data_dir, &sig))
        .await
        .expect("login in time")
        .unwrap_or_else(|e| panic!("{user} logs in: {e}"))
}
