//! A session does not outlive its UserSig (docs/PROTOCOL.md § Session).
//!
//! Login remembers until when the verified sig is valid (`TLS.time + TLS.expire`). Once
//! the server's clock is past that second the session is *expired*: it is taken off the
//! hub (no more pushes), sent `userSigExpired`, and every op but `renewUserSig`, `logout`
//! and `ping` answers 70001. A `renewUserSig` with a fresh sig within the grace puts it
//! back (registered for pushes before the answer, as at login); otherwise the connection
//! is closed with 4001.
//!
//! The session loop keeps one [`Timer`] armed at [`SigExpiry::deadline`] and calls
//! [`on_deadline`] when it fires; everything else is here.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::protocol::codes::{self, close};
use crate::protocol::{self, Push, RenewUserSigParams, RenewUserSigResult, UserSigExpiredPush};
use crate::protocol::{op, push};
use crate::server::Shared;
use crate::server::error::OpError;
use crate::server::frame::Params;
use crate::server::hub::Conn;
use crate::server::ops;
use crate::server::store::Data;
use crate::usersig;

/// The longest the timer waits before it looks at the wall clock again: the sig's expiry
/// is wall-clock time, and the clock may be set meanwhile.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// How long until the wall clock is past `expires_at`, the sig's last valid second (a sig
/// is valid while `now ≤ TLS.time + TLS.expire`, in whole seconds, as at login).
fn until_expired(expires_at: i64) -> Duration {
    let end = Duration::from_secs(u64::try_from(expires_at.saturating_add(1)).unwrap_or(0));
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    end.saturating_sub(now)
}

/// A logged-in session's UserSig: until when it holds, and the grace once it expired.
#[derive(Debug)]
pub struct SigExpiry {
    /// The sig's last valid second (unix).
    expires_at: i64,
    /// When the grace ends, once the sig has expired.
    grace_ends: Option<Instant>,
    /// When the timer should look next.
    deadline: Instant,
}

/// What a deadline brought.
#[derive(Debug)]
enum Due {
    /// Not yet (the wall clock moved, or a long wait is cut in pieces).
    Nothing,
    /// The sig expired just now: this push goes out.
    Expired(Utf8Bytes),
    /// The grace is over.
    Close(u16, String),
}

impl SigExpiry {
    pub fn new(expires_at: i64) -> Self {
        Self {
            expires_at,
            grace_ends: None,
            deadline: Instant::now() + until_expired(expires_at).min(MAX_WAIT),
        }
    }

    /// When the session's timer should fire next.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Has the sig expired (the push sent, pushes stopped)?
    pub fn is_expired(&self) -> bool {
        self.grace_ends.is_some()
    }

    fn due(&mut self, grace: Duration) -> Due {
        let now = Instant::now();
        if let Some(end) = self.grace_ends {
            if now >= end {
                return Due::Close(
                    close::USER_SIG_EXPIRED,
                    "UserSig expired and was not renewed: log in again with a new one".into(),
                );
            }
            self.deadline = end;
            return Due::Nothing;
        }
        let left = until_expired(self.expires_at);
        if !left.is_zero() {
            self.deadline = now + left.min(MAX_WAIT);
            return Due::Nothing;
        }
        let end = now + grace;
        self.grace_ends = Some(end);
        self.deadline = end;
        let data = UserSigExpiredPush {
            expired_at: self.expires_at,
            grace_seconds: grace.as_secs(),
        };
        let frame = Push {
            push: push::USER_SIG_EXPIRED.to_string(),
            data: serde_json::to_value(data).unwrap_or_default(),
        };
        Due::Expired(Utf8Bytes::from(protocol::to_text(&frame)))
    }

    /// The answer (70001) to an op that an expired session may not make. The wall clock
    /// decides, so nothing slips through between the expiry and the timer's turn.
    pub fn refusal(&self, op_name: &str) -> Option<OpError> {
        let lapsed = self.is_expired() || until_expired(self.expires_at).is_zero();
        let allowed = matches!(op_name, op::RENEW_USER_SIG | op::LOGOUT | op::PING);
        (lapsed && !allowed).then(|| {
            OpError::new(
                codes::ERR_USER_SIG_EXPIRED_SVR,
                "UserSig expired; renew it with renewUserSig",
            )
        })
    }
}

