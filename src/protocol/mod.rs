//! The wire protocol: JSON text frames over WebSocket.
//!
//! - request  `{"reqId": 7, "op": "sendMessage", "params": {…}}`
//! - response `{"reqId": 7, "code": 0, "desc": "", "data": {…}}`
//! - push     `{"push": "newMessage", "data": {…}}`
//!
//! Every op's params and result are typed below; `docs/PROTOCOL.md` has examples.

pub mod codes;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{
    Conversation, CustomElem, GroupInfo, GroupMemberSpec, Message, OfflinePushInfo, Priority,
    TextElem,
};

/// Op names. Each op's params → result (`data`) are noted; `docs/PROTOCOL.md` has examples.
pub mod op {
    /// Declares each op's name and [`ALL`], the list of them, from one list.
    macro_rules! ops {
        ($($(#[$doc:meta])* $name:ident = $wire:literal;)*) => {
            $($(#[$doc])* pub const $name: &str = $wire;)*
            /// Every op, in the order above (`docs/PROTOCOL.md` documents each).
            pub const ALL: &[&str] = &[$($name),*];
        };
    }

    ops! {
        /// `LoginParams` → `LoginResult`.
        LOGIN = "login";
        /// no params → null; the server then closes the socket (1000).
        LOGOUT = "logout";
        /// no params → `PingResult`.
        PING = "ping";
        /// `RenewUserSigParams` → `RenewUserSigResult`: the session goes on under a new sig.
        RENEW_USER_SIG = "renewUserSig";
        /// `SendMessageParams` → `SendMessageResult`.
        SEND_MESSAGE = "sendMessage";
        /// `GetHistoryParams` → `MessageListResult`.
        GET_HISTORY_MESSAGE_LIST = "getHistoryMessageList";
        /// `SyncParams` → `SyncResult`.
        SYNC = "sync";
        /// `GetConversationListParams` → `model::ConversationResult`.
        GET_CONVERSATION_LIST = "getConversationList";
        /// `ConversationIdParams` → `ConversationListPush` (one conversation).
        GET_CONVERSATION = "getConversation";
        /// no params → `TotalUnreadResult`.
        GET_TOTAL_UNREAD_MESSAGE_COUNT = "getTotalUnreadMessageCount";
        /// `CleanUnreadParams` → null.
        CLEAN_CONVERSATION_UNREAD_MESSAGE_COUNT = "cleanConversationUnreadMessageCount";
        /// `PinConversationParams` → null.
        PIN_CONVERSATION = "pinConversation";
        /// `ConversationIdParams` → null.
        DELETE_CONVERSATION = "deleteConversation";
        /// `SetConversationCustomDataParams` → JSON array of `model::ConversationOperationResult`.
        SET_CONVERSATION_CUSTOM_DATA = "setConversationCustomData";
        /// `CreateGroupParams` → `CreateGroupResult`.
        CREATE_GROUP = "createGroup";
        /// `JoinGroupParams` → null.
        JOIN_GROUP = "joinGroup";
        /// `GroupIdParams` → null.
        QUIT_GROUP = "quitGroup";
        /// `GroupIdParams` → null.
        DISMISS_GROUP = "dismissGroup";
        /// `InviteParams` → JSON array of `model::GroupMemberOperationResult`.
        INVITE_USER_TO_GROUP = "inviteUserToGroup";
        /// `KickParams` → null.
        KICK_GROUP_MEMBER = "kickGroupMember";
        /// `MuteGroupMemberParams` → null.
        MUTE_GROUP_MEMBER = "muteGroupMember";
        /// `SetGroupMemberRoleParams` → null.
        SET_GROUP_MEMBER_ROLE = "setGroupMemberRole";
        /// no params → JSON array of `model::GroupInfo`.
        GET_JOINED_GROUP_LIST = "getJoinedGroupList";
        /// `GetGroupsInfoParams` → JSON array of `GroupInfoResult`.
        GET_GROUPS_INFO = "getGroupsInfo";
        /// `GetGroupMemberListParams` → `model::GroupMemberInfoResult`.
        GET_GROUP_MEMBER_LIST = "getGroupMemberList";
    }
}

/// Push names.
pub mod push {
    /// `NewMessagePush`: a message for me (incl. my own from another device, group tips).
    pub const NEW_MESSAGE: &str = "newMessage";
    /// `ConversationChangedPush`: pin, custom data, read state or deletion changed elsewhere.
    pub const CONVERSATION_CHANGED: &str = "conversationChanged";
    /// `ConversationDeletedPush`.
    pub const CONVERSATION_DELETED: &str = "conversationDeleted";
    /// `GroupEventPush`: I was added to, removed from, or a group I am in was dismissed.
    pub const GROUP_EVENT: &str = "groupEvent";
    /// `KickedOfflinePush`: sent just before the server closes the socket (reserved;
    /// termim allows several devices per user).
    pub const KICKED_OFFLINE: &str = "kickedOffline";
    /// `UserSigExpiredPush`: the session's UserSig expired (V2TIM `onUserSigExpired`);
    /// renew it (`renewUserSig`) within the grace or the connection is closed (4001).
    pub const USER_SIG_EXPIRED: &str = "userSigExpired";
}

/// A client → server request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub req_id: u64,
    pub op: String,
    #[serde(default)]
    pub params: Value,
}

/// A server → client answer to one request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// 0 when the frame could not be parsed far enough to find the request's id.
    pub req_id: u64,
    pub code: i32,
    #[serde(default)]
    pub desc: String,
    #[serde(default)]
    pub data: Value,
}

impl Response {
    pub fn ok(req_id: u64, data: Value) -> Self {
        Self {
            req_id,
            code: codes::OK,
            desc: String::new(),
            data,
        }
    }

    pub fn err(req_id: u64, code: i32, desc: impl Into<String>) -> Self {
        Self {
            req_id,
            code,
            desc: desc.into(),
            data: Value::Null,
        }
    }
}

/// A server → client event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Push {
    pub push: String,
    #[serde(default)]
    pub data: Value,
}

/// Anything the server sends: a response or a push.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerFrame {
    Response(Response),
    Push(Push),
}

