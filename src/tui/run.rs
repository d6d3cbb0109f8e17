//! The event loop: terminal set-up and restore, and a `tokio::select!` over
//! terminal input, SDK events, effect results and a clock tick, with redraws
//! coalesced (everything already queued is applied before the next frame).
//!
//! [`run`] owns a real terminal; [`run_loop`] is generic over the backend and the
//! input stream, so tests drive the whole loop with a `TestBackend` and scripted
//! events (no TTY).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{
    DisableBracketedPaste, DisableFocusChange, DisableMouseCapture, EnableBracketedPaste,
    EnableFocusChange, EnableMouseCapture, Event, EventStream, KeyCode, KeyEvent, KeyModifiers,
    KeyboardEnhancementFlags, PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
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
use super::backend::SafeBackend;
use super::editor::{self, EditorError};
use super::effect::{Effect, EffectResult, EffectRunner};
use super::event::SdkEvent;
use super::keymap::is_press;
use super::update::{handle_event, update};
use super::view::render;

/// How long `EffectRunner::shutdown` may take when quitting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// At most this many queued inputs are applied before a frame is drawn anyway.
const COALESCE_MAX: usize = 1024;
/// A bracketed paste ends at the first `ESC [ 201 ~`, and a pasted blob containing
/// that sequence cannot be told apart from the real end at the byte level: the rest
/// would arrive as keystrokes (Enter sends, Ctrl-C quits). So keys that arrive right
/// after a paste, in the same input burst, before the input has been quiet this long,
/// are part of the paste: appended to it as text, never run as commands. A person
/// cannot type that fast after pasting; a terminal delivers one paste in one burst.
pub const PASTE_QUIET: Duration = Duration::from_millis(15);

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
        enter_full_screen(options)?;
        Ok(guard)
    }
}

/// Everything [`TerminalGuard::enter`] does after raw mode (also used on resume).
fn enter_full_screen(options: &RunOptions) -> io::Result<()> {
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
    // kitty keyboard protocol. Pushed without asking first: the question
    // (`supports_keyboard_enhancement`) waits for an answer, up to 2 s before the first
    // frame on a terminal (or tmux, or an ssh link) that answers late or never, while a
    // terminal without the protocol ignores the push (and the pop on restore) as an
    // unknown CSI sequence.
    execute!(
        out,
        PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
    )?;
    KEYBOARD_ENHANCED.store(true, Ordering::SeqCst);
    Ok(())
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Undo everything [`TerminalGuard::enter`] did. Best effort and idempotent: it is
/// called from the panic hook too.
pub fn restore_terminal() {
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

/// Lends the terminal to something else and takes it back: the shell on Ctrl-Z, an
/// external editor. The loop calls it between frames, for [`Effect::Suspend`] and
/// [`Effect::EditExternally`], and redraws everything afterwards.
pub trait TerminalHost {
    /// Stop reading input and give the terminal back exactly as on quit.
    fn release(&mut self) -> io::Result<()>;
    /// Take the terminal again (raw mode, alternate screen, …) and read input again.
    fn reacquire(&mut self) -> io::Result<()>;
    /// The editor to run (shell text), or `None` where there is no terminal to lend.
    fn editor(&self) -> Option<String>;
    /// Can the process be stopped to the shell here?
    fn can_suspend(&self) -> bool;
    /// Put `text` on the clipboard through the terminal (OSC 52).
    fn copy_to_clipboard(&mut self, text: &str);
}

/// No terminal (a `TestBackend`): nothing can be lent; the keys say so.
pub struct NoTerminal;

impl TerminalHost for NoTerminal {
    fn release(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn reacquire(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn editor(&self) -> Option<String> {
        None
    }
    fn can_suspend(&self) -> bool {
        false
    }
    /// No byte stream to write to: the copy is dropped (the reducer tests check the
    /// effect, the PTY tests the bytes).
    fn copy_to_clipboard(&mut self, _text: &str) {}
}

/// crossterm's input as a stream that can be paused: while the terminal is lent, no
/// `EventStream` exists, so its reader thread cannot take the editor's (or the
/// shell's) keystrokes.
#[derive(Clone)]
pub struct TerminalInput(Arc<Mutex<Option<EventStream>>>);

impl TerminalInput {
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(Some(EventStream::new()))))
    }

    fn set(&self, stream: Option<EventStream>) {
        // Dropping the old stream stops its reader thread.
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = stream;
    }
}

impl Default for TerminalInput {
    fn default() -> Self {
        Self::new()
    }
}

impl Stream for TerminalInput {
    type Item = io::Result<Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            Some(stream) => stream.poll_next_unpin(cx),
            // Paused: the loop polls again once the terminal is back.
            None => Poll::Pending,
        }
    }
}

