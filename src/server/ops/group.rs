//! Group ops: create, join, quit, dismiss, invite, kick, and the group reads.

use crate::server::frame::Params;

use crate::model::GroupType;
use crate::protocol::{
    CreateGroupParams, GetGroupMemberListParams, GetGroupsInfoParams, GroupIdParams, InviteParams,
    JoinGroupParams, KickParams, MuteGroupMemberParams, SetGroupMemberRoleParams, op,
};
use crate::server::error::OpError;
use crate::server::store::{Data, WriteCmd};

use super::{Ctx, Handled, now, params_or_answer, read, write};

pub async fn create(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: CreateGroupParams = params_or_answer!(op::CREATE_GROUP, params);
    let Some(group_type) = GroupType::parse(&p.group_type) else {
        return Handled::Now(Err(OpError::group_invalid(format!(
            "unknown groupType {:?}: Work, Public, Meeting, AVChatRoom or Community",
            p.group_type
        ))));
    };
    let cmd = WriteCmd::CreateGroup {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        group_type,
        group_name: p.group_name,
        group_id: p.group_id,
        members: p.member_list,
        now: now(),
    };
    write(ctx, cmd).await
}

pub async fn join(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: JoinGroupParams = params_or_answer!(op::JOIN_GROUP, params);
    let cmd = WriteCmd::JoinGroup {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        group_id: p.group_id,
        now: now(),
    };
    write(ctx, cmd).await
}

pub async fn quit(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: GroupIdParams = params_or_answer!(op::QUIT_GROUP, params);
    let cmd = WriteCmd::QuitGroup {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        group_id: p.group_id,
        now: now(),
    };
    write(ctx, cmd).await
}

pub async fn dismiss(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: GroupIdParams = params_or_answer!(op::DISMISS_GROUP, params);
    let cmd = WriteCmd::DismissGroup {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        group_id: p.group_id,
    };
    write(ctx, cmd).await
}

pub async fn invite(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: InviteParams = params_or_answer!(op::INVITE_USER_TO_GROUP, params);
    let cmd = WriteCmd::Invite {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        group_id: p.group_id,
        users: p.user_list,
        now: now(),
    };
    write(ctx, cmd).await
}

pub async fn kick(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: KickParams = params_or_answer!(op::KICK_GROUP_MEMBER, params);
    let cmd = WriteCmd::Kick {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        group_id: p.group_id,
        members: p.member_list,
        now: now(),
    };
    write(ctx, cmd).await
}

pub async fn mute(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: MuteGroupMemberParams = params_or_answer!(op::MUTE_GROUP_MEMBER, params);
    let cmd = WriteCmd::Mute {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        group_id: p.group_id,
        member: p.user_id,
        seconds: p.seconds,
        now: now(),
    };
    write(ctx, cmd).await
}

pub async fn set_role(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: SetGroupMemberRoleParams = params_or_answer!(op::SET_GROUP_MEMBER_ROLE, params);
    let cmd = WriteCmd::SetRole {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        group_id: p.group_id,
        member: p.user_id,
        role: p.role,
        now: now(),
    };
    write(ctx, cmd).await
}

pub fn joined(ctx: &Ctx) -> Handled {
    let user = ctx.user.clone();
    read(ctx, move |store| {
        store.joined_groups(&user).map(|l| Data::json(&l))
    })
}

pub fn info(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: GetGroupsInfoParams = params_or_answer!(op::GET_GROUPS_INFO, params);
    let user = ctx.user.clone();
    read(ctx, move |store| {
        store
            .groups_info(&user, &p.group_id_list)
            .map(|l| Data::json(&l))
    })
}

pub fn members(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: GetGroupMemberListParams = params_or_answer!(op::GET_GROUP_MEMBER_LIST, params);
    let user = ctx.user.clone();
    let hub = ctx.shared.hub.clone();
    read(ctx, move |store| {
        let mut page = store.group_members(&user, &p)?;
        for m in &mut page.member_info_list {
            m.is_online = hub.is_online(&m.user_id);
        }
        Ok(Data::json(&page))
    })
}
