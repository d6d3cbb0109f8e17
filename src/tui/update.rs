//! The reducer: `update(&mut App, Action) -> Vec<Effect>`, plus the routing of
//! terminal events (keys through the focus chain, paste, mouse, resize) to actions.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::action::{Action, Context};
use super::app::{App, FilterState, Focus, Overlay};
use super::effect::{Effect, HistoryAnchor, HistoryDirection, Outgoing, OutgoingContent};
use super::keymap::{KeyChord, is_press};
use super::layout::{LIST_ROW_HEIGHT, inner};
use super::overlay;
use super::view::help;
use super::view::list::visible_offset;
use super::view::messages::{MsgCtx, message_height};
use crate::model::MessageStatus;
use crate::model::limits::MESSAGE_BODY_MAX;

/// Rows the mouse wheel scrolls per notch.
const WHEEL_ROWS: usize = 3;

/// Turn a terminal event into effects.
pub fn handle_event(app: &mut App, event: Event) -> Vec<Effect> {
    match event {
        Event::Key(key) => handle_key(app, key),
        Event::Paste(text) => update(app, Action::Paste(text)),
        Event::Resize(w, h) => update(app, Action::Resize(w, h)),
        Event::FocusGained => update(app, Action::TerminalFocus(true)),
        Event::FocusLost => update(app, Action::TerminalFocus(false)),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollUp => update(
                app,
                Action::Scroll {
                    column: m.column,
                    row: m.row,
                    up: true,
                },
            ),
            MouseEventKind::ScrollDown => update(
                app,
                Action::Scroll {
                    column: m.column,
                    row: m.row,
                    up: false,
                },
            ),
            MouseEventKind::Down(MouseButton::Left) => update(
                app,
                Action::Click {
                    column: m.column,
                    row: m.row,
                },
            ),
            _ => Vec::new(),
        },
    }
}

/// Resolve a key along the focus chain: the most specific context that binds it
/// wins; in text contexts typed characters are text; unbound editing keys go to
/// the composer or the filter.
pub fn handle_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if !is_press(&key) {
        return Vec::new();
    }
    app.fade_brief_notice();
    let chord = KeyChord::from_event(&key);
    if app.raw_input(&chord) {
        return update(app, Action::Input(key));
    }
    let chain = app.focus_chain();
    for ctx in &chain {
        if let Some(action) = app.keymap.lookup(*ctx, &chord) {
            let action = action.clone();
            return update(app, action);
        }
        if ctx.takes_text() && chord.is_text() {
            return update(app, Action::Input(key));
        }
    }
    if chain.first().is_some_and(|c| c.takes_text()) {
        return update(app, Action::Input(key));
    }
    Vec::new()
}

/// The context an action applies to: the first of the focus chain.
fn active(app: &App) -> Context {
    app.focus_chain()[0]
}

/// Apply one action.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let effects = dispatch(app, action);
    app.style_composer();
    app.fit_composer();
    effects
}

/// Contexts of the composer-power overlays (see [`super::overlay`]).
fn overlay_context(ctx: Context) -> bool {
    matches!(
        ctx,
        Context::Picker
            | Context::CustomMessage
            | Context::SendOptions
            | Context::ConversationData
            | Context::Details
            | Context::Search
            | Context::UserSig
    )
}