/// The real terminal, set up as [`TerminalGuard::enter`] does.
pub struct CrosstermHost {
    pub options: RunOptions,
    pub input: TerminalInput,
}

impl TerminalHost for CrosstermHost {
    fn release(&mut self) -> io::Result<()> {
        self.input.set(None);
        restore_terminal();
        Ok(())
    }

    fn reacquire(&mut self) -> io::Result<()> {
        enable_raw_mode()?;
        // Dropping an `EventStream` whose reader thread was not polling (it had just
        // delivered the key that got us here) leaves a wake-up pending in crossterm's
        // global reader; the next poll would end early with "interrupted". Take it now.
        for _ in 0..4 {
            if crossterm::event::poll(Duration::ZERO).is_ok() {
                break;
            }
        }
        enter_full_screen(&self.options)?;
        self.input.set(Some(EventStream::new()));
        Ok(())
    }

    fn editor(&self) -> Option<String> {
        Some(editor::editor_from_env())
    }

    fn can_suspend(&self) -> bool {
        cfg!(unix)
    }

    fn copy_to_clipboard(&mut self, text: &str) {
        // Between frames: ratatui has flushed the frame it drew.
        let mut out = io::stdout().lock();
        let written = out
            .write_all(&super::clipboard::osc52(text))
            .and_then(|()| out.flush());
        if let Err(err) = written {
            tracing::warn!("writing the clipboard sequence failed: {err}");
        }
    }
}

/// The loop's part of the effects: clipboard copies go to the terminal host; the rest
/// is returned for the runner.
fn copy_to_clipboard<H: TerminalHost>(host: &mut H, effects: Vec<Effect>) -> Vec<Effect> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::CopyToClipboard { text } => {
                host.copy_to_clipboard(&text);
                None
            }
            other => Some(other),
        })
        .collect()
}

/// Stop this process group (the shell's job: with `cargo run` or a wrapper script,
/// the parent waits too) until it gets SIGCONT (`fg`). Returns once resumed, or at
/// once where there is no job control (an orphaned process group ignores it).
#[cfg(unix)]
fn stop_until_continued() -> io::Result<()> {
    // SAFETY: kill(2) with pid 0 and a valid signal number has no memory effects.
    if unsafe { libc::kill(0, libc::SIGTSTP) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn stop_until_continued() -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "suspending is not supported on this system",
    ))
}

/// Perform one of the loop's own effects that lends the terminal out, then force a
/// full redraw at whatever size the terminal has now.
async fn lend_terminal<B, H>(
    terminal: &mut Terminal<B>,
    host: &mut H,
    app: &mut App,
    effect: Effect,
) -> Result<EffectResult, RunError>
where
    B: Backend,
    B::Error: std::fmt::Display,
    H: TerminalHost,
{
    let result = match effect {
        Effect::Suspend => {
            if !host.can_suspend() {
                return Ok(EffectResult::Resumed {
                    error: Some("there is no shell to suspend to here".into()),
                });
            }
            host.release()?;
            let stopped = stop_until_continued();
            host.reacquire()?;
            EffectResult::Resumed {
                error: stopped.err().map(|e| e.to_string()),
            }
        }
        Effect::EditExternally {
            conversation_id,
            text,
        } => {
            let Some(command) = host.editor() else {
                return Ok(EffectResult::Edited {
                    conversation_id,
                    outcome: Err(EditorError::Unsupported),
                });
            };
            host.release()?;
            let outcome = editor::edit_file(&command, &text, &std::env::temp_dir()).await;
            host.reacquire()?;
            EffectResult::Edited {
                conversation_id,
                outcome,
            }
        }
        other => {
            tracing::warn!("not a terminal effect: {other:?}");
            return Ok(EffectResult::Resumed { error: None });
        }
    };
    // Whatever is on the screen now is not ours: draw all of it again.
    terminal
        .clear()
        .map_err(|e| RunError::Draw(e.to_string()))?;
    let size = terminal.size().map_err(|e| RunError::Draw(e.to_string()))?;
    update(app, Action::Resize(size.width, size.height));
    Ok(result)
}

