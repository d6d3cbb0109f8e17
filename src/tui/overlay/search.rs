//! The message search overlay: words typed in a field search the SDK's local cache
//! (`search_local_messages`, every word must match, ASCII case-insensitive, CJK by
//! substring) in the open conversation or in all of them (Tab). Each result shows its
//! conversation, sender, time and a one-line snippet with the matches highlighted;
//! Enter opens the conversation at that message, loading older history from the cache
//! until it is there.
//!
//! The search runs through the effect runner, never in `render`: each change of the
//! query or scope is a new *generation*; the runner waits a moment for the next
//! keystroke and skips what a newer query replaced, and answers for an older generation
//! are dropped here (latest wins).

use std::sync::atomic::{AtomicU64, Ordering};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui_textarea::TextArea;

use super::{Notice, boxed, draw_box, field_text, focus_field, hints, new_field, pasted};
use super::{render_field, split_line};
use crate::model::{ConversationId, ConversationTarget, Elem, Message};
use crate::sdk::{KEYWORDS_MAX, KeywordListMatchType, MessageSearchParam, MessageSearchResult};
use crate::tui::action::{Action, Context};
use crate::tui::app::{App, Focus, Overlay};
use crate::tui::effect::{Effect, HistoryAnchor, HistoryDirection, SdkError};
use crate::tui::text;
use crate::tui::view::list::{name_spans, visible_offset};
use crate::tui::view::{centered, fit_spans};
use crate::tui::window::{LoadState, message_key};

/// Messages asked for when searching one conversation.
pub const CONVERSATION_RESULTS: u32 = 200;
/// Conversations asked for when searching all of them …
pub const ALL_CONVERSATIONS: u32 = 50;
/// … and each one's newest matches listed (termim's `messages_per_conversation`).
pub const PER_CONVERSATION: u32 = 5;
/// History loaded per step while going to a message that is not loaded yet.
pub const JUMP_PAGE: u32 = 200;
/// Rows per result: who, where and when; then the snippet.
const ROW_HEIGHT: u16 = 2;
const WHEEL_ROWS: isize = 3;

/// Generations are unique across overlays, so an answer meant for a closed search can
/// never be taken for the current one.
static GENERATION: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The conversation that was open when the search started.
    Conversation,
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchState {
    /// No words typed.
    Empty,
    /// Waiting for generation `SearchOverlay::generation`.
    Searching,
    Done,
    Failed(SdkError),
}

/// One result row: a message and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub conversation_id: String,
    pub message: Message,
    /// Matches in its conversation (all of them, also those not listed).
    pub conversation_matches: u32,
}

#[derive(Debug, Clone)]
pub struct SearchOverlay {
    pub field: TextArea<'static>,
    pub scope: Scope,
    /// What "this conversation" is; `None` when none was open (all only).
    pub conversation_id: Option<String>,
    pub state: SearchState,
    /// The search the overlay waits for (or shows).
    pub generation: u64,
    /// The words the shown results were found with (what is highlighted).
    pub keywords: Vec<String>,
    pub hits: Vec<SearchHit>,
    /// `total_count` of the answer: messages (one conversation) or conversations (all).
    pub total: u32,
    /// Row in `hits`.
    pub cursor: usize,
    /// First row shown.
    pub offset: usize,
    pub notice: Option<Notice>,
}

impl PartialEq for SearchOverlay {
    fn eq(&self, other: &Self) -> bool {
        self.field.lines() == other.field.lines()
            && self.scope == other.scope
            && self.conversation_id == other.conversation_id
            && self.state == other.state
            && self.generation == other.generation
            && self.keywords == other.keywords
            && self.hits == other.hits
            && self.total == other.total
            && self.cursor == other.cursor
            && self.offset == other.offset
            && self.notice == other.notice
    }
}

impl Eq for SearchOverlay {}

impl SearchOverlay {
    pub fn query(&self) -> String {
        field_text(&self.field)
    }

    /// The words of the query (at most [`KEYWORDS_MAX`]).
    pub fn words(&self) -> Vec<String> {
        self.query()
            .split_whitespace()
            .take(KEYWORDS_MAX)
            .map(str::to_string)
            .collect()
    }

