//! Vendor risk: one vendor's facts (register + linked services + device evidence), scored by the
//! vendor rubric, turned into the [`VendorSummary`] reports show.
//!
//! Facts are built here and nowhere else, under the keys of [`crate::rubric::VENDOR_FACTS`]; the
//! rubric file decides what they are worth. A fact the register does not state (an unregistered
//! vendor's access) is left absent rather than guessed, so no rule fires on a default.

use std::collections::BTreeSet;

use jiff::civil::Date;
use medsurface_model::risk::Severity;
use medsurface_model::supply::VendorSummary;
use medsurface_model::Service;
use serde_json::Value;

use crate::evidence::DeviceFindings;
use crate::link::Via;
use crate::register::{BaaStatus, ContractStatus, Vendor};
use crate::rubric::VendorRubric;

/// Exposed services named one by one in a summary's notes; the rest are counted.
pub const SERVICES_NAMED: usize = 5;

/// One fact: a key of `VENDOR_FACTS` and its value.
pub type Fact = (&'static str, Value);

/// A linked service and how it was tied to its vendor.
pub type LinkedService<'s> = (&'s Service, Option<Via>);

/// What is known of a vendor for scoring.
pub struct VendorInput<'a, 's> {
    /// The register entry, or the name of an unregistered maker.
    pub vendor: Subject<'a>,
    pub services: &'a [LinkedService<'s>],
    pub findings: &'a DeviceFindings,
}

/// A vendor of the register, or a maker found exposed but absent from it.
pub enum Subject<'a> {
    Registered(&'a Vendor),
    Unregistered(&'a str),
}

/// The facts of a vendor as of `today`.
pub fn facts(input: &VendorInput<'_, '_>, today: Date) -> Vec<Fact> {
    let mut f: Vec<Fact> = Vec::new();
    match input.vendor {
        Subject::Registered(v) => {
            f.push(("vendor.name", v.name.clone().into()));
            f.push(("vendor.in_register", true.into()));
            let a = &v.access;
            f.push((
                "vendor.remote_access",
                (a.remote_access.len() as u64).into(),
            ));
            f.push(("vendor.shared_credentials", a.shared_credentials.into()));
            f.push(("vendor.default_credentials", a.default_credentials.into()));
            f.push(("vendor.badge_access", a.badge_access.into()));
            f.push(("vendor.patient_data", a.patient_data.into()));
            f.push(("vendor.physical_records", a.physical_records.into()));
            f.push(("vendor.devices", (v.devices.len() as u64).into()));
            f.push((
                "vendor.network_segments",
                (a.network_segments.len() as u64).into(),
            ));
            f.push(("vendor.update_rights", a.update_rights.into()));
            f.push(("vendor.contract", contract_word(v.contract).into()));
            f.push(("vendor.baa", baa_word(v.baa).into()));
            f.push((
                "vendor.baa_signed",
                (v.baa == Some(BaaStatus::Signed)).into(),
            ));
            f.push(("vendor.review_overdue", v.review_overdue(today).into()));
            if let Some(next) = v.next_review() {
                f.push(("vendor.next_review", next.to_string().into()));
            } else {
                f.push(("vendor.next_review", "never assessed".into()));
            }
        }
        Subject::Unregistered(name) => {
            f.push(("vendor.name", name.to_string().into()));
            f.push(("vendor.in_register", false.into()));
        }
    }
    let services = input.services;
    let rated = |min: Severity| {
        services
            .iter()
            .filter(|(s, _)| s.dread.as_ref().is_some_and(|d| d.severity >= min))
            .count() as u64
    };
    f.push(("vendor.exposed_services", (services.len() as u64).into()));
    f.push(("vendor.exposed_critical", rated(Severity::Critical).into()));
    f.push(("vendor.exposed_high", rated(Severity::High).into()));
    let products: BTreeSet<String> = services
        .iter()
        .filter_map(|(s, _)| s.product.clone().or_else(|| s.protocol.clone()))
        .collect();
    let categories: BTreeSet<String> = services
        .iter()
        .filter_map(|(s, _)| s.category.clone())
        .collect();
    f.push((
        "vendor.exposed_products",
        products.into_iter().collect::<Vec<_>>().into(),
    ));
    f.push((
        "vendor.exposed_categories",
        categories.into_iter().collect::<Vec<_>>().into(),
    ));
    let d = input.findings;
    f.push((
        "vendor.vulnerable_components",
        d.vulnerable_components.into(),
    ));
    f.push(("vendor.kev_components", d.kev_components.into()));
    if let Some(c) = d.max_cvss {
        f.push((
            "vendor.max_cvss",
            serde_json::Number::from_f64((f64::from(c) * 10.0).round() / 10.0)
                .map_or(Value::Null, Value::Number),
        ));
    }
    f.push((
        "vendor.unsupported_components",
        d.unsupported_components.into(),
    ));
    f.push(("vendor.mds2_gaps", (d.mds2_gaps.len() as u64).into()));
    f
}

fn contract_word(c: Option<ContractStatus>) -> &'static str {
    match c {
        Some(ContractStatus::Active) => "active",
        Some(ContractStatus::Pending) => "pending",
        Some(ContractStatus::Expired) => "expired",
        Some(ContractStatus::None) => "none",
        None => "unknown",
    }
}

