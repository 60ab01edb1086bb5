//! TLS facts: the certificate a server presents, the version and cipher it chose, and the
//! legacy handshake that reads them from servers rustls cannot talk to.
//!
//! Old medical devices speak TLS 1.0 or 1.1 only, which rustls refuses. For them the probe sends
//! the [`legacy_client_hello`] built here and reads the server's first flight: until TLS 1.3 the
//! ServerHello and Certificate messages travel in clear text, so [`parse_server_flight`] gets
//! everything the probe wants before any key exchange, and the probe closes the connection.
//! Records are framed by hand (a declared length is checked against the limit before it is
//! waited for); handshake messages are decoded with `tls-parser`; certificates with
//! `x509-parser`. [`write_details`] is the one writer of `tls.*` keys, for live probes and
//! importers alike.

use medsurface_model::text::printable;
use medsurface_model::Details;
use serde_json::json;
use tls_parser::{TlsMessage, TlsMessageHandshake};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Record header: type, version, length.
const RECORD_HEADER: usize = 5;
/// Largest TLSCiphertext fragment the RFC allows (2^14 + 2048).
const MAX_RECORD: usize = 16384 + 2048;
/// Most bytes of DN or SAN text kept.
const TEXT_CAP: usize = 512;
const MAX_SANS: usize = 64;

/// Why a server flight could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("not a TLS record (first byte {0:#04x})")]
    NotTls(u8),
    #[error("a TLS record declares {declared} bytes, more than {MAX_RECORD}")]
    RecordTooLarge { declared: usize },
    #[error("the server flight is longer than {limit} bytes")]
    FlightTooLarge { limit: usize },
    #[error("the server sent alert {level}/{description}")]
    Alert { level: u8, description: u8 },
    #[error("malformed handshake message")]
    BadHandshake,
    #[error("malformed certificate")]
    BadCertificate,
}

impl TlsError {
    /// A stable short name, recorded as an outcome detail.
    pub fn kind(&self) -> String {
        match self {
            TlsError::NotTls(_) => "not-tls".into(),
            TlsError::RecordTooLarge { .. } => "record-too-large".into(),
            TlsError::FlightTooLarge { .. } => "flight-too-large".into(),
            TlsError::Alert { description, .. } => format!("alert-{description}"),
            TlsError::BadHandshake => "bad-handshake".into(),
            TlsError::BadCertificate => "bad-certificate".into(),
        }
    }
}

/// Cipher suites offered by the legacy hello: what TLS 1.0-era servers choose from.
const LEGACY_SUITES: &[u16] = &[
    0xc014, 0xc013, 0xc00a, 0xc009, // ECDHE_{RSA,ECDSA}_WITH_AES_{256,128}_CBC_SHA
    0x0039, 0x0033, // DHE_RSA_WITH_AES_{256,128}_CBC_SHA
    0x0035, 0x002f, // RSA_WITH_AES_{256,128}_CBC_SHA
    0xc012, 0x0016, 0x000a, // 3DES
    0x0005, 0x0004, // RC4 (still found on devices)
    0x003d, 0x003c, 0x009d, 0x009c, 0xc030, 0xc02f, // TLS 1.2 suites rustls does not offer
];

/// A ClientHello offering TLS 1.0 up to 1.2 with the legacy suites, no SNI (the probe talks to
/// an address), the groups and point formats ECDHE needs, and the renegotiation extension.
/// `random` is the client random (32 bytes from the caller, so this stays a pure function).
pub fn legacy_client_hello(random: &[u8; 32]) -> Vec<u8> {
    let mut ext = Vec::new();
    // supported_groups: secp256r1, secp384r1
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x18]);
    // ec_point_formats: uncompressed
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms (TLS 1.2 servers): rsa_pkcs1_sha256, ecdsa_secp256r1_sha256, rsa_pkcs1_sha1, ecdsa_sha1
    ext.extend_from_slice(&[
        0x00, 0x0d, 0x00, 0x0a, 0x00, 0x08, 0x04, 0x01, 0x04, 0x03, 0x02, 0x01, 0x02, 0x03,
    ]);
    // renegotiation_info (empty)
    ext.extend_from_slice(&[0xff, 0x01, 0x00, 0x01, 0x00]);

    let mut body = vec![0x03, 0x03]; // client_version: TLS 1.2 (servers pick their highest ≤ it)
    body.extend_from_slice(random);
    body.push(0); // session id
    body.extend_from_slice(&((LEGACY_SUITES.len() * 2) as u16).to_be_bytes());
    for s in LEGACY_SUITES {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);

    let mut hs = vec![1u8];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    // Record version 1.0: the most tolerant value for old stacks.
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// [`legacy_client_hello`] with a fresh client random; `None` when the system has no entropy.
pub fn random_legacy_client_hello() -> Option<Vec<u8>> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).ok()?;
    Some(legacy_client_hello(&random))
}

/// What a server's first flight said, before any key exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFlight {
    pub version: u16,
    pub cipher: u16,
    /// DER certificates, leaf first.
    pub certificates: Vec<Vec<u8>>,
}

