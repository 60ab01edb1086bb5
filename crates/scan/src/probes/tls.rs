//! The TLS probe: which protocol version and cipher a server negotiates and which certificate it
//! presents — and the TLS machinery the web probe uses for HTTPS.
//!
//! rustls (ring provider) does the handshake with a verifier that accepts any certificate: a
//! scanner inspects certificates, it does not trust them, and it sends nothing secret. rustls
//! speaks TLS 1.2 and 1.3 only; when its handshake fails the probe dials once more and sends the
//! hand-built TLS 1.0–1.2 ClientHello of [`medsurface_proto::tls`], reads the server's first
//! flight (ServerHello and Certificate travel in clear text before TLS 1.3) and closes: that is
//! how TLS 1.0-only devices get their certificate read. Every read is capped and every wait has
//! a deadline; facts are written by `medsurface_proto::tls::write_details`.
//!
//! The registered [`TlsProbe`] claims ports whose protocol always runs inside TLS but that no
//! other probe speaks (LDAPS, IMAPS, …); HTTPS ports belong to the web probe, which records the
//! same `tls.*` keys before it speaks HTTP, and 2762 belongs to the DICOM probe.

use std::net::SocketAddr;

use medsurface_model::Details;
use medsurface_proto::tls::{self as wire, CertFacts, TlsFacts};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;

use super::{Probe, ProbeContext, ProbeFuture, ProbeOutput};
use crate::probes::inspect_tls::{connector, Alpn};

/// Ports whose protocol runs inside TLS from the first byte and that no other probe claims:
/// SMTPS, LDAPS, IMAPS, POP3S, SIPS, syslog over TLS.
pub const TLS_ONLY_PORTS: &[u16] = &[465, 636, 993, 995, 5061, 6514];

/// Most bytes of a legacy server flight read (certificate chains of a few KiB; 64 KiB is ample).
const FLIGHT_CAP: usize = 64 * 1024;

/// Records the TLS facts of services on [`TLS_ONLY_PORTS`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsProbe;

impl Probe for TlsProbe {
    fn name(&self) -> &'static str {
        "tls"
    }

    fn wants(&self, port: u16) -> bool {
        TLS_ONLY_PORTS.contains(&port)
    }

    fn run<'a>(&'a self, stream: &'a mut TcpStream, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(probe(stream, ctx))
    }
}

/// Runs the TLS probe on a connected stream (the entry point tests use directly).
pub async fn probe(stream: &mut TcpStream, ctx: &ProbeContext) -> ProbeOutput {
    let budget_end = Instant::now()
        + ctx
            .probe_timeout
            .saturating_sub(super::http::BUDGET_RESERVE);
    let peer = stream.peer_addr().ok();
    let mut details = Details::new();
    let deadline = (Instant::now() + ctx.read_timeout).min(budget_end);
    let ip = peer.map_or(std::net::IpAddr::from([127, 0, 0, 1]), |p| p.ip());
    let first = handshake(&mut *stream, ip, deadline)
        .await
        .map(|(_, facts)| facts);
    // Done with the engine's connection either way; a single-threaded server waits for it.
    close_tcp(stream).await;
    let found = match (first, peer) {
        (Ok(facts), _) => Some(facts),
        (Err(_), Some(peer)) => match legacy(peer, ctx, budget_end).await {
            Ok(facts) => Some(facts),
            Err(e) => {
                details.insert("tls.error".into(), json!(e));
                None
            }
        },
        (Err(e), None) => {
            details.insert("tls.error".into(), json!(e));
            None
        }
    };
    match found {
        Some(facts) => {
            wire::write_details(&mut details, &facts);
            ProbeOutput {
                protocol: Some("tls".into()),
                details,
            }
        }
        None => ProbeOutput {
            protocol: None,
            details,
        },
    }
}

/// Why a TLS attempt failed, by kind.
pub type TlsFailure = &'static str;

