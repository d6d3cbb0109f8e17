//! The composer-power overlays: the targeted-member picker, the custom-message
//! editor, the send-options panel, the conversation custom-data editor, and the
//! message and conversation details. Each is keyboard-driven, has its own keymap
//! context (first in the focus chain while it is open) and ends in the SDK's
//! create + send or set calls, as [`Effect`]s.
//!
//! Each module holds its state type, its reducer (`handle`: an action in, effects
//! out, and whether it stays open) and its view. This module routes actions to them
//! and holds what they share: the box they are drawn in, text fields, notices.

pub mod conv_data;
pub mod custom_editor;
pub mod details;
pub mod picker;
pub mod search;
pub mod send_options;
pub mod user_sig;

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear};
use ratatui_textarea::{TextArea, WrapMode};

pub use conv_data::ConversationDataEditor;
pub use custom_editor::CustomEditor;
pub use picker::MemberPicker;
pub use search::SearchOverlay;
pub use send_options::SendOptionsPanel;

use super::action::{Action, Context};
use super::app::{App, Overlay};
use super::effect::Effect;
use super::layout::HELP_BAR_MIN_HEIGHT;
use super::text;
use super::theme::Theme;

/// A one-line message inside an overlay (what just happened, or why not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

impl Notice {
    pub fn info(text: impl Into<String>) -> Option<Self> {
        Some(Self {
            text: text.into(),
            error: false,
        })
    }

    pub fn error(text: impl Into<String>) -> Option<Self> {
        Some(Self {
            text: text.into(),
            error: true,
        })
    }

    pub fn style(&self, theme: &Theme) -> Style {
        if self.error { theme.error } else { theme.ok }
    }
}

// ----- routing ----------------------------------------------------------------------

/// Apply `action` to the open overlay (its context is first in the chain).
pub(crate) fn handle(app: &mut App, action: Action) -> Vec<Effect> {
    let Some(overlay) = app.overlay.take() else {
        return Vec::new();
    };
    match overlay {
        Overlay::Picker(mut p) => {
            let (keep, effects) = picker::handle(app, &mut p, action);
            if keep {
                app.overlay = Some(Overlay::Picker(p));
            }
            effects
        }
        Overlay::CustomMessage(mut e) => {
            let (keep, effects) = custom_editor::handle(app, &mut e, action);
            if keep {
                e.sync_focus();
                app.overlay = Some(Overlay::CustomMessage(e));
            }
            effects
        }
        Overlay::SendOptions(mut p) => {
            let keep = send_options::handle(app, &mut p, action);
            if keep {
                p.sync_focus();
                app.overlay = Some(Overlay::SendOptions(p));
            }
            Vec::new()
        }
        Overlay::ConversationData(mut e) => {
            let (keep, effects) = conv_data::handle(app, &mut e, action);
            if keep {
                app.overlay = Some(Overlay::ConversationData(e));
            }
            effects
        }
        other @ (Overlay::MessageDetails { .. } | Overlay::ConversationDetails { .. }) => {
            details::handle(app, other, action)
        }
        Overlay::Search(mut o) => {
            let (keep, effects) = search::handle(app, &mut o, action);
            if keep {
                app.overlay = Some(Overlay::Search(o));
            }
            effects
        }
        Overlay::UserSig(mut p) => {
            let (keep, effects) = user_sig::handle(app, &mut p, action);
            if keep {
                app.overlay = Some(Overlay::UserSig(p));
            }
            effects
        }
        help @ Overlay::Help { .. } => {
            app.overlay = Some(help);
            Vec::new()
        }
    }
}

/// Would `action` do something in overlay `o` now? (The help bar offers only that.)
pub(crate) fn available(app: &App, o: &Overlay, action: &Action) -> bool {
    use Action as A;
    let ctx = o.context();
    if matches!(action, A::Help) {
        return true;
    }
    if !action.allowed_in(ctx) {
        return false;
    }
    match o {
        Overlay::Help { .. } => matches!(
            action,
            A::Back | A::SelectNext | A::SelectPrev | A::PageUp | A::PageDown
        ),
        Overlay::Picker(p) => match action {
            A::Toggle | A::SelectAll => !p.matches.is_empty(),
            A::SelectNext | A::SelectPrev => p.matches.len() > 1,
            A::PageUp | A::PageDown => p.matches.len() > picker::page(app, p),
            _ => true,
        },
        Overlay::SendOptions(p) => match action {
            A::PrevValue | A::NextValue => p.row().cycles(),
            A::Toggle => p.row().toggles() && p.row_enabled(p.row()),
            _ => true,
        },
        Overlay::ConversationData(e) => match action {
            A::Confirm => !e.saving(),
            _ => true,
        },
        Overlay::MessageDetails {
            conversation_id,
            key,
            ..
        } => match action {
            A::ConversationData => false,
            A::CopyId => details::find_message(app, conversation_id, key)
                .is_some_and(|m| !m.msg_id.is_empty()),
            _ => true,
        },
        Overlay::ConversationDetails { .. } => !matches!(action, A::Copy | A::CopyId),
        Overlay::Search(o) => search::available(app, o, action),
        Overlay::UserSig(p) => !(p.renewing && matches!(action, A::Confirm)),
        Overlay::CustomMessage(_) => true,
    }
}