fn dispatch(app: &mut App, action: Action) -> Vec<Effect> {
    let ctx = active(app);
    if overlay_context(ctx) {
        match &action {
            // Help, quitting and the runtime's own inputs work as anywhere.
            Action::Help
            | Action::Quit
            | Action::Suspend
            | Action::Redraw
            | Action::Tick(_)
            | Action::Resize(..)
            | Action::TerminalFocus(_) => {}
            a if a.allowed_in(ctx)
                || matches!(
                    a,
                    Action::Input(_)
                        | Action::Paste(_)
                        | Action::Scroll { .. }
                        | Action::Click { .. }
                ) =>
            {
                return overlay::handle(app, action);
            }
            // Pane and global keys wait until the overlay is closed.
            _ => return Vec::new(),
        }
    }
    // The help over another overlay: only the help's own keys (navigating away would
    // strand the overlay underneath).
    if ctx == Context::Help
        && app.overlay_under.is_some()
        && !action.allowed_in(Context::Help)
        && !matches!(
            action,
            Action::Quit
                | Action::Suspend
                | Action::Redraw
                | Action::Tick(_)
                | Action::Resize(..)
                | Action::TerminalFocus(_)
                | Action::Scroll { .. }
                | Action::Click { .. }
        )
    {
        return Vec::new();
    }
    match action {
        Action::Quit => {
            let mut e: Vec<Effect> = app.stash_draft().into_iter().collect();
            e.push(Effect::Quit);
            app.should_quit = true;
            e
        }
        Action::Help => {
            match app.overlay.take() {
                Some(Overlay::Help { .. }) => app.overlay = app.overlay_under.take(),
                other => {
                    // An overlay opened before the help waits under it.
                    app.overlay_under = other;
                    app.overlay = Some(Overlay::Help { scroll: 0 });
                }
            }
            Vec::new()
        }
        Action::FocusNext | Action::FocusPrev => {
            if app.overlay.is_some() {
                return Vec::new();
            }
            app.filter = None;
            let panes: &[Focus] = if app.open.is_some() {
                &[Focus::List, Focus::Messages, Focus::Composer]
            } else {
                &[Focus::List]
            };
            let i = panes.iter().position(|f| *f == app.focus).unwrap_or(0);
            let n = panes.len();
            let next = if action == Action::FocusNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            app.focus = panes[next];
            Vec::new()
        }
        Action::Filter => {
            app.overlay = None;
            let selected_id = app.list_selected.clone();
            app.filter = Some(FilterState::default());
            app.focus = Focus::List;
            app.refilter();
            if let (Some(f), Some(id)) = (&mut app.filter, selected_id) {
                f.selected = f
                    .matches
                    .iter()
                    .position(|m| app.conversations[m.index].conversation_id == id)
                    .unwrap_or(0);
            }
            Vec::new()
        }
        Action::NextUnread => {
            let n = app.conversations.len();
            let start = app
                .open
                .as_deref()
                .or(app.list_selected.as_deref())
                .and_then(|id| app.conv_index(id))
                .map_or(0, |i| i + 1);
            let found = (0..n).map(|k| (start + k) % n).find(|&i| {
                app.conversations[i].unread_count > 0
                    && app.open.as_deref() != Some(&app.conversations[i].conversation_id)
            });
            match found {
                Some(i) => {
                    app.filter = None;
                    let id = app.conversations[i].conversation_id.clone();
                    app.open_conversation_id(&id)
                }
                None => {
                    app.notify("No unread messages");
                    Vec::new()
                }
            }
        }
        Action::NextConversation | Action::PrevConversation => {
            let n = app.conversations.len();
            if n == 0 {
                return Vec::new();
            }
            let cur = app
                .open
                .as_deref()
                .or(app.list_selected.as_deref())
                .and_then(|id| app.conv_index(id));
            let next = match (cur, action == Action::NextConversation) {
                (None, _) => 0,
                (Some(i), true) => (i + 1).min(n - 1),
                (Some(i), false) => i.saturating_sub(1),
            };
            if Some(next) == cur && app.open.is_some() {
                return Vec::new();
            }
            let keep_focus = app.focus;
            app.filter = None;
            let id = app.conversations[next].conversation_id.clone();
            let e = app.open_conversation_id(&id);
            app.focus = keep_focus;
            e
        }
        Action::SelectNext | Action::SelectPrev => {
            let down = action == Action::SelectNext;
            match ctx {
                Context::Help => scroll_help(app, if down { 1 } else { -1 }),
                Context::Filter | Context::List => move_list(app, if down { 1 } else { -1 }),
                Context::Messages => return select_message(app, down),
                _ => {}
            }
            Vec::new()
        }
        Action::SelectFirst | Action::SelectLast => {
            let first = action == Action::SelectFirst;
            match ctx {
                Context::Help => scroll_help(app, if first { isize::MIN } else { isize::MAX }),
                Context::List | Context::Filter => move_list(
                    app,
                    if first {
                        isize::MIN / 2
                    } else {
                        isize::MAX / 2
                    },
                ),
                Context::Messages => {
                    return if first {
                        jump_oldest(app)
                    } else {
                        jump_latest(app)
                    };
                }
                _ => {}
            }
            Vec::new()
        }
        Action::PageUp | Action::PageDown => {
            let up = action == Action::PageUp;
            match ctx {
                Context::Help => {
                    let p = help::page(Rect::new(0, 0, app.size.0, app.size.1)) as isize;
                    scroll_help(app, if up { -p } else { p });
                    Vec::new()
                }
                Context::List | Context::Filter => {
                    let p = app.list_page() as isize;
                    move_list(app, if up { -p } else { p });
                    Vec::new()
                }
                Context::Messages | Context::Composer => {
                    let rows = app
                        .message_view()
                        .map_or(1, |(_, h)| usize::from(h).saturating_sub(2).max(1));
                    scroll_messages(app, rows, up)
                }
                _ => Vec::new(),
            }
        }
        Action::Open => match ctx {
            Context::Filter => {
                let target = app.filter.as_ref().and_then(|f| {
                    f.matches
                        .get(f.selected)
                        .map(|m| app.conversations[m.index].conversation_id.clone())
                });
                app.filter = None;
                match target {
                    Some(id) => app.open_conversation_id(&id),
                    None => Vec::new(),
                }
            }
            Context::List => match app.list_selected.clone() {
                Some(id) if app.conv_index(&id).is_some() => app.open_conversation_id(&id),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        },
        Action::Back => {
            match ctx {
                Context::Filter => app.filter = None,
                Context::Help => app.overlay = app.overlay_under.take(),
                Context::List => app.marked.clear(),
                Context::Messages => {
                    let w = app.open.as_deref().and_then(|id| app.windows.get_mut(id));
                    match w {
                        Some(w) if w.view.selected.is_some() => w.view.selected = None,
                        _ => app.focus = Focus::List,
                    }
                }
                Context::Composer => {
                    let armed = app
                        .open
                        .as_deref()
                        .and_then(|id| app.compose.get_mut(id))
                        .filter(|cs| !cs.targets.is_empty());
                    match armed {
                        Some(cs) => {
                            cs.targets.clear();
                            app.notify("Targeting off: the next message goes to the whole group");
                        }
                        None => app.focus = Focus::List,
                    }
                }
                _ => {}
            }
            Vec::new()
        }
        Action::TogglePin => {
            let Some(id) = app.list_selected.clone() else {
                return Vec::new();
            };
            let Some(i) = app.conv_index(&id) else {
                return Vec::new();
            };
            app.list_chosen = true;
            let pinned = !app.conversations[i].is_pinned;
            app.conversations[i].is_pinned = pinned;
            app.resort();
            vec![Effect::PinConversation {
                conversation_id: id,
                pinned,
            }]
        }
        Action::Compose => {
            if app.open.is_some() && ctx == Context::Messages {
                app.focus = Focus::Composer;
                Vec::new()
            } else {
                match app.list_selected.clone() {
                    Some(id) if app.conv_index(&id).is_some() => app.open_conversation_id(&id),
                    _ => Vec::new(),
                }
            }
        }
        Action::Resend => resend(app),
        Action::Copy => super::clipboard::copy_selected(app, super::clipboard::CopyPart::Text),
        Action::PickTargets => overlay::picker::open(app),
        Action::CustomMessage => overlay::custom_editor::open(app),
        Action::SendOptions => {
            overlay::send_options::open(app);
            Vec::new()
        }
        Action::Details => {
            match ctx {
                Context::List => {
                    if let Some(id) = selected_conversation(app) {
                        overlay::details::open_conversation(app, id);
                    }
                }
                _ => overlay::details::open_message(app),
            }
            Vec::new()
        }
        Action::Search => overlay::search::open(app),
        Action::RenewSig => {
            if app.sig_expired {
                overlay::user_sig::open(app, None);
            }
            Vec::new()
        }
        Action::ConversationData => {
            let ids = overlay::conv_data::targets_from_list(app);
            overlay::conv_data::open(app, ids);
            Vec::new()
        }
        Action::Toggle => {
            if ctx == Context::List
                && let Some(id) = selected_conversation(app)
            {
                match app.marked.iter().position(|m| *m == id) {
                    Some(i) => {
                        app.marked.remove(i);
                    }
                    None => app.marked.push(id),
                }
                move_list(app, 1);
            }
            Vec::new()
        }
        Action::Expand => {
            expand(app);
            Vec::new()
        }
        Action::ExternalEditor => super::editor::open(app),
        Action::Suspend => super::editor::suspend(app),
        Action::Redraw => vec![Effect::Redraw],
        // Overlay-only actions (routed above); nothing to do elsewhere.
        Action::Confirm
        | Action::SelectAll
        | Action::NextField
        | Action::PrevField
        | Action::NextValue
        | Action::PrevValue
        | Action::ValidateJson
        | Action::Reset
        | Action::CopyId => Vec::new(),
        Action::Send => send(app),
        Action::Newline => {
            if app.open.is_some() {
                app.composer.insert_newline();
            }
            Vec::new()
        }
        Action::Tick(now) => {
            app.clock.now = now;
            app.announce_group_notices(true);
            Vec::new()
        }
        Action::Resize(w, h) => {
            app.size = (w, h);
            Vec::new()
        }
        Action::Paste(text) => paste(app, &text),
        Action::Input(key) => {
            input(app, key);
            Vec::new()
        }
        Action::Edit(op) => {
            if ctx == Context::Composer && app.open.is_some() {
                edit(app, op);
            }
            Vec::new()
        }
        Action::Scroll { column, row, up } => wheel(app, column, row, up),
        Action::Click { column, row } => click(app, column, row),
        Action::TerminalFocus(focused) => {
            app.terminal_focused = focused;
            match app.open.clone() {
                Some(id) if focused => app.mark_read_if_open(&id).into_iter().collect(),
                _ => Vec::new(),
            }
        }
    }
}

/// The conversation selected in the list.
fn selected_conversation(app: &App) -> Option<String> {
    app.selected_row()
        .and_then(|row| app.row_conversation(row))
        .and_then(|i| app.conversations.get(i))
        .map(|c| c.conversation_id.clone())
}

/// Expand or collapse the selected custom message; with none selected, all of the
/// open conversation's.
fn expand(app: &mut App) {
    let Some(id) = app.open.clone() else {
        return;
    };
    let Some(w) = app.windows.get(&id) else {
        return;
    };
    match w
        .view
        .selected
        .and_then(|i| w.messages.get(i).map(|m| (i, m)))
    {
        Some((i, m)) if m.custom_elem.is_some() => {
            let key = super::window::message_key(m).to_string();
            if !app.expanded.remove(&key) {
                app.expanded.insert(key);
            }
            with_viewport(app, |view, len, height, h, _| {
                view.ensure_visible(i, len, height, h);
            });
        }
        Some(_) => app.notify("Only custom messages expand"),
        None => {
            if !app.expand_all.remove(&id) {
                app.expand_all.insert(id);
            }
        }
    }
}

fn scroll_help(app: &mut App, delta: isize) {
    if let Some(Overlay::Help { scroll }) = &mut app.overlay {
        *scroll = scroll.saturating_add_signed(delta);
    }
    clamp_help(app);
}

/// Help scroll is bounded by its length at the current size.
fn clamp_help(app: &mut App) {
    let area = Rect::new(0, 0, app.size.0, app.size.1);
    let r = help::overlay_rect(area);
    let lines = help::help_lines(app, usize::from(r.width.saturating_sub(4))).len();
    let max = lines.saturating_sub(help::page(area));
    if let Some(Overlay::Help { scroll }) = &mut app.overlay {
        *scroll = (*scroll).min(max);
    }
}

/// Move the list (or filter) selection by `delta` rows.
fn move_list(app: &mut App, delta: isize) {
    let len = app.list_len();
    if len == 0 {
        return;
    }
    let cur = app.selected_row().unwrap_or(0);
    let next = cur.saturating_add_signed(delta).min(len - 1);
    if let Some(f) = &mut app.filter {
        f.selected = next;
    } else {
        app.list_chosen = true;
        app.list_selected = app
            .conversations
            .get(next)
            .map(|c| c.conversation_id.clone());
        let page = app.list_page();
        app.list_offset = visible_offset(app.list_offset, Some(next), len, page);
    }
}

/// Run `f` on the open window's viewport with the message height function of the
/// current layout. Returns `None` when no conversation is open or shown.
fn with_viewport<R>(
    app: &mut App,
    f: impl FnOnce(&mut super::window::Viewport, usize, usize, &dyn Fn(usize) -> usize, &mut bool) -> R,
) -> Option<(R, Vec<Effect>)> {
    let (width, height) = app.message_view()?;
    let id = app.open.clone()?;
    let mark = app.windows.get(&id).and_then(|w| w.unread_mark.clone());
    let ctx = MsgCtx {
        unread_mark: mark.as_deref(),
        theme: &app.theme,
        clock: app.clock,
        me: &app.me,
        send_errors: &app.send_errors,
        resend_key: app.keymap.hint(&[Context::Messages], &Action::Resend),
        expanded: &app.expanded,
        expand_all: app.expand_all.contains(&id),
        expand_key: app.keymap.hint(&[Context::Messages], &Action::Expand),
    };
    let w = app.windows.get_mut(&id)?;
    let msgs = &w.messages;
    let h = |i: usize| message_height(&ctx, msgs, i, width);
    let mut want_older = false;
    let r = f(
        &mut w.view,
        msgs.len(),
        usize::from(height),
        &h,
        &mut want_older,
    );
    let mut effects = Vec::new();
    if want_older && w.has_older && !w.loading_older && !w.messages.is_empty() {
        w.loading_older = true;
        let first = &w.messages[0];
        effects.push(Effect::LoadHistory {
            conversation_id: id,
            direction: HistoryDirection::Older,
            anchor: Some(HistoryAnchor {
                msg_id: first.msg_id.clone(),
                seq: first.seq,
            }),
            count: super::app::HISTORY_PAGE,
        });
    }
    Some((r, effects))
}

/// Scroll so the "new messages" divider is in view (at the top when the unread
/// messages are more than a screen), so reading starts where it left off.
pub(crate) fn reveal_unread_mark(app: &mut App) {
    let Some(idx) = app.open_window().and_then(|w| w.unread_mark_index()) else {
        return;
    };
    with_viewport(app, |view, len, height, h, _| {
        view.ensure_visible(idx, len, height, h);
    });
}

/// Select message `idx` of the open conversation and scroll it into view.
pub(crate) fn reveal_message(app: &mut App, idx: usize) {
    with_viewport(app, |view, len, height, h, _| {
        view.selected = Some(idx);
        view.ensure_visible(idx, len, height, h);
    });
}

/// Ask for older history while the top of what is loaded is within a screen of
/// the view (a short first page, or after a resize), so scrolling up rarely waits.
pub(crate) fn prefetch_older(app: &mut App) -> Vec<Effect> {
    with_viewport(app, |view, len, height, h, want_older| {
        *want_older = view.near_top(len, height, h);
    })
    .map(|(_, e)| e)
    .unwrap_or_default()
}

fn scroll_messages(app: &mut App, rows: usize, up: bool) -> Vec<Effect> {
    with_viewport(app, |view, len, height, h, want_older| {
        if up {
            *want_older = view.scroll_up(rows, len, height, h);
        } else {
            view.scroll_down(rows, len, h);
        }
    })
    .map(|(_, e)| e)
    .unwrap_or_default()
}

fn select_message(app: &mut App, down: bool) -> Vec<Effect> {
    with_viewport(app, |view, len, height, h, want_older| {
        if len == 0 {
            return;
        }
        let next = match (view.selected, down) {
            (None, true) => return,
            (None, false) => view.bottom(len).map_or(len - 1, |b| b.index),
            (Some(i), true) => (i + 1).min(len - 1),
            (Some(i), false) => i.saturating_sub(1),
        };
        view.selected = Some(next);
        view.ensure_visible(next, len, height, h);
        *want_older = view.near_top(len, height, h);
    })
    .map(|(_, e)| e)
    .unwrap_or_default()
}

fn jump_oldest(app: &mut App) -> Vec<Effect> {
    with_viewport(app, |view, len, height, h, want_older| {
        if len == 0 {
            return;
        }
        view.selected = Some(0);
        view.ensure_visible(0, len, height, h);
        *want_older = true;
    })
    .map(|(_, e)| e)
    .unwrap_or_default()
}

fn jump_latest(app: &mut App) -> Vec<Effect> {
    if let Some(w) = app.open.as_deref().and_then(|id| app.windows.get_mut(id)) {
        w.view.follow();
        w.view.selected = None;
    }
    Vec::new()
}

fn send(app: &mut App) -> Vec<Effect> {
    let Some(id) = app.open.clone() else {
        return Vec::new();
    };
    let raw = app.composer_text();
    let text = App::text_to_send(&raw);
    if text.trim().is_empty() {
        return Vec::new();
    }
    let body = app.composer_body_len();
    if body > MESSAGE_BODY_MAX {
        app.notify_error(format!(
            "Not sent: the message is {body} bytes; the limit is {MESSAGE_BODY_MAX} ({}). Nothing was lost.",
            crate::protocol::codes::ERR_SDK_MSG_BODY_SIZE_LIMIT
        ));
        return Vec::new();
    }
    let text = text.to_string();
    app.set_composer_text("");
    let mut effects: Vec<Effect> = app.stash_draft().into_iter().collect();
    let cs = app.compose.entry(id.clone()).or_default();
    let targets = std::mem::take(&mut cs.targets);
    let options = cs.options.clone();
    if !targets.is_empty() {
        // Targeting is for one message: say so, replacing "goes only to …" (until
        // the next key: by then the next message is being written).
        let n = targets.len();
        app.notify_brief(
            format!(
                "Sending to {n} member{} only; the next message goes to the whole group",
                if n == 1 { "" } else { "s" }
            ),
            false,
        );
    }
    if let Some(w) = app.windows.get_mut(&id) {
        w.view.follow();
        w.view.selected = None;
    }
    effects.push(Effect::Send(Outgoing {
        conversation_id: id,
        content: OutgoingContent::Text(text),
        targets,
        options,
    }));
    effects
}

fn resend(app: &mut App) -> Vec<Effect> {
    let Some(id) = app.open.clone() else {
        return Vec::new();
    };
    let Some(w) = app.windows.get_mut(&id) else {
        return Vec::new();
    };
    let Some(i) = w.view.selected else {
        app.notify("Select a failed message first");
        return Vec::new();
    };
    let m = &mut w.messages[i];
    if !(m.is_self && m.status == MessageStatus::SendFail) {
        app.notify("Only a failed message of yours can be resent");
        return Vec::new();
    }
    m.status = MessageStatus::Sending;
    let message = Box::new(m.clone());
    app.send_errors.remove(&message.id);
    vec![Effect::Resend {
        conversation_id: id,
        message,
    }]
}

fn paste(app: &mut App, text: &str) -> Vec<Effect> {
    if app.overlay.is_some() {
        return Vec::new();
    }
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    if let Some(f) = &mut app.filter {
        f.query.push_str(text.lines().next().unwrap_or(""));
        app.refilter();
        return Vec::new();
    }
    if app.open.is_none() {
        app.notify("Open a conversation to paste into its composer");
        return Vec::new();
    }
    app.focus = Focus::Composer;
    app.composer.insert_str(&text);
    Vec::new()
}

fn input(app: &mut App, key: KeyEvent) {
    if let Some(f) = &mut app.filter {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => f.query.clear(),
            KeyCode::Char('w') if ctrl => {
                let trimmed = f.query.trim_end().len();
                f.query.truncate(trimmed);
                let cut = f.query.rfind(char::is_whitespace).map_or(0, |i| i + 1);
                f.query.truncate(cut);
            }
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
                f.query.push(c)
            }
            KeyCode::Backspace => {
                f.query.pop();
            }
            _ => return,
        }
        app.refilter();
        return;
    }
    if app.focus == Focus::Composer && app.open.is_some() && reaches_text_area(&key) {
        app.composer.input(key);
    }
}

