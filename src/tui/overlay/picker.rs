//! The targeted-member picker: the group's members, paged from the SDK, filtered by
//! typing (fuzzy, on characters, so CJK works), several selected with Space. Done
//! arms the composer: the next send is `create_*_message` →
//! `create_targeted_group_message(id, receivers)` → `send_message`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::{Notice, boxed, draw_box, hints, put_line, split_line};
use crate::model::limits::TARGETED_RECEIVERS_MAX;
use crate::model::{ConversationId, ConversationTarget, GroupMemberFullInfo, GroupType, role};
use crate::tui::action::{Action, Context};
use crate::tui::app::{App, Focus, Overlay};
use crate::tui::effect::{Effect, SdkError};
use crate::tui::fuzzy::fuzzy_match;
use crate::tui::text;
use crate::tui::view::list::{name_spans, visible_offset};
use crate::tui::view::{centered, fit_spans};

/// Members asked for per page.
pub const PAGE_SIZE: u32 = 100;
/// Rows the mouse wheel moves.
const WHEEL_ROWS: isize = 3;

/// One row of the filtered member list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// Index into `members`.
    pub index: usize,
    pub score: i64,
    /// Matched char positions in the shown name, for highlighting.
    pub positions: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPicker {
    pub conversation_id: String,
    pub group_id: String,
    /// The conversation's name, for the title.
    pub group_name: String,
    /// Everyone but me, in the server's order.
    pub members: Vec<GroupMemberFullInfo>,
    /// The `next_seq` of the page being loaded, if one is.
    pub loading: Option<String>,
    pub error: Option<SdkError>,
    pub query: String,
    pub matches: Vec<Pick>,
    /// Row in `matches`.
    pub cursor: usize,
    /// First row shown.
    pub offset: usize,
    /// Selected user ids, in the order they were chosen.
    pub selected: Vec<String>,
    pub notice: Option<Notice>,
}

/// The name a member goes by here: name card, else nickname, else user id.
pub fn member_name(m: &GroupMemberFullInfo) -> &str {
    if !m.name_card.is_empty() {
        &m.name_card
    } else if !m.nick_name.is_empty() {
        &m.nick_name
    } else {
        &m.user_id
    }
}

fn role_label(r: u32) -> Option<&'static str> {
    match r {
        role::OWNER => Some("owner"),
        role::ADMIN => Some("admin"),
        _ => None,
    }
}

impl MemberPicker {
    pub fn new(conversation_id: &str, group_id: &str, group_name: &str) -> Self {
        Self {
            conversation_id: conversation_id.to_string(),
            group_id: group_id.to_string(),
            group_name: group_name.to_string(),
            members: Vec::new(),
            loading: Some("0".into()),
            error: None,
            query: String::new(),
            matches: Vec::new(),
            cursor: 0,
            offset: 0,
            selected: Vec::new(),
            notice: None,
        }
    }

    pub fn is_selected(&self, user_id: &str) -> bool {
        self.selected.iter().any(|s| s == user_id)
    }

    /// The member under the cursor.
    pub fn current(&self) -> Option<&GroupMemberFullInfo> {
        self.matches
            .get(self.cursor)
            .and_then(|p| self.members.get(p.index))
    }

    /// Recompute the matches. `keep`: stay on the member under the cursor (new
    /// members arrived); else start at the best match (the query changed).
    pub fn refilter(&mut self, keep: bool) {
        let prev = keep
            .then(|| self.current().map(|m| m.user_id.clone()))
            .flatten();
        let q = self.query.trim();
        let mut matches: Vec<Pick> = self
            .members
            .iter()
            .enumerate()
            .filter_map(|(index, m)| {
                let name = member_name(m);
                let mut best = fuzzy_match(q, name).map(|f| (f.score, f.positions));
                for other in [&m.nick_name, &m.user_id] {
                    if other.is_empty() || other == name {
                        continue;
                    }
                    if let Some(f) = fuzzy_match(q, other)
                        && best.as_ref().is_none_or(|b| f.score - 10 > b.0)
                    {
                        best = Some((f.score - 10, Vec::new()));
                    }
                }
                best.map(|(score, positions)| Pick {
                    index,
                    score,
                    positions,
                })
            })
            .collect();
        if !q.is_empty() {
            matches.sort_by(|a, b| b.score.cmp(&a.score).then(a.index.cmp(&b.index)));
        }
        self.matches = matches;
        self.cursor = prev
            .and_then(|id| {
                self.matches
                    .iter()
                    .position(|p| self.members[p.index].user_id == id)
            })
            .unwrap_or(if keep { self.cursor } else { 0 })
            .min(self.matches.len().saturating_sub(1));
        if !keep {
            self.offset = 0;
        }
    }