/// Draw the open overlay (and one waiting under the help).
pub fn render(app: &App, frame: &mut Frame, area: Rect, overlay: &Overlay) {
    match overlay {
        Overlay::Help { scroll } => super::view::help::render(app, frame, area, *scroll),
        Overlay::Picker(p) => picker::render(app, frame, area, p),
        Overlay::CustomMessage(e) => custom_editor::render(app, frame, area, e),
        Overlay::SendOptions(p) => send_options::render(app, frame, area, p),
        Overlay::ConversationData(e) => conv_data::render(app, frame, area, e),
        Overlay::MessageDetails {
            conversation_id,
            key,
            scroll,
        } => details::render_message(app, frame, area, conversation_id, key, *scroll),
        Overlay::ConversationDetails {
            conversation_id,
            scroll,
        } => details::render_conversation(app, frame, area, conversation_id, *scroll),
        Overlay::Search(o) => search::render(app, frame, area, o),
        Overlay::UserSig(p) => user_sig::render(app, frame, area, p),
    }
}

/// The overlay (if any) that holds `f`'s interest, whether on top or waiting under
/// the help overlay.
pub(crate) fn find_mut<T>(
    app: &mut App,
    f: impl Fn(&mut Overlay) -> Option<&mut T>,
) -> Option<&mut T> {
    if let Some(o) = app.overlay.as_mut()
        && let Some(t) = f(o)
    {
        return Some(t);
    }
    app.overlay_under.as_mut().and_then(f)
}

// ----- the box ----------------------------------------------------------------------

/// A box centred in `area`, at most `max_w` × `max_h`, leaving the status bar (and
/// the help bar, when there is one) visible below it.
pub fn boxed(area: Rect, max_w: u16, max_h: u16) -> Rect {
    let bars = if area.height >= HELP_BAR_MIN_HEIGHT {
        2
    } else {
        1
    };
    let room_h = area.height.saturating_sub(bars);
    let w = area.width.saturating_sub(2).min(max_w);
    let h = room_h.min(max_h);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (room_h - h) / 2,
        width: w,
        height: h,
    }
}

/// Key hints for a box's bottom border: the first key of each action in `ctx`.
pub(crate) fn hints(app: &App, ctx: Context, actions: &[Action]) -> Vec<(String, &'static str)> {
    actions
        .iter()
        .filter_map(|a| app.keymap.hint(&[ctx], a).map(|k| (k, a.label(ctx))))
        .collect()
}

