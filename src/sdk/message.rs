//! Messages: create (stored locally, unsent), send (with every V2TIM per-send option) and
//! history (cache first).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::cache::{self, Direction, OrderKey, now_secs};
use super::error::TimError;
use super::session;
use super::transport::REQUEST_TIMEOUT;
use super::{ConnectionState, HistoryGetType, HistoryOptions, Inner, SendParams, Tim, TimEvent};
use crate::model::{
    CreateInfo, CustomElem, Elem, Message, MessageStatus, TextElem, is_valid_group_id,
    is_valid_user_id, limits,
};
use crate::protocol::{
    GetHistoryParams, MessageListResult, SendMessageParams, SendMessageResult, codes, get_type, op,
};

/// A send keeps trying (across reconnects, with the same creation id, which the server
/// deduplicates) for this long before the message is marked failed.
const SEND_DEADLINE: Duration = Duration::from_secs(30);
/// Pause after a transport failure before waiting for the next connection.
const SEND_RETRY_PAUSE: Duration = Duration::from_millis(100);

fn new_creation_id() -> String {
    format!(
        "created_temp_id-{:016x}{:08x}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

/// Removes a creation id from the in-flight set when the send ends, however it ends.
struct InFlight<'a> {
    inner: &'a Inner,
    id: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl Tim {
    fn create(&self, elem: Elem) -> Result<CreateInfo, TimError> {
        self.inner.check_logged_in()?;
        let mut msg = Message {
            id: new_creation_id(),
            sender: self.inner.me.clone(),
            timestamp: now_secs(),
            status: MessageStatus::Sending,
            is_self: true,
            random: rand::random::<u32>(),
            ..Default::default()
        };
        msg.set_elem(elem);
        self.inner.cache.insert_created(&msg)?;
        Ok(CreateInfo {
            id: msg.id.clone(),
            message_info: msg,
        })
    }

    /// `createTextMessage`: a text message, kept locally until `send_message`.
    pub fn create_text_message(&self, text: &str) -> Result<CreateInfo, TimError> {
        self.create(Elem::Text(TextElem {
            text: text.to_string(),
        }))
    }

    /// `createCustomMessage(data, desc, extension)`.
    pub fn create_custom_message(
        &self,
        data: &str,
        desc: &str,
        extension: &str,
    ) -> Result<CreateInfo, TimError> {
        self.create(Elem::Custom(CustomElem {
            data: data.to_string(),
            desc: desc.to_string(),
            extension: extension.to_string(),
        }))
    }

    /// `createTargetedGroupMessage(id, receiverList)`: a new created message with the same
    /// content, delivered only to the listed group members when sent to a group. Fails
    /// (6017) if the original carries an @ list, is unknown or already sent, or the list is
    /// empty, has an invalid id or more than 50 receivers.
    pub fn create_targeted_group_message(
        &self,
        id: &str,
        receiver_list: &[String],
    ) -> Result<CreateInfo, TimError> {
        self.inner.check_logged_in()?;
        let Some(original) = self.inner.cache.find_own(id)? else {
            return Err(TimError::invalid(format!(
                "no created message with id {id}"
            )));
        };
        if !original.msg_id.is_empty() {
            return Err(TimError::invalid("the message was already sent"));
        }
        if !original.group_at_user_list.is_empty() {
            return Err(TimError::invalid(
                "a message with an @ list cannot be made a targeted group message",
            ));
        }
        let mut receivers: Vec<String> = Vec::with_capacity(receiver_list.len());
        for r in receiver_list {
            if !is_valid_user_id(r) {
                return Err(TimError::invalid(format!("invalid receiver id {r:?}")));
            }
            if !receivers.contains(r) {
                receivers.push(r.clone());
            }
        }
        if receivers.is_empty() {
            return Err(TimError::invalid("the receiver list is empty"));
        }
        if receivers.len() > limits::TARGETED_RECEIVERS_MAX {
            return Err(TimError::invalid(format!(
                "{} receivers; a targeted group message may have at most {}",
                receivers.len(),
                limits::TARGETED_RECEIVERS_MAX
            )));
        }
        let mut msg = original;
        msg.id = new_creation_id();
        msg.timestamp = now_secs();
        msg.status = MessageStatus::Sending;
        msg.random = rand::random::<u32>();
        msg.target_group_member_list = receivers;
        self.inner.cache.insert_created(&msg)?;
        Ok(CreateInfo {
            id: msg.id.clone(),
            message_info: msg,
        })
    }

    /// `sendMessage`: send a created message with every per-send option. Resolves with the
    /// stored message (status 2, server msgID/seq/timestamp) or fails with the V2TIM code;
    /// `MessageUpdated` is emitted for *sending* and again for *sent* / *failed*.
    pub async fn send_message(&self, params: SendParams) -> Result<Message, TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        let Some(mut msg) = inner.cache.find_own(&params.id)? else {
            return Err(TimError::invalid(format!(
                "no created message with id {:?}",
                params.id
            )));
        };
        if msg.status == MessageStatus::SendSucc {
            // Already stored on the server (its ack may have been missed and a sync, or
            // another process of this user, brought it): that is the answer, and every
            // screen that still shows it failed learns it was sent.
            cache::normalize(&inner.me, &mut msg);
            inner.events.emit(TimEvent::MessageUpdated(msg.clone()));
            return Ok(msg);
        }
        let targeted = !msg.target_group_member_list.is_empty();
        if params.receiver.is_empty() && params.group_id.is_empty() {
            return Err(TimError::invalid("neither receiver nor groupID is given"));
        }
        if !params.receiver.is_empty() && !is_valid_user_id(&params.receiver) {
            return Err(TimError::invalid(format!(
                "invalid receiver {:?}",
                params.receiver
            )));
        }
        if !params.group_id.is_empty() && !is_valid_group_id(&params.group_id) {
            return Err(TimError::invalid(format!(
                "invalid groupID {:?}",
                params.group_id
            )));
        }
        if targeted && params.group_id.is_empty() {
            return Err(TimError::invalid(
                "a targeted group message must be sent to a group (groupID)",
            ));
        }
        if targeted && !params.receiver.is_empty() {
            return Err(TimError::invalid(
                "a targeted group message takes its receivers from create_targeted_group_message; leave receiver empty",
            ));
        }

        msg.priority = params.priority;
        msg.is_online_only = params.online_user_only;
        msg.offline_push_info = params.offline_push_info.clone();
        msg.need_read_receipt = params.need_read_receipt;
        msg.is_excluded_from_unread_count = params.is_excluded_from_unread_count;
        msg.is_excluded_from_last_message = params.is_excluded_from_last_message;
        msg.is_support_message_extension = params.is_support_message_extension;
        if let Some(cloud) = &params.cloud_custom_data {
            msg.cloud_custom_data = Some(cloud.clone());
        }
        if let Some(local) = &params.local_custom_data {
            msg.local_custom_data = Some(local.clone());
        }
        msg.sender = inner.me.clone();
        if params.group_id.is_empty() {
            msg.receiver = Some(params.receiver.clone());
            msg.group_id = None;
        } else {
            msg.group_id = Some(params.group_id.clone());
            msg.receiver = (!params.receiver.is_empty()).then(|| params.receiver.clone());
        }
        let body = msg.body_len();
        if body > limits::MESSAGE_BODY_MAX {
            return Err(TimError::new(
                codes::ERR_SDK_MSG_BODY_SIZE_LIMIT,
                format!(
                    "message body (content + cloudCustomData) is {body} bytes; the limit is {} bytes",
                    limits::MESSAGE_BODY_MAX
                ),
            ));
        }

        {
            let mut flying = inner.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            if !flying.insert(msg.id.clone()) {
                return Err(TimError::invalid("this message is already being sent"));
            }
        }
        let _guard = InFlight {
            inner,
            id: msg.id.clone(),
        };

        let wire = SendMessageParams {
            id: msg.id.clone(),
            receiver: params.receiver.clone(),
            group_id: params.group_id.clone(),
            elem_type: msg.elem_type,
            text_elem: msg.text_elem.clone(),
            custom_elem: msg.custom_elem.clone(),
            group_at_user_list: msg.group_at_user_list.clone(),
            target_group_member_list: msg.target_group_member_list.clone(),
            priority: msg.priority,
            online_user_only: msg.is_online_only,
            offline_push_info: msg.offline_push_info.clone(),
            is_excluded_from_unread_count: msg.is_excluded_from_unread_count,
            is_excluded_from_last_message: msg.is_excluded_from_last_message,
            is_support_message_extension: msg.is_support_message_extension,
            need_read_receipt: msg.need_read_receipt,
            cloud_custom_data: msg.cloud_custom_data.clone(),
            random: msg.random,
        };
        if msg.group_id.is_some() && msg.receiver.is_some() && !targeted {
            // Targeted to one member (receiver + groupID): shown as targeted here too.
            msg.target_group_member_list = vec![params.receiver.clone()];
        }
        let sending = if msg.is_online_only {
            // Online-only messages never enter a conversation, not even here.
            cache::normalize(&inner.me, &mut msg);
            msg.status = MessageStatus::Sending;
            msg.clone()
        } else {
            inner.cache.mark_sending(&msg)?
        };
        inner.events.emit(TimEvent::MessageUpdated(sending));

        let params_json = serde_json::to_value(&wire).unwrap_or_default();
        match send_with_retry(inner, params_json).await {
            Ok(data) => {
                let result: SendMessageResult = match serde_json::from_value(data) {
                    Ok(r) => r,
                    Err(e) => {
                        let err = TimError::bad_response(op::SEND_MESSAGE, e);
                        fail_send(inner, &msg.id);
                        return Err(err);
                    }
                };
                if let Some(pos) = result.cursor {
                    inner.stream().remember_ack(&result.message.msg_id, pos);
                }
                let server_copy = result.message.clone();
                match inner
                    .cache
                    .complete_send(&msg.id, result.message, result.cursor)
                {
                    Ok(outcome) => {
                        inner
                            .events
                            .emit(TimEvent::MessageUpdated(outcome.message.clone()));
                        if let Some(change) = outcome.conversation {
                            session::learn_new_conversations(
                                &self.inner,
                                std::slice::from_ref(&change),
                            );
                            inner.emit_changes(vec![change]);
                        }
                        Ok(outcome.message)
                    }
                    Err(e) => {
                        // The server stored it: that is the answer. The cache catches up
                        // with the next sync (which reconciles the row by its id).
                        tracing::warn!(error = %e, "sent, but the cache could not record it");
                        let mut sent = server_copy;
                        cache::normalize(&inner.me, &mut sent);
                        sent.status = MessageStatus::SendSucc;
                        sent.id = msg.id.clone();
                        sent.local_custom_data = msg.local_custom_data.clone();
                        inner.events.emit(TimEvent::MessageUpdated(sent.clone()));
                        Ok(sent)
                    }
                }
            }
            Err(err) => match fail_send(inner, &msg.id) {
                // Stored after all (a sync or another process brought the server's copy).
                Some(sent) => Ok(sent),
                None => Err(err),
            },
        }
    }

    /// `getHistoryMessageList` (reference §3.9). Local types read the cache only. Cloud
    /// types answer from the cache when it holds the page without a hole (seqs are dense
    /// per conversation), else ask the server, store what it returns, and answer with it
    /// (plus this device's unsent messages in that range). Offline, cloud types fall back
    /// to the cache.
    pub async fn get_history_message_list(
        &self,
        opts: HistoryOptions,
    ) -> Result<MessageListResult, TimError> {
        let inner = &self.inner;
        inner.check_logged_in()?;
        if crate::model::ConversationId::parse(&opts.conversation_id).is_none() {
            return Err(TimError::invalid(format!(
                "invalid conversation id {:?}",
                opts.conversation_id
            )));
        }
        if opts.count == 0 {
            return Err(TimError::invalid("count must be at least 1"));
        }
        let count = opts.count.min(limits::PAGE_MAX as u32);
        let conv = opts.conversation_id.as_str();
        let (dir, cloud) = match opts.get_type {
            HistoryGetType::CloudOlder => (Direction::Older, true),
            HistoryGetType::CloudNewer => (Direction::Newer, true),
            HistoryGetType::LocalOlder => (Direction::Older, false),
            HistoryGetType::LocalNewer => (Direction::Newer, false),
        };

        // Where the page starts, locally, and what the first stored seq must be.
        let mut server_start = Start::None;
        let (from, expected_first) = if let Some(id) = opts.last_msg_id.as_deref() {
            match inner.cache.position(conv, id)? {
                Some(pos) => {
                    let expected = match (dir, pos.seq) {
                        (Direction::Older, 0) => pos.key.seq.max(0) as u64,
                        (Direction::Older, s) => s - 1,
                        (Direction::Newer, 0) => pos.key.seq.max(0) as u64 + 1,
                        (Direction::Newer, s) => s + 1,
                    };
                    server_start = if pos.seq > 0 {
                        Start::MsgId(id.to_string())
                    } else {
                        Start::Seq(expected)
                    };
                    (pos.key, Some(expected))
                }
                None if cloud => {
                    return fetch_from_server(
                        inner,
                        conv,
                        dir,
                        count,
                        Start::MsgId(id.to_string()),
                        None,
                    )
                    .await;
                }
                None => {
                    return Err(TimError::invalid(format!(
                        "message {id} is not in this device's history of {conv}"
                    )));
                }
            }
        } else if let Some(seq) = opts.last_msg_seq {
            server_start = Start::Seq(seq);
            match dir {
                Direction::Older => (
                    OrderKey {
                        seq: seq as i64,
                        sub: 1,
                    },
                    Some(seq),
                ),
                Direction::Newer => (
                    OrderKey {
                        seq: seq as i64,
                        sub: -1,
                    },
                    Some(seq),
                ),
            }
        } else {
            match dir {
                Direction::Older => (OrderKey::NEWEST, None),
                Direction::Newer => (OrderKey::OLDEST, Some(1)),
            }
        };

        let page = inner.cache.page(conv, dir, from, count)?;
        if !cloud {
            return Ok(MessageListResult {
                is_finished: (page.len() as u32) < count,
                message_list: page,
            });
        }
        let synced = inner.synced.load(std::sync::atomic::Ordering::SeqCst);
        if let Some(is_finished) = page_verdict(dir, expected_first, &page, count, synced) {
            return Ok(MessageListResult {
                is_finished,
                message_list: page,
            });
        }
        if inner.state() != ConnectionState::Connected {
            return Ok(MessageListResult {
                is_finished: (page.len() as u32) < count,
                message_list: page,
            });
        }
        if dir == Direction::Older && matches!(server_start, Start::Seq(0)) {
            // Nothing is older than the first message on the server.
            return Ok(MessageListResult {
                is_finished: true,
                message_list: page,
            });
        }
        fetch_from_server(inner, conv, dir, count, server_start, Some(from)).await
    }
}

/// Where a server history request starts.
enum Start {
    None,
    /// Exclusive.
    MsgId(String),
    /// Inclusive.
    Seq(u64),
}

/// Mark one of my messages failed and say so.
/// Record a failed send and announce it. If the cache meanwhile holds the server's copy
/// (the message was stored after all), that is announced instead and returned.
fn fail_send(inner: &Inner, local_id: &str) -> Option<Message> {
    match inner.cache.mark_failed(local_id) {
        Ok(Some(mut m)) => {
            cache::normalize(&inner.me, &mut m);
            inner.events.emit(TimEvent::MessageUpdated(m.clone()));
            (m.status == MessageStatus::SendSucc).then_some(m)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "could not record a failed send");
            None
        }
    }
}

