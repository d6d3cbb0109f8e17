//! Scripted flows of the composer-power overlays against a real server on
//! 127.0.0.1:0: the whole event loop (`run_loop`) with a `TestBackend`, keys
//! injected, and the real SDK-backed effect runner. Other users are plain SDKs (or
//! a second TUI), so what the server delivered is checked where it lands.
//!
//! The script never sleeps: it waits (with a timeout) for the effect results and
//! SDK events the loop was handed — each is forwarded to the loop before the script
//! sees it, and the loop applies results and SDK events before keys, so a key sent
//! after such a wait acts on the state that includes it.

mod common;

use std::io;
use std::pin::Pin;
use std::time::Duration;

use common::sdk_harness::{Client, TestServer, WAIT, member};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures_util::{Stream, stream};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use termim::model::Message;
use termim::sdk::{Tim, TimEvent};
use termim::tui::effect::{Effect, EffectResult, EffectRunner, ResultSender};
use termim::tui::run::{RunOptions, run_loop, system_now};
use termim::tui::runner::SdkRunner;
use termim::tui::{App, Clock, Keymap, SdkEvent, Theme};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

// ----- a TUI on a real SDK, observable ---------------------------------------------

/// The real runner, with every result copied to the script after the loop has it.
struct Tapped {
    inner: SdkRunner,
    tap: Option<UnboundedSender<EffectResult>>,
    seen: UnboundedSender<EffectResult>,
    effects: UnboundedSender<Effect>,
}

impl EffectRunner for Tapped {
    fn dispatch(&mut self, effect: Effect, results: &ResultSender) {
        let tap = self.tap.get_or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<EffectResult>();
            let to_loop = results.clone();
            let to_script = self.seen.clone();
            tokio::spawn(async move {
                while let Some(r) = rx.recv().await {
                    let copy = r.clone();
                    // The loop first: the script acts only on what the loop holds.
                    let _ = to_loop.send(r);
                    let _ = to_script.send(copy);
                }
            });
            tx
        });
        let _ = self.effects.send(effect.clone());
        self.inner.dispatch(effect, tap);
    }

    async fn shutdown(&mut self) {
        self.inner.shutdown().await;
    }
}

/// One TUI: its loop's parts, and the script's end of its channels.
struct Tui {
    user: String,
    terminal: Terminal<TestBackend>,
    app: App,
    runner: Tapped,
    input: Pin<Box<dyn Stream<Item = io::Result<Event>> + Send>>,
    sdk_events: UnboundedReceiver<SdkEvent>,
}

/// What the script holds of a running TUI.
struct Remote {
    user: String,
    keys: UnboundedSender<Event>,
    results: UnboundedReceiver<EffectResult>,
    effects: UnboundedReceiver<Effect>,
    events: UnboundedReceiver<SdkEvent>,
}

fn tui(tim: &Tim, w: u16, h: u16) -> (Tui, Remote) {
    let user = tim.login_user();
    let (keys_tx, keys_rx) = mpsc::unbounded_channel::<Event>();
    let input = Box::pin(stream::unfold(keys_rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok(ev), rx))
    }));
    // SDK events: to the loop first, then a copy to the script.
    let (to_loop, sdk_events) = mpsc::unbounded_channel::<SdkEvent>();
    let (to_script, events) = mpsc::unbounded_channel::<SdkEvent>();
    let _ = to_loop.send(SdkEvent::ConnectionChanged(tim.connection_state()));
    let mut listener = tim.add_listener();
    tokio::spawn(async move {
        while let Some(ev) = listener.recv().await {
            let copy = ev.clone();
            if to_loop.send(ev).is_err() {
                break;
            }
            let _ = to_script.send(copy);
        }
    });
    let (seen, results) = mpsc::unbounded_channel();
    let (effects_tx, effects) = mpsc::unbounded_channel();
    let app = App::new(
        user.clone(),
        Keymap::default(),
        Theme::default(),
        Clock::new(system_now(), 0),
    );
    (
        Tui {
            user: user.clone(),
            terminal: Terminal::new(TestBackend::new(w, h)).expect("test backend"),
            app,
            runner: Tapped {
                inner: SdkRunner::new(tim.clone()),
                tap: None,
                seen,
                effects: effects_tx,
            },
            input,
            sdk_events,
        },
        Remote {
            user,
            keys: keys_tx,
            results,
            effects,
            events,
        },
    )
}