/// Keys the keymap leaves alone that the text area may still have: typing, the
/// arrows, Home/End, Backspace/Delete (and their Ctrl-H / Ctrl-D spellings). Its own
/// other shortcuts (Ctrl-U undo, Ctrl-R redo, Ctrl-V paging, …) would shadow what a
/// readline user expects, so the editing commands are the keymap's
/// ([`EditOp`](super::action::EditOp)) and nothing else reaches it.
fn reaches_text_area(key: &KeyEvent) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    match key.code {
        KeyCode::Char(c) if ctrl => !alt && matches!(c, 'h' | 'd' | 'b' | 'n' | 'p'),
        KeyCode::Char(_) => !alt,
        KeyCode::Backspace | KeyCode::Delete => !ctrl,
        KeyCode::Left
        | KeyCode::Right
        | KeyCode::Up
        | KeyCode::Down
        | KeyCode::Home
        | KeyCode::End
        | KeyCode::Tab
        | KeyCode::Enter => true,
        _ => false,
    }
}

/// Readline's forward-word: to the end of the next word (the text area's own
/// word move stops at the start of the one after).
fn word_forward(ta: &mut ratatui_textarea::TextArea<'static>) {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let (mut row, col) = (ta.cursor().0, ta.cursor().1);
    let mut chars: Vec<char> = ta.lines()[row].chars().collect();
    let mut i = col;
    if i >= chars.len() && row + 1 < ta.lines().len() {
        row += 1;
        chars = ta.lines()[row].chars().collect();
        i = 0;
    }
    while i < chars.len() && !is_word(chars[i]) {
        i += 1;
    }
    while i < chars.len() && is_word(chars[i]) {
        i += 1;
    }
    ta.move_cursor(ratatui_textarea::CursorMove::Jump(
        u16::try_from(row).unwrap_or(u16::MAX),
        u16::try_from(i).unwrap_or(u16::MAX),
    ));
}

