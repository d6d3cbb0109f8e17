//! What the server's `wss://` and the SDK's TLS client share: the crypto provider and
//! reading PEM in words.

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem;

/// The crypto behind every TLS connection, server and client: *ring* (pure Rust and
/// assembly, nothing to build beyond a C compiler). Given explicitly, so no process-wide
/// default has to be installed first.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            // Deprecated only for lacking post-quantum key exchange (which needs aws-lc-rs
            // and its large C build); X25519 and the TLS 1.3 / 1.2 suites are all there.
            #[allow(deprecated)]
            let ring = rustls::crypto::ring::default_provider();
            Arc::new(ring)
        })
        .clone()
}

/// What is wrong with a PEM text, in words (never the bytes it holds).
pub(crate) fn pem_problem(error: pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { .. } => "a -----BEGIN block has no -----END line".into(),
        pem::Error::IllegalSectionStart { .. } => "a -----BEGIN line is malformed".into(),
        pem::Error::Base64Decode(_) => "the base64 text inside a block is damaged".into(),
        pem::Error::NoItemsFound => "it holds no PEM block".into(),
        other => other.to_string(),
    }
}

/// Does the PEM text hold a block whose label ends with `label` (`PRIVATE KEY`, …)?
pub(crate) fn holds_block(pem: &[u8], label: &str) -> bool {
    let needle = format!("{label}-----");
    pem.windows(needle.len()).any(|w| w == needle.as_bytes())
}
