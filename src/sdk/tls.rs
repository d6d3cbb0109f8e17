//! `wss://` servers: which certificates are trusted (the system's roots, plus a private
//! CA given as `SdkConfig::ca_cert_pem`), and a refusal said in words.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite;

use super::error::TimError;
use crate::protocol::codes;

/// The TLS client settings for `url`: `Some` for a `wss://` URL. A CA given for a `ws://`
/// URL is still checked, so a broken one is reported whatever the URL.
pub(crate) fn for_url(
    url: &str,
    ca_cert_pem: Option<&str>,
) -> Result<Option<Arc<ClientConfig>>, TimError> {
    let extra = match ca_cert_pem {
        Some(pem) => parse_ca(pem)?,
        None => Vec::new(),
    };
    if !is_wss(url) {
        return Ok(None);
    }
    let mut roots = system_roots().clone();
    for cert in extra {
        roots.add(cert).map_err(|e| {
            TimError::invalid(format!(
                "the CA certificate (ca_cert_pem) cannot be used: {e}"
            ))
        })?;
    }
    let config = ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TimError::new(codes::ERR_SDK_INTERNAL_ERROR, format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

fn is_wss(url: &str) -> bool {
    url.get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("wss://"))
}

fn parse_ca(pem: &str) -> Result<Vec<CertificateDer<'static>>, TimError> {
    let bad = |problem: String| {
        TimError::invalid(format!(
            "the CA certificate (ca_cert_pem) is not valid PEM: {problem}"
        ))
    };
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(crate::tls::pem_problem(e)))?;
    if certs.is_empty() {
        return Err(bad(
            "it holds no -----BEGIN CERTIFICATE----- block".to_string()
        ));
    }
    Ok(certs)
}

/// The system's trusted roots (read once per process); where the system has none, the
/// Mozilla roots built in.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!("reading the system's root certificates: {error}");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "system root certificates");
        if roots.is_empty() {
            tracing::info!("no system root certificates found; using the built-in ones");
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        roots
    })
}

/// The sentence for a connect failure that TLS explains, else `None`.
pub(crate) fn explain(url: &str, error: &tungstenite::Error) -> Option<String> {
    if let tungstenite::Error::Tls(tungstenite::error::TlsError::InvalidDnsName) = error {
        return Some("TLS: the URL's host is not a valid server name".to_string());
    }
    let tungstenite::Error::Io(io) = error else {
        return plain_to_tls_hint(url, error);
    };
    let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        if is_wss(url) && io.kind() == std::io::ErrorKind::UnexpectedEof {
            return Some(
                "TLS: the server did not answer in TLS: it closed the connection during the \
                 handshake (does it serve plain ws://?)"
                    .to_string(),
            );
        }
        return plain_to_tls_hint(url, error);
    };
    Some(match tls {
        rustls::Error::InvalidCertificate(cert) => certificate_refused(url, cert),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "TLS: the server did not answer in TLS (does it serve plain ws://?)".to_string()
        }
        other => format!("TLS: the secure connection failed: {other}"),
    })
}

fn certificate_refused(url: &str, error: &CertificateError) -> String {
    match error {
        CertificateError::UnknownIssuer => "TLS: the server's certificate is not trusted \
             (UnknownIssuer); pass --ca-cert (SdkConfig::ca_cert_pem) if it is signed by a \
             private CA"
            .to_string(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "TLS: the server's certificate has expired (Expired); the server needs a renewed \
             certificate"
                .to_string()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "TLS: the server's certificate is not valid yet (NotValidYet); check the clocks \
             of this machine and of the server"
                .to_string()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!(
                "TLS: the server's certificate is not valid for {} (NotValidForName); connect \
                 with a name the certificate carries",
                host_of(url)
            )
        }
        CertificateError::Revoked => {
            "TLS: the server's certificate has been revoked (Revoked)".to_string()
        }
        CertificateError::BadSignature => {
            "TLS: the server's certificate has a bad signature (BadSignature)".to_string()
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "TLS: the server's certificate is not meant for a TLS server (InvalidPurpose)"
                .to_string()
        }
        CertificateError::Other(other) if other.to_string().contains("CaUsedAsEndEntity") => {
            "TLS: the server presents a CA certificate as its own (CaUsedAsEndEntity); it \
             should serve a certificate that the CA signed"
                .to_string()
        }
        CertificateError::Other(other) => {
            let why: String = other.to_string().chars().take(100).collect();
            format!("TLS: the server's certificate was refused ({why})")
        }
        other => format!(
            "TLS: the server's certificate was refused ({})",
            short(other)
        ),
    }
}

/// The variant's name alone (its context can be long).
fn short(error: &CertificateError) -> String {
    let full = format!("{error:?}");
    full.split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The host part of a URL, bounded (it goes into a sentence).
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.find(']') {
        Some(end) if authority.starts_with('[') => &authority[..=end],
        _ => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    host.chars().take(100).collect()
}

/// A `ws://` URL whose server answered the handshake with something else than HTTP, or
/// broke it off, may be a `wss://` one (a TLS server answers HTTP with a TLS alert).
fn plain_to_tls_hint(url: &str, error: &tungstenite::Error) -> Option<String> {
    use tungstenite::error::ProtocolError;
    if is_wss(url) {
        return None;
    }
    let broke_off = match error {
        tungstenite::Error::Protocol(
            ProtocolError::HandshakeIncomplete | ProtocolError::HttparseError(_),
        ) => true,
        tungstenite::Error::HttpFormat(_) => true,
        tungstenite::Error::Io(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    };
    broke_off.then(|| {
        format!(
            "the WebSocket handshake failed ({error}); if the server serves TLS, use a wss:// URL"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_urls() {
        assert_eq!(host_of("wss://chat.example.org:7878/x"), "chat.example.org");
        assert_eq!(host_of("wss://127.0.0.1:7878"), "127.0.0.1");
        assert_eq!(host_of("wss://[::1]:7878"), "[::1]");
        assert_eq!(host_of("wss://example.org"), "example.org");
        assert_eq!(host_of("wss://[::1]/"), "[::1]");
    }

    #[test]
    fn a_broken_ca_is_refused_in_words() {
        let err = for_url("wss://x:1", Some("not pem")).unwrap_err();
        assert_eq!(err.code, codes::ERR_INVALID_PARAMETERS);
        assert!(
            err.desc.contains("no -----BEGIN CERTIFICATE"),
            "{}",
            err.desc
        );
        let err = for_url(
            "ws://x:1",
            Some("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"),
        )
        .unwrap_err();
        assert!(err.desc.contains("not valid PEM"), "{}", err.desc);
    }

    #[test]
    fn only_wss_gets_a_tls_config() {
        assert!(for_url("ws://x:1", None).unwrap().is_none());
        assert!(for_url("WSS://x:1", None).unwrap().is_some());
    }
}
