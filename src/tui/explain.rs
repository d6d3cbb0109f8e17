//! SDK and server refusals in plain words, always with the V2TIM code, so a user
//! knows what happened and a developer can look the code up.

use crate::protocol::codes;
use crate::tui::effect::SdkError;

/// "code: what went wrong, in words" (the shape `TimError` displays everywhere
/// else). The server's own sentence is kept where it names the culprit (which
/// receiver, which group type).
pub fn failure(e: &SdkError) -> String {
    let desc = e.desc.trim();
    let has = |needle: &str| desc.contains(needle);
    let plain: String = match e.code {
        codes::ERR_SVR_GROUP_PERMISSION_DENIED => {
            "you are not a member of this group (or not allowed to do that)".into()
        }
        codes::ERR_SVR_GROUP_NOT_FOUND => "this group doesn't exist any more".into(),
        codes::ERR_SVR_GROUP_SHUTUP_DENY => "you are muted in this group".into(),
        codes::ERR_SVR_MSG_BODY_SIZE_LIMIT | codes::ERR_SDK_MSG_BODY_SIZE_LIMIT => {
            "over the 12 KB message limit".into()
        }
        codes::ERR_SVR_COMM_INVALID_ACCOUNT => "that user has no account yet".into(),
        codes::ERR_SVR_CONV_BATCH_TOO_MANY => "more than 100 conversations at once".into(),
        codes::ERR_SVR_CONV_TOO_MANY_WITH_DATA => {
            "too many conversations already carry custom data".into()
        }
        codes::ERR_SDK_NET_DISCONNECT
        | codes::ERR_SDK_NET_CONNECT_TIMEOUT
        | codes::ERR_SDK_NET_WAIT_ACK_TIMEOUT => "no connection to the server".into(),
        codes::ERR_SDK_NOT_LOGGED_IN => "signed out".into(),
        // The server names the receiver or the group type: its words are plain.
        codes::ERR_SVR_GROUP_INVALID_PARAMETERS if has("not a member") || has("not supported") => {
            desc.to_string()
        }
        codes::ERR_SVR_GROUP_INVALID_PARAMETERS | codes::ERR_INVALID_PARAMETERS if has("@") => {
            "a targeted message can't carry @ mentions".into()
        }
        codes::ERR_SVR_GROUP_INVALID_PARAMETERS | codes::ERR_INVALID_PARAMETERS
            if has("at most") =>
        {
            format!("too many receivers: {desc}")
        }
        _ if desc.is_empty() => codes::describe(e.code).to_string(),
        _ => desc.to_string(),
    };
    format!("{}: {plain}", e.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_sentences_with_their_code() {
        let e = |code, desc: &str| failure(&SdkError::new(code, desc));
        assert_eq!(
            e(10007, "sender is not a member"),
            "10007: you are not a member of this group (or not allowed to do that)"
        );
        assert_eq!(
            e(
                10004,
                "targeted receiver \"dave\" is not a member of group \"team\""
            ),
            "10004: targeted receiver \"dave\" is not a member of group \"team\""
        );
        assert_eq!(
            e(
                6017,
                "a message with an @ list cannot be made a targeted group message"
            ),
            "6017: a targeted message can't carry @ mentions"
        );
        assert!(
            e(
                6017,
                "51 receivers; a targeted group message may have at most 50"
            )
            .starts_with("6017: too many receivers")
        );
        assert!(e(80002, "whatever").contains("12 KB"));
        assert_eq!(e(12345, ""), "12345: error");
        assert_eq!(e(12345, "odd"), "12345: odd");
    }
}
