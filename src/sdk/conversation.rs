//! Conversations: the list and getters read the cache (one query); changes go to the server
//! and the server's answer is written back. Drafts are local only.

use serde_json::{Value, json};

use super::error::TimError;
use super::session;
use super::{Tim, TimEvent};
use crate::model::{
    Conversation, ConversationId, ConversationOperationResult, ConversationResult, limits,
};
use crate::protocol::op;

fn check_id(conversation_id: &str) -> Result<(), TimError> {
    if ConversationId::parse(conversation_id).is_none() {
        return Err(TimError::invalid(format!(
            "invalid conversation id {conversation_id:?} (expected c2c_<userID> or group_<groupID>)"
        )));
    }
    Ok(())
}

/// Accept a list either bare or wrapped in an object under one of `keys`.
pub(crate) fn decode_list<T: serde::de::DeserializeOwned>(
    op: &str,
    data: Value,
    keys: &[&str],
) -> Result<Vec<T>, TimError> {
    let list = match data {
        Value::Array(_) => data,
        Value::Object(mut map) => match keys.iter().find_map(|k| map.remove(*k)) {
            Some(v) => v,
            None => return Err(TimError::bad_response(op, "missing result list")),
        },
        Value::Null => return Ok(Vec::new()),
        other => other,
    };
    serde_json::from_value(list).map_err(|e| TimError::bad_response(op, e))
}

impl Tim {
    /// `getConversationList(nextSeq, count)`: a page of the local list, pinned first, then by
    /// activity (`orderkey` descending). `next_seq` is "0" (or "") for the first page, then
    /// the `next_seq` of the previous result.
    pub async fn get_conversation_list(
        &self,
        next_seq: &str,
        count: u32,
    ) -> Result<ConversationResult, TimError> {
        self.inner.check_logged_in()?;
        let offset: u64 = if next_seq.is_empty() {
            0
        } else {
            next_seq
                .parse()
                .map_err(|_| TimError::invalid(format!("invalid nextSeq {next_seq:?}")))?
        };
        if count == 0 {
            return Err(TimError::invalid("count must be at least 1"));
        }
        let count = count.min(limits::PAGE_MAX as u32);
        let mut list = self.inner.cache.conversations(offset, count + 1)?;
        let is_finished = list.len() as u32 <= count;
        list.truncate(count as usize);
        let next = offset + list.len() as u64;
        Ok(ConversationResult {
            next_seq: if is_finished {
                "0".to_string()
            } else {
                next.to_string()
            },
            is_finished,
            conversation_list: list,
        })
    }

    /// `getConversation`: from the cache, else from the server (then cached).
    pub async fn get_conversation(&self, conversation_id: &str) -> Result<Conversation, TimError> {
        self.inner.check_logged_in()?;
        check_id(conversation_id)?;
        if let Some(conv) = self.inner.cache.conversation(conversation_id)? {
            return Ok(conv);
        }
        match session::refresh_conversation(&self.inner, conversation_id).await? {
            Some(conv) => Ok(conv),
            None => Err(TimError::new(
                crate::protocol::codes::ERR_INVALID_CONVERSATION,
                format!("no conversation {conversation_id}"),
            )),
        }
    }

    /// `getTotalUnreadMessageCount`: the sum over the cached conversations.
    pub async fn get_total_unread_message_count(&self) -> Result<u64, TimError> {
        self.inner.check_logged_in()?;
        self.inner.cache.total_unread()
    }

    /// `cleanConversationUnreadMessageCount(id, cleanTimestamp, cleanSequence)`: mark read up
    /// to a point (0 = everything). `""`, `"c2c"` and `"group"` clean in bulk.
    pub async fn clean_conversation_unread_message_count(
        &self,
        conversation_id: &str,
        clean_timestamp: i64,
        clean_sequence: u64,
    ) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        let bulk = matches!(conversation_id, "" | "c2c" | "group");
        if !bulk {
            check_id(conversation_id)?;
        }
        inner
            .request_idempotent(
                op::CLEAN_CONVERSATION_UNREAD_MESSAGE_COUNT,
                json!({
                    "conversationID": conversation_id,
                    "cleanTimestamp": clean_timestamp,
                    "cleanSequence": clean_sequence,
                }),
            )
            .await?;
        if bulk {
            session::refresh_conversations(inner).await
        } else {
            session::refresh_conversation(inner, conversation_id)
                .await
                .map(|_| ())
        }
    }

    /// `pinConversation`: pinned conversations come first in the list (synced to my other
    /// devices by the server).
    pub async fn pin_conversation(
        &self,
        conversation_id: &str,
        is_pinned: bool,
    ) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        check_id(conversation_id)?;
        inner
            .request_idempotent(
                op::PIN_CONVERSATION,
                json!({ "conversationID": conversation_id, "isPinned": is_pinned }),
            )
            .await?;
        session::refresh_conversation(inner, conversation_id)
            .await
            .map(|_| ())
    }

    /// `deleteConversation`: removes the conversation and its messages, on the server and
    /// in this device's cache.
    pub async fn delete_conversation(&self, conversation_id: &str) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        check_id(conversation_id)?;
        inner
            .request_idempotent(
                op::DELETE_CONVERSATION,
                json!({ "conversationID": conversation_id }),
            )
            .await?;
        let (existed, total) = inner.cache.delete_conversation(conversation_id)?;
        if existed {
            inner.events.emit(TimEvent::ConversationDeleted(vec![
                conversation_id.to_string(),
            ]));
        }
        if let Some(total) = total {
            inner.events.emit(TimEvent::TotalUnreadChanged(total));
        }
        Ok(())
    }

    /// `setConversationDraft`: local only (never sent, survives restarts of this device's
    /// SDK). `None` or `""` clears it. A conversation not known yet is created locally.
    pub async fn set_conversation_draft(
        &self,
        conversation_id: &str,
        draft_text: Option<&str>,
    ) -> Result<(), TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        check_id(conversation_id)?;
        let change = inner.cache.set_draft(conversation_id, draft_text)?;
        inner.emit_changes(vec![change]);
        Ok(())
    }

    /// `setConversationCustomData(customData, conversationIDList)`: one result per
    /// conversation, as the server decided it (≤ 256 bytes, ≤ 100 ids). Successful ones are
    /// refreshed here; my other devices learn it by push.
    pub async fn set_conversation_custom_data(
        &self,
        conversation_ids: &[String],
        custom_data: &str,
    ) -> Result<Vec<ConversationOperationResult>, TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        if conversation_ids.is_empty() {
            return Err(TimError::invalid("the conversation list is empty"));
        }
        let data = inner
            .request_idempotent(
                op::SET_CONVERSATION_CUSTOM_DATA,
                json!({ "conversationIDList": conversation_ids, "customData": custom_data }),
            )
            .await?;
        let results: Vec<ConversationOperationResult> = decode_list(
            op::SET_CONVERSATION_CUSTOM_DATA,
            data,
            &["resultList", "results", "conversationOperationResultList"],
        )?;
        let mut changed = Vec::new();
        for r in results.iter().filter(|r| r.result_code == 0) {
            match inner
                .cache
                .set_custom_data(&r.conversation_id, custom_data)?
            {
                Some(Some(conv)) => changed.push(conv),
                Some(None) => {}
                None => {
                    // Not on this device yet: learn it from the server.
                    let _ = session::refresh_conversation(inner, &r.conversation_id).await;
                }
            }
        }
        if !changed.is_empty() {
            inner.events.emit(TimEvent::ConversationChanged(changed));
        }
        Ok(results)
    }
}
