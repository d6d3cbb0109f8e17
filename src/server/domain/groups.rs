//! Group commands: create, join, quit, dismiss, invite, kick, mute, roles — who may, the
//! caps (members per type, groups per user), the tips each leaves in the group, and the
//! events and conversation changes each member's devices are told.

use crate::model::{
    GroupMemberChangeInfo, GroupMemberOperationResult, GroupMemberSpec, GroupTipsElem, GroupType,
    limits, member_op_result, role, tips_type,
};
use crate::protocol::{CreateGroupResult, GroupEventPush, codes};
use crate::server::error::OpError;
use crate::server::rules;
use crate::server::store::{ConnId, Data, Effect, Recipients};

use super::messages::{self, Produced};
use super::{GroupView, Member, Tx};

fn group_event(
    users: Vec<String>,
    except: Option<ConnId>,
    group_id: &str,
    event: &str,
    op_user: &str,
    member_list: Vec<String>,
) -> Effect {
    Effect::GroupEvent {
        users,
        except,
        event: GroupEventPush {
            group_id: group_id.to_string(),
            event: event.to_string(),
            op_user: op_user.to_string(),
            member_list,
        },
    }
}

/// The group's conversation leaves each of `users`' lists (after a quit, kick or dismiss):
/// their devices learn it from the push, as from a delete.
fn conversation_gone(users: &[String], except: Option<ConnId>, group_id: &str) -> Vec<Effect> {
    let id = crate::model::ConversationId::group(group_id).0;
    users
        .iter()
        .map(|u| Effect::ConversationDeleted {
            user: u.clone(),
            except,
            conversation_ids: vec![id.clone()],
        })
        .collect()
}

fn tips_effect(produced: &Produced, recipients: std::sync::Arc<[String]>) -> Effect {
    Effect::NewMessage {
        recipients: Recipients::Roster(recipients),
        except: None,
        message: produced.body.clone(),
        cursor: produced.pos,
        unread_counted: false,
    }
}

/// Store the tips of a membership change.
fn tips(
    tx: &mut dyn Tx,
    group_id: &str,
    op_user: &str,
    kind: u8,
    members: Vec<String>,
    member_count: usize,
    now: i64,
) -> Result<Produced, OpError> {
    let elem = GroupTipsElem {
        group_id: group_id.to_string(),
        tips_type: kind,
        op_member: op_user.to_string(),
        member_list: members,
        member_count: member_count as u32,
        member_change_info_list: Vec::new(),
    };
    messages::tips(tx, group_id, op_user, elem, now)
}

/// A live group, or 10010.
fn live(tx: &mut dyn Tx, group_id: &str) -> Result<GroupView, OpError> {
    tx.group(group_id)?
        .ok_or_else(|| OpError::no_group(group_id))
}

/// `user`'s membership, or 10007.
fn member_of(tx: &mut dyn Tx, group_id: &str, user: &str) -> Result<Member, OpError> {
    tx.member(group_id, user)?
        .ok_or_else(|| OpError::denied(format!("you are not a member of group {group_id:?}")))
}

/// 10014 when `adding` more members would pass the group type's cap.
fn check_room(g: &GroupView, group_id: &str, adding: usize) -> Result<(), OpError> {
    let cap = g.group_type.member_cap();
    if g.member_count.saturating_add(adding) > cap {
        return Err(OpError::new(
            codes::ERR_SVR_GROUP_FULL,
            format!(
                "group {group_id:?} is full ({} members, the {} limit is {cap})",
                g.member_count, g.group_type
            ),
        ));
    }
    Ok(())
}

/// 10037 when `user` is already in as many groups as one user may be (`cap` 0: no cap).
fn check_quota(tx: &mut dyn Tx, user: &str, cap: usize) -> Result<(), OpError> {
    if cap == 0 {
        return Ok(());
    }
    let n = tx.groups_of(user)?;
    if n >= cap as u64 {
        return Err(OpError::new(
            codes::ERR_SVR_GROUP_JOINED_LIMIT,
            format!("user {user:?} is already in {n} groups; one user may be in at most {cap}"),
        ));
    }
    Ok(())
}

/// A new membership, starting at the group's next seq (its join tips).
fn new_member(member_role: u32, join_seq: u64, now: i64) -> Member {
    Member {
        role: member_role,
        join_seq,
        join_time: now,
        mute_until: 0,
    }
}

