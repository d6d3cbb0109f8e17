//! The terminal UI.
pub mod action;
pub mod clock;
pub mod fuzzy;
pub mod keymap;
pub mod text;
