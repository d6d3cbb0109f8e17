//! What the SDK tells the UI: the SDK's own event and state types, under the names
//! the UI code uses.

pub use crate::sdk::{ConnectionState as ConnectionStatus, TimEvent as SdkEvent};