    pub fn current(&self) -> Option<&SearchHit> {
        self.hits.get(self.cursor)
    }

    /// What the SDK is asked for the current query and scope.
    pub fn param(&self) -> MessageSearchParam {
        let mut p = MessageSearchParam {
            keyword_list: self.words(),
            keyword_list_match_type: KeywordListMatchType::And,
            ..Default::default()
        };
        match (self.scope, &self.conversation_id) {
            (Scope::Conversation, Some(id)) => {
                p.conversation_id = Some(id.clone());
                p.page_size = CONVERSATION_RESULTS;
            }
            _ => {
                p.page_size = ALL_CONVERSATIONS;
                p.messages_per_conversation = PER_CONVERSATION;
            }
        }
        p
    }

    fn move_cursor(&mut self, delta: isize, page: usize) {
        let len = self.hits.len();
        if len == 0 {
            return;
        }
        self.cursor = self.cursor.saturating_add_signed(delta).min(len - 1);
        self.offset = visible_offset(self.offset, Some(self.cursor), len, page);
    }

    /// The query or scope changed: search again (or clear, with no words).
    fn research(&mut self) -> Vec<Effect> {
        let query = self.query();
        self.notice = (query.split_whitespace().count() > KEYWORDS_MAX).then(|| Notice {
            text: format!("only the first {KEYWORDS_MAX} words are searched"),
            error: false,
        });
        if self.words().is_empty() {
            self.state = SearchState::Empty;
            self.generation = GENERATION.fetch_add(1, Ordering::Relaxed);
            self.hits.clear();
            self.keywords.clear();
            self.total = 0;
            self.cursor = 0;
            self.offset = 0;
            return Vec::new();
        }
        self.generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        // What was found stays on screen until the new answer replaces it.
        self.state = SearchState::Searching;
        vec![Effect::SearchMessages {
            generation: self.generation,
            param: self.param(),
        }]
    }
}

// ----- reducer ----------------------------------------------------------------------

/// Open the search: in the open conversation, or in all when none is open.
pub(crate) fn open(app: &mut App) -> Vec<Effect> {
    let conversation_id = app.open.clone();
    let mut field = new_field("words to find (all must match)", &app.theme);
    focus_field(&mut field, true);
    app.filter = None;
    app.overlay = Some(Overlay::Search(Box::new(SearchOverlay {
        field,
        scope: if conversation_id.is_some() {
            Scope::Conversation
        } else {
            Scope::All
        },
        conversation_id,
        state: SearchState::Empty,
        generation: 0,
        keywords: Vec::new(),
        hits: Vec::new(),
        total: 0,
        cursor: 0,
        offset: 0,
        notice: None,
    })));
    Vec::new()
}

/// Keys that would put a line break into the one-line query.
fn is_newline(key: &KeyEvent) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    matches!(key.code, KeyCode::Enter) || (ctrl && matches!(key.code, KeyCode::Char('j' | 'm')))
}

/// Apply an action; returns whether the overlay stays open, and the effects.
pub(crate) fn handle(app: &mut App, o: &mut SearchOverlay, action: Action) -> (bool, Vec<Effect>) {
    let page = page(app);
    match action {
        Action::Back => return (false, Vec::new()),
        Action::Open => {
            if let Some(hit) = o.current().cloned() {
                return (false, go_to(app, &hit));
            }
        }
        Action::Toggle => {
            if o.conversation_id.is_none() {
                o.notice = Notice::info("open a chat to search only in it");
            } else {
                o.scope = match o.scope {
                    Scope::Conversation => Scope::All,
                    Scope::All => Scope::Conversation,
                };
                return (true, o.research());
            }
        }
        Action::SelectNext => o.move_cursor(1, page),
        Action::SelectPrev => o.move_cursor(-1, page),
        Action::PageDown => o.move_cursor(page as isize, page),
        Action::PageUp => o.move_cursor(-(page as isize), page),
        Action::Input(key) if !is_newline(&key) => {
            let before = o.query();
            o.field.input(key);
            if o.query() != before {
                return (true, o.research());
            }
        }
        Action::Paste(t) => {
            o.field.insert_str(pasted(&t, true));
            return (true, o.research());
        }
        Action::Scroll { up, .. } => o.move_cursor(if up { -WHEEL_ROWS } else { WHEEL_ROWS }, page),
        Action::Click { column, row } => {
            let (_, rows) = parts(Rect::new(0, 0, app.size.0, app.size.1));
            if rows.contains(Position::new(column, row)) {
                let at = o.offset + usize::from((row - rows.y) / ROW_HEIGHT);
                if at < o.hits.len() {
                    o.cursor = at;
                }
            }
        }
        _ => {}
    }
    (true, Vec::new())
}

