//! The terminal UI: app state, actions, keymap, event loop, views, theme.
//!
//! Shape (DESIGN.md § TUI): an [`App`] state; [`Action`]s from the keymap
//! (`assets/keymap.toml`, overridable); a reducer [`update`] returning
//! [`Effect`]s (SDK calls) instead of making them; SDK events applied with
//! [`App::apply_event`] and effect outcomes with [`App::apply_result`]; and a pure
//! [`render`]. The event loop in [`run`] ties them to a terminal and an
//! [`EffectRunner`].

pub mod action;
pub mod app;
pub mod backend;
pub mod clipboard;
pub mod clock;
pub mod editor;
pub mod effect;
pub mod event;
pub mod explain;
pub mod fuzzy;
pub mod json;
pub mod keymap;
pub mod layout;
pub mod overlay;
pub mod run;
pub mod runner;
pub mod text;
pub mod theme;
pub mod update;
pub mod view;
pub mod window;

pub use action::{Action, Context};
pub use app::{App, Focus, Overlay};
pub use clock::Clock;
pub use effect::{Effect, EffectResult, EffectRunner, Outgoing, OutgoingContent, SdkError};
pub use event::{ConnectionStatus, SdkEvent};
pub use keymap::{Keymap, KeymapError};
pub use theme::{Theme, ThemeError};
pub use update::{handle_event, handle_key, update};
pub use view::render;
