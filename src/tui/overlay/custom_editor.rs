//! The custom-message editor: data, desc and extension, each a text field; an
//! optional JSON check of the data that marks the first error (any text can still be
//! sent); byte counts against the 12 KB body limit. Sending is
//! `create_custom_message(data, desc, extension)` → `send_message` (targeted too
//! when the picker armed the composer).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::Span;
use ratatui_textarea::{CursorMove, TextArea};

use super::{
    Notice, boxed, draw_box, field_text, field_with, focus_field, hints, pasted, render_field,
    split_line,
};
use crate::model::limits::MESSAGE_BODY_MAX;
use crate::tui::action::{Action, Context};
use crate::tui::app::{App, Focus, Overlay};
use crate::tui::effect::{Effect, Outgoing, OutgoingContent};
use crate::tui::json;
use crate::tui::text;
use crate::tui::theme::Theme;

pub const DATA: usize = 0;
pub const DESC: usize = 1;
pub const EXT: usize = 2;

const LABELS: [&str; 3] = ["Data", "Description", "Extension"];
const NOTES: [&str; 3] = ["", "headline · offline push text", "offline push payload"];
const PLACEHOLDERS: [&str; 3] = [
    r#"any text; JSON is common, e.g. {"type":"poll"}"#,
    "what receivers see first",
    "optional",
];

#[derive(Debug, Clone)]
pub struct CustomEditor {
    pub conversation_id: String,
    /// data, desc, extension.
    pub fields: [TextArea<'static>; 3],
    pub focus: usize,
    /// Validate the data as JSON while typing.
    pub check_json: bool,
    pub notice: Option<Notice>,
}

impl PartialEq for CustomEditor {
    fn eq(&self, other: &Self) -> bool {
        self.conversation_id == other.conversation_id
            && self.focus == other.focus
            && self.check_json == other.check_json
            && self.notice == other.notice
            && super::same_text(&self.fields, &other.fields)
    }
}

impl Eq for CustomEditor {}

impl CustomEditor {
    pub fn new(conversation_id: &str, theme: &Theme) -> Self {
        Self::with(conversation_id, ["", "", ""], theme)
    }

    pub fn with(conversation_id: &str, values: [&str; 3], theme: &Theme) -> Self {
        let mut e = Self {
            conversation_id: conversation_id.to_string(),
            fields: [0, 1, 2].map(|i| field_with(values[i], PLACEHOLDERS[i], theme)),
            focus: DATA,
            check_json: false,
            notice: None,
        };
        e.sync_focus();
        e
    }

    pub fn text(&self, field: usize) -> String {
        self.fields.get(field).map(field_text).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.iter().all(|f| f.is_empty())
    }

    /// Bytes of data + desc + extension.
    pub fn content_bytes(&self) -> usize {
        (0..3).map(|i| self.text(i).len()).sum()
    }

