//! tui (being built)