fn baa_word(b: Option<BaaStatus>) -> &'static str {
    match b {
        Some(BaaStatus::Signed) => "signed",
        Some(BaaStatus::Pending) => "pending",
        Some(BaaStatus::None) => "none",
        Some(BaaStatus::NotRequired) => "not-required",
        None => "unknown",
    }
}

/// The summary of one vendor: facts scored by the rubric, plus what a reader needs to act.
pub fn summarize(input: &VendorInput<'_, '_>, rubric: &VendorRubric, today: Date) -> VendorSummary {
    let dread = rubric.score(&facts(input, today));
    let mut notes = Vec::new();
    let (vendor, in_register, access, next_review, review_overdue) = match input.vendor {
        Subject::Registered(v) => {
            let next = v.next_review();
            let overdue = v.review_overdue(today);
            match (v.last_assessment, next) {
                (None, _) => notes.push("never assessed: review due now".to_string()),
                (Some(_), Some(n)) if overdue => notes.push(format!(
                    "review overdue since {n} (every {})",
                    v.review_interval
                )),
                _ => {}
            }
            match v.contract {
                Some(ContractStatus::Expired) => notes.push("contract expired".into()),
                Some(ContractStatus::None) => notes.push("no contract on record".into()),
                None => notes.push("contract status not recorded".into()),
                _ => {}
            }
            if v.access.patient_data && v.baa != Some(BaaStatus::Signed) {
                notes.push(format!(
                    "reaches patient data; business-associate agreement: {}",
                    baa_word(v.baa)
                ));
            }
            (
                v.name.clone(),
                true,
                v.access.describe(&v.devices),
                next.map(|d| d.to_string()),
                overdue,
            )
        }
        Subject::Unregistered(name) => {
            notes.push(
                "not in the vendor register: exposed services of a vendor nobody reviews"
                    .to_string(),
            );
            (name.to_string(), false, Vec::new(), None, false)
        }
    };
    if input
        .services
        .iter()
        .any(|(_, via)| matches!(via, Some(Via::DicomFingerprint { toolkit: true, .. })))
    {
        notes.push(
            "linked through a DICOM toolkit fingerprint: the toolkit is embedded by many products, so the supplier may be another vendor"
                .to_string(),
        );
    }
    for (s, via) in input.services.iter().take(SERVICES_NAMED) {
        notes.push(describe_service(s, via.as_ref()));
    }
    if input.services.len() > SERVICES_NAMED {
        notes.push(format!(
            "and {} more exposed services",
            input.services.len() - SERVICES_NAMED
        ));
    }
    notes.extend(input.findings.notes.iter().cloned());
    VendorSummary {
        vendor,
        in_register,
        tier: dread.severity.as_str().to_string(),
        dread: Some(dread),
        access,
        exposed_services: input.services.len() as u64,
        vulnerable_components: input.findings.vulnerable_components,
        mds2_gaps: input.findings.mds2_gaps.clone(),
        next_review,
        review_overdue,
        notes,
    }
}

/// "exposed: Orthanc 1.10.1 at 192.0.2.10:8042 (imaging, shodan; via signature vendor …)".
fn describe_service(s: &Service, via: Option<&Via>) -> String {
    let what = match (&s.product, &s.version) {
        (Some(p), Some(v)) => format!("{p} {v}"),
        (Some(p), None) => p.clone(),
        (None, _) => s.protocol.clone().unwrap_or_else(|| "service".into()),
    };
    let addr = match s.ip {
        std::net::IpAddr::V6(ip) => format!("[{ip}]:{}", s.port),
        ip => format!("{ip}:{}", s.port),
    };
    let how = match via {
        Some(Via::RegisterUidRoot(r)) => format!("DICOM UID root {r} (register)"),
        Some(Via::Signature(n)) => format!("signature names {n:?}"),
        Some(Via::DicomFingerprint { vendor, toolkit }) => format!(
            "DICOM {} fingerprint names {vendor:?}",
            if *toolkit {
                "toolkit"
            } else {
                "implementation"
            }
        ),
        None => "unknown link".into(),
    };
    let rating = s
        .dread
        .as_ref()
        .map(|d| format!(", rated {}", d.severity))
        .unwrap_or_default();
    medsurface_model::text::printable(
        format!(
            "exposed: {what} at {addr} ({}, {}{rating}; {how})",
            s.category.as_deref().unwrap_or("uncategorised"),
            s.source.as_str()
        )
        .as_bytes(),
        240,
    )
}

/// Orders summaries by risk: score, then exposed services, then name.
pub fn sort_by_risk(summaries: &mut [VendorSummary]) {
    summaries.sort_by(|a, b| {
        let score = |s: &VendorSummary| s.dread.as_ref().map_or(0.0, |d| d.score);
        score(b)
            .total_cmp(&score(a))
            .then(b.exposed_services.cmp(&a.exposed_services))
            .then(b.vulnerable_components.cmp(&a.vulnerable_components))
            .then_with(|| a.vendor.cmp(&b.vendor))
    });
}