    fn move_cursor(&mut self, delta: isize, page: usize) {
        let len = self.matches.len();
        if len == 0 {
            return;
        }
        self.cursor = self.cursor.saturating_add_signed(delta).min(len - 1);
        self.offset = visible_offset(self.offset, Some(self.cursor), len, page);
    }

    fn toggle(&mut self) {
        let Some(id) = self.current().map(|m| m.user_id.clone()) else {
            return;
        };
        if let Some(i) = self.selected.iter().position(|s| *s == id) {
            self.selected.remove(i);
            self.notice = None;
        } else if self.selected.len() >= TARGETED_RECEIVERS_MAX {
            self.notice = Notice::error(format!(
                "At most {TARGETED_RECEIVERS_MAX} receivers per targeted message"
            ));
        } else {
            self.selected.push(id);
            self.notice = None;
        }
    }

    /// Select everyone shown; if they all are already, unselect them.
    fn select_all(&mut self) {
        let shown: Vec<String> = self
            .matches
            .iter()
            .map(|p| self.members[p.index].user_id.clone())
            .collect();
        if !shown.is_empty() && shown.iter().all(|id| self.is_selected(id)) {
            self.selected.retain(|s| !shown.contains(s));
            self.notice = None;
            return;
        }
        let mut left_out = 0;
        for id in shown {
            if self.is_selected(&id) {
                continue;
            }
            if self.selected.len() >= TARGETED_RECEIVERS_MAX {
                left_out += 1;
            } else {
                self.selected.push(id);
            }
        }
        self.notice = if left_out > 0 {
            Notice::error(format!(
                "{left_out} not selected: at most {TARGETED_RECEIVERS_MAX} receivers"
            ))
        } else {
            None
        };
    }

    fn edit_query(&mut self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => self.query.clear(),
            KeyCode::Char('w') if ctrl => {
                let trimmed = self.query.trim_end().len();
                self.query.truncate(trimmed);
                let cut = self.query.rfind(char::is_whitespace).map_or(0, |i| i + 1);
                self.query.truncate(cut);
            }
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
                self.query.push(c)
            }
            KeyCode::Backspace => {
                self.query.pop();
            }
            _ => return false,
        }
        true
    }
}

// ----- geometry ---------------------------------------------------------------------

/// The picker's box in `area`: as tall as the member list needs, within limits.
pub fn rect(area: Rect, p: &MemberPicker) -> Rect {
    let rows = u16::try_from(p.members.len()).unwrap_or(u16::MAX);
    boxed(area, 64, rows.saturating_add(3).clamp(8, 22))
}

/// The inside of the box (as `draw_box` makes it) split into the query row and the
/// member rows.
fn parts(area: Rect, p: &MemberPicker) -> (Rect, Rect) {
    let inner = super::padded(ratatui::widgets::Block::bordered().inner(rect(area, p)));
    let query = Rect {
        height: inner.height.min(1),
        ..inner
    };
    let rows = Rect {
        y: inner.y + query.height,
        height: inner.height.saturating_sub(query.height),
        ..inner
    };
    (query, rows)
}

/// Member rows shown at once.
pub fn page(app: &App, p: &MemberPicker) -> usize {
    let area = Rect::new(0, 0, app.size.0, app.size.1);
    usize::from(parts(area, p).1.height).max(1)
}

// ----- reducer ----------------------------------------------------------------------

/// Open the picker for the open conversation (a group of a type that has targeted
/// messages), starting from the receivers armed now.
pub(crate) fn open(app: &mut App) -> Vec<Effect> {
    let Some(conv) = app.open_conversation() else {
        app.notify("Open a group conversation first");
        return Vec::new();
    };
    if !App::is_group(conv) {
        app.notify("Targeted messages are for groups; this is a one-to-one chat");
        return Vec::new();
    }
    if !App::targets_allowed(conv) {
        let kind = conv
            .group_type
            .as_deref()
            .and_then(GroupType::parse)
            .map_or("this", GroupType::as_str);
        app.notify_error(format!(
            "{kind} groups don't have targeted messages (V2TIM: not in Community or AVChatRoom)"
        ));
        return Vec::new();
    }
    let conversation_id = conv.conversation_id.clone();
    let group_id = match (&conv.group_id, ConversationId::parse(&conversation_id)) {
        (Some(g), _) if !g.is_empty() => g.clone(),
        (_, Some(ConversationTarget::Group(g))) => g,
        _ => return Vec::new(),
    };
    let name = app.display_name(conv).to_string();
    let mut p = MemberPicker::new(&conversation_id, &group_id, &name);
    p.selected = app
        .compose
        .get(&conversation_id)
        .map(|cs| cs.targets.clone())
        .unwrap_or_default();
    app.overlay = Some(Overlay::Picker(Box::new(p)));
    vec![Effect::LoadMembers {
        group_id,
        next_seq: "0".into(),
        count: PAGE_SIZE,
    }]
}

