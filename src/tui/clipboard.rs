//! Copying a message to the system clipboard through the terminal: OSC 52
//! (`ESC ] 52 ; c ; <base64> BEL`). It needs no display server and no helper
//! program, so it works over SSH, and in tmux with `set-clipboard on`. Mouse capture
//! takes the terminal's own text selection away; `y` gives copying back.
//!
//! The reducer decides *what* to copy and returns [`Effect::CopyToClipboard`]; the
//! event loop has its terminal host write the escape sequence ([`osc52`];
//! `run::TerminalHost::copy_to_clipboard`),
//! so rendering stays a pure function of state.

use base64::Engine;
use unicode_segmentation::UnicodeSegmentation;

use super::action::{Action, Context};
use super::app::App;
use super::effect::Effect;
use crate::model::Message;

/// The most text one copy sends (UTF-8 bytes). Terminals and tmux silently drop
/// OSC 52 payloads much bigger than this, so beyond it nothing is copied and the
/// user is told why, rather than left believing the copy worked.
pub const MAX_COPY_BYTES: usize = 100 * 1024;

/// Seconds a "Copied …" notice stays (it also goes at the next key).
pub const COPIED_SECS: i64 = 3;

/// How copying behaves; set from the config file's `[clipboard]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipboardSettings {
    /// Write OSC 52 to the terminal. Off for terminals that print the sequence
    /// instead of swallowing it; `y` then says so.
    pub osc52: bool,
    /// The cap on one copy, bytes of text.
    pub max_bytes: usize,
}

impl Default for ClipboardSettings {
    fn default() -> Self {
        Self {
            osc52: true,
            max_bytes: MAX_COPY_BYTES,
        }
    }
}

/// The OSC 52 sequence that puts `text` on the clipboard ("c" selection), ended
/// with BEL (understood by more terminals than ST).
pub fn osc52(text: &str) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = Vec::with_capacity(encoded.len() + 8);
    out.extend_from_slice(b"\x1b]52;c;");
    out.extend_from_slice(encoded.as_bytes());
    out.push(0x07);
    out
}

/// What `y` copies from a message, and what to call it in the notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyText {
    pub text: String,
    /// "" for a text message's own text, else what the text is ("the custom data").
    pub what: &'static str,
}

/// A text message's text exactly; a custom message's data; a group tip's sentence
/// as the pane shows it. `None` for kinds with nothing to copy.
pub fn message_text(m: &Message) -> Option<CopyText> {
    if let Some(t) = &m.text_elem {
        Some(CopyText {
            text: t.text.clone(),
            what: "",
        })
    } else if let Some(c) = &m.custom_elem {
        Some(CopyText {
            text: c.data.clone(),
            what: "the custom data",
        })
    } else {
        m.group_tips_elem.as_ref().map(|t| CopyText {
            text: t.describe(),
            what: "the group tip",
        })
    }
}

/// "1 character", "42 characters" (user-perceived characters: an emoji made of
/// several code points counts once).
fn characters(text: &str) -> String {
    match text.graphemes(true).count() {
        1 => "1 character".to_string(),
        n => format!("{n} characters"),
    }
}

/// Which part of a message to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyPart {
    /// Its text (custom data, tip sentence): `y`.
    Text,
    /// Its msgID: `Y` in the details.
    MsgId,
}

/// Copy `part` of `m`: the effect, and a notice saying what happened (or why not).
pub(crate) fn copy_message(app: &mut App, m: Option<&Message>, part: CopyPart) -> Vec<Effect> {
    if !app.clipboard.osc52 {
        app.notify_brief("Not copied: clipboard disabled in config", true);
        return Vec::new();
    }
    let Some(m) = m else {
        let select = app
            .keymap
            .hint(&[Context::Messages], &Action::SelectPrev)
            .map(|k| format!(" ({k})"))
            .unwrap_or_default();
        app.notify_brief(format!("Select a message to copy first{select}"), false);
        return Vec::new();
    };
    let copy = match part {
        CopyPart::Text => message_text(m),
        CopyPart::MsgId if m.msg_id.is_empty() => {
            app.notify_brief("No msgID yet: the message is not sent", true);
            return Vec::new();
        }
        CopyPart::MsgId => Some(CopyText {
            text: m.msg_id.clone(),
            what: "the msgID",
        }),
    };
    let Some(copy) = copy.filter(|c| !c.text.is_empty()) else {
        app.notify_brief("Nothing to copy in this message", false);
        return Vec::new();
    };
    let max = app.clipboard.max_bytes;
    if copy.text.len() > max {
        app.notify_brief(
            format!(
                "Not copied: {} KB is over the {} KB terminals accept",
                copy.text.len().div_ceil(1024),
                max / 1024
            ),
            true,
        );
        return Vec::new();
    }
    let count = characters(&copy.text);
    let notice = match (part, copy.what) {
        (CopyPart::MsgId, _) => format!("Copied the msgID {}", copy.text),
        (_, "") => format!("Copied {count}"),
        (_, what) => format!("Copied {what} ({count})"),
    };
    app.notify_brief(notice, false);
    vec![Effect::CopyToClipboard { text: copy.text }]
}

/// Copy from the open conversation's selected message.
pub(crate) fn copy_selected(app: &mut App, part: CopyPart) -> Vec<Effect> {
    let m = app
        .open_window()
        .and_then(|w| w.view.selected.and_then(|i| w.messages.get(i)))
        .cloned();
    copy_message(app, m.as_ref(), part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_is_esc_52_c_base64_bel() {
        assert_eq!(osc52("hi"), b"\x1b]52;c;aGk=\x07".to_vec());
        // UTF-8 bytes of 你好 (e4 bd a0 e5 a5 bd), emoji and a newline, standard
        // alphabet with padding.
        assert_eq!(osc52("你好"), b"\x1b]52;c;5L2g5aW9\x07".to_vec());
        assert_eq!(
            osc52("a\n🎉"),
            b"\x1b]52;c;YQrwn46J\x07".to_vec(),
            "{:?}",
            String::from_utf8_lossy(&osc52("a\n🎉"))
        );
        assert_eq!(osc52(""), b"\x1b]52;c;\x07".to_vec());
    }

    #[test]
    fn characters_are_user_perceived() {
        assert_eq!(characters("a"), "1 character");
        assert_eq!(characters("你好"), "2 characters");
        // Woman technologist: three code points, one character.
        assert_eq!(characters("👩‍💻!"), "2 characters");
        assert_eq!(characters("a\nb"), "3 characters");
    }
}