/// `createGroup`.
#[allow(clippy::too_many_arguments)]
pub fn create(
    tx: &mut dyn Tx,
    user: &str,
    conn: ConnId,
    group_type: GroupType,
    name: &str,
    group_id: Option<&str>,
    members: &[GroupMemberSpec],
    now: i64,
    quota: usize,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    rules::check_group_name(name)?;
    rules::check_initial_members(group_type, user, members)?;
    check_quota(tx, user, quota)?;
    let group_id = match group_id {
        Some(id) if !id.is_empty() => {
            rules::check_custom_group_id(group_type, id)?;
            if tx.group_id_taken(id)? {
                return Err(OpError::new(
                    codes::ERR_SVR_GROUP_GROUPID_IN_USED,
                    format!("group id {id:?} is already in use"),
                ));
            }
            id.to_string()
        }
        _ => {
            let mut fresh = None;
            for _ in 0..16 {
                let id = rules::generate_group_id(group_type);
                if !tx.group_id_taken(&id)? {
                    fresh = Some(id);
                    break;
                }
            }
            fresh.ok_or_else(|| OpError::internal("could not find a free group id"))?
        }
    };
    let mut added: Vec<(String, u32)> = Vec::new();
    for m in members {
        if m.user_id == user || added.iter().any(|(u, _)| *u == m.user_id) {
            continue;
        }
        if !tx.user_exists(&m.user_id)? {
            return Err(OpError::new(
                codes::ERR_SVR_GROUP_ACCOUNT_NOT_FOUND,
                format!(
                    "user {:?} has no account (accounts are created at first login)",
                    m.user_id
                ),
            ));
        }
        check_quota(tx, &m.user_id, quota)?;
        added.push((m.user_id.clone(), m.role));
    }
    if added.len() + 1 > group_type.member_cap() {
        return Err(OpError::new(
            codes::ERR_SVR_GROUP_FULL,
            format!("too many members for a {group_type} group"),
        ));
    }
    // All checks passed: write.
    tx.create_group(&group_id, group_type, name, user, now)?;
    let everyone = std::iter::once((user.to_string(), role::OWNER)).chain(added.iter().cloned());
    for (member, member_role) in everyone {
        tx.add_member(&group_id, &member, &new_member(member_role, 1, now))?;
    }
    let invited: Vec<String> = added.into_iter().map(|(u, _)| u).collect();
    fx.push(group_event(
        vec![user.to_string()],
        Some(conn),
        &group_id,
        "joined",
        user,
        vec![user.to_string()],
    ));
    if !invited.is_empty() {
        fx.push(group_event(
            invited.clone(),
            None,
            &group_id,
            "invited",
            user,
            invited,
        ));
    }
    Ok(Data::json(&CreateGroupResult { group_id }))
}

/// `joinGroup`: Public, Meeting, Community and AVChatRoom take applicants at once.
pub fn join(
    tx: &mut dyn Tx,
    user: &str,
    conn: ConnId,
    group_id: &str,
    now: i64,
    quota: usize,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    let g = live(tx, group_id)?;
    if tx.member(group_id, user)?.is_some() {
        return Err(OpError::new(
            codes::ERR_SVR_GROUP_ALREADY_MEMBER,
            format!("you are already a member of group {group_id:?}"),
        ));
    }
    if !g.group_type.can_apply_to_join() {
        return Err(OpError::denied(format!(
            "{} groups are invite-only: ask a member to invite you to {group_id:?}",
            g.group_type
        )));
    }
    check_room(&g, group_id, 1)?;
    check_quota(tx, user, quota)?;
    // The application is approved at once (termim has no approvers).
    tx.add_member(
        group_id,
        user,
        &new_member(role::MEMBER, g.last_seq + 1, now),
    )?;
    let roster = tx.roster(group_id)?;
    let tips = tips(
        tx,
        group_id,
        user,
        tips_type::JOIN,
        vec![user.to_string()],
        g.member_count + 1,
        now,
    )?;
    fx.push(tips_effect(&tips, roster));
    fx.push(group_event(
        vec![user.to_string()],
        Some(conn),
        group_id,
        "joined",
        user,
        vec![user.to_string()],
    ));
    Ok(Data::null())
}

