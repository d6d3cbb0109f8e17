//! Certificates made in the test (rcgen): a private CA, server certificates it signs, and
//! the PEM files `termim serve --tls-cert … --tls-key …` reads.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use termim::server::TlsFiles;

/// A certificate authority of the test's own.
pub struct TestCa {
    /// Its certificate, PEM: what a client is given as `--ca-cert` / `ca_cert_pem`.
    pub pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A server certificate and its key, PEM.
pub struct ServerCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses), CN the first one,
    /// valid from yesterday for a year.
    pub fn server_cert(&self, names: &[&str]) -> ServerCert {
        let now = std::time::SystemTime::now();
        let day = std::time::Duration::from_secs(86_400);
        self.server_cert_valid(names, now - day, now + 365 * day)
    }

    /// The CA's own certificate and key, as a server wrongly serving them would.
    pub fn as_server_cert(&self) -> ServerCert {
        ServerCert {
            cert_pem: self.pem.clone(),
            key_pem: self.key_pem.clone(),
        }
    }

    /// One whose validity ended long ago (2001).
    pub fn expired_server_cert(&self, names: &[&str]) -> ServerCert {
        let secs = |y: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(y);
        // 2000-01-01 to 2001-01-01.
        self.server_cert_valid(names, secs(946_684_800), secs(978_307_200))
    }

    fn server_cert_valid(
        &self,
        names: &[&str],
        not_before: std::time::SystemTime,
        not_after: std::time::SystemTime,
    ) -> ServerCert {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("server params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.issuer).expect("server cert");
        ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl ServerCert {
    /// Write `cert.pem` and `key.pem` into `dir`.
    pub fn write(&self, dir: &Path) -> TlsFiles {
        std::fs::create_dir_all(dir).expect("cert dir");
        let files = TlsFiles {
            cert_path: dir.join("cert.pem"),
            key_path: dir.join("key.pem"),
        };
        std::fs::write(&files.cert_path, &self.cert_pem).expect("write cert");
        std::fs::write(&files.key_path, &self.key_pem).expect("write key");
        files
    }
}
