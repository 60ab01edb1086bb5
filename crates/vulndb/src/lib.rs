//! Offline vulnerability knowledge and device disclosures for the supply-chain stage.
//!
//! This crate owns three inputs a hospital holds about the devices its vendors supply, and the
//! matching between them:
//!
//! - **Vulnerability data the user downloads** ([`VulnDb`]): OSV advisories (single files,
//!   arrays, directories, OSV's `all.zip`), NVD CVE JSON 2.0 feeds (plain or `.json.gz`,
//!   streamed), and the CISA KEV catalogue, in any mix. Queries by purl, by ecosystem package, by CPE 2.3 and by the
//!   vendor/product pair that signatures name; every answer carries the matched range as
//!   evidence and a [`medsurface_model::VulnerabilityRef`].
//! - **Device SBOMs** ([`sbom`]): CycloneDX JSON 1.4–1.6 and SPDX JSON 2.3 into one [`Sbom`];
//!   [`match_sbom`] lists vulnerable components and components past end of support
//!   ([`EndOfSupport`], `knowledge/end-of-support.toml`).
//! - **MDS2 forms** ([`mds2`]): the 2019 Manufacturer Disclosure Statement workbook, answers by
//!   question ID and the security gaps that follow from them.
//!
//! Version ranges are compared with the ecosystem's own order (`medsurface_model::version`),
//! never as strings. Everything here is a pure function of files the user gives: no network,
//! no printing; errors name the file and the line, column or JSON path.
//!
//! The seam: the crate returns model values and plain structs; the register, vendor risk and
//! the CLI live elsewhere (`crates/supply`, `crates/cli`) and only call [`VulnDb`], [`sbom`],
//! [`match_sbom`] and [`mds2`].

pub mod cpe;
mod cvss;
mod db;
pub mod eos;
mod error;
pub mod mds2;
pub mod purl;
pub mod sbom;

pub use db::{Advisory, DbStats, KevInfo, LoadReport, MatchEvidence, VulnDb};
pub use eos::{EndOfSupport, EosFinding};
pub use error::Error;
pub use mds2::{Answer, Gap, Mds2};
pub use sbom::{match_sbom, Component, ComponentFinding, Device, Sbom, SbomFormat};

/// Shortens hostile or long input for error messages (on a character boundary).
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
