//! Interop with Tencent's own UserSig generator (`tls-sig-api-v2` from PyPI), run live.
//!
//! `.ci/run` installs the package; where Python or the package is missing this test says so
//! and checks nothing more than the committed fixtures (see `src/usersig.rs` unit tests).

use std::process::Command;

use termim::usersig::{self, AppKey};

fn python_sig(key: &AppKey, user: &str, expire: u64) -> Option<String> {
    let script = format!(
        "import TLSSigAPIv2\nprint(TLSSigAPIv2.TLSSigAPIv2({}, {:?}).gen_sig({:?}, {}))",
        key.sdk_app_id, key.secret_key, user, expire
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "tls-sig-api-v2 not available: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn sigs_from_tencents_python_generator_verify_and_are_refused_when_wrong() {
    let key = AppKey::generate();
    let Some(sig) = python_sig(&key, "用户-alice", 600).filter(|s| !s.is_empty()) else {
        if std::env::var_os("CI").is_some() {
            panic!("CI installs tls-sig-api-v2 (see .ci/run) but python could not use it");
        }
        eprintln!("skipping the live check: python3 with tls-sig-api-v2 is not installed");
        return;
    };
    assert_eq!(usersig::verify(&key, "用户-alice", &sig, now()), Ok(()));
    assert_eq!(
        usersig::verify(&key, "bob", &sig, now())
            .unwrap_err()
            .code(),
        70013
    );
    assert_eq!(
        usersig::verify(&key, "用户-alice", &sig, now() + 601)
            .unwrap_err()
            .code(),
        70001
    );
    let other = AppKey::generate();
    let err = usersig::verify(
        &AppKey {
            sdk_app_id: key.sdk_app_id,
            ..other
        },
        "用户-alice",
        &sig,
        now(),
    );
    assert_eq!(err.unwrap_err().code(), 70009);
}
