//! Text that came from other people (message text, names, custom data, server error
//! sentences) made safe to put on a terminal.
//!
//! A terminal obeys what it is sent: ESC starts an escape sequence (retitle, clear the
//! screen, OSC 52 writes the clipboard), BEL rings, C1 characters such as U+009B (CSI) are
//! escape introducers on some terminals. Shown text therefore never carries a control
//! character: each becomes a visible stand-in, so hostile text can neither drive the
//! terminal nor hide itself. The TUI (`tui::text::sanitize`) and the scripting commands
//! (`cli`) share this mapping:
//!
//! - C0 controls (U+0000–U+001F) become their "control picture" (ESC → `␛`, BEL → `␇`),
//!   except `\t` (four spaces), `\r` (dropped) and `\n` (kept, or a space on one line);
//! - DEL (U+007F) becomes `␡`;
//! - C1 controls (U+0080–U+009F) become `�` (U+FFFD).
//!
//! One-line output for scripts ([`line`]) also neutralises the bidi embedding, override
//! and isolate controls (U+202A–U+202E, U+2066–U+2069) to `�`: on a terminal that
//! reorders right-to-left text they make a line read differently from its bytes
//! ("Trojan Source"), and they reach past the field they are in.

use std::borrow::Cow;

/// Columns a tab expands to.
pub const TAB_WIDTH: usize = 4;

/// A bidi control whose effect reaches past itself: embeddings, overrides and isolates.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn needs_neutralizing(c: char, keep_newlines: bool, bidi: bool) -> bool {
    (c.is_control() && !(keep_newlines && c == '\n')) || (bidi && is_bidi_control(c))
}

fn neutralize_impl(s: &str, keep_newlines: bool, bidi: bool) -> Cow<'_, str> {
    if !s
        .chars()
        .any(|c| needs_neutralizing(c, keep_newlines, bidi))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\n' => out.push(' '),
            '\r' => {}
            '\t' => out.extend(std::iter::repeat_n(' ', TAB_WIDTH)),
            c if (c as u32) < 0x20 => {
                out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}'))
            }
            '\u{7f}' => out.push('\u{2421}'),
            c if c.is_control() => out.push('\u{FFFD}'),
            c if bidi && is_bidi_control(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Control characters made visible (C0, DEL, C1); `keep_newlines` keeps `\n` (else a
/// space). The TUI's mapping.
pub fn neutralize(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    neutralize_impl(s, keep_newlines, false)
}

/// One line of output for the scripting commands: [`neutralize`] without newlines, and
/// bidi controls neutralised too, so a field can neither drive the terminal, nor fake a
/// line of its own, nor reorder what follows it.
pub fn line(s: &str) -> Cow<'_, str> {
    neutralize_impl(s, false, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c0_del_and_c1_become_visible() {
        assert_eq!(
            line("a\u{1b}]2;PWNED\u{7}\u{1b}[2J\u{7f}\u{9b}31m\u{85}z"),
            "a␛]2;PWNED␇␛[2J␡\u{FFFD}31m\u{FFFD}z"
        );
        assert_eq!(line("nul\0"), "nul␀");
    }

    #[test]
    fn one_line_output_cannot_start_a_line_or_reorder_one() {
        assert_eq!(line("l1\nl2\r\n\tx"), "l1 l2     x");
        assert_eq!(
            line("abc\u{202E}fed\u{2066}x\u{2069}"),
            "abc\u{FFFD}fed\u{FFFD}x\u{FFFD}"
        );
        // The TUI's mapping leaves bidi alone and keeps newlines when asked.
        assert_eq!(neutralize("a\u{202E}b\nc", true), "a\u{202E}b\nc");
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(line("plain 你好 👋 عربي"), Cow::Borrowed(_)));
    }
}
