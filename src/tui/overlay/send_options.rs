//! The send-options panel: every `sendMessage` option for the next sends in one
//! conversation. Applied options persist (per conversation) until reset; the
//! composer shows them in short form.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::Span;
use ratatui_textarea::{TextArea, WrapMode};

use super::{Notice, boxed, draw_box, field_text, focus_field, hints, pasted, render_field};
use crate::model::limits::MESSAGE_BODY_MAX;
use crate::model::{OfflinePushInfo, Priority};
use crate::tui::action::{Action, Context};
use crate::tui::app::{App, Overlay};
use crate::tui::effect::SendOptions;
use crate::tui::keymap::KeyChord;
use crate::tui::text;
use crate::tui::theme::Theme;
use crate::tui::view::fit_spans;
use crate::tui::view::list::visible_offset;

/// One row of the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Priority,
    OnlineOnly,
    NoUnread,
    NoLast,
    ReadReceipt,
    Extension,
    Cloud,
    Local,
    PushTitle,
    PushDesc,
}

pub const ROWS: [Row; 10] = [
    Row::Priority,
    Row::OnlineOnly,
    Row::NoUnread,
    Row::NoLast,
    Row::ReadReceipt,
    Row::Extension,
    Row::Cloud,
    Row::Local,
    Row::PushTitle,
    Row::PushDesc,
];

const PRIORITIES: [Priority; 4] = [
    Priority::Default,
    Priority::High,
    Priority::Normal,
    Priority::Low,
];

/// What "stays on this device" looks like, from widest to narrowest.
const LOCAL_TAGS: [&str; 3] = ["⌂ stays on this device", "⌂ this device", "⌂"];

impl Row {
    pub fn label(self) -> &'static str {
        match self {
            Row::Priority => "Priority",
            Row::OnlineOnly => "Online users only",
            Row::NoUnread => "Not counted as unread",
            Row::NoLast => "Not the last message",
            Row::ReadReceipt => "Ask for read receipts",
            Row::Extension => "Allow extensions",
            Row::Cloud => "Cloud custom data",
            Row::Local => "Local custom data",
            Row::PushTitle => "Offline push title",
            Row::PushDesc => "Offline push text",
        }
    }

    /// One line on what the option does (shown for the focused row).
    pub fn help(self, is_group: bool) -> &'static str {
        match self {
            Row::Priority => "Group delivery order under load: high for key signals, low for likes",
            Row::OnlineOnly => {
                "Only those online now get it: not stored, no unread, never the last message"
            }
            Row::NoUnread => "Receivers' unread counts don't go up",
            Row::NoLast => "Stored and delivered, but not shown as the conversation's last message",
            Row::ReadReceipt if is_group => "Members can report reading it",
            Row::ReadReceipt => "Read receipts are for group conversations only",
            Row::Extension => "Lets key/value extensions be added later; set it when sending",
            Row::Cloud => "Stored with the message and delivered; counts toward the 12 KB limit",
            Row::Local => "Kept in this device's cache with your copy; never sent to anyone",
            Row::PushTitle => "Title of the notification receivers get while offline",
            Row::PushDesc => "Text of that notification (custom messages need it to be pushed)",
        }
    }

    /// The text field of a text row.
    pub fn field(self) -> Option<usize> {
        match self {
            Row::Cloud => Some(0),
            Row::Local => Some(1),
            Row::PushTitle => Some(2),
            Row::PushDesc => Some(3),
            _ => None,
        }
    }

    pub fn toggles(self) -> bool {
        matches!(
            self,
            Row::OnlineOnly | Row::NoUnread | Row::NoLast | Row::ReadReceipt | Row::Extension
        )
    }

    pub fn cycles(self) -> bool {
        self == Row::Priority || self.toggles()
    }
}

fn single_line(text: &str, theme: &Theme) -> TextArea<'static> {
    let mut t = super::field_with(text, "", theme);
    t.set_wrap_mode(WrapMode::None);
    t
}

