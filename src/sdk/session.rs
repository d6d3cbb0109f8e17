//! The session task: keeps one logged-in connection alive for a `Tim`.
//!
//! Per connection: log in → `sync` from the stored cursor until finished → refresh the
//! conversation list → `SyncFinished` → apply pushes in arrival order, pinging now and then.
//! When the connection drops it reconnects with jittered exponential backoff and does it
//! all again. Pushes that arrive during the sync wait in the link's queue; since the server
//! registers the connection for pushes before answering the login, sync + queued pushes
//! cover everything (duplicates are dropped by msgID).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use super::cache::ConvChange;
use super::error::TimError;
use super::transport::{Backoff, Link, REQUEST_TIMEOUT, Transport};
use super::{ConnectionState, Inner, TimEvent};
use crate::model::{ConversationResult, MessageStatus, limits};
use crate::protocol::{
    ConversationDeletedPush, ConversationListPush, GroupEventPush, LoginParams, LoginResult,
    NewMessagePush, Push, SyncParams, SyncResult, codes, op, push,
};

/// How often an idle connection is pinged.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(20);
/// A ping not answered within this is a dead connection.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);
/// Conversations per `getConversationList` page during the refresh.
const CONVERSATION_PAGE: u32 = 100;

fn decode<T: serde::de::DeserializeOwned>(op: &str, data: Value) -> Result<T, TimError> {
    serde_json::from_value(data).map_err(|e| TimError::bad_response(op, e))
}

/// Connect and log in (the first frame on every connection).
pub(crate) async fn establish(inner: &Inner) -> Result<Link, TimError> {
    let link = inner.transport.connect().await?;
    let params = LoginParams {
        user_id: inner.me.clone(),
        user_sig: inner.user_sig(),
    };
    let answer = inner
        .transport
        .request(
            op::LOGIN,
            serde_json::to_value(params).unwrap_or_default(),
            REQUEST_TIMEOUT,
        )
        .await
        .and_then(|data| decode::<LoginResult>(op::LOGIN, data))
        .and_then(|result| {
            // A cursor beyond the server's newest means the server's store was replaced:
            // start over rather than miss everything it will store from now on.
            if inner.cache.cursor()? > result.cursor {
                inner.cache.set_cursor(0)?;
            }
            let mut stream = inner.stream();
            if stream.announced > result.cursor {
                *stream = super::Stream::default();
            }
            Ok(())
        });
    match answer {
        Ok(()) => Ok(link),
        Err(e) => {
            inner.transport.kill(link.id);
            Err(e)
        }
    }
}

/// The session loop; returns after logout, a kick or a refused re-login.
pub(crate) async fn run(inner: Arc<Inner>, first: Option<Link>) {
    let mut shutdown = inner.shutdown.subscribe();
    let mut backoff = Backoff::default();
    // `None`: opened without waiting for the server (`Tim::open`); connect now.
    let mut next = first;
    loop {
        if *shutdown.borrow() || inner.logged_out.load(Ordering::SeqCst) {
            break;
        }
        let link = match next.take() {
            Some(link) => link,
            None => {
                inner.set_state(ConnectionState::Connecting);
                let sig_used = inner.user_sig();
                let attempt = tokio::select! {
                    r = establish(&inner) => r,
                    _ = shutdown.changed() => break,
                };
                match attempt {
                    Ok(link) => link,
                    Err(e) if e.is_sig_expired() => {
                        // V2TIM's onUserSigExpired: wait for a new sig (renew_user_sig).
                        tracing::info!(error = %e, "UserSig expired; waiting for a new one");
                        inner.set_state(ConnectionState::Disconnected);
                        let renewed = inner.sig_renewed.notified();
                        tokio::pin!(renewed);
                        renewed.as_mut().enable();
                        if inner.user_sig() != sig_used {
                            continue; // a new one came while this login was on its way
                        }
                        inner.sig_expired();
                        tokio::select! {
                            _ = renewed => continue,
                            _ = shutdown.changed() => break,
                        }
                    }
                    Err(e) if e.is_auth() => {
                        tracing::warn!(error = %e, "re-login refused; giving up");
                        inner.logged_out.store(true, Ordering::SeqCst);
                        inner.set_state(ConnectionState::LoggedOut);
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "reconnect failed");
                        inner.set_state(ConnectionState::Disconnected);
                        inner.events.emit(TimEvent::ConnectFailed(e));
                        let delay = backoff.next_delay();
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => continue,
                            _ = shutdown.changed() => break,
                        }
                    }
                }
            }
        };
        inner.set_state(ConnectionState::Connected);
        let link_id = link.id;
        let synced = tokio::select! {
            synced = drive(&inner, link) => synced,
            _ = shutdown.changed() => {
                inner.transport.kill(link_id);
                break;
            }
        };
        inner.synced.store(false, Ordering::SeqCst);
        inner.transport.kill(link_id);
        if inner.logged_out.load(Ordering::SeqCst) {
            break;
        }
        if synced {
            backoff.reset();
        }
        inner.set_state(ConnectionState::Disconnected);
        let delay = backoff.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => break,
        }
    }
    inner.synced.store(false, Ordering::SeqCst);
    if inner.logged_out.load(Ordering::SeqCst) {
        inner.set_state(ConnectionState::LoggedOut);
    }
}

