//! Render benchmark (issue 3, item 7): the App holding the benchmark data set (1,000
//! conversations, 200,000 cached messages; see `benches/support`) loaded through the
//! real SDK and `SdkRunner`, drawn at 200×60 many times.
//!
//! `cargo bench --bench tui_render`. Measured per frame, in µs:
//! - full redraw: every cell drawn and written, the way a real terminal gets a frame
//!   after a resize (ratatui's back buffer cleared first), through the crossterm
//!   backend into a byte counter (escape sequences included), and into a `TestBackend`;
//! - what a keystroke or an arriving message costs: the state change plus an
//!   incremental draw (only changed cells are written).
//!
//! `TERMIM_BENCH_ITERS` (default 2000) sets the iterations per measure.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use termim::model::{Message, MessageStatus, TextElem, elem_type};
use termim::sdk::{SdkConfig, Tim};
use termim::server::{self, ServerConfig};
use termim::tui::effect::{Effect, EffectResult, EffectRunner};
use termim::tui::run::system_now;
use termim::tui::runner::SdkRunner;
use termim::tui::{Action, App, Clock, Keymap, SdkEvent, Theme, handle_key, render, update};
use tokio::sync::mpsc;

const COLS: u16 = 200;
const ROWS: u16 = 60;

/// Counts the bytes a frame would send to the terminal.
#[derive(Default, Clone)]
struct ByteCounter(Arc<AtomicUsize>);

impl Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(buf.len(), Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn print_row(what: &str, samples: &[f64], extra: &str) {
    let s = support::stats(samples);
    println!(
        "{what:<58} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1}  {extra}",
        s.mean, s.p50, s.p99, s.max, s.min
    );
}

fn crossterm_terminal(counter: ByteCounter) -> Terminal<CrosstermBackend<ByteCounter>> {
    Terminal::with_options(
        CrosstermBackend::new(counter),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, COLS, ROWS)),
        },
    )
    .expect("terminal")
}

/// Full redraws: from a blank back buffer (as after a resize or a clear), draw
/// everything.
fn full_redraws(app: &App, iters: usize, label: &str) {
    let counter = ByteCounter::default();
    let mut samples = Vec::with_capacity(iters);
    let mut bytes = 0;
    for _ in 0..iters {
        // A fresh terminal has a blank back buffer: the frame is drawn in full.
        let mut term = crossterm_terminal(counter.clone());
        let before = counter.0.load(Ordering::Relaxed);
        let t = Instant::now();
        term.draw(|f| render(app, f)).expect("draw");
        samples.push(us(t.elapsed()));
        bytes = counter.0.load(Ordering::Relaxed) - before;
    }
    print_row(
        &format!("{label}: full redraw → crossterm"),
        &samples,
        &format!("{bytes} bytes/frame"),
    );

    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let mut term = Terminal::new(TestBackend::new(COLS, ROWS)).expect("terminal");
        let t = Instant::now();
        term.draw(|f| render(app, f)).expect("draw");
        samples.push(us(t.elapsed()));
    }
    print_row(&format!("{label}: full redraw → TestBackend"), &samples, "");
}

/// A state change plus the incremental draw that follows it.
fn changes(app: &mut App, iters: usize, label: &str, mut change: impl FnMut(&mut App, usize)) {
    let mut term = crossterm_terminal(ByteCounter::default());
    term.draw(|f| render(app, f)).expect("draw");
    let mut samples = Vec::with_capacity(iters);
    for i in 0..iters {
        let t = Instant::now();
        change(app, i);
        term.draw(|f| render(app, f)).expect("draw");
        samples.push(us(t.elapsed()));
    }
    print_row(label, &samples, "");
}

fn incoming(app: &App, conversation: &str, i: usize) -> Message {
    let peer = conversation.strip_prefix("c2c_").unwrap_or("p0000");
    Message {
        msg_id: format!("bench-{i}"),
        id: format!("bench-id-{i}"),
        timestamp: app.clock.now,
        sender: peer.to_string(),
        receiver: Some(support::ME.to_string()),
        user_id: Some(peer.to_string()),
        status: MessageStatus::SendSucc,
        seq: 1_000_000 + i as u64,
        elem_type: elem_type::TEXT,
        text_elem: Some(TextElem {
            text: support::text(i, i),
        }),
        ..Message::default()
    }
}

