//! Where each pane goes for a given terminal size. Shared by rendering, paging
//! (how far is a page?) and mouse hit-testing, so they always agree.

use ratatui::layout::Rect;
use ratatui::widgets::Block;

use super::app::{App, Focus};
use super::text;

/// Below this the UI shows a "terminal too small" notice instead of panes.
pub const MIN_WIDTH: u16 = 24;
pub const MIN_HEIGHT: u16 = 8;
/// Below this width one pane is shown at a time (the list, or the conversation).
pub const NARROW_WIDTH: u16 = 64;
/// The help bar is dropped below this height.
pub const HELP_BAR_MIN_HEIGHT: u16 = 10;
/// Rows per conversation in the list.
pub const LIST_ROW_HEIGHT: u16 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    pub too_small: bool,
    pub narrow: bool,
    pub list: Option<Rect>,
    /// The message pane, or the welcome pane when no conversation is open.
    pub messages: Option<Rect>,
    pub composer: Option<Rect>,
    pub status: Option<Rect>,
    pub help_bar: Option<Rect>,
}

/// The inside of a bordered pane.
pub fn inner(r: Rect) -> Rect {
    Block::bordered().inner(r)
}

/// Text rows the composer needs at this inner width.
fn composer_rows(app: &App, inner_width: u16) -> u16 {
    let w = usize::from(inner_width.max(1));
    let rows: usize = app
        .composer
        .lines()
        .iter()
        .map(|l| text::wrap(l, w.saturating_sub(1).max(1)).len())
        .sum();
    u16::try_from(rows.max(1)).unwrap_or(u16::MAX)
}

pub fn compute(app: &App, area: Rect) -> Areas {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return Areas {
            too_small: true,
            ..Areas::default()
        };
    }
    let help_h = u16::from(area.height >= HELP_BAR_MIN_HEIGHT);
    let bottom_h = 1 + help_h;
    let main = Rect {
        height: area.height - bottom_h,
        ..area
    };
    let status = Rect {
        y: main.bottom(),
        height: 1,
        ..area
    };
    let help_bar = (help_h == 1).then_some(Rect {
        y: status.bottom(),
        height: 1,
        ..area
    });
    let narrow = area.width < NARROW_WIDTH;
    let mut out = Areas {
        too_small: false,
        narrow,
        status: Some(status),
        help_bar,
        ..Areas::default()
    };

    let right = if narrow {
        let show_list = app.open.is_none() || app.focus == Focus::List || app.filter.is_some();
        if show_list {
            out.list = Some(main);
            return out;
        }
        main
    } else {
        let list_w = (area.width * 3 / 10).clamp(26, 40);
        out.list = Some(Rect {
            width: list_w,
            ..main
        });
        Rect {
            x: main.x + list_w,
            width: main.width - list_w,
            ..main
        }
    };

    if app.open.is_some() {
        let max_rows = (right.height / 3).clamp(1, 10);
        let rows = composer_rows(app, right.width.saturating_sub(2)).min(max_rows);
        let composer_h = (rows + 2).min(right.height.saturating_sub(3));
        out.composer = Some(Rect {
            y: right.bottom() - composer_h,
            height: composer_h,
            ..right
        });
        out.messages = Some(Rect {
            height: right.height - composer_h,
            ..right
        });
    } else {
        out.messages = Some(right);
    }
    out
}

impl App {
    pub fn areas(&self) -> Areas {
        compute(self, Rect::new(0, 0, self.size.0, self.size.1))
    }

    /// Inner size (width, height) of the message pane, if shown.
    pub fn message_view(&self) -> Option<(u16, u16)> {
        self.areas()
            .messages
            .map(inner)
            .map(|r| (r.width, r.height))
    }

    /// Conversations visible at once in the list.
    pub fn list_page(&self) -> usize {
        let areas = self.areas();
        let rows = areas.list.map_or(0, |r| {
            let mut h = inner(r).height;
            if self.filter.is_some() {
                h = h.saturating_sub(1);
            }
            h / LIST_ROW_HEIGHT
        });
        usize::from(rows).max(1)
    }
}