/// Serve one logged-in connection until it ends. Returns whether the sync finished.
async fn drive(inner: &Arc<Inner>, mut link: Link) -> bool {
    let _heartbeat = spawn_heartbeat(Arc::clone(&inner.transport), link.id);
    if let Err(e) = sync_messages(inner).await {
        tracing::debug!(error = %e, "sync failed");
        return false;
    }
    if let Err(e) = refresh_conversations(inner).await {
        tracing::debug!(error = %e, "conversation refresh failed");
        return false;
    }
    // The settled total, always: whatever was shown while syncing, this is the truth.
    match inner.cache.total_unread() {
        Ok(total) => inner.events.emit(TimEvent::TotalUnreadChanged(total)),
        Err(e) => tracing::warn!(error = %e, "total unread not read"),
    }
    inner.synced.store(true, Ordering::SeqCst);
    inner.sync_done.notify_waiters();
    inner.events.emit(TimEvent::SyncFinished);

    loop {
        let next = tokio::select! {
            p = link.pushes.recv() => p,
            _ = inner.resync.notified() => {
                // A renewed sig: the server pushed nothing while it was expired.
                if let Err(e) = catch_up(inner).await {
                    tracing::warn!(error = %e, "catching up after a renewed UserSig failed; reconnecting");
                    return true;
                }
                continue;
            }
        };
        match next {
            Some(p) => {
                let name = p.push.clone();
                if let Err(e) = apply_push(inner, p) {
                    // Never forgotten: what the push carried comes again from the stream.
                    tracing::warn!(push = %name, error = %e, "push not applied; syncing again");
                    if let Err(e) = sync_messages(inner).await {
                        tracing::warn!(error = %e, "sync after a failed push failed; reconnecting");
                        return true;
                    }
                    if name != push::NEW_MESSAGE
                        && let Err(e) = refresh_conversations(inner).await
                    {
                        tracing::warn!(error = %e, "conversation refresh failed; reconnecting");
                        return true;
                    }
                }
                if inner.logged_out.load(Ordering::SeqCst) {
                    return true;
                }
            }
            None => return true,
        }
    }
}

/// Aborts a task when dropped (the heartbeat ends with its connection's `drive`).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Ping the server every `HEARTBEAT_INTERVAL`; a ping left unanswered for
/// `HEARTBEAT_TIMEOUT` means a dead connection, which is closed (the session reconnects).
fn spawn_heartbeat(transport: Arc<Transport>, link_id: u64) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT_INTERVAL).await;
            let ping = transport
                .request(op::PING, serde_json::json!({}), HEARTBEAT_TIMEOUT)
                .await;
            match ping {
                Err(e) if e.code == codes::ERR_SDK_NET_WAIT_ACK_TIMEOUT => {
                    tracing::debug!("heartbeat unanswered; reconnecting");
                    transport.kill(link_id);
                    return;
                }
                Err(e) if e.code == codes::ERR_SDK_NET_DISCONNECT => return,
                _ => {}
            }
        }
    }))
}

