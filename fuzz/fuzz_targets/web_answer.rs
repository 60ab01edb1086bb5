//! Fuzzes the readers of web and TLS answers: the HTTP response head and its header facts, the
//! chunked-body decoder, the HTML title and icon reader, the FHIR CapabilityStatement and search
//! readers, the QIDO-RS judge, the TLS server-flight reader and the certificate reader.
//! Invariants: no panic, consumed lengths within the input, bodies within the cap, and text
//! that leaves a reader is escaped (no control characters). The same checks run on stable as
//! property tests beside each parser (crates/proto/src/{http,tls}.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use medsurface_proto::http::{html, parse_head, Chunked, MAX_HEAD};
use medsurface_proto::{dicomweb, fhir, tls};

fn safe(s: &str) {
    assert!(!s.chars().any(char::is_control), "{s:?}");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((head, used))) = parse_head(data, MAX_HEAD) {
        assert!(used <= data.len());
        for v in [head.text("server"), head.realm()].into_iter().flatten() {
            safe(&v);
        }
        for (n, v) in head.kept_headers() {
            safe(&n);
            safe(&v);
        }
        let _ = head.framing();
    }
    let mut out = Vec::new();
    if let Ok(n) = Chunked::new().push(data, &mut out, 4096) {
        assert!(n <= data.len() && out.len() <= 4096);
    }
    let page = html::parse(data);
    if let Some(t) = page.title {
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
});
