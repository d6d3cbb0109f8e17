//! What the user (or the runtime) asks the app to do.
//!
//! The bindable actions have snake_case names and are what `assets/keymap.toml` and
//! a user's `[keymap]` table bind keys to. The `#[serde(skip)]` variants are fed by
//! the event loop (ticks, resizes, pastes, mouse, raw text input) and can't be bound.

use crossterm::event::KeyEvent;
use serde::{Deserialize, Serialize};

/// Where a key is looked up. Lookup order is the *focus chain*: the open overlay,
/// then the filter (when it is open) or the focused pane, then `global`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Context {
    Global,
    List,
    Messages,
    Composer,
    Filter,
    /// The targeted-member picker overlay.
    Picker,
    /// The custom-message editor overlay.
    CustomMessage,
    /// The send-options panel overlay.
    SendOptions,
    /// The conversation custom-data editor overlay.
    ConversationData,
    /// The message and conversation details overlays.
    Details,
    /// The message search overlay.
    Search,
    /// The prompt for a new UserSig (the old one expired).
    UserSig,
    Help,
}

impl Context {
    pub const ALL: [Context; 13] = [
        Context::Global,
        Context::List,
        Context::Messages,
        Context::Composer,
        Context::Filter,
        Context::Picker,
        Context::CustomMessage,
        Context::SendOptions,
        Context::ConversationData,
        Context::Details,
        Context::Search,
        Context::UserSig,
        Context::Help,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::List => "list",
            Context::Messages => "messages",
            Context::Composer => "composer",
            Context::Filter => "filter",
            Context::Picker => "picker",
            Context::CustomMessage => "custom_message",
            Context::SendOptions => "send_options",
            Context::ConversationData => "conversation_data",
            Context::Details => "details",
            Context::Search => "search",
            Context::UserSig => "user_sig",
            Context::Help => "help",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Heading in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::List => "Conversation list",
            Context::Messages => "Messages",
            Context::Composer => "Composer",
            Context::Filter => "Filter",
            Context::Picker => "Targeted-member picker",
            Context::CustomMessage => "Custom-message editor",
            Context::SendOptions => "Send options",
            Context::ConversationData => "Conversation custom data",
            Context::Details => "Details",
            Context::Search => "Message search",
            Context::UserSig => "New UserSig",
            Context::Help => "Help",
        }
    }

    /// Contexts where typed characters are text, not commands (unless the context
    /// itself binds that exact key). The send-options panel takes text on its text
    /// rows; there even its own bindings of plain keys give way (see
    /// `App::raw_input`).
    pub fn takes_text(self) -> bool {
        matches!(
            self,
            Context::Composer
                | Context::Filter
                | Context::Picker
                | Context::CustomMessage
                | Context::SendOptions
                | Context::ConversationData
                | Context::Search
                | Context::UserSig
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    FocusNext,
    FocusPrev,
    Filter,
    NextUnread,
    NextConversation,
    PrevConversation,
    SelectNext,
    SelectPrev,
    SelectFirst,
    SelectLast,
    PageUp,
    PageDown,
    Open,
    Back,
    TogglePin,
    Compose,
    Resend,
    Send,
    Newline,
    /// Confirm an overlay (arm the picked receivers, apply options or custom data).
    Confirm,
    /// Mark a conversation, select a member, flip an option.
    Toggle,
    /// Select every member the picker shows (or unselect them all).
    SelectAll,
    NextField,
    PrevField,
    /// Change the focused option's value (priority).
    NextValue,
    PrevValue,
    /// Turn JSON validation of the custom message's data on or off.
    ValidateJson,
    /// Reset every send option to V2TIM's default.
    Reset,
    /// Open the targeted-member picker.
    PickTargets,
    /// Open the custom-message editor.
    CustomMessage,
    /// Open the send-options panel.
    SendOptions,
    /// Details of the selected message or conversation.
    Details,
    /// Expand or collapse custom messages.
    Expand,
    /// Edit the custom data of the marked (or selected) conversations.
    ConversationData,
    /// Edit the composer's text in `$VISUAL` / `$EDITOR` (the terminal is handed
    /// over until the editor exits; nothing is sent).
    ExternalEditor,
    /// Suspend termim to the shell (Ctrl-Z); `fg` resumes it.
    Suspend,
    /// Clear the terminal and draw everything again (Ctrl-L), for a screen something
    /// else has scribbled on.
    Redraw,
    /// Copy the selected message's text to the clipboard (OSC 52).
    Copy,
    /// Copy the message's msgID (message details).
    CopyId,
    /// Search messages in the local cache (this conversation or all).
    Search,
    /// Enter a new UserSig after the old one expired.
    RenewSig,

    // Runtime inputs; not bindable.
    /// The clock advanced (Unix seconds).
    #[serde(skip)]
    Tick(i64),
    /// The terminal now has this size (columns, rows).
    #[serde(skip)]
    Resize(u16, u16),
    /// A bracketed paste: one block of text.
    #[serde(skip)]
    Paste(String),
    /// A key no binding claimed, for the composer or the filter input.
    #[serde(skip)]
    Input(KeyEvent),
    /// Mouse wheel over the cell (column, row); `up` scrolls towards older content.
    #[serde(skip)]
    Scroll {
        column: u16,
        row: u16,
        up: bool,
    },
    /// Left click on the cell (column, row).
    #[serde(skip)]
    Click {
        column: u16,
        row: u16,
    },
    /// The terminal window gained (true) or lost (false) focus.
    #[serde(skip)]
    TerminalFocus(bool),
    /// A composer editing command (readline keys); bound by its own name
    /// (`kill_to_start = ["ctrl-u"]`), so it serialises as that name.
    #[serde(untagged)]
    Edit(EditOp),
}

impl Action {
    /// Every bindable action, in the order help lists them.
    pub const BINDABLE: [Action; 43] = [
        Action::Send,
        Action::Newline,
        Action::Open,
        Action::Confirm,
        Action::Compose,
        Action::Back,
        Action::SelectNext,
        Action::SelectPrev,
        Action::PageUp,
        Action::PageDown,
        Action::SelectFirst,
        Action::SelectLast,
        Action::Toggle,
        Action::SelectAll,
        Action::NextField,
        Action::PrevField,
        Action::PrevValue,
        Action::NextValue,
        Action::ValidateJson,
        Action::Reset,
        Action::Filter,
        Action::NextUnread,
        Action::NextConversation,
        Action::PrevConversation,
        Action::TogglePin,
        Action::Resend,
        Action::PickTargets,
        Action::CustomMessage,
        Action::SendOptions,
        Action::Details,
        Action::Copy,
        Action::CopyId,
        Action::Expand,
        Action::ConversationData,
        Action::ExternalEditor,
        Action::Search,
        Action::RenewSig,
        Action::FocusNext,
        Action::FocusPrev,
        Action::Help,
        Action::Suspend,
        Action::Redraw,
        Action::Quit,
    ];

    /// The snake_case name used in keymap files.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::FocusNext => "focus_next",
            Action::FocusPrev => "focus_prev",
            Action::Filter => "filter",
            Action::NextUnread => "next_unread",
            Action::NextConversation => "next_conversation",
            Action::PrevConversation => "prev_conversation",
            Action::SelectNext => "select_next",
            Action::SelectPrev => "select_prev",
            Action::SelectFirst => "select_first",
            Action::SelectLast => "select_last",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Open => "open",
            Action::Back => "back",
            Action::TogglePin => "toggle_pin",
            Action::Compose => "compose",
            Action::Resend => "resend",
            Action::Send => "send",
            Action::Newline => "newline",
            Action::Confirm => "confirm",
            Action::Toggle => "toggle",
            Action::SelectAll => "select_all",
            Action::NextField => "next_field",
            Action::PrevField => "prev_field",
            Action::NextValue => "next_value",
            Action::PrevValue => "prev_value",
            Action::ValidateJson => "validate_json",
            Action::Reset => "reset",
            Action::PickTargets => "pick_targets",
            Action::CustomMessage => "custom_message",
            Action::SendOptions => "send_options",
            Action::Details => "details",
            Action::Expand => "expand",
            Action::ConversationData => "conversation_data",
            Action::ExternalEditor => "external_editor",
            Action::Suspend => "suspend",
            Action::Redraw => "redraw",
            Action::Copy => "copy",
            Action::CopyId => "copy_id",
            Action::Search => "search",
            Action::RenewSig => "renew_sig",
            Action::Tick(_) => "tick",
            Action::Resize(..) => "resize",
            Action::Paste(_) => "paste",
            Action::Input(_) => "input",
            Action::Scroll { .. } => "scroll",
            Action::Click { .. } => "click",
            Action::TerminalFocus(_) => "terminal_focus",
            Action::Edit(op) => op.name(),
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Self::BINDABLE
            .into_iter()
            .find(|a| a.name() == name)
            .or_else(|| EditOp::from_name(name).map(Action::Edit))
    }

    /// Position in [`Action::BINDABLE`] (help order), then the editing commands;
    /// internal actions sort last.
    pub fn order(&self) -> usize {
        if let Action::Edit(op) = self {
            return Self::BINDABLE.len() + op.order();
        }
        Self::BINDABLE
            .iter()
            .position(|a| a == self)
            .unwrap_or(usize::MAX)
    }

    /// Contexts in which this action means something.
    pub fn contexts(&self) -> &'static [Context] {
        use Context::*;
        match self {
            Action::Quit => &[Global, List],
            Action::Help => &[Global, List, Messages, Details, Help],
            Action::FocusNext | Action::FocusPrev => &[Global, List, Messages, Composer],
            Action::Filter => &[Global, List, Messages],
            Action::NextUnread | Action::NextConversation | Action::PrevConversation => {
                &[Global, List, Messages, Composer]
            }
            Action::SelectNext | Action::SelectPrev => &[
                List,
                Messages,
                Filter,
                Picker,
                SendOptions,
                Details,
                Search,
                Help,
            ],
            Action::SelectFirst | Action::SelectLast => &[List, Messages, Picker, Details, Help],
            Action::PageUp | Action::PageDown => &[
                List, Messages, Composer, Filter, Picker, Details, Search, Help,
            ],
            Action::Open => &[List, Filter, Search],
            Action::Back => &[
                List,
                Messages,
                Composer,
                Filter,
                Picker,
                CustomMessage,
                SendOptions,
                ConversationData,
                Details,
                Search,
                UserSig,
                Help,
            ],
            Action::TogglePin => &[List],
            Action::Compose => &[List, Messages],
            Action::Resend => &[Messages],
            Action::Send => &[Composer, CustomMessage],
            Action::Newline => &[Composer],
            Action::Confirm => &[Picker, SendOptions, ConversationData, UserSig],
            Action::Toggle => &[List, Picker, SendOptions, Search],
            Action::SelectAll => &[Picker],
            Action::NextField | Action::PrevField | Action::ValidateJson => &[CustomMessage],
            Action::NextValue | Action::PrevValue | Action::Reset => &[SendOptions],
            Action::PickTargets | Action::CustomMessage | Action::SendOptions => {
                &[Messages, Composer]
            }
            Action::Details => &[List, Messages],
            Action::Expand => &[Messages],
            Action::ConversationData => &[List, Details],
            Action::ExternalEditor => &[Composer],
            Action::Suspend | Action::Redraw => &[Global],
            Action::Copy => &[Messages, Details],
            Action::CopyId => &[Details],
            Action::Search => &[Global, List, Messages, Composer],
            Action::RenewSig => &[Global],
            Action::Edit(_) => &[Composer],
            _ => &[],
        }
    }

    pub fn allowed_in(&self, ctx: Context) -> bool {
        self.contexts().contains(&ctx)
    }

    /// A word or two for the help bar, depending on where it applies.
    pub fn label(&self, ctx: Context) -> &'static str {
        use Context as C;
        match (self, ctx) {
            (Action::Quit, _) => "quit",
            (Action::Help, C::Help) => "close",
            (Action::Help, _) => "help",
            (Action::FocusNext, _) => "next pane",
            (Action::FocusPrev, _) => "prev pane",
            (Action::Filter, _) => "filter",
            (Action::NextUnread, _) => "next unread",
            (Action::NextConversation, _) => "next chat",
            (Action::PrevConversation, _) => "prev chat",
            (Action::SelectNext | Action::SelectPrev, C::Help | C::Details) => "scroll",
            (Action::SelectNext | Action::SelectPrev, C::Messages) => "select",
            (Action::SelectNext | Action::SelectPrev, _) => "move",
            (Action::SelectFirst, C::Messages) => "oldest",
            (Action::SelectLast, C::Messages) => "latest",
            (Action::SelectFirst, _) => "top",
            (Action::SelectLast, _) => "bottom",
            (Action::PageUp | Action::PageDown, C::Composer) => "scroll",
            (Action::PageUp | Action::PageDown, _) => "page",
            (Action::Open, C::Search) => "go to",
            (Action::Open, _) => "open",
            (Action::Back, C::Filter | C::Picker | C::SendOptions | C::UserSig) => "cancel",
            (
                Action::Back,
                C::Help | C::Details | C::CustomMessage | C::ConversationData | C::Search,
            ) => "close",
            (Action::Back, C::List) => "unmark",
            (Action::Back, _) => "back",
            (Action::TogglePin, _) => "pin",
            (Action::Compose, _) => "write",
            (Action::Resend, _) => "resend",
            (Action::Send, _) => "send",
            (Action::Newline, _) => "newline",
            (Action::Confirm, C::Picker) => "done",
            (Action::Confirm, C::UserSig) => "renew",
            (Action::Confirm, _) => "apply",
            (Action::Toggle, C::List) => "mark",
            (Action::Toggle, C::Picker) => "select",
            (Action::Toggle, C::Search) => "scope",
            (Action::Toggle, _) => "toggle",
            (Action::SelectAll, _) => "all shown",
            (Action::NextField, _) => "next field",
            (Action::PrevField, _) => "prev field",
            (Action::NextValue | Action::PrevValue, _) => "change",
            (Action::ValidateJson, _) => "check JSON",
            (Action::Reset, _) => "reset all",
            (Action::PickTargets, _) => "send to…",
            (Action::CustomMessage, _) => "custom msg",
            (Action::SendOptions, _) => "options",
            (Action::Details, _) => "details",
            (Action::Expand, _) => "expand",
            (Action::ConversationData, _) => "custom data",
            (Action::ExternalEditor, _) => "$EDITOR",
            (Action::Suspend, _) => "suspend",
            (Action::Redraw, _) => "redraw",
            (Action::Copy, _) => "copy",
            (Action::CopyId, _) => "copy ID",
            (Action::Search, _) => "search",
            (Action::RenewSig, _) => "new UserSig",
            (Action::Edit(op), _) => op.name(),
            _ => "",
        }
    }

    /// One sentence for the help overlay.
    pub fn description(&self, ctx: Context) -> &'static str {
        use Context as C;
        match (self, ctx) {
            (Action::Quit, _) => "Quit termim (drafts are kept)",
            (Action::Help, C::Help) => "Close the help",
            (Action::Help, _) => "Show every key binding",
            (Action::FocusNext, _) => "Focus the next pane",
            (Action::FocusPrev, _) => "Focus the previous pane",
            (Action::Filter, _) => "Filter conversations by name (fuzzy)",
            (Action::NextUnread, _) => "Open the next unread conversation",
            (Action::NextConversation, _) => "Open the next conversation in the list",
            (Action::PrevConversation, _) => "Open the previous conversation in the list",
            (Action::SelectNext, C::Help) => "Scroll the help down",
            (Action::SelectPrev, C::Help) => "Scroll the help up",
            (Action::SelectNext, C::Details) => "Scroll the details down",
            (Action::SelectPrev, C::Details) => "Scroll the details up",
            (Action::SelectNext, C::Messages) => "Select the next (newer) message",
            (Action::SelectPrev, C::Messages) => "Select the previous (older) message",
            (Action::SelectNext, C::Filter) => "Highlight the next match",
            (Action::SelectPrev, C::Filter) => "Highlight the previous match",
            (Action::SelectNext, C::Picker) => "Next member",
            (Action::SelectPrev, C::Picker) => "Previous member",
            (Action::SelectNext, C::SendOptions) => "Next option",
            (Action::SelectPrev, C::SendOptions) => "Previous option",
            (Action::SelectNext, C::Search) => "Select the next result",
            (Action::SelectPrev, C::Search) => "Select the previous result",
            (Action::SelectNext, _) => "Select the next conversation",
            (Action::SelectPrev, _) => "Select the previous conversation",
            (Action::SelectFirst, C::Messages) => "Jump to the oldest loaded message",
            (Action::SelectLast, C::Messages) => "Jump to the latest message",
            (Action::SelectFirst, C::Picker) => "Go to the first member",
            (Action::SelectLast, C::Picker) => "Go to the last member",
            (Action::SelectFirst, C::Help) => "Scroll to the top of the help",
            (Action::SelectLast, C::Help) => "Scroll to the end of the help",
            (Action::SelectFirst, C::Details) => "Scroll to the top of the details",
            (Action::SelectLast, C::Details) => "Scroll to the end of the details",
            (Action::SelectFirst, _) => "Select the first conversation",
            (Action::SelectLast, _) => "Select the last conversation",
            (Action::PageUp, C::Filter) => "Move up a page of matches",
            (Action::PageDown, C::Filter) => "Move down a page of matches",
            (Action::PageUp, C::Picker) => "Move up a page of members",
            (Action::PageDown, C::Picker) => "Move down a page of members",
            (Action::PageUp, C::Help) => "Scroll the help up a page",
            (Action::PageDown, C::Help) => "Scroll the help down a page",
            (Action::PageUp, C::Details) => "Scroll the details up a page",
            (Action::PageDown, C::Details) => "Scroll the details down a page",
            (Action::PageUp, C::Search) => "Page up through the results",
            (Action::PageDown, C::Search) => "Page down through the results",
            (Action::PageUp, C::Messages | C::Composer) => "Scroll history up a page (loads older)",
            (Action::PageDown, C::Messages | C::Composer) => "Scroll history down a page",
            (Action::PageUp, _) => "Move up a page of conversations",
            (Action::PageDown, _) => "Move down a page of conversations",
            (Action::Open, C::Filter) => "Open the highlighted match",
            (Action::Open, C::Search) => "Open the chat at the selected result",
            (Action::Open, _) => "Open the selected conversation",
            (Action::Back, C::Filter) => "Close the filter",
            (Action::Back, C::Help) => "Close the help",
            (Action::Back, C::Messages) => "Clear the selection, then go to the list",
            (Action::Back, C::List) => "Unmark every marked conversation",
            (Action::Back, C::Picker) => "Close the picker, changing nothing",
            (Action::Back, C::CustomMessage) => "Close the editor (what you wrote is kept)",
            (Action::Back, C::SendOptions) => "Close the panel, discarding changes",
            (Action::Back, C::ConversationData) => "Close the editor",
            (Action::Back, C::Details) => "Close the details",
            (Action::Back, C::Search) => "Close the search",
            (Action::Back, C::UserSig) => "Close the prompt; the session ends without a sig",
            (Action::Back, _) => "Stop targeting if armed, else leave the composer",
            (Action::TogglePin, _) => "Pin or unpin the selected conversation",
            (Action::Compose, _) => "Write in the open conversation",
            (Action::Resend, _) => "Resend the selected failed message",
            (Action::Send, C::CustomMessage) => "Send the custom message",
            (Action::Send, _) => "Send the message",
            (Action::Newline, _) => "Insert a line break",
            (Action::Confirm, C::Picker) => "Arm the selected members (none: to everyone)",
            (Action::Confirm, C::SendOptions) => "Use these options for this conversation",
            (Action::Confirm, C::UserSig) => "Renew the session with the pasted UserSig",
            (Action::Confirm, _) => "Set the custom data on every listed conversation",
            (Action::Toggle, C::List) => "Mark or unmark the conversation (for custom data)",
            (Action::Toggle, C::Picker) => "Select or unselect the member",
            (Action::Toggle, C::Search) => "Search this chat or all chats",
            (Action::Toggle, _) => "Turn the option on or off",
            (Action::SelectAll, _) => "Select all members shown (again: unselect them)",
            (Action::NextField, _) => "Next field",
            (Action::PrevField, _) => "Previous field",
            (Action::NextValue, _) => "Next value of the option",
            (Action::PrevValue, _) => "Previous value of the option",
            (Action::ValidateJson, _) => "Check the data as JSON (any text can be sent)",
            (Action::Reset, _) => "Reset every option to its default",
            (Action::PickTargets, _) => "Send the next message to chosen members only",
            (Action::CustomMessage, _) => "Write a custom message (data, desc, extension)",
            (Action::SendOptions, _) => "Send options here: priority, flags, custom data",
            (Action::Details, C::List) => "Show the conversation's details and custom data",
            (Action::Details, _) => "Show every field of the selected message",
            (Action::Expand, _) => "Expand/collapse custom messages (selected or all)",
            (Action::ConversationData, _) => "Set custom data on the marked or selected chats",
            (Action::ExternalEditor, _) => "Edit the draft in $VISUAL/$EDITOR (then review)",
            (Action::Suspend, _) => "Suspend to the shell (fg resumes)",
            (Action::Redraw, _) => "Clear the screen and draw everything again",
            (Action::Copy, C::Details) => "Copy the message's text to the clipboard",
            (Action::Copy, _) => "Copy the selected message's text to the clipboard",
            (Action::CopyId, _) => "Copy the message's msgID to the clipboard",
            (Action::Search, _) => "Search messages (this chat or all chats)",
            (Action::RenewSig, _) => "Enter a new UserSig (after the old one expired)",
            (Action::Edit(op), _) => op.description(),
            _ => "",
        }
    }

    /// Order in the help bar (lower first): what a newcomer needs most comes first,
    /// so it survives a narrow terminal.
    pub fn bar_priority(&self) -> u8 {
        match self {
            Action::Send | Action::Open | Action::Confirm => 0,
            Action::Newline | Action::Back | Action::NextField => 1,
            Action::Help | Action::PrevValue | Action::NextValue | Action::ValidateJson => 2,
            // Only offered while the sig has expired: then it matters most.
            Action::RenewSig => 2,
            Action::SelectNext | Action::SelectPrev | Action::Toggle | Action::SelectAll => 3,
            Action::Compose | Action::Resend | Action::Reset | Action::ConversationData => 4,
            Action::Copy | Action::CopyId => 4,
            Action::Details => 5,
            Action::Filter | Action::PickTargets => 5,
            Action::FocusNext | Action::CustomMessage | Action::SendOptions | Action::Expand => 6,
            Action::Quit => 7,
            Action::NextUnread | Action::TogglePin | Action::ExternalEditor | Action::Search => 8,
            _ => 9,
        }
    }

    /// Shown in the one-line help bar (the overlay shows everything).
    pub fn in_help_bar(&self) -> bool {
        !matches!(
            self,
            Action::SelectFirst
                | Action::SelectLast
                | Action::FocusPrev
                | Action::NextConversation
                | Action::PrevConversation
                | Action::PageDown
                | Action::PrevField
                | Action::NextValue
                | Action::Suspend
                | Action::Edit(_)
                | Action::Redraw
        )
    }
}

