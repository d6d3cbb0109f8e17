//! The terminal UI.
pub mod clock;
pub mod fuzzy;
pub mod text;
