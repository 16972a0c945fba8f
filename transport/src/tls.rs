//! TLS configuration: self-signed certificates from an ed25519 identity, and key pinning.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use schemas::{Keypair, PublicKey};
use std::sync::Arc;
use std::time::Duration;

/// Errors building TLS or QUIC configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not encode the identity key: {0}")]
    Key(String),
    #[error("could not make the certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("QUIC configuration: {0}")]
    Quic(String),
    #[error("could not bind a UDP socket: {0}")]
    Bind(#[from] std::io::Error),
}

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn transport_config() -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    transport.max_concurrent_bidi_streams(1024u32.into());
    transport.keep_alive_interval(Some(Duration::from_secs(10)));
    if let Ok(timeout) = quinn::IdleTimeout::try_from(Duration::from_secs(60)) {
        transport.max_idle_timeout(Some(timeout));
    }
    transport
}

/// Server configuration presenting a self-signed certificate for `identity`'s key.
pub fn server_config(identity: &Keypair, alpn: &[u8]) -> Result<quinn::ServerConfig, TlsError> {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let signing = ed25519_dalek::SigningKey::from_bytes(&identity.secret_seed());
    let pkcs8 = signing
        .to_pkcs8_der()
        .map_err(|e| TlsError::Key(e.to_string()))?;
    let pkcs8 = PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec());
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)?;
    let params = rcgen::CertificateParams::new(vec!["coverage-proof".to_string()])?;
    let cert = params.self_signed(&key_pair)?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(pkcs8))?;
    tls.alpn_protocols = vec![alpn.to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config()));
    Ok(config)
}

/// Client configuration that accepts only a server whose certificate carries `pinned`.
pub fn client_config(pinned: PublicKey, alpn: &[u8]) -> Result<quinn::ClientConfig, TlsError> {
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedKey {
            key: pinned,
            provider: provider(),
        }))
        .with_no_client_auth();
    tls.alpn_protocols = vec![alpn.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config()));
    Ok(config)
}

/// A client endpoint on an ephemeral loopback-or-any port.
pub fn client_endpoint() -> Result<quinn::Endpoint, TlsError> {
    Ok(quinn::Endpoint::client(
        "0.0.0.0:0"
            .parse()
            .map_err(|_| TlsError::Quic("bad bind address".into()))?,
    )?)
}

/// Accepts exactly one ed25519 key, whatever the certificate's names or dates.
#[derive(Debug)]
struct PinnedKey {
    key: PublicKey,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedKey {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|e| rustls::Error::General(format!("unparsable server certificate: {e}")))?;
        let spki = cert.subject_public_key_info();
        let mut expected = ED25519_SPKI_PREFIX.to_vec();
        expected.extend_from_slice(self.key.as_bytes());
        if spki.as_ref() != expected.as_slice() {
            let found = spki
                .as_ref()
                .strip_prefix(&ED25519_SPKI_PREFIX[..])
                .and_then(|k| PublicKey::from_slice(k).ok())
                .map_or_else(|| "a non-ed25519 key".to_string(), |k| k.to_string());
            return Err(rustls::Error::General(format!(
                "server key {found} does not match the pinned key {}",
                self.key
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not supported".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}
