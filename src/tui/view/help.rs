//! The help overlay: every binding of every context, straight from the keymap,
//! and a legend of the markers the panes use.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear};

use super::list::{DRAFT, MARK, PIN};
use super::messages::{CUSTOM, FAILED, ONLINE_ONLY, SENDING, SENT, TARGETED};
use crate::tui::action::{Action, Context};
use crate::tui::app::App;
use crate::tui::text;

/// Widest the keys column gets.
const KEYS_COL_MAX: usize = 16;

/// All lines of the help text (the overlay scrolls over them).
pub fn help_lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let mut lines: Vec<Line<'static>> = Vec::new();
    let keys_of = |keys: &[crate::tui::keymap::KeyChord]| {
        keys.iter()
            .map(|k| k.display())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let col = Context::ALL
        .iter()
        .flat_map(|c| {
            app.keymap
                .bindings(*c)
                .map(|(_, ks)| text::width(&keys_of(ks)))
        })
        .max()
        .unwrap_or(0)
        .min(KEYS_COL_MAX);
    for ctx in Context::ALL {
        let bindings: Vec<(Action, String)> = app
            .keymap
            .bindings(ctx)
            .map(|(a, ks)| (a.clone(), keys_of(ks)))
            .collect();
        if bindings.is_empty() {
            continue;
        }
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(
            ctx.title().to_string(),
            theme.accent.add_modifier(Modifier::BOLD),
        ));
        for (action, keys) in bindings {
            let keys = text::fit(&keys, col);
            let desc_w = width.saturating_sub(col + 4);
            let (desc, _) = text::truncate(action.description(ctx), desc_w);
            lines.push(Line::from(vec![
                Span::raw("  "),
                Span::styled(keys, theme.help_key),
                Span::raw("  "),
                Span::raw(desc.into_owned()),
            ]));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Markers",
        theme.accent.add_modifier(Modifier::BOLD),
    ));
    let legend = [
        (PIN, "pinned", theme.pin),
        (DRAFT, "draft", theme.draft),
        (MARK, "marked", theme.marked),
        (TARGETED, "targeted", theme.targeted),
        (ONLINE_ONLY, "online-only", theme.online_only),
        (CUSTOM, "custom message", theme.custom),
        (SENDING, "sending", theme.sending),
        (SENT, "sent", theme.sent),
        (FAILED, "failed", theme.failed),
    ];
    let mut line: Vec<Span<'static>> = vec![Span::raw("  ")];
    let mut used = 2;
    for (glyph, label, style) in legend {
        let w = text::width(glyph) + 1 + label.len() + 3;
        if used + w > width && used > 2 {
            lines.push(Line::from(std::mem::take(&mut line)));
            line.push(Span::raw("  "));
            used = 2;
        }
        line.push(Span::styled(glyph, style));
        line.push(Span::raw(format!(" {label}   ")));
        used += w;
    }
    lines.push(Line::from(line));
    lines.push(Line::raw(""));
    for t in [
        "Keys come from the keymap: change any of them under",
        "[keymap.<context>] in your config file.",
        "The mouse wheel scrolls the pane under the pointer; hold",
        "Shift to select text with the mouse in most terminals.",
    ] {
        lines.push(Line::styled(t, theme.muted));
    }
    lines
}

/// The overlay's rectangle inside `area`.
pub fn overlay_rect(area: Rect) -> Rect {
    // Leave the status and help bars visible below it.
    let bars = if area.height >= crate::tui::layout::HELP_BAR_MIN_HEIGHT {
        2
    } else {
        1
    };
    let room = Rect {
        height: area.height.saturating_sub(bars),
        ..area
    };
    let w = room.width.saturating_sub(4).min(76);
    let h = room.height.saturating_sub(2);
    Rect {
        x: room.x + (room.width - w) / 2,
        y: room.y + (room.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Lines that fit in the overlay at once.
pub fn page(area: Rect) -> usize {
    usize::from(overlay_rect(area).height.saturating_sub(2)).max(1)
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, scroll: usize) {
    let theme = &app.theme;
    let r = overlay_rect(area);
    if r.width < 4 || r.height < 3 {
        return;
    }
    let inner_w = usize::from(r.width.saturating_sub(4));
    let lines = help_lines(app, inner_w);
    let visible = usize::from(r.height - 2);
    let max_scroll = lines.len().saturating_sub(visible);
    let scroll = scroll.min(max_scroll);
    let close = app
        .keymap
        .hint(&[Context::Help], &Action::Back)
        .unwrap_or_else(|| "Esc".into());
    let mut block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.accent)
        .title(Line::from(Span::styled(" Keys ", theme.title)))
        .title_bottom(Line::from(Span::styled(
            format!(" {close} close "),
            theme.muted,
        )));
    if max_scroll > 0 {
        block = block.title_bottom(
            Line::from(Span::styled(
                format!(
                    " {}–{} of {} ",
                    scroll + 1,
                    (scroll + visible).min(lines.len()),
                    lines.len()
                ),
                theme.muted,
            ))
            .right_aligned(),
        );
    }
    frame.render_widget(Clear, r);
    super::clear_wide_edge(frame, r);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let inner = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    for (k, line) in lines.into_iter().skip(scroll).take(visible).enumerate() {
        frame
            .buffer_mut()
            .set_line(inner.x, inner.y + k as u16, &line, inner.width);
    }
}