/// `sendMessage` with retries: while the session reconnects, wait for it and resend the
/// same request (the creation id makes the retry idempotent), up to `SEND_DEADLINE`.
async fn send_with_retry(inner: &Inner, params: Value) -> Result<Value, TimError> {
    let deadline = Instant::now() + SEND_DEADLINE;
    let mut state = inner.state.subscribe();
    let mut last_err = TimError::disconnected();
    loop {
        inner.check_logged_in()?;
        // Wait for a logged-in connection.
        while *state.borrow_and_update() != ConnectionState::Connected {
            inner.check_logged_in()?;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(last_err);
            }
            match tokio::time::timeout(left, state.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(TimError::not_logged_in()),
                Err(_) => return Err(last_err),
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(last_err);
        }
        match inner
            .transport
            .request(op::SEND_MESSAGE, params.clone(), REQUEST_TIMEOUT.min(left))
            .await
        {
            Err(e) if e.is_network() => {
                tracing::debug!(error = %e, "send interrupted; retrying after reconnect");
                last_err = e;
                tokio::time::sleep(SEND_RETRY_PAUSE).await;
            }
            other => return other,
        }
    }
}

/// Decide whether a page read from the cache is exactly what the server would return.
/// `Some(is_finished)` if so, `None` if the cache may be missing messages in it.
///
/// `expected_first` is the seq the first stored message must have (None: "the newest",
/// which the cache knows only while `synced`). Stored seqs must then run without a hole.
pub(crate) fn page_verdict(
    dir: Direction,
    expected_first: Option<u64>,
    page: &[Message],
    count: u32,
    synced: bool,
) -> Option<bool> {
    let full = page.len() as u32 >= count;
    let mut seqs = page.iter().filter(|m| m.seq > 0).map(|m| m.seq);
    match dir {
        Direction::Older => {
            let mut expect = match expected_first {
                Some(s) => s,
                None if synced => page.iter().find(|m| m.seq > 0).map_or(0, |m| m.seq),
                None => return None,
            };
            for s in seqs.by_ref() {
                if s != expect {
                    return None;
                }
                expect = s - 1;
            }
            if expect == 0 {
                Some(true)
            } else if full {
                Some(false)
            } else {
                None
            }
        }
        Direction::Newer => {
            let mut expect = expected_first.unwrap_or(1);
            for s in seqs.by_ref() {
                if s != expect {
                    return None;
                }
                expect = s + 1;
            }
            if full {
                Some(false)
            } else if synced {
                Some(true)
            } else {
                None
            }
        }
    }
}