/// `quitGroup`. A Work owner hands the group to its longest-standing member; the last
/// member leaving dismisses it.
pub fn quit(
    tx: &mut dyn Tx,
    user: &str,
    conn: ConnId,
    group_id: &str,
    now: i64,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    let g = live(tx, group_id)?;
    let me = member_of(tx, group_id, user)?;
    if me.role == role::OWNER && !g.group_type.owner_may_quit() {
        return Err(OpError::new(
            codes::ERR_SVR_GROUP_OWNER_CANNOT_QUIT,
            format!(
                "the owner cannot quit a {} group: dismiss it instead",
                g.group_type
            ),
        ));
    }
    let quit_event = group_event(
        vec![user.to_string()],
        Some(conn),
        group_id,
        "quit",
        user,
        vec![user.to_string()],
    );
    if g.member_count == 1 {
        // The last member leaves: nothing remains to talk in.
        tx.dismiss(group_id)?;
        fx.push(quit_event);
        fx.extend(conversation_gone(&[user.to_string()], Some(conn), group_id));
        return Ok(Data::null());
    }
    let roster_before = tx.roster(group_id)?;
    let tips = tips(
        tx,
        group_id,
        user,
        tips_type::QUIT,
        vec![user.to_string()],
        g.member_count - 1,
        now,
    )?;
    tx.remove_member(group_id, user)?;
    if me.role == role::OWNER {
        let heir = tx
            .members(group_id)?
            .into_iter()
            .min_by(|a, b| {
                (a.1.join_seq, a.1.join_time, &a.0).cmp(&(b.1.join_seq, b.1.join_time, &b.0))
            })
            .map(|(u, _)| u);
        if let Some(heir) = heir {
            tx.set_owner(group_id, &heir)?;
        }
    }
    fx.push(tips_effect(&tips, roster_before));
    fx.push(quit_event);
    fx.extend(conversation_gone(&[user.to_string()], Some(conn), group_id));
    Ok(Data::null())
}

/// `dismissGroup`: the owner, any type.
pub fn dismiss(
    tx: &mut dyn Tx,
    user: &str,
    conn: ConnId,
    group_id: &str,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    live(tx, group_id)?;
    if member_of(tx, group_id, user)?.role != role::OWNER {
        return Err(OpError::denied(format!(
            "only the owner may dismiss group {group_id:?}"
        )));
    }
    let members = tx.dismiss(group_id)?;
    let gone = conversation_gone(&members, Some(conn), group_id);
    fx.push(group_event(
        members,
        Some(conn),
        group_id,
        "dismissed",
        user,
        Vec::new(),
    ));
    fx.extend(gone);
    Ok(Data::null())
}

/// `inviteUserToGroup`: a result per user.
#[allow(clippy::too_many_arguments)]
pub fn invite(
    tx: &mut dyn Tx,
    user: &str,
    group_id: &str,
    users: &[String],
    now: i64,
    quota: usize,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    if users.is_empty() {
        return Err(OpError::group_invalid(
            "userList is empty: nobody to invite",
        ));
    }
    if users.len() > limits::GROUP_MEMBERS_PER_REQUEST_MAX {
        return Err(OpError::group_invalid(format!(
            "at most {} users per invitation; {} given",
            limits::GROUP_MEMBERS_PER_REQUEST_MAX,
            users.len()
        )));
    }
    let g = live(tx, group_id)?;
    let inviter = member_of(tx, group_id, user)?;
    rules::may_invite(g.group_type, inviter.role)?;
    let mut results = Vec::with_capacity(users.len());
    let mut added: Vec<String> = Vec::new();
    for u in users {
        let verdict = if !crate::model::is_valid_user_id(u)
            || !tx.user_exists(u)?
            || check_quota(tx, u, quota).is_err()
        {
            member_op_result::FAIL
        } else if tx.member(group_id, u)?.is_some() || added.contains(u) {
            member_op_result::INVALID
        } else if check_room(&g, group_id, added.len() + 1).is_err() {
            member_op_result::OVERLIMIT
        } else {
            added.push(u.clone());
            member_op_result::SUCC
        };
        results.push(GroupMemberOperationResult {
            member_id: u.clone(),
            result: verdict,
        });
    }
    if !added.is_empty() {
        let join_seq = g.last_seq + 1;
        for u in &added {
            tx.add_member(group_id, u, &new_member(role::MEMBER, join_seq, now))?;
        }
        let roster = tx.roster(group_id)?;
        let count = g.member_count + added.len();
        let tips = tips(
            tx,
            group_id,
            user,
            tips_type::INVITE,
            added.clone(),
            count,
            now,
        )?;
        fx.push(tips_effect(&tips, roster));
        fx.push(group_event(
            added.clone(),
            None,
            group_id,
            "invited",
            user,
            added,
        ));
    }
    Ok(Data::json(&results))
}

