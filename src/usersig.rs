//! UserSig (being built)
