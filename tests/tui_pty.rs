//! The real `termim` binary in a pseudo-terminal: it starts in the embedded default with
//! the demo workspace, shows its three panes, sends what is typed, quits on the quit key
//! and leaves the terminal as it found it — after a panic too; a second termim joins the
//! embedded server the first one started; that server (and its echo bot) keeps serving
//! while the first termim is stopped or after it quits; a 10×5 terminal gets the "too
//! small" notice.
//!
//! Each test has its own data directory and config file, whose embedded server listens
//! on a free port (and is stopped when the test's workspace goes). Waits poll the
//! emulated screen against a deadline; nothing sleeps a fixed time.
#![cfg(unix)]

mod pty_support;

use std::path::Path;
use std::time::Duration;

use pty_support::{Pty, Workspace};

/// Start-up (a debug build seeding the demo workspace on a busy CI machine) may be slow.
const START: Duration = Duration::from_secs(30);
/// Anything after start-up.
const STEP: Duration = Duration::from_secs(15);

const COLS: u16 = 100;
const ROWS: u16 = 30;

/// What crossterm writes last when it gives the terminal back: leave the alternate
/// screen, show the cursor.
const RESTORE_TAIL: &[u8] = b"\x1b[?1049l\x1b[?25h";
const ENTER_ALT: &[u8] = b"\x1b[?1049h";
const SHOW_CURSOR: &[u8] = b"\x1b[?25h";

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_termim"))
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// Start `termim --user USER` in a pty and wait for the demo workspace in its list.
fn start(ws: &Workspace, user: &str) -> Pty {
    pty_support::start_demo(ws, user, COLS, ROWS, START)
}

/// Open a conversation through the filter (`/`, its name, Enter) from the list.
fn open(pty: &mut Pty, name: &str, title: &str) {
    pty_support::open_conversation(pty, name, title, STEP);
}

/// Everything termim changed is changed back: main screen, cursor visible, bracketed
/// paste and mouse reporting off, cooked mode (canonical input with echo).
fn assert_restored(pty: &Pty) {
    let screen = pty.contents();
    pty.with_screen(|s| {
        assert!(!s.alternate_screen(), "still on the alternate screen");
        assert!(!s.hide_cursor(), "the cursor is still hidden");
        assert!(!s.bracketed_paste(), "bracketed paste is still on");
        assert_eq!(
            s.mouse_protocol_mode(),
            vt100::MouseProtocolMode::None,
            "mouse reporting is still on"
        );
    });
    let raw = pty.raw();
    let entered = rfind(&raw, ENTER_ALT).expect("termim used the alternate screen");
    let left = rfind(&raw, RESTORE_TAIL).unwrap_or_else(|| {
        panic!("the terminal was never given back; screen:\n{screen}");
    });
    assert!(
        left > entered,
        "the alternate screen was entered again last"
    );
    #[cfg(target_os = "linux")]
    if let Some(flags) = pty.local_flags() {
        const ICANON: u64 = 0o000002;
        const ECHO: u64 = 0o000010;
        assert_eq!(flags & ICANON, ICANON, "still in raw mode (no ICANON)");
        assert_eq!(flags & ECHO, ECHO, "still in raw mode (no ECHO)");
    }
}

/// Quit from the list with `q`; exit status 0 and the terminal restored, with nothing
/// written after the restore sequences.
fn quit_with_q(pty: &mut Pty) {
    // Esc leaves the composer for the list, whose help bar offers `q`. (Esc and q in
    // one read would be Alt-q, so q waits for the list.)
    if !pty.contents().contains("q quit") {
        pty.send(b"\x1b");
        pty.shows("q quit", STEP);
    }
    pty.type_text("q");
    let status = pty.wait_exit(STEP);
    assert!(
        status.success(),
        "exit status {status:?}; screen:\n{}",
        pty.contents()
    );
    assert_restored(pty);
    // Nothing but more "show cursor"s (ratatui's own, on drop) follows the restore.
    let raw = pty.raw();
    let left = rfind(&raw, RESTORE_TAIL).expect("restored");
    let mut rest = &raw[left + RESTORE_TAIL.len()..];
    while let Some(r) = rest.strip_prefix(SHOW_CURSOR) {
        rest = r;
    }
    assert!(
        rest.is_empty(),
        "output after the restore: {:?}",
        String::from_utf8_lossy(rest)
    );
}