/// Pull everything after this process's stream position, page by page, into the cache,
/// announcing each message (once: my own sends acked here were announced already). The
/// next page is asked for as soon as a page arrives, so the server reads it while this
/// side stores the last one.
async fn sync_messages(inner: &Inner) -> Result<(), TimError> {
    let fetch = |cursor: u64| {
        let transport = Arc::clone(&inner.transport);
        tokio::spawn(async move {
            let params = SyncParams {
                cursor,
                count: limits::PAGE_MAX as u32,
            };
            transport
                .request_as::<SyncResult>(
                    op::SYNC,
                    serde_json::to_value(params).unwrap_or_default(),
                    REQUEST_TIMEOUT,
                )
                .await
        })
    };
    let mut cursor = inner.stream().announced;
    let mut pending = Some(fetch(cursor));
    while let Some(request) = pending.take() {
        let page = request
            .await
            .map_err(|e| TimError::new(codes::ERR_SDK_INTERNAL_ERROR, e.to_string()))??;
        if !page.is_finished && page.cursor > cursor {
            pending = Some(fetch(page.cursor));
        }
        let stored = inner
            .cache
            .store_remote(page.message_list, Some(page.cursor))?;
        let fresh: Vec<_> = {
            let mut stream = inner.stream();
            let fresh = stored
                .into_iter()
                .filter(|s| !stream.acked.contains_key(&s.message.msg_id))
                .collect();
            stream.advance(page.cursor);
            fresh
        };
        for s in fresh {
            announce(inner, s.message, s.reconciled);
        }
        cursor = page.cursor;
    }
    Ok(())
}

/// What a connection does after a gap in its pushes: sync the messages, then the list.
async fn catch_up(inner: &Inner) -> Result<(), TimError> {
    sync_messages(inner).await?;
    refresh_conversations(inner).await
}

/// Fetch every server conversation (pages of `getConversationList`).
pub(crate) async fn fetch_all_conversations(
    inner: &Inner,
) -> Result<Vec<crate::model::Conversation>, TimError> {
    let mut all = Vec::new();
    let mut next_seq = "0".to_string();
    loop {
        let data = inner
            .transport
            .request(
                op::GET_CONVERSATION_LIST,
                serde_json::json!({ "nextSeq": next_seq, "count": CONVERSATION_PAGE }),
                REQUEST_TIMEOUT,
            )
            .await?;
        let page: ConversationResult = decode(op::GET_CONVERSATION_LIST, data)?;
        all.extend(page.conversation_list);
        if page.is_finished || page.next_seq == next_seq || page.next_seq.is_empty() {
            return Ok(all);
        }
        next_seq = page.next_seq;
    }
}

/// Replace the local conversation list with the server's (drafts stay).
pub(crate) async fn refresh_conversations(inner: &Inner) -> Result<(), TimError> {
    let cursor = inner.cache.cursor()?;
    let all = fetch_all_conversations(inner).await?;
    let outcome = inner.cache.merge_server_conversations(all, Some(cursor))?;
    inner.emit_changes(outcome.changes);
    if !outcome.deleted.is_empty() {
        inner
            .events
            .emit(TimEvent::ConversationDeleted(outcome.deleted));
    }
    if let Some(total) = outcome.total_unread {
        inner.events.emit(TimEvent::TotalUnreadChanged(total));
    }
    Ok(())
}

/// Ask the server for one conversation and take it as the truth (drafts stay).
pub(crate) async fn refresh_conversation(
    inner: &Inner,
    conversation_id: &str,
) -> Result<Option<crate::model::Conversation>, TimError> {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let before = *inner
            .push_generation
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let data = inner
            .request(
                op::GET_CONVERSATION,
                serde_json::json!({ "conversationID": conversation_id }),
            )
            .await?;
        let Some(conv) = decode_conversation(data)? else {
            return Ok(None);
        };
        // Hold the push lock from the check to the merge, so no push slips in between.
        let generation = inner
            .push_generation
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *generation != before && attempt < ATTEMPTS {
            // A push was applied while the answer was on its way: it may be newer.
            continue;
        }
        // The server describes any valid conversation, even one that never started; such a
        // blank is answered but not kept (the server does not list it either).
        let blank = conv.orderkey == 0
            && conv.last_message.is_none()
            && !conv.is_pinned
            && conv.custom_data.is_empty()
            && conv.unread_count == 0;
        if blank && inner.cache.conversation(conversation_id)?.is_none() {
            return Ok(Some(conv));
        }
        let outcome = inner.cache.merge_server_conversations(vec![conv], None)?;
        drop(generation);
        inner.emit_changes(outcome.changes);
        if let Some(total) = outcome.total_unread {
            inner.events.emit(TimEvent::TotalUnreadChanged(total));
        }
        return inner.cache.conversation(conversation_id);
    }
    unreachable!("the last attempt always returns")
}

