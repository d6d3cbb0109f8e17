use serde::{Deserialize, Serialize};

use super::Message;

/// `c2c_<userID>` or `group_<groupID>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(pub String);

/// What a conversation id points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConversationTarget {
    C2c(String),
    Group(String),
}

impl ConversationId {
    pub fn c2c(user_id: &str) -> Self {
        Self(format!("c2c_{user_id}"))
    }

    pub fn group(group_id: &str) -> Self {
        Self(format!("group_{group_id}"))
    }

    /// Split into its kind and id; `None` for anything else (including empty ids).
    pub fn parse(id: &str) -> Option<ConversationTarget> {
        if let Some(u) = id.strip_prefix("c2c_") {
            (!u.is_empty()).then(|| ConversationTarget::C2c(u.to_string()))
        } else if let Some(g) = id.strip_prefix("group_") {
            (!g.is_empty()).then(|| ConversationTarget::Group(g.to_string()))
        } else {
            None
        }
    }

    pub fn target(&self) -> Option<ConversationTarget> {
        Self::parse(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ConversationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Conversation type: 1 C2C, 2 GROUP (0 invalid).
pub mod conversation_type {
    pub const C2C: u8 = 1;
    pub const GROUP: u8 = 2;
}

/// `V2TimConversation` (reference §2.7).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
    #[serde(rename = "type")]
    pub conv_type: u8,
    #[serde(rename = "userID", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(rename = "groupID", default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<String>,
    #[serde(default)]
    pub show_name: String,
    #[serde(default)]
    pub unread_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Box<Message>>,
    /// Local only; never sent to the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_timestamp: Option<i64>,
    #[serde(default)]
    pub is_pinned: bool,
    /// Activation order; sort descending (pinned first in the UI).
    #[serde(default)]
    pub orderkey: u64,
    #[serde(default)]
    pub custom_data: String,
    /// C2C: the timestamp (s) of the newest message I have read: every message stamped
    /// before it is read, every one stamped after it unread.
    #[serde(default)]
    pub c2c_read_timestamp: i64,
    /// C2C (termim): I have read up to this seq — the exact mark, which also tells apart
    /// messages stamped in the same second as `c2cReadTimestamp`. `unreadCount` counts the
    /// peer's counted messages after it.
    #[serde(default)]
    pub c2c_read_sequence: u64,
    /// Group: I have read up to this seq.
    #[serde(default)]
    pub group_read_sequence: u64,
}

/// `V2TimConversationOperationResult`: one item of a batch operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationOperationResult {
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
    pub result_code: i32,
    pub result_info: String,
}

/// `V2TimConversationResult`: one page of the conversation list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationResult {
    pub next_seq: String,
    pub is_finished: bool,
    pub conversation_list: Vec<Conversation>,
}

/// Sort conversations the V2TIM way for display: pinned first, then `orderkey` descending.
pub fn sort_conversations(list: &mut [Conversation]) {
    list.sort_by(|a, b| {
        b.is_pinned
            .cmp(&a.is_pinned)
            .then(b.orderkey.cmp(&a.orderkey))
            .then(a.conversation_id.cmp(&b.conversation_id))
    });
}