#[test]
fn starts_in_the_embedded_default_with_three_panes_and_the_demo_then_quits_restored() {
    let ws = Workspace::new();
    let mut pty = start(&ws, "dana");
    let screen = pty.contents();
    for row in [
        "Conversations 4",
        "@echo",
        "@alice",
        "#Lounge",
        "#Team 工作组",
    ] {
        assert!(screen.contains(row), "no {row:?} in the list:\n{screen}");
    }
    assert!(screen.contains("a terminal messenger"), "{screen}");

    open(&mut pty, "Team", "Team 工作组");
    // List, message pane (titled, with the demo history) and composer.
    pty.wait_for("the three panes", STEP, |s| {
        s.contains("Conversations 4")
            && s.contains("Team 工作组 · Work group")
            && s.contains("我今天在家工作 🏠，有事请发消息")
            && s.contains("Poll: Lunch?")
            && s.contains("Message Team 工作组")
    });
    let rows: Vec<String> = pty.contents().lines().map(str::to_string).collect();
    let composer = rows
        .iter()
        .position(|r| r.contains("Message Team 工作组"))
        .expect("composer row");
    // The composer is its own box under the message pane, right of the list.
    assert!(rows[composer].starts_with('│') && rows[composer - 1].contains('╭'));

    quit_with_q(&mut pty);
    // The data went where it was told to.
    assert!(ws.data_dir().join("server").is_dir());
    assert!(ws.data_dir().join("logs").join("termim.log").is_file());
}

