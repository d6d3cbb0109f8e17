//! What the SDK tells the UI. This mirrors `sdk::TimEvent` variant for variant so
//! the UI does not depend on the SDK's module while both are being built; wiring
//! is a one-to-one `From<TimEvent> for SdkEvent`.

use crate::model::{Conversation, Message};
use crate::protocol::GroupEventPush;

/// Mirror of `sdk::ConnectionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectionStatus {
    #[default]
    Connecting,
    Connected,
    Disconnected,
    LoggedOut,
}

/// Mirror of `sdk::TimEvent`.
#[derive(Debug, Clone)]
pub enum SdkEvent {
    /// Incoming, including my own from another device.
    NewMessage(Message),
    /// Status change of a local message (sending → sent / failed).
    MessageUpdated(Message),
    NewConversation(Vec<Conversation>),
    ConversationChanged(Vec<Conversation>),
    ConversationDeleted(Vec<String>),
    TotalUnreadChanged(u64),
    ConnectionChanged(ConnectionStatus),
    SyncFinished,
    GroupEvent(GroupEventPush),
    KickedOffline,
}
