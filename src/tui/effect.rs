//! Effects: the SDK calls the reducer asks for, and what comes back.
//!
//! `update` and `App::apply_event` never call the SDK; they return [`Effect`]s. The
//! event loop hands each one to an [`EffectRunner`], which performs it (on the SDK,
//! in the real app) and reports an [`EffectResult`] through a channel that the loop
//! feeds back into `App::apply_result`.

use std::future::Future;

use tokio::sync::mpsc::UnboundedSender;

pub use super::editor::EditorError;

use crate::model::{
    Conversation, ConversationOperationResult, GroupMemberInfoResult, Message, OfflinePushInfo,
    Priority,
};

/// An SDK error as the UI shows it ("<code>: <desc>").
pub use crate::sdk::TimError as SdkError;

/// Which page of history to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryDirection {
    /// The newest page (opening a conversation, or jumping back to the end).
    Latest,
    /// The page before `anchor` (scrolling up).
    Older,
    /// The page after `anchor`.
    Newer,
}

/// The message a page is relative to (`last_msg_id` / `last_msg_seq` of
/// `HistoryOptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryAnchor {
    pub msg_id: String,
    pub seq: u64,
}

/// What a send carries: the `create_*_message` call to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutgoingContent {
    /// `create_text_message(text)`.
    Text(String),
    /// `create_custom_message(data, desc, extension)` (issue 4's editor).
    Custom {
        data: String,
        desc: String,
        extension: String,
    },
}

/// Every `sendMessage` option (issue 4's send-options panel fills these; the
/// defaults are V2TIM's).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendOptions {
    pub priority: Priority,
    pub online_user_only: bool,
    pub is_excluded_from_unread_count: bool,
    pub is_excluded_from_last_message: bool,
    pub need_read_receipt: bool,
    pub is_support_message_extension: bool,
    pub cloud_custom_data: Option<String>,
    pub local_custom_data: Option<String>,
    pub offline_push_info: Option<OfflinePushInfo>,
}

impl SendOptions {
    /// The short form the composer shows while options are armed, e.g.
    /// "⚑high · online-only · cloud:✓"; empty when everything is default.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.priority != Priority::default() {
            parts.push(format!("⚑{}", self.priority.name()));
        }
        if self.online_user_only {
            parts.push("online-only".into());
        }
        if self.is_excluded_from_unread_count {
            parts.push("no-unread".into());
        }
        if self.is_excluded_from_last_message {
            parts.push("no-last".into());
        }
        if self.need_read_receipt {
            parts.push("receipt".into());
        }
        if self.is_support_message_extension {
            parts.push("ext".into());
        }
        if self.cloud_custom_data.is_some() {
            parts.push("cloud:✓".into());
        }
        if self.local_custom_data.is_some() {
            parts.push("local:✓".into());
        }
        if self.offline_push_info.is_some() {
            parts.push("push:✓".into());
        }
        parts.join(" · ")
    }
}

/// One send: the executor runs `create_*_message` (then
/// `create_targeted_group_message(id, targets)` when `targets` is not empty), then
/// `send_message` with `receiver`/`group_id` from the conversation id and `options`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub conversation_id: String,
    pub content: OutgoingContent,
    /// Receivers of a targeted group message; empty for a normal send.
    pub targets: Vec<String>,
    pub options: SendOptions,
}

/// An SDK call the UI wants made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `get_conversation_list` (all pages) and `get_total_unread_message_count`
    /// → [`EffectResult::Conversations`].
    LoadConversations,
    /// `get_conversation` → [`EffectResult::Conversation`].
    FetchConversation { conversation_id: String },
    /// `get_history_message_list` → [`EffectResult::History`].
    LoadHistory {
        conversation_id: String,
        direction: HistoryDirection,
        anchor: Option<HistoryAnchor>,
        count: u32,
    },
    /// create + send → [`EffectResult::MessageCreated`], then
    /// [`EffectResult::MessageSent`] or [`EffectResult::SendFailed`]
    /// ([`EffectResult::CreateFailed`] if creating fails). Sends to one conversation
    /// must be performed in order.
    Send(Outgoing),
    /// `send_message` again for a failed message (same creation id: the server
    /// dedupes) → `MessageSent` / `SendFailed`.
    Resend {
        conversation_id: String,
        message: Box<Message>,
    },
    /// `set_conversation_draft` (None clears it).
    SetDraft {
        conversation_id: String,
        text: Option<String>,
    },
    /// `clean_conversation_unread_message_count(id, 0, 0)` → [`EffectResult::UnreadCleaned`].
    CleanUnread { conversation_id: String },
    /// `pin_conversation`.
    PinConversation {
        conversation_id: String,
        pinned: bool,
    },
    /// `get_group_member_list(group_id, ALL, next_seq, count)` → [`EffectResult::Members`]
    /// (one page; the picker asks for the next one).
    LoadMembers {
        group_id: String,
        next_seq: String,
        count: u32,
    },
    /// `set_conversation_custom_data(ids, data)` →
    /// [`EffectResult::ConversationDataSet`] (one result per conversation).
    SetConversationData {
        conversation_ids: Vec<String>,
        data: String,
    },
    /// Hand the terminal to `$VISUAL` / `$EDITOR` with `text` in a file →
    /// [`EffectResult::Edited`]. The event loop's own (it owns the terminal); runners
    /// never see it.
    EditExternally {
        conversation_id: String,
        text: String,
    },
    /// Stop the process until the shell resumes it (Ctrl-Z, then `fg`), the terminal
    /// given back meanwhile → [`EffectResult::Resumed`]. The event loop's own.
    Suspend,
    /// Clear the terminal and draw the whole screen again (Ctrl-L). The event loop's own.
    Redraw,
    /// Put `text` on the clipboard: the event loop writes it to the terminal as
    /// OSC 52 ([`super::clipboard`]); it never reaches the runner.
    CopyToClipboard { text: String },
    /// `search_local_messages(param)` → [`EffectResult::SearchResults`] with the same
    /// `generation`. Latest wins: the runner may skip a search that a newer one has
    /// replaced while it waited (typing), and the overlay ignores stale answers.
    SearchMessages {
        generation: u64,
        param: crate::sdk::MessageSearchParam,
    },
    /// `renew_user_sig` → [`EffectResult::UserSigRenewed`]: with the sig given, or
    /// (`None`) one the runner signs itself (this termim holds the server's key).
    RenewUserSig { user_sig: Option<String> },
    /// The UI is closing: finish outstanding drafts, then stop.
    Quit,
}