/// The composer's editing commands: readline's keys, as data in the keymap's
/// `[composer]` table (and so in the help overlay). Keys the keymap doesn't bind
/// reach the text area only as plain typing, arrows, Backspace and Delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditOp {
    LineStart,
    LineEnd,
    WordBack,
    WordForward,
    KillToStart,
    KillToEnd,
    KillWordBack,
    KillWordForward,
    Yank,
    Undo,
    Redo,
}

impl EditOp {
    /// Every editing command, in help order.
    pub const ALL: [EditOp; 11] = [
        EditOp::LineStart,
        EditOp::LineEnd,
        EditOp::WordBack,
        EditOp::WordForward,
        EditOp::KillToStart,
        EditOp::KillToEnd,
        EditOp::KillWordBack,
        EditOp::KillWordForward,
        EditOp::Yank,
        EditOp::Undo,
        EditOp::Redo,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EditOp::LineStart => "line_start",
            EditOp::LineEnd => "line_end",
            EditOp::WordBack => "word_back",
            EditOp::WordForward => "word_forward",
            EditOp::KillToStart => "kill_to_start",
            EditOp::KillToEnd => "kill_to_end",
            EditOp::KillWordBack => "kill_word_back",
            EditOp::KillWordForward => "kill_word_forward",
            EditOp::Yank => "yank",
            EditOp::Undo => "undo",
            EditOp::Redo => "redo",
        }
    }

    pub fn from_name(name: &str) -> Option<EditOp> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    fn order(self) -> usize {
        Self::ALL.iter().position(|op| *op == self).unwrap_or(0)
    }

    /// One sentence for the help overlay.
    pub fn description(self) -> &'static str {
        match self {
            EditOp::LineStart => "Move to the start of the line",
            EditOp::LineEnd => "Move to the end of the line",
            EditOp::WordBack => "Move back one word",
            EditOp::WordForward => "Move forward one word",
            EditOp::KillToStart => "Cut from the cursor to the start of the line",
            EditOp::KillToEnd => "Cut from the cursor to the end of the line",
            EditOp::KillWordBack => "Cut the word before the cursor",
            EditOp::KillWordForward => "Cut the word after the cursor",
            EditOp::Yank => "Paste the text cut last",
            EditOp::Undo => "Undo the last edit",
            EditOp::Redo => "Redo what was undone",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for a in Action::BINDABLE {
            assert_eq!(Action::from_name(a.name()), Some(a.clone()));
            let json = serde_json::to_string(&a).expect("serialise");
            assert_eq!(json, format!("\"{}\"", a.name()));
            let back: Action = serde_json::from_str(&json).expect("deserialise");
            assert_eq!(back, a);
            assert!(!a.contexts().is_empty(), "{} has no context", a.name());
            for &ctx in a.contexts() {
                assert!(!a.label(ctx).is_empty());
                assert!(!a.description(ctx).is_empty());
            }
        }
        assert!(
            serde_json::from_str::<Action>("\"tick\"").is_err(),
            "internal actions can't be bound"
        );
    }

    #[test]
    fn descriptions_fit_the_help_overlay_at_80_columns() {
        // The help overlay at 80 columns leaves 52 for a description.
        for a in Action::BINDABLE {
            for &ctx in a.contexts() {
                let d = a.description(ctx);
                assert!(
                    d.chars().count() <= 52,
                    "{} in {}: {d:?}",
                    a.name(),
                    ctx.name()
                );
            }
        }
    }

    #[test]
    fn editing_commands_are_bindable_by_name_in_the_composer() {
        for op in EditOp::ALL {
            let a = Action::Edit(op);
            assert_eq!(Action::from_name(op.name()), Some(a.clone()));
            let json = serde_json::to_string(&a).expect("serialise");
            assert_eq!(json, format!("\"{}\"", op.name()));
            assert_eq!(a.contexts(), &[Context::Composer]);
            assert!(!a.description(Context::Composer).is_empty());
            assert!(a.order() >= Action::BINDABLE.len());
        }
    }

    /// A navigation key's help sentence names what it moves through *there*: the
    /// same sentence in two contexts would describe one of them wrongly (the search
    /// once said "Select the next conversation" for its results).
    #[test]
    fn navigation_help_names_what_each_context_moves_through() {
        let nouns = |ctx: Context| -> &'static [&'static str] {
            match ctx {
                Context::List => &["conversation"],
                Context::Messages => &["message", "history"],
                Context::Composer => &["history"],
                Context::Filter => &["match"],
                Context::Picker => &["member"],
                Context::SendOptions => &["option"],
                Context::ConversationData => &["custom data"],
                Context::Details => &["details"],
                Context::Search => &["result", "chat"],
                Context::UserSig => &["usersig"],
                Context::Help => &["help"],
                Context::Global | Context::CustomMessage => &[],
            }
        };
        let navigation = [
            Action::SelectNext,
            Action::SelectPrev,
            Action::SelectFirst,
            Action::SelectLast,
            Action::PageUp,
            Action::PageDown,
            Action::Open,
            Action::Toggle,
            Action::Confirm,
        ];
        for a in navigation {
            for &ctx in a.contexts() {
                let d = a.description(ctx).to_lowercase();
                assert!(
                    nouns(ctx).iter().any(|n| d.contains(n)),
                    "{} in [{}] says {d:?}, which is about something else",
                    a.name(),
                    ctx.name()
                );
            }
        }
    }

    #[test]
    fn contexts_round_trip() {
        for c in Context::ALL {
            assert_eq!(Context::from_name(c.name()), Some(c));
        }
    }
}
