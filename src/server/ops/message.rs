//! sendMessage, getHistoryMessageList, sync.

use crate::server::frame::Params;

use crate::protocol::{GetHistoryParams, SendMessageParams, SyncParams, op};
use crate::server::error::OpError;
use crate::server::rules;
use crate::server::store::{SendCmd, WriteCmd};

use super::{Ctx, Handled, now, params_or_answer, read, write};

pub async fn send(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: SendMessageParams = params_or_answer!(op::SEND_MESSAGE, params);
    let target = match rules::validate_send(&p) {
        Ok(t) => t,
        Err(e) => return Handled::Now(Err(e)),
    };
    let cmd = WriteCmd::Send(Box::new(SendCmd {
        sender: ctx.user.clone(),
        conn: ctx.conn.id,
        target,
        params: p,
        now: now(),
    }));
    write(ctx, cmd).await
}

pub fn history(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: GetHistoryParams = params_or_answer!(op::GET_HISTORY_MESSAGE_LIST, params);
    let user = ctx.user.clone();
    read(ctx, move |store| store.history(&user, &p))
}

pub fn sync(ctx: &Ctx, params: Params<'_>) -> Handled {
    let p: SyncParams = params_or_answer!(op::SYNC, params);
    let user = ctx.user.clone();
    read(ctx, move |store| {
        // A cursor this server never handed out is corrupt (or another server's): reading
        // on from it would skip whatever is stored before it, silently.
        let newest = store.max_cursor()?;
        if p.cursor > newest {
            return Err(OpError::invalid(format!(
                "cursor {} is beyond the newest position {newest}: sync from a cursor this \
                 server gave (0 for everything)",
                p.cursor
            )));
        }
        store.sync(&user, p.cursor, p.count)
    })
}
