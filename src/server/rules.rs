//! The messaging rules, as pure functions: no I/O, no storage. The writer of any backend
//! calls these with the state it has loaded, so every backend decides the same way.

use rand::Rng as _;

use crate::model::{self, GroupType, Message, elem_type, limits, role};
use crate::protocol::{SendMessageParams, codes};
use crate::server::error::OpError;
use crate::server::store::SendTarget;

pub use crate::model::is_valid_group_id;

/// Longest accepted creation id (`sendMessage.id`), bytes.
pub const CLIENT_ID_MAX: usize = 128;
/// Server-assigned group ids start with this; custom ids must not (Community: see below).
pub const SERVER_GROUP_ID_PREFIX: &str = "@TGS#";
/// Community ids must start with this.
pub const COMMUNITY_GROUP_ID_PREFIX: &str = "@TGS#_";

/// The creation id a message the server makes itself (group tips, …) is stored under:
/// `<kind> <pos>`. It holds a space, which no client's creation id may (see
/// [`model::is_id_text`]), so no send can take the key of a message the server is yet to
/// make, and each stored position is made once.
pub fn server_message_key(kind: &str, pos: u64) -> String {
    format!("{kind} {pos}")
}

/// The stateless checks of `sendMessage`: shape, sizes and addressing.
/// Membership and group-type rules need state and are checked by the writer
/// ([`check_group_send`]).
pub fn validate_send(p: &SendMessageParams) -> Result<SendTarget, OpError> {
    if p.id.is_empty() {
        return Err(OpError::invalid(
            "id (the creation id from create_*_message) is required",
        ));
    }
    if !model::is_id_text(&p.id, CLIENT_ID_MAX) {
        return Err(OpError::invalid(format!(
            "id is {} bytes; it must be 1 to {CLIENT_ID_MAX} bytes of printable ASCII other \
             than the space (0x21-0x7E)",
            p.id.len()
        )));
    }
    let elem_ok = match p.elem_type {
        elem_type::TEXT => p.text_elem.is_some() && p.custom_elem.is_none(),
        elem_type::CUSTOM => p.custom_elem.is_some() && p.text_elem.is_none(),
        _ => false,
    };
    if !elem_ok {
        return Err(OpError::new(
            codes::ERR_INVALID_MSG_ELEM,
            format!(
                "elemType {} needs exactly its elem (1 = textElem, 2 = customElem)",
                p.elem_type
            ),
        ));
    }
    let body = body_len(p);
    if body > limits::MESSAGE_BODY_MAX {
        return Err(OpError::new(
            codes::ERR_SVR_MSG_BODY_SIZE_LIMIT,
            format!(
                "message body is {body} bytes (elem + cloudCustomData); the limit is {} bytes",
                limits::MESSAGE_BODY_MAX
            ),
        ));
    }
    if let Some(push) = &p.offline_push_info {
        check_push_info(push)?;
    }
    let has_receiver = !p.receiver.is_empty();
    let has_group = !p.group_id.is_empty();
    if has_receiver && !model::is_valid_user_id(&p.receiver) {
        return Err(OpError::invalid(format!(
            "receiver {:?} is not a valid user id (printable ASCII, at most {} bytes)",
            p.receiver,
            limits::USER_ID_MAX
        )));
    }
    if has_group && !is_valid_group_id(&p.group_id) {
        return Err(OpError::invalid(format!(
            "groupID {:?} is not a valid group id (printable ASCII, at most {} bytes)",
            p.group_id,
            limits::GROUP_ID_MAX
        )));
    }
    let target = match (has_receiver, has_group) {
        (false, false) => Err(OpError::invalid(
            "neither receiver nor groupID is set: say who the message is for",
        )),
        (true, false) => {
            if !p.target_group_member_list.is_empty() {
                return Err(OpError::invalid(
                    "targetGroupMemberList needs a groupID (targeted messages are group messages)",
                ));
            }
            if !p.group_at_user_list.is_empty() {
                return Err(OpError::invalid(
                    "groupAtUserList needs a groupID (@ mentions are for group messages)",
                ));
            }
            Ok(SendTarget::C2c {
                receiver: p.receiver.clone(),
            })
        }
        (_, true) => {
            let mut targets: Vec<String> = Vec::new();
            if has_receiver {
                // V2TIM: receiver + groupID = a targeted message to that one member.
                targets.push(p.receiver.clone());
            }
            for t in &p.target_group_member_list {
                if !model::is_valid_user_id(t) {
                    return Err(OpError::group_invalid(format!(
                        "targeted receiver {t:?} is not a valid user id"
                    )));
                }
                if !targets.contains(t) {
                    targets.push(t.clone());
                }
            }
            if targets.len() > limits::TARGETED_RECEIVERS_MAX {
                return Err(OpError::group_invalid(format!(
                    "a targeted message may name at most {} receivers; this one names {}",
                    limits::TARGETED_RECEIVERS_MAX,
                    targets.len()
                )));
            }
            if !targets.is_empty() && !p.group_at_user_list.is_empty() {
                return Err(OpError::group_invalid(
                    "a targeted message cannot carry an @ list (groupAtUserList)",
                ));
            }
            if p.group_at_user_list.len() > limits::AT_USERS_MAX {
                return Err(OpError::group_invalid(format!(
                    "an @ list may name at most {} users; this one names {}",
                    limits::AT_USERS_MAX,
                    p.group_at_user_list.len()
                )));
            }
            // The @all tag is itself shaped like a user id.
            if let Some(i) = p
                .group_at_user_list
                .iter()
                .position(|u| !model::is_valid_user_id(u))
            {
                return Err(OpError::group_invalid(format!(
                    "groupAtUserList entry {i} is not a user id (1 to {} bytes of printable \
                     ASCII other than the space, or the @all tag {})",
                    limits::USER_ID_MAX,
                    model::AT_ALL_TAG
                )));
            }
            Ok(SendTarget::Group {
                group_id: p.group_id.clone(),
                targets,
            })
        }
    }?;
    let stored = encoded_len(p);
    if stored > limits::MESSAGE_STORED_MAX {
        return Err(OpError::new(
            codes::ERR_SVR_MSG_BODY_SIZE_LIMIT,
            format!(
                "the message as stored would be {stored} bytes of JSON (every field, escapes \
                 included); at most {} are allowed",
                limits::MESSAGE_STORED_MAX
            ),
        ));
    }
    Ok(target)
}