/// One readline editing command in the composer.
fn edit(app: &mut App, op: super::action::EditOp) {
    use super::action::EditOp as E;
    use ratatui_textarea::CursorMove;
    let ta = &mut app.composer;
    match op {
        E::LineStart => ta.move_cursor(CursorMove::Head),
        E::LineEnd => ta.move_cursor(CursorMove::End),
        E::WordBack => ta.move_cursor(CursorMove::WordBack),
        E::WordForward => word_forward(ta),
        E::KillToStart => {
            ta.delete_line_by_head();
        }
        E::KillToEnd => {
            ta.delete_line_by_end();
        }
        E::KillWordBack => {
            ta.delete_word();
        }
        E::KillWordForward => {
            ta.delete_next_word();
        }
        E::Yank => {
            ta.paste();
        }
        E::Undo => {
            ta.undo();
        }
        E::Redo => {
            ta.redo();
        }
    }
}

fn contains(r: Option<Rect>, column: u16, row: u16) -> bool {
    r.is_some_and(|r| r.contains(Position::new(column, row)))
}

fn wheel(app: &mut App, column: u16, row: u16, up: bool) -> Vec<Effect> {
    if app.overlay.is_some() {
        scroll_help(
            app,
            if up {
                -(WHEEL_ROWS as isize)
            } else {
                WHEEL_ROWS as isize
            },
        );
        return Vec::new();
    }
    let areas = app.areas();
    if contains(areas.list, column, row) {
        move_list(app, if up { -1 } else { 1 });
        Vec::new()
    } else if contains(areas.messages, column, row) || contains(areas.composer, column, row) {
        scroll_messages(app, WHEEL_ROWS, up)
    } else {
        Vec::new()
    }
}

