//! Helpers shared by this crate's tests: synthetic services and registers.

#![allow(dead_code)]

use std::path::Path;

use medsurface_model::{Details, Dread, Service, Severity, Source, Transport};
use medsurface_supply::Register;

/// A service as the classifier leaves it: vendor/product/category from a signature (or none),
/// plus detail keys.
pub fn service(ip: &str, port: u16, vendor: Option<&str>, product: Option<&str>) -> Service {
    Service {
        ip: ip.parse().unwrap(),
        port,
        transport: Transport::Tcp,
        hostname: None,
        protocol: Some("dicom".into()),
        category: Some("imaging".into()),
        vendor: vendor.map(str::to_string),
        product: product.map(str::to_string),
        version: None,
        signature: None,
        country: None,
        asn: None,
        org: None,
        org_type: None,
        source: Source::Shodan,
        seen_at: "2026-11-01T00:00:00Z".parse().unwrap(),
        details: Details::new(),
        dread: None,
        vulnerabilities: Vec::new(),
        flags: Vec::new(),
        honeypot: None,
    }
}

pub fn with_detail(mut s: Service, key: &str, value: &str) -> Service {
    s.details.insert(key.to_string(), value.into());
    s
}

pub fn rated(mut s: Service, severity: Severity) -> Service {
    s.dread = Some(Dread {
        severity,
        ..Dread::default()
    });
    s
}

pub fn register(text: &str) -> Register {
    Register::from_toml(text, "test.toml", Path::new(".")).expect("test register")
}
