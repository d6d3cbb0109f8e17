//! Error codes: the V2TIM numbers (reference §4) wherever the meaning matches.

pub const OK: i32 = 0;

// SDK-side (client) codes.
pub const ERR_INVALID_CONVERSATION: i32 = 6004;
pub const ERR_SDK_NOT_LOGGED_IN: i32 = 6014;
pub const ERR_INVALID_MSG_ELEM: i32 = 6016;
pub const ERR_INVALID_PARAMETERS: i32 = 6017;
pub const ERR_DATABASE_OPERATE_FAILED: i32 = 6019;
pub const ERR_INVALID_JSON: i32 = 6027;
pub const ERR_USER_SIG_EXPIRED: i32 = 6206;
pub const ERR_LOGIN_KICKED_OFF_BY_OTHER: i32 = 6208;
pub const ERR_INVALID_IDENTIFIER: i32 = 7003;
pub const ERR_SDK_INTERNAL_ERROR: i32 = 7012;
pub const ERR_LOGIN_IN_PROCESS: i32 = 7501;
pub const ERR_SDK_MSG_BODY_SIZE_LIMIT: i32 = 8001;
pub const ERR_SDK_NET_DISCONNECT: i32 = 9508;
pub const ERR_SDK_NET_CONNECT_TIMEOUT: i32 = 9510;
pub const ERR_SDK_NET_WAIT_ACK_TIMEOUT: i32 = 9520;
pub const ERR_SDK_NET_PKG_SIZE_LIMIT: i32 = 9522;

// Server-side codes.
/// Bad request packet (unknown op, malformed frame).
pub const ERR_SVR_COMM_INVALID_REQUEST: i32 = 20001;
/// Invalid or unregistered userID (e.g. a C2C receiver that never logged in).
pub const ERR_SVR_COMM_INVALID_ACCOUNT: i32 = 20003;
/// Internal error, retry.
pub const ERR_SVR_COMM_INTERNAL: i32 = 20005;
/// Request rate limit exceeded.
pub const ERR_SVR_COMM_FREQUENCY_LIMIT: i32 = -20009;
pub const ERR_SVR_CONV_BATCH_TOO_MANY: i32 = 51006;
pub const ERR_SVR_CONV_TOO_MANY_WITH_DATA: i32 = 51008;
pub const ERR_USER_SIG_EXPIRED_SVR: i32 = 70001;
pub const ERR_USER_SIG_EMPTY: i32 = 70002;
pub const ERR_USER_SIG_INVALID: i32 = 70003;
pub const ERR_USER_SIG_VERIFY_FAILED: i32 = 70009;
pub const ERR_USER_SIG_IDENTIFIER_MISMATCH: i32 = 70013;
pub const ERR_USER_SIG_SDKAPPID_MISMATCH: i32 = 70014;
pub const ERR_SVR_MSG_BODY_SIZE_LIMIT: i32 = 80002;
pub const ERR_SVR_GROUP_INVALID_PARAMETERS: i32 = 10004;
pub const ERR_SVR_GROUP_PERMISSION_DENIED: i32 = 10007;
pub const ERR_SVR_GROUP_OWNER_CANNOT_QUIT: i32 = 10009;
pub const ERR_SVR_GROUP_NOT_FOUND: i32 = 10010;
pub const ERR_SVR_GROUP_ALREADY_MEMBER: i32 = 10013;
pub const ERR_SVR_GROUP_FULL: i32 = 10014;
pub const ERR_SVR_GROUP_INVALID_GROUPID: i32 = 10015;
pub const ERR_SVR_GROUP_SHUTUP_DENY: i32 = 10017;
/// A user named in a group operation has no account.
pub const ERR_SVR_GROUP_ACCOUNT_NOT_FOUND: i32 = 10019;
pub const ERR_SVR_GROUP_GROUPID_IN_USED: i32 = 10021;
pub const ERR_SVR_GROUP_SEND_FREQUENCY_LIMIT: i32 = 10023;
/// The user is in as many groups as one user may be.
pub const ERR_SVR_GROUP_JOINED_LIMIT: i32 = 10037;