impl Tui {
    /// Run the loop until the script quits it; returns the app and the last frame.
    async fn run(mut self) -> (App, String) {
        let options = RunOptions {
            mouse: false,
            tick: Duration::from_secs(3600),
        };
        let initial = self.app.start();
        run_loop(
            &mut self.terminal,
            &mut self.app,
            self.input,
            self.sdk_events,
            &mut self.runner,
            initial,
            &options,
            system_now,
        )
        .await
        .unwrap_or_else(|e| panic!("{}'s loop failed: {e}", self.user));
        let screen = self.terminal.backend().to_string();
        (self.app, screen)
    }
}

async fn next_matching<T: std::fmt::Debug>(
    rx: &mut UnboundedReceiver<T>,
    what: &str,
    mut f: impl FnMut(&T) -> bool,
) -> T {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(WAIT, async {
        while let Some(x) = rx.recv().await {
            if f(&x) {
                return Some(x);
            }
            seen.push(format!("{x:?}").chars().take(160).collect::<String>());
        }
        None
    })
    .await;
    match found {
        Ok(Some(x)) => x,
        Ok(None) => panic!("channel closed waiting for {what}"),
        Err(_) => panic!("timed out waiting for {what}; saw:\n{}", seen.join("\n")),
    }
}

impl Remote {
    fn key(&self, code: KeyCode) {
        self.press(code, KeyModifiers::NONE);
    }

    fn press(&self, code: KeyCode, mods: KeyModifiers) {
        self.keys
            .send(Event::Key(KeyEvent::new(code, mods)))
            .unwrap_or_else(|_| panic!("{}'s loop is gone", self.user));
    }

    fn ctrl(&self, c: char) {
        self.press(KeyCode::Char(c), KeyModifiers::CONTROL);
    }

    fn typing(&self, s: &str) {
        for c in s.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Paste, then let the input be quiet: keys that follow a paste in the same burst
    /// are more pasted text (see `PASTE_QUIET`), not keys.
    async fn paste(&self, s: &str) {
        self.keys
            .send(Event::Paste(s.into()))
            .unwrap_or_else(|_| panic!("{}'s loop is gone", self.user));
        tokio::time::sleep(termim::tui::run::PASTE_QUIET * 10).await;
    }

    async fn result(&mut self, what: &str, f: impl FnMut(&EffectResult) -> bool) -> EffectResult {
        let what = format!("{}: {what}", self.user);
        next_matching(&mut self.results, &what, f).await
    }

    async fn effect(&mut self, what: &str, f: impl FnMut(&Effect) -> bool) -> Effect {
        let what = format!("{}: {what}", self.user);
        next_matching(&mut self.effects, &what, f).await
    }

    async fn event(&mut self, what: &str, f: impl FnMut(&SdkEvent) -> bool) -> SdkEvent {
        let what = format!("{}: {what}", self.user);
        next_matching(&mut self.events, &what, f).await
    }

    /// The conversation list is loaded.
    async fn loaded(&mut self) {
        self.result("the conversation list", |r| {
            matches!(r, EffectResult::Conversations { .. })
        })
        .await;
    }

    /// Open a conversation through the filter and wait for its history.
    async fn open(&mut self, query: &str, conversation_id: &str) {
        self.key(KeyCode::Char('/'));
        self.typing(query);
        self.key(KeyCode::Enter);
        let id = conversation_id.to_string();
        self.result(&format!("history of {id}"), |r| {
            matches!(r, EffectResult::History { conversation_id, .. } if *conversation_id == id)
        })
        .await;
    }

    fn quit(&self) {
        self.ctrl('c');
    }
}

// ----- fixtures ------------------------------------------------------------------------

/// alice, bob, carol and dave logged in; "team" (Work) with the four of them.
async fn team_of_four(server: &TestServer) -> (Client, Client, Client, Client) {
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    let mut carol = server.client("carol").await;
    let mut dave = server.client("dave").await;
    for c in [&mut alice, &mut bob, &mut carol, &mut dave] {
        c.synced().await;
    }
    alice
        .tim
        .create_group(
            "Work",
            "Team 工作组",
            Some("team"),
            &[member("bob"), member("carol"), member("dave")],
        )
        .await
        .expect("team created");
    // Everyone has the group's conversation once the first message is there.
    alice.send_group_text("team", "welcome").await;
    for c in [&mut bob, &mut carol, &mut dave] {
        c.wait_for("the welcome", |e| {
            is_new_message(e, |m| m.preview() == "welcome")
        })
        .await;
    }
    (alice, bob, carol, dave)
}

fn is_new_message(e: &TimEvent, f: impl Fn(&Message) -> bool) -> Option<Message> {
    match e {
        TimEvent::NewMessage(m) if f(m) => Some(m.clone()),
        _ => None,
    }
}

// ----- flows --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_targeted_message_picked_in_the_tui_reaches_only_the_chosen_members() {
    let server = TestServer::start().await;
    let (alice, mut bob, mut carol, mut dave) = team_of_four(&server).await;
    let (app, mut remote) = tui(&alice.tim, 100, 30);

