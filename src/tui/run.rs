//! The event loop: terminal set-up and restore, and a `tokio::select!` over
//! terminal input, SDK events, effect results and a clock tick, with redraws
//! coalesced (everything already queued is applied before the next frame).
//!
//! [`run`] owns a real terminal; [`run_loop`] is generic over the backend and the
//! input stream, so tests drive the whole loop with a `TestBackend` and scripted
//! events (no TTY).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{
    DisableBracketedPaste, DisableFocusChange, DisableMouseCapture, EnableBracketedPaste,
    EnableFocusChange, EnableMouseCapture, Event, EventStream, KeyboardEnhancementFlags,
    PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio::time::MissedTickBehavior;

use super::action::Action;
use super::app::App;
use super::effect::{Effect, EffectResult, EffectRunner};
use super::event::SdkEvent;
use super::update::{handle_event, update};
use super::view::render;

/// How long `EffectRunner::shutdown` may take when quitting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// At most this many queued inputs are applied before a frame is drawn anyway.
const COALESCE_MAX: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("terminal I/O failed: {0}")]
    Io(#[from] io::Error),
    #[error("drawing failed: {0}")]
    Draw(String),
}

/// Options of the interactive loop.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Capture the mouse (wheel scrolls the pane under the pointer, click opens).
    /// Off leaves the terminal's own text selection working.
    pub mouse: bool,
    /// Clock tick (timestamps, notices expiring).
    pub tick: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            mouse: true,
            tick: Duration::from_secs(1),
        }
    }
}

static KEYBOARD_ENHANCED: AtomicBool = AtomicBool::new(false);
static MOUSE_CAPTURED: AtomicBool = AtomicBool::new(false);

/// Puts the terminal into full-screen raw mode; restores it when dropped (also on
/// early return and unwinding).
pub struct TerminalGuard(());

impl TerminalGuard {
    pub fn enter(options: &RunOptions) -> io::Result<Self> {
        enable_raw_mode()?;
        let guard = TerminalGuard(());
        super::clipboard::attach_terminal(true);
        let mut out = io::stdout();
        execute!(
            out,
            EnterAlternateScreen,
            EnableBracketedPaste,
            EnableFocusChange
        )?;
        if options.mouse {
            execute!(out, EnableMouseCapture)?;
            MOUSE_CAPTURED.store(true, Ordering::SeqCst);
        }
        // Shift-Enter (and other modified keys) reach us on terminals that speak the
        // kitty keyboard protocol.
        if crossterm::terminal::supports_keyboard_enhancement().unwrap_or(false) {
            execute!(
                out,
                PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
            )?;
            KEYBOARD_ENHANCED.store(true, Ordering::SeqCst);
        }
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Undo everything [`TerminalGuard::enter`] did. Best effort and idempotent: it is
/// called from the panic hook too.
pub fn restore_terminal() {
    super::clipboard::attach_terminal(false);
    let mut out = io::stdout();
    if KEYBOARD_ENHANCED.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    if MOUSE_CAPTURED.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(
        out,
        DisableFocusChange,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// A panic restores the terminal before the message is printed, so the message is
/// readable and the shell usable; the message goes to the log file too.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        tracing::error!("panic: {info}");
        previous(info);
    }));
}

/// Test hook for the PTY tests (`tests/tui_pty.rs`): with
/// `TERMIM_TEST_PANIC=after-first-draw` in the environment, the event loop panics right
/// after drawing its first frame, so a test can check that a panic inside the loop
/// still restores the terminal. Always compiled in; inert unless set to that value.
pub const TEST_PANIC_ENV: &str = "TERMIM_TEST_PANIC";

fn test_panic_requested() -> bool {
    std::env::var_os(TEST_PANIC_ENV).is_some_and(|v| v == "after-first-draw")
}

