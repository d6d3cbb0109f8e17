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
    Help,
}

impl Context {
    pub const ALL: [Context; 6] = [
        Context::Global,
        Context::List,
        Context::Messages,
        Context::Composer,
        Context::Filter,
        Context::Help,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::List => "list",
            Context::Messages => "messages",
            Context::Composer => "composer",
            Context::Filter => "filter",
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
            Context::Help => "Help",
        }
    }

    /// Contexts where typed characters are text, not commands (unless the context
    /// itself binds that exact key).
    pub fn takes_text(self) -> bool {
        matches!(self, Context::Composer | Context::Filter)
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
}

impl Action {
    /// Every bindable action, in the order help lists them.
    pub const BINDABLE: [Action; 21] = [
        Action::Send,
        Action::Newline,
        Action::Open,
        Action::Compose,
        Action::Back,
        Action::SelectNext,
        Action::SelectPrev,
        Action::PageUp,
        Action::PageDown,
        Action::SelectFirst,
        Action::SelectLast,
        Action::Filter,
        Action::NextUnread,
        Action::NextConversation,
        Action::PrevConversation,
        Action::TogglePin,
        Action::Resend,
        Action::FocusNext,
        Action::FocusPrev,
        Action::Help,
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
            Action::Tick(_) => "tick",
            Action::Resize(..) => "resize",
            Action::Paste(_) => "paste",
            Action::Input(_) => "input",
            Action::Scroll { .. } => "scroll",
            Action::Click { .. } => "click",
            Action::TerminalFocus(_) => "terminal_focus",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Self::BINDABLE.into_iter().find(|a| a.name() == name)
    }