/// Ask the server for a history page, store it, and answer with the cache's view of the
/// range it covers (so local unsent messages in that range are included).
async fn fetch_from_server(
    inner: &Inner,
    conv: &str,
    dir: Direction,
    count: u32,
    start: Start,
    local_from: Option<OrderKey>,
) -> Result<MessageListResult, TimError> {
    let mut params = GetHistoryParams {
        conversation_id: conv.to_string(),
        get_type: match dir {
            Direction::Older => get_type::CLOUD_OLDER,
            Direction::Newer => get_type::CLOUD_NEWER,
        },
        count,
        last_msg_id: None,
        last_msg_seq: None,
    };
    match start {
        Start::None => {}
        Start::MsgId(id) => params.last_msg_id = Some(id),
        Start::Seq(s) => params.last_msg_seq = Some(s),
    }
    let data = inner
        .request(
            op::GET_HISTORY_MESSAGE_LIST,
            serde_json::to_value(&params).unwrap_or_default(),
        )
        .await?;
    let result: MessageListResult = serde_json::from_value(data)
        .map_err(|e| TimError::bad_response(op::GET_HISTORY_MESSAGE_LIST, e))?;
    let is_finished = result.is_finished;
    let stored = inner.cache.store_remote(result.message_list, None)?;
    let Some(from) = local_from else {
        // The start message is not on this device: answer with the server's page as stored.
        return Ok(MessageListResult {
            is_finished,
            message_list: stored.into_iter().map(|s| s.message).collect(),
        });
    };
    let to = match dir {
        Direction::Older => match stored.iter().map(|s| s.message.seq).min() {
            _ if is_finished => OrderKey::OLDEST,
            Some(min) => OrderKey {
                seq: min as i64,
                sub: 0,
            },
            None => from,
        },
        Direction::Newer => match stored.iter().map(|s| s.message.seq).max() {
            _ if is_finished => OrderKey::NEWEST,
            Some(max) => OrderKey {
                seq: max as i64,
                sub: 0,
            },
            None => from,
        },
    };
    let message_list = if to == from {
        Vec::new()
    } else {
        inner.cache.range(conv, dir, from, to)?
    };
    Ok(MessageListResult {
        is_finished,
        message_list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(list: &[u64]) -> Vec<Message> {
        list.iter()
            .map(|&seq| Message {
                seq,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn older_pages_must_be_dense_from_the_start() {
        let page = seqs(&[9, 8, 7]);
        assert_eq!(
            page_verdict(Direction::Older, Some(9), &page, 3, false),
            Some(false)
        );
        assert_eq!(
            page_verdict(Direction::Older, Some(10), &page, 3, false),
            None
        );
        // A hole (a targeted message for someone else, or never fetched).
        assert_eq!(
            page_verdict(Direction::Older, Some(9), &seqs(&[9, 7, 6]), 3, true),
            None
        );
        // Reaching seq 1 finishes, full or not.
        assert_eq!(
            page_verdict(Direction::Older, Some(2), &seqs(&[2, 1]), 5, false),
            Some(true)
        );
        // Short page that doesn't reach 1: the cache may lack older ones.
        assert_eq!(
            page_verdict(Direction::Older, Some(5), &seqs(&[5, 4]), 5, true),
            None
        );
        // From the newest: only trusted once synced.
        assert_eq!(page_verdict(Direction::Older, None, &page, 3, false), None);
        assert_eq!(
            page_verdict(Direction::Older, None, &page, 3, true),
            Some(false)
        );
        assert_eq!(
            page_verdict(Direction::Older, None, &[], 3, true),
            Some(true)
        );
        // Unsent messages (seq 0) don't break density.
        assert_eq!(
            page_verdict(Direction::Older, None, &seqs(&[0, 3, 2, 1]), 4, true),
            Some(true)
        );
    }

    #[test]
    fn newer_pages_are_final_only_when_synced() {
        assert_eq!(
            page_verdict(Direction::Newer, Some(1), &seqs(&[1, 2, 3]), 3, false),
            Some(false)
        );
        assert_eq!(
            page_verdict(Direction::Newer, Some(2), &seqs(&[1, 2, 3]), 3, false),
            None
        );
        assert_eq!(
            page_verdict(Direction::Newer, Some(4), &seqs(&[4, 5]), 3, false),
            None
        );
        assert_eq!(
            page_verdict(Direction::Newer, Some(4), &seqs(&[4, 5]), 3, true),
            Some(true)
        );
        assert_eq!(
            page_verdict(Direction::Newer, Some(4), &seqs(&[4, 6]), 3, true),
            None
        );
    }

    #[test]
    fn creation_ids_look_like_v2tim_ones_and_differ() {
        let a = new_creation_id();
        let b = new_creation_id();
        assert!(a.starts_with("created_temp_id-"));
        assert_ne!(a, b);
    }
}
