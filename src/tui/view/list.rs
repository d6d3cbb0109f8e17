//! The conversation list: two rows per conversation (name · pin · time, then
//! preview · unread badge), with the filter input on top while filtering.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::messages::{CUSTOM, FAILED, ONLINE_ONLY, SENDING, TARGETED};
use super::{centered, fit_spans, pane_block};
use crate::model::{Conversation, MessageStatus};
use crate::tui::app::{App, Focus};
use crate::tui::layout::LIST_ROW_HEIGHT;
use crate::tui::text;

pub const PIN: &str = "📌";
pub const DRAFT: &str = "✎";
/// A conversation marked for the custom-data editor.
pub const MARK: &str = "●";

/// First visible row so that `selected` is in view, starting from the remembered
/// offset (so the list does not jump while moving inside the page).
pub fn visible_offset(offset: usize, selected: Option<usize>, len: usize, page: usize) -> usize {
    let page = page.max(1);
    let mut off = offset.min(len.saturating_sub(page));
    if let Some(sel) = selected {
        if sel < off {
            off = sel;
        } else if sel >= off + page {
            off = sel + 1 - page;
        }
    }
    off
}

fn badge(n: u64) -> String {
    if n > 99 {
        " 99+ ".to_string()
    } else {
        format!(" {n} ")
    }
}

/// The name with filter matches highlighted.
pub(crate) fn name_spans(
    name: &str,
    positions: &[usize],
    base: Style,
    matched: Style,
) -> Vec<Span<'static>> {
    if positions.is_empty() {
        return vec![Span::styled(name.to_string(), base)];
    }
    let mut spans = Vec::new();
    let mut run = String::new();
    let mut run_matched = false;
    for (i, c) in name.chars().enumerate() {
        let m = positions.binary_search(&i).is_ok();
        if m != run_matched && !run.is_empty() {
            let style = if run_matched {
                base.patch(matched)
            } else {
                base
            };
            spans.push(Span::styled(std::mem::take(&mut run), style));
        }
        run_matched = m;
        run.push(c);
    }
    if !run.is_empty() {
        let style = if run_matched {
            base.patch(matched)
        } else {
            base
        };
        spans.push(Span::styled(run, style));
    }
    spans
}

/// The second row's text: draft, or the last message with its markers.
fn preview(app: &App, c: &Conversation) -> Vec<Span<'static>> {
    let theme = &app.theme;
    if let Some(d) = app.draft_of(&c.conversation_id) {
        return vec![Span::styled(
            format!("{DRAFT} {}", text::sanitize_line(d).trim()),
            theme.draft,
        )];
    }
    let Some(m) = c.last_message.as_deref() else {
        return vec![Span::styled("no messages yet", theme.muted)];
    };
    let mut spans = Vec::new();
    let own = m.is_self || m.sender == app.me;
    if own {
        match m.status {
            MessageStatus::SendFail => spans.push(Span::styled(format!("{FAILED} "), theme.failed)),
            MessageStatus::Sending => {
                spans.push(Span::styled(format!("{SENDING} "), theme.sending))
            }
            _ => {}
        }
    }
    if !m.target_group_member_list.is_empty() {
        spans.push(Span::styled(format!("{TARGETED} "), theme.targeted));
    }
    if m.is_online_only {
        spans.push(Span::styled(format!("{ONLINE_ONLY} "), theme.online_only));
    }
    let tips = m.group_tips_elem.is_some();
    if !tips && (own || App::is_group(c)) {
        let who = if own {
            "you".to_string()
        } else {
            text::sanitize_line(
                m.nick_name
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .unwrap_or(&m.sender),
            )
            .into_owned()
        };
        spans.push(Span::styled(format!("{who}: "), theme.muted));
    }
    let style = if tips { theme.system } else { theme.muted };
    let body = match &m.custom_elem {
        Some(c) if !c.desc.is_empty() => format!("{CUSTOM} {}", c.desc),
        Some(_) => format!("{CUSTOM} custom message"),
        None => m.preview(),
    };
    spans.push(Span::styled(text::sanitize_line(&body).into_owned(), style));
    spans
}

