//! From a text frame to a request, and the stateless half of deciding it: the path every
//! byte a client sends goes through before any state is touched. Public so that property
//! tests and fuzz targets drive exactly the code the server runs.

use std::borrow::Cow;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::protocol::{self, codes};
use crate::server::error::OpError;
use crate::server::ops;
use crate::server::rules;

/// Concatenate pieces of JSON text into one string, allocated once at its final size
/// (frames carrying a stored message are built this way: `format!` grew them piece by
/// piece, a measurable share of the writer's time at 40,000 messages/s).
pub fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// How much of a client's text an error sentence quotes ([`quoted`]).
pub const QUOTE_MAX: usize = 64;
/// The longest error sentence sent ([`capped`]).
pub const DESC_MAX: usize = 1024;

/// The first `max` bytes of `text` (cut at a character boundary), and whether it was cut.
fn prefix(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// Client text to quote in an error sentence: in quotes, escaped, and cut to
/// [`QUOTE_MAX`] bytes with an ellipsis, so a sentence never echoes more than that of what
/// a client sent.
pub fn quoted(text: &str) -> String {
    match prefix(text, QUOTE_MAX) {
        (whole, false) => format!("{whole:?}"),
        (start, true) => format!("{start:?}…"),
    }
}

/// An error sentence as sent: at most [`DESC_MAX`] bytes (the rest cut, with an
/// ellipsis) — the last guard against a sentence that quotes a client at length (a
/// parser's message quoting a huge value, say).
pub fn capped(desc: String) -> String {
    match prefix(&desc, DESC_MAX) {
        (_, false) => desc,
        (start, true) => format!("{start}…"),
    }
}

/// A frame that is not a request: the answer goes back with `req_id` (0 when the frame
/// has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedFrame {
    pub req_id: u64,
    pub error: OpError,
}

/// An op's params as they appear in the frame, not yet decoded (`None`: absent or `null`).
/// Each handler decodes them once, straight into its typed params.
pub type Params<'a> = Option<&'a RawValue>;

/// A request frame, borrowed from its text: the wire shape of [`protocol::Request`],
/// with the params left as text for the op's handler.
#[derive(Debug, serde::Deserialize)]
pub struct RequestFrame<'a> {
    #[serde(rename = "reqId")]
    pub req_id: u64,
    #[serde(borrow)]
    pub op: Cow<'a, str>,
    #[serde(borrow, default)]
    pub params: Params<'a>,
}

/// Just the `reqId` of a frame.
#[derive(serde::Deserialize)]
struct ReqIdOnly {
    #[serde(rename = "reqId", default)]
    req_id: u64,
}

/// The `reqId` of a frame, if it is a JSON object that has one (else 0).
pub fn req_id_of(text: &str) -> u64 {
    serde_json::from_str::<ReqIdOnly>(text).map_or(0, |r| r.req_id)
}

/// Decode one text frame into a request; anything else is 20001 with a sentence.
/// A `reqId` that is not an unsigned integer (negative, fractional, a string, past
/// 2^64 − 1) cannot be answered under it: the answer carries `reqId` 0.
pub fn decode_request(text: &str) -> Result<RequestFrame<'_>, RejectedFrame> {
    serde_json::from_str(text).map_err(|e| {
        let frame = serde_json::from_str::<Value>(text).ok();
        let req_id = frame.as_ref().and_then(|v| v.get("reqId"));
        let desc = match req_id {
            Some(id) if !id.is_u64() => format!(
                "malformed request: reqId must be an unsigned integer (0 to {}), got a {}; \
                 this answer carries reqId 0",
                u64::MAX,
                json_kind(id)
            ),
            _ => format!(
                "malformed request ({e}): expected {{\"reqId\": N, \"op\": \"…\", \"params\": {{…}}}}"
            ),
        };
        RejectedFrame {
            req_id: req_id.and_then(Value::as_u64).unwrap_or(0),
            error: OpError::new(codes::ERR_SVR_COMM_INVALID_REQUEST, desc),
        }
    })
}

/// What kind of JSON value this is, for a sentence (never the value itself).
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() => "negative integer",
        Value::Number(n) if n.is_f64() => "non-integer or too large number",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What the server decides about a request before looking at any state: is the op known,
