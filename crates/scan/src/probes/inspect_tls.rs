//! The TLS client every probe uses to look at a server's certificate: it accepts any
//! certificate, because a scanner records what a server presents and sends nothing secret over
//! the channel. The handshake's own signatures are still verified, so the facts come from a
//! real TLS session. One copy for the TLS, web, DICOM and PostgreSQL probes.

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

/// Which application protocol the client offers by ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alpn {
    /// None (DICOM, PostgreSQL, bare TLS).
    None,
    /// `http/1.1` only: the web probe speaks nothing else.
    Http11,
}

/// A connector that accepts any certificate; `None` only if rustls refuses the configuration.
pub(crate) fn connector(alpn: Alpn) -> Option<TlsConnector> {
    static PLAIN: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    static HTTP: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    let cell = match alpn {
        Alpn::None => &PLAIN,
        Alpn::Http11 => &HTTP,
    };
    cell.get_or_init(|| {
        let provider = Arc::new(ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .ok()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth();
        if alpn == Alpn::Http11 {
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
        }
        Some(Arc::new(config))
    })
    .clone()
    .map(TlsConnector::from)
}

#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, tokio_rustls::rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_connectors_build() {
        assert!(connector(Alpn::None).is_some());
        assert!(connector(Alpn::Http11).is_some());
    }
}