/// `getConversation` answers `{conversationList: [conv]}` (the push shape) or a bare
/// conversation.
pub(crate) fn decode_conversation(
    data: Value,
) -> Result<Option<crate::model::Conversation>, TimError> {
    if data.get("conversationList").is_some() {
        let list: ConversationListPush = decode(op::GET_CONVERSATION, data)?;
        return Ok(list.conversation_list.into_iter().next());
    }
    if data.get("conversation").is_some() {
        return decode(op::GET_CONVERSATION, data["conversation"].clone()).map(Some);
    }
    if data.is_null() {
        return Ok(None);
    }
    decode(op::GET_CONVERSATION, data).map(Some)
}

/// A conversation appeared because of a message: learn its display name and group type
/// from the server in the background (its counters stay ours).
pub(crate) fn learn_new_conversations(inner: &Arc<Inner>, changes: &[ConvChange]) {
    for change in changes.iter().filter(|c| c.is_new) {
        let inner = Arc::clone(inner);
        let id = change.conversation.conversation_id.clone();
        tokio::spawn(async move {
            let data = inner
                .request(
                    op::GET_CONVERSATION,
                    serde_json::json!({ "conversationID": id }),
                )
                .await;
            let Ok(Ok(Some(server))) = data.map(decode_conversation) else {
                return;
            };
            if let Ok(Some(conv)) = inner.cache.merge_descriptive(&server) {
                inner.events.emit(TimEvent::ConversationChanged(vec![conv]));
            }
        });
    }
}

fn apply_push(inner: &Arc<Inner>, p: Push) -> Result<(), TimError> {
    let mut generation = inner
        .push_generation
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    *generation += 1;
    match p.push.as_str() {
        push::NEW_MESSAGE => apply_new_message(inner, p.data),
        push::CONVERSATION_CHANGED => apply_conversation_changed(inner, p.data),
        push::CONVERSATION_DELETED => apply_conversation_deleted(inner, p.data),
        push::GROUP_EVENT => apply_group_event(inner, p.data),
        push::USER_SIG_EXPIRED => {
            inner.sig_expired();
            Ok(())
        }
        push::KICKED_OFFLINE => {
            inner.logged_out.store(true, Ordering::SeqCst);
            inner.events.emit(TimEvent::KickedOffline);
            inner.set_state(ConnectionState::LoggedOut);
            Ok(())
        }
        other => {
            tracing::debug!(push = other, "unknown push ignored");
            Ok(())
        }
    }
}

fn apply_new_message(inner: &Arc<Inner>, data: Value) -> Result<(), TimError> {
    let push: NewMessagePush = match decode(push::NEW_MESSAGE, data) {
        Ok(p) => p,
        Err(e) => {
            // Not ours to heal by syncing (the same bytes would come again): skip it.
            tracing::warn!(error = %e, "undecodable newMessage push ignored");
            return Ok(());
        }
    };
    let pos = push.cursor;
    if let Some(pos) = pos {
        let stream = inner.stream();
        if pos <= stream.announced {
            // Already announced here (a sync brought it, or it was in the cache at start).
            return Ok(());
        }
    }
    let outcome = inner.cache.apply_incoming(push, true)?;
    if !outcome.inserted {
        tracing::trace!(msg_id = %outcome.message.msg_id, "already cached by another process");
    }
    if let Some(pos) = pos {
        let mut stream = inner.stream();
        let acked = stream.acked.contains_key(&outcome.message.msg_id);
        stream.advance(pos);
        if acked {
            return Ok(());
        }
    }
    announce(inner, outcome.message, outcome.reconciled);
    if let Some(change) = outcome.conversation {
        learn_new_conversations(inner, std::slice::from_ref(&change));
        inner.emit_changes(vec![change]);
    }
    if let Some(total) = outcome.total_unread {
        inner.events.emit(TimEvent::TotalUnreadChanged(total));
    }
    Ok(())
}

/// Announce a stored message new to this process. One of my own that this cache still had
/// as unsent (`was`): a send in progress here announces its own result; a message this
/// device showed as failed turns sent (`MessageUpdated`); one another process is sending
/// is new here.
fn announce(inner: &Inner, message: crate::model::Message, was: Option<MessageStatus>) {
    let sending_here = || {
        inner
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&message.id)
    };
    match was {
        Some(_) if sending_here() => {}
        Some(MessageStatus::SendFail) => inner.events.emit(TimEvent::MessageUpdated(message)),
        _ => inner.events.emit(TimEvent::NewMessage(message)),
    }
}

