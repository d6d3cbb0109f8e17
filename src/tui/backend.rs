//! A ratatui backend wrapper that makes grapheme clusters safe on real terminals and
//! never asks the terminal anything.
//!
//! ratatui lays a grapheme cluster (a flag 🇯🇵, a ZWJ family 👩‍👩‍👧, ❤️ with VS16, 👍🏽,
//! e + combining acute) out as one cell symbol of the width unicode-width gives it
//! (flags 2, VS16 presentation 2, ZWJ sequences 2) and resets the cells it covers. Its
//! diff then writes only changed cells, trusting the terminal to agree on widths. Not
//! every terminal does: tmux 3.3 and vt100-style emulators give each code point its own
//! width, so a flag becomes two narrow cells (writing over the first leaves the second
//! behind), ❤️ one cell (the cell after it keeps whatever was there), a family six
//! (spilling over the next four). Those leftovers are "ghost cells": ratatui believes
//! they are blank and never rewrites them, so they survive scrolling and switching
//! chats.
//!
//! [`SafeBackend`] keeps a shadow of what ratatui believes is on the screen and, around
//! the cells the diff writes:
//! - before a cluster: blanks every column the cluster covers, so a terminal that draws
//!   it narrower shows blanks there, not old text;
//! - after a cluster: rewrites the cells a code-point-per-cell terminal may have drawn
//!   over (up to the sum of its code points' widths);
//! - after a cell that replaces a wider glyph: rewrites the cells that glyph covered, so
//!   whatever the terminal left there is overwritten.
//!
//! A terminal that agrees with unicode-width sees the same final screen, with a few
//! extra bytes around clusters only.
//!
//! It also answers [`Backend::get_cursor_position`] from the last position it set
//! instead of asking the terminal (`ESC [ 6 n`): ratatui's `Terminal::clear` asks, and a
//! terminal (or tmux, or a slow ssh link) that answers late or never held up the first
//! frame by up to 2 s. In a full-screen viewport the position is only used to put the
//! cursor back after clearing.

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::{Cell, CellWidth};
use ratatui::layout::{Position, Size};
use unicode_width::UnicodeWidthChar;

/// See the module documentation.
#[derive(Debug)]
pub struct SafeBackend<B> {
    inner: B,
    shadow: Shadow,
    cursor: Position,
}

/// What ratatui believes the terminal shows.
#[derive(Debug, Default)]
struct Shadow {
    width: u16,
    height: u16,
    cells: Vec<Cell>,
    /// Hidden under the wide glyph to the left.
    covered: Vec<bool>,
}

impl Shadow {
    fn blank(size: Size) -> Self {
        let n = usize::from(size.width) * usize::from(size.height);
        Self {
            width: size.width,
            height: size.height,
            cells: vec![Cell::default(); n],
            covered: vec![false; n],
        }
    }

    fn index(&self, x: u16, y: u16) -> Option<usize> {
        (x < self.width && y < self.height)
            .then(|| usize::from(y) * usize::from(self.width) + usize::from(x))
    }

    /// Width of the glyph that starts at (x, y); 0 for a covered cell.
    fn glyph_width(&self, x: u16, y: u16) -> u16 {
        match self.index(x, y) {
            Some(i) if !self.covered[i] => self.cells[i].cell_width().max(1),
            _ => 0,
        }
    }

    /// `cell` drawn at (x, y): it covers the cells its width spans (blank, as ratatui
    /// resets them); the glyphs it overwrites are gone, and so is their cover of the
    /// cells after it (a terminal erases a wide character written over).
    fn set(&mut self, x: u16, y: u16, cell: &Cell) {
        let Some(i) = self.index(x, y) else { return };
        let new = cell.cell_width().max(1);
        // How far the glyphs under the new one reached.
        let mut reach = x.saturating_add(new);
        for dx in 0..new {
            let px = x.saturating_add(dx);
            reach = reach.max(px.saturating_add(self.glyph_width(px, y)));
        }
        self.cells[i] = cell.clone();
        self.covered[i] = false;
        for dx in 1..new {
            let Some(j) = self.index(x.saturating_add(dx), y) else {
                break;
            };
            self.cells[j] = Cell::default();
            self.covered[j] = true;
        }
        for cx in x.saturating_add(new)..reach {
            let Some(j) = self.index(cx, y) else { break };
            self.covered[j] = false;
        }
    }

    /// Is (x, y) a column covered by a cluster (VS16 emoji, flag, …) to its left?
    fn covered_by_cluster(&self, x: u16, y: u16) -> bool {
        let mut cx = x;
        while let Some(i) = self.index(cx, y) {
            if !self.covered[i] {
                return cx != x && is_cluster(self.cells[i].symbol());
            }
            let Some(left) = cx.checked_sub(1) else {
                return false;
            };
            cx = left;
        }
        false
    }

    fn clear(&mut self, from: usize, to: usize) {
        let to = to.min(self.cells.len());
        for i in from.min(to)..to {
            self.cells[i] = Cell::default();
            self.covered[i] = false;
        }
    }
}