/// Load the app the way `termim` does: the conversation list, then open the top
/// conversation and let its history (and any prefetch) arrive. Returns the times.
async fn load(app: &mut App, tim: &Tim) -> (Duration, Duration) {
    let mut runner = SdkRunner::new(tim.clone());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let t = Instant::now();
    for e in app.start() {
        runner.dispatch(e, &tx);
    }
    let list = rx.recv().await.expect("conversations");
    let list_time = t.elapsed();
    assert!(matches!(list, EffectResult::Conversations { .. }));
    app.apply_result(list);
    assert_eq!(app.conversations.len(), support::CONVERSATIONS);

    let top = app.conversations[0].conversation_id.clone();
    let t = Instant::now();
    // Reading it would change the data set for the next run: only load its history.
    let mut pending: Vec<Effect> = app
        .open_conversation_id(&top)
        .into_iter()
        .filter(|e| matches!(e, Effect::LoadHistory { .. }))
        .collect();
    while !pending.is_empty() {
        let n = pending.len();
        for e in pending.drain(..) {
            runner.dispatch(e, &tx);
        }
        for _ in 0..n {
            let r = rx.recv().await.expect("history");
            pending.extend(
                app.apply_result(r)
                    .into_iter()
                    .filter(|e| matches!(e, Effect::LoadHistory { .. })),
            );
        }
    }
    let open_time = t.elapsed();
    runner.shutdown().await;
    (list_time, open_time)
}

fn main() {
    let root = support::ensure_populated();
    let iters = support::env_count("TERMIM_BENCH_ITERS", 2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut app = App::new(
        support::ME,
        Keymap::default(),
        Theme::default(),
        Clock::new(system_now(), 0),
    );
    update(&mut app, Action::Resize(COLS, ROWS));
    let (list_time, open_time, shown) = rt.block_on(async {
        let handle = server::start(ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: root.join("server"),
            sdk_app_id: None,
            secret_key: None,
            database: None,
        })
        .await
        .expect("server");
        let sig = termim::usersig::gen_sig(handle.app_key(), support::ME, 3600);
        let tim = Tim::login(
            SdkConfig {
                server_url: handle.url(),
                data_dir: root.join("client"),
                ca_cert_pem: None,
            },
            support::ME,
            &sig,
        )
        .await
        .expect("login");
        app.apply_event(SdkEvent::ConnectionChanged(tim.connection_state()));
        app.apply_event(SdkEvent::SyncFinished);
        let (l, o) = load(&mut app, &tim).await;
        let shown = app.open_window().map_or(0, |w| w.messages.len());
        tim.logout().await.expect("logout");
        handle.shutdown().await;
        (l, o, shown)
    });

    println!(
        "termim TUI render: {} conversations, {} cached messages, {COLS}×{ROWS}, {iters} iterations per row; {}; load average {}",
        support::CONVERSATIONS,
        support::MESSAGES,
        support::machine(),
        support::load_average()
    );
    println!(
        "load (SDK + SdkRunner, in-process): conversation list {:.1} ms; open top conversation ({shown} messages loaded) {:.1} ms",
        list_time.as_secs_f64() * 1e3,
        open_time.as_secs_f64() * 1e3
    );
    println!(
        "{:<58} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "per frame, µs", "mean", "p50", "p99", "max", "min"
    );

    // The list alone (nothing open) …
    let open = app.open.take();
    full_redraws(&app, iters, "list only");
    app.open = open;
    // … and with the top conversation open, a draft in the composer.
    update(
        &mut app,
        Action::Paste("a draft 草稿 in the composer".into()),
    );
    full_redraws(&app, iters, "conversation open");

    let conv = app.open.clone().expect("open");
    changes(
        &mut app,
        iters,
        "keystroke in the composer + draw",
        |app, i| {
            let c = if i % 2 == 0 { 'x' } else { '字' };
            handle_key(app, KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        },
    );
    changes(
        &mut app,
        iters,
        "message arrives in the open conversation + draw",
        |app, i| {
            let m = incoming(app, &conv, i);
            app.apply_event(SdkEvent::NewMessage(m));
        },
    );
    let mut filter_app = app;
    update(&mut filter_app, Action::Filter);
    changes(
        &mut filter_app,
        iters,
        "filter keystroke over 1000 conversations + draw",
        |app, i| {
            // Type "p0", erase it, again: each keystroke refilters the whole list.
            let key = match i % 4 {
                0 => KeyCode::Char('p'),
                1 => KeyCode::Char('0'),
                _ => KeyCode::Backspace,
            };
            handle_key(app, KeyEvent::new(key, KeyModifiers::NONE));
        },
    );
    println!(
        "load average (1 min) at the end: {}",
        support::load_average()
    );
}
