//! `TimError`: the V2TIM `{code, desc}` pair every failing SDK call returns.

use crate::protocol::codes;

/// A failed SDK call: the V2TIM error code (reference §4) and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {desc}")]
pub struct TimError {
    pub code: i32,
    pub desc: String,
    /// For a rate refusal (-20009, 10023): how long the server says to wait before a
    /// retry can succeed (its `data.retryAfterMs`).
    pub retry_after_ms: Option<u64>,
}

impl TimError {
    pub fn new(code: i32, desc: impl Into<String>) -> Self {
        Self {
            code,
            desc: desc.into(),
            retry_after_ms: None,
        }
    }

    /// An error whose sentence is the code's standard description.
    pub fn code(code: i32) -> Self {
        Self::new(code, codes::describe(code))
    }

    pub(crate) fn not_logged_in() -> Self {
        Self::code(codes::ERR_SDK_NOT_LOGGED_IN)
    }

    pub(crate) fn invalid(desc: impl Into<String>) -> Self {
        Self::new(codes::ERR_INVALID_PARAMETERS, desc)
    }

    pub(crate) fn disconnected() -> Self {
        Self::new(codes::ERR_SDK_NET_DISCONNECT, "not connected to the server")
    }

    pub(crate) fn database(err: impl std::fmt::Display) -> Self {
        Self::new(
            codes::ERR_DATABASE_OPERATE_FAILED,
            format!("local cache: {err}"),
        )
    }

    pub(crate) fn bad_response(op: &str, err: impl std::fmt::Display) -> Self {
        Self::new(
            codes::ERR_SDK_INTERNAL_ERROR,
            format!("unexpected answer to {op}: {err}"),
        )
    }

    /// Is this a transport failure (the request may not have reached the server)?
    pub(crate) fn is_network(&self) -> bool {
        matches!(
            self.code,
            codes::ERR_SDK_NET_DISCONNECT
                | codes::ERR_SDK_NET_WAIT_ACK_TIMEOUT
                | codes::ERR_SDK_NET_CONNECT_TIMEOUT
        )
    }

    /// Was the UserSig refused for having expired (a new one will do)?
    pub(crate) fn is_sig_expired(&self) -> bool {
        matches!(
            self.code,
            codes::ERR_USER_SIG_EXPIRED_SVR | codes::ERR_USER_SIG_EXPIRED
        )
    }

    /// Does this refusal mean the credentials themselves are bad (no point retrying)?
    pub(crate) fn is_auth(&self) -> bool {
        (70001..=70052).contains(&self.code)
            || matches!(
                self.code,
                codes::ERR_USER_SIG_EXPIRED
                    | codes::ERR_INVALID_IDENTIFIER
                    | codes::ERR_LOGIN_KICKED_OFF_BY_OTHER
            )
    }
}

impl From<rusqlite::Error> for TimError {
    fn from(e: rusqlite::Error) -> Self {
        Self::database(e)
    }
}
