use serde::{Deserialize, Serialize};

/// `MessageStatus` (reference §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum MessageStatus {
    #[default]
    Sending = 1,
    SendSucc = 2,
    SendFail = 3,
    HasDeleted = 4,
    LocalImported = 5,
    LocalRevoked = 6,
}

impl From<MessageStatus> for u8 {
    fn from(s: MessageStatus) -> u8 {
        s as u8
    }
}

impl TryFrom<u8> for MessageStatus {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        Ok(match v {
            1 => Self::Sending,
            2 => Self::SendSucc,
            3 => Self::SendFail,
            4 => Self::HasDeleted,
            5 => Self::LocalImported,
            6 => Self::LocalRevoked,
            other => return Err(format!("unknown message status {other}")),
        })
    }
}

/// `MessagePriorityEnum` (reference §2.4); the index is the wire value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum Priority {
    Default = 0,
    High = 1,
    #[default]
    Normal = 2,
    Low = 3,
}

impl From<Priority> for u8 {
    fn from(p: Priority) -> u8 {
        p as u8
    }
}

impl TryFrom<u8> for Priority {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => Self::Default,
            1 => Self::High,
            2 => Self::Normal,
            3 => Self::Low,
            other => return Err(format!("unknown priority {other}")),
        })
    }
}

impl Priority {
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::High => "high",
            Self::Normal => "normal",
            Self::Low => "low",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "default" => Self::Default,
            "high" => Self::High,
            "normal" => Self::Normal,
            "low" => Self::Low,
            _ => return None,
        })
    }
}

/// `MessageElemType` values we carry (reference §2.2).
pub mod elem_type {
    pub const NONE: u8 = 0;
    pub const TEXT: u8 = 1;
    pub const CUSTOM: u8 = 2;
    pub const GROUP_TIPS: u8 = 9;
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TextElem {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomElem {
    pub data: String,
    #[serde(default)]
    pub desc: String,
    #[serde(default)]
    pub extension: String,
}

/// GroupTips type (reference §2.6).
pub mod tips_type {
    pub const JOIN: u8 = 1;
    pub const INVITE: u8 = 2;
    pub const QUIT: u8 = 3;
    pub const KICKED: u8 = 4;
    /// Members made admins (`setGroupMemberRole` to 300).
    pub const SET_ADMIN: u8 = 5;
    /// Admins made plain members again.
    pub const CANCEL_ADMIN: u8 = 6;
    pub const GROUP_INFO_CHANGE: u8 = 7;
    /// A member's info changed: termim uses it for mute and unmute.
    pub const MEMBER_INFO_CHANGE: u8 = 8;
}

/// System message stored in a group's history when membership changes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupTipsElem {
    #[serde(rename = "groupID")]
    pub group_id: String,
    #[serde(rename = "type")]
    pub tips_type: u8,
    /// The member who did it.
    pub op_member: String,
    /// The members it was done to.
    #[serde(default)]
    pub member_list: Vec<String>,
    #[serde(default)]
    pub member_count: u32,
    /// What changed for each member (mute: `muteTime` seconds, 0 = unmuted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member_change_info_list: Vec<GroupMemberChangeInfo>,
}

/// `V2TimGroupMemberChangeInfo`, plus termim's `muteUntil` (server seconds; 0 = not
/// muted), so a client never needs to guess from the tip's time.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberChangeInfo {
    #[serde(rename = "userID")]
    pub user_id: String,
    pub mute_time: u32,
    #[serde(default)]
    pub mute_until: i64,
}

/// `OfflinePushInfo` (reference §2.5): the fields a terminal client can set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfflinePushInfo {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub desc: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ext: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_push: bool,
}

/// A message's payload: exactly one elem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elem {
    Text(TextElem),
    Custom(CustomElem),
    GroupTips(GroupTipsElem),
}

impl Elem {
    pub fn elem_type(&self) -> u8 {
        match self {
            Elem::Text(_) => elem_type::TEXT,
            Elem::Custom(_) => elem_type::CUSTOM,
            Elem::GroupTips(_) => elem_type::GROUP_TIPS,
        }
    }

    /// Bytes this elem contributes to the 12 KB body limit.
    pub fn body_len(&self) -> usize {
        match self {
            Elem::Text(t) => t.text.len(),
            Elem::Custom(c) => c.data.len() + c.desc.len() + c.extension.len(),
            Elem::GroupTips(_) => 0,
        }
    }
}

