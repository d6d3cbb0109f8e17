use serde::{Deserialize, Serialize};

/// Group types (reference §3.13) with the rules that differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupType {
    Work,
    Public,
    Meeting,
    AVChatRoom,
    Community,
}

impl GroupType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Work" | "Private" => Self::Work,
            "Public" => Self::Public,
            "Meeting" | "ChatRoom" => Self::Meeting,
            "AVChatRoom" => Self::AVChatRoom,
            "Community" => Self::Community,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Work => "Work",
            Self::Public => "Public",
            Self::Meeting => "Meeting",
            Self::AVChatRoom => "AVChatRoom",
            Self::Community => "Community",
        }
    }

    /// Default member cap.
    pub fn member_cap(self) -> usize {
        match self {
            Self::Work => 200,
            Self::Public => 2000,
            Self::Meeting => 6000,
            Self::Community => 100_000,
            Self::AVChatRoom => usize::MAX,
        }
    }

    /// Can a user join by `joinGroup` (without an invitation)?
    /// Work: never; Public: by application (we auto-approve, see PROTOCOL.md); others: at once.
    pub fn can_apply_to_join(self) -> bool {
        !matches!(self, Self::Work)
    }

    pub fn has_admins(self) -> bool {
        !matches!(self, Self::Work | Self::AVChatRoom)
    }

    pub fn owner_may_quit(self) -> bool {
        matches!(self, Self::Work)
    }

    /// Are messages counted as unread?
    pub fn counts_unread(self) -> bool {
        !matches!(self, Self::Meeting | Self::AVChatRoom)
    }

    /// Are messages stored (history, roaming, offline sync)?
    pub fn stores_messages(self) -> bool {
        !matches!(self, Self::AVChatRoom)
    }

    /// Can a member who joins later read what was said before?
    pub fn pre_join_history(self) -> bool {
        matches!(self, Self::Meeting | Self::Community)
    }

    pub fn supports_targeted(self) -> bool {
        !matches!(self, Self::Community | Self::AVChatRoom)
    }

    pub fn supports_online_only(self) -> bool {
        !matches!(self, Self::AVChatRoom)
    }

    /// May members invite others?
    pub fn members_may_invite(self) -> bool {
        matches!(self, Self::Work | Self::Community)
    }
}

impl std::fmt::Display for GroupType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Member roles (reference §2.6).
pub mod role {
    pub const MEMBER: u32 = 200;
    pub const ADMIN: u32 = 300;
    pub const OWNER: u32 = 400;
}

/// Member list filter (reference §2.6).
pub mod member_filter {
    pub const ALL: u32 = 0;
    pub const OWNER: u32 = 1;
    pub const ADMIN: u32 = 2;
    pub const COMMON: u32 = 4;
}

/// Result of inviting one member (reference §2.6).
pub mod member_op_result {
    pub const FAIL: u32 = 0;
    pub const SUCC: u32 = 1;
    pub const INVALID: u32 = 2;
    pub const PENDING: u32 = 3;
    pub const OVERLIMIT: u32 = 4;
}

/// `V2TimGroupInfo`, the fields termim carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInfo {
    #[serde(rename = "groupID")]
    pub group_id: String,
    pub group_type: String,
    pub group_name: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub create_time: i64,
    #[serde(default)]
    pub member_count: u32,
    /// My role in it.
    #[serde(default)]
    pub role: u32,
    #[serde(default)]
    pub join_time: i64,
}

/// `V2TimGroupMemberFullInfo`, the fields termim carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberFullInfo {
    #[serde(rename = "userID")]
    pub user_id: String,
    #[serde(default)]
    pub nick_name: String,
    #[serde(default)]
    pub name_card: String,
    pub role: u32,
    #[serde(default)]
    pub join_time: i64,
    #[serde(default)]
    pub mute_until: i64,
    #[serde(default)]
    pub is_online: bool,
}

/// `V2TimGroupMemberInfoResult`: one page of members; `nextSeq` "0" means done.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberInfoResult {
    pub next_seq: String,
    pub member_info_list: Vec<GroupMemberFullInfo>,
}

/// `V2TimGroupMemberOperationResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberOperationResult {
    #[serde(rename = "memberID")]
    pub member_id: String,
    pub result: u32,
}

/// A member to add at creation (`V2TimGroupMember`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberSpec {
    #[serde(rename = "userID")]
    pub user_id: String,
    #[serde(default = "default_member_role")]
    pub role: u32,
}

fn default_member_role() -> u32 {
    role::MEMBER
}
