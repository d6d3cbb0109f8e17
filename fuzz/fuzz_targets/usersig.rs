//! Any string as a UserSig: refused with a UserSig code, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use termim::usersig::{self, AppKey};

fuzz_target!(|data: &[u8]| {
    let key = AppKey {
        sdk_app_id: 1_400_000_000,
        secret_key: "fuzz".into(),
    };
    let sig = String::from_utf8_lossy(data);
    if let Err(e) = usersig::verify(&key, "alice", &sig, 1_800_000_000) {
        assert!((70001..=70014).contains(&e.code()), "{e}");
    }
});