#[derive(Debug, Clone)]
pub struct SendOptionsPanel {
    pub conversation_id: String,
    /// The conversation's name, for the title.
    pub name: String,
    pub is_group: bool,
    /// Priority and the flags (the text options live in `fields`).
    pub values: SendOptions,
    /// Cloud custom data, local custom data, push title, push text.
    pub fields: [TextArea<'static>; 4],
    /// Index into [`ROWS`].
    pub cursor: usize,
    pub offset: usize,
    pub notice: Option<Notice>,
}

impl PartialEq for SendOptionsPanel {
    fn eq(&self, other: &Self) -> bool {
        self.conversation_id == other.conversation_id
            && self.is_group == other.is_group
            && self.values == other.values
            && self.cursor == other.cursor
            && self.notice == other.notice
            && super::same_text(&self.fields, &other.fields)
    }
}

impl Eq for SendOptionsPanel {}

impl SendOptionsPanel {
    pub fn new(
        conversation_id: &str,
        name: &str,
        is_group: bool,
        current: &SendOptions,
        theme: &Theme,
    ) -> Self {
        let push = current.offline_push_info.clone().unwrap_or_default();
        let texts = [
            current.cloud_custom_data.clone().unwrap_or_default(),
            current.local_custom_data.clone().unwrap_or_default(),
            push.title,
            push.desc,
        ];
        let mut p = Self {
            conversation_id: conversation_id.to_string(),
            name: name.to_string(),
            is_group,
            values: current.clone(),
            fields: texts.map(|t| single_line(&t, theme)),
            cursor: 0,
            offset: 0,
            notice: None,
        };
        p.sync_focus();
        p
    }

    pub fn row(&self) -> Row {
        ROWS[self.cursor.min(ROWS.len() - 1)]
    }

    /// Can this row be changed here? (Read receipts are for groups.)
    pub fn row_enabled(&self, row: Row) -> bool {
        row != Row::ReadReceipt || self.is_group
    }

    pub fn flag(&self, row: Row) -> bool {
        let v = &self.values;
        match row {
            Row::OnlineOnly => v.online_user_only,
            Row::NoUnread => v.is_excluded_from_unread_count,
            Row::NoLast => v.is_excluded_from_last_message,
            Row::ReadReceipt => v.need_read_receipt && self.is_group,
            Row::Extension => v.is_support_message_extension,
            _ => false,
        }
    }

    fn flag_mut(&mut self, row: Row) -> Option<&mut bool> {
        let v = &mut self.values;
        Some(match row {
            Row::OnlineOnly => &mut v.online_user_only,
            Row::NoUnread => &mut v.is_excluded_from_unread_count,
            Row::NoLast => &mut v.is_excluded_from_last_message,
            Row::ReadReceipt => &mut v.need_read_receipt,
            Row::Extension => &mut v.is_support_message_extension,
            _ => return None,
        })
    }

    /// Keys that go to the focused text field even though the panel binds them.
    pub fn wants_raw(&self, key: &KeyChord) -> bool {
        self.row().field().is_some()
            && (key.is_text()
                || matches!(
                    key.code,
                    KeyCode::Left
                        | KeyCode::Right
                        | KeyCode::Home
                        | KeyCode::End
                        | KeyCode::Backspace
                        | KeyCode::Delete
                ))
    }

    pub(crate) fn sync_focus(&mut self) {
        let focused = self.row().field();
        for (i, f) in self.fields.iter_mut().enumerate() {
            focus_field(f, focused == Some(i));
        }
    }

    pub fn text(&self, row: Row) -> String {
        row.field()
            .map(|i| field_text(&self.fields[i]))
            .unwrap_or_default()
    }

    /// The options as they would be applied.
    pub fn options(&self) -> SendOptions {
        let some = |s: String| (!s.is_empty()).then_some(s);
        let mut o = self.values.clone();
        if !self.is_group {
            o.need_read_receipt = false;
        }
        o.cloud_custom_data = some(self.text(Row::Cloud));
        o.local_custom_data = some(self.text(Row::Local));
        let (title, desc) = (self.text(Row::PushTitle), self.text(Row::PushDesc));
        let keep = o.offline_push_info.take().unwrap_or_default();
        o.offline_push_info = (!title.is_empty() || !desc.is_empty()).then_some(OfflinePushInfo {
            title,
            desc,
            ..keep
        });
        o
    }

    fn change(&mut self, forward: bool) {
        let row = self.row();
        if row == Row::Priority {
            let i = PRIORITIES
                .iter()
                .position(|p| *p == self.values.priority)
                .unwrap_or(2);
            let n = PRIORITIES.len();
            self.values.priority = PRIORITIES[if forward {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            }];
            self.notice = None;
        } else if !self.row_enabled(row) {
            self.notice = Notice::error("Read receipts are for group conversations only");
        } else if let Some(f) = self.flag_mut(row) {
            *f = !*f;
            self.notice = None;
        }
    }