/// `kickGroupMember`.
pub fn kick(
    tx: &mut dyn Tx,
    user: &str,
    group_id: &str,
    members: &[String],
    now: i64,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    if members.is_empty() {
        return Err(OpError::group_invalid(
            "memberList is empty: nobody to kick",
        ));
    }
    if members.len() > limits::CONVERSATION_BATCH_MAX {
        return Err(OpError::group_invalid(format!(
            "at most {} members per kick; {} given",
            limits::CONVERSATION_BATCH_MAX,
            members.len()
        )));
    }
    let g = live(tx, group_id)?;
    let actor_role = member_of(tx, group_id, user)?.role;
    let mut kicked: Vec<String> = Vec::new();
    for m in members {
        if m == user {
            return Err(OpError::group_invalid(
                "you cannot kick yourself: use quitGroup to leave",
            ));
        }
        let Some(target) = tx.member(group_id, m)? else {
            return Err(OpError::group_invalid(format!(
                "{m:?} is not a member of group {group_id:?}"
            )));
        };
        rules::may_kick(g.group_type, actor_role, target.role)?;
        if !kicked.contains(m) {
            kicked.push(m.clone());
        }
    }
    let roster_before = tx.roster(group_id)?;
    let count = g.member_count - kicked.len();
    let tips = tips(
        tx,
        group_id,
        user,
        tips_type::KICKED,
        kicked.clone(),
        count,
        now,
    )?;
    for m in &kicked {
        tx.remove_member(group_id, m)?;
    }
    fx.push(tips_effect(&tips, roster_before));
    fx.push(group_event(
        kicked.clone(),
        None,
        group_id,
        "kicked",
        user,
        kicked.clone(),
    ));
    fx.extend(conversation_gone(&kicked, None, group_id));
    Ok(Data::null())
}

/// The group, the actor's role and the target's, for an op by `user` on someone else.
fn other_member(
    tx: &mut dyn Tx,
    user: &str,
    group_id: &str,
    target: &str,
) -> Result<(GroupView, u32, u32), OpError> {
    if target == user {
        return Err(OpError::group_invalid(
            "this operation is for other members, not yourself",
        ));
    }
    let g = live(tx, group_id)?;
    let actor = member_of(tx, group_id, user)?.role;
    let Some(t) = tx.member(group_id, target)? else {
        return Err(OpError::group_invalid(format!(
            "{target:?} is not a member of group {group_id:?}"
        )));
    };
    Ok((g, actor, t.role))
}

/// `muteGroupMember` (`seconds` 0: unmute).
pub fn mute(
    tx: &mut dyn Tx,
    user: &str,
    group_id: &str,
    target: &str,
    seconds: u32,
    now: i64,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    let (g, actor, target_role) = other_member(tx, user, group_id, target)?;
    rules::may_mute(g.group_type, actor, target_role)?;
    let until = rules::mute_end(now, seconds);
    tx.set_mute(group_id, target, until)?;
    let roster = tx.roster(group_id)?;
    // Mute and unmute differ in the tip itself, not only in the member list.
    let elem = GroupTipsElem {
        group_id: group_id.to_string(),
        tips_type: tips_type::MEMBER_INFO_CHANGE,
        op_member: user.to_string(),
        member_list: vec![target.to_string()],
        member_count: g.member_count as u32,
        member_change_info_list: vec![GroupMemberChangeInfo {
            user_id: target.to_string(),
            mute_time: seconds,
            mute_until: if seconds == 0 { 0 } else { until },
        }],
    };
    let tips = messages::tips(tx, group_id, user, elem, now)?;
    fx.push(tips_effect(&tips, roster));
    Ok(Data::null())
}

/// `setGroupMemberRole`: the owner makes members admins and back.
pub fn set_role(
    tx: &mut dyn Tx,
    user: &str,
    group_id: &str,
    target: &str,
    new_role: u32,
    now: i64,
    fx: &mut Vec<Effect>,
) -> Result<Data, OpError> {
    let (g, actor, target_role) = other_member(tx, user, group_id, target)?;
    rules::may_set_role(g.group_type, actor, target_role, new_role)?;
    if target_role == new_role {
        return Ok(Data::null());
    }
    tx.set_role(group_id, target, new_role)?;
    let roster = tx.roster(group_id)?;
    let kind = if new_role == role::ADMIN {
        tips_type::SET_ADMIN
    } else {
        tips_type::CANCEL_ADMIN
    };
    let tips = tips(
        tx,
        group_id,
        user,
        kind,
        vec![target.to_string()],
        g.member_count,
        now,
    )?;
    fx.push(tips_effect(&tips, roster));
    Ok(Data::null())
}