/// Reads a server flight from the start of `buf`: `Ok(None)` needs more bytes; `Ok(Some)` once
/// the ServerHello and the Certificate (or ServerHelloDone) have been read. At most `limit`
/// bytes are looked at.
pub fn parse_server_flight(buf: &[u8], limit: usize) -> Result<Option<ServerFlight>, TlsError> {
    let mut handshake = Vec::new();
    let mut pos = 0;
    let mut hello: Option<(u16, u16)> = None;
    loop {
        if buf.len() - pos < RECORD_HEADER {
            break;
        }
        let ty = buf[pos];
        if !(20..=23).contains(&ty) || buf[pos + 1] != 3 {
            return Err(TlsError::NotTls(ty));
        }
        let len = u16::from_be_bytes([buf[pos + 3], buf[pos + 4]]) as usize;
        if len > MAX_RECORD {
            return Err(TlsError::RecordTooLarge { declared: len });
        }
        if pos + RECORD_HEADER + len > limit {
            return Err(TlsError::FlightTooLarge { limit });
        }
        if buf.len() < pos + RECORD_HEADER + len {
            break;
        }
        let payload = &buf[pos + RECORD_HEADER..pos + RECORD_HEADER + len];
        pos += RECORD_HEADER + len;
        match ty {
            21 if payload.len() >= 2 => {
                return Err(TlsError::Alert {
                    level: payload[0],
                    description: payload[1],
                })
            }
            22 => handshake.extend_from_slice(payload),
            _ => continue,
        }
        // Decode every complete handshake message gathered so far.
        let mut hs = &handshake[..];
        while hs.len() >= 4 {
            let mlen = u32::from_be_bytes([0, hs[1], hs[2], hs[3]]) as usize;
            if mlen > limit {
                return Err(TlsError::FlightTooLarge { limit });
            }
            if hs.len() < 4 + mlen {
                break;
            }
            let (msg, rest) = hs.split_at(4 + mlen);
            hs = rest;
            let parsed = tls_parser::parse_tls_message_handshake(msg)
                .map_err(|_| TlsError::BadHandshake)?
                .1;
            match parsed {
                TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)) => {
                    hello = Some((sh.version.0, sh.cipher.0));
                }
                TlsMessage::Handshake(TlsMessageHandshake::Certificate(c)) => {
                    let (version, cipher) = hello.ok_or(TlsError::BadHandshake)?;
                    return Ok(Some(ServerFlight {
                        version,
                        cipher,
                        certificates: c.cert_chain.iter().map(|c| c.data.to_vec()).collect(),
                    }));
                }
                TlsMessage::Handshake(TlsMessageHandshake::ServerDone(_)) => {
                    let (version, cipher) = hello.ok_or(TlsError::BadHandshake)?;
                    return Ok(Some(ServerFlight {
                        version,
                        cipher,
                        certificates: Vec::new(),
                    }));
                }
                _ => {}
            }
        }
        let used = handshake.len() - hs.len();
        handshake.drain(..used);
    }
    if pos > limit || buf.len() >= limit {
        return Err(TlsError::FlightTooLarge { limit });
    }
    Ok(None)
}

/// `TLSv1.0` … `TLSv1.3`, or the number in hex.
pub fn version_name(version: u16) -> String {
    match version {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1.0".into(),
        0x0302 => "TLSv1.1".into(),
        0x0303 => "TLSv1.2".into(),
        0x0304 => "TLSv1.3".into(),
        v => format!("0x{v:04x}"),
    }
}

/// The IANA name of a cipher suite, or its number in hex.
pub fn cipher_name(id: u16) -> String {
    tls_parser::TlsCipherSuite::from_id(id)
        .map(|c| c.name.to_string())
        .unwrap_or_else(|| format!("0x{id:04x}"))
}

/// What a certificate says, bounded and printable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    pub org: Option<String>,
    pub sans: Vec<String>,
    /// RFC 3339.
    pub not_before: String,
    pub not_after: String,
    pub self_signed: bool,
    pub expired: bool,
}

/// Reads a DER certificate. `now` (seconds since the epoch) decides `expired`.
pub fn certificate_facts(der: &[u8], now: i64) -> Result<CertFacts, TlsError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| TlsError::BadCertificate)?;
    let text = |s: &str| printable(s.as_bytes(), TEXT_CAP);
    let org = cert
        .subject()
        .iter_organization()
        .next()
        .and_then(|o| o.as_str().ok())
        .map(text);
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in ext.value.general_names.iter().take(MAX_SANS) {
            let s = match name {
                GeneralName::DNSName(s) => format!("DNS:{s}"),
                GeneralName::RFC822Name(s) => format!("email:{s}"),
                GeneralName::URI(s) => format!("URI:{s}"),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => format!("IP:{}", std::net::Ipv4Addr::from([b[0], b[1], b[2], b[3]])),
                    16 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(b);
                        format!("IP:{}", std::net::Ipv6Addr::from(a))
                    }
                    _ => continue,
                },
                _ => continue,
            };
            sans.push(text(&s));
        }
    }
    let rfc3339 = |secs: i64| {
        jiff::Timestamp::from_second(secs)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| secs.to_string())
    };
    let validity = cert.validity();
    let same_name = cert.subject().as_raw() == cert.issuer().as_raw();
    Ok(CertFacts {
        subject: text(&cert.subject().to_string()),
        issuer: text(&cert.issuer().to_string()),
        org,
        sans,
        not_before: rfc3339(validity.not_before.timestamp()),
        not_after: rfc3339(validity.not_after.timestamp()),
        self_signed: same_name && cert.verify_signature(None).is_ok(),
        expired: validity.not_after.timestamp() < now,
    })
}

