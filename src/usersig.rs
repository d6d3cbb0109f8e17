//! UserSig in Tencent's TLS-sig v2 format (reference §3.2).
//!
//! `sig = base64(HMAC-SHA256(key, "TLS.identifier:…\nTLS.sdkappid:…\nTLS.time:…\nTLS.expire:…\n"))`,
//! wrapped in a JSON document, zlib-compressed and encoded with the URL-safe base64 variant
//! (`+`→`*`, `/`→`-`, `=`→`_`). A sig made by Tencent's own generator for the same app id
//! and key verifies here, and ours verify there.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::protocol::codes;

type HmacSha256 = Hmac<Sha256>;

/// The largest encoded UserSig accepted (real ones are ~200–400 bytes).
pub const MAX_ENCODED_LEN: usize = 4096;
/// The largest inflated JSON document accepted: a cap against zlib bombs.
pub const MAX_INFLATED_LEN: usize = 8192;
/// Tencent's library default validity: 180 days.
pub const DEFAULT_EXPIRE_SECS: u64 = 180 * 86_400;
/// The longest validity a server accepts by default: Tencent's library default (180
/// days), which is also what `termim usersig` signs.
pub const DEFAULT_MAX_LIFETIME_SECS: u64 = DEFAULT_EXPIRE_SECS;
/// How far ahead of the server's clock a sig's `TLS.time` may be by default.
pub const DEFAULT_CLOCK_SKEW_SECS: u64 = 300;

/// What a server asks of a UserSig beyond the signature and the expiry that Tencent's
/// library checks: a cap on its lifetime (`TLS.expire`) and on how far its `TLS.time`
/// may be in the future. A leaked sig is worth at most the cap; a sig "issued" years
/// ahead (a wrong clock at the issuer, or a forger who got the key once) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The longest `TLS.expire` accepted, seconds; `None`: any.
    pub max_lifetime_secs: Option<u64>,
    /// How far `TLS.time` may be ahead of the server's clock, seconds.
    pub clock_skew_secs: u64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            max_lifetime_secs: Some(DEFAULT_MAX_LIFETIME_SECS),
            clock_skew_secs: DEFAULT_CLOCK_SKEW_SECS,
        }
    }
}

impl VerifyOptions {
    /// Only what Tencent's library checks (no lifetime cap, any `TLS.time`).
    pub const TENCENT: VerifyOptions = VerifyOptions {
        max_lifetime_secs: None,
        clock_skew_secs: u64::MAX,
    };
}

/// What a verified UserSig says about its own validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// `TLS.time`, unix seconds.
    pub issued_at: i64,
    /// `TLS.time + TLS.expire`: the last second at which the sig is valid.
    pub expires_at: i64,
}

/// Makes a fresh UserSig for the logged-in user on demand (an app that holds the key:
/// termim with the embedded server, or a data directory with the server's key), so an
/// expired one is renewed without asking anyone. `Err` says why it could not.
pub type Signer = std::sync::Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// An application's identity: the SDKAppID and the secret key that signs its UserSigs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppKey {
    #[serde(rename = "sdkAppID")]
    pub sdk_app_id: u64,
    pub secret_key: String,
}

/// The file, inside a data directory, that keeps the generated key.
pub const APP_KEY_FILE: &str = "appkey.json";