/// Clear `r` and draw an overlay box: a title, a status on the left of the bottom
/// border and as many key hints as fit on its right. Returns the inside.
pub(crate) fn draw_box(
    app: &App,
    frame: &mut Frame,
    r: Rect,
    title: Vec<Span<'static>>,
    status: Option<Span<'static>>,
    hints: &[(String, &'static str)],
) -> Rect {
    let theme = &app.theme;
    frame.render_widget(Clear, r);
    super::view::clear_wide_edge(frame, r);
    let room = usize::from(r.width.saturating_sub(4));
    let title = super::view::fit_spans(
        std::iter::once(Span::raw(" "))
            .chain(title)
            .chain(std::iter::once(Span::raw(" ")))
            .collect(),
        room,
    );
    let mut block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.accent)
        .title(title);
    let status = status.map(|s| {
        let t = format!(" {} ", s.content);
        super::view::fit_spans(vec![Span::styled(t, s.style)], room)
    });
    let status_w = status.as_ref().map_or(0, Line::width);
    let mut hint_spans: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for (key, label) in hints {
        let w = text::width(key) + 1 + text::width(label) + 3;
        let gap = usize::from(status_w > 0) * 2;
        if status_w + gap + used + w + 1 > room {
            break;
        }
        used += w;
        hint_spans.push(Span::styled(format!(" {key}"), theme.help_key));
        hint_spans.push(Span::styled(format!(" {label} "), theme.help_label));
        hint_spans.push(Span::styled("·", theme.border));
    }
    hint_spans.pop();
    if let Some(s) = status {
        block = block.title_bottom(s);
    }
    if !hint_spans.is_empty() {
        hint_spans.push(Span::raw(" "));
        block = block.title_bottom(Line::from(hint_spans).right_aligned());
    }
    let inner = block.inner(r);
    frame.render_widget(block, r);
    padded(inner)
}

/// The inside of an overlay's border with one column of air on each side, when there is
/// room for it (what [`draw_box`] returns, for the overlays that lay out their parts).
pub fn padded(inner: Rect) -> Rect {
    if inner.width > 8 {
        Rect {
            x: inner.x + 1,
            width: inner.width - 2,
            ..inner
        }
    } else {
        inner
    }
}

/// Draw `line` in row `y` of `r` (cut to fit).
pub(crate) fn put_line(frame: &mut Frame, r: Rect, y: u16, line: &Line<'_>) {
    if y < r.bottom() && r.width > 0 {
        frame.buffer_mut().set_line(r.x, y, line, r.width);
    }
}

/// `left` and `right` on one row: right-aligned `right` wins the space it needs
/// (when it leaves `left` at least a few columns), `left` is cut to the rest.
pub(crate) fn split_line(
    frame: &mut Frame,
    r: Rect,
    y: u16,
    left: Vec<Span<'static>>,
    right: Vec<Span<'static>>,
) {
    if y >= r.bottom() || r.width == 0 {
        return;
    }
    let w = usize::from(r.width);
    let right_w: usize = right.iter().map(Span::width).sum();
    let show_right = right_w > 0 && right_w + 6 <= w;
    let left_room = if show_right { w - right_w - 1 } else { w };
    let l = super::view::fit_spans(left, left_room);
    frame.buffer_mut().set_line(r.x, y, &l, left_room as u16);
    if show_right {
        let rl = Line::from(right);
        frame
            .buffer_mut()
            .set_line(r.right() - right_w as u16, y, &rl, right_w as u16);
    }
}

// ----- text fields ------------------------------------------------------------------

/// A text field (ratatui-textarea): wraps CJK correctly; no cursor until focused.
pub fn new_field(placeholder: &str, theme: &Theme) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_wrap_mode(WrapMode::WordOrGlyph);
    t.set_cursor_line_style(Style::default());
    t.set_cursor_style(Style::default());
    t.set_placeholder_text(placeholder.to_string());
    t.set_placeholder_style(theme.muted);
    t
}

/// A field holding `text` (newlines split into lines).
pub fn field_with(text: &str, placeholder: &str, theme: &Theme) -> TextArea<'static> {
    let mut t = new_field(placeholder, theme);
    if !text.is_empty() {
        t.insert_str(text);
    }
    t
}

pub fn field_text(t: &TextArea<'_>) -> String {
    t.lines().join("\n")
}

/// Show the cursor only in the focused field.
pub fn focus_field(t: &mut TextArea<'_>, focused: bool) {
    t.set_cursor_style(if focused {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default()
    });
}

/// Draw a field; the focused one also places the terminal cursor (so input methods
/// open their candidate window there).
pub(crate) fn render_field(
    frame: &mut Frame,
    t: &TextArea<'static>,
    r: Rect,
    focused: bool,
    style: Style,
) {
    if r.width == 0 || r.height == 0 {
        return;
    }
    frame.buffer_mut().set_style(r, style);
    frame.render_widget(t, r);
    if focused {
        let sc = t.screen_cursor();
        let (top_row, top_col) = t.scroll_offset();
        let dx = sc.col.saturating_sub(usize::from(top_col));
        let dy = sc.row.saturating_sub(usize::from(top_row));
        let x = r.x.saturating_add(u16::try_from(dx).unwrap_or(u16::MAX));
        let y = r.y.saturating_add(u16::try_from(dy).unwrap_or(u16::MAX));
        frame.set_cursor_position(Position::new(x.min(r.right() - 1), y.min(r.bottom() - 1)));
    }
}

/// Normalise pasted text for a field (`single_line`: newlines become spaces).
pub(crate) fn pasted(text: &str, single_line: bool) -> String {
    let t = text.replace("\r\n", "\n").replace('\r', "\n");
    if single_line { t.replace('\n', " ") } else { t }
}

/// "1,234 B" style byte counts.
pub fn bytes(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out} B")
}

/// Do two sets of text fields hold the same text? (`TextArea` has no `PartialEq`; the
/// overlays compare by content.)
pub(crate) fn same_text(
    a: &[ratatui_textarea::TextArea<'_>],
    b: &[ratatui_textarea::TextArea<'_>],
) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.lines() == y.lines())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_group_thousands() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(12_288), "12,288 B");
        assert_eq!(bytes(1_234_567), "1,234,567 B");
    }

    #[test]
    fn boxes_fit_any_size() {
        for (w, h) in [
            (0, 0),
            (1, 1),
            (10, 5),
            (24, 8),
            (40, 12),
            (80, 24),
            (200, 60),
        ] {
            let area = Rect::new(0, 0, w, h);
            let r = boxed(area, 70, 20);
            assert!(
                r.right() <= area.right() && r.bottom() <= area.bottom(),
                "{w}×{h}"
            );
        }
    }
}