fn click(app: &mut App, column: u16, row: u16) -> Vec<Effect> {
    if app.overlay.is_some() {
        app.overlay = app.overlay_under.take();
        return Vec::new();
    }
    let areas = app.areas();
    if let Some(list) = areas
        .list
        .filter(|r| r.contains(Position::new(column, row)))
    {
        let mut inner = inner(list);
        if app.filter.is_some() {
            inner.y += 1;
            inner.height = inner.height.saturating_sub(1);
        }
        if row < inner.y || row >= inner.bottom() {
            return Vec::new();
        }
        let len = app.list_len();
        let page = app.list_page();
        let offset = visible_offset(app.list_offset, app.selected_row(), len, page);
        let at = offset + usize::from((row - inner.y) / LIST_ROW_HEIGHT);
        let Some(ci) = app.row_conversation(at) else {
            return Vec::new();
        };
        let id = app.conversations[ci].conversation_id.clone();
        app.filter = None;
        app.list_offset = offset;
        return app.open_conversation_id(&id);
    }
    if contains(areas.messages, column, row) && app.open.is_some() {
        app.filter = None;
        app.focus = Focus::Messages;
    } else if contains(areas.composer, column, row) {
        app.filter = None;
        app.focus = Focus::Composer;
    }
    Vec::new()
}