impl AppKey {
    /// A fresh random app id (in Tencent's 14xxxxxxxx range) and a 256-bit hex key.
    pub fn generate() -> Self {
        use rand::Rng as _;
        let mut rng = rand::rng();
        let bytes: [u8; 32] = rng.random();
        let secret_key = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            sdk_app_id: rng.random_range(1_400_000_000..1_500_000_000),
            secret_key,
        }
    }

    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(APP_KEY_FILE)
    }

    /// Read the key kept in `data_dir`.
    pub fn load(data_dir: &Path) -> io::Result<Self> {
        let path = Self::path(data_dir);
        let text = std::fs::read_to_string(&path)?;
        serde_json::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }

    /// Read the key kept in `data_dir`, or generate one and keep it there (mode 0600).
    pub fn load_or_create(data_dir: &Path) -> io::Result<Self> {
        match Self::load(data_dir) {
            Ok(key) => {
                crate::private_fs::tighten(&Self::path(data_dir))?;
                return Ok(key);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        crate::private_fs::create_dir_all(data_dir)?;
        let key = Self::generate();
        let path = Self::path(data_dir);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(mut file) => {
                let text = serde_json::to_string_pretty(&key).map_err(io::Error::other)?;
                file.write_all(text.as_bytes())?;
                file.sync_all()?;
                Ok(key)
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Self::load(data_dir),
            Err(e) => Err(e),
        }
    }
}

/// Why a UserSig was refused. `code()` gives the V2TIM server code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("UserSig is empty")]
    Empty,
    #[error("UserSig is malformed: {0}")]
    Malformed(String),
    #[error("UserSig expired at {expired_at} (now {now})")]
    Expired { expired_at: i64, now: i64 },
    #[error("UserSig signature does not verify with this app's key")]
    BadSignature,
    #[error("UserSig was issued for user {signed:?}, not {requested:?}")]
    WrongUser { signed: String, requested: String },
    #[error("UserSig was issued for SDKAppID {signed}, not {expected}")]
    WrongApp { signed: u64, expected: u64 },
    #[error(
        "UserSig is valid for {expire} s, longer than the {max} s this server accepts: ask for one with a shorter TLS.expire"
    )]
    LifetimeTooLong { expire: i64, max: u64 },
    #[error(
        "UserSig is issued at {issued_at}, {ahead} s ahead of the server's clock (at most {skew} s allowed): check the issuer's clock"
    )]
    IssuedInFuture {
        issued_at: i64,
        ahead: i64,
        skew: u64,
    },
}

impl SigError {
    pub fn code(&self) -> i32 {
        match self {
            SigError::Empty => codes::ERR_USER_SIG_EMPTY,
            // Reference §4 has no code of its own for these: 70003 is "UserSig check failed".
            SigError::Malformed(_)
            | SigError::LifetimeTooLong { .. }
            | SigError::IssuedInFuture { .. } => codes::ERR_USER_SIG_INVALID,
            SigError::Expired { .. } => codes::ERR_USER_SIG_EXPIRED_SVR,
            SigError::BadSignature => codes::ERR_USER_SIG_VERIFY_FAILED,
            SigError::WrongUser { .. } => codes::ERR_USER_SIG_IDENTIFIER_MISMATCH,
            SigError::WrongApp { .. } => codes::ERR_USER_SIG_SDKAPPID_MISMATCH,
        }
    }
}

/// The JSON document inside a UserSig.
#[derive(Debug, Serialize, Deserialize)]
struct SigDoc {
    #[serde(rename = "TLS.ver")]
    ver: String,
    #[serde(rename = "TLS.identifier")]
    identifier: String,
    #[serde(rename = "TLS.sdkappid")]
    sdk_app_id: u64,
    #[serde(rename = "TLS.expire")]
    expire: i64,
    #[serde(rename = "TLS.time")]
    time: i64,
    #[serde(rename = "TLS.sig")]
    sig: String,
    #[serde(
        rename = "TLS.userbuf",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    userbuf: Option<String>,
}

