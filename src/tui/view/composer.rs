//! The composer: a ratatui-textarea (multi-line, wrapping CJK correctly) in a box
//! whose borders show what the next send will carry.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};

use super::messages::TARGETED;
use super::pane_block;
use crate::model::limits::MESSAGE_BODY_MAX;
use crate::tui::app::{App, Focus};
use crate::tui::text;

/// Show the byte count once the text is this large.
const SHOW_BYTES_FROM: usize = 1024;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let focused = app.focus == Focus::Composer && app.overlay.is_none() && app.filter.is_none();
    let state = app.open.as_deref().and_then(|id| app.compose.get(id));

    let mut title = Line::default();
    if let Some(cs) = state.filter(|cs| !cs.targets.is_empty()) {
        let shown: Vec<String> = cs
            .targets
            .iter()
            .take(2)
            .map(|u| text::sanitize_line(u).into_owned())
            .collect();
        let more = cs.targets.len().saturating_sub(2);
        let mut t = format!(" {TARGETED} to: {}", shown.join(", "));
        if more > 0 {
            t.push_str(&format!(" (+{more})"));
        }
        t.push(' ');
        title = Line::from(Span::styled(t, theme.targeted));
    }
    let mut block = pane_block(app, title, focused);
    if let Some(summary) = state
        .map(|cs| cs.options.summary())
        .filter(|s| !s.is_empty())
    {
        block = block.title_bottom(Line::from(Span::styled(
            format!(" {summary} "),
            theme.accent,
        )));
    }
    let bytes = app.composer_body_len();
    if bytes >= SHOW_BYTES_FROM {
        let style = if bytes > MESSAGE_BODY_MAX {
            theme.error
        } else {
            theme.muted
        };
        block = block.title_bottom(
            Line::from(Span::styled(
                format!(" {bytes} / {MESSAGE_BODY_MAX} bytes "),
                style,
            ))
            .right_aligned(),
        );
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    frame.render_widget(&app.composer, inner);
    if focused {
        // The terminal cursor sits where the text cursor is, so input methods (CJK)
        // open their candidate window in the right place.
        let sc = app.composer.screen_cursor();
        let (top_row, top_col) = app.composer.scroll_offset();
        let dx = sc.col.saturating_sub(usize::from(top_col));
        let dy = sc.row.saturating_sub(usize::from(top_row));
        let x = inner
            .x
            .saturating_add(u16::try_from(dx).unwrap_or(u16::MAX));
        let y = inner
            .y
            .saturating_add(u16::try_from(dy).unwrap_or(u16::MAX));
        frame.set_cursor_position(Position::new(
            x.min(inner.right() - 1),
            y.min(inner.bottom() - 1),
        ));
    }
}
