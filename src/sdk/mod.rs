//! sdk (being built)