/// Everything the TLS probe learnt, for [`write_details`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFacts {
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub cert: Option<CertFacts>,
}

/// Writes `tls.*` keys.
pub fn write_details(details: &mut Details, facts: &TlsFacts) {
    if let Some(v) = &facts.version {
        details.insert("tls.version".into(), json!(v));
    }
    if let Some(c) = &facts.cipher {
        details.insert("tls.cipher".into(), json!(c));
    }
    if let Some(c) = &facts.cert {
        details.insert("tls.cert_subject".into(), json!(c.subject));
        details.insert("tls.cert_issuer".into(), json!(c.issuer));
        if let Some(o) = &c.org {
            details.insert("tls.cert_org".into(), json!(o));
        }
        details.insert("tls.cert_sans".into(), json!(c.sans));
        details.insert("tls.cert_not_before".into(), json!(c.not_before));
        details.insert("tls.cert_not_after".into(), json!(c.not_after));
        details.insert("tls.cert_self_signed".into(), json!(c.self_signed));
        details.insert("tls.cert_expired".into(), json!(c.expired));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ty: u8, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![ty, 3, 1];
        r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        r.extend_from_slice(payload);
        r
    }

    fn server_hello(version: u16, cipher: u16) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&[7u8; 32]);
        body.push(0);
        body.extend_from_slice(&cipher.to_be_bytes());
        body.push(0);
        let mut m = vec![2u8];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend(body);
        m
    }

    fn certificate(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(c);
        }
        let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend(list);
        let mut m = vec![11u8];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend(body);
        m
    }

    #[test]
    fn hello_is_one_well_formed_record() {
        let h = legacy_client_hello(&[1; 32]);
        assert_eq!(&h[..3], &[0x16, 0x03, 0x01]);
        assert_eq!(u16::from_be_bytes([h[3], h[4]]) as usize, h.len() - 5);
        let (_, rec) = tls_parser::parse_tls_plaintext(&h).expect("tls-parser reads our hello");
        assert!(matches!(
            rec.msg[0],
            TlsMessage::Handshake(TlsMessageHandshake::ClientHello(_))
        ));
    }

    #[test]
    fn flight_split_across_records_and_reads() {
        let mut hs = server_hello(0x0301, 0x002f);
        hs.extend(certificate(&[b"CERT-A", b"CERT-B"]));
        // The handshake split in three records, read in every prefix.
        let mut wire = Vec::new();
        for part in hs.chunks(17) {
            wire.extend(record(22, part));
        }
        for cut in 0..wire.len() {
            assert_eq!(
                parse_server_flight(&wire[..cut], 1 << 16),
                Ok(None),
                "cut {cut}"
            );
        }
        let f = parse_server_flight(&wire, 1 << 16).unwrap().unwrap();
        assert_eq!((f.version, f.cipher), (0x0301, 0x002f));
        assert_eq!(f.certificates, vec![b"CERT-A".to_vec(), b"CERT-B".to_vec()]);
        assert_eq!(version_name(f.version), "TLSv1.0");
        assert_eq!(cipher_name(f.cipher), "TLS_RSA_WITH_AES_128_CBC_SHA");
    }

    #[test]
    fn garbage_alerts_and_lies() {
        assert_eq!(
            parse_server_flight(b"HTTP/1.1 400", 1024),
            Err(TlsError::NotTls(b'H'))
        );
        assert_eq!(
            parse_server_flight(&record(21, &[2, 70]), 1024),
            Err(TlsError::Alert {
                level: 2,
                description: 70
            })
        );
        assert_eq!(
            parse_server_flight(&[22, 3, 1, 0xff, 0xff], 1 << 20),
            Err(TlsError::RecordTooLarge { declared: 0xffff })
        );
        let big = record(22, &[0u8; 2000]);
        assert!(matches!(
            parse_server_flight(&big, 1000),
            Err(TlsError::FlightTooLarge { .. })
        ));
        assert_eq!(
            parse_server_flight(&record(22, &[99, 0, 0, 1, 0]), 1024)
                .ok()
                .flatten(),
            None
        );
        assert!(certificate_facts(b"not a cert", 0).is_err());
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
            let _ = parse_server_flight(&bytes, 1 << 16);
            let mut framed = vec![22, 3, 1];
            framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            framed.extend_from_slice(&bytes);
            let _ = parse_server_flight(&framed, 1 << 16);
            let _ = certificate_facts(&bytes, 0);
        }
    }
}
