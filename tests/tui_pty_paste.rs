//! The real `termim` binary in a pseudo-terminal, given a bracketed paste whose content
//! contains the paste terminator `ESC [ 201 ~` (issue 9, item 21). crossterm ends the
//! paste there; what follows arrives as keys in the same burst. termim takes those keys
//! as more pasted text (see `PASTE_QUIET` in `src/tui/run.rs`): nothing is sent, nothing
//! quits, and control bytes land as visible symbols.
//!
//! Waits poll the emulated screen against a deadline; nothing sleeps a fixed time.
#![cfg(unix)]

mod pty_support;

use std::path::Path;
use std::time::Duration;

use pty_support::{Pty, Workspace};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);
const COLS: u16 = 100;
const ROWS: u16 = 30;

fn exe() -> &'static Path {
    pty_support::termim_exe()
}

fn start(ws: &Workspace) -> Pty {
    pty_support::start_demo(ws, "dana", COLS, ROWS, START)
}

fn open(pty: &mut Pty, name: &str, title: &str) {
    pty_support::open_conversation(pty, name, title, STEP);
}

fn still_running(pty: &mut Pty) {
    if let Ok(Some(status)) = pty.child.try_wait() {
        panic!("termim exited ({status:?}); screen:\n{}", pty.contents());
    }
}

#[test]
fn a_paste_containing_its_own_end_marker_stays_text_in_the_composer() {
    let ws = Workspace::new();
    let mut pty = start(&ws);
    open(&mut pty, "Team", "Team 工作组");
    // One write: a paste holding an inner ESC[201~, then Enter (send) and Ctrl-C (quit)
    // as part of the pasted blob, then the real end.
    pty.send(b"\x1b[200~junk\x1b[31m red\x1b[201~ q rest\r\x03\x1b[201~");
    pty.wait_for("the whole paste in the composer", STEP, |s| {
        s.contains("junk␛[31m red q rest") && s.contains('␃')
    });
    still_running(&mut pty);
    // Nothing was sent: the group's history has no "junk".
    let out = ws.run(exe(), "carol", &["history", "group_team", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let history = String::from_utf8_lossy(&out.stdout);
    assert!(!history.contains("junk"), "the paste was sent: {history}");
    // Typed after a pause, keys are keys again: Ctrl-C quits.
    pty.send(b"\x03");
    let status = pty.wait_exit(STEP);
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn keys_after_an_inner_paste_end_never_quit_from_the_list() {
    let ws = Workspace::new();
    let mut pty = start(&ws);
    // No conversation open, the list has focus: `q` would quit.
    pty.send(b"\x1b[200~junk\x1b[201~q rest\x1b[201~");
    pty.shows("Open a conversation to paste", STEP);
    still_running(&mut pty);
    // The list still works (and `q`, typed on its own, still quits).
    pty.type_text("j");
    pty.type_text("q");
    let status = pty.wait_exit(STEP);
    assert!(status.success(), "exit status {status:?}");
}