/// The SDK answered search `generation`: show it, unless a newer search replaced it.
pub(crate) fn on_results(
    app: &mut App,
    generation: u64,
    result: Result<MessageSearchResult, SdkError>,
) {
    let Some(o) = super::find_mut(app, |o| match o {
        Overlay::Search(s) => Some(s.as_mut()),
        _ => None,
    }) else {
        return;
    };
    if o.generation != generation || o.state != SearchState::Searching {
        return;
    }
    match result {
        Ok(r) => {
            o.hits = r
                .message_search_result_items
                .into_iter()
                .flat_map(|item| {
                    let id = item.conversation_id;
                    let n = item.message_count;
                    item.message_list.into_iter().map(move |message| SearchHit {
                        conversation_id: id.clone(),
                        message,
                        conversation_matches: n,
                    })
                })
                .collect();
            o.total = r.total_count;
            o.keywords = o.words();
            o.state = SearchState::Done;
        }
        Err(e) => {
            o.hits.clear();
            o.total = 0;
            o.state = SearchState::Failed(e);
        }
    }
    o.cursor = 0;
    o.offset = 0;
}

/// Open the hit's conversation and go to its message (loading history as needed).
fn go_to(app: &mut App, hit: &SearchHit) -> Vec<Effect> {
    let id = hit.conversation_id.clone();
    app.filter = None;
    // Only the newest go-to is carried on with.
    for w in app.windows.values_mut() {
        w.jump_to = None;
    }
    let mut effects = app.open_conversation_id(&id);
    app.focus = Focus::Messages;
    if let Some(w) = app.windows.get_mut(&id) {
        w.jump_to = Some(message_key(&hit.message).to_string());
    }
    if let Some(more) = continue_jump(app) {
        effects.extend(more);
    }
    effects
}

/// Carry on going to the open window's `jump_to` message: select and show it when it
/// is loaded, else load the next older page (or give up when there is none). `None`
/// when no jump is pending.
pub(crate) fn continue_jump(app: &mut App) -> Option<Vec<Effect>> {
    let id = app.open.clone()?;
    let w = app.windows.get_mut(&id)?;
    let key = w.jump_to.clone()?;
    if w.load != LoadState::Ready {
        // The first page is on its way; its arrival comes back here.
        return Some(Vec::new());
    }
    if let Some(idx) = w.messages.iter().position(|m| message_key(m) == key) {
        w.jump_to = None;
        crate::tui::update::reveal_message(app, idx);
        return Some(crate::tui::update::prefetch_older(app));
    }
    if !w.has_older || w.messages.is_empty() {
        w.jump_to = None;
        app.notify("That message is no longer in this chat's history");
        return Some(Vec::new());
    }
    if w.loading_older {
        return Some(Vec::new());
    }
    w.loading_older = true;
    let first = &w.messages[0];
    Some(vec![Effect::LoadHistory {
        conversation_id: id,
        direction: HistoryDirection::Older,
        anchor: Some(HistoryAnchor {
            msg_id: first.msg_id.clone(),
            seq: first.seq,
        }),
        count: JUMP_PAGE,
    }])
}

/// Would `action` do something in the overlay now?
pub(crate) fn available(app: &App, o: &SearchOverlay, action: &Action) -> bool {
    match action {
        Action::Open => !o.hits.is_empty(),
        Action::Toggle => o.conversation_id.is_some(),
        Action::SelectNext | Action::SelectPrev => o.hits.len() > 1,
        Action::PageUp | Action::PageDown => o.hits.len() > page(app),
        _ => true,
    }
}