    let script = async move {
        remote.loaded().await;
        remote.open("team", "group_team").await;
        remote.ctrl('t');
        remote
            .result("the members", |r| matches!(r, EffectResult::Members { .. }))
            .await;
        // Filter to bob, select; filter to carol, select; done.
        remote.typing("bob");
        remote.key(KeyCode::Char(' '));
        remote.ctrl('u');
        remote.typing("car");
        remote.key(KeyCode::Char(' '));
        remote.key(KeyCode::Enter);
        remote.typing("secret plan 🔑");
        remote.key(KeyCode::Enter);
        let send = remote
            .effect("the send", |e| matches!(e, Effect::Send(_)))
            .await;
        let sent = remote
            .result("the message sent", |r| {
                matches!(
                    r,
                    EffectResult::MessageSent { .. } | EffectResult::SendFailed { .. }
                )
            })
            .await;
        remote.quit();
        (send, sent)
    };
    let ((app, screen), (send, sent)) = tokio::join!(app.run(), script);

    let Effect::Send(out) = send else {
        unreachable!()
    };
    assert_eq!(out.targets, vec!["bob".to_string(), "carol".to_string()]);
    let EffectResult::MessageSent { message, .. } = sent else {
        panic!("the send failed: {sent:?}")
    };
    assert_eq!(message.target_group_member_list, vec!["bob", "carol"]);
    assert!(
        app.compose
            .get("group_team")
            .is_some_and(|cs| cs.targets.is_empty()),
        "the send disarmed the composer"
    );
    assert!(screen.contains("⇢ to bob, carol"), "{screen}");
    assert!(screen.contains("secret plan 🔑"), "{screen}");

