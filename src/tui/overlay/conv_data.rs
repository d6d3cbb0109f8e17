//! The conversation custom-data editor: one string set on several conversations at
//! once with `set_conversation_custom_data`; one result per conversation (a failure
//! on one never hides the others' success); bytes counted against 256 B.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::Span;
use ratatui_textarea::TextArea;

use super::{
    Notice, boxed, draw_box, field_text, field_with, focus_field, hints, pasted, render_field,
    split_line,
};
use crate::model::ConversationOperationResult;
use crate::model::limits::{CONVERSATION_BATCH_MAX, CONVERSATION_CUSTOM_DATA_MAX};
use crate::tui::action::{Action, Context};
use crate::tui::app::{App, Overlay};
use crate::tui::effect::{Effect, SdkError};
use crate::tui::text;

/// Where the editor is in its round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Editing,
    /// Sent; waiting for the results.
    Saving,
    /// The server answered.
    Done(Result<Vec<ConversationOperationResult>, SdkError>),
}

#[derive(Debug, Clone)]
pub struct ConversationDataEditor {
    pub conversation_ids: Vec<String>,
    pub field: TextArea<'static>,
    pub stage: Stage,
    pub notice: Option<Notice>,
    /// First conversation row shown.
    pub offset: usize,
}

impl PartialEq for ConversationDataEditor {
    fn eq(&self, other: &Self) -> bool {
        self.conversation_ids == other.conversation_ids
            && self.stage == other.stage
            && self.notice == other.notice
            && self.field.lines() == other.field.lines()
    }
}

impl Eq for ConversationDataEditor {}

impl ConversationDataEditor {
    pub fn text(&self) -> String {
        field_text(&self.field)
    }

    pub fn saving(&self) -> bool {
        self.stage == Stage::Saving
    }

    /// The result for one conversation, once the server answered.
    pub fn result_of(&self, id: &str) -> Option<Result<(), String>> {
        match &self.stage {
            Stage::Done(Ok(list)) => list.iter().find(|r| r.conversation_id == id).map(|r| {
                if r.result_code == 0 {
                    Ok(())
                } else {
                    Err(crate::tui::explain::failure(&SdkError::new(
                        r.result_code,
                        r.result_info.clone(),
                    )))
                }
            }),
            _ => None,
        }
    }
}

// ----- reducer ----------------------------------------------------------------------

/// Open the editor for the marked conversations, or the selected one when none is
/// marked. The field starts with their current data when they all share it.
pub(crate) fn open(app: &mut App, ids: Vec<String>) {
    if ids.is_empty() {
        app.notify("Select or mark (Space) conversations first");
        return;
    }
    let current: Vec<&str> = ids
        .iter()
        .filter_map(|id| app.conversation(id))
        .map(|c| c.custom_data.as_str())
        .collect();
    let shared = match current.first() {
        Some(first) if current.iter().all(|c| c == first) => first.to_string(),
        _ => String::new(),
    };
    let mut field = field_with(
        &shared,
        "any text up to 256 bytes (empty clears it)",
        &app.theme,
    );
    focus_field(&mut field, true);
    app.overlay = Some(Overlay::ConversationData(Box::new(
        ConversationDataEditor {
            conversation_ids: ids,
            field,
            stage: Stage::Editing,
            notice: None,
            offset: 0,
        },
    )));
}

/// The conversations the editor acts on from the list: the marked ones, else the
/// selected one.
pub(crate) fn targets_from_list(app: &App) -> Vec<String> {
    if !app.marked.is_empty() {
        return app.marked.clone();
    }
    app.selected_row()
        .and_then(|row| app.row_conversation(row))
        .and_then(|i| app.conversations.get(i))
        .map(|c| vec![c.conversation_id.clone()])
        .unwrap_or_default()
}