#[test]
fn a_message_typed_at_the_keyboard_is_sent() {
    let ws = Workspace::new();
    let mut pty = start(&ws, "dana");
    open(&mut pty, "Team", "Team 工作组");
    let text = "typed at the keyboard 键盘输入 ✓?";
    pty.type_text(text);
    pty.shows(text, STEP);
    pty.send(b"\r");
    // Sent: the status mark follows the text, and the composer is empty again.
    pty.wait_for("the sent message", STEP, |s| {
        s.contains(&format!("{text} ✓")) && s.contains("Message Team 工作组")
    });

    // A scripting command in a second process reaches the same embedded server.
    let out = ws.run(exe(), "carol", &["history", "group_team", "--json"]);
    assert!(
        out.status.success(),
        "termim history failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("history --json is JSON");
    let sent = list
        .as_array()
        .expect("a list of messages")
        .iter()
        .find(|m| m["textElem"]["text"] == text)
        .unwrap_or_else(|| panic!("{text:?} not in carol's history: {list:#}"));
    assert_eq!(sent["sender"], "dana");
    assert_eq!(sent["groupID"], "team");
    assert!(sent["seq"].as_u64().is_some_and(|s| s > 0), "{sent:#}");

    pty.send(b"\x03"); // Ctrl-C quits from anywhere.
    let status = pty.wait_exit(STEP);
    assert!(status.success(), "exit status {status:?}");
    assert_restored(&pty);
}

#[test]
fn a_second_termim_joins_the_first_ones_embedded_server() {
    let ws = Workspace::new();
    let mut host = start(&ws, "dana");
    // Same data directory and config, no --server: the port is taken, so bob joins.
    let mut joiner = start(&ws, "bob");
    let bob_screen = joiner.contents();
    assert!(
        !bob_screen.contains("@echo"),
        "bob's own list:\n{bob_screen}"
    );

    open(&mut host, "Team", "Team 工作组");
    host.type_text("hi bob 你好");
    host.shows("hi bob 你好", STEP);
    host.send(b"\r");
    // bob sees it arrive in his list without a keypress …
    joiner.shows("dana: hi bob 你好", STEP);
    // … opens the group and answers; dana sees the answer.
    open(&mut joiner, "Team", "Team 工作组");
    joiner.type_text("hi dana 收到");
    joiner.shows("hi dana 收到", STEP);
    joiner.send(b"\r");
    joiner.shows("hi dana 收到 ✓", STEP);
    host.wait_for("bob's answer in dana's pane", STEP, |s| {
        s.lines()
            .any(|l| l.contains("hi dana 收到") && !l.contains("bob:"))
    });

    quit_with_q(&mut joiner);
    quit_with_q(&mut host);
    // Only the first one started the embedded server; the second found it running.
    let log =
        std::fs::read_to_string(ws.data_dir().join("logs").join("termim.log")).expect("log file");
    assert_eq!(
        log.matches("started the embedded server").count(),
        1,
        "{log}"
    );
}

/// `history CONV --json` as `user`, polled until a message with `text` is there.
fn wait_in_history(ws: &Workspace, user: &str, conv: &str, text: &str) {
    let until = std::time::Instant::now() + STEP;
    loop {
        let out = ws.run_within(exe(), user, &["history", conv, "--json"], STEP);
        assert!(
            out.status.success(),
            "termim history failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("history --json is JSON");
        if list
            .as_array()
            .is_some_and(|l| l.iter().any(|m| m["textElem"]["text"] == text))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "{text:?} never reached {user}'s {conv}: {list:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Ctrl-Z (here SIGSTOP, which no process can catch) on the termim that started the
/// embedded server stops that termim only: everyone else is still served, the echo bot
/// still answers.
#[test]
fn stopping_the_termim_that_started_the_embedded_server_stops_nobody_else() {
    let ws = Workspace::new();
    let mut first = start(&ws, "dana");
    let pid = first.pid().expect("termim's pid") as i32;
    // SAFETY: a signal to the child this test spawned.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);

    let out = ws.run_within(
        exe(),
        "carol",
        &["send", "--to", "bob", "dana is asleep 睡着了"],
        STEP,
    );
    assert!(
        out.status.success(),
        "send while the first termim is stopped: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_in_history(&ws, "bob", "c2c_carol", "dana is asleep 睡着了");
    let out = ws.run_within(exe(), "carol", &["send", "--to", "echo", "ping"], STEP);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_in_history(&ws, "carol", "c2c_echo", "echo: ping");

    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    quit_with_q(&mut first);
}

/// The echo bot lives with the embedded server, not in the termim that started it.
#[test]
fn the_echo_bot_still_answers_after_the_first_termim_quits() {
    let ws = Workspace::new();
    let mut first = start(&ws, "dana");
    let mut second = start(&ws, "bob");
    quit_with_q(&mut first);

    // carol, not bob: bob's running termim shares bob's cache with a second bob process,
    // which could take the answer's push first.
    let out = ws.run_within(
        exe(),
        "carol",
        &["send", "--to", "echo", "still there? 在吗"],
        STEP,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_in_history(&ws, "carol", "c2c_echo", "echo: still there? 在吗");
    quit_with_q(&mut second);
}

#[test]
fn a_panic_inside_the_loop_restores_the_terminal() {
    let ws = Workspace::new();
    let mut cmd = ws.command(exe(), "dana", &[]);
    cmd.env("TERMIM_TEST_PANIC", "after-first-draw");
    let mut pty = Pty::spawn(cmd, COLS, ROWS);
    let status = pty.wait_exit(START);
    assert!(!status.success(), "a panic exits non-zero");
    assert_eq!(status.exit_code(), 101, "{status:?}");
    assert_restored(&pty);
    // It panicked after drawing a frame, and says so on the restored screen and in the log.
    let raw = pty.raw();
    let entered = rfind(&raw, ENTER_ALT).expect("alternate screen");
    let drawn = String::from_utf8_lossy(&raw[entered..]);
    assert!(drawn.contains("Conversations"), "no frame was drawn");
    let screen = pty.contents();
    assert!(
        screen.contains("deliberate panic after the first frame"),
        "panic message not shown:\n{screen}"
    );
    let log =
        std::fs::read_to_string(ws.data_dir().join("logs").join("termim.log")).expect("log file");
    assert!(
        log.contains("panic:") && log.contains("deliberate panic after the first frame"),
        "{log}"
    );
}

#[test]
fn a_10x5_terminal_shows_the_too_small_notice_and_recovers() {
    let ws = Workspace::new();
    let mut pty = start(&ws, "dana");
    pty.resize(10, 5);
    pty.wait_for("the too-small notice", STEP, |s| {
        s.contains("Too small.") && s.contains("24×8") && !s.contains("Conversations")
    });
    pty.resize(COLS, ROWS);
    pty.shows("Conversations 4", STEP);
    quit_with_q(&mut pty);
}
