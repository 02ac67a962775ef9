//! TLS for llmb, in one place: the client configuration every connection to a server
//! shares (the system's roots and `SSL_CERT_FILE`/`SSL_CERT_DIR`, or `--insecure`), the
//! embedded engine's server configuration from PEM files, a certificate authority and
//! server certificate made on the spot (tests and `llmb selfbench --tls`), and one line for
//! a certificate that did not verify; and the client's byte stream, plain TCP or TLS. rustls with the *ring* provider, HTTP/1.1 by ALPN.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

pub use rustls;
pub use rustls_pki_types::ServerName;
#[cfg(feature = "tokio")]
pub use stream::Stream;
#[cfg(feature = "tokio")]
pub use tokio_rustls;

#[cfg(feature = "tokio")]
mod stream;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// No root certificate could be loaded and verification is on.
    #[error("no trusted root certificates found{detail}: install the ca-certificates package, point SSL_CERT_FILE at a PEM bundle, or pass --insecure to skip verification")]
    NoRoots {
        /// What went wrong while loading, if anything.
        detail: String,
    },
    /// A PEM file could not be read.
    #[error("cannot read {what} from {path}: {message}")]
    Pem {
        /// Certificate or key.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
    /// Certificate generation failed.
    #[cfg(feature = "pki")]
    #[error("cannot make a test certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The host is not a DNS name or IP address.
    #[error("`{0}` is not a host name a certificate can name")]
    BadName(String),
}

/// rustls's *ring* provider. rustls 0.23.48 marks it deprecated for lacking post-quantum
/// key exchange; a benchmark's connections to its own servers do not need that, and the
/// alternative (aws-lc-rs) adds minutes to a two-core build.
///
/// Key exchange offers X25519 first: the provider's default puts P-384 first, whose *ring*
/// arithmetic cost about 3 ms of CPU per handshake here, a third more client CPU per token
/// over a short paced run at concurrency 64.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    Arc::new(CryptoProvider {
        kx_groups: vec![X25519, SECP256R1, SECP384R1],
        ..rustls::crypto::ring::default_provider()
    })
}

/// How a client checks the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// Against the system's roots (or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set).
    #[default]
    Roots,
    /// Not at all (`--insecure`): the connection is encrypted, the peer unauthenticated.
    Skip,
}

/// The client configuration for `verify`, speaking HTTP/1.1 (ALPN `http/1.1`).
///
/// # Errors
/// [`TlsError::NoRoots`] when verification is on and no root certificate loads.
pub fn client_config(verify: Verify) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = match verify {
        Verify::Roots => builder
            .with_root_certificates(system_roots()?)
            .with_no_client_auth(),
        Verify::Skip => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The system's roots, or those `SSL_CERT_FILE`/`SSL_CERT_DIR` name.
fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let detail = found
            .errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        return Err(TlsError::NoRoots { detail });
    }
    Ok(roots)
}

/// The name a certificate must carry for `host` (a DNS name or an IP address; IPv6 with or
/// without brackets).
///
/// # Errors
/// [`TlsError::BadName`] for anything else.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned()).map_err(|_| TlsError::BadName(host.to_owned()))
}