/// A rustls handshake on `stream` (any certificate accepted), with its facts.
pub async fn handshake<S>(
    stream: S,
    peer: std::net::IpAddr,
    deadline: Instant,
) -> Result<(TlsStream<S>, TlsFacts), TlsFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connector = connector(Alpn::Http11).ok_or("tls-config")?;
    // No SNI: the probe talks to an address, and rustls sends none for an IP server name.
    let name = ServerName::IpAddress(peer.into());
    let tls = match timeout_at(deadline, connector.connect(name, stream)).await {
        Err(_) => return Err("tls-timeout"),
        Ok(Err(_)) => return Err("tls-handshake-failed"),
        Ok(Ok(tls)) => tls,
    };
    let (_, session) = tls.get_ref();
    let facts = TlsFacts {
        version: session
            .protocol_version()
            .map(|v| wire::version_name(u16::from(v))),
        cipher: session
            .negotiated_cipher_suite()
            .map(|s| wire::cipher_name(u16::from(s.suite()))),
        cert: session
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| cert_facts(c.as_ref())),
    };
    Ok((tls, facts))
}

fn cert_facts(der: &[u8]) -> Option<CertFacts> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    wire::certificate_facts(der, now).ok()
}

/// Half-closes the engine's connection after a failed handshake (bounded), so a
/// single-threaded server moves on to the next connection.
pub async fn close_tcp(stream: &mut TcpStream) {
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), stream.shutdown()).await;
}

/// The legacy handshake on a new connection to `peer` (opened by `ctx.dialer`, so it passes
/// the scan's rate limiter): hello, first flight, close.
pub async fn legacy(
    peer: SocketAddr,
    ctx: &ProbeContext,
    budget_end: Instant,
) -> Result<TlsFacts, TlsFailure> {
    if budget_end <= Instant::now() + ctx.read_timeout / 2 {
        return Err("budget");
    }
    // Through the scan's rate limiter; the probe's budget bounds the wait for a turn.
    let mut stream = match timeout_at(budget_end, ctx.dialer.connect(peer)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => return Err("connect-failed"),
        Err(_) => return Err("connect-timeout"),
    };
    let deadline = (Instant::now() + ctx.read_timeout).min(budget_end);
    legacy_on(&mut stream, deadline).await
}

/// The legacy handshake on a connected stream.
pub async fn legacy_on<S>(stream: &mut S, deadline: Instant) -> Result<TlsFacts, TlsFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hello = wire::random_legacy_client_hello().ok_or("random")?;
    match timeout_at(deadline, stream.write_all(&hello)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err("write-failed"),
        Err(_) => return Err("tls-timeout"),
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let flight = loop {
        match wire::parse_server_flight(&buf, FLIGHT_CAP) {
            Ok(Some(f)) => break f,
            Ok(None) => {}
            Err(wire::TlsError::NotTls(_)) => return Err("not-tls"),
            Err(wire::TlsError::Alert { .. }) => return Err("tls-alert"),
            Err(_) => return Err("tls-garbage"),
        }
        let room = (FLIGHT_CAP - buf.len().min(FLIGHT_CAP))
            .min(chunk.len())
            .max(1);
        match timeout_at(deadline, stream.read(&mut chunk[..room])).await {
            Err(_) => return Err("tls-timeout"),
            Ok(Ok(0)) => {
                return Err(if buf.is_empty() {
                    "closed"
                } else {
                    "tls-truncated"
                })
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(_)) => return Err("read-failed"),
        }
    };
    let _ = timeout_at(deadline, stream.shutdown()).await;
    Ok(TlsFacts {
        version: Some(wire::version_name(flight.version)),
        cipher: Some(wire::cipher_name(flight.cipher)),
        cert: flight.certificates.first().and_then(|c| cert_facts(c)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_only_tls_wrapped_ports_no_one_else_speaks() {
        for port in [80, 443, 2762, 8443, 104] {
            assert!(!TlsProbe.wants(port), "{port}");
        }
        assert!(TlsProbe.wants(636));
        let mut sorted = TLS_ONLY_PORTS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, TLS_ONLY_PORTS);
    }
}
