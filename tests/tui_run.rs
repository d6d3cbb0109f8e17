//! The event loop end to end, in-process: scripted terminal events in, a
//! `TestBackend` out, and an effect runner that answers like the SDK would. This
//! checks the loop's plumbing (ordering, redraws, quit and shutdown); flows against
//! a real server come with the SDK wiring.

mod tui_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures_util::stream;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use termim::model::MessageStatus;
use termim::tui::effect::{Effect, EffectResult, EffectRunner, OutgoingContent, ResultSender};
use termim::tui::run::{RunOptions, run_loop};
use termim::tui::{Action, SdkEvent, update};
use tokio::sync::mpsc;
use tui_support::*;

/// Answers effects the way the SDK would for these tests, and tells the script
/// what it was asked (after the answer is queued).
struct ScriptedSdk {
    seen: mpsc::UnboundedSender<Effect>,
    shut_down: Arc<AtomicBool>,
    next_seq: u64,
}

impl EffectRunner for ScriptedSdk {
    fn dispatch(&mut self, effect: Effect, results: &ResultSender) {
        match &effect {
            Effect::LoadConversations => {
                let _ = results.send(EffectResult::Conversations {
                    list: vec![c2c_conv("bob", 1, None)],
                    total_unread: Some(0),
                });
            }
            Effect::LoadHistory {
                conversation_id,
                direction,
                ..
            } => {
                let _ = results.send(EffectResult::History {
                    conversation_id: conversation_id.clone(),
                    direction: *direction,
                    messages: vec![c2c(text("bob", NOW - 60, 1, "ping"), "bob")],
                    is_finished: true,
                });
            }
            Effect::Send(out) => {
                self.next_seq += 1;
                let OutgoingContent::Text(body) = &out.content else {
                    return;
                };
                let mut m = c2c(text("alice", NOW, 0, body), "bob");
                m.msg_id.clear();
                m.id = format!("local-{}", self.next_seq);
                m.status = MessageStatus::Sending;
                let _ = results.send(EffectResult::MessageCreated {
                    conversation_id: out.conversation_id.clone(),
                    message: m.clone(),
                });
                m.msg_id = format!("srv-{}", self.next_seq);
                m.seq = 1 + self.next_seq;
                m.status = MessageStatus::SendSucc;
                let _ = results.send(EffectResult::MessageSent {
                    conversation_id: out.conversation_id.clone(),
                    message: m,
                });
            }
            Effect::CleanUnread { conversation_id } => {
                let _ = results.send(EffectResult::UnreadCleaned {
                    conversation_id: conversation_id.clone(),
                    error: None,
                });
            }
            _ => {}
        }
        let _ = self.seen.send(effect);
    }

    async fn shutdown(&mut self) {
        self.shut_down.store(true, Ordering::SeqCst);
    }
}

fn frozen_now() -> i64 {
    NOW
}

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

async fn expect_effect(
    seen: &mut mpsc::UnboundedReceiver<Effect>,
    what: impl Fn(&Effect) -> bool,
) -> Effect {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), seen.recv())
            .await
            .expect("the loop asked for the effect in time")
            .expect("runner alive");
        if what(&e) {
            return e;
        }
    }
}

