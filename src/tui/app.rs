//! The whole UI state. Rendering is a pure function of it; `update` (actions),
//! `apply_event` (SDK events) and `apply_result` (effect outcomes) are the only
//! ways it changes, and they return the SDK calls to make as [`Effect`]s.

use std::collections::{HashMap, HashSet};

use ratatui::style::Style;
use ratatui_textarea::{CursorMove, TextArea, WrapMode};

use super::action::Context;
use super::clock::Clock;
use super::effect::{
    Effect, EffectResult, HistoryDirection, OutgoingContent, SdkError, SendOptions,
};
use super::event::{ConnectionStatus, SdkEvent};
use super::fuzzy::fuzzy_match;
use super::keymap::Keymap;
use super::overlay::{ConversationDataEditor, CustomEditor, MemberPicker, SendOptionsPanel};
use super::theme::Theme;
use super::window::{LoadState, MessageWindow};
use crate::model::{
    Conversation, ConversationId, ConversationTarget, GroupType, Message, MessageStatus,
    conversation_type, elem_type, sort_conversations,
};

/// Messages per history page.
pub const HISTORY_PAGE: u32 = 30;
/// Message windows kept for conversations that are not open (least recently opened
/// are dropped first).
pub const MAX_WINDOWS: usize = 24;
/// How long a status-line notice stays, seconds.
pub const STATUS_SECS: i64 = 8;

/// The focused pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Messages,
    Composer,
}

impl Focus {
    pub fn context(self) -> Context {
        match self {
            Focus::List => Context::List,
            Focus::Messages => Context::Messages,
            Focus::Composer => Context::Composer,
        }
    }
}

/// A modal on top of the panes; it gets keys first (its [`Context`] heads
/// [`App::focus_chain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help {
        scroll: usize,
    },
    /// Choose the receivers of a targeted group message.
    Picker(Box<MemberPicker>),
    /// Write a custom message (data, desc, extension).
    CustomMessage(Box<CustomEditor>),
    /// Every `sendMessage` option for the next sends in a conversation.
    SendOptions(Box<SendOptionsPanel>),
    /// Set one custom-data string on several conversations.
    ConversationData(Box<ConversationDataEditor>),
    /// Every field of one message (found by [`message_key`] in its window).
    MessageDetails {
        conversation_id: String,
        key: String,
        scroll: usize,
    },
    /// A conversation's fields, custom data included (live: changes from other
    /// devices show as they arrive).
    ConversationDetails {
        conversation_id: String,
        scroll: usize,
    },
    /// Search messages in the local cache; Enter goes to the message.
    Search(Box<super::overlay::SearchOverlay>),
    /// The UserSig expired and termim cannot sign one: paste a new one.
    UserSig(Box<super::overlay::user_sig::SigPrompt>),
}

impl Overlay {
    pub fn context(&self) -> Context {
        match self {
            Overlay::Help { .. } => Context::Help,
            Overlay::Picker(_) => Context::Picker,
            Overlay::CustomMessage(_) => Context::CustomMessage,
            Overlay::SendOptions(_) => Context::SendOptions,
            Overlay::ConversationData(_) => Context::ConversationData,
            Overlay::MessageDetails { .. } | Overlay::ConversationDetails { .. } => {
                Context::Details
            }
            Overlay::Search(_) => Context::Search,
            Overlay::UserSig(_) => Context::UserSig,
        }
    }
}

/// One row of a filtered conversation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterMatch {
    /// Index into `App::conversations`.
    pub index: usize,
    pub score: i64,
    /// Matched char positions in the display name, for highlighting.
    pub positions: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterState {
    pub query: String,
    pub matches: Vec<FilterMatch>,
    /// Row in `matches`.
    pub selected: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub text: String,
    pub error: bool,
    /// Unix time after which it is no longer shown.
    pub until: i64,
    /// A brief confirmation ("Copied 42 characters"): the next key clears it.
    pub fades_on_key: bool,
    /// About this conversation's armed receivers ("The next message goes only to
    /// 1 member"): shown only while they are armed, so it can't outlive the send
    /// that used them.
    pub while_armed: Option<String>,
}

/// What happened to me in a group, for the status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupNoticeKind {
    Dismissed,
    Removed,
    Added,
    Joined,
}

/// A group notice, phrased once the group's name is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNotice {
    pub kind: GroupNoticeKind,
    pub group_id: String,
    /// Who did it (a user ID: the server sends no nicknames yet).
    pub op_user: String,
    /// When it happened (Unix seconds).
    pub since: i64,
}

impl GroupNotice {
    /// The sentence, naming the group `name`.
    pub fn text(&self, name: &str) -> String {
        let op = &self.op_user;
        match self.kind {
            GroupNoticeKind::Dismissed => format!("Group {name} was dismissed"),
            GroupNoticeKind::Removed => format!("You were removed from {name} by {op}"),
            GroupNoticeKind::Added => format!("{op} added you to {name}"),
            GroupNoticeKind::Joined => format!("You joined {name}"),
        }
    }
}

/// Per-conversation composer state that survives switching conversations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComposeState {
    /// The draft as last saved to the SDK (`set_conversation_draft`).
    pub saved_draft: String,
    /// The draft text while the conversation is not open.
    pub draft: String,
    /// Armed targeted-message receivers (issue 4's member picker); cleared by a send.
    pub targets: Vec<String>,
    /// Armed send options (issue 4's panel); persist until reset.
    pub options: SendOptions,
}

