//! Certificate facts from real certificates (made with openssl for these tests, ECDSA P-256,
//! valid 2026-11-28 to 2036-11-25): a self-signed CA and a leaf it signed, with an organisation
//! and SANs. The live TLS peers (crates/scan/tests/web_peers.rs) cover RSA and the handshakes.

use medsurface_model::Details;
use medsurface_proto::tls::{certificate_facts, write_details, TlsFacts};
use serde_json::json;

const CA: &[u8] = include_bytes!("data/self-signed-ca.der");
const LEAF: &[u8] = include_bytes!("data/leaf-signed-by-ca.der");
/// 2030-01-01, inside both validity periods; 2100-01-01, after them.
const DURING: i64 = 1_893_456_000;
const AFTER: i64 = 4_102_444_800;

#[test]
fn leaf_signed_by_a_ca() {
    let f = certificate_facts(LEAF, DURING).expect("leaf parses");
    assert_eq!(f.subject, "C=US, O=General Hospital, CN=pacs.hospital.test");
    assert_eq!(f.issuer, "C=US, O=Test Root CA, CN=Test Root");
    assert_eq!(f.org.as_deref(), Some("General Hospital"));
    assert_eq!(f.sans, ["DNS:pacs.hospital.test", "IP:10.0.0.5"]);
    assert_eq!(f.not_before, "2026-11-28T18:08:01Z");
    assert_eq!(f.not_after, "2036-11-25T18:08:01Z");
    assert!(!f.self_signed, "issued by another name");
    assert!(!f.expired);
    assert!(certificate_facts(LEAF, AFTER).expect("leaf parses").expired);
}

#[test]
fn self_signed_ca_verifies_with_its_own_key() {
    let f = certificate_facts(CA, DURING).expect("CA parses");
    assert!(f.self_signed);
    assert_eq!(f.org.as_deref(), Some("Test Root CA"));
    assert!(f.sans.is_empty());
}

#[test]
fn a_tampered_signature_is_not_self_signed() {
    // Flip a bit of the signature (the last byte of the DER).
    let mut bad = CA.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    // (Or the signature no longer parses: refused either way.)
    if let Ok(f) = certificate_facts(&bad, DURING) {
        assert!(!f.self_signed);
    }
}

#[test]
fn details_use_the_field_vocabulary() {
    let mut d = Details::new();
    let facts = TlsFacts {
        version: Some("TLSv1.2".into()),
        cipher: Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into()),
        cert: Some(certificate_facts(LEAF, DURING).expect("leaf")),
    };
    write_details(&mut d, &facts);
    for key in d.keys() {
        assert!(medsurface_model::fields::field(key).is_some(), "{key}");
    }
    assert_eq!(d["tls.cert_org"], json!("General Hospital"));
    assert_eq!(d["tls.cert_expired"], json!(false));
}
