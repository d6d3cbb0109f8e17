//! The real [`EffectRunner`]: performs the reducer's effects on the SDK (`Tim`).
//!
//! Every send is the V2TIM two-step — `create_*_message` (then
//! `create_targeted_group_message` when targets are armed) → `send_message` — run by
//! one worker per conversation so a conversation's sends go out in the order typed.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::effect::{
    Effect, EffectResult, EffectRunner, HistoryDirection, Outgoing, OutgoingContent, ResultSender,
};
use crate::model::{ConversationId, ConversationTarget, Message, member_filter};
use crate::protocol::codes;
use crate::sdk::{HistoryGetType, HistoryOptions, SendParams, Tim, TimError};

/// A send waiting in its conversation's queue.
enum SendJob {
    New(Box<Outgoing>),
    Resend {
        conversation_id: String,
        message: Box<Message>,
    },
}

pub struct SdkRunner {
    tim: Tim,
    /// One ordered queue per conversation.
    send_queues: HashMap<String, mpsc::UnboundedSender<SendJob>>,
    /// Work that must finish before quitting (drafts, send workers).
    must_finish: JoinSet<()>,
    /// The generation of the newest search asked for (older ones waiting are skipped).
    search_latest: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Signs a new UserSig when the old one expired (`None`: a person has to give one).
    signer: Option<crate::usersig::Signer>,
}

/// How long a search waits for the next keystroke before it runs.
const SEARCH_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(80);

impl SdkRunner {
    pub fn new(tim: Tim) -> Self {
        Self {
            tim,
            send_queues: HashMap::new(),
            must_finish: JoinSet::new(),
            search_latest: Default::default(),
            signer: None,
        }
    }

    /// Renew expired UserSigs with sigs from `signer` (see `App::can_sign`).
    pub fn with_signer(mut self, signer: crate::usersig::Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    fn enqueue_send(&mut self, conversation_id: String, job: SendJob, results: &ResultSender) {
        let queue = self.send_queues.entry(conversation_id).or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<SendJob>();
            let tim = self.tim.clone();
            let results = results.clone();
            self.must_finish.spawn(async move {
                while let Some(job) = rx.recv().await {
                    run_send(&tim, job, &results).await;
                }
            });
            tx
        });
        // The worker only stops once its sender is dropped (at shutdown).
        let _ = queue.send(job);
    }
}

/// `receiver` and `group_id` of `sendMessage` for a conversation id.
fn destination(conversation_id: &str) -> Result<(String, String), TimError> {
    match ConversationId::parse(conversation_id) {
        Some(ConversationTarget::C2c(user)) => Ok((user, String::new())),
        Some(ConversationTarget::Group(group)) => Ok((String::new(), group)),
        None => Err(TimError::new(
            codes::ERR_INVALID_CONVERSATION,
            format!("{conversation_id:?} is not a conversation id"),
        )),
    }
}

fn send_params(conversation_id: &str, id: String, out: &Outgoing) -> Result<SendParams, TimError> {
    let (receiver, group_id) = destination(conversation_id)?;
    let o = &out.options;
    Ok(SendParams {
        id,
        receiver,
        group_id,
        priority: o.priority,
        online_user_only: o.online_user_only,
        offline_push_info: o.offline_push_info.clone(),
        need_read_receipt: o.need_read_receipt,
        is_excluded_from_unread_count: o.is_excluded_from_unread_count,
        is_excluded_from_last_message: o.is_excluded_from_last_message,
        is_support_message_extension: o.is_support_message_extension,
        cloud_custom_data: o.cloud_custom_data.clone(),
        local_custom_data: o.local_custom_data.clone(),
    })
}