pub(crate) fn handle(
    _app: &mut App,
    e: &mut ConversationDataEditor,
    action: Action,
) -> (bool, Vec<Effect>) {
    match action {
        Action::Back => return (false, Vec::new()),
        Action::Confirm => match &e.stage {
            Stage::Saving => {}
            Stage::Done(Ok(list)) if list.iter().all(|r| r.result_code == 0) => {
                return (false, Vec::new());
            }
            _ => {
                let data = e.text();
                if data.len() > CONVERSATION_CUSTOM_DATA_MAX {
                    e.notice = Notice::error(format!(
                        "{} is over the {CONVERSATION_CUSTOM_DATA_MAX}-byte limit: not saved",
                        super::bytes(data.len())
                    ));
                    return (true, Vec::new());
                }
                if e.conversation_ids.len() > CONVERSATION_BATCH_MAX {
                    e.notice = Notice::error(format!(
                        "At most {CONVERSATION_BATCH_MAX} conversations at once (51006)"
                    ));
                    return (true, Vec::new());
                }
                e.stage = Stage::Saving;
                e.notice = None;
                return (
                    true,
                    vec![Effect::SetConversationData {
                        conversation_ids: e.conversation_ids.clone(),
                        data,
                    }],
                );
            }
        },
        Action::Input(key) if !e.saving() => {
            let changed = e.field.input(key);
            if changed {
                e.stage = Stage::Editing;
                e.notice = None;
            }
        }
        Action::Paste(t) if !e.saving() => {
            e.field.insert_str(pasted(&t, true));
            e.stage = Stage::Editing;
            e.notice = None;
        }
        Action::Scroll { up, .. } => {
            e.offset = if up {
                e.offset.saturating_sub(1)
            } else {
                (e.offset + 1).min(e.conversation_ids.len().saturating_sub(1))
            };
        }
        _ => {}
    }
    (true, Vec::new())
}

/// The server answered a `SetConversationData`.
pub(crate) fn on_result(
    app: &mut App,
    ids: &[String],
    data: &str,
    result: Result<Vec<ConversationOperationResult>, SdkError>,
) {
    // What succeeded is known at once (the SDK's change events confirm it).
    let mut ok = 0;
    if let Ok(list) = &result {
        for r in list.iter().filter(|r| r.result_code == 0) {
            ok += 1;
            if let Some(i) = app.conv_index(&r.conversation_id) {
                app.conversations[i].custom_data = data.to_string();
            }
            app.marked.retain(|m| *m != r.conversation_id);
        }
    }
    match &result {
        Ok(list) if ok == list.len() => app.notify(format!(
            "Custom data saved on {ok} conversation{}",
            if ok == 1 { "" } else { "s" }
        )),
        Ok(list) => app.notify_error(format!(
            "Custom data saved on {ok} of {} conversations",
            list.len()
        )),
        Err(err) => app.notify_error(format!(
            "Custom data not saved: {}",
            crate::tui::explain::failure(err)
        )),
    }
    if let Some(e) = super::find_mut(app, |o| match o {
        Overlay::ConversationData(e) => Some(e.as_mut()),
        _ => None,
    }) && e.saving()
        && e.conversation_ids == ids
    {
        e.stage = Stage::Done(result);
    }
}

// ----- view -------------------------------------------------------------------------

/// Rows the value field takes for `data` at inside width `w`.
fn field_rows(data: &str, w: u16) -> u16 {
    let rows = text::wrap(data, usize::from(w.saturating_sub(3).max(1))).len();
    u16::try_from(rows).unwrap_or(u16::MAX).clamp(1, 3)
}

