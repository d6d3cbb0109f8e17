//! The message pane. Only the messages that are visible are laid out: the view
//! is built upwards from its bottom anchor until the pane is full.

use std::collections::{HashMap, HashSet};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{centered, fit_spans, pane_block};
use crate::model::{Conversation, Message, MessageStatus};
use crate::tui::action::{Action, Context};
use crate::tui::app::{App, Focus};
use crate::tui::clock::Clock;
use crate::tui::effect::SdkError;
use crate::tui::text;
use crate::tui::theme::Theme;
use crate::tui::window::{LoadState, MessageWindow, message_key};

/// Messages from one sender within this many seconds share a header.
const GROUP_SECS: i64 = 5 * 60;
/// Indent of message bodies.
const INDENT: usize = 2;
/// Right gutter holding the delivery status of my messages.
const GUTTER: usize = 2;

pub const SENDING: &str = "⋯";
pub const SENT: &str = "✓";
pub const FAILED: &str = "✗";
pub const TARGETED: &str = "⇢";
pub const ONLINE_ONLY: &str = "↯";
pub const CUSTOM: &str = "◆";

/// What laying out a message needs besides the messages.
pub struct MsgCtx<'a> {
    pub theme: &'a Theme,
    pub clock: Clock,
    pub me: &'a str,
    pub send_errors: &'a HashMap<String, SdkError>,
    pub resend_key: Option<String>,
    /// Key of the message the "new messages" divider goes above.
    pub unread_mark: Option<&'a str>,
    /// Custom messages shown in full (by message key).
    pub expanded: &'a HashSet<String>,
    /// Every custom message of this conversation is shown in full.
    pub expand_all: bool,
    /// The key that expands a custom message, for the "more lines" hint.
    pub expand_key: Option<String>,
}

impl<'a> MsgCtx<'a> {
    pub fn new(app: &'a App) -> Self {
        Self {
            theme: &app.theme,
            clock: app.clock,
            me: &app.me,
            send_errors: &app.send_errors,
            resend_key: app.keymap.hint(&[Context::Messages], &Action::Resend),
            unread_mark: app.open_window().and_then(|w| w.unread_mark.as_deref()),
            expanded: &app.expanded,
            expand_all: app
                .open
                .as_deref()
                .is_some_and(|id| app.expand_all.contains(id)),
            expand_key: app.keymap.hint(&[Context::Messages], &Action::Expand),
        }
    }

    fn time_of(&self, m: &Message) -> i64 {
        if m.timestamp > 0 {
            m.timestamp
        } else {
            self.clock.now
        }
    }

    fn who(&self, user: &str) -> String {
        if user == self.me {
            "you".to_string()
        } else {
            user.to_string()
        }
    }
}

/// The lines of one message: `lead` separator lines, then the message itself.
pub struct MessageBlock {
    pub lines: Vec<Line<'static>>,
    pub lead: usize,
}

fn is_own(ctx: &MsgCtx, m: &Message) -> bool {
    m.is_self || m.sender == ctx.me
}

fn sender_name(m: &Message) -> String {
    let name = m
        .nick_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(&m.sender);
    text::sanitize_line(name).into_owned()
}

/// Does `m` start a new visual group (header with sender and time)?
fn needs_header(ctx: &MsgCtx, prev: Option<&Message>, m: &Message) -> bool {
    let Some(p) = prev else {
        return true;
    };
    p.group_tips_elem.is_some()
        || p.sender != m.sender
        || ctx.clock.day_of(ctx.time_of(p)) != ctx.clock.day_of(ctx.time_of(m))
        || ctx.time_of(m) - ctx.time_of(p) > GROUP_SECS
        || !m.target_group_member_list.is_empty()
        || !p.target_group_member_list.is_empty()
        || m.is_online_only != p.is_online_only
}

fn separator(label: &str, width: usize, style: Style) -> Line<'static> {
    let label = format!(" {label} ");
    let (label, lw) = text::truncate(&label, width);
    let left = width.saturating_sub(lw) / 2;
    let right = width.saturating_sub(lw + left);
    Line::from(vec![Span::raw(format!(
        "{}{}{}",
        "─".repeat(left),
        label,
        "─".repeat(right)
    ))])
    .style(style)
}