// ----- snippets -----------------------------------------------------------------------

/// The text a hit is shown by: a text message's text; for a custom message the first
/// of desc, data, extension that holds a keyword (desc when none does), marked as custom.
fn searchable(m: &Message, keywords: &[String]) -> (Option<&'static str>, String) {
    match m.elem() {
        Some(Elem::Text(t)) => (None, t.text),
        Some(Elem::Custom(c)) => {
            let fields = [c.desc, c.data, c.extension];
            let hit = fields
                .iter()
                .find(|f| !match_positions(f, keywords).is_empty())
                .or_else(|| fields.iter().find(|f| !f.is_empty()))
                .cloned()
                .unwrap_or_default();
            (Some("[custom] "), hit)
        }
        _ => (None, m.preview()),
    }
}

/// Char positions in `s` covered by any keyword (ASCII case-insensitive, as the SDK
/// matches), sorted.
pub fn match_positions(s: &str, keywords: &[String]) -> Vec<usize> {
    let hay = s.to_ascii_lowercase();
    let mut covered = vec![false; hay.len()];
    for k in keywords {
        let k = k.to_ascii_lowercase();
        if k.is_empty() {
            continue;
        }
        let mut from = 0;
        while let Some(at) = hay[from..].find(&k) {
            let start = from + at;
            covered[start..start + k.len()]
                .iter_mut()
                .for_each(|c| *c = true);
            // Step one char, so overlapping matches count too.
            from = start + hay[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    s.char_indices()
        .enumerate()
        .filter(|(_, (b, _))| covered[*b])
        .map(|(i, _)| i)
        .collect()
}

/// A one-line snippet of `s` for `width` columns with the keywords highlighted: when
/// the first match would sit past a third of the width, the text before it is cut
/// (shown as `…`) so the match is in view.
pub fn snippet(
    s: &str,
    keywords: &[String],
    width: usize,
    base: Style,
    matched: Style,
) -> Line<'static> {
    let line = text::sanitize_line(s).into_owned();
    let mut positions = match_positions(&line, keywords);
    let chars: Vec<char> = line.chars().collect();
    let mut start = 0;
    if let Some(&first) = positions.first() {
        let lead: String = chars[..first].iter().collect();
        let room = width / 3;
        if text::width(&lead) > room {
            // Keep about `room` columns before the match.
            let mut w = 0;
            start = first;
            while start > 0 {
                let cw = text::width(&chars[start - 1].to_string());
                if w + cw > room.saturating_sub(1) {
                    break;
                }
                w += cw;
                start -= 1;
            }
        }
    }
    let mut shown: String = chars[start..].iter().collect();
    if start > 0 {
        shown.insert(0, '…');
        positions = positions.iter().map(|p| p - start + 1).collect();
    }
    fit_spans(name_spans(&shown, &positions, base, matched), width)
}

// ----- view -------------------------------------------------------------------------

pub fn rect(area: Rect) -> Rect {
    boxed(area, 96, 40)
}

/// The inside of the box (as `draw_box` makes it): the query row, then the result rows
/// (after a blank row when there is room).
fn parts(area: Rect) -> (Rect, Rect) {
    let inner = super::padded(ratatui::widgets::Block::bordered().inner(rect(area)));
    let query = Rect {
        height: inner.height.min(1),
        ..inner
    };
    let gap = u16::from(inner.height >= 6);
    let rows = Rect {
        y: inner.y + query.height + gap,
        height: inner.height.saturating_sub(query.height + gap),
        ..inner
    };
    (query, rows)
}

/// Results shown at once.
pub fn page(app: &App) -> usize {
    let (_, rows) = parts(Rect::new(0, 0, app.size.0, app.size.1));
    usize::from(rows.height / ROW_HEIGHT).max(1)
}

fn conversation_name(app: &App, id: &str) -> String {
    match app.conversation(id) {
        Some(c) => app.display_name(c).to_string(),
        None => match ConversationId::parse(id) {
            Some(ConversationTarget::C2c(u)) => u,
            Some(ConversationTarget::Group(g)) => g,
            None => id.to_string(),
        },
    }
}

/// "3 matches" / "12 matches in 4 chats" / "searching…".
fn count_text(o: &SearchOverlay) -> String {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match (&o.state, o.scope, &o.conversation_id) {
        (SearchState::Searching, ..) => "searching…".into(),
        (SearchState::Done, Scope::Conversation, Some(_)) => {
            let mut t = plural(u64::from(o.total), "match", "matches");
            if o.hits.len() < o.total as usize {
                t.push_str(&format!(", newest {} shown", o.hits.len()));
            }
            t
        }
        (SearchState::Done, ..) => {
            let mut chats: Vec<&str> = Vec::new();
            let mut messages: u64 = 0;
            for h in &o.hits {
                if chats.last() != Some(&h.conversation_id.as_str()) {
                    chats.push(&h.conversation_id);
                    messages += u64::from(h.conversation_matches);
                }
            }
            let mut t = format!(
                "{} in {}",
                plural(messages, "match", "matches"),
                plural(u64::from(o.total), "chat", "chats")
            );
            if chats.len() < o.total as usize {
                t.push_str(&format!(", {} shown", chats.len()));
            }
            t
        }
        _ => String::new(),
    }
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, o: &SearchOverlay) {
    let theme = &app.theme;
    let r = rect(area);
    if r.width < 8 || r.height < 3 {
        return;
    }
    let scope_name = match (o.scope, &o.conversation_id) {
        (Scope::Conversation, Some(id)) => conversation_name(app, id),
        _ => "all chats".to_string(),
    };
    let status = match &o.notice {
        Some(n) => Some(Span::styled(n.text.clone(), n.style(theme))),
        None => {
            let t = count_text(o);
            (!t.is_empty()).then(|| Span::styled(t, theme.muted))
        }
    };
    let actions: Vec<Action> = [Action::Open, Action::Toggle, Action::Back]
        .into_iter()
        .filter(|a| available(app, o, a))
        .collect();
    let keys = hints(app, Context::Search, &actions);
    draw_box(
        app,
        frame,
        r,
        vec![
            Span::styled("Search", theme.title),
            Span::styled(" in ", theme.muted),
            Span::styled(text::sanitize_line(&scope_name).into_owned(), theme.accent),
        ],
        status,
        &keys,
    );
    let (qr, rows) = parts(area);
    if qr.height == 0 {
        return;
    }
    super::put_line(
        frame,
        qr,
        qr.y,
        &Line::from(Span::styled("/ ", theme.accent)),
    );
    let prompt = 2.min(qr.width);
    render_field(
        frame,
        &o.field,
        Rect {
            x: qr.x + prompt,
            width: qr.width - prompt,
            ..qr
        },
        true,
        Style::default(),
    );
    if rows.height == 0 {
        return;
    }
    if o.hits.is_empty() {
        let query = text::sanitize_line(&o.query()).trim().to_string();
        let tab = app.keymap.hint(&[Context::Search], &Action::Toggle);
        let mut lines = match &o.state {
            SearchState::Empty => vec![
                Line::styled("Type words to find in messages", theme.muted),
                Line::styled("every word must match · Aa = aa", theme.muted),
            ],
            SearchState::Searching => vec![Line::styled("Searching…", theme.muted)],
            SearchState::Done => vec![Line::styled(
                format!("No messages match “{query}”"),
                theme.muted,
            )],
            SearchState::Failed(e) => {
                let why = crate::tui::explain::failure(e);
                let mut lines = vec![Line::styled("The search failed", theme.error)];
                for r in text::wrap(&why, usize::from(rows.width.saturating_sub(2)).max(1)) {
                    lines.push(Line::styled(why[r].to_string(), theme.muted));
                }
                lines
            }
        };
        if let (Some(tab), Some(_), SearchState::Empty | SearchState::Done) =
            (tab, &o.conversation_id, &o.state)
        {
            let other = match o.scope {
                Scope::Conversation => "all chats",
                Scope::All => "this chat",
            };
            lines.push(Line::styled(format!("{tab}: search {other}"), theme.muted));
        }
        centered(frame, rows, lines);
        return;
    }
    let page = usize::from(rows.height / ROW_HEIGHT).max(1);
    let offset = visible_offset(o.offset, Some(o.cursor), o.hits.len(), page);
    let w = usize::from(rows.width);
    let all = o.scope == Scope::All || o.conversation_id.is_none();
    for (k, hit) in o.hits.iter().enumerate().skip(offset).take(page) {
        let y = rows.y + (k - offset) as u16 * ROW_HEIGHT;
        let on_cursor = k == o.cursor;
        let row = Rect {
            y,
            height: ROW_HEIGHT.min(rows.bottom() - y),
            ..rows
        };
        if on_cursor {
            frame.buffer_mut().set_style(row, theme.selection);
        }
        let m = &hit.message;
        let is_self = m.sender == app.me || m.is_self;
        let who = if is_self {
            "you".to_string()
        } else {
            m.nick_name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| m.sender.clone())
        };
        let mut left: Vec<Span<'static>> = vec![Span::raw(" ")];
        // In a one-to-one chat the peer's name says who wrote; only "you" is added.
        let peer_wrote = matches!(
            ConversationId::parse(&hit.conversation_id),
            Some(ConversationTarget::C2c(peer)) if peer == m.sender
        );
        if all {
            left.push(Span::styled(
                text::sanitize_line(&conversation_name(app, &hit.conversation_id)).into_owned(),
                Style::default().add_modifier(Modifier::BOLD),
            ));
            if hit.conversation_matches > 1 {
                left.push(Span::styled(
                    format!(" ({})", hit.conversation_matches),
                    theme.muted,
                ));
            }
            if !peer_wrote {
                left.push(Span::styled(" · ", theme.muted));
            }
        }
        if !(all && peer_wrote) {
            left.push(Span::styled(
                text::sanitize_line(&who).into_owned(),
                theme.sender(&m.sender, is_self),
            ));
        }
        let right = vec![Span::styled(app.clock.list_stamp(m.timestamp), theme.time)];
        split_line(frame, rows, y, left, right);
        if row.height > 1 {
            let (tag, body) = searchable(m, &o.keywords);
            let mut spans = vec![Span::raw("   ")];
            if let Some(tag) = tag {
                spans.push(Span::styled(tag, theme.custom));
            }
            let used: usize = spans.iter().map(Span::width).sum();
            let snip = snippet(
                &body,
                &o.keywords,
                w.saturating_sub(used),
                theme.muted,
                theme.matched,
            );
            spans.extend(snip.spans);
            let line = fit_spans(spans, w);
            frame
                .buffer_mut()
                .set_line(rows.x, y + 1, &line, rows.width);
        }
        if on_cursor {
            for dy in 0..row.height {
                frame
                    .buffer_mut()
                    .set_string(rows.x, y + dy, "▌", theme.selection_marker);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn positions_are_chars_case_insensitive_for_ascii_and_merge_overlaps() {
        assert_eq!(
            match_positions("Hello hello", &kw(&["HELLO"])),
            [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]
        );
        assert_eq!(match_positions("去爬山吗", &kw(&["爬山"])), [1, 2]);
        assert_eq!(match_positions("aaa", &kw(&["aa"])), [0, 1, 2]);
        assert_eq!(
            match_positions("red apple", &kw(&["red", "pp"])),
            [0, 1, 2, 5, 6]
        );
        assert!(match_positions("abc", &kw(&["x"])).is_empty());
    }

    #[test]
    fn snippets_cut_the_start_to_show_the_first_match() {
        let s = "a very long message that mentions the deploy only near its end";
        let line = snippet(s, &kw(&["deploy"]), 30, Style::default(), Style::default());
        let t: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(t.starts_with('…'), "{t}");
        assert!(t.contains("deploy"), "{t}");
        assert!(text::width(&t) <= 30, "{t}");
        // Wide characters: widths, not chars, decide.
        let s = "周末一起去爬山吗？天气预报说星期六是晴天我们八点在地铁站见面吧";
        let line = snippet(s, &kw(&["地铁"]), 20, Style::default(), Style::default());
        let t: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(t.contains("地铁"), "{t}");
        assert!(text::width(&t) <= 20, "{t}");
    }
}
