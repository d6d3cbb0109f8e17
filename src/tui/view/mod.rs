//! Pure rendering: `render(&App, &mut Frame)` draws the whole UI from state and
//! never changes it, so a snapshot is a function of the state.

pub mod bars;
pub mod composer;
pub mod help;
pub mod list;
pub mod messages;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use super::app::App;
use super::layout::{self, MIN_HEIGHT, MIN_WIDTH};
use super::text;

/// A rounded pane border, highlighted when focused.
pub(crate) fn pane_block<'a>(app: &App, title: Line<'a>, focused: bool) -> Block<'a> {
    let border = if focused {
        app.theme.accent
    } else {
        app.theme.border
    };
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(border)
        .title(title)
}

/// Truncate a run of spans to `width` columns (ellipsis on the span that overflows).
pub(crate) fn fit_spans(spans: Vec<Span<'static>>, width: usize) -> Line<'static> {
    let mut out = Vec::with_capacity(spans.len());
    let mut used = 0;
    for s in spans {
        let w = s.width();
        if used + w <= width {
            used += w;
            out.push(s);
            continue;
        }
        let (t, tw) = text::truncate(&s.content, width - used);
        if tw > 0 {
            out.push(Span::styled(t.into_owned(), s.style));
        }
        break;
    }
    Line::from(out)
}

/// Before drawing a box over other content: a wide character whose left half is
/// just outside the box's left edge would have its right half overwritten by the
/// border, which corrupts the line on a real terminal. Blank such characters.
pub(crate) fn clear_wide_edge(frame: &mut Frame, r: Rect) {
    if r.x == 0 {
        return;
    }
    let buf = frame.buffer_mut();
    for y in r.top()..r.bottom() {
        let cell = &mut buf[(r.x - 1, y)];
        if text::width(cell.symbol()) > 1 {
            cell.set_symbol(" ");
        }
    }
}

/// Draw `lines` centred in `area`, each cut to fit.
pub(crate) fn centered(frame: &mut Frame, area: Rect, lines: Vec<Line<'static>>) {
    let h = lines.len().min(usize::from(area.height));
    let y0 = area.y + (area.height - h as u16) / 2;
    for (k, line) in lines.into_iter().take(h).enumerate() {
        let line = fit_spans(line.spans.clone(), usize::from(area.width)).style(line.style);
        let w = line.width() as u16;
        let x = area.x + (area.width.saturating_sub(w)) / 2;
        frame
            .buffer_mut()
            .set_line(x, y0 + k as u16, &line, area.width);
    }
}

fn too_small(app: &App, frame: &mut Frame, area: Rect) {
    // The longest message that fits whole.
    let candidates = [
        format!(
            "Terminal too small: {}×{}.\ntermim needs {MIN_WIDTH}×{MIN_HEIGHT}.",
            area.width, area.height
        ),
        format!("Too small.\nNeed {MIN_WIDTH}×{MIN_HEIGHT}."),
        "Too small".to_string(),
        "!".to_string(),
    ];
    let fits = |m: &str| {
        let rows = text::wrap(m, usize::from(area.width));
        rows.len() <= usize::from(area.height)
            && rows
                .iter()
                .all(|r| text::width(&m[r.clone()]) <= usize::from(area.width))
    };
    let msg = candidates
        .iter()
        .find(|m| fits(m))
        .map_or("", String::as_str);
    let lines: Vec<Line<'static>> = text::wrap(msg, usize::from(area.width))
        .into_iter()
        .map(|r| Line::styled(msg[r].to_string(), app.theme.error))
        .collect();
    centered(frame, area, lines);
}

/// Draw the whole UI.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let areas = layout::compute(app, area);
    if areas.too_small {
        too_small(app, frame, area);
        return;
    }
    if let Some(r) = areas.messages {
        messages::render(app, frame, r);
    }
    if let Some(r) = areas.composer {
        composer::render(app, frame, r);
    }
    if let Some(r) = areas.list {
        list::render(app, frame, r);
    }
    if let Some(r) = areas.status {
        bars::render_status(app, frame, r);
    }
    if let Some(r) = areas.help_bar {
        bars::render_help_bar(app, frame, r);
    }
    if let Some(under) = &app.overlay_under {
        super::overlay::render(app, frame, area, under);
    }
    if let Some(o) = &app.overlay {
        super::overlay::render(app, frame, area, o);
    }
}
