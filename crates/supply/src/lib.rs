//! The supply chain: the hospital's vendor register, exposed services linked to vendors, and
//! vendor risk.
//!
//! The research this tool follows calls third-party vendors an overlooked attack vector: they
//! hold log-ins, shared passwords and badges, store records and supply devices. This crate
//! answers a vendor-risk officer's question — which suppliers hold access to what, and which of
//! their devices are exposed or carry known vulnerabilities — in four steps, one module each:
//!
//! - [`register`]: the vendor register (TOML or CSV, one definition of its keys), validated
//!   strictly with file and line in every error;
//! - [`link`]: services (scans and imports alike, as [`Service`] records) tied to register
//!   vendors by the signatures' vendor, the DICOM implementation-UID roots and the register's
//!   aliases; makers absent from the register are kept, to be called out;
//! - [`evidence`]: the SBOMs and MDS2 forms on file, matched by `medsurface-vulndb`;
//! - [`risk`] and [`rubric`]: vendor facts scored by the assessment's rubric engine with
//!   `risk/vendor-dread.toml`, into the [`VendorSummary`] records reports show.
//!
//! The crate is a stage like the others: it reads files it is pointed at, takes services and a
//! date as values ("today" is a parameter, so overdue reviews are testable), never prints, and
//! returns typed errors.

pub mod demo;
pub mod error;
pub mod evidence;
pub mod link;
pub mod register;
pub mod risk;
pub mod rubric;

use std::path::Path;

use jiff::civil::Date;
use medsurface_model::supply::VendorSummary;
use medsurface_model::Service;

pub use error::{RegisterError, RegisterErrorKind, SupplyError};
pub use evidence::{DeviceFindings, Evidence, VulnSources};
pub use link::{Link, Linker, Via};
pub use register::{Register, Vendor};
pub use rubric::VendorRubric;

/// What vendor summaries are computed from, besides the register.
pub struct Inputs<'a> {
    /// Services from the store (scans and imports).
    pub services: &'a [Service],
    /// Offline vulnerability data for the vendors' SBOMs.
    pub vulns: &'a VulnSources,
    /// The day reviews are judged against.
    pub today: Date,
}

/// One summary per register vendor and per unregistered maker of an exposed service, sorted by
/// risk (highest first). The entry point for `medsurface vendors report` and the supply-chain
/// section of `medsurface report`.
pub fn vendor_summaries(
    register: &Path,
    inputs: &Inputs<'_>,
) -> Result<Vec<VendorSummary>, SupplyError> {
    let register = Register::load(register)?;
    summaries(&register, inputs, &VendorRubric::builtin()?)
}

/// Like [`vendor_summaries`], for a register and rubric already loaded.
pub fn summaries(
    register: &Register,
    inputs: &Inputs<'_>,
    rubric: &VendorRubric,
) -> Result<Vec<VendorSummary>, SupplyError> {
    let linker = Linker::new(register)?;
    let linked = linker.link(inputs.services);
    let evidence = Evidence::load(inputs.vulns)?;
    let mut out = Vec::with_capacity(register.vendors.len() + linked.unregistered.len());
    for (vendor, services) in register.vendors.iter().zip(&linked.registered) {
        let findings = evidence.findings(vendor, inputs.today)?;
        out.push(risk::summarize(
            &risk::VendorInput {
                vendor: risk::Subject::Registered(vendor),
                services,
                findings: &findings,
            },
            rubric,
            inputs.today,
        ));
    }
    let none = DeviceFindings::default();
    for u in linked.unregistered.values() {
        out.push(risk::summarize(
            &risk::VendorInput {
                vendor: risk::Subject::Unregistered(&u.name),
                services: &u.services,
                findings: &none,
            },
            rubric,
            inputs.today,
        ));
    }
    risk::sort_by_risk(&mut out);
    Ok(out)
}