fn apply_conversation_changed(inner: &Arc<Inner>, data: Value) -> Result<(), TimError> {
    let list: ConversationListPush = decode(push::CONVERSATION_CHANGED, data)?;
    let outcome = inner
        .cache
        .merge_server_conversations(list.conversation_list, None)?;
    inner.emit_changes(outcome.changes);
    if let Some(total) = outcome.total_unread {
        inner.events.emit(TimEvent::TotalUnreadChanged(total));
    }
    Ok(())
}

fn apply_conversation_deleted(inner: &Arc<Inner>, data: Value) -> Result<(), TimError> {
    let list: ConversationDeletedPush = decode(push::CONVERSATION_DELETED, data)?;
    let mut deleted = Vec::new();
    let mut total = None;
    for id in list.conversation_id_list {
        let (existed, t) = inner.cache.delete_conversation(&id)?;
        if existed {
            deleted.push(id);
        }
        if t.is_some() {
            total = t;
        }
    }
    if !deleted.is_empty() {
        inner.events.emit(TimEvent::ConversationDeleted(deleted));
    }
    if let Some(total) = total {
        inner.events.emit(TimEvent::TotalUnreadChanged(total));
    }
    Ok(())
}

/// What a group event means for my membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Membership {
    /// I was added (created with me, invited, joined from another device).
    Gained,
    /// I left, was removed, or the group is gone.
    Lost,
    /// Someone else's membership changed.
    Unchanged,
}

pub(crate) fn membership_change(me: &str, event: &GroupEventPush) -> Membership {
    let me_listed = event.member_list.iter().any(|m| m == me);
    match event.event.as_str() {
        "invited" | "joined" if me_listed || event.op_user == me => Membership::Gained,
        "kicked" if me_listed => Membership::Lost,
        "quit" if me_listed || event.op_user == me => Membership::Lost,
        "dismissed" => Membership::Lost,
        _ => Membership::Unchanged,
    }
}

/// I am no longer in a group: its conversation goes (the server stops listing it too),
/// with its cached messages.
pub(crate) fn forget_group(inner: &Inner, group_id: &str) -> Result<(), TimError> {
    let id = crate::model::ConversationId::group(group_id).0;
    let (existed, total) = inner.cache.delete_conversation(&id)?;
    if existed {
        inner.events.emit(TimEvent::ConversationDeleted(vec![id]));
    }
    if let Some(total) = total {
        inner.events.emit(TimEvent::TotalUnreadChanged(total));
    }
    Ok(())
}

fn apply_group_event(inner: &Arc<Inner>, data: Value) -> Result<(), TimError> {
    let event: GroupEventPush = decode(push::GROUP_EVENT, data)?;
    let group_id = event.group_id.clone();
    let change = membership_change(&inner.me, &event);
    inner.events.emit(TimEvent::GroupEvent(event));
    match change {
        Membership::Gained => {
            let inner = Arc::clone(inner);
            tokio::spawn(async move {
                let id = crate::model::ConversationId::group(&group_id).0;
                if let Err(e) = refresh_conversation(&inner, &id).await {
                    tracing::debug!(error = %e, conversation = %id, "new group conversation not fetched");
                }
            });
            Ok(())
        }
        Membership::Lost => forget_group(inner, &group_id),
        Membership::Unchanged => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, op: &str, members: &[&str]) -> GroupEventPush {
        GroupEventPush {
            group_id: "g".into(),
            event: event.into(),
            op_user: op.into(),
            member_list: members.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn group_events_map_to_my_membership() {
        use Membership::*;
        assert_eq!(
            membership_change("bob", &ev("invited", "alice", &["bob", "carol"])),
            Gained
        );
        assert_eq!(
            membership_change("dave", &ev("invited", "alice", &["bob"])),
            Unchanged
        );
        assert_eq!(
            membership_change("bob", &ev("joined", "bob", &["bob"])),
            Gained
        );
        assert_eq!(
            membership_change("bob", &ev("kicked", "alice", &["bob"])),
            Lost
        );
        assert_eq!(
            membership_change("carol", &ev("kicked", "alice", &["bob"])),
            Unchanged
        );
        assert_eq!(membership_change("bob", &ev("quit", "bob", &["bob"])), Lost);
        assert_eq!(
            membership_change("bob", &ev("dismissed", "alice", &[])),
            Lost
        );
    }
}
