//! Details: every field of a message (so a user can check what was sent: ids,
//! seq, status, priority, flags, custom data, offline push, receivers), and a
//! conversation's fields with its custom data. Both are drawn from the live state,
//! so a status change or a change from another device shows as it arrives.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::{boxed, draw_box, hints};
use crate::model::limits::{CONVERSATION_CUSTOM_DATA_MAX, MESSAGE_BODY_MAX};
use crate::model::{Conversation, Message, MessageStatus, elem_type};
use crate::tui::action::{Action, Context};
use crate::tui::app::{App, Overlay};
use crate::tui::clipboard::{CopyPart, copy_message};
use crate::tui::clock::Clock;
use crate::tui::effect::Effect;
use crate::tui::text;
use crate::tui::theme::Theme;
use crate::tui::window::message_key;

/// Widest the field-name column gets.
const KEY_W: usize = 13;
/// Rows the mouse wheel scrolls.
const WHEEL_ROWS: isize = 3;

/// The box for `lines` lines of details (as tall as they need, within limits).
pub fn rect(area: Rect, lines: usize) -> Rect {
    let h = u16::try_from(lines).unwrap_or(u16::MAX);
    boxed(area, 76, h.saturating_add(2).clamp(6, 24))
}

/// Columns the details are laid out in (the box is as wide at any height).
fn text_width(area: Rect) -> usize {
    usize::from(rect(area, 0).width.saturating_sub(4))
}

fn page(area: Rect, lines: usize) -> usize {
    usize::from(rect(area, lines).height.saturating_sub(2)).max(1)
}

// ----- reducer ----------------------------------------------------------------------

/// Details of the selected message (the newest when none is selected).
pub(crate) fn open_message(app: &mut App) {
    let Some(id) = app.open.clone() else {
        return;
    };
    let Some(w) = app.windows.get_mut(&id) else {
        return;
    };
    let Some(i) = w.view.selected.or(w.messages.len().checked_sub(1)) else {
        app.notify("No messages here yet");
        return;
    };
    w.view.selected = Some(i);
    let key = message_key(&w.messages[i]).to_string();
    app.overlay = Some(Overlay::MessageDetails {
        conversation_id: id,
        key,
        scroll: 0,
    });
}

pub(crate) fn open_conversation(app: &mut App, conversation_id: String) {
    app.overlay = Some(Overlay::ConversationDetails {
        conversation_id,
        scroll: 0,
    });
}

fn lines_of(app: &App, o: &Overlay, width: usize) -> usize {
    match o {
        Overlay::MessageDetails {
            conversation_id,
            key,
            ..
        } => find_message(app, conversation_id, key)
            .map_or(1, |m| message_lines(app, m, width).len()),
        Overlay::ConversationDetails {
            conversation_id, ..
        } => app
            .conversation(conversation_id)
            .map_or(1, |c| conversation_lines(app, c, width).len()),
        _ => 0,
    }
}

/// Apply an action to a details overlay (taken out of `app.overlay`; put back
/// unless it closes).
pub(crate) fn handle(app: &mut App, mut o: Overlay, action: Action) -> Vec<Effect> {
    let area = Rect::new(0, 0, app.size.0, app.size.1);
    let lines = lines_of(app, &o, text_width(area));
    let page = page(area, lines) as isize;
    let delta: isize = match action {
        Action::Back => return Vec::new(),
        Action::Copy | Action::CopyId => {
            let effects = copy(app, &o, action);
            app.overlay = Some(o);
            return effects;
        }
        Action::ConversationData => {
            if let Overlay::ConversationDetails {
                conversation_id, ..
            } = o
            {
                super::conv_data::open(app, vec![conversation_id]);
            } else {
                app.overlay = Some(o);
            }
            return Vec::new();
        }
        Action::Click { column, row } => {
            if !rect(area, lines).contains((column, row).into()) {
                return Vec::new();
            }
            0
        }
        Action::SelectNext => 1,
        Action::SelectPrev => -1,
        Action::PageDown => page,
        Action::PageUp => -page,
        Action::SelectFirst => isize::MIN / 2,
        Action::SelectLast => isize::MAX / 2,
        Action::Scroll { up, .. } => {
            if up {
                -WHEEL_ROWS
            } else {
                WHEEL_ROWS
            }
        }
        _ => 0,
    };
    let max = lines.saturating_sub(page as usize);
    if let Overlay::MessageDetails { scroll, .. } | Overlay::ConversationDetails { scroll, .. } =
        &mut o
    {
        *scroll = scroll.saturating_add_signed(delta).min(max);
    }
    app.overlay = Some(o);
    Vec::new()
}