    /// Position in [`Action::BINDABLE`] (help order); internal actions sort last.
    pub fn order(&self) -> usize {
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
            Action::Help => &[Global, List, Messages, Help],
            Action::FocusNext | Action::FocusPrev => &[Global, List, Messages, Composer],
            Action::Filter => &[Global, List, Messages],
            Action::NextUnread | Action::NextConversation | Action::PrevConversation => {
                &[Global, List, Messages, Composer]
            }
            Action::SelectNext | Action::SelectPrev => &[List, Messages, Filter, Help],
            Action::SelectFirst | Action::SelectLast => &[List, Messages, Help],
            Action::PageUp | Action::PageDown => &[List, Messages, Composer, Filter, Help],
            Action::Open => &[List, Filter],
            Action::Back => &[Messages, Composer, Filter, Help],
            Action::TogglePin => &[List],
            Action::Compose => &[List, Messages],
            Action::Resend => &[Messages],
            Action::Send | Action::Newline => &[Composer],
            _ => &[],
        }
    }

    pub fn allowed_in(&self, ctx: Context) -> bool {
        self.contexts().contains(&ctx)
    }

    /// A word or two for the help bar, depending on where it applies.
    pub fn label(&self, ctx: Context) -> &'static str {
        match (self, ctx) {
            (Action::Quit, _) => "quit",
            (Action::Help, Context::Help) => "close",
            (Action::Help, _) => "help",
            (Action::FocusNext, _) => "next pane",
            (Action::FocusPrev, _) => "prev pane",
            (Action::Filter, _) => "filter",
            (Action::NextUnread, _) => "next unread",
            (Action::NextConversation, _) => "next chat",
            (Action::PrevConversation, _) => "prev chat",
            (Action::SelectNext | Action::SelectPrev, Context::Help) => "scroll",
            (Action::SelectNext | Action::SelectPrev, Context::Messages) => "select",
            (Action::SelectNext | Action::SelectPrev, _) => "move",
            (Action::SelectFirst, Context::Messages) => "oldest",
            (Action::SelectLast, Context::Messages) => "latest",
            (Action::SelectFirst, _) => "top",
            (Action::SelectLast, _) => "bottom",
            (Action::PageUp | Action::PageDown, Context::Composer) => "scroll",
            (Action::PageUp | Action::PageDown, _) => "page",
            (Action::Open, _) => "open",
            (Action::Back, Context::Filter) => "cancel",
            (Action::Back, Context::Help) => "close",
            (Action::Back, _) => "back",
            (Action::TogglePin, _) => "pin",
            (Action::Compose, _) => "write",
            (Action::Resend, _) => "resend",
            (Action::Send, _) => "send",
            (Action::Newline, _) => "newline",
            _ => "",
        }
    }

    /// One sentence for the help overlay.
    pub fn description(&self, ctx: Context) -> &'static str {
        match (self, ctx) {
            (Action::Quit, _) => "Quit termim (drafts are kept)",
            (Action::Help, Context::Help) => "Close the help",
            (Action::Help, _) => "Show every key binding",
            (Action::FocusNext, _) => "Focus the next pane",
            (Action::FocusPrev, _) => "Focus the previous pane",
            (Action::Filter, _) => "Filter conversations by name (fuzzy)",
            (Action::NextUnread, _) => "Open the next unread conversation",
            (Action::NextConversation, _) => "Open the next conversation in the list",
            (Action::PrevConversation, _) => "Open the previous conversation in the list",
            (Action::SelectNext, Context::Help) => "Scroll down",
            (Action::SelectPrev, Context::Help) => "Scroll up",
            (Action::SelectNext, Context::Messages) => "Select the next (newer) message",
            (Action::SelectPrev, Context::Messages) => "Select the previous (older) message",
            (Action::SelectNext, Context::Filter) => "Next match",
            (Action::SelectPrev, Context::Filter) => "Previous match",
            (Action::SelectNext, _) => "Select the next conversation",
            (Action::SelectPrev, _) => "Select the previous conversation",
            (Action::SelectFirst, Context::Messages) => "Jump to the oldest loaded message",
            (Action::SelectLast, Context::Messages) => "Jump to the latest message",
            (Action::SelectFirst, _) => "Jump to the top",
            (Action::SelectLast, _) => "Jump to the bottom",
            (Action::PageUp, Context::List | Context::Filter) => "Move up one page",
            (Action::PageDown, Context::List | Context::Filter) => "Move down one page",
            (Action::PageUp, Context::Help) => "Scroll up one page",
            (Action::PageDown, Context::Help) => "Scroll down one page",
            (Action::PageUp, _) => "Scroll history up a page (loads older)",
            (Action::PageDown, _) => "Scroll history down a page",
            (Action::Open, Context::Filter) => "Open the highlighted match",
            (Action::Open, _) => "Open the selected conversation",
            (Action::Back, Context::Filter) => "Close the filter",
            (Action::Back, Context::Help) => "Close the help",
            (Action::Back, Context::Messages) => "Clear the selection, then go to the list",
            (Action::Back, _) => "Leave the composer (the draft is kept)",
            (Action::TogglePin, _) => "Pin or unpin the selected conversation",
            (Action::Compose, _) => "Write in the open conversation",
            (Action::Resend, _) => "Resend the selected failed message",
            (Action::Send, _) => "Send the message",
            (Action::Newline, _) => "Insert a line break",
            _ => "",
        }
    }

    /// Order in the help bar (lower first): what a newcomer needs most comes first,
    /// so it survives a narrow terminal.
    pub fn bar_priority(&self) -> u8 {
        match self {
            Action::Send | Action::Open => 0,
            Action::Newline | Action::Back => 1,
            Action::Help => 2,
            Action::SelectNext | Action::SelectPrev => 3,
            Action::Compose | Action::Resend => 4,
            Action::Filter => 5,
            Action::FocusNext => 6,
            Action::Quit => 7,
            Action::NextUnread | Action::TogglePin => 8,
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
        )
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
    fn contexts_round_trip() {
        for c in Context::ALL {
            assert_eq!(Context::from_name(c.name()), Some(c));
        }
    }
}
