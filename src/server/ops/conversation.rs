//! Conversation ops: list, get, unread, read marks, pin, delete, custom data.

use crate::server::frame::Params;

use crate::protocol::{
    CleanUnreadParams, ConversationIdParams, ConversationListPush, GetConversationListParams,
    PinConversationParams, SetConversationCustomDataParams, TotalUnreadResult, op,
};
use crate::server::store::{Data, WriteCmd};

use super::{Ctx, Handled, now, params_or_answer, read, write};

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
    let cmd = WriteCmd::SetCustomData {
        user: ctx.user.clone(),
        conn: ctx.conn.id,
        conversation_ids: p.conversation_id_list,
        custom_data: p.custom_data,
    };
    write(ctx, cmd).await
}
