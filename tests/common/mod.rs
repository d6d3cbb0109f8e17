//! Shared helpers for integration tests.
#![allow(dead_code)]

pub mod certs;
pub mod raw;
pub mod sdk_harness;