/// A page of members arrived (or failed): add it, and ask for the next one.
pub(crate) fn on_members(
    app: &mut App,
    group_id: &str,
    next_seq: &str,
    result: Result<crate::model::GroupMemberInfoResult, SdkError>,
) -> Vec<Effect> {
    let me = app.me.clone();
    let Some(p) = super::find_mut(app, |o| match o {
        Overlay::Picker(p) => Some(p.as_mut()),
        _ => None,
    }) else {
        return Vec::new();
    };
    if p.group_id != group_id || p.loading.as_deref() != Some(next_seq) {
        return Vec::new();
    }
    p.loading = None;
    match result {
        Ok(page) => {
            for m in page.member_info_list {
                if m.user_id != me && !p.members.iter().any(|x| x.user_id == m.user_id) {
                    p.members.push(m);
                }
            }
            p.refilter(true);
            let next = page.next_seq;
            if !next.is_empty() && next != "0" && next != next_seq {
                p.loading = Some(next.clone());
                return vec![Effect::LoadMembers {
                    group_id: group_id.to_string(),
                    next_seq: next,
                    count: PAGE_SIZE,
                }];
            }
        }
        Err(e) => p.error = Some(e),
    }
    Vec::new()
}

/// Apply an action; returns whether the picker stays open, and the effects.
pub(crate) fn handle(app: &mut App, p: &mut MemberPicker, action: Action) -> (bool, Vec<Effect>) {
    let page = page(app, p);
    match action {
        Action::Back => return (false, Vec::new()),
        Action::Confirm => {
            arm(app, p);
            return (false, Vec::new());
        }
        Action::Toggle => p.toggle(),
        Action::SelectAll => p.select_all(),
        Action::SelectNext => p.move_cursor(1, page),
        Action::SelectPrev => p.move_cursor(-1, page),
        Action::PageDown => p.move_cursor(page as isize, page),
        Action::PageUp => p.move_cursor(-(page as isize), page),
        Action::SelectFirst => p.move_cursor(isize::MIN / 2, page),
        Action::SelectLast => p.move_cursor(isize::MAX / 2, page),
        Action::Input(key) => {
            let changed = p.edit_query(key);
            if changed {
                p.refilter(false);
            }
        }
        Action::Paste(text) => {
            p.query
                .push_str(text::sanitize_line(text.lines().next().unwrap_or("")).trim());
            p.refilter(false);
        }
        Action::Scroll { up, .. } => p.move_cursor(if up { -WHEEL_ROWS } else { WHEEL_ROWS }, page),
        Action::Click { column, row } => {
            let (_, rows) = parts(Rect::new(0, 0, app.size.0, app.size.1), p);
            if rows.contains(Position::new(column, row)) {
                let at = p.offset + usize::from(row - rows.y);
                if at < p.matches.len() {
                    p.cursor = at;
                    p.toggle();
                }
            }
        }
        _ => {}
    }
    (true, Vec::new())
}

/// Done: the selection becomes the composer's receivers (none: to everyone).
fn arm(app: &mut App, p: &MemberPicker) {
    let cs = app.compose.entry(p.conversation_id.clone()).or_default();
    let was_armed = !cs.targets.is_empty();
    cs.targets = p.selected.clone();
    if p.selected.is_empty() {
        if was_armed {
            app.notify("Targeting off: the next message goes to the whole group");
        }
    } else {
        let n = p.selected.len();
        app.notify_armed(
            &p.conversation_id,
            format!(
                "The next message goes only to {n} member{}",
                if n == 1 { "" } else { "s" }
            ),
        );
    }
    if app.open.as_deref() == Some(p.conversation_id.as_str()) {
        app.focus = Focus::Composer;
    }
}