/// Unix time now, seconds.
pub fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The local UTC offset in seconds, asked of `date +%z` (sound in a threaded
/// program, unlike reading libc's timezone state); 0 (UTC) if that fails. Call it
/// once at start-up.
pub fn detect_utc_offset() -> i32 {
    let Ok(out) = std::process::Command::new("date").arg("+%z").output() else {
        return 0;
    };
    parse_utc_offset(String::from_utf8_lossy(&out.stdout).trim()).unwrap_or(0)
}

/// "+0800" → 28800, "-0530" → -19800.
pub fn parse_utc_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if rest.len() != 4 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = rest[..2].parse().ok()?;
    let m: i32 = rest[2..].parse().ok()?;
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

/// Run the UI on the real terminal until the user quits. `sdk_events` is the SDK's
/// listener (mapped to [`SdkEvent`]); `runner` performs effects.
pub async fn run<R: EffectRunner>(
    mut app: App,
    mut runner: R,
    sdk_events: UnboundedReceiver<SdkEvent>,
    options: RunOptions,
) -> Result<App, RunError> {
    install_panic_hook();
    let guard = TerminalGuard::enter(&options)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    let initial = app.start();
    let result = run_loop(
        &mut terminal,
        &mut app,
        EventStream::new(),
        sdk_events,
        &mut runner,
        initial,
        &options,
        system_now,
    )
    .await;
    drop(guard);
    result.map(|()| app)
}

/// Apply effects: hand each to the runner in order; `Quit` is the loop's own.
fn perform<R: EffectRunner>(
    effects: Vec<Effect>,
    runner: &mut R,
    results: &mpsc::UnboundedSender<EffectResult>,
) {
    for e in effects {
        if e != Effect::Quit {
            runner.dispatch(e, results);
        }
    }
}

/// What woke the loop.
enum Wake {
    Input(Option<io::Result<Event>>),
    Sdk(SdkEvent),
    Result(EffectResult),
    Tick,
}

/// The loop itself, generic over the terminal backend, the input stream and the
/// clock. Returns when the app wants to quit (or the input stream ends), after
/// giving the runner [`SHUTDOWN_GRACE`] to finish.
#[allow(clippy::too_many_arguments)]
pub async fn run_loop<B, S, R>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut input: S,
    mut sdk_events: UnboundedReceiver<SdkEvent>,
    runner: &mut R,
    initial: Vec<Effect>,
    options: &RunOptions,
    now: fn() -> i64,
) -> Result<(), RunError>
where
    B: Backend,
    B::Error: std::fmt::Display,
    S: Stream<Item = io::Result<Event>> + Unpin,
    R: EffectRunner,
{
    let (results_tx, mut results_rx) = mpsc::unbounded_channel::<EffectResult>();
    let size = terminal.size().map_err(|e| RunError::Draw(e.to_string()))?;
    update(app, Action::Resize(size.width, size.height));
    update(app, Action::Tick(now()));
    perform(initial, runner, &results_tx);

    let mut ticker = tokio::time::interval(options.tick);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut sdk_open = true;
    let mut dirty = true;
    let panic_after_first_draw = test_panic_requested();

    while !app.should_quit {
        if dirty {
            terminal
                .draw(|f| render(app, f))
                .map_err(|e| RunError::Draw(e.to_string()))?;
            dirty = false;
            if panic_after_first_draw {
                panic!("{TEST_PANIC_ENV}=after-first-draw: deliberate panic after the first frame");
            }
        }
        // Outcomes and SDK events first, so a key acts on the latest state; each is
        // cheap, and a frame is drawn at least every COALESCE_MAX of them.
        let wake = tokio::select! {
            biased;
            Some(res) = results_rx.recv() => Wake::Result(res),
            ev = sdk_events.recv(), if sdk_open => match ev {
                Some(ev) => Wake::Sdk(ev),
                None => {
                    sdk_open = false;
                    continue;
                }
            },
            ev = input.next() => Wake::Input(ev),
            _ = ticker.tick() => Wake::Tick,
        };
        let mut pending = Some(wake);
        let mut handled = 0;
        // Apply this wake-up and everything already queued, then draw once.
        while let Some(w) = pending.take() {
            handled += 1;
            let effects = match w {
                Wake::Input(Some(Ok(ev))) => {
                    dirty = true;
                    handle_event(app, ev)
                }
                Wake::Input(Some(Err(e))) => {
                    tracing::warn!("terminal input error: {e}");
                    Vec::new()
                }
                Wake::Input(None) => {
                    // The terminal went away: quit as if asked to (drafts are saved).
                    update(app, Action::Quit)
                }
                Wake::Sdk(ev) => {
                    dirty = true;
                    app.apply_event(ev)
                }
                Wake::Result(res) => {
                    dirty = true;
                    app.apply_result(res)
                }
                Wake::Tick => {
                    let before = (app.clock.now / 60, app.visible_status().is_some());
                    let e = update(app, Action::Tick(now()));
                    let after = (app.clock.now / 60, app.visible_status().is_some());
                    dirty |= before != after;
                    e
                }
            };
            let effects = super::clipboard::write_clipboard(effects);
            perform(effects, runner, &results_tx);
            if app.should_quit || handled >= COALESCE_MAX {
                break;
            }
            pending = if let Ok(res) = results_rx.try_recv() {
                Some(Wake::Result(res))
            } else if let Ok(ev) = sdk_events.try_recv() {
                Some(Wake::Sdk(ev))
            } else {
                // Poll with this task's own waker, never a throw-away one
                // (`now_or_never`): crossterm's `EventStream` keeps the first waker it
                // is given until an event arrives, so a no-op waker left there would
                // hold every later key back until the next tick.
                match std::future::poll_fn(|cx| Poll::Ready(input.poll_next_unpin(cx))).await {
                    Poll::Ready(ev) => Some(Wake::Input(ev)),
                    Poll::Pending => None,
                }
            };
        }
    }
    // Draw the last state (e.g. for a test's final frame), then let the runner finish.
    terminal
        .draw(|f| render(app, f))
        .map_err(|e| RunError::Draw(e.to_string()))?;
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, runner.shutdown()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_offsets_parse() {
        assert_eq!(parse_utc_offset("+0800"), Some(28_800));
        assert_eq!(parse_utc_offset("-0530"), Some(-19_800));
        assert_eq!(parse_utc_offset("+0000"), Some(0));
        assert_eq!(parse_utc_offset("0800"), None);
        assert_eq!(parse_utc_offset("+08"), None);
        assert_eq!(parse_utc_offset("+2500"), None);
        assert_eq!(parse_utc_offset(""), None);
    }
}