pub struct App {
    /// The logged-in user.
    pub me: String,
    pub keymap: Keymap,
    pub theme: Theme,
    pub clock: Clock,
    /// Terminal size (columns, rows), for paging and mouse hit-testing.
    pub size: (u16, u16),
    pub connection: ConnectionStatus,
    /// Between login and the SDK's first `SyncFinished`.
    pub syncing: bool,
    /// This termim signs its own UserSigs (no `--usersig` given): an expired one is
    /// renewed without asking.
    pub can_sign: bool,
    /// The UserSig expired and no new one has been taken yet.
    pub sig_expired: bool,
    /// Why the latest attempt to connect failed (shown while offline).
    pub connect_error: Option<String>,
    /// The terminal window has focus (messages arriving then are read at once).
    pub terminal_focused: bool,

    /// Pinned first, then by `orderkey` descending.
    pub conversations: Vec<Conversation>,
    pub conversations_loaded: bool,
    pub total_unread: u64,
    /// The selected conversation in the list (by id, so it survives re-sorting).
    pub list_selected: Option<String>,
    /// The user moved the selection (or opened a conversation). Until then the
    /// selection follows the top row: at start the list arrives in pieces (the
    /// cache, then each conversation sync touches, oldest first), and the first
    /// piece is not the top of the final list.
    pub list_chosen: bool,
    /// First visible row of the list.
    pub list_offset: usize,
    pub filter: Option<FilterState>,

    /// The open conversation.
    pub open: Option<String>,
    pub windows: HashMap<String, MessageWindow>,
    /// Most recently opened last; bounds `windows`.
    pub window_lru: Vec<String>,

    pub focus: Focus,
    pub overlay: Option<Overlay>,
    /// An overlay waiting under the help overlay (help opened from it), restored
    /// when the help closes.
    pub overlay_under: Option<Overlay>,
    /// Conversations marked in the list (Space), in marking order: the targets of
    /// the custom-data editor.
    pub marked: Vec<String>,
    /// Custom messages expanded in full, by message key.
    pub expanded: HashSet<String>,
    /// Conversations whose custom messages are all expanded.
    pub expand_all: HashSet<String>,
    /// Custom messages being written, per conversation, kept while the editor is
    /// closed (and given back when creating one fails).
    pub custom_drafts: HashMap<String, Box<CustomEditor>>,
    pub composer: TextArea<'static>,
    pub compose: HashMap<String, ComposeState>,
    /// Why a message failed to send, by creation id.
    pub send_errors: HashMap<String, SdkError>,
    pub status: Option<StatusLine>,
    /// How `y` copies (OSC 52 on or off, the size cap).
    pub clipboard: super::clipboard::ClipboardSettings,
    pub should_quit: bool,

    /// Notices about groups I was just added to, waiting for the group's
    /// conversation (and so its name), which the SDK fetches after the event.
    pub(crate) pending_group_notices: Vec<GroupNotice>,
    /// `CleanUnread` in flight per conversation, and whether more arrived meanwhile.
    pub(crate) cleaning: HashSet<String>,
    pub(crate) cleaning_dirty: HashSet<String>,
}

fn new_composer() -> TextArea<'static> {
    let mut ta = TextArea::default();
    ta.set_wrap_mode(WrapMode::WordOrGlyph);
    ta.set_cursor_line_style(Style::default());
    ta
}

impl App {
    pub fn new(me: impl Into<String>, keymap: Keymap, theme: Theme, clock: Clock) -> Self {
        let mut app = Self {
            me: me.into(),
            keymap,
            theme,
            clock,
            size: (80, 24),
            connection: ConnectionStatus::Connecting,
            syncing: true,
            can_sign: false,
            sig_expired: false,
            connect_error: None,
            terminal_focused: true,
            conversations: Vec::new(),
            conversations_loaded: false,
            total_unread: 0,
            list_selected: None,
            list_chosen: false,
            list_offset: 0,
            filter: None,
            open: None,
            windows: HashMap::new(),
            window_lru: Vec::new(),
            focus: Focus::List,
            overlay: None,
            overlay_under: None,
            marked: Vec::new(),
            expanded: HashSet::new(),
            expand_all: HashSet::new(),
            custom_drafts: HashMap::new(),
            composer: new_composer(),
            compose: HashMap::new(),
            send_errors: HashMap::new(),
            status: None,
            clipboard: super::clipboard::ClipboardSettings::default(),
            should_quit: false,
            pending_group_notices: Vec::new(),
            cleaning: HashSet::new(),
            cleaning_dirty: HashSet::new(),
        };
        app.style_composer();
        app
    }

    /// Effects to run once at start-up.
    pub fn start(&mut self) -> Vec<Effect> {
        vec![Effect::LoadConversations]
    }

    // ----- lookups ---------------------------------------------------------------

    pub fn conv_index(&self, id: &str) -> Option<usize> {
        self.conversations
            .iter()
            .position(|c| c.conversation_id == id)
    }

    pub fn conversation(&self, id: &str) -> Option<&Conversation> {
        self.conversations.iter().find(|c| c.conversation_id == id)
    }

    pub fn open_conversation(&self) -> Option<&Conversation> {
        self.open.as_deref().and_then(|id| self.conversation(id))
    }

    pub fn open_window(&self) -> Option<&MessageWindow> {
        self.open.as_deref().and_then(|id| self.windows.get(id))
    }