// ----- view -------------------------------------------------------------------------

pub fn render(app: &App, frame: &mut Frame, area: Rect, p: &MemberPicker) {
    let theme = &app.theme;
    let r = rect(area, p);
    if r.width < 8 || r.height < 3 {
        return;
    }
    let n = p.selected.len();
    let status = match &p.notice {
        Some(notice) => Span::styled(notice.text.clone(), notice.style(theme)),
        None => {
            let style = if n > 0 { theme.targeted } else { theme.muted };
            Span::styled(format!("{n}/{TARGETED_RECEIVERS_MAX} selected"), style)
        }
    };
    let keys = hints(
        app,
        Context::Picker,
        &[
            Action::Toggle,
            Action::Confirm,
            Action::Back,
            Action::SelectAll,
        ],
    );
    draw_box(
        app,
        frame,
        r,
        vec![
            Span::styled("Send to…", theme.title),
            Span::styled(
                format!(" · {}", text::sanitize_line(&p.group_name)),
                theme.muted,
            ),
        ],
        Some(status),
        &keys,
    );
    let (qr, rows) = parts(area, p);
    if qr.height == 0 {
        return;
    }

    // The query, with a count on the right.
    let mut count = if p.members.is_empty() {
        String::new()
    } else if p.query.trim().is_empty() {
        format!("{} members", p.members.len())
    } else {
        format!("{} of {}", p.matches.len(), p.members.len())
    };
    if p.loading.is_some() && !p.members.is_empty() {
        count.push_str(" · loading…");
    }
    let prompt_w = text::width(&p.query) + 2;
    split_line(
        frame,
        qr,
        qr.y,
        vec![
            Span::styled("/ ", theme.accent),
            Span::raw(text::sanitize_line(&p.query).into_owned()),
            Span::styled(
                if p.query.is_empty() {
                    "type to filter"
                } else {
                    ""
                },
                theme.muted,
            ),
        ],
        vec![Span::styled(count, theme.muted)],
    );
    let cx = qr.x
        + u16::try_from(prompt_w)
            .unwrap_or(u16::MAX)
            .min(qr.width.saturating_sub(1));
    frame.set_cursor_position(Position::new(cx, qr.y));

    if rows.height == 0 {
        return;
    }
    if p.matches.is_empty() {
        let lines = if let Some(e) = &p.error {
            let why = crate::tui::explain::failure(e);
            let mut lines = vec![Line::styled("Couldn't load the members", theme.error)];
            for r in text::wrap(&why, usize::from(rows.width.saturating_sub(2)).max(1)) {
                lines.push(Line::styled(why[r].to_string(), theme.muted));
            }
            lines
        } else if p.loading.is_some() && p.members.is_empty() {
            vec![Line::styled("Loading members…", theme.muted)]
        } else if p.members.is_empty() {
            vec![Line::styled("Nobody else is in this group", theme.muted)]
        } else {
            vec![Line::styled(
                format!("Nobody matches “{}”", text::sanitize_line(&p.query)),
                theme.muted,
            )]
        };
        centered(frame, rows, lines);
        return;
    }
    let page = usize::from(rows.height);
    let offset = visible_offset(p.offset, Some(p.cursor), p.matches.len(), page);
    let w = usize::from(rows.width);
    for (k, pick) in p.matches.iter().enumerate().skip(offset).take(page) {
        let Some(m) = p.members.get(pick.index) else {
            continue;
        };
        let y = rows.y + (k - offset) as u16;
        let row = Rect {
            y,
            height: 1,
            ..rows
        };
        let on_cursor = k == p.cursor;
        if on_cursor {
            frame.buffer_mut().set_style(row, theme.selection);
        }
        let chosen = p.is_selected(&m.user_id);
        let name = text::sanitize_line(member_name(m)).into_owned();
        let base = if chosen {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        let mut left = vec![
            Span::raw(" "),
            if chosen {
                Span::styled("[✓] ", theme.ok)
            } else {
                Span::styled("[ ] ", theme.muted)
            },
        ];
        left.extend(name_spans(&name, &pick.positions, base, theme.matched));
        // Who else the name stands for: the nickname behind a name card, the id.
        let mut also: Vec<&str> = Vec::new();
        if !m.name_card.is_empty() && !m.nick_name.is_empty() && m.nick_name != m.name_card {
            also.push(&m.nick_name);
        }
        if name != m.user_id {
            also.push(&m.user_id);
        }
        if !also.is_empty() {
            left.push(Span::styled(
                format!("  {}", text::sanitize_line(&also.join(" · "))),
                theme.muted,
            ));
        }
        let mut right: Vec<Span<'static>> = Vec::new();
        if let Some(label) = role_label(m.role) {
            right.push(Span::styled(label, theme.muted));
        }
        if m.is_online {
            right.push(Span::styled(" ●", theme.connected));
        }
        let right_w: usize = right.iter().map(Span::width).sum();
        let left_room = if right_w > 0 && right_w + 12 <= w {
            w - right_w - 1
        } else {
            w
        };
        let line = fit_spans(left, left_room);
        frame
            .buffer_mut()
            .set_line(row.x, y, &line, left_room as u16);
        if left_room < w {
            put_line(
                frame,
                Rect {
                    x: row.right() - right_w as u16,
                    width: right_w as u16,
                    ..row
                },
                y,
                &Line::from(right),
            );
        }
        if on_cursor {
            frame
                .buffer_mut()
                .set_string(row.x, y, "▌", theme.selection_marker);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, card: &str, r: u32) -> GroupMemberFullInfo {
        GroupMemberFullInfo {
            user_id: id.into(),
            nick_name: String::new(),
            name_card: card.into(),
            role: r,
            join_time: 0,
            mute_until: 0,
            is_online: false,
        }
    }

    fn picker(n: usize) -> MemberPicker {
        let mut p = MemberPicker::new("group_g", "g", "G");
        p.members = (0..n)
            .map(|i| member(&format!("u{i}"), "", role::MEMBER))
            .collect();
        p.loading = None;
        p.refilter(false);
        p
    }

    #[test]
    fn filtering_matches_cards_nicknames_and_ids_in_cjk() {
        let mut p = picker(0);
        p.members = vec![
            member("xiaoming", "小明", role::ADMIN),
            member("bob", "", role::MEMBER),
            member("carol", "Carol Chen", role::MEMBER),
        ];
        p.query = "小".into();
        p.refilter(false);
        assert_eq!(p.matches.len(), 1);
        assert_eq!(p.current().map(|m| m.user_id.as_str()), Some("xiaoming"));
        assert_eq!(p.matches[0].positions, vec![0]);
        p.query = "xm".into();
        p.refilter(false);
        assert_eq!(
            p.current().map(|m| m.user_id.as_str()),
            Some("xiaoming"),
            "the id matches too"
        );
        p.query = "cc".into();
        p.refilter(false);
        assert_eq!(p.current().map(|m| m.user_id.as_str()), Some("carol"));
    }

    #[test]
    fn the_selection_stops_at_fifty() {
        let mut p = picker(60);
        p.select_all();
        assert_eq!(p.selected.len(), TARGETED_RECEIVERS_MAX);
        assert!(
            p.notice
                .as_ref()
                .is_some_and(|n| n.error && n.text.contains("10 not selected"))
        );
        p.cursor = 55;
        p.toggle();
        assert_eq!(
            p.selected.len(),
            TARGETED_RECEIVERS_MAX,
            "the 51st is refused"
        );
        p.cursor = 0;
        p.toggle();
        assert_eq!(
            p.selected.len(),
            TARGETED_RECEIVERS_MAX - 1,
            "but unselecting works"
        );
    }

    #[test]
    fn select_all_twice_unselects_what_is_shown() {
        let mut p = picker(5);
        p.cursor = 4;
        p.toggle();
        p.query = "u1".into();
        p.refilter(false);
        p.select_all();
        assert_eq!(p.selected, vec!["u4".to_string(), "u1".to_string()]);
        p.select_all();
        assert_eq!(
            p.selected,
            vec!["u4".to_string()],
            "u4 isn't shown: it stays"
        );
    }

    #[test]
    fn new_pages_keep_the_cursor_on_its_member() {
        let mut p = picker(0);
        p.members = vec![member("xaxb", "", role::MEMBER)];
        p.query = "ab".into();
        p.refilter(false);
        assert_eq!(p.current().map(|m| m.user_id.as_str()), Some("xaxb"));
        // A better match arrives with the next page and sorts first.
        p.members.push(member("ab", "", role::MEMBER));
        p.refilter(true);
        assert_eq!(p.matches[0].index, 1, "the new, better match is first");
        assert_eq!(p.current().map(|m| m.user_id.as_str()), Some("xaxb"));
        assert_eq!(p.cursor, 1);
    }
}