/// The fields of a server frame, with `data` left unparsed: a frame is read once (the
/// untagged [`ServerFrame`] buffers the whole frame, then parses it again per variant —
/// a sync page of 500 messages three times).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "reqId")]
    req_id: Option<u64>,
    code: Option<i32>,
    #[serde(default)]
    desc: String,
    push: Option<String>,
    #[serde(borrow)]
    data: Option<&'a serde_json::value::RawValue>,
}

/// A response whose `data` is still JSON text: the requester decodes it straight into
/// the type it expects (a sync page never becomes a `Value` first).
#[derive(Debug)]
pub struct RawResponse {
    pub req_id: u64,
    pub code: i32,
    pub desc: String,
    pub data: Option<Box<serde_json::value::RawValue>>,
}

/// A server frame with a response's data left unparsed.
#[derive(Debug)]
pub enum RawFrame {
    Response(RawResponse),
    Push(Push),
}

impl RawFrame {
    pub fn parse(text: &str) -> serde_json::Result<RawFrame> {
        let env: Envelope<'_> = serde_json::from_str(text)?;
        match (env.push, env.req_id, env.code) {
            (_, Some(req_id), Some(code)) => Ok(RawFrame::Response(RawResponse {
                req_id,
                code,
                desc: env.desc,
                data: env.data.map(|raw| raw.to_owned()),
            })),
            (Some(push), _, _) => Ok(RawFrame::Push(Push {
                push,
                data: match env.data {
                    Some(raw) => serde_json::from_str(raw.get())?,
                    None => Value::Null,
                },
            })),
            _ => Err(serde::de::Error::custom(
                "neither a response (reqId, code) nor a push",
            )),
        }
    }
}

// ---------------------------------------------------------------- login

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginParams {
    #[serde(rename = "userID")]
    pub user_id: String,
    pub user_sig: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResult {
    #[serde(rename = "userID")]
    pub user_id: String,
    /// Server UTC seconds.
    pub server_time: i64,
    /// The newest sync cursor at login; the client syncs from its own cursor up to here and beyond.
    pub cursor: u64,
    /// The protocol version this server speaks ([`PROTOCOL_VERSION`]); absent from
    /// servers older than it.
    #[serde(default)]
    pub version: u32,
    /// What this server supports beyond the base protocol ([`CAPABILITIES`]), so a
    /// client can tell what to offer as the protocol grows.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// The protocol version a login answer names. It grows when an op or push changes shape
/// incompatibly; additions are announced as capabilities instead.
pub const PROTOCOL_VERSION: u32 = 1;

/// The capabilities a login answer lists.
pub const CAPABILITIES: &[&str] = &[
    // Omitted counts, cursors and page tokens take the documented defaults.
    "paramDefaults",
    // Mute tips carry memberChangeInfoList (muteTime, muteUntil).
    "muteTipsChangeInfo",
    // Leaving a group (kick, quit, dismiss) pushes conversationDeleted.
    "groupConversationDeleted",
    // A session ends with its UserSig (push userSigExpired, close 4001) unless renewed
    // with the renewUserSig op.
    "renewUserSig",
];

/// `renewUserSig`: a fresh UserSig for the logged-in user (checked as at login).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewUserSigParams {
    pub user_sig: String,
}

/// `renewUserSig` result.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewUserSigResult {
    /// The new sig's last valid second (`TLS.time + TLS.expire`, unix seconds).
    pub expires_at: i64,
}