    // bob and carol get it, marked with its receivers.
    for c in [&mut bob, &mut carol] {
        let (m, _) = c
            .wait_for("the targeted message", |e| {
                is_new_message(e, |m| m.preview() == "secret plan 🔑")
            })
            .await;
        assert_eq!(m.target_group_member_list, vec!["bob", "carol"]);
    }
    // dave never does: a later message to everyone arrives with nothing before it.
    alice.send_group_text("team", "to everyone").await;
    let (_, before) = dave
        .wait_for("the message to everyone", |e| {
            is_new_message(e, |m| m.preview() == "to everyone")
        })
        .await;
    assert!(
        !before
            .iter()
            .any(|e| matches!(e, TimEvent::NewMessage(m) if m.preview() == "secret plan 🔑")),
        "dave got the targeted message"
    );
    let history = dave.history_texts("group_team").await;
    assert!(history.contains(&"to everyone".to_string()), "{history:?}");
    assert!(
        !history.contains(&"secret plan 🔑".to_string()),
        "dave's history holds it: {history:?}"
    );
    // The receivers' histories do.
    assert!(
        bob.history_texts("group_team")
            .await
            .contains(&"secret plan 🔑".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_targeted_send_says_why_in_plain_words() {
    let server = TestServer::start().await;
    let (alice, _bob, _carol, dave) = team_of_four(&server).await;
    let (app, mut remote) = tui(&alice.tim, 100, 30);
    let dave_tim = dave.tim.clone();

    let script = async move {
        remote.loaded().await;
        remote.open("team", "group_team").await;
        remote.ctrl('t');
        remote
            .result("the members", |r| matches!(r, EffectResult::Members { .. }))
            .await;
        remote.typing("dave");
        remote.key(KeyCode::Char(' '));
        remote.key(KeyCode::Enter);
        // dave leaves before the message goes.
        dave_tim.quit_group("team").await.expect("dave quits");
        remote.typing("just for dave");
        remote.key(KeyCode::Enter);
        let failed = remote
            .result("the refusal", |r| {
                matches!(
                    r,
                    EffectResult::MessageSent { .. } | EffectResult::SendFailed { .. }
                )
            })
            .await;
        remote.quit();
        failed
    };
    let ((app, screen), failed) = tokio::join!(app.run(), script);
    let EffectResult::SendFailed { error, .. } = failed else {
        panic!("the server accepted a receiver who left: {failed:?}")
    };
    assert_eq!(error.code, 10004, "{error}");
    let status = app
        .visible_status()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(
        status.contains("10004: targeted receiver \"dave\" is not a member"),
        "{status}"
    );
    assert!(
        screen.contains("✗ not sent · 10004: targeted receiver"),
        "{screen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_message_written_in_the_editor_renders_in_bobs_tui() {
    let server = TestServer::start().await;
    let (alice, bob, _carol, _dave) = team_of_four(&server).await;
    let (alice_tui, mut a) = tui(&alice.tim, 100, 30);
    let (bob_tui, mut b) = tui(&bob.tim, 80, 30);

    let script = async move {
        a.loaded().await;
        b.loaded().await;
        b.open("team", "group_team").await;
        a.open("team", "group_team").await;
        a.press(KeyCode::Char('c'), KeyModifiers::ALT);
        a.paste(r#"{"build":1842,"status":"passed","tags":["ci","主干"]}"#)
            .await;
        a.key(KeyCode::Tab);
        a.typing("构建通过 ✅");
        a.key(KeyCode::Tab);
        a.typing("ci/v2");
        a.ctrl('s');
        let send = a.effect("the send", |e| matches!(e, Effect::Send(_))).await;
        a.result("sent", |r| matches!(r, EffectResult::MessageSent { .. }))
            .await;
        // bob's loop has it once his SDK announced it.
        b.event(
            "the custom message",
            |e| matches!(e, SdkEvent::NewMessage(m) if m.custom_elem.is_some()),
        )
        .await;
        a.quit();
        b.quit();
        send
    };
    let ((_, alice_screen), (bob_app, bob_screen), send) =
        tokio::join!(alice_tui.run(), bob_tui.run(), script);

    let Effect::Send(out) = send else {
        unreachable!()
    };
    assert!(out.targets.is_empty());
    let w = bob_app
        .windows
        .get("group_team")
        .expect("bob's team window");
    let m = w.messages.last().expect("a message");
    let c = m.custom_elem.as_ref().expect("a custom message");
    assert_eq!(c.desc, "构建通过 ✅");
    assert_eq!(c.extension, "ci/v2");
    assert_eq!(
        c.data,
        r#"{"build":1842,"status":"passed","tags":["ci","主干"]}"#
    );
    for screen in [&bob_screen, &alice_screen] {
        assert!(screen.contains("◆ 构建通过 ✅"), "{screen}");
        assert!(screen.contains("\"build\": 1842,"), "pretty JSON: {screen}");
        assert!(screen.contains("ext: ci/v2"), "{screen}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_data_set_on_two_conversations_reaches_a_second_device_and_back() {
    let server = TestServer::start().await;
    let (alice, bob, _carol, _dave) = team_of_four(&server).await;
    // A one-to-one conversation too, newest, so the list is: bob, team.
    bob.send_text("alice", "hi alice").await;
    let mut alice = alice;
    alice
        .wait_for("bob's message", |e| {
            is_new_message(e, |m| m.preview() == "hi alice")
        })
        .await;
    // alice's second device, with its own data dir.
    let mut phone = server.client("alice").await;
    phone.synced().await;
    let phone_tim = phone.tim.clone();

    let (app, mut remote) = tui(&alice.tim, 100, 30);
    let script = async move {
        remote.loaded().await;
        // Mark the first two rows, edit, apply.
        remote.key(KeyCode::Char(' '));
        remote.key(KeyCode::Char(' '));
        remote.key(KeyCode::Char('c'));
        remote.typing("proj:alpha 阿尔法");
        remote.key(KeyCode::Enter);
        let set = remote
            .effect("the set", |e| {
                matches!(e, Effect::SetConversationData { .. })
            })
            .await;
        let result = remote
            .result("the results", |r| {
                matches!(r, EffectResult::ConversationDataSet { .. })
            })
            .await;
        remote.key(KeyCode::Enter); // all saved: Enter closes
        // bob's conversation, its details from the list; then the phone changes it.
        remote.open("bob", "c2c_bob").await;
        // Opening marks it read, and the SDK then refreshes it from the server; a
        // refresh answered before the phone's change but applied after its push would
        // bring the old value back (an SDK ordering issue, reported), so let it land.
        remote
            .result("bob's conversation marked read", |r| {
                matches!(r, EffectResult::UnreadCleaned { conversation_id, .. } if conversation_id == "c2c_bob")
            })
            .await;
        remote.key(KeyCode::Esc);
        remote.key(KeyCode::Char('v'));
        phone_tim
            .set_conversation_custom_data(&["c2c_bob".to_string()], "changed on my phone 📱")
            .await
            .expect("the phone sets it");
        remote
            .event("the change from the phone", |e| {
                matches!(e, SdkEvent::ConversationChanged(list)
                    if list.iter().any(|c| c.custom_data == "changed on my phone 📱"))
            })
            .await;
        remote.quit();
        (set, result)
    };
    let ((app, screen), (set, result)) = tokio::join!(app.run(), script);

    let Effect::SetConversationData {
        mut conversation_ids,
        data,
    } = set
    else {
        unreachable!()
    };
    conversation_ids.sort();
    assert_eq!(conversation_ids, vec!["c2c_bob", "group_team"]);
    assert_eq!(data, "proj:alpha 阿尔法");
    let EffectResult::ConversationDataSet { result, .. } = result else {
        unreachable!()
    };
    let results = result.expect("the request was answered");
    assert!(results.iter().all(|r| r.result_code == 0), "{results:?}");
    assert!(app.marked.is_empty(), "saved conversations are unmarked");

    // The phone saw both changes as they were pushed.
    let mut pending: Vec<&str> = vec!["c2c_bob", "group_team"];
    while !pending.is_empty() {
        let (ids, _) = phone
            .wait_for("custom data on the phone", |e| match e {
                TimEvent::ConversationChanged(list) | TimEvent::NewConversation(list) => {
                    let ids: Vec<String> = list
                        .iter()
                        .filter(|c| c.custom_data == "proj:alpha 阿尔法")
                        .map(|c| c.conversation_id.clone())
                        .collect();
                    (!ids.is_empty()).then_some(ids)
                }
                _ => None,
            })
            .await;
        pending.retain(|p| !ids.iter().any(|i| i == p));
    }
    assert_eq!(
        phone
            .conversation("group_team")
            .await
            .map(|c| c.custom_data),
        Some("proj:alpha 阿尔法".to_string())
    );
    // And the TUI's details view showed the phone's change without a restart.
    assert!(screen.contains("changed on my phone 📱"), "{screen}");
    assert_eq!(
        app.conversation("c2c_bob").map(|c| c.custom_data.as_str()),
        Some("changed on my phone 📱")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_options_from_the_panel_go_out_with_the_message() {
    let server = TestServer::start().await;
    let (alice, mut bob, _carol, _dave) = team_of_four(&server).await;
    let (app, mut remote) = tui(&alice.tim, 100, 30);
    let script = async move {
        remote.loaded().await;
        remote.open("team", "group_team").await;
        remote.ctrl('o');
        remote.key(KeyCode::Left); // normal → high
        for _ in 0..2 {
            remote.key(KeyCode::Down);
        }
        remote.key(KeyCode::Char(' ')); // not counted as unread
        for _ in 0..4 {
            remote.key(KeyCode::Down);
        }
        remote.typing("{\"reply\":\"m-1\"}"); // cloud custom data
        remote.key(KeyCode::Down);
        remote.typing("only here"); // local custom data
        remote.key(KeyCode::Down);
        remote.typing("Team news"); // push title
        remote.key(KeyCode::Enter);
        remote.typing("with options");
        remote.key(KeyCode::Enter);
        let sent = remote
            .result("sent", |r| matches!(r, EffectResult::MessageSent { .. }))
            .await;
        remote.quit();
        sent
    };
    let ((app, _), sent) = tokio::join!(app.run(), script);
    let EffectResult::MessageSent { message, .. } = sent else {
        unreachable!()
    };
    assert_eq!(message.priority, termim::model::Priority::High);
    assert!(message.is_excluded_from_unread_count);
    let summary = app
        .compose
        .get("group_team")
        .map(|cs| cs.options.summary())
        .unwrap_or_default();
    assert_eq!(summary, "⚑high · no-unread · cloud:✓ · local:✓ · push:✓");

    let (m, _) = bob
        .wait_for("the message with options", |e| {
            is_new_message(e, |m| m.preview() == "with options")
        })
        .await;
    assert_eq!(m.priority, termim::model::Priority::High);
    assert!(m.is_excluded_from_unread_count);
    assert_eq!(m.cloud_custom_data.as_deref(), Some("{\"reply\":\"m-1\"}"));
    assert_eq!(m.local_custom_data, None, "local custom data stays home");
    assert_eq!(
        m.offline_push_info.map(|p| p.title),
        Some("Team news".to_string())
    );
    // The sender's own copy keeps it.
    let w = app.windows.get("group_team").expect("window");
    let mine = w
        .messages
        .iter()
        .find(|x| x.preview() == "with options")
        .expect("sent message");
    assert_eq!(mine.local_custom_data.as_deref(), Some("only here"));
}
