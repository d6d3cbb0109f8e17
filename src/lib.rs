//! termim: a terminal messenger with Tencent Cloud Chat's (V2TIM) messaging model,
//! the WebSocket server it talks to, and the client SDK between them.
//!
//! Dependencies point one way: `model ← protocol ← {server, sdk}`, `sdk ← {tui, cli}`.

pub mod cli;
pub mod model;
pub mod private_fs;
pub mod protocol;
pub mod safe_text;
pub mod sdk;
pub mod server;
mod tls;
pub mod tui;
pub mod usersig;