    fn move_cursor(&mut self, delta: isize) {
        self.cursor = self.cursor.saturating_add_signed(delta).min(ROWS.len() - 1);
    }
}

// ----- reducer ----------------------------------------------------------------------

pub(crate) fn open(app: &mut App) {
    let Some(conv) = app.open_conversation() else {
        app.notify("Open a conversation first");
        return;
    };
    let id = conv.conversation_id.clone();
    let name = app.display_name(conv).to_string();
    let is_group = App::is_group(conv);
    let current = app
        .compose
        .get(&id)
        .map(|cs| cs.options.clone())
        .unwrap_or_default();
    let p = SendOptionsPanel::new(&id, &name, is_group, &current, &app.theme);
    app.overlay = Some(Overlay::SendOptions(Box::new(p)));
}

/// Apply an action; returns whether the panel stays open.
pub(crate) fn handle(app: &mut App, p: &mut SendOptionsPanel, action: Action) -> bool {
    match action {
        Action::Back => return false,
        Action::Confirm => {
            let o = p.options();
            let cloud = o.cloud_custom_data.as_deref().map_or(0, str::len);
            if cloud > MESSAGE_BODY_MAX {
                p.notice = Notice::error(format!(
                    "Cloud custom data is {}; a message may carry at most {}",
                    super::bytes(cloud),
                    super::bytes(MESSAGE_BODY_MAX)
                ));
                return true;
            }
            let summary = o.summary();
            app.compose
                .entry(p.conversation_id.clone())
                .or_default()
                .options = o;
            let name = text::sanitize_line(&p.name).into_owned();
            if summary.is_empty() {
                app.notify(format!("Default send options in {name}"));
            } else {
                app.notify(format!("Send options in {name}: {summary}"));
            }
            return false;
        }
        Action::Reset => {
            let theme = app.theme.clone();
            *p = SendOptionsPanel {
                cursor: p.cursor,
                ..SendOptionsPanel::new(
                    &p.conversation_id,
                    &p.name,
                    p.is_group,
                    &SendOptions::default(),
                    &theme,
                )
            };
            p.notice = Notice::info("All options back to their defaults: Enter applies");
        }
        Action::SelectNext => p.move_cursor(1),
        Action::SelectPrev => p.move_cursor(-1),
        Action::Scroll { up, .. } => p.move_cursor(if up { -1 } else { 1 }),
        Action::Toggle if p.row().cycles() => p.change(true),
        Action::NextValue => p.change(true),
        Action::PrevValue => p.change(false),
        Action::Input(key) => {
            if let Some(i) = p.row().field() {
                p.fields[i].input(key);
                p.notice = None;
            }
        }
        Action::Paste(t) => {
            if let Some(i) = p.row().field() {
                p.fields[i].insert_str(pasted(&t, true));
            }
        }
        Action::Click { column, row } => {
            let rows = rows_area(Rect::new(0, 0, app.size.0, app.size.1));
            if rows.contains((column, row).into()) {
                let at = p.offset + usize::from(row - rows.y);
                if at < ROWS.len() {
                    p.cursor = at;
                    if p.row().toggles() {
                        p.change(true);
                    }
                }
            }
        }
        _ => {}
    }
    let page = usize::from(rows_area(Rect::new(0, 0, app.size.0, app.size.1)).height).max(1);
    p.offset = visible_offset(p.offset, Some(p.cursor), ROWS.len(), page);
    true
}

// ----- view -------------------------------------------------------------------------

pub fn rect(area: Rect) -> Rect {
    boxed(area, 72, 15)
}

fn inner_of(area: Rect) -> Rect {
    super::padded(ratatui::widgets::Block::bordered().inner(rect(area)))
}

/// Rows of the intro line, the option rows and the help line.
fn split(inner: Rect) -> (Option<Rect>, Rect, Option<Rect>) {
    let wanted = ROWS.len() as u16;
    let line = |y| Rect {
        y,
        height: 1,
        ..inner
    };
    // The help line first (it explains the focused option), then the intro, then
    // a blank row before the help line, as room allows.
    let help = (inner.height >= 4).then(|| line(inner.bottom() - 1));
    let mut top = inner.y;
    let mut bottom = help.map_or(inner.bottom(), |h| h.y);
    let intro = (inner.height >= wanted + 2).then(|| {
        top += 1;
        line(inner.y)
    });
    if inner.height >= wanted + 3 {
        bottom -= 1;
    }
    let rows = Rect {
        y: top,
        height: bottom.saturating_sub(top),
        ..inner
    };
    (intro, rows, help)
}

fn rows_area(area: Rect) -> Rect {
    split(inner_of(area)).1
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, p: &SendOptionsPanel) {
    let theme = &app.theme;
    let r = rect(area);
    if r.width < 8 || r.height < 3 {
        return;
    }
    let pending = p.options().summary();
    let status = Span::styled(
        if pending.is_empty() {
            "all defaults".to_string()
        } else {
            pending
        },
        theme.accent,
    );
    let keys = hints(
        app,
        Context::SendOptions,
        &[Action::Confirm, Action::Toggle, Action::Reset, Action::Back],
    );
    let inner = draw_box(
        app,
        frame,
        r,
        vec![
            Span::styled("Send options", theme.title),
            Span::styled(format!(" · {}", text::sanitize_line(&p.name)), theme.muted),
        ],
        Some(status),
        &keys,
    );
    let (intro, rows, help) = split(inner);
    if let Some(intro) = intro {
        super::put_line(
            frame,
            intro,
            intro.y,
            &fit_spans(
                vec![Span::styled(
                    "For every message you send here until reset.".to_string(),
                    theme.muted,
                )],
                usize::from(intro.width),
            ),
        );
    }
    if let Some(h) = help {
        let (t, style) = match &p.notice {
            Some(n) => (n.text.clone(), n.style(theme)),
            None => (p.row().help(p.is_group).to_string(), theme.muted),
        };
        super::put_line(
            frame,
            h,
            h.y,
            &fit_spans(vec![Span::styled(t, style)], usize::from(h.width)),
        );
    }
    if rows.height == 0 {
        return;
    }
    let w = usize::from(rows.width);
    let label_w = ROWS
        .iter()
        .map(|r| text::width(r.label()))
        .max()
        .unwrap_or(0)
        .min(w / 2);
    let value_x = rows.x + (label_w + 3).min(w) as u16;
    let value_w = rows.right().saturating_sub(value_x);
    let page = usize::from(rows.height);
    let offset = visible_offset(p.offset, Some(p.cursor), ROWS.len(), page);
    for (k, row) in ROWS.iter().enumerate().skip(offset).take(page) {
        let y = rows.y + (k - offset) as u16;
        let line_r = Rect {
            y,
            height: 1,
            ..rows
        };
        let focused = k == p.cursor;
        let enabled = p.row_enabled(*row);
        if focused {
            frame.buffer_mut().set_style(line_r, theme.selection);
        }
        let label_style = if !enabled {
            theme.muted
        } else if focused {
            theme.accent.add_modifier(Modifier::BOLD)
        } else {
            ratatui::style::Style::default()
        };
        let label = fit_spans(
            vec![Span::styled(row.label().to_string(), label_style)],
            label_w,
        );
        frame
            .buffer_mut()
            .set_line(rows.x + 1, y, &label, label_w as u16);
        if focused {
            frame
                .buffer_mut()
                .set_string(rows.x, y, "▌", theme.selection_marker);
        }
        if value_w == 0 {
            continue;
        }
        let value_r = Rect {
            x: value_x,
            width: value_w,
            ..line_r
        };
        let value: Vec<Span<'static>> = match row {
            Row::Priority => {
                let name = p.values.priority.name();
                let style = if p.values.priority == Priority::default() {
                    ratatui::style::Style::default()
                } else {
                    theme.accent.add_modifier(Modifier::BOLD)
                };
                vec![
                    Span::styled("‹ ", theme.muted),
                    Span::styled(name, style),
                    Span::styled(" ›", theme.muted),
                ]
            }
            r if r.toggles() && !enabled => vec![
                Span::styled("[ ]", theme.muted),
                Span::styled("  group conversations only", theme.muted),
            ],
            r if r.toggles() => {
                if p.flag(*r) {
                    vec![Span::styled("[✓]", theme.ok.add_modifier(Modifier::BOLD))]
                } else {
                    vec![Span::styled("[ ]", theme.muted)]
                }
            }
            _ => Vec::new(),
        };
        if let Some(i) = row.field() {
            let mut tag: Vec<Span<'static>> = Vec::new();
            let bytes = p.fields[i].lines().iter().map(String::len).sum::<usize>();
            if *row == Row::Local {
                let room = usize::from(value_w).saturating_sub(8);
                if let Some(t) = LOCAL_TAGS.iter().find(|t| text::width(t) < room) {
                    tag.push(Span::styled(*t, theme.local_only));
                }
            } else if *row == Row::Cloud && bytes > 0 {
                tag.push(Span::styled(super::bytes(bytes), theme.muted));
            }
            let tag_w: u16 = tag.iter().map(Span::width).sum::<usize>() as u16;
            let field_w = value_w.saturating_sub(if tag_w > 0 { tag_w + 1 } else { 0 });
            let field_r = Rect {
                width: field_w,
                ..value_r
            };
            let style = if *row == Row::Local && !p.fields[i].is_empty() {
                theme.input.patch(theme.local_only)
            } else {
                theme.input
            };
            render_field(frame, &p.fields[i], field_r, focused, style);
            if tag_w > 0 {
                frame.buffer_mut().set_line(
                    value_r.right() - tag_w,
                    y,
                    &ratatui::text::Line::from(tag),
                    tag_w,
                );
            }
        } else {
            let line = fit_spans(value, usize::from(value_w));
            frame.buffer_mut().set_line(value_x, y, &line, value_w);
        }
    }
}
