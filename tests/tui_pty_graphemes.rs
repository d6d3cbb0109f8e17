//! The real `termim` binary in a pseudo-terminal whose emulator (vt100) gives every code
//! point its own width, as tmux 3.3 does: a flag 🇯🇵 is two narrow cells there, one
//! wide cell to ratatui. Grapheme clusters must leave no ghost cells when they are
//! deleted, scrolled or switched away (issue 9, item 17), and Ctrl-L must clear and
//! redraw a screen something else scribbled on.
//!
//! Waits poll the emulated screen against a deadline; nothing sleeps a fixed time.
#![cfg(unix)]

mod pty_support;

use std::time::Duration;

use pty_support::{Pty, Workspace};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);
const COLS: u16 = 100;
const ROWS: u16 = 30;

fn start(ws: &Workspace) -> Pty {
    pty_support::start_demo(ws, "dana", COLS, ROWS, START)
}

fn open(pty: &mut Pty, name: &str, title: &str) {
    pty_support::open_conversation(pty, name, title, STEP);
}

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Cells of the message pane (right of the conversation list) showing a regional
/// indicator.
fn flags_in_pane(pty: &Pty) -> Vec<(u16, u16, String)> {
    pty.with_screen(|s| {
        let (rows, cols) = s.size();
        // The pane's box starts at the second "╭" of the top row (only ASCII and box
        // drawing before it, so characters are columns).
        let top = s.rows(0, cols.get()).next().unwrap_or_default();
        let pane_x = top
            .chars()
            .enumerate()
            .filter(|(_, c)| *c == '╭')
            .nth(1)
            .map_or(0, |(i, _)| i as u16);
        let mut found = Vec::new();
        for r in 0..rows.get() {
            for c in pane_x..cols.get() {
                if let Some(cell) = s.cell(r, c) {
                    let t = cell.contents();
                    if t.chars().any(is_regional_indicator) {
                        found.push((r, c, t.to_string()));
                    }
                }
            }
        }
        found
    })
}

#[test]
fn flags_switched_away_leave_no_ghost_cells() {
    let ws = Workspace::new();
    let mut pty = start(&ws);
    open(&mut pty, "Team", "Team 工作组");
    // Flags at many columns, so some of them sit over blank cells of the next chat.
    let text = "🇯🇵 a 🇨🇳 bb 🇺🇸 ccc 🇫🇷 dddd 🇩🇪 e 🇬🇧 ff 🇮🇹 end";
    pty.type_text(text);
    pty.shows("end", STEP);
    pty.send(b"\r");
    pty.shows("end ✓", STEP);
    assert!(!flags_in_pane(&pty).is_empty(), "the flags are in the pane");
    // Another chat: the message pane is redrawn with other text.
    pty.send(b"\x1b");
    pty.shows("q quit", STEP);
    open(&mut pty, "Lounge", "Lounge");
    pty.wait_for("the Lounge pane, stable", STEP, |s| {
        s.contains("Message Lounge") && !s.contains("end ✓")
    });
    let left = flags_in_pane(&pty);
    assert!(
        left.is_empty(),
        "ghost cells {left:?}; screen:\n{}",
        pty.contents()
    );
}

#[test]
fn ctrl_l_clears_and_redraws_everything() {
    let ws = Workspace::new();
    let mut pty = start(&ws);
    // Something else writes over termim's screen: termim cannot know.
    pty.scribble(b"\x1b[5;10HSCRIBBLED-OVER\x1b[12;40HMORE-JUNK");
    assert!(pty.contents().contains("SCRIBBLED-OVER"));
    pty.send(b"\x0c");
    pty.wait_for("the redrawn screen", STEP, |s| {
        !s.contains("SCRIBBLED") && !s.contains("MORE-JUNK") && s.contains("#Team 工作组")
    });
    // The help overlay lists it (built from the keymap).
    pty.type_text("?");
    pty.shows("Clear the screen and draw everything again", STEP);
}