fn render_row(
    app: &App,
    frame: &mut Frame,
    r: Rect,
    c: &Conversation,
    selected: bool,
    positions: &[usize],
) {
    let theme = &app.theme;
    let w = usize::from(r.width);
    if selected {
        frame.buffer_mut().set_style(r, theme.selection);
    }
    let unread = c.unread_count > 0;
    let name_style = if unread {
        theme.unread_name
    } else {
        Style::default()
    };
    let stamp = c
        .last_message
        .as_deref()
        .map(|m| app.clock.list_stamp(m.timestamp))
        .unwrap_or_default();

    // Row 1: kind · name … pin time
    let mut right: Vec<Span> = Vec::new();
    if c.is_pinned {
        right.push(Span::styled(PIN, theme.pin));
        right.push(Span::raw(" "));
    }
    right.push(Span::styled(
        stamp,
        if unread { theme.accent } else { theme.time },
    ));
    let right_w: usize = right.iter().map(Span::width).sum();
    let kind = if App::is_group(c) { "#" } else { "@" };
    let name = text::sanitize_line(app.display_name(c)).into_owned();
    let mut left = Vec::new();
    if app.marked.contains(&c.conversation_id) {
        left.push(Span::styled(format!("{MARK} "), theme.marked));
    }
    left.push(Span::styled(kind, theme.muted));
    left.extend(name_spans(&name, positions, name_style, theme.matched));
    let left_budget = w.saturating_sub(1 + right_w + 1);
    let left_line = fit_spans(left, left_budget);
    let y = r.y;
    let buf = frame.buffer_mut();
    buf.set_line(r.x + 1, y, &left_line, left_budget as u16);
    if right_w + 2 <= w {
        let line = Line::from(right);
        buf.set_line(r.right() - right_w as u16, y, &line, right_w as u16);
    }

    // Row 2: preview … badge
    if r.height >= 2 {
        let y = r.y + 1;
        let badge_text = unread.then(|| badge(c.unread_count));
        let badge_w = badge_text.as_deref().map_or(0, text::width);
        let budget = w.saturating_sub(2 + badge_w + usize::from(badge_w > 0));
        let line = fit_spans(preview(app, c), budget);
        buf.set_line(r.x + 2, y, &line, budget as u16);
        if let Some(b) = badge_text
            && badge_w + 3 <= w
        {
            buf.set_string(r.right() - badge_w as u16, y, b, theme.badge);
        }
    }
    if selected {
        for dy in 0..r.height {
            buf.set_string(r.x, r.y + dy, "▌", theme.selection_marker);
        }
    }
}

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let focused = app.overlay.is_none() && (app.focus == Focus::List || app.filter.is_some());
    let total = app.conversations.len();
    let mut title = vec![
        Span::styled(" Conversations ", theme.title),
        Span::styled(
            if total > 0 {
                format!("{total} ")
            } else {
                String::new()
            },
            theme.muted,
        ),
    ];
    if !app.marked.is_empty() {
        title.push(Span::styled(
            format!("· {MARK}{} ", app.marked.len()),
            theme.marked,
        ));
    }
    let title = Line::from(title);
    let block = pane_block(app, title, focused);
    let mut inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }

    if let Some(f) = &app.filter {
        let count = format!("{}/{}", f.matches.len(), total);
        let prompt = vec![
            Span::styled("/ ", theme.accent),
            Span::raw(text::sanitize_line(&f.query).into_owned()),
        ];
        let budget = usize::from(inner.width).saturating_sub(text::width(&count) + 1);
        let line = fit_spans(prompt, budget);
        let cursor_x = inner.x + line.width().min(budget) as u16;
        frame
            .buffer_mut()
            .set_line(inner.x, inner.y, &line, budget as u16);
        if text::width(&count) + 4 <= usize::from(inner.width) {
            frame.buffer_mut().set_string(
                inner.right() - text::width(&count) as u16,
                inner.y,
                count,
                theme.muted,
            );
        }
        if app.overlay.is_none() {
            frame.set_cursor_position(Position::new(cursor_x.min(inner.right() - 1), inner.y));
        }
        inner.y += 1;
        inner.height -= 1;
        if inner.height == 0 {
            return;
        }
    }

    let len = app.list_len();
    if len == 0 {
        let lines = if let Some(f) = &app.filter {
            vec![Line::styled(
                format!("Nothing matches “{}”", text::sanitize_line(&f.query)),
                theme.muted,
            )]
        } else if !app.conversations_loaded {
            vec![Line::styled("Loading conversations…", theme.muted)]
        } else {
            vec![Line::styled("No conversations yet", theme.muted)]
        };
        centered(frame, inner, lines);
        return;
    }

    let page = usize::from(inner.height / LIST_ROW_HEIGHT).max(1);
    let selected = app.selected_row();
    let offset = visible_offset(app.list_offset, selected, len, page);
    for k in 0..page {
        let row = offset + k;
        let Some(ci) = app.row_conversation(row) else {
            break;
        };
        let y = inner.y + (k as u16) * LIST_ROW_HEIGHT;
        let h = LIST_ROW_HEIGHT.min(inner.bottom() - y);
        let r = Rect {
            y,
            height: h,
            ..inner
        };
        let positions: &[usize] = app
            .filter
            .as_ref()
            .and_then(|f| f.matches.get(row))
            .map_or(&[], |m| m.positions.as_slice());
        render_row(
            app,
            frame,
            r,
            &app.conversations[ci],
            selected == Some(row),
            positions,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_keeps_the_selection_in_view() {
        assert_eq!(visible_offset(0, Some(0), 10, 4), 0);
        assert_eq!(visible_offset(0, Some(5), 10, 4), 2);
        assert_eq!(visible_offset(4, Some(2), 10, 4), 2);
        assert_eq!(
            visible_offset(2, Some(4), 10, 4),
            2,
            "moving inside the page does not scroll"
        );
        assert_eq!(visible_offset(9, None, 10, 4), 6, "never past the end");
        assert_eq!(visible_offset(3, Some(0), 2, 4), 0);
    }
}
