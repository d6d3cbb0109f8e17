//! Domain types with V2TIM field names on the wire (`msgID`, `groupID`, …).
//!
//! No I/O lives here: the server, the SDK, the TUI and the CLI all share these
//! types, and serde gives them the exact camelCase names V2TIM users know.

mod conversation;
mod group;
mod message;

pub use conversation::*;
pub use group::*;
pub use message::*;

/// Limits from the V2TIM reference (§3.14) that both sides enforce.
pub mod limits {
    /// Message body (text or custom data + desc + extension + cloudCustomData), bytes.
    pub const MESSAGE_BODY_MAX: usize = 12 * 1024;
    /// `offlinePushInfo.title`, bytes. Push channels show ~40 characters of a title and
    /// carry at most 4 KB in all (Tencent Push, APNs, FCM): title, desc and ext together
    /// stay well inside that.
    pub const PUSH_TITLE_MAX: usize = 128;
    /// `offlinePushInfo.desc` (the notification text), bytes.
    pub const PUSH_DESC_MAX: usize = 512;
    /// `offlinePushInfo.ext` (the payload handed to the app), bytes.
    pub const PUSH_EXT_MAX: usize = 1024;
    /// A whole message as stored and delivered (its JSON, escapes included), bytes: with
    /// every field within its own cap a message stays far below it, but what is stored
    /// never grows past it by any route.
    pub const MESSAGE_STORED_MAX: usize = 32 * 1024;
    /// Receivers of one targeted group message.
    pub const TARGETED_RECEIVERS_MAX: usize = 50;
    /// `@` list entries of one message.
    pub const AT_USERS_MAX: usize = 30;
    /// Conversation custom data, bytes.
    pub const CONVERSATION_CUSTOM_DATA_MAX: usize = 256;
    /// Conversations in one batch operation.
    pub const CONVERSATION_BATCH_MAX: usize = 100;
    /// User ids: printable ASCII, at most this many bytes.
    pub const USER_ID_MAX: usize = 32;
    /// Custom group ids: printable ASCII, at most this many bytes.
    pub const GROUP_ID_MAX: usize = 48;
    /// Group name, bytes.
    pub const GROUP_NAME_MAX: usize = 100;
    /// Members given at creation or in one invite.
    pub const GROUP_MEMBERS_PER_REQUEST_MAX: usize = 20;
    /// One WebSocket frame, bytes.
    pub const FRAME_MAX: usize = 64 * 1024;
    /// Page size cap for history, sync, conversation and member lists.
    pub const PAGE_MAX: usize = 500;
}

/// The `@all` tag V2TIM puts in `groupAtUserList` (triple "s" is V2TIM's spelling).
pub const AT_ALL_TAG: &str = "__kImSDK_MesssageAtALL__";

/// Is `id` made of 1 to `max` bytes of printable ASCII other than the space (0x21–0x7E)?
/// The one alphabet of every id a client names: user, group and creation ids. The space
/// is left out so that the server's own keys (which hold one) never meet a client's.
pub fn is_id_text(id: &str, max: usize) -> bool {
    !id.is_empty() && id.len() <= max && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Is `id` a valid user id (printable ASCII without space, ≤ 32 bytes)?
pub fn is_valid_user_id(id: &str) -> bool {
    is_id_text(id, limits::USER_ID_MAX)
}

/// Is `id` usable as a group id at all (printable ASCII without space, ≤ 48 bytes)?
pub fn is_valid_group_id(id: &str) -> bool {
    is_id_text(id, limits::GROUP_ID_MAX)
}