/// Each `offlinePushInfo` field against its own cap (6017, naming the field).
fn check_push_info(push: &model::OfflinePushInfo) -> Result<(), OpError> {
    for (field, value, max) in [
        ("title", &push.title, limits::PUSH_TITLE_MAX),
        ("desc", &push.desc, limits::PUSH_DESC_MAX),
        ("ext", &push.ext, limits::PUSH_EXT_MAX),
    ] {
        if value.len() > max {
            return Err(OpError::invalid(format!(
                "offlinePushInfo.{field} is {} bytes; at most {max} are allowed",
                value.len()
            )));
        }
    }
    Ok(())
}

/// Bytes a send's fields take as JSON — what the server stores and delivers, escapes
/// included (a control character takes six) — counted without building the text.
pub fn encoded_len(p: &SendMessageParams) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing plain data into a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, p);
    count.0
}

/// Bytes counted against the 12 KB body limit: the elem plus cloudCustomData.
pub fn body_len(p: &SendMessageParams) -> usize {
    let elem = p.text_elem.as_ref().map_or(0, |t| t.text.len())
        + p.custom_elem
            .as_ref()
            .map_or(0, |c| c.data.len() + c.desc.len() + c.extension.len());
    elem + p.cloud_custom_data.as_ref().map_or(0, String::len)
}

/// Group-type rules of a group send, once the group and the sender's membership are known.
pub fn check_group_send(
    group_type: GroupType,
    group_id: &str,
    online_only: bool,
    targeted: bool,
) -> Result<(), OpError> {
    if targeted && !group_type.supports_targeted() {
        return Err(OpError::group_invalid(format!(
            "targeted messages are not supported in {group_type} groups ({group_id})"
        )));
    }
    if online_only && !group_type.supports_online_only() {
        return Err(OpError::group_invalid(format!(
            "onlineUserOnly is not supported in {group_type} groups ({group_id})"
        )));
    }
    Ok(())
}

