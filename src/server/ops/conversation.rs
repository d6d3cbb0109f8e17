//! Conversation ops: list, get, unread, read marks, pin, delete, custom data.

use crate::server::frame::Params;

use crate::protocol::codes;
use crate::protocol::{
    CleanUnreadParams, ConversationIdParams, ConversationListPush, GetConversationListParams,
    PinConversationParams, SetConversationCustomDataParams, TotalUnreadResult, op,
};
use crate::server::error::OpError;
use crate::server::store::{Data, WriteCmd};

use super::{Ctx, Handled, now, params_or_answer, read, write};

/// Spend one of the user's conversation-state writes (-20009 when they are spent: the
/// request is not carried out). They all rebuild conversations in the one writer, so one
/// user looping over them must not slow everybody's sends.
fn admit(ctx: &Ctx) -> Result<(), Handled> {
    let Some(rates) = &ctx.shared.conversation_rates else {
        return Ok(());
    };
    rates
        .take(&ctx.user, std::time::Instant::now())
        .map_err(|wait| {
            Handled::Now(Err(OpError::new(
                codes::ERR_SVR_COMM_FREQUENCY_LIMIT,
                format!(
                    "too many conversation changes: at most {} a second per user; this one was not carried out, retry in {} ms",
                    rates.rate().per_sec,
                    wait.as_millis().max(1)
                ),
            )
            .retry_after(wait)))
        })
}

macro_rules! admit_or_answer {
    ($ctx:expr) => {
        if let Err(h) = admit($ctx) {
            return h;
        }
    };
}

pub fn list(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: GetConversationListParams = params_or_answer!(op::GET_CONVERSATION_LIST, params);
    let user = ctx.user.clone();
    read(ctx, move |store| {
        let next = if p.next_seq.is_empty() {
            "0"
        } else {
            &p.next_seq
        };
        store
            .conversation_list(&user, next, p.count)
            .map(|r| Data::json(&r))
    })
}

pub fn get(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: ConversationIdParams = params_or_answer!(op::GET_CONVERSATION, params);
    let user = ctx.user.clone();
    read(ctx, move |store| {
        store.conversation(&user, &p.conversation_id).map(|c| {
            Data::json(&ConversationListPush {
                conversation_list: vec![c],
            })
        })
    })
}

pub fn total_unread(ctx: &Ctx) -> Handled {
    let user = ctx.user.clone();
    read(ctx, move |store| {
        store.total_unread(&user).map(|n| {
            Data::json(&TotalUnreadResult {
                total_unread_count: n,
            })
        })
    })
}

pub async fn clean_unread(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: CleanUnreadParams =
        params_or_answer!(op::CLEAN_CONVERSATION_UNREAD_MESSAGE_COUNT, params);
    admit_or_answer!(ctx);
    let cmd = WriteCmd::CleanUnread {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        conversation_id: p.conversation_id,
        clean_timestamp: p.clean_timestamp,
        clean_sequence: p.clean_sequence,
        now: now(),
    };
    write(ctx, cmd).await
}

pub async fn pin(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: PinConversationParams = params_or_answer!(op::PIN_CONVERSATION, params);
    admit_or_answer!(ctx);
    let cmd = WriteCmd::Pin {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        conversation_id: p.conversation_id,
        pinned: p.is_pinned,
    };
    write(ctx, cmd).await
}

pub async fn delete(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: ConversationIdParams = params_or_answer!(op::DELETE_CONVERSATION, params);
    admit_or_answer!(ctx);
    let cmd = WriteCmd::DeleteConversation {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        conversation_id: p.conversation_id,
    };
    write(ctx, cmd).await
}

pub async fn set_custom_data(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: SetConversationCustomDataParams =
        params_or_answer!(op::SET_CONVERSATION_CUSTOM_DATA, params);
    admit_or_answer!(ctx);
    let cmd = WriteCmd::SetCustomData {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        conversation_ids: p.conversation_id_list,
        custom_data: p.custom_data,
    };
    write(ctx, cmd).await
}