async fn run_send(tim: &Tim, job: SendJob, results: &ResultSender) {
    match job {
        SendJob::New(out) => {
            let conversation_id = out.conversation_id.clone();
            let created = match &out.content {
                OutgoingContent::Text(text) => tim.create_text_message(text),
                OutgoingContent::Custom {
                    data,
                    desc,
                    extension,
                } => tim.create_custom_message(data, desc, extension),
            }
            .and_then(|c| {
                if out.targets.is_empty() {
                    Ok(c)
                } else {
                    tim.create_targeted_group_message(&c.id, &out.targets)
                }
            });
            let created = match created {
                Ok(c) => c,
                Err(error) => {
                    let _ = results.send(EffectResult::CreateFailed {
                        conversation_id,
                        content: out.content,
                        targets: out.targets,
                        error,
                    });
                    return;
                }
            };
            let id = created.id.clone();
            let mut shown = created.message_info;
            // What the pane shows while sending: the options the send will carry.
            let o = &out.options;
            shown.local_custom_data = o.local_custom_data.clone();
            shown.cloud_custom_data = o.cloud_custom_data.clone();
            shown.is_online_only = o.online_user_only;
            shown.priority = o.priority;
            shown.need_read_receipt = o.need_read_receipt;
            shown.is_excluded_from_unread_count = o.is_excluded_from_unread_count;
            shown.is_excluded_from_last_message = o.is_excluded_from_last_message;
            shown.is_support_message_extension = o.is_support_message_extension;
            shown.offline_push_info = o.offline_push_info.clone();
            let _ = results.send(EffectResult::MessageCreated {
                conversation_id: conversation_id.clone(),
                message: shown,
            });
            let outcome = match send_params(&conversation_id, id.clone(), &out) {
                Ok(params) => tim.send_message(params).await,
                Err(e) => Err(e),
            };
            report_send(results, conversation_id, id, outcome);
        }
        SendJob::Resend {
            conversation_id,
            message,
        } => {
            let id = message.id.clone();
            let outcome = match destination(&conversation_id) {
                Ok((receiver, group_id)) => {
                    tim.send_message(SendParams {
                        id: id.clone(),
                        receiver,
                        group_id,
                        priority: message.priority,
                        online_user_only: message.is_online_only,
                        offline_push_info: message.offline_push_info.clone(),
                        need_read_receipt: message.need_read_receipt,
                        is_excluded_from_unread_count: message.is_excluded_from_unread_count,
                        is_excluded_from_last_message: message.is_excluded_from_last_message,
                        is_support_message_extension: message.is_support_message_extension,
                        cloud_custom_data: message.cloud_custom_data.clone(),
                        local_custom_data: message.local_custom_data.clone(),
                    })
                    .await
                }
                Err(e) => Err(e),
            };
            report_send(results, conversation_id, id, outcome);
        }
    }
}

fn report_send(
    results: &ResultSender,
    conversation_id: String,
    id: String,
    outcome: Result<Message, TimError>,
) {
    let _ = results.send(match outcome {
        Ok(message) => EffectResult::MessageSent {
            conversation_id,
            message,
        },
        Err(error) => EffectResult::SendFailed {
            conversation_id,
            id,
            error,
        },
    });
}

async fn load_conversations(tim: &Tim) -> Result<EffectResult, TimError> {
    let mut list = Vec::new();
    let mut next = "0".to_string();
    loop {
        let page = tim
            .get_conversation_list(&next, crate::model::limits::PAGE_MAX as u32)
            .await?;
        list.extend(page.conversation_list);
        if page.is_finished || page.next_seq == next {
            break;
        }
        next = page.next_seq;
    }
    let total_unread = tim.get_total_unread_message_count().await.ok();
    Ok(EffectResult::Conversations { list, total_unread })
}

