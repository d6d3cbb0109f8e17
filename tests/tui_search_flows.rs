//! The search overlay with the real effect runner (`SdkRunner`) on a real SDK and
//! server: keys typed into the app, effects performed by the runner, results fed back
//! — a search over what sync put into the cache, then Enter going to a message older
//! than the first history page. Waits are on results (with a timeout), never sleeps.

mod common;

use common::sdk_harness::{TestServer, WAIT};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use termim::tui::effect::{Effect, EffectResult, EffectRunner};
use termim::tui::run::system_now;
use termim::tui::runner::SdkRunner;
use termim::tui::{App, Clock, Focus, Keymap, Overlay, Theme, handle_key, update};
use tokio::sync::mpsc;

/// The app, the real runner, and the channel its results come back on.
struct Harness {
    app: App,
    runner: SdkRunner,
    tx: mpsc::UnboundedSender<EffectResult>,
    rx: mpsc::UnboundedReceiver<EffectResult>,
}

impl Harness {
    fn run(&mut self, effects: Vec<Effect>) {
        for e in effects {
            self.runner.dispatch(e, &self.tx);
        }
    }

    fn key(&mut self, code: KeyCode, mods: KeyModifiers) {
        let effects = handle_key(&mut self.app, KeyEvent::new(code, mods));
        self.run(effects);
    }

    fn typing(&mut self, s: &str) {
        for c in s.chars() {
            self.key(KeyCode::Char(c), KeyModifiers::NONE);
        }
    }

    /// Apply results (and run what they ask for) until `done` holds.
    async fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let waited = tokio::time::timeout(WAIT, async {
            while !done(&self.app) {
                let Some(r) = self.rx.recv().await else {
                    return false;
                };
                let effects = self.app.apply_result(r);
                self.run(effects);
            }
            true
        })
        .await;
        assert!(matches!(waited, Ok(true)), "timed out waiting for {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_all_chats_then_go_to_an_old_message() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.synced().await;
    let bob = server.client("bob").await;
    let carol = server.client("carol").await;
    // 80 messages from bob; the needle is the 5th, far above the first page.
    for i in 1..=80 {
        let t = if i == 5 {
            "the Needle is here 针".to_string()
        } else {
            format!("filler {i}")
        };
        bob.send_text("alice", &t).await;
    }
    carol.send_text("alice", "no match in this chat").await;
    // Pushes reach alice's cache in commit order: the last one means all are there.
    alice.message("no match in this chat").await;
    let (tx, rx) = mpsc::unbounded_channel();
    let mut app = App::new(
        "alice",
        Keymap::default(),
        Theme::default(),
        Clock::new(system_now(), 0),
    );
    update(&mut app, termim::tui::Action::Resize(100, 30));
    let mut h = Harness {
        app,
        runner: SdkRunner::new(alice.tim.clone()),
        tx,
        rx,
    };
    let start = h.app.start();
    h.run(start);
    h.until("the conversation list", |a| a.conversations.len() == 2)
        .await;

    h.key(KeyCode::Char('f'), KeyModifiers::CONTROL);
    h.typing("needle 针");
    let searched = |a: &App| match &a.overlay {
        Some(Overlay::Search(o)) => {
            o.state == termim::tui::overlay::search::SearchState::Done
                && o.keywords == ["needle", "针"]
        }
        _ => false,
    };
    h.until("the answer to the last query", searched).await;
    let Some(Overlay::Search(o)) = &h.app.overlay else {
        panic!("search overlay")
    };
    assert_eq!(o.total, 1, "one chat matches");
    assert_eq!(o.hits.len(), 1);
    assert_eq!(o.hits[0].conversation_id, "c2c_bob");
    assert_eq!(o.hits[0].message.preview(), "the Needle is here 针");
    let target = o.hits[0].message.msg_id.clone();

    h.key(KeyCode::Enter, KeyModifiers::NONE);
    assert!(h.app.overlay.is_none());
    assert_eq!(h.app.open.as_deref(), Some("c2c_bob"));
    assert_eq!(h.app.focus, Focus::Messages);
    let selected = |a: &App| {
        a.open_window()
            .and_then(|w| w.view.selected.and_then(|i| w.messages.get(i)))
            .map(|m| m.msg_id.clone())
    };
    h.until("the needle selected", |a| selected(a).is_some())
        .await;
    assert_eq!(selected(&h.app), Some(target));
    let w = h.app.open_window().expect("window");
    assert_eq!(w.jump_to, None);
    assert!(w.messages.len() >= 76, "history loaded down to it");
    assert!(
        w.messages.windows(2).all(|p| p[0].seq + 1 == p[1].seq),
        "the window is one unbroken run of history"
    );
    h.runner.shutdown().await;
}