/// A symbol of more than one code point: the kind whose width terminals disagree on.
fn is_cluster(symbol: &str) -> bool {
    let mut chars = symbol.chars();
    chars.next().is_some() && chars.next().is_some()
}

/// The columns a terminal that gives every code point its own width uses for `symbol`.
fn per_code_point_width(symbol: &str) -> u16 {
    symbol
        .chars()
        .map(|c| c.width().unwrap_or(0))
        .sum::<usize>()
        .try_into()
        .unwrap_or(u16::MAX)
}

impl<B: Backend> SafeBackend<B> {
    pub fn new(inner: B) -> Self {
        let size = inner.size().unwrap_or_default();
        Self {
            inner,
            shadow: Shadow::blank(size),
            cursor: Position::ORIGIN,
        }
    }

    /// With a known screen size (a backend that cannot tell its own, as in tests).
    pub fn with_size(inner: B, size: Size) -> Self {
        Self {
            inner,
            shadow: Shadow::blank(size),
            cursor: Position::ORIGIN,
        }
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    /// The cells to write for one frame's diff, with the repairs around clusters.
    fn repaired<'a, I>(&mut self, content: I) -> Vec<(u16, u16, Cell)>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let mut out = Vec::new();
        for (x, y, cell) in content {
            if self.shadow.index(x, y).is_none() {
                // Outside what we know (a size change not seen yet): pass it through.
                out.push((x, y, cell.clone()));
                continue;
            }
            let old_w = self.shadow.glyph_width(x, y);
            if old_w == 0 && cell.symbol() == " " && self.shadow.covered_by_cluster(x, y) {
                // ratatui's own write to a column a VS16 emoji covers: blanked before the
                // emoji already; after it, on a terminal that drew the emoji wide, the
                // cursor is past this column and the blank would land on the next cell.
                continue;
            }
            let new_w = cell.cell_width().max(1);
            let cluster = is_cluster(cell.symbol());
            if cluster && new_w > 1 {
                let mut blank = Cell::default();
                blank.set_bg(cell.bg);
                for dx in 0..new_w {
                    if self.shadow.index(x + dx, y).is_some() {
                        out.push((x + dx, y, blank.clone()));
                    }
                }
            }
            self.shadow.set(x, y, cell);
            out.push((x, y, cell.clone()));
            let spill = if cluster {
                per_code_point_width(cell.symbol())
            } else {
                0
            };
            let end = x.saturating_add(old_w.max(spill)).min(self.shadow.width);
            let mut cx = x.saturating_add(new_w);
            while cx < end {
                let Some(i) = self.shadow.index(cx, y) else {
                    break;
                };
                if !self.shadow.covered[i] {
                    out.push((cx, y, self.shadow.cells[i].clone()));
                }
                cx += 1;
            }
        }
        out
    }
}

