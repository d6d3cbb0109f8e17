//! Groups: thin wrappers over the server ops. After a change that can create or end my
//! membership, the group's conversation is refreshed from the server.

use serde_json::{Value, json};

use super::conversation::decode_list;
use super::error::TimError;
use super::session;
use super::{Inner, Tim};
use crate::model::{
    ConversationId, GroupInfo, GroupMemberInfoResult, GroupMemberOperationResult, GroupMemberSpec,
};
use crate::protocol::{CreateGroupParams, GroupInfoResult, op};

fn decode<T: serde::de::DeserializeOwned>(op: &str, data: Value) -> Result<T, TimError> {
    serde_json::from_value(data).map_err(|e| TimError::bad_response(op, e))
}

fn check_group_id(group_id: &str) -> Result<(), TimError> {
    if group_id.is_empty() {
        return Err(TimError::invalid("groupID is empty"));
    }
    Ok(())
}

/// Learn the group's conversation as the server now sees it (if it has one).
async fn refresh_group_conversation(inner: &Inner, group_id: &str) {
    let id = ConversationId::group(group_id).0;
    if let Err(e) = session::refresh_conversation(inner, &id).await {
        tracing::debug!(error = %e, conversation = %id, "group conversation not refreshed");
    }
}

impl Tim {
    /// `createGroup(groupType, groupName, groupID?, memberList)`: returns the group id
    /// (server-assigned when `group_id` is None).
    pub async fn create_group(
        &self,
        group_type: &str,
        group_name: &str,
        group_id: Option<&str>,
        members: &[GroupMemberSpec],
    ) -> Result<String, TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        let params = CreateGroupParams {
            group_type: group_type.to_string(),
            group_name: group_name.to_string(),
            group_id: group_id.map(str::to_string),
            member_list: members.to_vec(),
        };
        let data = inner
            .request(
                op::CREATE_GROUP,
                serde_json::to_value(params).unwrap_or_default(),
            )
            .await?;
        let id = match &data {
            Value::String(s) => s.clone(),
            Value::Object(map) => match map.get("groupID").and_then(Value::as_str) {
                Some(s) => s.to_string(),
                None => return Err(TimError::bad_response(op::CREATE_GROUP, "no groupID")),
            },
            _ => return Err(TimError::bad_response(op::CREATE_GROUP, "no groupID")),
        };
        refresh_group_conversation(inner, &id).await;
        Ok(id)
    }

    /// `joinGroup(groupID, message)`.
    pub async fn join_group(&self, group_id: &str, message: &str) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        check_group_id(group_id)?;
        inner
            .request(
                op::JOIN_GROUP,
                json!({ "groupID": group_id, "message": message }),
            )
            .await?;
        refresh_group_conversation(inner, group_id).await;
        Ok(())
    }

    /// `quitGroup(groupID)`. The group's conversation is removed from this device, as the
    /// server stops listing it.
    pub async fn quit_group(&self, group_id: &str) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        check_group_id(group_id)?;
        inner
            .request(op::QUIT_GROUP, json!({ "groupID": group_id }))
            .await?;
        session::forget_group(inner, group_id)
    }

    /// `dismissGroup(groupID)` (owner). The conversation goes, as for every member.
    pub async fn dismiss_group(&self, group_id: &str) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        check_group_id(group_id)?;
        inner
            .request(op::DISMISS_GROUP, json!({ "groupID": group_id }))
            .await?;
        session::forget_group(inner, group_id)
    }

    /// `inviteUserToGroup(groupID, userList)`: one result per user.
    pub async fn invite_user_to_group(
        &self,
        group_id: &str,
        users: &[String],
    ) -> Result<Vec<GroupMemberOperationResult>, TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        check_group_id(group_id)?;
        let data = inner
            .request(
                op::INVITE_USER_TO_GROUP,
                json!({ "groupID": group_id, "userList": users }),
            )
            .await?;
        decode_list(
            op::INVITE_USER_TO_GROUP,
            data,
            &["resultList", "results", "memberList"],
        )
    }

    /// `kickGroupMember(groupID, memberList, reason)`.
    pub async fn kick_group_member(
        &self,
        group_id: &str,
        members: &[String],
        reason: &str,
    ) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        check_group_id(group_id)?;
        inner
            .request(
                op::KICK_GROUP_MEMBER,
                json!({ "groupID": group_id, "memberList": members, "reason": reason }),
            )
            .await?;
        Ok(())
    }

    /// `muteGroupMember`: owner/admin only; `seconds` 0 unmutes. A muted member's sends
    /// are refused with 10017 until then.
    pub async fn mute_group_member(
        &self,
        group_id: &str,
        user_id: &str,
        seconds: u32,
    ) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        check_group_id(group_id)?;
        let params = crate::protocol::MuteGroupMemberParams {
            group_id: group_id.to_string(),
            user_id: user_id.to_string(),
            seconds,
        };
        inner
            .request(
                op::MUTE_GROUP_MEMBER,
                serde_json::to_value(params).unwrap_or_default(),
            )
            .await?;
        Ok(())
    }

    /// `setGroupMemberRole`: owner only; `role` is `role::ADMIN` or `role::MEMBER`.
    pub async fn set_group_member_role(
        &self,
        group_id: &str,
        user_id: &str,
        role: u32,
    ) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        check_group_id(group_id)?;
        let params = crate::protocol::SetGroupMemberRoleParams {
            group_id: group_id.to_string(),
            user_id: user_id.to_string(),
            role,
        };
        inner
            .request(
                op::SET_GROUP_MEMBER_ROLE,
                serde_json::to_value(params).unwrap_or_default(),
            )
            .await?;
        Ok(())
    }

    /// `getJoinedGroupList`.
    pub async fn get_joined_group_list(&self) -> Result<Vec<GroupInfo>, TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        let data = inner.request(op::GET_JOINED_GROUP_LIST, json!({})).await?;
        decode_list(
            op::GET_JOINED_GROUP_LIST,
            data,
            &["groupList", "groupInfoList"],
        )
    }

    /// `getGroupsInfo(groupIDList)`: the groups the server could describe, in request
    /// order. Items the server refused (per-item result code: no such group, not a member
    /// of a Work group, …) are left out.
    pub async fn get_groups_info(&self, group_ids: &[String]) -> Result<Vec<GroupInfo>, TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        let data = inner
            .request(op::GET_GROUPS_INFO, json!({ "groupIDList": group_ids }))
            .await?;
        let items: Vec<GroupInfoResult> =
            decode_list(op::GET_GROUPS_INFO, data, &["groupInfoList", "resultList"])?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if item.result_code == 0
                && let Some(info) = item.group_info
            {
                out.push(info);
            }
        }
        Ok(out)
    }

    /// `getGroupMemberList(groupID, filter, nextSeq, count)`: one page; `next_seq` "0" = done.
    pub async fn get_group_member_list(
        &self,
        group_id: &str,
        filter: u32,
        next_seq: &str,
        count: u32,
    ) -> Result<GroupMemberInfoResult, TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        check_group_id(group_id)?;
        let data = inner
            .request(
                op::GET_GROUP_MEMBER_LIST,
                json!({
                    "groupID": group_id,
                    "filter": filter,
                    "nextSeq": if next_seq.is_empty() { "0" } else { next_seq },
                    "count": count,
                }),
            )
            .await?;
        decode(op::GET_GROUP_MEMBER_LIST, data)
    }
}
