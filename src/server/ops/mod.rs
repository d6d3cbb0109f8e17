//! The router: one handler per op. Handlers check what needs no state, then either
//! queue a command for the writer (answered after the commit) or run a read on the read
//! pool. Either way the session gets a future, so requests of one connection overlap
//! while their writes keep the order they arrived in.

mod conversation;
mod group;
mod message;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::protocol::{PingResult, codes, op};
use crate::server::Shared;
use crate::server::error::OpError;
use crate::server::frame::Params;
use crate::server::hub::Conn;
use crate::server::session::encode_response;
use crate::server::store::{Data, Reply, Store, WriteCmd, WriteRequest};

/// Who is asking, and where the answer goes.
pub struct Ctx {
    pub shared: Arc<Shared>,
    pub user: String,
    /// The connection (its id, and the outbound queue writes put their response on).
    pub conn: Arc<Conn>,
    /// The request being handled.
    pub req_id: u64,
    /// Writes of this connection in progress (a permit each); bounds them like reads.
    pub writes_in_flight: Arc<Semaphore>,
}

/// How a request is answered.
pub enum Handled {
    Now(Result<Data, OpError>),
    Later(BoxFuture<'static, Result<Data, OpError>>),
    /// A write: its answer is queued on the connection after the commit, by the store's
    /// dispatcher, without waking the session.
    Queued,
}

/// Server UTC seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Route one logged-in request. (`login` and `logout` are the session's own.)
pub async fn route(ctx: &Ctx, op_name: &str, params: Params<'_>) -> Handled {
    match op_name {
        op::PING => Handled::Now(Ok(Data::json(&PingResult { server_time: now() }))),
        op::SEND_MESSAGE => message::send(ctx, params).await,
        op::GET_HISTORY_MESSAGE_LIST => message::history(ctx, params),
        op::SYNC => message::sync(ctx, params),
        op::GET_CONVERSATION_LIST => conversation::list(ctx, params),
        op::GET_CONVERSATION => conversation::get(ctx, params),
        op::GET_TOTAL_UNREAD_MESSAGE_COUNT => conversation::total_unread(ctx),
        op::CLEAN_CONVERSATION_UNREAD_MESSAGE_COUNT => {
            conversation::clean_unread(ctx, params).await
        }
        op::PIN_CONVERSATION => conversation::pin(ctx, params).await,
        op::DELETE_CONVERSATION => conversation::delete(ctx, params).await,
        op::SET_CONVERSATION_CUSTOM_DATA => conversation::set_custom_data(ctx, params).await,
        op::CREATE_GROUP => group::create(ctx, params).await,
        op::JOIN_GROUP => group::join(ctx, params).await,
        op::QUIT_GROUP => group::quit(ctx, params).await,
        op::DISMISS_GROUP => group::dismiss(ctx, params).await,
        op::INVITE_USER_TO_GROUP => group::invite(ctx, params).await,
        op::KICK_GROUP_MEMBER => group::kick(ctx, params).await,
        op::MUTE_GROUP_MEMBER => group::mute(ctx, params).await,
        op::SET_GROUP_MEMBER_ROLE => group::set_role(ctx, params).await,
        op::GET_JOINED_GROUP_LIST => group::joined(ctx),
        op::GET_GROUPS_INFO => group::info(ctx, params),
        op::GET_GROUP_MEMBER_LIST => group::members(ctx, params),
        op::LOGIN => Handled::Now(Err(OpError::invalid(
            "already logged in on this connection: log out first",
        ))),
        other => Handled::Now(Err(unknown_op(other))),
    }
}

pub fn unknown_op(name: &str) -> OpError {
    OpError::new(
        codes::ERR_SVR_COMM_INVALID_REQUEST,
        format!(
            "unknown op {}: docs/PROTOCOL.md lists the ops this server serves",
            crate::server::frame::quoted(name)
        ),
    )
}

/// Decode an op's params straight from the frame's text (6017 with serde's sentence
/// when they do not fit). Absent or `null` params are `{}`.
pub fn parse<P: DeserializeOwned>(op_name: &str, params: Params<'_>) -> Result<P, OpError> {
    serde_json::from_str(params.map_or("{}", |raw| raw.get()))
        .map_err(|e| OpError::invalid(format!("invalid params for {op_name}: {e}")))
}

/// Queue a write; its response is queued on the connection after the commit. A connection
/// has at most `max_in_flight` writes in progress: the session does not read the socket
/// while none is free (backpressure on a client that pipelines without bound), so this
/// does not wait for a permit.
async fn write(ctx: &Ctx, cmd: WriteCmd) -> Handled {
    let Ok(permit) = ctx.writes_in_flight.clone().acquire_owned().await else {
        return Handled::Now(Err(OpError::internal("the connection is closing")));
    };
    let (conn, req_id) = (ctx.conn.clone(), ctx.req_id);
    let reply = Reply::Call(Box::new(move |result| {
        conn.send(encode_response(req_id, result));
        drop(permit);
    }));
    match ctx.shared.store.submit(WriteRequest { cmd, reply }).await {
        Ok(()) => Handled::Queued,
        Err(e) => Handled::Now(Err(e)),
    }
}

/// Run a read on the blocking pool.
fn read(
    ctx: &Ctx,
    f: impl FnOnce(&dyn Store) -> Result<Data, OpError> + Send + 'static,
) -> Handled {
    let store = ctx.shared.store.clone();
    Handled::Later(Box::pin(async move {
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .unwrap_or_else(|e| Err(OpError::internal(format!("read task failed: {e}"))))
    }))
}

/// Shorthand: a handler whose params did not parse.
macro_rules! params_or_answer {
    ($op:expr, $params:expr) => {
        match $crate::server::ops::parse($op, $params) {
            Ok(p) => p,
            Err(e) => return $crate::server::ops::Handled::Now(Err(e)),
        }
    };
}
pub(crate) use params_or_answer;