impl<B: Backend> Backend for SafeBackend<B> {
    type Error = B::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let cells = self.repaired(content);
        self.inner.draw(cells.iter().map(|(x, y, c)| (*x, *y, c)))
    }

    fn append_lines(&mut self, n: u16) -> Result<(), Self::Error> {
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }

    /// The last position set: never a query to the terminal (see the module docs).
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        Ok(self.cursor)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        let position = position.into();
        self.cursor = position;
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)?;
        let w = usize::from(self.shadow.width);
        let at = usize::from(self.cursor.y) * w + usize::from(self.cursor.x);
        let row = usize::from(self.cursor.y) * w;
        match clear_type {
            ClearType::All => {
                // Also picks up a new size (ratatui clears after a resize).
                let known = Size::new(self.shadow.width, self.shadow.height);
                self.shadow = Shadow::blank(self.inner.size().unwrap_or(known));
            }
            ClearType::AfterCursor => self.shadow.clear(at, usize::MAX),
            ClearType::BeforeCursor => self.shadow.clear(0, at + 1),
            ClearType::CurrentLine => self.shadow.clear(row, row + w),
            ClearType::UntilNewLine => self.shadow.clear(at, row + w),
        }
        Ok(())
    }

    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::CrosstermBackend;
    use ratatui::layout::Rect;
    use ratatui::text::Line;

    use super::*;

    /// Bytes written to the "terminal", replayed into a vt100 emulator: it gives every
    /// code point its own width, like tmux 3.3.
    fn screen_of(bytes: &[u8], cols: u16, rows: u16) -> vt100::Parser {
        let mut p = vt100::Parser::new(
            std::num::NonZeroU16::new(rows).unwrap(),
            std::num::NonZeroU16::new(cols).unwrap(),
            0,
        );
        p.process(bytes);
        p
    }

    /// Bytes written to the terminal, readable while the backend owns the writer.
    #[derive(Clone, Default)]
    struct Sink(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn draw_lines<B: Backend>(t: &mut Terminal<B>, lines: &[&str]) {
        let width = t.get_frame().area().width;
        t.draw(|f| {
            for (i, l) in lines.iter().enumerate() {
                f.buffer_mut().set_line(0, i as u16, &Line::raw(*l), width);
            }
        })
        .map_err(|_| "draw failed")
        .unwrap();
    }

    /// Draw each frame's lines (at x = 0), through `SafeBackend` or straight to crossterm;
    /// the emulated screen's rows after the last frame.
    fn draw_frames(frames: &[&[&str]], safe: bool) -> Vec<String> {
        const COLS: u16 = 12;
        const ROWS: u16 = 3;
        let sink = Sink::default();
        let options = || ratatui::TerminalOptions {
            viewport: ratatui::Viewport::Fixed(Rect::new(0, 0, COLS, ROWS)),
        };
        let crossterm = CrosstermBackend::new(sink.clone());
        if safe {
            let backend = SafeBackend::with_size(crossterm, Size::new(COLS, ROWS));
            let mut t = Terminal::with_options(backend, options()).unwrap();
            for frame in frames {
                draw_lines(&mut t, frame);
            }
        } else {
            let mut t = Terminal::with_options(crossterm, options()).unwrap();
            for frame in frames {
                draw_lines(&mut t, frame);
            }
        }
        let bytes = sink.0.borrow().clone();
        let p = screen_of(&bytes, COLS, ROWS);
        p.screen().rows(0, COLS).collect()
    }

    fn assert_no_ghosts(frames: &[&[&str]], expected: &[&str]) {
        // Straight to the terminal, the same frames leave something behind.
        let plain = draw_frames(frames, false);
        let plain: Vec<&str> = plain.iter().map(|r| r.trim_end()).collect();
        assert_ne!(plain, expected, "the defect does not reproduce: {frames:?}");
        let rows = draw_frames(frames, true);
        let got: Vec<&str> = rows.iter().map(|r| r.trim_end()).collect();
        assert_eq!(got, expected, "frames {frames:?}");
    }

    #[test]
    fn a_flag_replaced_by_narrower_text_leaves_no_ghost() {
        let frames: &[&[&str]] = &[&["ab🇯🇵cd"], &["abx"]];
        // Straight to the terminal, the flag's second regional indicator stays behind.
        let plain = draw_frames(frames, false);
        assert_eq!(plain[0].trim_end(), "abx\u{1f1f5}", "the defect reproduces");
        assert_no_ghosts(frames, &["abx", "", ""]);
    }

    #[test]
    fn a_vs16_emoji_does_not_eat_the_cell_after_it() {
        // ❤️ is 2 wide to ratatui and to vt100 (it widens on VS16); ratatui's own blank
        // for the covered column lands on the next cell ("Z") instead.
        let frames: &[&[&str]] = &[&["XYZW"], &["❤\u{fe0f}ZW"]];
        let plain = draw_frames(frames, false);
        assert_eq!(plain[0].trim_end(), "❤\u{fe0f} W", "the defect reproduces");
        assert_no_ghosts(frames, &["❤\u{fe0f}ZW", "", ""]);
    }

    #[test]
    fn zwj_family_spill_is_overdrawn_and_leaves_no_ghost() {
        let family = "👩\u{200d}👩\u{200d}👧";
        // vt100 draws the family six columns wide; ratatui believes two.
        let first = format!("a{family}");
        assert_no_ghosts(&[&[&first], &["ax"]], &["ax", "", ""]);
        let shown = draw_frames(&[&[&first]], true);
        // While shown, the columns ratatui believes blank are blank: the spill is gone.
        assert!(!shown[0].contains('👧'), "{shown:?}");
    }

    #[test]
    fn wide_characters_shifted_left_are_all_drawn() {
        // 收 and 到 move one column left: the old 到 covered the column the new 到
        // starts in.
        let rows = draw_frames(&[&[" 收到 x"], &["收到 ✓"]], true);
        assert_eq!(rows[0].trim_end(), "收到 ✓", "{rows:?}");
        let rows = draw_frames(&[&["a🇯🇵🇯🇵b"], &["🇯🇵🇯🇵c"]], true);
        assert_eq!(rows[0].trim_end(), "🇯🇵🇯🇵c", "{rows:?}");
    }

    #[test]
    fn skin_tone_and_combining_marks_scroll_away_cleanly() {
        let frames: &[&[&str]] = &[&["👍🏽ok e\u{301}!", "🇨🇳🇺🇸"], &["plain", "x"], &["", "row"]];
        assert_no_ghosts(frames, &["", "row", ""]);
    }

    #[test]
    fn cursor_position_is_never_asked_of_the_terminal() {
        let sink = Sink::default();
        let mut b = SafeBackend::with_size(CrosstermBackend::new(sink.clone()), Size::new(10, 5));
        b.set_cursor_position(Position::new(3, 4)).unwrap();
        assert_eq!(b.get_cursor_position().unwrap(), Position::new(3, 4));
        b.clear().unwrap();
        let written = String::from_utf8_lossy(&sink.0.borrow()).into_owned();
        assert!(!written.contains("\x1b[6n"), "{written:?}");
    }
}