/// Ctrl-L: clear the terminal and forget what ratatui believes is on it, so the next
/// frame writes every cell (whatever else scribbled on the screen is gone).
fn redraw_everything<B>(terminal: &mut Terminal<B>) -> Result<(), RunError>
where
    B: Backend,
    B::Error: std::fmt::Display,
{
    terminal.clear().map_err(|e| RunError::Draw(e.to_string()))
}

/// Unix time now, seconds.
pub fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The local UTC offset in seconds now, worked out in-process (see
/// [`super::clock::local_utc_offset`]): no child process before the first frame.
pub fn detect_utc_offset() -> i32 {
    super::clock::local_utc_offset(system_now())
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
    // `SafeBackend`: no ghost cells around grapheme clusters, and no cursor-position
    // query (which `clear` would otherwise send and wait for) before the first frame.
    let mut terminal = Terminal::new(SafeBackend::new(CrosstermBackend::new(io::stdout())))?;
    terminal.clear()?;
    let initial = app.start();
    let input = TerminalInput::new();
    let mut host = CrosstermHost {
        options: options.clone(),
        input: input.clone(),
    };
    let result = run_loop_with_host(
        &mut terminal,
        &mut app,
        input,
        sdk_events,
        &mut runner,
        initial,
        &options,
        system_now,
        &mut host,
    )
    .await;
    drop(guard);
    result.map(|()| app)
}

/// Apply effects: hand each to the runner in order; the loop's own (`Quit`, and those
/// that lend the terminal out) are returned, in order, for the loop to perform.
fn perform<R: EffectRunner>(
    effects: Vec<Effect>,
    runner: &mut R,
    results: &mpsc::UnboundedSender<EffectResult>,
) -> VecDeque<Effect> {
    let mut own = VecDeque::new();
    for e in effects {
        if e == Effect::Quit {
            continue;
        }
        if e.is_loops_own() {
            own.push_back(e);
        } else {
            runner.dispatch(e, results);
        }
    }
    own
}

/// The text a key stands for inside a paste (see [`PASTE_QUIET`]): what the terminal
/// sent for it, with control characters made visible by `neutralize_pasted` later.
/// Keys that are not text in any sense (arrows, function keys) are dropped.
fn key_as_pasted_text(key: &KeyEvent) -> Option<String> {
    if !is_press(key) {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let mut text = String::new();
    if alt {
        text.push('\u{1b}');
    }
    match key.code {
        KeyCode::Char(c) if ctrl && c.is_ascii_alphabetic() => {
            text.push(char::from(c.to_ascii_lowercase() as u8 & 0x1f));
        }
        KeyCode::Char(c) if ctrl => match c {
            ' ' | '@' => text.push('\0'),
            '[' | '\\' | ']' | '^' | '_' => text.push(char::from(c as u8 & 0x1f)),
            c => text.push(c),
        },
        KeyCode::Char(c) => text.push(c),
        KeyCode::Enter => text.push('\n'),
        KeyCode::Tab => text.push('\t'),
        KeyCode::BackTab => text.push_str("\u{1b}[Z"),
        KeyCode::Backspace => text.push('\u{7f}'),
        KeyCode::Esc => text.push('\u{1b}'),
        _ => return None,
    }
    Some(text)
}

/// Finish the paste that began with `first`: every paste and key that follows before
/// the input is quiet for [`PASTE_QUIET`] is part of it. Returns the whole paste,
/// neutralised, and the input that ended it early (anything but a key or a paste).
async fn gather_paste<S>(input: &mut S, first: String) -> (String, Option<Wake>)
where
    S: Stream<Item = io::Result<Event>> + Unpin,
{
    let mut text = first;
    let mut keys = 0usize;
    let ended_by = loop {
        match tokio::time::timeout(PASTE_QUIET, input.next()).await {
            Err(_quiet) => break None,
            Ok(Some(Ok(Event::Paste(more)))) => text.push_str(&more),
            Ok(Some(Ok(Event::Key(key)))) => {
                if let Some(t) = key_as_pasted_text(&key) {
                    keys += 1;
                    text.push_str(&t);
                }
            }
            Ok(other) => break Some(Wake::Input(other)),
        }
    };
    if keys > 0 {
        tracing::info!(
            keys,
            "keys right after a paste were taken as pasted text (an inner ESC[201~?)"
        );
    }
    (super::text::neutralize_pasted(&text), ended_by)
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
/// giving the runner [`SHUTDOWN_GRACE`] to finish. No terminal can be lent out
/// ([`NoTerminal`]): the editor and suspend keys say so.
#[allow(clippy::too_many_arguments)]
pub async fn run_loop<B, S, R>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    input: S,
    sdk_events: UnboundedReceiver<SdkEvent>,
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
    run_loop_with_host(
        terminal,
        app,
        input,
        sdk_events,
        runner,
        initial,
        options,
        now,
        &mut NoTerminal,
    )
    .await
}

/// [`run_loop`] with a [`TerminalHost`] that can lend the terminal out (suspend, the
/// external editor). While it is lent, nothing is drawn and no input is read; SDK
/// events and effect results wait in their channels and are applied right after.
#[allow(clippy::too_many_arguments)]
pub async fn run_loop_with_host<B, S, R, H>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut input: S,
    mut sdk_events: UnboundedReceiver<SdkEvent>,
    runner: &mut R,
    initial: Vec<Effect>,
    options: &RunOptions,
    now: fn() -> i64,
    host: &mut H,
) -> Result<(), RunError>
where
    B: Backend,
    B::Error: std::fmt::Display,
    S: Stream<Item = io::Result<Event>> + Unpin,
    R: EffectRunner,
    H: TerminalHost,
{
    let (results_tx, mut results_rx) = mpsc::unbounded_channel::<EffectResult>();
    let size = terminal.size().map_err(|e| RunError::Draw(e.to_string()))?;
    update(app, Action::Resize(size.width, size.height));
    update(app, Action::Tick(now()));
    let mut own = perform(initial, runner, &results_tx);
    while let Some(effect) = own.pop_front() {
        if effect == Effect::Redraw {
            redraw_everything(terminal)?;
            continue;
        }
        let result = lend_terminal(terminal, host, app, effect).await?;
        own.extend(perform(app.apply_result(result), runner, &results_tx));
    }

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
        // Input that ended a paste early (see `gather_paste`), handled next.
        let mut carried: Option<Wake> = None;
        let mut handled = 0;
        // Apply this wake-up and everything already queued, then draw once.
        while let Some(w) = pending.take() {
            handled += 1;
            let effects = match w {
                Wake::Input(Some(Ok(Event::Paste(first)))) => {
                    dirty = true;
                    let (text, ended_by) = gather_paste(&mut input, first).await;
                    carried = ended_by;
                    handle_event(app, Event::Paste(text))
                }
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
            let effects = copy_to_clipboard(host, effects);
            let mut own = perform(effects, runner, &results_tx);
            while let Some(effect) = own.pop_front() {
                dirty = true;
                if effect == Effect::Redraw {
                    redraw_everything(terminal)?;
                    continue;
                }
                let result = lend_terminal(terminal, host, app, effect).await?;
                let effects = copy_to_clipboard(host, app.apply_result(result));
                own.extend(perform(effects, runner, &results_tx));
            }
            if app.should_quit || handled >= COALESCE_MAX {
                break;
            }
            pending = if let Some(w) = carried.take() {
                Some(w)
            } else if let Ok(res) = results_rx.try_recv() {
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