/// A one-line English explanation of a code, for people.
pub fn describe(code: i32) -> &'static str {
    match code {
        OK => "ok",
        ERR_INVALID_CONVERSATION => "invalid conversation",
        ERR_SDK_NOT_LOGGED_IN => "not logged in",
        ERR_INVALID_MSG_ELEM => "invalid message element",
        ERR_INVALID_PARAMETERS => "invalid parameters",
        ERR_DATABASE_OPERATE_FAILED => "local database operation failed",
        ERR_INVALID_JSON => "invalid JSON",
        ERR_USER_SIG_EXPIRED => "UserSig expired",
        ERR_LOGIN_KICKED_OFF_BY_OTHER => "kicked offline by a login elsewhere",
        ERR_INVALID_IDENTIFIER => "invalid user id",
        ERR_SDK_INTERNAL_ERROR => "internal error",
        ERR_LOGIN_IN_PROCESS => "login already in progress",
        ERR_SDK_MSG_BODY_SIZE_LIMIT => "message body over 12 KB",
        ERR_SDK_NET_DISCONNECT => "not connected",
        ERR_SDK_NET_CONNECT_TIMEOUT => "connect timed out",
        ERR_SDK_NET_WAIT_ACK_TIMEOUT => "no answer from the server in time",
        ERR_SDK_NET_PKG_SIZE_LIMIT => "request too large",
        ERR_SVR_COMM_INVALID_REQUEST => "bad request",
        ERR_SVR_COMM_INVALID_ACCOUNT => "no such user",
        ERR_SVR_COMM_INTERNAL => "server internal error",
        ERR_SVR_COMM_FREQUENCY_LIMIT => "too many requests",
        ERR_SVR_CONV_BATCH_TOO_MANY => "more than 100 conversations in one operation",
        ERR_SVR_CONV_TOO_MANY_WITH_DATA => "too many conversations carry custom data",
        ERR_USER_SIG_EXPIRED_SVR => "UserSig expired",
        ERR_USER_SIG_EMPTY => "UserSig empty",
        ERR_USER_SIG_INVALID => "UserSig malformed",
        ERR_USER_SIG_VERIFY_FAILED => "UserSig signature does not verify",
        ERR_USER_SIG_IDENTIFIER_MISMATCH => "UserSig was issued for another user",
        ERR_USER_SIG_SDKAPPID_MISMATCH => "UserSig was issued for another SDKAppID",
        ERR_SVR_MSG_BODY_SIZE_LIMIT => "message body over 12 KB",
        ERR_SVR_GROUP_INVALID_PARAMETERS => "invalid parameters",
        ERR_SVR_GROUP_PERMISSION_DENIED => "permission denied",
        ERR_SVR_GROUP_OWNER_CANNOT_QUIT => "the owner cannot quit this type of group",
        ERR_SVR_GROUP_NOT_FOUND => "no such group",
        ERR_SVR_GROUP_ALREADY_MEMBER => "already a member",
        ERR_SVR_GROUP_FULL => "group is full",
        ERR_SVR_GROUP_INVALID_GROUPID => "invalid group id",
        ERR_SVR_GROUP_SHUTUP_DENY => "you are muted in this group",
        ERR_SVR_GROUP_ACCOUNT_NOT_FOUND => "account does not exist",
        ERR_SVR_GROUP_GROUPID_IN_USED => "group id already in use",
        ERR_SVR_GROUP_SEND_FREQUENCY_LIMIT => "group send rate limit",
        ERR_SVR_GROUP_JOINED_LIMIT => "too many groups for this user",
        _ => "error",
    }
}

/// WebSocket close codes the server uses.
pub mod close {
    /// Normal closure (logout, server shutdown).
    pub const NORMAL: u16 = 1000;
    /// Server going away (shutdown).
    pub const GOING_AWAY: u16 = 1001;
    /// Binary frame or invalid UTF-8 text.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Invalid frame payload data (invalid UTF-8).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Policy violation (no login within the deadline, kicked offline).
    pub const POLICY: u16 = 1008;
    /// Frame over 64 KiB.
    pub const TOO_BIG: u16 = 1009;
    /// The session's UserSig expired and was not renewed within the grace (an
    /// application code, RFC 6455 §7.4.2: a client tells it from other closes and gets a
    /// new sig before it reconnects).
    pub const USER_SIG_EXPIRED: u16 = 4001;
}