    pub(crate) fn sync_focus(&mut self) {
        for (i, f) in self.fields.iter_mut().enumerate() {
            focus_field(f, i == self.focus);
        }
    }
}

/// Bytes of the armed cloud custom data of a conversation (it counts toward 12 KB).
fn cloud_bytes(app: &App, conversation_id: &str) -> usize {
    app.compose
        .get(conversation_id)
        .and_then(|cs| cs.options.cloud_custom_data.as_deref())
        .map_or(0, str::len)
}

// ----- reducer ----------------------------------------------------------------------

/// Open the editor for the open conversation, with what was left in it before.
pub(crate) fn open(app: &mut App) -> Vec<Effect> {
    let Some(id) = app.open.clone() else {
        app.notify("Open a conversation first");
        return Vec::new();
    };
    let mut e = match app.custom_drafts.remove(&id) {
        Some(e) => e,
        None => Box::new(CustomEditor::new(&id, &app.theme)),
    };
    e.notice = None;
    e.sync_focus();
    app.overlay = Some(Overlay::CustomMessage(e));
    Vec::new()
}

/// Creating a custom message failed: put it back in the editor's draft.
pub(crate) fn give_back(
    app: &mut App,
    conversation_id: &str,
    data: &str,
    desc: &str,
    extension: &str,
) {
    let occupied = app
        .custom_drafts
        .get(conversation_id)
        .is_some_and(|e| !e.is_empty())
        || matches!(&app.overlay, Some(Overlay::CustomMessage(e)) if e.conversation_id == conversation_id);
    if occupied {
        return;
    }
    let e = CustomEditor::with(conversation_id, [data, desc, extension], &app.theme);
    app.custom_drafts
        .insert(conversation_id.to_string(), Box::new(e));
}

/// Apply an action; returns whether the editor stays open, and the effects.
pub(crate) fn handle(app: &mut App, e: &mut CustomEditor, action: Action) -> (bool, Vec<Effect>) {
    match action {
        Action::Back => {
            e.notice = None;
            if !e.is_empty() {
                app.custom_drafts
                    .insert(e.conversation_id.clone(), Box::new(e.clone()));
            }
            return (false, Vec::new());
        }
        Action::NextField => e.focus = (e.focus + 1) % 3,
        Action::PrevField => e.focus = (e.focus + 2) % 3,
        Action::ValidateJson => {
            e.check_json = !e.check_json;
            e.notice = if e.check_json {
                Notice::info("JSON check on (any text can still be sent)")
            } else {
                Notice::info("JSON check off")
            };
        }
        Action::Send => return send(app, e),
        Action::Input(key) => {
            let changed = e.fields[e.focus].input(key);
            if changed {
                e.notice = None;
            }
        }
        Action::Paste(t) => {
            e.fields[e.focus].insert_str(pasted(&t, false));
            e.notice = None;
        }
        Action::Click { column, row } => {
            let area = Rect::new(0, 0, app.size.0, app.size.1);
            if let Some(i) = layout(inner_of(area), e.focus).iter().position(|f| {
                f.is_some_and(|f| f.label.union(f.field).contains((column, row).into()))
            }) {
                e.focus = i;
            }
        }
        _ => {}
    }
    (true, Vec::new())
}

fn send(app: &mut App, e: &mut CustomEditor) -> (bool, Vec<Effect>) {
    let (data, desc, extension) = (e.text(DATA), e.text(DESC), e.text(EXT));
    if data.trim().is_empty() {
        e.notice = Notice::error("Write the data first (any text; JSON is common)");
        e.focus = DATA;
        return (true, Vec::new());
    }
    let total = data.len() + desc.len() + extension.len() + cloud_bytes(app, &e.conversation_id);
    if total > MESSAGE_BODY_MAX {
        e.notice = Notice::error(format!(
            "{} over the 12 KB limit: not sent (8001)",
            super::bytes(total - MESSAGE_BODY_MAX)
        ));
        return (true, Vec::new());
    }
    let id = e.conversation_id.clone();
    app.custom_drafts.remove(&id);
    let cs = app.compose.entry(id.clone()).or_default();
    let targets = std::mem::take(&mut cs.targets);
    let options = cs.options.clone();
    if let Some(w) = app.windows.get_mut(&id) {
        w.view.follow();
        w.view.selected = None;
    }
    if app.open.as_deref() == Some(id.as_str()) {
        app.focus = Focus::Composer;
    }
    let send = Effect::Send(Outgoing {
        conversation_id: id,
        content: OutgoingContent::Custom {
            data,
            desc,
            extension,
        },
        targets,
        options,
    });
    (false, vec![send])
}

// ----- view -------------------------------------------------------------------------

pub fn rect(area: Rect) -> Rect {
    boxed(area, 76, 18)
}

fn inner_of(area: Rect) -> Rect {
    super::padded(ratatui::widgets::Block::bordered().inner(rect(area)))
}

#[derive(Debug, Clone, Copy)]
struct FieldArea {
    label: Rect,
    field: Rect,
}

/// Where the three fields go in `inner` (a label row, then the text). When there
/// is no room for all three, only the focused one is shown.
fn layout(inner: Rect, focus: usize) -> [Option<FieldArea>; 3] {
    let row = |y: u16, h: u16| Rect {
        y,
        height: h,
        ..inner
    };
    let mut out = [None; 3];
    let h = inner.height;
    if h >= 6 {
        // A summary row at the bottom when there is room.
        let usable = if h >= 9 { h - 1 } else { h };
        let text_rows = usable - 3;
        let ext = (text_rows / 6).clamp(1, 2);
        let desc = (text_rows / 4).clamp(1, 3);
        let data = text_rows - ext - desc;
        let mut y = inner.y;
        for (i, rows) in [data, desc, ext].into_iter().enumerate() {
            out[i] = Some(FieldArea {
                label: row(y, 1),
                field: row(y + 1, rows),
            });
            y += 1 + rows;
        }
    } else if h >= 2 {
        out[focus] = Some(FieldArea {
            label: row(inner.y, 1),
            field: row(inner.y + 1, h - 1),
        });
    } else if h == 1 {
        out[focus] = Some(FieldArea {
            label: row(inner.y, 0),
            field: row(inner.y, 1),
        });
    }
    out
}

/// The summary row: who the message goes to and which options it carries.
fn summary(app: &App, e: &CustomEditor) -> Vec<Span<'static>> {
    let theme = &app.theme;
    let cs = app.compose.get(&e.conversation_id);
    let mut spans = Vec::new();
    match cs.filter(|cs| !cs.targets.is_empty()) {
        Some(cs) => {
            let shown: Vec<String> = cs
                .targets
                .iter()
                .take(3)
                .map(|u| text::sanitize_line(u).into_owned())
                .collect();
            let more = cs.targets.len().saturating_sub(3);
            let mut t = format!("⇢ only to {}", shown.join(", "));
            if more > 0 {
                t.push_str(&format!(" (+{more})"));
            }
            spans.push(Span::styled(t, theme.targeted));
        }
        None => {
            let name = app
                .conversation(&e.conversation_id)
                .map(|c| app.display_name(c).to_string())
                .unwrap_or_else(|| e.conversation_id.clone());
            spans.push(Span::styled(
                format!("to {}", text::sanitize_line(&name)),
                theme.muted,
            ));
        }
    }
    if let Some(s) = cs.map(|cs| cs.options.summary()).filter(|s| !s.is_empty()) {
        spans.push(Span::styled(" · ", theme.muted));
        spans.push(Span::styled(s, theme.accent));
    }
    spans
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, e: &CustomEditor) {
    let theme = &app.theme;
    let r = rect(area);
    if r.width < 8 || r.height < 3 {
        return;
    }
    let cloud = cloud_bytes(app, &e.conversation_id);
    let total = e.content_bytes() + cloud;
    let status = match &e.notice {
        Some(n) => Span::styled(n.text.clone(), n.style(theme)),
        None => {
            let mut t = format!(
                "{} of {}",
                super::bytes(total),
                super::bytes(MESSAGE_BODY_MAX)
            );
            if cloud > 0 {
                t.push_str(" incl. cloud data");
            }
            let style = if total > MESSAGE_BODY_MAX {
                theme.error
            } else {
                theme.muted
            };
            Span::styled(t, style)
        }
    };
    let keys = hints(
        app,
        Context::CustomMessage,
        &[
            Action::Send,
            Action::NextField,
            Action::ValidateJson,
            Action::Back,
        ],
    );
    let inner = draw_box(
        app,
        frame,
        r,
        vec![Span::styled("Custom message", theme.title)],
        Some(status),
        &keys,
    );
    let data = e.text(DATA);
    let json_state = e.check_json.then(|| json::check(&data));
    let areas = layout(inner, e.focus);
    for (i, fa) in areas.iter().enumerate() {
        let Some(fa) = fa else {
            continue;
        };
        let focused = i == e.focus;
        let label_style = if focused {
            theme.accent.add_modifier(Modifier::BOLD)
        } else {
            theme.muted
        };
        let mut left = vec![Span::styled(
            format!("{}{}", if focused { "▸ " } else { "  " }, LABELS[i]),
            label_style,
        )];
        if !NOTES[i].is_empty() {
            left.push(Span::styled(format!("  {}", NOTES[i]), theme.muted));
        }
        let size = super::bytes(
            e.fields[i]
                .lines()
                .iter()
                .map(|l| l.len() + 1)
                .sum::<usize>()
                .saturating_sub(1),
        );
        // The JSON verdict, as long as the row allows: with the reason, without it,
        // or just the mark and position.
        let room = usize::from(fa.label.width).saturating_sub(text::width(LABELS[i]) + 4);
        let mut right = vec![Span::styled(size.clone(), theme.muted)];
        if i == DATA
            && let Some(state) = &json_state
        {
            let forms: Vec<(String, ratatui::style::Style)> = match state {
                Ok(()) => vec![
                    (format!("JSON ✓  {size}"), theme.ok),
                    ("JSON ✓".into(), theme.ok),
                    ("✓".into(), theme.ok),
                ],
                Err(err) => {
                    let at = format!("{}:{}", err.line + 1, err.col + 1);
                    vec![
                        (format!("JSON ✗ {at} {}  {size}", err.message), theme.error),
                        (format!("JSON ✗ {at} {}", err.message), theme.error),
                        (format!("JSON ✗ {at}"), theme.error),
                        (format!("✗ {at}"), theme.error),
                    ]
                }
            };
            if let Some((t, style)) = forms.into_iter().find(|(t, _)| text::width(t) + 6 <= room) {
                right = match t.strip_suffix(size.as_str()) {
                    Some(verdict) => vec![
                        Span::styled(verdict.to_string(), style),
                        Span::styled(size.clone(), theme.muted),
                    ],
                    None => vec![Span::styled(t, style)],
                };
            }
        }
        if fa.label.height > 0 {
            split_line(frame, fa.label, fa.label.y, left, right);
        }
        let field = Rect {
            x: fa.field.x + 2.min(fa.field.width / 4),
            width: fa.field.width.saturating_sub(2.min(fa.field.width / 4)),
            ..fa.field
        };
        render_field(frame, &e.fields[i], field, focused, theme.input);
        if i == DATA
            && let Some(Err(err)) = &json_state
        {
            mark_error(frame, &e.fields[DATA], field, err, theme);
        }
    }
    if areas.iter().all(Option::is_some) {
        let last = areas[EXT].map_or(inner.y, |a| a.field.bottom());
        if last < inner.bottom() {
            split_line(
                frame,
                inner,
                inner.bottom() - 1,
                summary(app, e),
                Vec::new(),
            );
        }
    }
}

/// Highlight the cell of the first JSON error, where the field shows it.
fn mark_error(
    frame: &mut Frame,
    t: &TextArea<'static>,
    r: Rect,
    err: &json::JsonError,
    theme: &Theme,
) {
    let lines = t.lines();
    let Some(last) = lines.len().checked_sub(1) else {
        return;
    };
    let row = err.line.min(last);
    let col = err.col.min(lines[row].chars().count());
    // A copy of the field with its cursor on the error says where that is on screen.
    let mut probe = t.clone();
    probe.move_cursor(CursorMove::Jump(
        u16::try_from(row).unwrap_or(u16::MAX),
        u16::try_from(col).unwrap_or(u16::MAX),
    ));
    let sc = probe.screen_cursor();
    let (top_row, top_col) = t.scroll_offset();
    let (Some(dy), Some(dx)) = (
        sc.row.checked_sub(usize::from(top_row)),
        sc.col.checked_sub(usize::from(top_col)),
    ) else {
        return;
    };
    if dy < usize::from(r.height) && dx < usize::from(r.width) {
        let pos = (r.x + dx as u16, r.y + dy as u16);
        frame.buffer_mut()[pos].set_style(theme.error_mark);
    }
}