    /// The name to show for a conversation.
    pub fn display_name<'a>(&self, c: &'a Conversation) -> &'a str {
        if !c.show_name.is_empty() {
            &c.show_name
        } else if let Some(u) = c.user_id.as_deref().filter(|u| !u.is_empty()) {
            u
        } else if let Some(g) = c.group_id.as_deref().filter(|g| !g.is_empty()) {
            g
        } else {
            &c.conversation_id
        }
    }

    pub fn is_group(c: &Conversation) -> bool {
        c.conv_type == conversation_type::GROUP || c.conversation_id.starts_with("group_")
    }

    /// The draft to show for a conversation that is not open.
    pub fn draft_of(&self, id: &str) -> Option<&str> {
        if self.open.as_deref() == Some(id) {
            // The composer shows it when it is on screen; else the row does.
            if self.areas().composer.is_some() {
                return None;
            }
            let text = self.composer.lines();
            let first = text.iter().find(|l| !l.trim().is_empty())?;
            return Some(first.as_str());
        }
        let d = match self.compose.get(id) {
            Some(cs) => cs.draft.as_str(),
            None => self
                .conversation(id)
                .and_then(|c| c.draft_text.as_deref())
                .unwrap_or(""),
        };
        (!d.trim().is_empty()).then_some(d)
    }

    /// The composer's text.
    pub fn composer_text(&self) -> String {
        self.composer.lines().join("\n")
    }

    /// What a send carries of the composer's `raw` text: without the blank lines
    /// around it and the trailing whitespace.
    pub fn text_to_send(raw: &str) -> &str {
        raw.trim_matches(|c| c == '\n' || c == '\r').trim_end()
    }

    /// Bytes the next send counts against the 12 KB body limit, counted as the SDK
    /// counts them ([`Message::body_len`]: the text as sent plus the armed
    /// cloudCustomData), so the composer's counter and a refusal agree.
    pub fn composer_body_len(&self) -> usize {
        let raw = self.composer_text();
        let message = Message {
            elem_type: elem_type::TEXT,
            text_elem: Some(crate::model::TextElem {
                text: Self::text_to_send(&raw).to_string(),
            }),
            cloud_custom_data: self
                .open
                .as_deref()
                .and_then(|id| self.compose.get(id))
                .and_then(|cs| cs.options.cloud_custom_data.clone()),
            ..Message::default()
        };
        message.body_len()
    }

    /// Rows of the conversation list: indices into `conversations`.
    pub fn list_rows(&self) -> Vec<usize> {
        match &self.filter {
            Some(f) => f.matches.iter().map(|m| m.index).collect(),
            None => (0..self.conversations.len()).collect(),
        }
    }

    pub fn list_len(&self) -> usize {
        match &self.filter {
            Some(f) => f.matches.len(),
            None => self.conversations.len(),
        }
    }

    /// The selected row of the list (filter row when filtering).
    pub fn selected_row(&self) -> Option<usize> {
        match &self.filter {
            Some(f) => f
                .matches
                .len()
                .checked_sub(1)
                .map(|last| f.selected.min(last)),
            None => self
                .list_selected
                .as_deref()
                .and_then(|id| self.conv_index(id)),
        }
    }

    /// Conversation index at list row `row`.
    pub fn row_conversation(&self, row: usize) -> Option<usize> {
        match &self.filter {
            Some(f) => f.matches.get(row).map(|m| m.index),
            None => (row < self.conversations.len()).then_some(row),
        }
    }

    /// Would `action` do something now? The help bar only offers what would.
    pub fn available(&self, action: &super::action::Action) -> bool {
        use super::action::Action as A;
        if let Some(o) = &self.overlay {
            return super::overlay::available(self, o, action);
        }
        let in_list = self.filter.is_none() && self.focus == Focus::List;
        match action {
            A::Back if in_list => !self.marked.is_empty(),
            A::Toggle | A::Details | A::ConversationData if in_list => self.list_len() > 0,
            A::PickTargets => self.open_conversation().is_some_and(Self::targets_allowed),
            A::CustomMessage | A::SendOptions | A::ExternalEditor => {
                self.open_conversation().is_some()
            }
            A::Details => self.open_window().is_some_and(|w| !w.messages.is_empty()),
            A::Expand => self
                .open_window()
                .is_some_and(|w| w.messages.iter().any(|m| m.custom_elem.is_some())),
            A::Filter => !self.conversations.is_empty(),
            A::PageUp | A::PageDown if self.filter.is_some() || self.focus == Focus::List => {
                self.list_len() > self.list_page()
            }
            A::FocusNext | A::FocusPrev => self.open.is_some() && self.overlay.is_none(),
            A::NextUnread => self.conversations.iter().any(|c| c.unread_count > 0),
            A::Open | A::TogglePin | A::SelectNext | A::SelectPrev
                if self.overlay.is_none() && self.focus == Focus::List =>
            {
                self.list_len() > 0
            }
            A::Compose => self.list_len() > 0 || self.open.is_some(),
            A::Resend => self.open_window().is_some_and(|w| {
                w.view
                    .selected
                    .and_then(|i| w.messages.get(i))
                    .is_some_and(|m| m.is_self && m.status == MessageStatus::SendFail)
            }),
            A::NextConversation | A::PrevConversation => self.conversations.len() > 1,
            A::RenewSig => self.sig_expired,
            A::Copy => self
                .open_window()
                .is_some_and(|w| w.view.selected.is_some_and(|i| i < w.messages.len())),
            _ => true,
        }
    }

    /// The help bar's label for `action`, where the app's state changes what it does.
    pub fn bar_label(&self, action: &super::action::Action, label: &'static str) -> &'static str {
        let armed = self
            .open
            .as_deref()
            .and_then(|id| self.compose.get(id))
            .is_some_and(|cs| !cs.targets.is_empty());
        match action {
            super::action::Action::Back
                if self.overlay.is_none() && self.focus == Focus::Composer && armed =>
            {
                "to everyone"
            }
            _ => label,
        }
    }

    /// Can a targeted message go to this conversation (a group of a type that has
    /// them; V2TIM: not Community, not AVChatRoom)?
    pub fn targets_allowed(c: &Conversation) -> bool {
        Self::is_group(c)
            && c.group_type
                .as_deref()
                .and_then(GroupType::parse)
                .is_none_or(GroupType::supports_targeted)
    }

    /// Should this key go to the overlay's text field even though a binding claims
    /// it? (Space, arrows and editing keys on a text row of the send-options panel.)
    pub fn raw_input(&self, key: &super::keymap::KeyChord) -> bool {
        match &self.overlay {
            Some(Overlay::SendOptions(p)) => p.wants_raw(key),
            _ => false,
        }
    }

    /// Where keys are looked up, most specific first.
    pub fn focus_chain(&self) -> Vec<Context> {
        if let Some(o) = &self.overlay {
            return vec![o.context(), Context::Global];
        }
        if self.filter.is_some() {
            return vec![Context::Filter, Context::Global];
        }
        vec![self.focus.context(), Context::Global]
    }

    // ----- status line -----------------------------------------------------------

    pub fn notify(&mut self, text: impl Into<String>) {
        self.status = Some(StatusLine {
            text: text.into(),
            error: false,
            until: self.clock.now + STATUS_SECS,
            fades_on_key: false,
            while_armed: None,
        });
    }

    /// A notice about the receivers armed in `conversation_id`; it goes as soon as
    /// they are not armed any more (sent, disarmed).
    pub fn notify_armed(&mut self, conversation_id: &str, text: impl Into<String>) {
        self.notify(text);
        if let Some(s) = &mut self.status {
            s.while_armed = Some(conversation_id.to_string());
        }
    }

    /// The receivers armed for the next message in `conversation_id`.
    pub fn armed_targets(&self, conversation_id: &str) -> &[String] {
        self.compose
            .get(conversation_id)
            .map_or(&[], |cs| cs.targets.as_slice())
    }

    pub fn notify_error(&mut self, text: impl Into<String>) {
        self.status = Some(StatusLine {
            text: text.into(),
            error: true,
            until: self.clock.now + STATUS_SECS * 2,
            fades_on_key: false,
            while_armed: None,
        });
    }

    /// A short-lived notice: gone at the next key, or after
    /// [`COPIED_SECS`](super::clipboard::COPIED_SECS) by the clock.
    pub fn notify_brief(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(StatusLine {
            text: text.into(),
            error,
            until: self.clock.now + super::clipboard::COPIED_SECS,
            fades_on_key: true,
            while_armed: None,
        });
    }

    /// A key was pressed: a brief notice has been seen.
    pub(crate) fn fade_brief_notice(&mut self) {
        if self.status.as_ref().is_some_and(|s| s.fades_on_key) {
            self.status = None;
        }
    }

    pub fn visible_status(&self) -> Option<&StatusLine> {
        self.status.as_ref().filter(|s| {
            s.until >= self.clock.now
                && s.while_armed
                    .as_deref()
                    .is_none_or(|id| !self.armed_targets(id).is_empty())
        })
    }

    // ----- composer --------------------------------------------------------------

    /// Cursor and placeholder follow focus and the open conversation.
    pub(crate) fn style_composer(&mut self) {
        let focused = self.focus == Focus::Composer && self.overlay.is_none();
        let cursor = if focused {
            Style::default().add_modifier(ratatui::style::Modifier::REVERSED)
        } else {
            Style::default()
        };
        self.composer.set_cursor_style(cursor);
        let chain = [Context::Composer];
        let send = self
            .keymap
            .hint(&chain, &super::action::Action::Send)
            .unwrap_or_default();
        let newline = self
            .keymap
            .hint(&chain, &super::action::Action::Newline)
            .unwrap_or_default();
        let who = self
            .open_conversation()
            .map(|c| self.display_name(c).to_string())
            .unwrap_or_default();
        let mut placeholder = format!("Message {who}");
        let room = self
            .areas()
            .composer
            .map_or(usize::MAX, |r| usize::from(r.width.saturating_sub(2)));
        for (key, what) in [(send, "send"), (newline, "newline")] {
            let more = format!(" · {key} {what}");
            if !key.is_empty()
                && super::text::width(&placeholder) + super::text::width(&more) <= room
            {
                placeholder.push_str(&more);
            }
        }
        self.composer.set_placeholder_text(placeholder);
        self.composer.set_placeholder_style(self.theme.muted);
    }

    /// Keep the text area's own scroll position valid for the composer's current
    /// size: it remembers its top row from the last draw, so after the composer
    /// grows (a resize, fewer lines wrapping) it would keep the first lines hidden
    /// over blank rows. All lines show when they fit, the cursor's line otherwise.
    pub(crate) fn fit_composer(&mut self) {
        let Some(area) = self.areas().composer.map(super::layout::inner) else {
            return;
        };
        if area.width == 0 || area.height == 0 || self.composer.is_empty() {
            return;
        }
        // Drawing at the new size re-wraps the text and brings the cursor into view.
        let mut scratch = ratatui::buffer::Buffer::empty(area);
        ratatui::widgets::Widget::render(&self.composer, area, &mut scratch);
        let (top, _) = self.composer.scroll_offset();
        if top == 0 {
            return;
        }
        let cursor = self.composer.cursor();
        self.composer.move_cursor(CursorMove::Bottom);
        self.composer.move_cursor(CursorMove::End);
        let last_row = self.composer.screen_cursor().row;
        self.composer.move_cursor(CursorMove::Jump(
            u16::try_from(cursor.0).unwrap_or(u16::MAX),
            u16::try_from(cursor.1).unwrap_or(u16::MAX),
        ));
        let max_top = (last_row + 1).saturating_sub(usize::from(area.height));
        let excess = usize::from(top).saturating_sub(max_top);
        if excess > 0 {
            // The cursor's row stays in view: it is at most the last row.
            self.composer
                .scroll((-i16::try_from(excess).unwrap_or(i16::MAX), 0));
        }
    }

    pub(crate) fn set_composer_text(&mut self, text: &str) {
        let lines: Vec<String> = if text.is_empty() {
            vec![String::new()]
        } else {
            text.split('\n').map(str::to_string).collect()
        };
        let mut ta = TextArea::new(lines);
        ta.set_wrap_mode(WrapMode::WordOrGlyph);
        ta.set_cursor_line_style(Style::default());
        ta.move_cursor(ratatui_textarea::CursorMove::Bottom);
        ta.move_cursor(ratatui_textarea::CursorMove::End);
        self.composer = ta;
        self.style_composer();
    }

    /// Save the open conversation's composer text as its draft; returns the
    /// `SetDraft` effect when it changed.
    pub(crate) fn stash_draft(&mut self) -> Option<Effect> {
        let id = self.open.clone()?;
        let text = self.composer_text();
        let text = if text.trim().is_empty() {
            String::new()
        } else {
            text
        };
        let saved_in_conv = self
            .conversation(&id)
            .and_then(|c| c.draft_text.clone())
            .unwrap_or_default();
        let cs = self
            .compose
            .entry(id.clone())
            .or_insert_with(|| ComposeState {
                saved_draft: saved_in_conv,
                ..ComposeState::default()
            });
        cs.draft = text.clone();
        if cs.saved_draft == text {
            return None;
        }
        cs.saved_draft = text.clone();
        if let Some(i) = self.conv_index(&id) {
            self.conversations[i].draft_text = (!text.is_empty()).then(|| text.clone());
        }
        Some(Effect::SetDraft {
            conversation_id: id,
            text: (!text.is_empty()).then_some(text),
        })
    }

    // ----- conversations ---------------------------------------------------------

    /// Re-sort (pinned first, then activity) and refresh the filter.
    pub(crate) fn resort(&mut self) {
        sort_conversations(&mut self.conversations);
        self.refilter();
    }

    pub(crate) fn refilter(&mut self) {
        let Some(f) = &self.filter else {
            return;
        };
        let query = f.query.clone();
        let prev = f
            .matches
            .get(f.selected)
            .and_then(|m| self.conversations.get(m.index))
            .map(|c| c.conversation_id.clone());
        let mut matches: Vec<FilterMatch> = self
            .conversations
            .iter()
            .enumerate()
            .filter_map(|(index, c)| {
                let name = self.display_name(c);
                let by_name = fuzzy_match(&query, name);
                let by_id =
                    fuzzy_match(&query, &c.conversation_id).map(|m| (m.score - 20, Vec::new()));
                let best = match (by_name, by_id) {
                    (Some(n), Some((s, p))) if s > n.score => (s, p),
                    (Some(n), _) => (n.score, n.positions),
                    (None, Some(x)) => x,
                    (None, None) => return None,
                };
                Some(FilterMatch {
                    index,
                    score: best.0,
                    positions: best.1,
                })
            })
            .collect();
        // Best first; ties keep the list's own order (pins, then activity).
        matches.sort_by(|a, b| b.score.cmp(&a.score).then(a.index.cmp(&b.index)));
        let selected = prev
            .and_then(|id| {
                matches
                    .iter()
                    .position(|m| self.conversations[m.index].conversation_id == id)
            })
            .filter(|_| !query.is_empty())
            .unwrap_or(0);
        if let Some(f) = &mut self.filter {
            f.matches = matches;
            f.selected = selected;
        }
    }

    /// Insert or replace conversations from the SDK, keeping local drafts.
    pub(crate) fn merge_conversations(&mut self, list: Vec<Conversation>) -> Vec<Effect> {
        let mut effects = Vec::new();
        for mut c in list {
            if let Some(cs) = self.compose.get(&c.conversation_id) {
                c.draft_text = (!cs.saved_draft.is_empty()).then(|| cs.saved_draft.clone());
            }
            let id = c.conversation_id.clone();
            match self.conv_index(&id) {
                Some(i) => self.conversations[i] = c,
                None => self.conversations.push(c),
            }
            effects.extend(self.mark_read_if_open(&id));
        }
        self.resort();
        if self.list_selected.is_none() || !self.list_chosen {
            self.list_selected = self
                .conversations
                .first()
                .map(|c| c.conversation_id.clone());
        }
        self.announce_group_notices(false);
        effects
    }

    /// Say the group notices whose group is now known, by its name; with `stale`,
    /// also those that waited [`STATUS_SECS`] for it in vain (by the group's ID).
    pub(crate) fn announce_group_notices(&mut self, stale: bool) {
        let now = self.clock.now;
        let pending = std::mem::take(&mut self.pending_group_notices);
        for n in pending {
            let conv_id = ConversationId::group(&n.group_id).0;
            let name = match self.conversation(&conv_id) {
                Some(c) => self.display_name(c).to_string(),
                None if stale && now - n.since >= STATUS_SECS => n.group_id.clone(),
                None => {
                    self.pending_group_notices.push(n);
                    continue;
                }
            };
            self.notify(n.text(&name));
        }
    }

    fn recount_total(&mut self) {
        self.total_unread = self.conversations.iter().map(|c| c.unread_count).sum();
    }

    /// The open, focused conversation is read: clean its unread count on the server.
    pub(crate) fn mark_read_if_open(&mut self, id: &str) -> Option<Effect> {
        if self.open.as_deref() != Some(id) || !self.terminal_focused {
            return None;
        }
        let i = self.conv_index(id)?;
        let unread = self.conversations[i].unread_count;
        if unread == 0 {
            return None;
        }
        self.conversations[i].unread_count = 0;
        self.total_unread = self.total_unread.saturating_sub(unread);
        if !self.cleaning.insert(id.to_string()) {
            self.cleaning_dirty.insert(id.to_string());
            return None;
        }
        Some(Effect::CleanUnread {
            conversation_id: id.to_string(),
        })
    }

    /// Does `m` count as unread in `c` by the V2TIM rules?
    fn counts_unread(c: Option<&Conversation>, m: &Message) -> bool {
        let group_counts = c
            .and_then(|c| c.group_type.as_deref())
            .and_then(GroupType::parse)
            .is_none_or(GroupType::counts_unread);
        !m.is_self
            && !m.is_excluded_from_unread_count
            && !m.is_online_only
            && m.target_group_member_list.is_empty()
            && m.elem_type != elem_type::GROUP_TIPS
            && group_counts
    }

    fn next_orderkey(&self) -> u64 {
        self.conversations
            .iter()
            .map(|c| c.orderkey)
            .max()
            .unwrap_or(0)
            + 1
    }

    /// A placeholder row for a conversation the SDK has not described yet.
    fn stub_conversation(&self, id: &str) -> Conversation {
        let mut c = Conversation {
            conversation_id: id.to_string(),
            ..Conversation::default()
        };
        match ConversationId::parse(id) {
            Some(ConversationTarget::C2c(u)) => {
                c.conv_type = conversation_type::C2C;
                c.user_id = Some(u);
            }
            Some(ConversationTarget::Group(g)) => {
                c.conv_type = conversation_type::GROUP;
                c.group_id = Some(g);
            }
            None => {}
        }
        c
    }

    /// A message became the newest activity of its conversation.
    fn touch_conversation(&mut self, id: &str, m: &Message) -> Vec<Effect> {
        let mut effects = Vec::new();
        let i = match self.conv_index(id) {
            Some(i) => i,
            None => {
                let stub = self.stub_conversation(id);
                self.conversations.push(stub);
                effects.push(Effect::FetchConversation {
                    conversation_id: id.to_string(),
                });
                self.conversations.len() - 1
            }
        };
        let stored = !m.is_online_only;
        if stored && !m.is_excluded_from_last_message {
            let newer = self.conversations[i]
                .last_message
                .as_ref()
                .is_none_or(|lm| {
                    crate::tui::window::same_message(lm, m) || lm.timestamp <= m.timestamp
                });
            if newer {
                self.conversations[i].last_message = Some(Box::new(m.clone()));
            }
        }
        if stored {
            let key = self.next_orderkey();
            self.conversations[i].orderkey = key;
        }
        effects
    }

    fn remember_window(&mut self, id: &str) {
        self.window_lru.retain(|x| x != id);
        self.window_lru.push(id.to_string());
        while self.window_lru.len() > MAX_WINDOWS {
            let old = self.window_lru.remove(0);
            if self.open.as_deref() != Some(old.as_str()) {
                self.windows.remove(&old);
            }
        }
    }

    // ----- opening ---------------------------------------------------------------

    /// Open conversation `id`: keep the current draft, load the other's, load history
    /// if not cached, clean its unread count.
    pub fn open_conversation_id(&mut self, id: &str) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.open.as_deref() == Some(id) {
            self.focus = Focus::Composer;
            self.style_composer();
            return effects;
        }
        effects.extend(self.stash_draft());
        if let Some(prev) = self.open.take()
            && let Some(w) = self.windows.get_mut(&prev)
        {
            w.unread_mark = None;
        }
        let unread = self.conversation(id).map_or(0, |c| c.unread_count);
        self.open = Some(id.to_string());
        self.list_selected = Some(id.to_string());
        self.list_chosen = true;
        let draft = match self.compose.get(id) {
            Some(cs) => cs.draft.clone(),
            None => self
                .conversation(id)
                .and_then(|c| c.draft_text.clone())
                .unwrap_or_default(),
        };
        self.set_composer_text(&draft);
        let mut reveal = false;
        if !self.windows.contains_key(id) {
            self.windows.insert(
                id.to_string(),
                MessageWindow {
                    pending_unread: unread,
                    ..MessageWindow::default()
                },
            );
            effects.push(Effect::LoadHistory {
                conversation_id: id.to_string(),
                direction: HistoryDirection::Latest,
                anchor: None,
                count: HISTORY_PAGE,
            });
        } else if let Some(w) = self.windows.get_mut(id) {
            w.view.follow();
            w.view.selected = None;
            let exact = w.mark_unread(unread);
            w.pending_unread = if exact { 0 } else { unread };
            reveal = true;
        }
        self.remember_window(id);
        effects.extend(self.mark_read_if_open(id));
        self.focus = Focus::Composer;
        self.style_composer();
        if reveal {
            super::update::reveal_unread_mark(self);
        }
        effects
    }

    // ----- SDK events --------------------------------------------------------------

    /// Apply one SDK event.
    pub fn apply_event(&mut self, event: SdkEvent) -> Vec<Effect> {
        match event {
            SdkEvent::NewMessage(m) => self.on_new_message(m),
            SdkEvent::MessageUpdated(m) => {
                let id = m.conversation_id(&self.me);
                self.on_own_message(&id, m, false);
                Vec::new()
            }
            SdkEvent::NewConversation(list) | SdkEvent::ConversationChanged(list) => {
                self.merge_conversations(list)
            }
            SdkEvent::ConversationDeleted(ids) => {
                self.marked.retain(|m| !ids.contains(m));
                for id in &ids {
                    self.conversations.retain(|c| &c.conversation_id != id);
                    self.windows.remove(id);
                    self.compose.remove(id);
                    if self.open.as_deref() == Some(id.as_str()) {
                        self.open = None;
                        self.set_composer_text("");
                        self.focus = Focus::List;
                    }
                    if self.list_selected.as_deref() == Some(id.as_str()) {
                        self.list_selected = None;
                    }
                }
                self.recount_total();
                self.resort();
                if self.list_selected.is_none() {
                    self.list_selected = self
                        .conversations
                        .first()
                        .map(|c| c.conversation_id.clone());
                }
                self.style_composer();
                Vec::new()
            }
            SdkEvent::TotalUnreadChanged(n) => {
                self.total_unread = n;
                Vec::new()
            }
            SdkEvent::ConnectionChanged(state) => {
                let was = self.connection;
                self.connection = state;
                if state == ConnectionStatus::Connected {
                    self.connect_error = None;
                }
                if state == ConnectionStatus::Connected
                    && matches!(was, ConnectionStatus::Disconnected)
                {
                    self.notify("Reconnected");
                }
                Vec::new()
            }
            SdkEvent::SyncFinished => {
                self.syncing = false;
                Vec::new()
            }
            SdkEvent::GroupEvent(ev) => {
                let me_affected = ev.member_list.contains(&self.me);
                let kind = match ev.event.as_str() {
                    "dismissed" => GroupNoticeKind::Dismissed,
                    "kicked" if me_affected => GroupNoticeKind::Removed,
                    "invited" if me_affected => GroupNoticeKind::Added,
                    "joined" if me_affected || ev.op_user == self.me => GroupNoticeKind::Joined,
                    _ => return Vec::new(),
                };
                let notice = GroupNotice {
                    kind,
                    group_id: ev.group_id.clone(),
                    op_user: ev.op_user.clone(),
                    since: self.clock.now,
                };
                // A group I was just added to has no conversation here yet: its name
                // comes with it, so the notice waits for it (never the bare ID when a
                // name is coming).
                self.pending_group_notices.push(notice);
                self.announce_group_notices(false);
                Vec::new()
            }
            SdkEvent::KickedOffline => {
                self.connection = ConnectionStatus::LoggedOut;
                self.notify_error("Signed out: this account logged in elsewhere");
                Vec::new()
            }
            SdkEvent::ConnectFailed(e) => {
                self.connect_error = Some(e.desc);
                Vec::new()
            }
            SdkEvent::UserSigExpired => super::overlay::user_sig::on_expired(self),
        }
    }

    fn on_new_message(&mut self, mut m: Message) -> Vec<Effect> {
        if m.sender == self.me {
            m.is_self = true;
        }
        let id = m.conversation_id(&self.me);
        let counts = Self::counts_unread(self.conversation(&id), &m);
        if let Some(w) = self.windows.get_mut(&id)
            && w.load == LoadState::Ready
        {
            w.upsert(m.clone());
        }
        let mut effects = self.touch_conversation(&id, &m);
        // Unread counts are the SDK's (its conversation events follow a live message at
        // once; after a sync the server's list settles them): counting here as well
        // counted every message a cold sync brought in (issue: phantom unread).
        if counts && self.cleaning.contains(&id) && self.open.as_deref() == Some(id.as_str()) {
            self.cleaning_dirty.insert(id.clone());
        }
        effects.extend(self.mark_read_if_open(&id));
        self.resort();
        effects
    }

    /// A message of mine was created, updated or sent.
    fn on_own_message(&mut self, conv_id: &str, mut m: Message, created: bool) {
        m.is_self = true;
        if m.sender.is_empty() {
            m.sender = self.me.clone();
        }
        if m.timestamp == 0 {
            m.timestamp = self.clock.now;
        }
        if m.status == MessageStatus::SendSucc {
            self.send_errors.remove(&m.id);
        }
        if created && let Some(cs) = self.compose.get(conv_id) {
            // A created message doesn't carry the send options yet; the ones armed for
            // this conversation are the ones it is being sent with.
            m.is_online_only |= cs.options.online_user_only;
            m.is_excluded_from_last_message |= cs.options.is_excluded_from_last_message;
            m.is_excluded_from_unread_count |= cs.options.is_excluded_from_unread_count;
        }
        let w = self
            .windows
            .entry(conv_id.to_string())
            .or_insert_with(MessageWindow::ready);
        let exists = w.find(&m).is_some();
        if created || exists || w.load == LoadState::Ready {
            w.upsert(m.clone());
        }
        if created {
            w.view.follow();
            w.view.selected = None;
        }
        if let Some(i) = self.conv_index(conv_id) {
            let is_last = self.conversations[i]
                .last_message
                .as_ref()
                .is_some_and(|lm| crate::tui::window::same_message(lm, &m));
            if created || is_last {
                self.touch_conversation(conv_id, &m);
                self.resort();
            }
        }
    }

    // ----- effect results --------------------------------------------------------------

    pub fn apply_result(&mut self, result: EffectResult) -> Vec<Effect> {
        match result {
            EffectResult::Conversations { list, total_unread } => {
                let open = self.open.clone();
                let keep: Vec<Conversation> = self
                    .conversations
                    .iter()
                    .filter(|c| {
                        Some(&c.conversation_id) == open.as_ref()
                            && !list.iter().any(|n| n.conversation_id == c.conversation_id)
                    })
                    .cloned()
                    .collect();
                self.conversations = keep;
                let effects = self.merge_conversations(list);
                match total_unread {
                    Some(n) => self.total_unread = n,
                    None => self.recount_total(),
                }
                self.conversations_loaded = true;
                if let Some(sel) = &self.list_selected
                    && self.conv_index(sel).is_none()
                {
                    self.list_selected = self
                        .conversations
                        .first()
                        .map(|c| c.conversation_id.clone());
                }
                effects
            }
            EffectResult::Conversation(c) => self.merge_conversations(vec![c]),
            EffectResult::History {
                conversation_id,
                direction,
                messages,
                is_finished,
            } => {
                let me = self.me.clone();
                let is_open = self.open.as_deref() == Some(conversation_id.as_str());
                let w = self.windows.entry(conversation_id).or_default();
                let messages: Vec<Message> = messages
                    .into_iter()
                    .map(|mut m| {
                        if m.sender == me {
                            m.is_self = true;
                        }
                        m
                    })
                    .collect();
                match direction {
                    HistoryDirection::Older => {
                        w.prepend_older(messages);
                        w.has_older = !is_finished;
                        w.loading_older = false;
                    }
                    HistoryDirection::Latest => {
                        w.merge_newer(messages);
                        w.has_older = !is_finished;
                        w.loading_older = false;
                    }
                    HistoryDirection::Newer => {
                        w.merge_newer(messages);
                    }
                }
                w.load = LoadState::Ready;
                // Until the first unread message is loaded, the mark sits on the
                // oldest loaded one and moves as older pages arrive.
                if w.pending_unread > 0
                    && direction != HistoryDirection::Newer
                    && (w.mark_unread(w.pending_unread) || !w.has_older)
                {
                    w.pending_unread = 0;
                }
                if is_open && direction != HistoryDirection::Newer {
                    super::update::reveal_unread_mark(self);
                    if let Some(effects) = super::overlay::search::continue_jump(self) {
                        return effects;
                    }
                    return super::update::prefetch_older(self);
                }
                Vec::new()
            }
            EffectResult::HistoryFailed {
                conversation_id,
                direction,
                error,
            } => {
                if let Some(w) = self.windows.get_mut(&conversation_id) {
                    w.loading_older = false;
                    w.jump_to = None;
                    // A failed older page is retried by the next scroll.
                    if w.messages.is_empty() && direction != HistoryDirection::Newer {
                        w.load = LoadState::Failed(error.to_string());
                    }
                }
                self.notify_error(format!("Couldn't load messages: {error}"));
                Vec::new()
            }
            EffectResult::MessageCreated {
                conversation_id,
                message,
            } => {
                self.on_own_message(&conversation_id, message, true);
                Vec::new()
            }
            EffectResult::CreateFailed {
                conversation_id,
                content,
                targets,
                error,
            } => {
                // A targeted message's receivers are armed again: sent as it stands, the
                // text given back would otherwise reach the whole group.
                if !targets.is_empty() {
                    let cs = self.compose.entry(conversation_id.clone()).or_default();
                    if cs.targets.is_empty() {
                        cs.targets = targets;
                    }
                }
                // Nothing is lost: the content goes back where it came from.
                if let OutgoingContent::Custom {
                    data,
                    desc,
                    extension,
                } = &content
                {
                    super::overlay::custom_editor::give_back(
                        self,
                        &conversation_id,
                        data,
                        desc,
                        extension,
                    );
                }
                if let OutgoingContent::Text(text) = content {
                    if self.open.as_deref() == Some(conversation_id.as_str()) {
                        if self.composer_text().trim().is_empty() {
                            self.set_composer_text(&text);
                        }
                    } else {
                        let cs = self.compose.entry(conversation_id).or_default();
                        if cs.draft.trim().is_empty() {
                            cs.draft = text;
                        }
                    }
                }
                self.notify_error(format!("Not sent: {}", super::explain::failure(&error)));
                Vec::new()
            }
            EffectResult::MessageSent {
                conversation_id,
                mut message,
            } => {
                if message.status == MessageStatus::Sending {
                    message.status = MessageStatus::SendSucc;
                }
                self.on_own_message(&conversation_id, message, false);
                Vec::new()
            }
            EffectResult::SendFailed {
                conversation_id,
                id,
                error,
            } => {
                if let Some(w) = self.windows.get_mut(&conversation_id)
                    && let Some(i) = w.find_by_id(&id)
                {
                    w.messages[i].status = MessageStatus::SendFail;
                }
                if let Some(i) = self.conv_index(&conversation_id)
                    && let Some(lm) = self.conversations[i].last_message.as_deref_mut()
                    && lm.id == id
                {
                    lm.status = MessageStatus::SendFail;
                }
                self.notify_error(format!("Not sent: {}", super::explain::failure(&error)));
                self.send_errors.insert(id, error);
                Vec::new()
            }
            EffectResult::UnreadCleaned {
                conversation_id,
                error,
            } => {
                self.cleaning.remove(&conversation_id);
                if let Some(e) = error {
                    self.cleaning_dirty.remove(&conversation_id);
                    self.notify_error(format!("Couldn't mark as read: {e}"));
                    return Vec::new();
                }
                if self.cleaning_dirty.remove(&conversation_id)
                    && self.open.as_deref() == Some(conversation_id.as_str())
                    && self.terminal_focused
                {
                    self.cleaning.insert(conversation_id.clone());
                    return vec![Effect::CleanUnread { conversation_id }];
                }
                Vec::new()
            }
            EffectResult::Members {
                group_id,
                next_seq,
                result,
            } => super::overlay::picker::on_members(self, &group_id, &next_seq, result),
            EffectResult::ConversationDataSet {
                conversation_ids,
                data,
                result,
            } => {
                super::overlay::conv_data::on_result(self, &conversation_ids, &data, result);
                Vec::new()
            }
            EffectResult::Edited {
                conversation_id,
                outcome,
            } => super::editor::finished(self, conversation_id, outcome),
            EffectResult::Resumed { error } => super::editor::resumed(self, error),
            EffectResult::SearchResults { generation, result } => {
                super::overlay::search::on_results(self, generation, result);
                Vec::new()
            }
            EffectResult::UserSigRenewed { error } => {
                super::overlay::user_sig::on_renewed(self, error);
                Vec::new()
            }
            EffectResult::Failed { what, error } => {
                self.notify_error(format!("Couldn't {what}: {error}"));
                Vec::new()
            }
        }
    }
}