impl Effect {
    /// Performed by the event loop itself, not by an [`EffectRunner`].
    pub fn is_loops_own(&self) -> bool {
        matches!(
            self,
            Effect::Quit | Effect::EditExternally { .. } | Effect::Suspend | Effect::Redraw
        )
    }
}

/// The outcome of an [`Effect`], fed back into `App::apply_result`.
#[derive(Debug, Clone, PartialEq)]
pub enum EffectResult {
    Conversations {
        list: Vec<Conversation>,
        total_unread: Option<u64>,
    },
    Conversation(Conversation),
    History {
        conversation_id: String,
        direction: HistoryDirection,
        messages: Vec<Message>,
        /// No more messages in that direction.
        is_finished: bool,
    },
    HistoryFailed {
        conversation_id: String,
        direction: HistoryDirection,
        error: SdkError,
    },
    /// The message `create_*_message` made (status sending), before `send_message`.
    MessageCreated {
        conversation_id: String,
        message: Message,
    },
    /// `create_*_message` refused; the content (and the receivers it was armed for) are
    /// given back so nothing is lost — and a retry never goes to the whole group.
    CreateFailed {
        conversation_id: String,
        content: OutgoingContent,
        targets: Vec<String>,
        error: SdkError,
    },
    /// `send_message` succeeded with the stored message (msgID, seq, server time).
    MessageSent {
        conversation_id: String,
        message: Message,
    },
    /// `send_message` failed; `id` is the creation id of the local message.
    SendFailed {
        conversation_id: String,
        id: String,
        error: SdkError,
    },
    /// The `CleanUnread` call finished (report it even when it failed, with the error).
    UnreadCleaned {
        conversation_id: String,
        error: Option<SdkError>,
    },
    /// A page of group members (for the picker), or why there is none.
    Members {
        group_id: String,
        /// The `next_seq` the page was asked for.
        next_seq: String,
        result: Result<GroupMemberInfoResult, SdkError>,
    },
    /// `set_conversation_custom_data` answered: one result per conversation, or the
    /// error that refused the whole request.
    ConversationDataSet {
        conversation_ids: Vec<String>,
        data: String,
        result: Result<Vec<ConversationOperationResult>, SdkError>,
    },
    /// The external editor finished: the file's bytes, or why there are none.
    Edited {
        conversation_id: String,
        outcome: Result<Vec<u8>, EditorError>,
    },
    /// Back from a suspend; `error` says why it did not happen.
    Resumed {
        error: Option<String>,
    },
    /// The answer to [`Effect::SearchMessages`] `generation`.
    SearchResults {
        generation: u64,
        result: Result<crate::sdk::MessageSearchResult, SdkError>,
    },
    /// The answer to [`Effect::RenewUserSig`]; `error` says why the sig was not taken.
    UserSigRenewed {
        error: Option<SdkError>,
    },
    /// Any other call failed; `what` says which, in words ("pin the conversation").
    Failed {
        what: String,
        error: SdkError,
    },
}

/// Sends effect results back to the event loop.
pub type ResultSender = UnboundedSender<EffectResult>;

/// Performs effects. The real one holds a `Tim` and spawns tasks; tests use a
/// recording one. `dispatch` must not block: start the work and return.
pub trait EffectRunner {
    /// Start `effect`; report its outcome(s) on `results`. Called in the order the
    /// reducer produced the effects (the loop performs its own, see
    /// [`Effect::is_loops_own`]).
    fn dispatch(&mut self, effect: Effect, results: &ResultSender);

    /// The UI is quitting: finish what must not be lost (drafts, sends in flight).
    /// The loop bounds this with a timeout.
    fn shutdown(&mut self) -> impl Future<Output = ()>;
}