/// Does a stored message count as unread for its receivers?
pub fn counts_unread(
    group_type: Option<GroupType>,
    excluded_from_unread: bool,
    targeted: bool,
    elem: u8,
) -> bool {
    !excluded_from_unread
        && !targeted
        && elem != elem_type::GROUP_TIPS
        && group_type.is_none_or(GroupType::counts_unread)
}

/// Is a message to this group (type) stored at all?
pub fn stores(group_type: GroupType, online_only: bool) -> bool {
    !online_only && group_type.stores_messages()
}

/// The first group seq a member may read: pre-join history is visible only in Meeting
/// and Community groups.
pub fn visible_from(group_type: GroupType, join_seq: u64) -> u64 {
    if group_type.pre_join_history() {
        1
    } else {
        join_seq.max(1)
    }
}

/// Check a custom group id for `group_type` (10015 when it breaks the rules).
pub fn check_custom_group_id(group_type: GroupType, id: &str) -> Result<(), OpError> {
    let invalid = |why: String| Err(OpError::new(codes::ERR_SVR_GROUP_INVALID_GROUPID, why));
    if !is_valid_group_id(id) {
        return invalid(format!(
            "group id {id:?} must be printable ASCII, 1 to {} bytes",
            limits::GROUP_ID_MAX
        ));
    }
    if group_type == GroupType::Community {
        if !id.starts_with(COMMUNITY_GROUP_ID_PREFIX) {
            return invalid(format!(
                "a Community group id must start with {COMMUNITY_GROUP_ID_PREFIX:?}"
            ));
        }
    } else if id.starts_with(SERVER_GROUP_ID_PREFIX) {
        return invalid(format!(
            "custom group ids must not start with {SERVER_GROUP_ID_PREFIX:?} (reserved for server-assigned ids)"
        ));
    }
    Ok(())
}

/// A fresh server-assigned id: `@TGS#` + 10 characters (`@TGS#_` + 10 for Community).
pub fn generate_group_id(group_type: GroupType) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let prefix = if group_type == GroupType::Community {
        COMMUNITY_GROUP_ID_PREFIX
    } else {
        SERVER_GROUP_ID_PREFIX
    };
    let mut id = String::from(prefix);
    for _ in 0..10 {
        id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    id
}

/// `createGroup`'s name: required (V2TIM's `groupName*`), at most 100 bytes (10004).
pub fn check_group_name(name: &str) -> Result<(), OpError> {
    if name.is_empty() {
        return Err(OpError::group_invalid(format!(
            "groupName is required (1 to {} bytes)",
            limits::GROUP_NAME_MAX
        )));
    }
    if name.len() > limits::GROUP_NAME_MAX {
        return Err(OpError::group_invalid(format!(
            "groupName is {} bytes; at most {} are allowed",
            name.len(),
            limits::GROUP_NAME_MAX
        )));
    }
    Ok(())
}

/// Check the initial member list of `createGroup`.
pub fn check_initial_members(
    group_type: GroupType,
    owner: &str,
    members: &[model::GroupMemberSpec],
) -> Result<(), OpError> {
    if group_type == GroupType::AVChatRoom && !members.is_empty() {
        return Err(OpError::group_invalid(
            "AVChatRoom groups take no initial members: members join by themselves",
        ));
    }
    if members.len() > limits::GROUP_MEMBERS_PER_REQUEST_MAX {
        return Err(OpError::group_invalid(format!(
            "at most {} initial members per request; {} given",
            limits::GROUP_MEMBERS_PER_REQUEST_MAX,
            members.len()
        )));
    }
    for m in members {
        if !model::is_valid_user_id(&m.user_id) {
            return Err(OpError::group_invalid(format!(
                "member {:?} is not a valid user id",
                m.user_id
            )));
        }
        if m.user_id == owner {
            continue;
        }
        match m.role {
            role::MEMBER => {}
            role::ADMIN if group_type.has_admins() => {}
            role::ADMIN => {
                return Err(OpError::group_invalid(format!(
                    "{group_type} groups have no admins ({} was given role 300)",
                    m.user_id
                )));
            }
            role::OWNER => {
                return Err(OpError::group_invalid(format!(
                    "an initial member cannot be owner ({}); the creator is the owner",
                    m.user_id
                )));
            }
            other => {
                return Err(OpError::group_invalid(format!(
                    "unknown role {other} for {} (200 member, 300 admin)",
                    m.user_id
                )));
            }
        }
    }
    Ok(())
}