fn wrapped(out: &mut Vec<Line<'static>>, body: &str, indent: usize, width: usize, style: Style) {
    let clean = text::sanitize(body);
    let w = width.saturating_sub(indent + GUTTER).max(1);
    let pad = " ".repeat(indent);
    for r in text::wrap(&clean, w) {
        out.push(Line::from(vec![
            Span::raw(pad.clone()),
            Span::styled(clean[r].to_string(), style),
        ]));
    }
}

/// Rows of data a collapsed custom message shows.
pub const COLLAPSED_ROWS: usize = 6;

/// A custom message: the desc as its headline, the data (pretty-printed when it is
/// JSON, cut to a few rows unless expanded), the extension muted.
fn custom_body(
    ctx: &MsgCtx,
    m: &Message,
    c: &crate::model::CustomElem,
    width: usize,
    lines: &mut Vec<Line<'static>>,
) {
    let theme = ctx.theme;
    let headline = if c.desc.is_empty() {
        "custom message"
    } else {
        c.desc.as_str()
    };
    wrapped(
        lines,
        &format!("{CUSTOM} {headline}"),
        INDENT,
        width,
        theme.custom.add_modifier(ratatui::style::Modifier::BOLD),
    );
    if !c.data.is_empty() {
        let data = crate::tui::json::pretty(&c.data).unwrap_or_else(|| c.data.clone());
        let mut rows = Vec::new();
        wrapped(&mut rows, &data, INDENT + 2, width, Style::default());
        let expanded = ctx.expand_all || ctx.expanded.contains(message_key(m));
        if !expanded && rows.len() > COLLAPSED_ROWS {
            let hidden = rows.len() - (COLLAPSED_ROWS - 1);
            rows.truncate(COLLAPSED_ROWS - 1);
            let mut more = format!("⋯ {hidden} more line{}", if hidden == 1 { "" } else { "s" });
            if let Some(k) = &ctx.expand_key {
                more.push_str(&format!(" · {k} expands"));
            }
            wrapped(&mut rows, &more, INDENT + 2, width, theme.muted);
        }
        lines.extend(rows);
    }
    if !c.extension.is_empty() {
        wrapped(
            lines,
            &format!("ext: {}", c.extension),
            INDENT + 2,
            width,
            theme.muted,
        );
    }
}

