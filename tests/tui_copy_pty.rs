//! Copying with `y` in the real `termim` binary in a pseudo-terminal (embedded server,
//! demo workspace): the bytes the terminal receives hold an OSC 52 sequence whose
//! base64 decodes to exactly the selected message's text; with `[clipboard] osc52 =
//! false` in the config there is none, and the status line says why. Waits poll the
//! emulated screen against a deadline; nothing sleeps a fixed time.
#![cfg(unix)]

mod pty_support;

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use pty_support::{Pty, Workspace};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);
const COLS: u16 = 100;
const ROWS: u16 = 30;

const OSC52: &[u8] = b"\x1b]52;c;";
const SHIFT_TAB: &[u8] = b"\x1b[Z";

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_termim"))
}

/// Start termim as `dana` and open the Team group through the filter.
fn start_in_team(ws: &Workspace) -> Pty {
    let mut pty = Pty::spawn(ws.command(exe(), "dana", &[]), COLS, ROWS);
    pty.wait_for("the demo workspace", START, |s| {
        s.contains("#Team 工作组") && s.contains("● online")
    });
    pty.type_text("/Team");
    pty.wait_for("the filter", STEP, |s| {
        s.contains("│/ Team ") && s.contains(" 1/")
    });
    pty.send(b"\r");
    pty.wait_for("the Team history", STEP, |s| {
        s.contains("Message Team 工作组") && s.contains("Poll: Lunch?")
    });
    pty
}

/// Every OSC 52 payload in `raw`, decoded.
fn clipboard_writes(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(at) = rest.windows(OSC52.len()).position(|w| w == OSC52) {
        let body = &rest[at + OSC52.len()..];
        let end = body
            .iter()
            .position(|&b| b == 0x07)
            .expect("the OSC 52 sequence ends with BEL");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&body[..end])
            .expect("the payload is base64");
        out.push(String::from_utf8(bytes).expect("the payload is UTF-8"));
        rest = &body[end..];
    }
    out
}

/// Press `k` (select the previous message) until the message whose first line is
/// `first_line` is the selected one (its rows carry the "▌" marker). Where a message
/// sent in the same second as the demo's sorts is not this test's business.
fn select_message_starting(pty: &mut Pty, first_line: &str) {
    let selected = format!("▌ {first_line}");
    for _ in 0..12 {
        if pty.contents().contains(&selected) {
            return;
        }
        let before = pty.contents();
        pty.type_text("k");
        pty.wait_for("the selection to move", STEP, |s| s != before);
    }
    panic!(
        "{first_line:?} never got selected; screen:\n{}",
        pty.contents()
    );
}

fn quit(mut pty: Pty) {
    pty.send(b"\x03");
    let status = pty.wait_exit(STEP);
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn y_puts_the_selected_message_on_the_clipboard_with_osc52() {
    let ws = Workspace::new();
    let mut pty = start_in_team(&ws);
    // A two-line message with Chinese and emoji (Ctrl-J is a line break).
    let first = "复制这一行 🎉";
    let second = "and this one ✓ ok";
    pty.type_text(first);
    pty.send(b"\n");
    pty.type_text(second);
    pty.send(b"\r");
    pty.wait_for("the sent message", STEP, |s| {
        s.contains(first) && s.contains(&format!("{second} ✓"))
    });
    assert!(
        clipboard_writes(&pty.raw()).is_empty(),
        "nothing copied before y"
    );

    // From the composer to the message pane; select the message just sent and copy it.
    pty.send(SHIFT_TAB);
    pty.shows("j/k select", STEP);
    select_message_starting(&mut pty, first);
    pty.shows("y copy", STEP);
    pty.type_text("y");
    pty.shows("Copied 25 characters", STEP);
    let text = format!("{first}\n{second}");
    assert_eq!(clipboard_writes(&pty.raw()), vec![text]);

    // The notice goes at the next key.
    pty.type_text("j");
    pty.wait_for("the notice to fade", STEP, |s| !s.contains("Copied"));
    quit(pty);
}

#[test]
fn with_osc52_off_in_the_config_y_copies_nothing_and_says_so() {
    let ws = Workspace::new();
    let config = std::fs::read_to_string(ws.config()).expect("config");
    std::fs::write(ws.config(), format!("{config}[clipboard]\nosc52 = false\n"))
        .expect("write config");
    let mut pty = start_in_team(&ws);
    pty.send(SHIFT_TAB);
    pty.type_text("k");
    pty.shows("y copy", STEP);
    pty.type_text("y");
    pty.shows("Not copied: clipboard disabled in config", STEP);
    assert!(clipboard_writes(&pty.raw()).is_empty());
    quit(pty);
}