/// A verifier that accepts any certificate but still checks the handshake's signatures
/// (so the connection is at least consistent with the certificate it was shown).
#[derive(Debug)]
struct AcceptAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A server configuration from a PEM certificate chain (leaf first) and a PEM private key,
/// speaking HTTP/1.1.
///
/// # Errors
/// A file that does not read or hold what it should, named.
pub fn server_config(cert_pem: &Path, key_pem: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let pem_err = |what, path: &Path, message: String| TlsError::Pem {
        what,
        path: path.display().to_string(),
        message,
    };
    let chain = CertificateDer::pem_file_iter(cert_pem)
        .map_err(|e| pem_err("certificates", cert_pem, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err("certificates", cert_pem, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem_err(
            "certificates",
            cert_pem,
            "no CERTIFICATE block".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_pem)
        .map_err(|e| pem_err("a private key", key_pem, e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A certificate authority and a server certificate it signed, as PEM text.
#[cfg(feature = "pki")]
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The authority's certificate: what a client trusts (`SSL_CERT_FILE`).
    pub ca_pem: String,
    /// The server's certificate.
    pub cert_pem: String,
    /// The server's private key.
    pub key_pem: String,
}

#[cfg(feature = "pki")]
impl TestPki {
    /// A fresh authority and a server certificate for `names` (DNS names or IP addresses).
    ///
    /// # Errors
    /// Key generation or signing failed.
    pub fn new(names: &[&str]) -> Result<TestPki, TlsError> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: two authorities made in one test stay apart (a certificate
        // from the other one is then `UnknownIssuer`, not a bad signature).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        ca.distinguished_name
            .push(DnType::CommonName, format!("llmb test authority {nanos}"));
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut leaf = CertificateParams::new(names)?;
        leaf.distinguished_name
            .push(DnType::CommonName, "llmb test server");
        let key = KeyPair::generate()?;
        let cert = leaf.signed_by(&key, &ca)?;
        Ok(TestPki {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Writes `ca.pem`, `cert.pem` and `key.pem` into `dir` and returns their paths.
    ///
    /// # Errors
    /// The folder cannot be written.
    pub fn write(&self, dir: &Path) -> std::io::Result<[std::path::PathBuf; 3]> {
        std::fs::create_dir_all(dir)?;
        let paths = [
            dir.join("ca.pem"),
            dir.join("cert.pem"),
            dir.join("key.pem"),
        ];
        for (p, text) in paths
            .iter()
            .zip([&self.ca_pem, &self.cert_pem, &self.key_pem])
        {
            std::fs::write(p, text)?;
        }
        Ok(paths)
    }
}

/// When `err` (from a TLS handshake) is a certificate the client refused, a sentence for
/// the user: the host, rustls's reason, and the options that change it.
pub fn certificate_refusal(err: &std::io::Error, host: &str) -> Option<String> {
    let inner = err.get_ref()?.downcast_ref::<rustls::Error>()?;
    let reason = match inner {
        rustls::Error::InvalidCertificate(c) => {
            use rustls::CertificateError as C;
            let what = match c {
                C::UnknownIssuer => "it is signed by an authority not trusted here",
                C::BadSignature => {
                    "its signature does not match the trusted authority of that name"
                }
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    "it does not name this host"
                }
                C::Expired | C::ExpiredContext { .. } => "it has expired",
                C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet",
                C::Revoked => "it is revoked",
                _ => "it was refused",
            };
            format!("{what}: {c:?}")
        }
        rustls::Error::NoCertificatesPresented => "it presented no certificate".to_owned(),
        _ => return None,
    };
    Some(format!(
        "the TLS certificate of {host} did not verify ({reason}): trust its authority with SSL_CERT_FILE=CA.pem (or SSL_CERT_DIR), use the host name the certificate names, or pass --insecure to skip verification"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_take_dns_and_ip_hosts() {
        assert!(matches!(
            server_name("localhost"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            server_name("127.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        assert!(server_name("bad host!").is_err());
    }

    #[cfg(feature = "pki")]
    #[test]
    fn made_certificates_load_as_a_server_config() {
        let pki = TestPki::new(&["localhost", "127.0.0.1"]).unwrap();
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let dir = std::env::temp_dir().join(format!("llmb-tls-unit-{}", std::process::id()));
        let [_, cert, key] = pki.write(&dir).unwrap();
        server_config(&cert, &key).unwrap();
        // The key is not a certificate: the error names the file.
        let e = server_config(&key, &key).unwrap_err().to_string();
        assert!(e.contains("key.pem"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn insecure_needs_no_roots() {
        client_config(Verify::Skip).unwrap();
    }
}