/// Lay out message `i` of `msgs` for a pane `width` columns wide.
pub fn message_block(ctx: &MsgCtx, msgs: &[Message], i: usize, width: u16) -> MessageBlock {
    let width = usize::from(width);
    let m = &msgs[i];
    let prev = i.checked_sub(1).map(|p| &msgs[p]);
    let theme = ctx.theme;
    let mut lines: Vec<Line<'static>> = Vec::new();

    let ts = ctx.time_of(m);
    if prev.is_none_or(|p| ctx.clock.day_of(ctx.time_of(p)) != ctx.clock.day_of(ts)) {
        lines.push(separator(
            &ctx.clock.day_label(ts),
            width,
            theme.day_separator,
        ));
    }
    if ctx.unread_mark.is_some_and(|k| k == message_key(m)) {
        lines.push(separator("new messages", width, theme.accent));
    }
    let lead = lines.len();

    if let Some(tips) = &m.group_tips_elem {
        let text = format!("• {}  {}", tips.describe(), ctx.clock.hm(ts));
        wrapped(&mut lines, &text, INDENT, width, theme.system);
        return MessageBlock { lines, lead };
    }

    let own = is_own(ctx, m);
    if needs_header(ctx, prev, m) {
        let mut spans = vec![
            Span::styled(sender_name(m), theme.sender(&m.sender, own)),
            Span::styled(format!("  {}", ctx.clock.hm(ts)), theme.time),
        ];
        if !m.target_group_member_list.is_empty() {
            let shown: Vec<String> = m
                .target_group_member_list
                .iter()
                .take(3)
                .map(|u| text::sanitize_line(&ctx.who(u)).into_owned())
                .collect();
            let more = m.target_group_member_list.len().saturating_sub(3);
            let mut t = format!("  {TARGETED} to {}", shown.join(", "));
            if more > 0 {
                t.push_str(&format!(" (+{more})"));
            }
            spans.push(Span::styled(t, theme.targeted));
        }
        if m.is_online_only {
            spans.push(Span::styled(
                format!("  {ONLINE_ONLY} online-only"),
                theme.online_only,
            ));
        }
        lines.push(fit_spans(spans, width));
    }

    let body_start = lines.len();
    if let Some(t) = &m.text_elem {
        wrapped(&mut lines, &t.text, INDENT, width, Style::default());
    } else if let Some(c) = &m.custom_elem {
        custom_body(ctx, m, c, width, &mut lines);
    } else {
        wrapped(
            &mut lines,
            "[a message termim can't show]",
            INDENT,
            width,
            theme.muted,
        );
    }

    if own && lines.len() > body_start {
        let (glyph, style) = match m.status {
            MessageStatus::Sending => (SENDING, theme.sending),
            MessageStatus::SendFail => (FAILED, theme.failed),
            _ => (SENT, theme.sent),
        };
        // The delivery status ends the message's last line (the gutter keeps room).
        if let Some(line) = lines.last_mut()
            && line.width() + 2 <= width
        {
            line.spans.push(Span::raw(" "));
            line.spans.push(Span::styled(glyph, style));
        }
    }

    if own && m.status == MessageStatus::SendFail {
        let mut t = format!("{FAILED} not sent");
        if let Some(e) = ctx.send_errors.get(&m.id) {
            t.push_str(&format!(" · {}", crate::tui::explain::failure(e)));
        }
        if let Some(k) = &ctx.resend_key {
            t.push_str(&format!(" · {k} to resend"));
        }
        wrapped(&mut lines, &t, INDENT, width, theme.error);
    }
    MessageBlock { lines, lead }
}

/// Height in rows of message `i` at `width` (what rendering will draw).
pub fn message_height(ctx: &MsgCtx, msgs: &[Message], i: usize, width: u16) -> usize {
    message_block(ctx, msgs, i, width).lines.len()
}

fn title(app: &App, c: &Conversation) -> Line<'static> {
    let name = text::sanitize_line(app.display_name(c)).into_owned();
    let mut spans = vec![Span::styled(format!(" {name} "), app.theme.title)];
    if App::is_group(c) {
        let kind = c.group_type.as_deref().unwrap_or("group");
        spans.push(Span::styled(format!("· {kind} group "), app.theme.muted));
    }
    Line::from(spans)
}