/// Check `user_sig` for `user_id` by this server's rules; the sig's last valid second.
pub fn verify(shared: &Shared, user_id: &str, user_sig: &str, now: i64) -> Result<i64, OpError> {
    usersig::verify_with(
        &shared.app_key,
        user_id,
        user_sig,
        now,
        &shared.options.sig_verify,
    )
    .map(|v| v.expires_at)
    .map_err(|e| OpError::new(e.code(), e.to_string()))
}

/// The session's timer fired: on expiry stop the pushes and say so; after the grace, the
/// close code and reason.
pub fn on_deadline(
    shared: &Shared,
    conn: &Conn,
    user: &str,
    sig: &mut SigExpiry,
) -> Option<(u16, String)> {
    match sig.due(shared.options.sig_grace) {
        Due::Nothing => None,
        Due::Expired(frame) => {
            shared.hub.unregister(user, conn.id);
            conn.push(&frame);
            None
        }
        Due::Close(code, reason) => Some((code, reason)),
    }
}

/// `renewUserSig`: the new sig is checked as at login (same user and SDKAppID, a valid
/// signature, not expired, within the limits); the session then lasts until it expires.
/// An expired session is registered for pushes again *before* the answer, so a client
/// that syncs after it misses nothing.
pub fn renew(
    shared: &Shared,
    conn: &Arc<Conn>,
    user: &str,
    sig: &mut Option<SigExpiry>,
    params: Params<'_>,
) -> Result<Data, OpError> {
    let p: RenewUserSigParams = ops::parse(op::RENEW_USER_SIG, params)?;
    let expires_at = verify(shared, user, &p.user_sig, ops::now())?;
    if sig.as_ref().is_some_and(SigExpiry::is_expired) {
        shared.hub.register(user, conn.clone());
    }
    *sig = Some(SigExpiry::new(expires_at));
    Ok(Data::json(&RenewUserSigResult { expires_at }))
}

/// One timer for the session loop, moved only when its deadline does (not a new timer
/// per frame).
pub struct Timer {
    sleep: Pin<Box<Sleep>>,
    at: Option<Instant>,
}

impl Default for Timer {
    fn default() -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep(MAX_WAIT)),
            at: None,
        }
    }
}

impl Timer {
    /// Fire at `at` (`None`: never).
    pub fn arm(&mut self, at: Option<Instant>) {
        if at != self.at {
            if let Some(at) = at {
                self.sleep.as_mut().reset(at);
            }
            self.at = at;
        }
    }

    /// Resolves once the armed deadline has passed (never while unarmed); it must be
    /// armed again before it fires again.
    pub async fn fired(&mut self) {
        if self.at.is_none() {
            return std::future::pending().await;
        }
        self.sleep.as_mut().await;
        self.at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_secs() -> i64 {
        ops::now()
    }

    #[tokio::test]
    async fn expiry_then_grace_then_close() {
        let mut sig = SigExpiry::new(now_secs() - 1);
        assert!(!sig.is_expired());
        assert!(
            sig.refusal(op::SEND_MESSAGE).is_some(),
            "the wall clock decides"
        );
        let Due::Expired(frame) = sig.due(Duration::from_millis(50)) else {
            panic!("expired")
        };
        let push: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(push["push"], "userSigExpired");
        assert_eq!(push["data"]["expiredAt"], now_secs() - 1);
        assert!(sig.is_expired());
        assert!(matches!(sig.due(Duration::from_millis(50)), Due::Nothing));
        for allowed in [op::RENEW_USER_SIG, op::LOGOUT, op::PING] {
            assert!(sig.refusal(allowed).is_none(), "{allowed}");
        }
        assert_eq!(
            sig.refusal(op::SYNC).map(|e| e.code),
            Some(codes::ERR_USER_SIG_EXPIRED_SVR)
        );
        tokio::time::sleep_until(sig.deadline()).await;
        assert!(matches!(
            sig.due(Duration::from_millis(50)),
            Due::Close(close::USER_SIG_EXPIRED, _)
        ));
    }

    #[tokio::test]
    async fn a_valid_sig_waits_and_refuses_nothing() {
        let mut sig = SigExpiry::new(now_secs() + 86_400 * 365);
        assert!(sig.refusal(op::SEND_MESSAGE).is_none());
        assert!(sig.deadline() <= Instant::now() + MAX_WAIT);
        assert!(matches!(sig.due(Duration::ZERO), Due::Nothing));
        // A sig valid for ever (an unlimited server) does not overflow anything.
        let forever = SigExpiry::new(i64::MAX);
        assert!(forever.refusal(op::SYNC).is_none());
    }
}