/// May a member with `role` invite others into a group of `group_type`?
/// Work and Community: any member. Public and Meeting: owner and admins (termim has no
/// approveOpt; inviting is the managers' privilege). AVChatRoom: nobody.
pub fn may_invite(group_type: GroupType, inviter_role: u32) -> Result<(), OpError> {
    match group_type {
        GroupType::AVChatRoom => Err(OpError::denied(
            "AVChatRoom groups take no invitations: members join by themselves",
        )),
        t if t.members_may_invite() => Ok(()),
        _ if inviter_role >= role::ADMIN => Ok(()),
        t => Err(OpError::denied(format!(
            "only the owner and admins may invite members to a {t} group"
        ))),
    }
}

/// May `actor_role` kick a member with `target_role` out of a group of `group_type`?
/// Work and AVChatRoom: the owner. Public, Meeting, Community: owner and admins, and
/// admins only plain members.
pub fn may_kick(group_type: GroupType, actor_role: u32, target_role: u32) -> Result<(), OpError> {
    if target_role == role::OWNER {
        return Err(OpError::denied("nobody may kick the group owner"));
    }
    match group_type {
        GroupType::Work | GroupType::AVChatRoom => {
            if actor_role == role::OWNER {
                Ok(())
            } else {
                Err(OpError::denied(format!(
                    "only the owner may kick members of a {group_type} group"
                )))
            }
        }
        _ => match actor_role {
            role::OWNER => Ok(()),
            role::ADMIN if target_role == role::MEMBER => Ok(()),
            role::ADMIN => Err(OpError::denied("admins may kick only plain members")),
            _ => Err(OpError::denied(format!(
                "only the owner and admins may kick members of a {group_type} group"
            ))),
        },
    }
}

/// May `actor_role` mute (or unmute) a member with `target_role` in a group of
/// `group_type`? (reference §3.13 and server-anchors §3.3.) Work: nobody (not supported).
/// AVChatRoom: the owner. Public, Meeting, Community: the owner and admins, admins only
/// plain members. Nobody mutes the owner.
pub fn may_mute(group_type: GroupType, actor_role: u32, target_role: u32) -> Result<(), OpError> {
    if group_type == GroupType::Work {
        return Err(OpError::denied("Work groups do not support muting members"));
    }
    if target_role == role::OWNER {
        return Err(OpError::denied("nobody may mute the group owner"));
    }
    match (group_type, actor_role) {
        (_, role::OWNER) => Ok(()),
        (GroupType::AVChatRoom, _) => Err(OpError::denied(
            "only the owner may mute members of an AVChatRoom group",
        )),
        (_, role::ADMIN) if target_role == role::MEMBER => Ok(()),
        (_, role::ADMIN) => Err(OpError::denied("admins may mute only plain members")),
        (t, _) => Err(OpError::denied(format!(
            "only the owner and admins may mute members of a {t} group"
        ))),
    }
}

/// Is a member whose mute ends at `mute_until` (UTC s; 0 = never muted) muted at `now`?
pub fn is_muted(mute_until: i64, now: i64) -> bool {
    mute_until > now
}

/// When a mute of `seconds` given at `now` ends (0 seconds: unmute).
pub fn mute_end(now: i64, seconds: u32) -> i64 {
    if seconds == 0 {
        0
    } else {
        now.saturating_add(i64::from(seconds))
    }
}

/// May `actor_role` give a member with `target_role` the role `new_role`? Owner only, in
/// groups that have admins (not Work, not AVChatRoom); only 200 ↔ 300; never the owner.
pub fn may_set_role(
    group_type: GroupType,
    actor_role: u32,
    target_role: u32,
    new_role: u32,
) -> Result<(), OpError> {
    if !group_type.has_admins() {
        return Err(OpError::denied(format!(
            "{group_type} groups have no admins: roles cannot be changed"
        )));
    }
    if actor_role != role::OWNER {
        return Err(OpError::denied(
            "only the group owner may change members' roles",
        ));
    }
    if target_role == role::OWNER {
        return Err(OpError::group_invalid("the owner's role cannot be changed"));
    }
    if new_role != role::MEMBER && new_role != role::ADMIN {
        return Err(OpError::group_invalid(format!(
            "role {new_role}: use 300 (admin) or 200 (member)"
        )));
    }
    Ok(())
}