#[tokio::test]
async fn open_type_send_and_quit_through_the_loop() {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("backend");
    let mut app = app();
    let (keys_tx, keys_rx) = mpsc::unbounded_channel::<Event>();
    let input = Box::pin(stream::unfold(keys_rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok(ev), rx))
    }));
    let (_sdk_tx, sdk_rx) = mpsc::unbounded_channel::<SdkEvent>();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let shut_down = Arc::new(AtomicBool::new(false));
    let mut runner = ScriptedSdk {
        seen: seen_tx,
        shut_down: shut_down.clone(),
        next_seq: 0,
    };
    let options = RunOptions {
        mouse: false,
        tick: Duration::from_secs(3600),
    };
    let initial = app.start();

    let script = async move {
        expect_effect(&mut seen, |e| *e == Effect::LoadConversations).await;
        keys_tx.send(key(KeyCode::Enter)).expect("send key");
        expect_effect(&mut seen, |e| matches!(e, Effect::LoadHistory { .. })).await;
        // A paste and typed keys, then Enter.
        keys_tx
            .send(Event::Paste("hello from ".into()))
            .expect("paste");
        // Keys right after a paste, in the same burst, are more pasted text (an inner
        // ESC[201~): type after the input has been quiet for longer than that. The
        // loop runs on this thread, so its quiet timer (earlier) fires first.
        tokio::time::sleep(termim::tui::run::PASTE_QUIET * 4).await;
        for c in "termim 你好".chars() {
            keys_tx.send(key(KeyCode::Char(c))).expect("key");
        }
        keys_tx.send(key(KeyCode::Enter)).expect("enter");
        let sent = expect_effect(&mut seen, |e| matches!(e, Effect::Send(_))).await;
        keys_tx
            .send(Event::Key(KeyEvent::new(
                KeyCode::Char('c'),
                KeyModifiers::CONTROL,
            )))
            .expect("quit");
        sent
    };
    let looping = run_loop(
        &mut terminal,
        &mut app,
        input,
        sdk_rx,
        &mut runner,
        initial,
        &options,
        frozen_now,
    );
    let (result, sent) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(looping, script)
    })
    .await
    .expect("the loop finished");
    result.expect("loop ran cleanly");

    let Effect::Send(out) = sent else {
        unreachable!()
    };
    assert_eq!(out.conversation_id, "c2c_bob");
    assert_eq!(
        out.content,
        OutgoingContent::Text("hello from termim 你好".into())
    );
    assert!(app.should_quit);
    assert!(
        shut_down.load(Ordering::SeqCst),
        "the runner was given time to finish"
    );
    let w = app.open_window().expect("bob is open");
    assert_eq!(w.messages.len(), 2);
    assert_eq!(w.messages[1].status, MessageStatus::SendSucc);
    let screen = terminal.backend().to_string();
    assert!(screen.contains("hello from termim 你好 ✓"), "{screen}");
    assert!(screen.contains("ping"), "{screen}");
}

#[tokio::test]
async fn sdk_events_redraw_without_a_keypress_and_the_input_ending_quits() {
    let mut terminal = Terminal::new(TestBackend::new(60, 12)).expect("backend");
    let mut app = workspace();
    update(&mut app, Action::Resize(60, 12));
    let (keys_tx, keys_rx) = mpsc::unbounded_channel::<Event>();
    let input = Box::pin(stream::unfold(keys_rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok(ev), rx))
    }));
    let (sdk_tx, sdk_rx) = mpsc::unbounded_channel::<SdkEvent>();
    let (seen_tx, _seen) = mpsc::unbounded_channel();
    let mut runner = ScriptedSdk {
        seen: seen_tx,
        shut_down: Arc::new(AtomicBool::new(false)),
        next_seq: 0,
    };
    let options = RunOptions {
        mouse: false,
        tick: Duration::from_secs(3600),
    };
    sdk_tx
        .send(SdkEvent::NewMessage(c2c(
            text("zoe", NOW, 1, "hi there"),
            "zoe",
        )))
        .expect("event");
    // The terminal closes after the event: the loop quits by itself.
    drop(keys_tx);
    tokio::time::timeout(
        Duration::from_secs(10),
        run_loop(
            &mut terminal,
            &mut app,
            input,
            sdk_rx,
            &mut runner,
            Vec::new(),
            &options,
            frozen_now,
        ),
    )
    .await
    .expect("finished")
    .expect("ran cleanly");
    assert!(app.should_quit);
    let screen = terminal.backend().to_string();
    assert!(screen.contains("@zoe"), "{screen}");
    assert!(screen.contains("hi there"), "{screen}");
}
