//! The one error type every op returns: a V2TIM code and a sentence for people.

use std::time::Duration;

use crate::protocol::codes;

/// A refusal or failure reported to the client as `{code, desc}` (and, for a rate
/// refusal, `data: {"retryAfterMs": N}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {desc}")]
pub struct OpError {
    pub code: i32,
    pub desc: String,
    /// When a retry may succeed (-20009, 10023).
    pub retry_after_ms: Option<u64>,
    /// The database itself failed (I/O, full, corrupt, locked…), rather than refusing
    /// this one command's writes (a constraint): what is cached may no longer be true.
    pub storage_failed: bool,
}

impl OpError {
    pub fn new(code: i32, desc: impl Into<String>) -> Self {
        Self {
            code,
            desc: desc.into(),
            retry_after_ms: None,
            storage_failed: false,
        }
    }

    /// The same refusal, telling the client how long to wait before retrying (at least
    /// 1 ms, so that "now" never reads as "no hint").
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after_ms = Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1));
        self
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

/// A database error becomes 20005 with a sentence that names no internals (no SQL, no
/// table, no path): the detail goes to the server's log only.
impl From<rusqlite::Error> for OpError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{ConstraintViolation, TooBig, TypeMismatch};
        let own = matches!(
            e.sqlite_error_code(),
            Some(ConstraintViolation | TooBig | TypeMismatch)
        );
        if own {
            tracing::error!("storage refused a command's writes: {e}");
            Self::internal(
                "the server could not store this request (it conflicts with what is stored); \
                 nothing was saved",
            )
        } else {
            tracing::error!("storage error: {e}");
            Self {
                storage_failed: true,
                ..Self::internal(
                    "the server could not read or write its database; nothing was saved: retry",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some("SQL detail".into()))
    }

    #[test]
    fn a_storage_error_names_no_internals_and_says_whose_it_was() {
        let own = OpError::from(sqlite(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE));
        let broken = OpError::from(sqlite(rusqlite::ffi::SQLITE_IOERR));
        for e in [&own, &broken] {
            assert_eq!(e.code, codes::ERR_SVR_COMM_INTERNAL);
            assert!(!e.desc.contains("SQL") && !e.desc.contains("UNIQUE"), "{e}");
        }
        assert!(!own.storage_failed, "a constraint is the command's own");
        assert!(broken.storage_failed);
    }

    #[test]
    fn retry_after_is_at_least_a_millisecond() {
        let e = OpError::new(codes::ERR_SVR_COMM_FREQUENCY_LIMIT, "slow down");
        assert_eq!(
            e.clone().retry_after(Duration::ZERO).retry_after_ms,
            Some(1)
        );
        assert_eq!(
            e.retry_after(Duration::from_millis(250)).retry_after_ms,
            Some(250)
        );
    }
}
