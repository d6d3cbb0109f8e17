//! Any JSON as `sendMessage` params, through the send rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use termim::protocol::SendMessageParams;
use termim::server::{frame, rules};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = serde_json::from_slice::<SendMessageParams>(data) {
        match rules::validate_send(&p) {
            Ok(_) => assert!(rules::body_len(&p) <= termim::model::limits::MESSAGE_BODY_MAX),
            Err(e) => assert!(frame::STATELESS_CODES.contains(&e.code), "{e}"),
        }
    }
});