/// Data of the `userSigExpired` push.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSigExpiredPush {
    /// The sig's last valid second (unix seconds).
    pub expired_at: i64,
    /// Seconds left to renew before the server closes the connection (4001).
    pub grace_seconds: u64,
}

/// `ping` result.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PingResult {
    /// Server UTC seconds.
    pub server_time: i64,
}

// ---------------------------------------------------------------- messages

/// `sendMessage`: a created message plus every per-send option of V2TIM's `sendMessage`.
/// `localCustomData` is deliberately absent: it never leaves the device.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageParams {
    /// The creation id (idempotency key): a retry with the same id returns the stored message.
    pub id: String,
    /// Peer user id for C2C; with `groupID` too: a targeted message to that one member.
    #[serde(default)]
    pub receiver: String,
    #[serde(rename = "groupID", default)]
    pub group_id: String,
    pub elem_type: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_elem: Option<TextElem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_elem: Option<CustomElem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_at_user_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_group_member_list: Vec<String>,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default)]
    pub online_user_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_push_info: Option<OfflinePushInfo>,
    #[serde(default)]
    pub is_excluded_from_unread_count: bool,
    #[serde(default)]
    pub is_excluded_from_last_message: bool,
    #[serde(default)]
    pub is_support_message_extension: bool,
    #[serde(default)]
    pub need_read_receipt: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_custom_data: Option<String>,
    #[serde(default)]
    pub random: u32,
}

/// `sendMessage` result: the stored message (status 2, `msgID`, `seq`, server `timestamp`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageResult {
    pub message: Message,
    /// Sync position of this message (absent for online-only messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
}

/// `HistoryMsgGetTypeEnum` values the server serves.
pub mod get_type {
    pub const CLOUD_OLDER: u8 = 1;
    pub const CLOUD_NEWER: u8 = 2;
}

/// `getHistoryMessageList`. Start: `lastMsgID` (exclusive) or `lastMsgSeq` (inclusive);
/// neither = the newest (older) or the oldest (newer) visible message.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetHistoryParams {
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
    #[serde(default = "default_get_type")]
    pub get_type: u8,
    /// Omitted: 20 (an explicit 0 is refused).
    #[serde(default = "default_history_count")]
    pub count: u32,
    #[serde(rename = "lastMsgID", default, skip_serializing_if = "Option::is_none")]
    pub last_msg_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_msg_seq: Option<u64>,
}

fn default_get_type() -> u8 {
    get_type::CLOUD_OLDER
}

fn default_history_count() -> u32 {
    20
}

/// `V2TimMessageListResult`: older pages newest→oldest, newer pages oldest→newest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageListResult {
    pub is_finished: bool,
    pub message_list: Vec<Message>,
}

/// `sync`: everything visible to me after `cursor`, oldest first, at most `count`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncParams {
    /// Omitted: 0, from the beginning.
    #[serde(default)]
    pub cursor: u64,
    /// Omitted or 0: 100.
    #[serde(default)]
    pub count: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncResult {
    pub message_list: Vec<Message>,
    /// Resume from here next time.
    pub cursor: u64,
    pub is_finished: bool,
}

/// Data of the `newMessage` push.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMessagePush {
    pub message: Message,
    /// Sync position; absent for online-only messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// Whether receivers (everyone but the sender) count it as unread.
    pub unread_counted: bool,
}