/// `V2TimMessage` (reference §2.1), restricted to what termim carries.
///
/// On the wire a C2C message names both `sender` and `receiver`; `userID` (the
/// *peer*, which differs per side) is filled in by the SDK for its own user.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Server-assigned id; empty until the message is sent.
    #[serde(rename = "msgID", default)]
    pub msg_id: String,
    /// Local creation id from `create_*_message`; the idempotency key of a send.
    #[serde(default)]
    pub id: String,
    /// Server time in seconds (local time while sending).
    #[serde(default)]
    pub timestamp: i64,
    #[serde(default)]
    pub sender: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    /// C2C: the addressee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// C2C: the peer of the conversation, as seen by the local user (SDK-filled).
    #[serde(rename = "userID", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(rename = "groupID", default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default)]
    pub status: MessageStatus,
    #[serde(default)]
    pub elem_type: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_elem: Option<TextElem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_elem: Option<CustomElem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_tips_elem: Option<GroupTipsElem>,
    /// Device-only data. Never put on the wire by the SDK; the server never sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_custom_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_custom_data: Option<String>,
    #[serde(default)]
    pub is_self: bool,
    #[serde(default)]
    pub is_read: bool,
    #[serde(default)]
    pub is_peer_read: bool,
    #[serde(default)]
    pub need_read_receipt: bool,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_push_info: Option<OfflinePushInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_at_user_list: Vec<String>,
    /// Receivers of a targeted group message; empty for everything else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_group_member_list: Vec<String>,
    /// Per-conversation sequence, dense from 1; 0 for unstored (online-only) messages.
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub random: u32,
    #[serde(default)]
    pub is_excluded_from_unread_count: bool,
    #[serde(default)]
    pub is_excluded_from_last_message: bool,
    #[serde(default)]
    pub is_support_message_extension: bool,
    #[serde(default)]
    pub is_online_only: bool,
}

impl Message {
    /// The payload as one value.
    pub fn elem(&self) -> Option<Elem> {
        if let Some(t) = &self.text_elem {
            return Some(Elem::Text(t.clone()));
        }
        if let Some(c) = &self.custom_elem {
            return Some(Elem::Custom(c.clone()));
        }
        self.group_tips_elem.clone().map(Elem::GroupTips)
    }

    /// Replace the payload (and `elemType`).
    pub fn set_elem(&mut self, elem: Elem) {
        self.elem_type = elem.elem_type();
        self.text_elem = None;
        self.custom_elem = None;
        self.group_tips_elem = None;
        match elem {
            Elem::Text(t) => self.text_elem = Some(t),
            Elem::Custom(c) => self.custom_elem = Some(c),
            Elem::GroupTips(g) => self.group_tips_elem = Some(g),
        }
    }

    /// Bytes counted against the 12 KB body limit: elem + cloudCustomData.
    pub fn body_len(&self) -> usize {
        self.elem().map_or(0, |e| e.body_len())
            + self.cloud_custom_data.as_ref().map_or(0, String::len)
    }

    /// `c2c_<peer>` or `group_<id>` as seen by `me`.
    pub fn conversation_id(&self, me: &str) -> String {
        if let Some(g) = &self.group_id {
            return super::ConversationId::group(g).0;
        }
        let peer = if self.sender == me {
            self.receiver.as_deref().unwrap_or_default()
        } else {
            &self.sender
        };
        super::ConversationId::c2c(peer).0
    }

    /// A short one-line preview for lists and notifications.
    pub fn preview(&self) -> String {
        match self.elem() {
            Some(Elem::Text(t)) => t.text.replace('\n', " "),
            Some(Elem::Custom(c)) if !c.desc.is_empty() => format!("[custom] {}", c.desc),
            Some(Elem::Custom(_)) => "[custom message]".to_string(),
            Some(Elem::GroupTips(g)) => g.describe(),
            None => String::new(),
        }
    }
}

impl GroupTipsElem {
    pub fn describe(&self) -> String {
        let who = self.member_list.join(", ");
        match self.tips_type {
            tips_type::JOIN => format!("{who} joined"),
            tips_type::INVITE => format!("{} invited {who}", self.op_member),
            tips_type::QUIT => format!("{} left", self.op_member),
            tips_type::KICKED => format!("{} removed {who}", self.op_member),
            tips_type::SET_ADMIN => format!("{} made {who} admin", self.op_member),
            tips_type::CANCEL_ADMIN => format!("{} revoked admin from {who}", self.op_member),
            tips_type::GROUP_INFO_CHANGE => format!("{} changed the group", self.op_member),
            tips_type::MEMBER_INFO_CHANGE => {
                format!("{} changed the mute of {who}", self.op_member)
            }
            other => format!("group event {other}"),
        }
    }
}

/// `V2TimMsgCreateInfoResult`: what `create_*_message` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInfo {
    pub id: String,
    pub message_info: Message,
}