impl EffectRunner for SdkRunner {
    fn dispatch(&mut self, effect: Effect, results: &ResultSender) {
        let tim = self.tim.clone();
        let tx = results.clone();
        match effect {
            Effect::LoadConversations => {
                tokio::spawn(async move {
                    let result = load_conversations(&tim).await.unwrap_or_else(|error| {
                        EffectResult::Failed {
                            what: "load the conversation list".into(),
                            error,
                        }
                    });
                    let _ = tx.send(result);
                });
            }
            Effect::FetchConversation { conversation_id } => {
                tokio::spawn(async move {
                    let _ = tx.send(match tim.get_conversation(&conversation_id).await {
                        Ok(c) => EffectResult::Conversation(c),
                        Err(error) => EffectResult::Failed {
                            what: format!("load conversation {conversation_id}"),
                            error,
                        },
                    });
                });
            }
            Effect::LoadHistory {
                conversation_id,
                direction,
                anchor,
                count,
            } => {
                tokio::spawn(async move {
                    let (get_type, anchor) = match direction {
                        HistoryDirection::Latest => (HistoryGetType::CloudOlder, None),
                        HistoryDirection::Older => (HistoryGetType::CloudOlder, anchor),
                        HistoryDirection::Newer => (HistoryGetType::CloudNewer, anchor),
                    };
                    let opts = HistoryOptions {
                        conversation_id: conversation_id.clone(),
                        get_type,
                        count,
                        last_msg_id: anchor.as_ref().map(|a| a.msg_id.clone()),
                        last_msg_seq: anchor
                            .as_ref()
                            .filter(|a| a.msg_id.is_empty())
                            .map(|a| a.seq),
                    };
                    let _ = tx.send(match tim.get_history_message_list(opts).await {
                        Ok(r) => EffectResult::History {
                            conversation_id,
                            direction,
                            messages: r.message_list,
                            is_finished: r.is_finished,
                        },
                        Err(error) => EffectResult::HistoryFailed {
                            conversation_id,
                            direction,
                            error,
                        },
                    });
                });
            }
            Effect::Send(out) => {
                let conversation_id = out.conversation_id.clone();
                self.enqueue_send(conversation_id, SendJob::New(Box::new(out)), results);
            }
            Effect::Resend {
                conversation_id,
                message,
            } => {
                let job = SendJob::Resend {
                    conversation_id: conversation_id.clone(),
                    message,
                };
                self.enqueue_send(conversation_id, job, results);
            }
            Effect::SetDraft {
                conversation_id,
                text,
            } => {
                self.must_finish.spawn(async move {
                    if let Err(error) = tim
                        .set_conversation_draft(&conversation_id, text.as_deref())
                        .await
                    {
                        let _ = tx.send(EffectResult::Failed {
                            what: "save the draft".into(),
                            error,
                        });
                    }
                });
            }
            Effect::CleanUnread { conversation_id } => {
                tokio::spawn(async move {
                    let error = tim
                        .clean_conversation_unread_message_count(&conversation_id, 0, 0)
                        .await
                        .err();
                    let _ = tx.send(EffectResult::UnreadCleaned {
                        conversation_id,
                        error,
                    });
                });
            }
            Effect::PinConversation {
                conversation_id,
                pinned,
            } => {
                tokio::spawn(async move {
                    if let Err(error) = tim.pin_conversation(&conversation_id, pinned).await {
                        let what = if pinned {
                            "pin the conversation"
                        } else {
                            "unpin the conversation"
                        };
                        let _ = tx.send(EffectResult::Failed {
                            what: what.into(),
                            error,
                        });
                    }
                });
            }
            Effect::LoadMembers {
                group_id,
                next_seq,
                count,
            } => {
                tokio::spawn(async move {
                    let result = tim
                        .get_group_member_list(&group_id, member_filter::ALL, &next_seq, count)
                        .await;
                    let _ = tx.send(EffectResult::Members {
                        group_id,
                        next_seq,
                        result,
                    });
                });
            }
            Effect::SetConversationData {
                conversation_ids,
                data,
            } => {
                self.must_finish.spawn(async move {
                    let result = tim
                        .set_conversation_custom_data(&conversation_ids, &data)
                        .await;
                    let _ = tx.send(EffectResult::ConversationDataSet {
                        conversation_ids,
                        data,
                        result,
                    });
                });
            }
            Effect::SearchMessages { generation, param } => {
                let latest = std::sync::Arc::clone(&self.search_latest);
                latest.store(generation, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    // Debounce: while the user is typing, only the last query runs.
                    tokio::time::sleep(SEARCH_DEBOUNCE).await;
                    if latest.load(std::sync::atomic::Ordering::SeqCst) != generation {
                        return;
                    }
                    let result = tim.search_local_messages(param).await;
                    let _ = tx.send(EffectResult::SearchResults { generation, result });
                });
            }
            Effect::RenewUserSig { user_sig } => {
                let signer = self.signer.clone();
                tokio::spawn(async move {
                    let sig = match (user_sig, signer) {
                        (Some(sig), _) => Ok(sig),
                        (None, Some(sign)) => sign()
                            .map_err(|why| TimError::new(codes::ERR_USER_SIG_EXPIRED_SVR, why)),
                        (None, None) => Err(TimError::new(
                            codes::ERR_USER_SIG_EXPIRED_SVR,
                            "termim cannot sign a UserSig here (it was given one)",
                        )),
                    };
                    let error = match sig {
                        Ok(sig) => tim.renew_user_sig(&sig).await.err(),
                        Err(e) => Some(e),
                    };
                    let _ = tx.send(EffectResult::UserSigRenewed { error });
                });
            }
            // The loop performs these itself (the terminal and its clipboard are its own).
            Effect::Quit
            | Effect::EditExternally { .. }
            | Effect::Suspend
            | Effect::Redraw
            | Effect::CopyToClipboard { .. } => {}
        }
    }

    async fn shutdown(&mut self) {
        // Closing the queues lets each worker finish what it holds, then stop.
        self.send_queues.clear();
        while self.must_finish.join_next().await.is_some() {}
    }
}
