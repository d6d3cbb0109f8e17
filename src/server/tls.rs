//! `wss://`: the certificate and key (PEM files) loaded into a rustls acceptor, and the
//! stream a connection runs on — plain TCP, or TLS over it.
//!
//! The TLS handshake runs in each connection's own task (never in the accept loop, so a
//! slow or silent client cannot hold up accepting) and is bounded by
//! `ServerOptions::handshake_timeout` (the same bound as the WebSocket handshake after it).

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject as _};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use crate::tls::{holds_block, pem_problem};

/// Where `termim serve --tls-cert PEM --tls-key PEM` finds its certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM `CERTIFICATE` blocks).
    pub cert_path: PathBuf,
    /// Its private key (PEM: PKCS#8 `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`).
    pub key_path: PathBuf,
}

/// A certificate or key that cannot be served, said in words: which file, what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read the TLS {what} file {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the TLS {what} file {} is not valid PEM: {problem}", path.display())]
    Pem {
        what: &'static str,
        path: PathBuf,
        problem: String,
    },
    #[error("the TLS certificate file {} holds no certificate (no -----BEGIN CERTIFICATE----- block){hint}", path.display())]
    NoCertificate { path: PathBuf, hint: &'static str },
    #[error("the TLS key file {} holds no private key (no -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY block){hint}", path.display())]
    NoKey { path: PathBuf, hint: &'static str },
    #[error("the TLS certificate in {} is not a valid X.509 certificate: {problem}", path.display())]
    BadCertificate { path: PathBuf, problem: String },
    #[error("the TLS key in {} does not belong to the certificate in {} (their public keys differ)", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("the TLS key in {} cannot be used: {problem}", path.display())]
    BadKey { path: PathBuf, problem: String },
}

const SWAPPED: &str = "; it holds a private key: were --tls-cert and --tls-key swapped?";

/// The loaded certificate, ready to accept TLS connections.
pub(crate) struct ServerTls {
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    /// What the start-up line says about it: `cert CN=…, valid until YYYY-MM-DD`.
    pub summary: String,
    /// Set when the certificate is outside its validity period now.
    pub validity_warning: Option<String>,
}

impl ServerTls {
    /// Read and check both files: every problem is a [`TlsSetupError`] naming the file.
    pub fn load(files: &TlsFiles, handshake_timeout: Duration) -> Result<ServerTls, TlsSetupError> {
        let cert_pem = read("certificate", &files.cert_path)?;
        let key_pem = read("key", &files.key_path)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error("certificate", &files.cert_path, e))?;
        let Some(leaf) = chain.first() else {
            return Err(TlsSetupError::NoCertificate {
                path: files.cert_path.clone(),
                hint: if holds_block(&cert_pem, "PRIVATE KEY") {
                    SWAPPED
                } else {
                    ""
                },
            });
        };
        let about =
            describe_certificate(leaf).map_err(|problem| TlsSetupError::BadCertificate {
                path: files.cert_path.clone(),
                problem,
            })?;
        let key = match PrivateKeyDer::from_pem_slice(&key_pem) {
            Ok(key) => key,
            Err(pem::Error::NoItemsFound) => {
                return Err(TlsSetupError::NoKey {
                    path: files.key_path.clone(),
                    hint: if holds_block(&key_pem, "BEGIN CERTIFICATE") {
                        "; it holds a certificate: were --tls-cert and --tls-key swapped?"
                    } else {
                        ""
                    },
                });
            }
            Err(e) => return Err(pem_error("key", &files.key_path, e)),
        };
        let config = ServerConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::BadKey {
                path: files.key_path.clone(),
                problem: e.to_string(),
            })?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    TlsSetupError::Mismatch {
                        cert: files.cert_path.clone(),
                        key: files.key_path.clone(),
                    }
                }
                rustls::Error::InvalidCertificate(e) => TlsSetupError::BadCertificate {
                    path: files.cert_path.clone(),
                    problem: format!("{e:?}"),
                },
                other => TlsSetupError::BadKey {
                    path: files.key_path.clone(),
                    problem: other.to_string(),
                },
            })?;
        let validity_warning = about.validity_warning(&files.cert_path);
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            handshake_timeout,
            summary: about.summary(),
            validity_warning,
        })
    }

    /// The TLS handshake on a freshly accepted socket, within the handshake timeout.
    /// `None`: it failed or took too long (the socket is dropped).
    async fn accept(&self, tcp: TcpStream) -> Option<ServerStream> {
        match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => Some(ServerStream::Tls(Box::new(tls))),
            Ok(Err(e)) => {
                tracing::debug!("TLS handshake failed: {e}");
                None
            }
            Err(_) => {
                tracing::debug!("TLS handshake timed out");
                None
            }
        }
    }
}

/// The stream a connection runs on: TLS when the server has a certificate, else plain.
pub(crate) async fn wrap(tcp: TcpStream, tls: Option<&ServerTls>) -> Option<ServerStream> {
    match tls {
        Some(tls) => tls.accept(tcp).await,
        None => Some(ServerStream::Plain(tcp)),
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|source| TlsSetupError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn pem_error(what: &'static str, path: &Path, error: pem::Error) -> TlsSetupError {
    TlsSetupError::Pem {
        what,
        path: path.to_path_buf(),
        problem: pem_problem(error),
    }
}

/// What the start-up line and its warnings say about the leaf certificate.
struct CertificateAbout {
    name: String,
    not_before: i64,
    not_after: i64,
    not_after_date: String,
    not_before_date: String,
}

impl CertificateAbout {
    fn summary(&self) -> String {
        format!("cert {}, valid until {}", self.name, self.not_after_date)
    }

    fn validity_warning(&self, path: &Path) -> Option<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if now > self.not_after {
            Some(format!(
                "the TLS certificate in {} expired on {}: clients will refuse it",
                path.display(),
                self.not_after_date
            ))
        } else if now < self.not_before {
            Some(format!(
                "the TLS certificate in {} is not valid before {}: clients will refuse it until then",
                path.display(),
                self.not_before_date
            ))
        } else {
            None
        }
    }
}

/// Its subject's CN (else its first DNS name) and validity, from the DER.
fn describe_certificate(der: &CertificateDer<'_>) -> Result<CertificateAbout, String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| e.to_string())?;
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(|cn| format!("CN={}", printable(cn)));
    let dns_name = || {
        let san = cert.subject_alternative_name().ok().flatten()?;
        san.value.general_names.iter().find_map(|n| match n {
            GeneralName::DNSName(name) => Some(format!("DNS={}", printable(name))),
            GeneralName::IPAddress(_) => Some("for an IP address".to_string()),
            _ => None,
        })
    };
    let validity = cert.validity();
    Ok(CertificateAbout {
        name: common_name
            .or_else(dns_name)
            .unwrap_or_else(|| "without a name".to_string()),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        not_after_date: validity.not_after.to_datetime().date().to_string(),
        not_before_date: validity.not_before.to_datetime().date().to_string(),
    })
}

/// A name from the certificate, bounded and without control characters, for the log.
fn printable(name: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = name.chars().filter(|c| !c.is_control()).take(MAX).collect();
    if name.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// A connection's byte stream: plain TCP or TLS over it.
pub(crate) enum ServerStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl AsyncRead for ServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ServerStream::Plain(s) => s.is_write_vectored(),
            ServerStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
