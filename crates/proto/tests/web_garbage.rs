//! Random and mutated bytes into every web and TLS reader: the HTTP head and its header facts,
//! the chunked decoder, the HTML title reader, the FHIR and QIDO-RS readers, the TLS
//! server-flight and certificate readers. No panic, lengths within bounds, escaped text. The
//! same invariants as fuzz/fuzz_targets/web_answer.rs, on stable.

use medsurface_proto::http::{html, parse_head, Chunked, MAX_HEAD};
use medsurface_proto::{dicomweb, fhir, tls};
use proptest::prelude::*;

fn safe(s: &str) {
    assert!(!s.chars().any(char::is_control), "{s:?}");
}

fn check(data: &[u8]) {
    if let Ok(Some((head, used))) = parse_head(data, MAX_HEAD) {
        assert!(used <= data.len());
        for v in [head.text("server"), head.realm()].into_iter().flatten() {
            safe(&v);
        }
        for (n, v) in head.kept_headers() {
            safe(&n);
            safe(&v);
        }
        for n in head.cookie_names() {
            safe(&n);
        }
        let _ = head.framing();
    }
    let mut out = Vec::new();
    if let Ok(n) = Chunked::new().push(data, &mut out, 4096) {
        assert!(n <= data.len() && out.len() <= 4096);
    }
    if let Some(t) = html::parse(data).title {
        safe(&t);
    }
    if let Some(c) = fhir::parse_capability(data) {
        for v in [
            c.software,
            c.software_version,
            c.implementation,
            c.fhir_version,
        ]
        .into_iter()
        .flatten()
        {
            safe(&v);
        }
        safe(&c.security);
    }
    let _ = fhir::parse_search(data);
    let _ = dicomweb::judge(200, data);
    let _ = tls::parse_server_flight(data, 1 << 16);
    if let Ok(c) = tls::certificate_facts(data, 0) {
        safe(&c.subject);
        safe(&c.issuer);
    }
}

/// Well-formed starts that random tails then break.
const SEEDS: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nServer: x\r\nWWW-Authenticate: Basic realm=\"",
    b"HTTP/1.1 302 Found\r\nSet-Cookie: a=",
    b"<html><head><title>",
    b"{\"resourceType\":\"CapabilityStatement\",\"software\":{\"name\":\"",
    b"{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"entry\":[",
    b"[{\"00100010\":",
    b"\x16\x03\x01\x00\x30\x02\x00\x00\x2c\x03\x01",
    b"5\r\nhello\r\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&data);
    }

    #[test]
    fn broken_well_formed_starts(seed in 0..SEEDS.len(), tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut data = SEEDS[seed].to_vec();
        data.extend(tail);
        check(&data);
    }
}