fn top_marker(app: &App, w: &MessageWindow, width: usize) -> Line<'static> {
    let label = if w.loading_older {
        "loading older messages…".to_string()
    } else if w.has_older {
        let key = app
            .keymap
            .hint(&[Context::Messages], &Action::PageUp)
            .unwrap_or_else(|| "scroll".into());
        format!("↑ {key} for older messages")
    } else {
        "· beginning of the conversation ·".to_string()
    };
    let (label, lw) = text::truncate(&label, width);
    let pad = width.saturating_sub(lw) / 2;
    Line::from(vec![
        Span::raw(" ".repeat(pad)),
        Span::styled(label.into_owned(), app.theme.muted),
    ])
}

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Focus::Messages && app.overlay.is_none() && app.filter.is_none();
    let Some(conv) = app.open_conversation() else {
        render_welcome(app, frame, area);
        return;
    };
    let mut block = pane_block(app, title(app, conv), focused);
    if let Some(below) = app.open_window().and_then(|w| below_label(app, w)) {
        block = block.title_bottom(below.right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let theme = &app.theme;
    let Some(w) = app.open_window() else {
        return;
    };
    if w.messages.is_empty() {
        let lines = match &w.load {
            LoadState::Loading => vec![Line::styled("Loading messages…", theme.muted)],
            LoadState::Failed(e) => vec![
                Line::styled("Couldn't load messages", theme.error),
                Line::styled(e.clone(), theme.muted),
            ],
            LoadState::Ready => vec![
                Line::styled("No messages yet.", theme.muted),
                Line::styled("Say hello!", theme.muted),
            ],
        };
        centered(frame, inner, lines);
        return;
    }

    let ctx = MsgCtx::new(app);
    let width = inner.width;
    let height = usize::from(inner.height);
    let len = w.messages.len();
    let Some(bottom) = w.view.bottom(len) else {
        return;
    };
    // Rows bottom-up: (line, part of the selected message).
    let mut rows: Vec<(Line<'static>, bool)> = Vec::with_capacity(height + 8);
    let mut i = bottom.index;
    let mut skip = bottom.skip;
    loop {
        let block = message_block(&ctx, &w.messages, i, width);
        let selected = w.view.selected == Some(i);
        for (k, line) in block.lines.into_iter().enumerate().rev() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            rows.push((line, selected && k >= block.lead));
        }
        if rows.len() >= height {
            break;
        }
        if i == 0 {
            rows.push((top_marker(app, w, usize::from(width)), false));
            break;
        }
        i -= 1;
    }
    let shown = rows.len().min(height);
    let y0 = inner.y + (height - shown) as u16;
    for (k, (line, selected)) in rows.into_iter().take(shown).rev().enumerate() {
        let r = Rect {
            y: y0 + k as u16,
            height: 1,
            ..inner
        };
        if selected {
            frame.buffer_mut().set_style(r, theme.selection);
        }
        let buf = frame.buffer_mut();
        buf.set_line(r.x, r.y, &line, r.width);
        // The marker goes in the indent of the message's rows; a row that starts at
        // the edge (the sender line) keeps its first letter and shows the selection by
        // its colour alone.
        if selected && r.width > 0 && buf[(r.x, r.y)].symbol() == " " {
            buf.set_string(r.x, r.y, "▌", theme.selection_marker);
        }
    }
}

/// "↓ 2 new messages · End" in the bottom border while scrolled up.
fn below_label(app: &App, w: &MessageWindow) -> Option<Line<'static>> {
    if w.view.is_following() || w.messages.is_empty() {
        return None;
    }
    let key = app
        .keymap
        .hint(&[Context::Messages], &Action::SelectLast)
        .unwrap_or_default();
    Some(if w.view.unseen_below > 0 {
        let n = w.view.unseen_below;
        Line::from(Span::styled(
            format!(
                " ↓ {n} new message{} · {key} ",
                if n == 1 { "" } else { "s" }
            ),
            app.theme.new_below,
        ))
    } else {
        Line::from(Span::styled(
            format!(" ↓ more below · {key} "),
            app.theme.muted,
        ))
    })
}

fn render_welcome(app: &App, frame: &mut Frame, area: Rect) {
    let block = pane_block(app, Line::from(" termim "), false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let theme = &app.theme;
    let key = |ctx: Context, a: Action| {
        app.keymap
            .hint(&[ctx, Context::Global], &a)
            .unwrap_or_else(|| "?".into())
    };
    let mut lines = vec![
        Line::styled(
            "termim",
            theme.accent.add_modifier(ratatui::style::Modifier::BOLD),
        ),
        Line::styled("a terminal messenger", theme.muted),
        Line::raw(""),
    ];
    if app.conversations_loaded && app.conversations.is_empty() {
        lines.push(Line::raw("No conversations yet."));
        lines.push(Line::styled(
            "They appear here when a message arrives.",
            theme.muted,
        ));
    } else {
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{}/{}",
                    key(Context::List, Action::SelectNext),
                    key(Context::List, Action::SelectPrev)
                ),
                theme.help_key,
            ),
            Span::raw(" choose a conversation, "),
            Span::styled(key(Context::List, Action::Open), theme.help_key),
            Span::raw(" open it"),
        ]));
    }
    let mut hints = Vec::new();
    if !app.conversations.is_empty() {
        hints.push(Span::styled(
            key(Context::Global, Action::Filter),
            theme.help_key,
        ));
        hints.push(Span::raw(" filter · "));
    }
    hints.push(Span::styled(
        key(Context::Global, Action::Help),
        theme.help_key,
    ));
    hints.push(Span::raw(" all keys"));
    lines.push(Line::from(hints));
    centered(frame, inner, lines);
}