// ---------------------------------------------------------------- conversations

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetConversationListParams {
    /// "0" for the first page.
    #[serde(default)]
    pub next_seq: String,
    /// Omitted or 0: 100.
    #[serde(default)]
    pub count: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationIdParams {
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotalUnreadResult {
    pub total_unread_count: u64,
}

/// `cleanConversationUnreadMessageCount`: mark read up to a point (0 = everything).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanUnreadParams {
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
    #[serde(default)]
    pub clean_timestamp: i64,
    #[serde(default)]
    pub clean_sequence: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PinConversationParams {
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
    pub is_pinned: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetConversationCustomDataParams {
    #[serde(rename = "conversationIDList")]
    pub conversation_id_list: Vec<String>,
    pub custom_data: String,
}

/// Data of `conversationChanged` (and `getConversation` wraps one in the same shape).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationListPush {
    pub conversation_list: Vec<Conversation>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationDeletedPush {
    #[serde(rename = "conversationIDList")]
    pub conversation_id_list: Vec<String>,
}

// ---------------------------------------------------------------- groups

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateGroupParams {
    pub group_type: String,
    /// Required, as in V2TIM: omitted or empty is 10004 (not a parse error).
    #[serde(default)]
    pub group_name: String,
    #[serde(rename = "groupID", default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default)]
    pub member_list: Vec<GroupMemberSpec>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupIdParams {
    #[serde(rename = "groupID")]
    pub group_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinGroupParams {
    #[serde(rename = "groupID")]
    pub group_id: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteParams {
    #[serde(rename = "groupID")]
    pub group_id: String,
    pub user_list: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KickParams {
    #[serde(rename = "groupID")]
    pub group_id: String,
    pub member_list: Vec<String>,
    #[serde(default)]
    pub reason: String,
}

/// `muteGroupMember`: the member may not send for `seconds` from now; 0 unmutes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MuteGroupMemberParams {
    #[serde(rename = "groupID")]
    pub group_id: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    pub seconds: u32,
}

/// `setGroupMemberRole`: `role` 300 (admin) or 200 (member).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetGroupMemberRoleParams {
    #[serde(rename = "groupID")]
    pub group_id: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    pub role: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetGroupsInfoParams {
    #[serde(rename = "groupIDList")]
    pub group_id_list: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetGroupMemberListParams {
    #[serde(rename = "groupID")]
    pub group_id: String,
    #[serde(default)]
    pub filter: u32,
    /// "0" for the first page.
    #[serde(default)]
    pub next_seq: String,
    /// Omitted or 0: 100.
    #[serde(default)]
    pub count: u32,
}

/// `createGroup` result.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateGroupResult {
    #[serde(rename = "groupID")]
    pub group_id: String,
}

/// One item of the `getGroupsInfo` result (`V2TimGroupInfoResult`); the op's `data` is a
/// JSON array of these, one per requested id, in request order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInfoResult {
    #[serde(rename = "groupID")]
    pub group_id: String,
    pub result_code: i32,
    #[serde(default)]
    pub result_message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_info: Option<GroupInfo>,
}

/// Data of `groupEvent`: `event` is one of "joined", "invited", "kicked", "quit", "dismissed".
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupEventPush {
    #[serde(rename = "groupID")]
    pub group_id: String,
    pub event: String,
    #[serde(default)]
    pub op_user: String,
    #[serde(default)]
    pub member_list: Vec<String>,
}

/// Encode anything serialisable as a JSON text frame body.
pub fn to_text<T: Serialize>(value: &T) -> String {
    // Serialising our own plain data types cannot fail (no maps with non-string keys).
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"encodeError\":\"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_parses_once_as_the_untagged_enum_would() {
        for text in [
            r#"{"reqId":7,"code":0,"desc":"","data":{"messageList":[{"msgID":"m","textElem":{"text":"你好 \"q\""}}],"cursor":3,"isFinished":true}}"#,
            r#"{"reqId":8,"code":10007,"desc":"not a member"}"#,
            r#"{"push":"newMessage","data":{"message":{"msgID":"x"},"cursor":9,"unreadCounted":true}}"#,
            r#"{"push":"kickedOffline"}"#,
        ] {
            let once = match RawFrame::parse(text).expect(text) {
                RawFrame::Response(r) => ServerFrame::Response(Response {
                    req_id: r.req_id,
                    code: r.code,
                    desc: r.desc,
                    data: r
                        .data
                        .map_or(Value::Null, |d| serde_json::from_str(d.get()).expect(text)),
                }),
                RawFrame::Push(p) => ServerFrame::Push(p),
            };
            let twice: ServerFrame = serde_json::from_str(text).expect(text);
            assert_eq!(to_text(&once), to_text(&twice), "{text}");
        }
        for bad in [
            r#"{"code":0}"#,
            "[1]",
            "not json",
            r#"{"push":"p","data":{"#,
        ] {
            assert!(RawFrame::parse(bad).is_err(), "{bad}");
        }
    }
}