/// The box: borders, the value's label and field, a blank row, a row per
/// conversation (and one for a whole-request error), within limits.
pub fn rect(app: &App, area: Rect, e: &ConversationDataEditor) -> Rect {
    let inner_w = boxed(area, 70, 20).width.saturating_sub(4);
    let rows = u16::try_from(list_lines(app, e, inner_w).len()).unwrap_or(u16::MAX);
    let h = rows
        .saturating_add(field_rows(&e.text(), inner_w))
        .saturating_add(4);
    boxed(area, 70, h.clamp(7, 20))
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, e: &ConversationDataEditor) {
    let theme = &app.theme;
    let r = rect(app, area, e);
    if r.width < 8 || r.height < 3 {
        return;
    }
    let data = e.text();
    let over = data.len() > CONVERSATION_CUSTOM_DATA_MAX;
    let n = e.conversation_ids.len();
    let saved = match &e.stage {
        Stage::Done(Ok(list)) => Some(list.iter().filter(|r| r.result_code == 0).count()),
        _ => None,
    };
    let status = match (&e.notice, &e.stage, saved) {
        (Some(notice), _, _) => Some(Span::styled(notice.text.clone(), notice.style(theme))),
        (None, Stage::Saving, _) => Some(Span::styled("saving…", theme.muted)),
        (None, _, Some(k)) if k == n => Some(Span::styled("✓ saved on all", theme.ok)),
        (None, _, Some(k)) => Some(Span::styled(format!("saved on {k} of {n}"), theme.error)),
        (None, Stage::Done(Err(_)), _) => Some(Span::styled("not saved", theme.error)),
        _ => None,
    };
    let done = saved == Some(n);
    let keys = if done {
        hints(app, Context::ConversationData, &[Action::Back])
    } else {
        hints(
            app,
            Context::ConversationData,
            &[Action::Confirm, Action::Back],
        )
    };
    let inner = draw_box(
        app,
        frame,
        r,
        vec![
            Span::styled("Custom data", theme.title),
            Span::styled(
                format!(" · for {n} conversation{}", if n == 1 { "" } else { "s" }),
                theme.muted,
            ),
        ],
        status,
        &keys,
    );
    if inner.height == 0 {
        return;
    }
    // The value: a label row, then the field (up to three rows).
    let field_rows = field_rows(&data, inner.width).min(inner.height.saturating_sub(1).max(1));
    let mut y = inner.y;
    if inner.height >= 3 {
        split_line(
            frame,
            inner,
            y,
            vec![
                Span::styled("▸ Value", theme.accent.add_modifier(Modifier::BOLD)),
                Span::styled("  synced to all your devices", theme.muted),
            ],
            vec![Span::styled(
                format!("{} / {CONVERSATION_CUSTOM_DATA_MAX} B", data.len()),
                if over { theme.error } else { theme.muted },
            )],
        );
        y += 1;
    }
    let field = Rect {
        x: inner.x + 2.min(inner.width / 4),
        y,
        width: inner.width.saturating_sub(2.min(inner.width / 4)),
        height: field_rows.min(inner.bottom().saturating_sub(y)),
    };
    render_field(frame, &e.field, field, !e.saving(), theme.input);
    y = field.bottom();
    if y + 2 > inner.bottom() {
        return;
    }
    // The conversations: name, current value, result (a failure's reason below).
    y += 1;
    let lines = list_lines(app, e, inner.width);
    let rows = usize::from(inner.bottom().saturating_sub(y));
    let offset = e.offset.min(lines.len().saturating_sub(rows));
    for (k, (left, right)) in lines.into_iter().skip(offset).take(rows).enumerate() {
        split_line(frame, inner, y + k as u16, left, right);
    }
}

type Row = (Vec<Span<'static>>, Vec<Span<'static>>);

/// The rows under the value at inside width `w`: one per conversation (its name,
/// current value and result), and under a failure its reason, wrapped.
fn list_lines(app: &App, e: &ConversationDataEditor, w: u16) -> Vec<Row> {
    let theme = &app.theme;
    let w = usize::from(w);
    let mut out: Vec<Row> = Vec::new();
    let wrapped = |out: &mut Vec<Row>, t: &str, indent: usize| {
        for r in text::wrap(t, w.saturating_sub(indent).max(1)) {
            out.push((
                vec![
                    Span::raw(" ".repeat(indent)),
                    Span::styled(t[r].to_string(), theme.error),
                ],
                Vec::new(),
            ));
        }
    };
    if let Stage::Done(Err(err)) = &e.stage {
        let t = format!("✗ nothing saved: {}", crate::tui::explain::failure(err));
        wrapped(&mut out, &t, 0);
    }
    let name_w = e
        .conversation_ids
        .iter()
        .map(|id| {
            app.conversation(id)
                .map_or(text::width(id), |c| text::width(app.display_name(c)))
        })
        .max()
        .unwrap_or(0)
        .min(w / 3)
        .max(4);
    for id in &e.conversation_ids {
        let (name, current) = match app.conversation(id) {
            Some(c) => (app.display_name(c).to_string(), c.custom_data.clone()),
            None => (id.clone(), String::new()),
        };
        let mut left = vec![
            Span::raw("  "),
            Span::raw(text::fit(&text::sanitize_line(&name), name_w)),
            Span::raw("  "),
        ];
        if current.is_empty() {
            left.push(Span::styled("no custom data", theme.muted));
        } else {
            left.push(Span::styled("now ", theme.muted));
            left.push(Span::raw(format!("“{}”", text::sanitize_line(&current))));
        }
        let result = e.result_of(id);
        let right = match &result {
            Some(Ok(())) => vec![Span::styled("✓ saved", theme.ok)],
            Some(Err(_)) => vec![Span::styled("✗ not saved", theme.error)],
            None if e.saving() => vec![Span::styled("⋯", theme.sending)],
            None => Vec::new(),
        };
        out.push((left, right));
        if let Some(Err(why)) = result {
            wrapped(&mut out, &text::sanitize_line(&why), 4);
        }
    }
    out
}
