//! Any bytes as a text frame, through the server's decoder and stateless validator.
#![no_main]

use libfuzzer_sys::fuzz_target;
use termim::server::frame;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match frame::decode_request(&text) {
        Err(rejected) => assert_eq!(rejected.error.code, 20001),
        Ok(request) => {
            if let Err(e) = frame::validate(&request.op, request.params) {
                assert!(frame::STATELESS_CODES.contains(&e.code), "{e}");
            }
        }
    }
});
