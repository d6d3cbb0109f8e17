//! Messages: `sendMessage` (C2C, group, targeted; stored or online-only) and the group
//! tips the group commands store — idempotency, who may send, what is stored, what
//! counts as unread, who is told.

use std::sync::Arc;

use crate::model::{Elem, GroupTipsElem, Message, MessageStatus};
use crate::protocol::{self, codes};
use crate::server::error::OpError;
use crate::server::frame;
use crate::server::rules;
use crate::server::store::{Data, Effect, Recipients, SendCmd, SendTarget};

use super::{NewMessage, Place, StreamTo, Tx};

/// A message produced: its JSON and (when stored) its position.
pub struct Produced {
    pub body: Arc<str>,
    pub pos: Option<u64>,
}

/// `<pos>-<time>-<random>`: globally unique, and leads back to its row without an index.
fn stored_msg_id(pos: u64, now: i64) -> String {
    format!("{pos}-{now}-{:08x}", rand::random::<u32>())
}

/// Online-only messages have no pos; `0-` keeps them apart from stored ids.
fn online_msg_id(now: i64) -> String {
    format!("0-{now}-{:016x}", rand::random::<u64>())
}

fn send_result(body: &str, cursor: Option<u64>) -> Data {
    Data(match cursor {
        Some(c) => frame::concat(&[r#"{"message":"#, body, r#","cursor":"#, &c.to_string(), "}"]),
        None => frame::concat(&[r#"{"message":"#, body, "}"]),
    })
}

/// Store `msg` in `place`: it takes the next position and seq, and a timestamp no earlier
/// than the conversation's newest (so timestamps never go down as seqs go up).
fn store(
    tx: &mut dyn Tx,
    place: Place<'_>,
    msg: &mut Message,
    row: NewRow<'_>,
) -> Result<Produced, OpError> {
    let slot = tx.next_slot(&place)?;
    msg.msg_id = stored_msg_id(slot.pos, msg.timestamp);
    msg.seq = slot.seq;
    msg.timestamp = msg.timestamp.max(slot.not_before);
    let body = protocol::to_text(msg);
    let server_key;
    let client_id = match row.client_id {
        Some(id) => id,
        None => {
            server_key = rules::server_message_key("tips", slot.pos);
            &server_key
        }
    };
    let new = NewMessage {
        pos: slot.pos,
        conv_id: slot.conv_id,
        seq: slot.seq,
        client_id,
        counted: row.counted,
        targeted: row.targeted,
        sender_conv: row.sender_conv,
        to: row.to,
    };
    tx.insert_message(&place, &new, msg, &body)?;
    Ok(Produced {
        body: body.into(),
        pos: Some(slot.pos),
    })
}

/// What `store` needs beyond the slot.
struct NewRow<'a> {
    /// `None`: a server-made message (keyed by `rules::server_message_key`).
    client_id: Option<&'a str>,
    counted: bool,
    targeted: bool,
    sender_conv: String,
    to: StreamTo<'a>,
}

fn online(msg: &mut Message) -> Produced {
    msg.msg_id = online_msg_id(msg.timestamp);
    Produced {
        body: protocol::to_text(msg).into(),
        pos: None,
    }
}

/// `sendMessage`, after the stateless checks (`rules::validate_send`).
pub fn send(tx: &mut dyn Tx, cmd: &SendCmd, fx: &mut Vec<Effect>) -> Result<Data, OpError> {
    let p = &cmd.params;
    if !p.online_user_only
        && let Some((pos, body)) = tx.stored_send(&cmd.sender, &p.id)?
    {
        // A retry of a stored message: the same message, not a second one.
        return Ok(send_result(&body, Some(pos)));
    }
    let mut msg = rules::build_message(p, &cmd.sender, &cmd.target);
    msg.timestamp = cmd.now;
    let (produced, recipients, counted) = match &cmd.target {
        SendTarget::C2c { receiver } => {
            if !tx.user_exists(receiver)? {
                return Err(OpError::new(
                    codes::ERR_SVR_COMM_INVALID_ACCOUNT,
                    format!(
                        "receiver {receiver:?} has no account (accounts are created at first login)"
                    ),
                ));
            }
            let recipients = if *receiver == cmd.sender {
                vec![cmd.sender.clone()]
            } else {
                vec![receiver.clone(), cmd.sender.clone()]
            };
            let counted =
                rules::counts_unread(None, p.is_excluded_from_unread_count, false, p.elem_type);
            let produced = if p.online_user_only {
                online(&mut msg)
            } else {
                let row = NewRow {
                    client_id: Some(&p.id),
                    counted,
                    targeted: false,
                    sender_conv: crate::model::ConversationId::c2c(receiver).0,
                    to: StreamTo::Pair(&cmd.sender, receiver),
                };
                store(tx, Place::Pair(&cmd.sender, receiver), &mut msg, row)?
            };
            (produced, Recipients::List(recipients), counted)
        }
        SendTarget::Group { group_id, targets } => {
            let Some(g) = tx.group_for_send(group_id, &cmd.sender)? else {
                return Err(OpError::no_group(group_id));
            };
            let Some(mute_until) = g.sender_mute_until else {
                return Err(OpError::denied(format!(
                    "you are not a member of group {group_id:?}"
                )));
            };
            if rules::is_muted(mute_until, cmd.now) {
                return Err(OpError::new(
                    codes::ERR_SVR_GROUP_SHUTUP_DENY,
                    format!(
                        "you are muted in group {group_id:?} for {} more seconds",
                        mute_until - cmd.now
                    ),
                ));
            }
            let targeted = !targets.is_empty();
            rules::check_group_send(g.group_type, group_id, p.online_user_only, targeted)?;
            if let Some(t) = tx.first_non_member(group_id, targets)? {
                return Err(OpError::group_invalid(format!(
                    "targeted receiver {t:?} is not a member of group {group_id:?}"
                )));
            }
            // Last: only a send that would otherwise go through spends the rate.
            tx.take_group_send(group_id)?;
            let counted = rules::counts_unread(
                Some(g.group_type),
                p.is_excluded_from_unread_count,
                targeted,
                p.elem_type,
            );
            let recipients = if targeted {
                let mut list = targets.clone();
                if !list.contains(&cmd.sender) {
                    list.push(cmd.sender.clone());
                }
                Recipients::List(list)
            } else {
                Recipients::Roster(tx.roster(group_id)?)
            };
            let produced = if rules::stores(g.group_type, p.online_user_only) {
                let row = NewRow {
                    client_id: Some(&p.id),
                    counted,
                    targeted,
                    sender_conv: crate::model::ConversationId::group(group_id).0,
                    to: if targeted {
                        StreamTo::Targets(&cmd.sender, targets)
                    } else {
                        StreamTo::Members(group_id)
                    },
                };
                store(tx, Place::Group(group_id), &mut msg, row)?
            } else {
                online(&mut msg)
            };
            (produced, recipients, counted)
        }
    };
    fx.push(Effect::NewMessage {
        recipients,
        except: Some(cmd.conn),
        message: produced.body.clone(),
        cursor: produced.pos,
        unread_counted: produced.pos.is_some() && counted,
    });
    Ok(send_result(&produced.body, produced.pos))
}

/// Store (or, in groups that store nothing, only produce) a GroupTips message.
pub fn tips(
    tx: &mut dyn Tx,
    group_id: &str,
    op_user: &str,
    elem: GroupTipsElem,
    now: i64,
) -> Result<Produced, OpError> {
    let Some(g) = tx.group_for_send(group_id, op_user)? else {
        return Err(OpError::no_group(group_id));
    };
    let mut msg = Message {
        sender: op_user.to_string(),
        group_id: Some(group_id.to_string()),
        status: MessageStatus::SendSucc,
        timestamp: now,
        ..Message::default()
    };
    msg.set_elem(Elem::GroupTips(elem));
    if !g.group_type.stores_messages() {
        return Ok(online(&mut msg));
    }
    let row = NewRow {
        client_id: None,
        counted: false,
        targeted: false,
        sender_conv: crate::model::ConversationId::group(group_id).0,
        to: StreamTo::Members(group_id),
    };
    store(tx, Place::Group(group_id), &mut msg, row)
}