fn mac(
    key: &AppKey,
    identifier: &str,
    time: i64,
    expire: i64,
    userbuf: Option<&str>,
) -> HmacSha256 {
    let mut content = format!(
        "TLS.identifier:{identifier}\nTLS.sdkappid:{}\nTLS.time:{time}\nTLS.expire:{expire}\n",
        key.sdk_app_id
    );
    if let Some(buf) = userbuf {
        content.push_str(&format!("TLS.userbuf:{buf}\n"));
    }
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key.secret_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(content.as_bytes());
    mac
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Sign a UserSig for `user_id`, valid for `expire_secs` from now.
pub fn gen_sig(key: &AppKey, user_id: &str, expire_secs: u64) -> String {
    gen_sig_at(key, user_id, now_secs(), expire_secs)
}

/// Sign a UserSig as if issued at `time` (unix seconds).
pub fn gen_sig_at(key: &AppKey, user_id: &str, time: i64, expire_secs: u64) -> String {
    let expire = i64::try_from(expire_secs).unwrap_or(i64::MAX);
    let sig = B64.encode(
        mac(key, user_id, time, expire, None)
            .finalize()
            .into_bytes(),
    );
    let doc = SigDoc {
        ver: "2.0".into(),
        identifier: user_id.into(),
        sdk_app_id: key.sdk_app_id,
        expire,
        time,
        sig,
        userbuf: None,
    };
    let json = serde_json::to_vec(&doc).unwrap_or_default();
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(&json);
    let compressed = enc.finish().unwrap_or_default();
    B64.encode(compressed)
        .replace('+', "*")
        .replace('/', "-")
        .replace('=', "_")
}

fn decode(user_sig: &str) -> Result<SigDoc, SigError> {
    if user_sig.is_empty() {
        return Err(SigError::Empty);
    }
    if user_sig.len() > MAX_ENCODED_LEN {
        return Err(SigError::Malformed(format!(
            "{} bytes, more than the {MAX_ENCODED_LEN} allowed",
            user_sig.len()
        )));
    }
    let standard = user_sig
        .replace('*', "+")
        .replace('-', "/")
        .replace('_', "=");
    let compressed = B64
        .decode(standard.as_bytes())
        .map_err(|e| SigError::Malformed(format!("not base64: {e}")))?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .take(MAX_INFLATED_LEN as u64 + 1)
        .read_to_end(&mut json)
        .map_err(|e| SigError::Malformed(format!("not zlib: {e}")))?;
    if json.len() > MAX_INFLATED_LEN {
        return Err(SigError::Malformed(format!(
            "inflates past the {MAX_INFLATED_LEN}-byte cap"
        )));
    }
    serde_json::from_slice(&json).map_err(|e| SigError::Malformed(format!("bad document: {e}")))
}

/// The SDKAppID a UserSig was issued for, read without checking the signature (a client
/// uses it to tell servers apart: one cache per SDKAppID and user, as V2TIM keeps).
pub fn sdk_app_id_of(user_sig: &str) -> Result<u64, SigError> {
    decode(user_sig).map(|doc| doc.sdk_app_id)
}

/// Check a UserSig presented by `user_id` against `key` at time `now` (unix seconds), as
/// Tencent's library does: identity, signature, expiry (see [`verify_with`] for a
/// server's further limits).
pub fn verify(key: &AppKey, user_id: &str, user_sig: &str, now: i64) -> Result<(), SigError> {
    verify_with(key, user_id, user_sig, now, &VerifyOptions::TENCENT).map(drop)
}

/// [`verify`], then `options`' limits on the sig's lifetime and issue time; says until
/// when the sig is valid.
pub fn verify_with(
    key: &AppKey,
    user_id: &str,
    user_sig: &str,
    now: i64,
    options: &VerifyOptions,
) -> Result<Verified, SigError> {
    let doc = decode(user_sig)?;
    if doc.ver != "2.0" {
        return Err(SigError::Malformed(format!(
            "version {:?}, expected \"2.0\"",
            doc.ver
        )));
    }
    if doc.sdk_app_id != key.sdk_app_id {
        return Err(SigError::WrongApp {
            signed: doc.sdk_app_id,
            expected: key.sdk_app_id,
        });
    }
    if doc.identifier != user_id {
        return Err(SigError::WrongUser {
            signed: doc.identifier,
            requested: user_id.into(),
        });
    }
    let signature = B64
        .decode(doc.sig.as_bytes())
        .map_err(|e| SigError::Malformed(format!("TLS.sig is not base64: {e}")))?;
    mac(
        key,
        &doc.identifier,
        doc.time,
        doc.expire,
        doc.userbuf.as_deref(),
    )
    .verify_slice(&signature)
    .map_err(|_| SigError::BadSignature)?;
    let ahead = doc.time.saturating_sub(now);
    if ahead > 0 && ahead.unsigned_abs() > options.clock_skew_secs {
        return Err(SigError::IssuedInFuture {
            issued_at: doc.time,
            ahead,
            skew: options.clock_skew_secs,
        });
    }
    if let Some(max) = options.max_lifetime_secs
        && doc.expire > 0
        && doc.expire.unsigned_abs() > max
    {
        return Err(SigError::LifetimeTooLong {
            expire: doc.expire,
            max,
        });
    }
    let expired_at = doc.time.saturating_add(doc.expire);
    if now > expired_at {
        return Err(SigError::Expired { expired_at, now });
    }
    Ok(Verified {
        issued_at: doc.time,
        expires_at: expired_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The app id and key from Tencent's own example (tls-sig-api-v2-python's `main`).
    fn tencent_example_key() -> AppKey {
        AppKey {
            sdk_app_id: 1_400_000_000,
            secret_key: "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e".into(),
        }
    }

    /// Made with Tencent's generator: `TLSSigAPIv2(1400000000, KEY).gen_sig("xiaojun", 86400*365*100)`
    /// (tls-sig-api-v2 1.1 from PyPI), at TLS.time 1795311461.
    const TENCENT_SIG: &str = include_str!("../tests/fixtures/usersig_tencent_xiaojun.txt");
    /// Same generator, `gen_sig_with_userbuf("xiaojun", 86400*365*100, b"abc")`.
    const TENCENT_SIG_USERBUF: &str =
        include_str!("../tests/fixtures/usersig_tencent_xiaojun_userbuf.txt");
    const FIXTURE_TIME: i64 = 1_795_311_461;

    #[test]
    fn accepts_a_sig_made_by_tencents_generator() {
        let key = tencent_example_key();
        assert_eq!(
            verify(&key, "xiaojun", TENCENT_SIG.trim(), FIXTURE_TIME + 10),
            Ok(())
        );
        assert_eq!(
            verify(
                &key,
                "xiaojun",
                TENCENT_SIG_USERBUF.trim(),
                FIXTURE_TIME + 10
            ),
            Ok(())
        );
    }

    #[test]
    fn tencent_sig_refused_for_other_user_app_key_and_after_expiry() {
        let key = tencent_example_key();
        let sig = TENCENT_SIG.trim();
        let err = verify(&key, "bob", sig, FIXTURE_TIME).unwrap_err();
        assert_eq!(err.code(), 70013);
        let other_app = AppKey {
            sdk_app_id: 1_400_000_001,
            ..key.clone()
        };
        assert_eq!(
            verify(&other_app, "xiaojun", sig, FIXTURE_TIME)
                .unwrap_err()
                .code(),
            70014
        );
        let other_key = AppKey {
            secret_key: "not-the-key".into(),
            ..key.clone()
        };
        assert_eq!(
            verify(&other_key, "xiaojun", sig, FIXTURE_TIME)
                .unwrap_err()
                .code(),
            70009
        );
        let after = FIXTURE_TIME + 86_400 * 365 * 100 + 1;
        assert_eq!(
            verify(&key, "xiaojun", sig, after).unwrap_err().code(),
            70001
        );
    }

    #[test]
    fn own_sigs_round_trip_and_expire() {
        let key = AppKey::generate();
        let sig = gen_sig_at(&key, "alice", 1_000, 60);
        assert_eq!(verify(&key, "alice", &sig, 1_000), Ok(()));
        assert_eq!(verify(&key, "alice", &sig, 1_060), Ok(()));
        assert!(matches!(
            verify(&key, "alice", &sig, 1_061),
            Err(SigError::Expired { .. })
        ));
        assert!(
            !sig.contains(['+', '/', '=']),
            "uses the URL-safe variant: {sig}"
        );
    }

    #[test]
    fn a_server_caps_the_lifetime_and_refuses_sigs_from_the_future() {
        let key = AppKey::generate();
        let opts = VerifyOptions {
            max_lifetime_secs: Some(600),
            clock_skew_secs: 30,
        };
        let ok = gen_sig_at(&key, "alice", 1_000, 600);
        assert_eq!(
            verify_with(&key, "alice", &ok, 1_000, &opts),
            Ok(Verified {
                issued_at: 1_000,
                expires_at: 1_600
            })
        );
        let long = gen_sig_at(&key, "alice", 1_000, 601);
        let err = verify_with(&key, "alice", &long, 1_000, &opts).unwrap_err();
        assert_eq!(err.code(), 70003);
        assert!(err.to_string().contains("600 s"), "{err}");
        // Within the skew it is fine; beyond it, refused.
        let early = gen_sig_at(&key, "alice", 1_030, 60);
        assert!(verify_with(&key, "alice", &early, 1_000, &opts).is_ok());
        let future = gen_sig_at(&key, "alice", 1_031, 60);
        let err = verify_with(&key, "alice", &future, 1_000, &opts).unwrap_err();
        assert_eq!(err.code(), 70003);
        assert!(err.to_string().contains("31 s ahead"), "{err}");
        // Tencent's own checks know neither limit.
        assert_eq!(verify(&key, "alice", &long, 1_000), Ok(()));
        assert_eq!(verify(&key, "alice", &future, 1_000), Ok(()));
        // The policy is checked only on a genuine sig.
        let forger = AppKey {
            secret_key: "guess".into(),
            ..key.clone()
        };
        let forged = gen_sig_at(&forger, "alice", 9_999_999, 10_000_000);
        assert_eq!(
            verify_with(&key, "alice", &forged, 1_000, &opts)
                .unwrap_err()
                .code(),
            70009
        );
    }

    #[test]
    fn forged_sig_with_edited_document_is_refused() {
        let key = AppKey::generate();
        // Re-sign the document for another user with a different key, then present it.
        let forger = AppKey {
            sdk_app_id: key.sdk_app_id,
            secret_key: "guess".into(),
        };
        let forged = gen_sig_at(&forger, "alice", 1_000, 60);
        assert_eq!(
            verify(&key, "alice", &forged, 1_000).unwrap_err().code(),
            70009
        );
    }

    #[test]
    fn garbage_is_refused_with_codes_not_panics() {
        let key = AppKey::generate();
        assert_eq!(verify(&key, "a", "", 0).unwrap_err().code(), 70002);
        for junk in [
            "%%%",
            "abc",
            "eJw_",
            "\u{0}\u{1}",
            "eJzLSM3JyVcozy_KSQEAGgQEXQ__",
        ] {
            assert_eq!(
                verify(&key, "a", junk, 0).unwrap_err().code(),
                70003,
                "{junk:?}"
            );
        }
        let huge = "A".repeat(MAX_ENCODED_LEN + 1);
        assert_eq!(verify(&key, "a", &huge, 0).unwrap_err().code(), 70003);
    }

    #[test]
    fn zlib_bomb_is_capped() {
        // 1 MiB of spaces compresses to ~1 KB: under the encoded cap, far over the inflate cap.
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b' '; 1 << 20]).unwrap();
        let bomb = B64
            .encode(enc.finish().unwrap())
            .replace('+', "*")
            .replace('/', "-")
            .replace('=', "_");
        assert!(bomb.len() < MAX_ENCODED_LEN);
        let err = verify(&AppKey::generate(), "a", &bomb, 0).unwrap_err();
        assert_eq!(err.code(), 70003);
        assert!(err.to_string().contains("cap"), "{err}");
    }

    #[test]
    fn app_key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = AppKey::load_or_create(dir.path()).unwrap();
        let second = AppKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first, second);
        assert_eq!(AppKey::load(dir.path()).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(AppKey::path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn corrupt_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(AppKey::path(dir.path()), "{not json").unwrap();
        let err = AppKey::load_or_create(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