/// do its params have the op's shape, and (for `sendMessage`) do they pass the send rules
/// (sizes, addressing, targeted limits). The handlers run the same checks.
pub fn validate(op_name: &str, params: Params<'_>) -> Result<(), OpError> {
    use protocol::*;
    match op_name {
        op::LOGIN => ops::parse::<LoginParams>(op_name, params).map(drop),
        op::RENEW_USER_SIG => ops::parse::<RenewUserSigParams>(op_name, params).map(drop),
        op::LOGOUT | op::PING | op::GET_TOTAL_UNREAD_MESSAGE_COUNT | op::GET_JOINED_GROUP_LIST => {
            Ok(())
        }
        op::SEND_MESSAGE => {
            let p: SendMessageParams = ops::parse(op_name, params)?;
            rules::validate_send(&p).map(drop)
        }
        op::GET_HISTORY_MESSAGE_LIST => ops::parse::<GetHistoryParams>(op_name, params).map(drop),
        op::SYNC => ops::parse::<SyncParams>(op_name, params).map(drop),
        op::GET_CONVERSATION_LIST => {
            ops::parse::<GetConversationListParams>(op_name, params).map(drop)
        }
        op::GET_CONVERSATION | op::DELETE_CONVERSATION => {
            ops::parse::<ConversationIdParams>(op_name, params).map(drop)
        }
        op::CLEAN_CONVERSATION_UNREAD_MESSAGE_COUNT => {
            ops::parse::<CleanUnreadParams>(op_name, params).map(drop)
        }
        op::PIN_CONVERSATION => ops::parse::<PinConversationParams>(op_name, params).map(drop),
        op::SET_CONVERSATION_CUSTOM_DATA => {
            ops::parse::<SetConversationCustomDataParams>(op_name, params).map(drop)
        }
        op::CREATE_GROUP => {
            let p: CreateGroupParams = ops::parse(op_name, params)?;
            rules::check_group_name(&p.group_name)?;
            match crate::model::GroupType::parse(&p.group_type) {
                Some(t) => rules::check_initial_members(t, "", &p.member_list),
                None => Err(OpError::group_invalid(format!(
                    "unknown groupType {:?}",
                    p.group_type
                ))),
            }
        }
        op::JOIN_GROUP => ops::parse::<JoinGroupParams>(op_name, params).map(drop),
        op::QUIT_GROUP | op::DISMISS_GROUP => {
            ops::parse::<GroupIdParams>(op_name, params).map(drop)
        }
        op::INVITE_USER_TO_GROUP => ops::parse::<InviteParams>(op_name, params).map(drop),
        op::KICK_GROUP_MEMBER => ops::parse::<KickParams>(op_name, params).map(drop),
        op::MUTE_GROUP_MEMBER => ops::parse::<MuteGroupMemberParams>(op_name, params).map(drop),
        op::SET_GROUP_MEMBER_ROLE => {
            ops::parse::<SetGroupMemberRoleParams>(op_name, params).map(drop)
        }
        op::GET_GROUPS_INFO => ops::parse::<GetGroupsInfoParams>(op_name, params).map(drop),
        op::GET_GROUP_MEMBER_LIST => {
            ops::parse::<GetGroupMemberListParams>(op_name, params).map(drop)
        }
        other => Err(ops::unknown_op(other)),
    }
}

/// The codes [`decode_request`] and [`validate`] may answer with; anything else from
/// them is a bug.
pub const STATELESS_CODES: &[i32] = &[
    codes::ERR_SVR_COMM_INVALID_REQUEST,
    codes::ERR_INVALID_PARAMETERS,
    codes::ERR_INVALID_MSG_ELEM,
    codes::ERR_SVR_MSG_BODY_SIZE_LIMIT,
    codes::ERR_SVR_GROUP_INVALID_PARAMETERS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_is_escaped_and_cut_at_a_character() {
        assert_eq!(quoted("fly"), r#""fly""#);
        assert_eq!(quoted("a\"b\n"), r#""a\"b\n""#);
        // 63 ASCII bytes, then a 3-byte character across the 64-byte mark.
        let text = format!("{}你好", "x".repeat(63));
        assert_eq!(quoted(&text), format!("\"{}\"…", "x".repeat(63)));
        assert_eq!(quoted(&"y".repeat(64)), format!("\"{}\"", "y".repeat(64)));
    }

    #[test]
    fn sentences_are_capped() {
        assert_eq!(capped("short".into()), "short");
        let long = "é".repeat(DESC_MAX);
        let cut = capped(long);
        assert!(cut.len() <= DESC_MAX + "…".len(), "{}", cut.len());
        assert!(cut.ends_with('…'));
    }
}