/// `y` (text) and `Y` (msgID) in message details.
fn copy(app: &mut App, o: &Overlay, action: Action) -> Vec<Effect> {
    let Overlay::MessageDetails {
        conversation_id,
        key,
        ..
    } = o
    else {
        app.notify_brief("Copying works in a message's details", false);
        return Vec::new();
    };
    let part = if action == Action::CopyId {
        CopyPart::MsgId
    } else {
        CopyPart::Text
    };
    let m = find_message(app, conversation_id, key).cloned();
    if m.is_none() {
        app.notify_brief("This message is no longer loaded", true);
        return Vec::new();
    }
    copy_message(app, m.as_ref(), part)
}

// ----- content ----------------------------------------------------------------------

pub(crate) fn find_message<'a>(
    app: &'a App,
    conversation_id: &str,
    key: &str,
) -> Option<&'a Message> {
    app.windows
        .get(conversation_id)?
        .messages
        .iter()
        .rev()
        .find(|m| message_key(m) == key || (!m.id.is_empty() && m.id == key))
}

/// "2026-03-14 20:30:05 UTC+8".
pub fn full_time(clock: &Clock, ts: i64) -> String {
    let t = clock.local(ts);
    let secs = ts.rem_euclid(60);
    let off = clock.utc_offset;
    let (sign, off) = if off < 0 { ('-', -off) } else { ('+', off) };
    let zone = if off % 3600 == 0 {
        format!("UTC{sign}{}", off / 3600)
    } else {
        format!("UTC{sign}{}:{:02}", off / 3600, (off % 3600) / 60)
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{secs:02} {zone}",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

/// Field lines: the name in a column, the value wrapped beside it.
struct Fields<'t> {
    lines: Vec<Line<'static>>,
    width: usize,
    theme: &'t Theme,
}

impl<'t> Fields<'t> {
    fn new(width: usize, theme: &'t Theme) -> Self {
        Self {
            lines: Vec::new(),
            width,
            theme,
        }
    }

    fn key_w(&self) -> usize {
        KEY_W.min(self.width / 3)
    }

    /// A field whose value is one or more styled spans on one line (wrapped when
    /// it is a single plain value).
    fn spans(&mut self, name: &str, value: Vec<Span<'static>>) {
        let kw = self.key_w();
        let room = self.width.saturating_sub(kw + 1).max(1);
        let key = Span::styled(text::fit(name, kw), self.theme.muted);
        if value.len() == 1 {
            let style = value[0].style;
            let clean = text::sanitize(&value[0].content).into_owned();
            let mut first = true;
            for r in text::wrap(&clean, room) {
                let k = if first {
                    key.clone()
                } else {
                    Span::raw(" ".repeat(kw))
                };
                first = false;
                self.lines.push(Line::from(vec![
                    k,
                    Span::raw(" "),
                    Span::styled(clean[r].to_string(), style),
                ]));
            }
            return;
        }
        let mut spans = vec![key, Span::raw(" ")];
        spans.extend(value);
        self.lines
            .push(crate::tui::view::fit_spans(spans, self.width));
    }

    fn field(&mut self, name: &str, value: impl Into<String>, style: Style) {
        self.spans(name, vec![Span::styled(value.into(), style)]);
    }

    fn plain(&mut self, name: &str, value: impl Into<String>) {
        self.field(name, value, Style::default());
    }

    fn none(&mut self, name: &str) {
        self.field(name, "—", self.theme.muted);
    }

    fn heading(&mut self, title: &str) {
        self.lines.push(Line::raw(""));
        self.lines.push(Line::styled(
            title.to_string(),
            self.theme.accent.add_modifier(Modifier::BOLD),
        ));
    }

    /// A block of text, wrapped, indented by two.
    fn block(&mut self, body: &str, style: Style) {
        let clean = text::sanitize(body).into_owned();
        for r in text::wrap(&clean, self.width.saturating_sub(2).max(1)) {
            self.lines.push(Line::from(vec![
                Span::raw("  "),
                Span::styled(clean[r].to_string(), style),
            ]));
        }
    }

    /// A custom-data style string field: quoted, with its size.
    fn data(&mut self, name: &str, value: Option<&str>, note: Option<(&str, Style)>) {
        match value.filter(|v| !v.is_empty()) {
            None => self.none(name),
            Some(v) => {
                let quoted = format!("“{}”", text::sanitize_line(v));
                let mut extra = vec![Span::styled(
                    format!(" · {}", super::bytes(v.len())),
                    self.theme.muted,
                )];
                if let Some((n, style)) = note {
                    extra.push(Span::styled(format!(" · {n}"), style));
                }
                let room = self.width.saturating_sub(self.key_w() + 1);
                let extra_w: usize = extra.iter().map(Span::width).sum();
                if text::width(&quoted) + extra_w <= room {
                    let mut spans = vec![Span::raw(quoted)];
                    spans.extend(extra);
                    self.spans(name, spans);
                } else {
                    self.plain(name, quoted);
                    if let Some(first) = extra.first_mut() {
                        first.content = first.content.trim_start_matches(" · ").to_string().into();
                    }
                    self.spans("", extra);
                }
            }
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Every field of `m`.
pub fn message_lines(app: &App, m: &Message, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let mut f = Fields::new(width, theme);
    let own = m.is_self || m.sender == app.me;
    if m.msg_id.is_empty() {
        f.field("Message ID", "— not sent yet", theme.muted);
    } else {
        f.plain("Message ID", m.msg_id.clone());
    }
    if !m.id.is_empty() {
        f.plain("Creation ID", m.id.clone());
    }
    match (m.seq, m.is_online_only) {
        (0, true) => f.field("Seq", "0 · online-only, not stored", theme.muted),
        (0, false) => f.none("Seq"),
        (s, _) => f.plain("Seq", s.to_string()),
    }
    if m.timestamp > 0 {
        f.plain("Time", full_time(&app.clock, m.timestamp));
    } else {
        f.none("Time");
    }
    let sender = match m
        .nick_name
        .as_deref()
        .filter(|n| !n.is_empty() && *n != m.sender)
    {
        Some(n) => format!("{n} ({})", m.sender),
        None => m.sender.clone(),
    };
    f.plain(
        "Sender",
        if own {
            format!("{sender} · you")
        } else {
            sender
        },
    );
    match (&m.group_id, &m.receiver) {
        (Some(g), _) => f.plain("To", format!("group {g}")),
        (None, Some(r)) => f.plain("To", r.clone()),
        _ => f.none("To"),
    }
    if m.group_id.is_some() {
        if m.target_group_member_list.is_empty() {
            f.plain("Receivers", "the whole group");
        } else {
            let n = m.target_group_member_list.len();
            f.field(
                "Receivers",
                format!(
                    "only {} ({n} targeted)",
                    m.target_group_member_list.join(", ")
                ),
                theme.targeted,
            );
        }
    }
    if !m.group_at_user_list.is_empty() {
        f.plain("Mentions", m.group_at_user_list.join(", "));
    }
    let (status, style) = match m.status {
        MessageStatus::Sending => ("sending ⋯".to_string(), theme.sending),
        MessageStatus::SendSucc => ("sent ✓".to_string(), theme.sent),
        MessageStatus::SendFail => {
            let why = app
                .send_errors
                .get(&m.id)
                .map(|e| format!(" · {}", crate::tui::explain::failure(e)))
                .unwrap_or_default();
            (format!("failed ✗{why}"), theme.error)
        }
        MessageStatus::HasDeleted => ("deleted".to_string(), theme.muted),
        MessageStatus::LocalImported => ("imported locally".to_string(), theme.muted),
        MessageStatus::LocalRevoked => ("recalled".to_string(), theme.muted),
    };
    f.field("Status", status, style);
    let kind = match m.elem_type {
        elem_type::TEXT => "text",
        elem_type::CUSTOM => "custom",
        elem_type::GROUP_TIPS => "group tips",
        _ => "unknown",
    };
    f.plain("Type", format!("{kind} ({})", m.elem_type));
    f.plain(
        "Priority",
        format!("{} ({})", m.priority.name(), u8::from(m.priority)),
    );
    let mut flags: Vec<&str> = Vec::new();
    if m.is_online_only {
        flags.push("online users only");
    }
    if m.is_excluded_from_unread_count {
        flags.push("not counted as unread");
    }
    if m.is_excluded_from_last_message {
        flags.push("not the last message");
    }
    if m.need_read_receipt {
        flags.push("read receipt asked");
    }
    if m.is_support_message_extension {
        flags.push("extensions allowed");
    }
    if flags.is_empty() {
        f.field("Flags", "none", theme.muted);
    } else {
        f.plain("Flags", flags.join(" · "));
    }
    if own {
        if m.group_id.is_none() {
            f.plain("Peer read", yes_no(m.is_peer_read));
        }
    } else {
        f.plain("Read", yes_no(m.is_read));
    }
    f.data("Cloud data", m.cloud_custom_data.as_deref(), None);
    f.data(
        "Local data",
        m.local_custom_data.as_deref(),
        Some(("⌂ stays on this device", theme.local_only)),
    );
    match &m.offline_push_info {
        Some(p) => {
            let mut parts = Vec::new();
            if !p.title.is_empty() {
                parts.push(format!("title “{}”", p.title));
            }
            if !p.desc.is_empty() {
                parts.push(format!("text “{}”", p.desc));
            }
            if !p.ext.is_empty() {
                parts.push(format!("ext “{}”", p.ext));
            }
            if p.disable_push {
                parts.push("push disabled".into());
            }
            if parts.is_empty() {
                f.none("Offline push");
            } else {
                f.plain("Offline push", parts.join(" · "));
            }
        }
        None => f.none("Offline push"),
    }
    let body = m.body_len();
    f.field(
        "Body size",
        format!(
            "{} of {}",
            super::bytes(body),
            super::bytes(MESSAGE_BODY_MAX)
        ),
        theme.muted,
    );
    f.heading("Content");
    if let Some(t) = &m.text_elem {
        f.block(&t.text, Style::default());
    } else if let Some(c) = &m.custom_elem {
        f.plain("desc", if c.desc.is_empty() { "—" } else { &c.desc });
        f.plain(
            "extension",
            if c.extension.is_empty() {
                "—"
            } else {
                &c.extension
            },
        );
        f.spans(
            "data",
            vec![Span::styled(
                match crate::tui::json::pretty(&c.data) {
                    Some(_) => format!("{} · JSON", super::bytes(c.data.len())),
                    None => super::bytes(c.data.len()),
                },
                theme.muted,
            )],
        );
        let data = crate::tui::json::pretty(&c.data).unwrap_or_else(|| c.data.clone());
        f.block(&data, Style::default());
    } else if let Some(t) = &m.group_tips_elem {
        f.block(&t.describe(), theme.system);
    }
    f.lines
}

/// A conversation's fields.
pub fn conversation_lines(app: &App, c: &Conversation, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let mut f = Fields::new(width, theme);
    f.plain("Name", app.display_name(c).to_string());
    f.plain("ID", c.conversation_id.clone());
    if App::is_group(c) {
        let kind = c.group_type.as_deref().unwrap_or("?");
        f.plain("Type", format!("group · {kind}"));
    } else {
        f.plain(
            "Type",
            format!("one-to-one with {}", c.user_id.as_deref().unwrap_or("?")),
        );
    }
    f.plain("Unread", c.unread_count.to_string());
    f.plain("Pinned", yes_no(c.is_pinned));
    match c.last_message.as_deref() {
        Some(m) => f.plain(
            "Last message",
            format!(
                "{} · {}: {}",
                full_time(&app.clock, m.timestamp),
                if m.is_self || m.sender == app.me {
                    "you"
                } else {
                    m.sender.as_str()
                },
                m.preview()
            ),
        ),
        None => f.none("Last message"),
    }
    if App::is_group(c) {
        f.plain("Read up to", format!("seq {}", c.group_read_sequence));
    } else if c.c2c_read_timestamp > 0 {
        f.plain("Read up to", full_time(&app.clock, c.c2c_read_timestamp));
    }
    match app.draft_of(&c.conversation_id) {
        Some(d) => f.field("Draft", d.to_string(), theme.draft),
        None => f.none("Draft"),
    }
    f.plain("Order key", c.orderkey.to_string());
    f.heading("Custom data");
    if c.custom_data.is_empty() {
        f.block("none", theme.muted);
    } else {
        f.block(&format!("“{}”", c.custom_data), Style::default());
    }
    f.block(
        &format!(
            "{} of {CONVERSATION_CUSTOM_DATA_MAX} B · synced to all your devices; changes made elsewhere show here as they arrive",
            c.custom_data.len()
        ),
        theme.muted,
    );
    f.lines
}

// ----- view -------------------------------------------------------------------------

fn render_lines(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    title: Vec<Span<'static>>,
    lines: Vec<Line<'static>>,
    scroll: usize,
    extra: &[Action],
) {
    let theme = &app.theme;
    let r = rect(area, lines.len());
    if r.width < 8 || r.height < 3 {
        return;
    }
    let visible = usize::from(r.height - 2);
    let max = lines.len().saturating_sub(visible);
    let scroll = scroll.min(max);
    let status = (max > 0).then(|| {
        Span::styled(
            format!(
                "{}–{} of {}",
                scroll + 1,
                (scroll + visible).min(lines.len()),
                lines.len()
            ),
            theme.muted,
        )
    });
    let mut actions = extra.to_vec();
    actions.push(Action::Back);
    let keys = hints(app, Context::Details, &actions);
    let inner = draw_box(app, frame, r, title, status, &keys);
    for (k, line) in lines.into_iter().skip(scroll).take(visible).enumerate() {
        let y = inner.y + k as u16;
        if y >= inner.bottom() {
            break;
        }
        frame.buffer_mut().set_line(inner.x, y, &line, inner.width);
    }
}

pub fn render_message(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    conversation_id: &str,
    key: &str,
    scroll: usize,
) {
    let theme = &app.theme;
    let width = text_width(area);
    let lines = match find_message(app, conversation_id, key) {
        Some(m) => message_lines(app, m, width),
        None => vec![Line::styled(
            "This message is no longer loaded.",
            theme.muted,
        )],
    };
    render_lines(
        app,
        frame,
        area,
        vec![Span::styled("Message details", theme.title)],
        lines,
        scroll,
        &[],
    );
}

pub fn render_conversation(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    conversation_id: &str,
    scroll: usize,
) {
    let theme = &app.theme;
    let width = text_width(area);
    let (title, lines) = match app.conversation(conversation_id) {
        Some(c) => (
            text::sanitize_line(app.display_name(c)).into_owned(),
            conversation_lines(app, c, width),
        ),
        None => (
            conversation_id.to_string(),
            vec![Line::styled("This conversation is gone.", theme.muted)],
        ),
    };
    render_lines(
        app,
        frame,
        area,
        vec![
            Span::styled(title, theme.title),
            Span::styled(" · details", theme.muted),
        ],
        lines,
        scroll,
        &[Action::ConversationData],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_times_carry_seconds_and_zone() {
        // 2026-03-14 12:30:05 UTC.
        let ts = 1_773_491_405;
        assert_eq!(
            full_time(&Clock::new(ts, 8 * 3600), ts),
            "2026-03-14 20:30:05 UTC+8"
        );
        assert_eq!(
            full_time(&Clock::new(ts, -(5 * 3600 + 30 * 60)), ts),
            "2026-03-14 07:00:05 UTC-5:30"
        );
    }
}
