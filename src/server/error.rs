//! The one error type every op returns: a V2TIM code and a sentence for people.

use crate::protocol::codes;

/// A refusal or failure reported to the client as `{code, desc}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {desc}")]
pub struct OpError {
    pub code: i32,
    pub desc: String,
}

impl OpError {
    pub fn new(code: i32, desc: impl Into<String>) -> Self {
        Self {
            code,
            desc: desc.into(),
        }
    }

    /// 6017: the request's parameters are wrong.
    pub fn invalid(desc: impl Into<String>) -> Self {
        Self::new(codes::ERR_INVALID_PARAMETERS, desc)
    }

    /// 10004: a group operation's parameters are wrong.
    pub fn group_invalid(desc: impl Into<String>) -> Self {
        Self::new(codes::ERR_SVR_GROUP_INVALID_PARAMETERS, desc)
    }

    /// 10007: not allowed (not a member, not owner/admin, …).
    pub fn denied(desc: impl Into<String>) -> Self {
        Self::new(codes::ERR_SVR_GROUP_PERMISSION_DENIED, desc)
    }

    /// 10010: the group does not exist (or was dismissed).
    pub fn no_group(group_id: &str) -> Self {
        Self::new(
            codes::ERR_SVR_GROUP_NOT_FOUND,
            format!("group {group_id:?} does not exist"),
        )
    }

    /// 20005: something broke on the server; the client may retry.
    pub fn internal(desc: impl Into<String>) -> Self {
        Self::new(codes::ERR_SVR_COMM_INTERNAL, desc)
    }
}

impl From<rusqlite::Error> for OpError {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!("storage error: {e}");
        Self::internal(format!("storage error: {e}"))
    }
}