/// Conversation custom data limit check (per item).
pub fn check_custom_data(data: &str) -> Result<(), OpError> {
    if data.len() > limits::CONVERSATION_CUSTOM_DATA_MAX {
        return Err(OpError::invalid(format!(
            "custom data is {} bytes; at most {} are allowed",
            data.len(),
            limits::CONVERSATION_CUSTOM_DATA_MAX
        )));
    }
    Ok(())
}

/// The message a sender's request becomes, before storage assigns ids.
pub fn build_message(p: &SendMessageParams, sender: &str, target: &SendTarget) -> Message {
    let mut m = Message {
        id: p.id.clone(),
        sender: sender.to_string(),
        status: model::MessageStatus::SendSucc,
        elem_type: p.elem_type,
        text_elem: p.text_elem.clone(),
        custom_elem: p.custom_elem.clone(),
        cloud_custom_data: p.cloud_custom_data.clone(),
        need_read_receipt: p.need_read_receipt,
        priority: p.priority,
        offline_push_info: p.offline_push_info.clone(),
        group_at_user_list: p.group_at_user_list.clone(),
        random: p.random,
        is_excluded_from_unread_count: p.is_excluded_from_unread_count,
        is_excluded_from_last_message: p.is_excluded_from_last_message,
        is_support_message_extension: p.is_support_message_extension,
        is_online_only: p.online_user_only,
        ..Message::default()
    };
    match target {
        SendTarget::C2c { receiver } => m.receiver = Some(receiver.clone()),
        SendTarget::Group { group_id, targets } => {
            m.group_id = Some(group_id.clone());
            m.target_group_member_list = targets.clone();
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TextElem;

    fn text(id: &str, receiver: &str, group: &str) -> SendMessageParams {
        SendMessageParams {
            id: id.into(),
            receiver: receiver.into(),
            group_id: group.into(),
            elem_type: elem_type::TEXT,
            text_elem: Some(TextElem { text: "hi".into() }),
            ..Default::default()
        }
    }

    #[test]
    fn addressing() {
        assert_eq!(
            validate_send(&text("1", "bob", "")),
            Ok(SendTarget::C2c {
                receiver: "bob".into()
            })
        );
        assert_eq!(
            validate_send(&text("1", "bob", "g1")),
            Ok(SendTarget::Group {
                group_id: "g1".into(),
                targets: vec!["bob".into()]
            })
        );
        assert_eq!(
            validate_send(&text("1", "", "")).map_err(|e| e.code),
            Err(codes::ERR_INVALID_PARAMETERS)
        );
        assert_eq!(
            validate_send(&text("", "bob", "")).map_err(|e| e.code),
            Err(codes::ERR_INVALID_PARAMETERS)
        );
        assert_eq!(
            validate_send(&text("1", "b o b", "")).map_err(|e| e.code),
            Err(codes::ERR_INVALID_PARAMETERS)
        );
    }

    #[test]
    fn body_limit_counts_cloud_custom_data() {
        let mut p = text("1", "bob", "");
        p.text_elem = Some(TextElem {
            text: "a".repeat(limits::MESSAGE_BODY_MAX - 10),
        });
        p.cloud_custom_data = Some("b".repeat(10));
        assert!(validate_send(&p).is_ok());
        p.cloud_custom_data = Some("b".repeat(11));
        assert_eq!(
            validate_send(&p).map_err(|e| e.code),
            Err(codes::ERR_SVR_MSG_BODY_SIZE_LIMIT)
        );
    }

    #[test]
    fn targeted_limits() {
        let mut p = text("1", "", "g");
        p.target_group_member_list = (0..51).map(|i| format!("u{i}")).collect();
        assert_eq!(
            validate_send(&p).map_err(|e| e.code),
            Err(codes::ERR_SVR_GROUP_INVALID_PARAMETERS)
        );
        p.target_group_member_list.truncate(50);
        assert!(validate_send(&p).is_ok());
        p.group_at_user_list = vec!["u1".into()];
        assert_eq!(
            validate_send(&p).map_err(|e| e.code),
            Err(codes::ERR_SVR_GROUP_INVALID_PARAMETERS)
        );
    }

    #[test]
    fn group_ids() {
        assert!(check_custom_group_id(GroupType::Work, "team").is_ok());
        assert!(check_custom_group_id(GroupType::Work, "@TGS#abc").is_err());
        assert!(check_custom_group_id(GroupType::Community, "club").is_err());
        assert!(check_custom_group_id(GroupType::Community, "@TGS#_club").is_ok());
        assert!(check_custom_group_id(GroupType::Public, &"x".repeat(49)).is_err());
        assert!(generate_group_id(GroupType::Community).starts_with("@TGS#_"));
        assert!(generate_group_id(GroupType::Work).starts_with("@TGS#"));
    }

    #[test]
    fn kick_matrix() {
        use GroupType::*;
        assert!(may_kick(Work, role::OWNER, role::MEMBER).is_ok());
        assert!(may_kick(Work, role::MEMBER, role::MEMBER).is_err());
        for t in [Public, Meeting, Community] {
            assert!(may_kick(t, role::OWNER, role::ADMIN).is_ok());
            assert!(may_kick(t, role::ADMIN, role::MEMBER).is_ok());
            assert!(may_kick(t, role::ADMIN, role::ADMIN).is_err());
            assert!(may_kick(t, role::ADMIN, role::OWNER).is_err());
            assert!(may_kick(t, role::MEMBER, role::MEMBER).is_err());
        }
    }

    #[test]
    fn mute_matrix() {
        use GroupType::*;
        for (actor, target) in [
            (role::OWNER, role::MEMBER),
            (role::OWNER, role::ADMIN),
            (role::MEMBER, role::MEMBER),
        ] {
            assert_eq!(
                may_mute(Work, actor, target).map_err(|e| e.code),
                Err(codes::ERR_SVR_GROUP_PERMISSION_DENIED)
            );
        }
        for t in [Public, Meeting, Community] {
            assert!(may_mute(t, role::OWNER, role::ADMIN).is_ok());
            assert!(may_mute(t, role::OWNER, role::MEMBER).is_ok());
            assert!(may_mute(t, role::ADMIN, role::MEMBER).is_ok());
            assert!(may_mute(t, role::ADMIN, role::ADMIN).is_err());
            assert!(may_mute(t, role::ADMIN, role::OWNER).is_err());
            assert!(may_mute(t, role::MEMBER, role::MEMBER).is_err());
        }
        assert!(may_mute(AVChatRoom, role::OWNER, role::MEMBER).is_ok());
        assert!(may_mute(AVChatRoom, role::MEMBER, role::MEMBER).is_err());
    }

    #[test]
    fn a_mute_ends_when_its_time_is_reached() {
        let end = mute_end(1_000, 60);
        assert_eq!(end, 1_060);
        assert!(is_muted(end, 1_000));
        assert!(is_muted(end, 1_059));
        assert!(!is_muted(end, 1_060));
        assert_eq!(mute_end(1_000, 0), 0, "0 seconds unmutes");
        assert!(!is_muted(0, 1_000));
    }

    #[test]
    fn role_matrix() {
        use GroupType::*;
        for t in [Work, AVChatRoom] {
            assert!(may_set_role(t, role::OWNER, role::MEMBER, role::ADMIN).is_err());
        }
        for t in [Public, Meeting, Community] {
            assert!(may_set_role(t, role::OWNER, role::MEMBER, role::ADMIN).is_ok());
            assert!(may_set_role(t, role::OWNER, role::ADMIN, role::MEMBER).is_ok());
            assert!(may_set_role(t, role::ADMIN, role::MEMBER, role::ADMIN).is_err());
            assert!(may_set_role(t, role::OWNER, role::OWNER, role::MEMBER).is_err());
            assert!(may_set_role(t, role::OWNER, role::MEMBER, role::OWNER).is_err());
        }
    }

    #[test]
    fn unread_rules() {
        assert!(counts_unread(None, false, false, elem_type::TEXT));
        assert!(!counts_unread(None, true, false, elem_type::TEXT));
        assert!(!counts_unread(
            Some(GroupType::Work),
            false,
            true,
            elem_type::TEXT
        ));
        assert!(!counts_unread(
            Some(GroupType::Meeting),
            false,
            false,
            elem_type::TEXT
        ));
        assert!(!counts_unread(
            Some(GroupType::Public),
            false,
            false,
            elem_type::GROUP_TIPS
        ));
    }
}
